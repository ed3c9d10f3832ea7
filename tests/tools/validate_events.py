#!/usr/bin/env python3
"""Validates event lines (otsensor --events) against schemas/event.schema.json (JSON Schema
2020-12, formats checked). Usage: validate_events.py SCHEMA EVENTS.jsonl...
Prints the number of events validated; exits 1 with the first errors if any line fails."""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema, format_checker=FormatChecker())
n, bad = 0, []
for path in sys.argv[2:]:
    for i, line in enumerate(open(path), 1):
        e = json.loads(line)
        n += 1
        for err in v.iter_errors(e):
            bad.append(f"{path}:{i}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
            break
        if len(bad) >= 10:
            break
print(n)
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
