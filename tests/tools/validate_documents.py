#!/usr/bin/env python3
"""Validates whole JSON documents (e.g. otsensor --assets) against a JSON Schema 2020-12,
formats checked. Usage: validate_documents.py SCHEMA FILE.json...
Prints the number of documents validated; exits 1 with the first errors if any fails."""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema, format_checker=FormatChecker())
bad = []
for path in sys.argv[2:]:
    for err in v.iter_errors(json.load(open(path))):
        bad.append(f"{path}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        break
print(len(sys.argv) - 2)
if bad:
    print("\n".join(bad[:10]), file=sys.stderr)
    sys.exit(1)
