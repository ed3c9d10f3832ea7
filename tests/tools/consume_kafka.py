#!/usr/bin/env python3
"""Reads a Kafka topic from the beginning with confluent-kafka (PyPI) as a SOC consumer would
and prints one JSON object per message: {"key", "value", "headers"}.
Usage: consume_kafka.py BROKERS TOPIC COUNT TIMEOUT_SECS"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer

brokers, topic, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = Consumer({
    "bootstrap.servers": brokers,
    "group.id": f"otsensor-test-{uuid.uuid4()}",
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 6000,
    "enable.auto.commit": False,
})
c.subscribe([topic])
got = []
deadline = time.time() + timeout
while len(got) < count and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print(f"consumer error: {m.error()}", file=sys.stderr)
        continue
    headers = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
    got.append({
        "key": m.key().decode() if m.key() is not None else None,
        "value": m.value().decode(),
        "headers": headers,
    })
c.close()
for g in got:
    print(json.dumps(g))
