#!/usr/bin/env python3
"""Posts decisions on alerts to a Kafka topic with confluent-kafka (PyPI), as a SIEM playbook
would: one message per line of standard input, sent as is.
Usage: post_decision.py BROKERS TOPIC < decisions.jsonl"""
import sys

from confluent_kafka import Producer

brokers, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": brokers, "acks": "all"})
errors = []
for line in sys.stdin:
    line = line.strip()
    if line:
        p.produce(topic, line.encode(), callback=lambda e, m: e and errors.append(str(e)))
left = p.flush(30)
if left or errors:
    sys.exit(f"not delivered: {left} left, errors {errors}")
