#!/usr/bin/env python3
"""Validates otsensor's OCSF alerts against the OCSF 1.5.0 Detection Finding JSON schema
(generated offline by ocsf-json-schema from PyPI, validated with jsonschema) and checks the
mapping against the native JSON alerts. Usage: check_ocsf.py ALERTS.jsonl ALERTS.ocsf.jsonl"""
import json
import sys

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.5.0")).get_class_schema(
    "detection_finding"
)
validator = jsonschema.Draft202012Validator(schema)
natives = [json.loads(l) for l in open(sys.argv[1])]
events = [json.loads(l) for l in open(sys.argv[2])]
assert len(natives) == len(events), (len(natives), len(events))
for a, e in zip(natives, events):
    errors = sorted(validator.iter_errors(e), key=lambda x: list(x.path))
    assert not errors, f"{a['rule']}: " + "; ".join(
        f"{list(x.path)}: {x.message}" for x in errors[:5]
    )
    assert e["class_uid"] == 2004 and e["type_uid"] == 200400 + e["activity_id"]
    assert e["finding_info"]["uid"] == a["id"]
    assert e["finding_info"]["title"] == a["title"]
    assert e["finding_info"]["analytic"]["uid"] == a["rule"]
    assert e["count"] == a["count"]
    assert e["evidences"][0]["src_endpoint"]["ip"] == a["src"]["ip"]
    if a.get("dst"):
        assert e["evidences"][0]["dst_endpoint"]["ip"] == a["dst"]["ip"]
    ids = [t["technique"]["uid"] for t in e["finding_info"]["attacks"]]
    for t in a["attack"]["techniques"]:
        assert t["id"] in ids, (t, ids)
        if "v19_id" in t:
            subs = [x.get("sub_technique", {}).get("uid") for x in e["finding_info"]["attacks"]]
            assert t["v19_id"] in subs, (t, subs)
print(f"{len(events)} OCSF records valid")
