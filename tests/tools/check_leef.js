#!/usr/bin/env node
// Parses otsensor's LEEF alerts with nsyslog-parser's LEEF parser (npm) and checks the fields
// against the same alerts in the native JSON format.
// Usage: check_leef.js NSYSLOG_PARSER_DIR ALERTS.jsonl ALERTS.leef
const fs = require("fs");
const path = require("path");
const leef = require(path.join(process.argv[2], "leef.js"));
const natives = fs.readFileSync(process.argv[3], "utf8").trim().split("\n").map(JSON.parse);
const lines = fs.readFileSync(process.argv[4], "utf8").trim().split("\n");
if (natives.length !== lines.length) throw new Error(`${natives.length} vs ${lines.length}`);
const clean = (s) => s.replace(/[\^\t\r\n]/g, " ");
natives.forEach((a, i) => {
  const p = leef.parse(lines[i]);
  const h = p.headers, f = p.fields;
  const want = {
    "header.leefVersion": ["LEEF:2.0", h.leefVersion],
    "header.vendor": ["otsensor", h.vendor],
    "header.eventID": [a.rule, h.eventID],
    "header.delimiter": ["^", h.delimiter],
    cat: [a.engine, f.cat],
    sev: [String(a.severity.score), f.sev],
    src: [a.src.ip, f.src],
    alertId: [a.id, f.alertId],
    count: [String(a.count), f.count],
    title: [a.title, f.title],
    details: [clean(a.details), f.details],
    firstSeen: [a.first_seen, f.firstSeen],
  };
  if (a.src.port !== undefined) want.srcPort = [String(a.src.port), f.srcPort];
  if (a.src.zone !== undefined) want.srcZone = [clean(a.src.zone), f.srcZone];
  if (a.dst) {
    want.dst = [a.dst.ip, f.dst];
    if (a.dst.port !== undefined) want.dstPort = [String(a.dst.port), f.dstPort];
    if (a.dst.zone !== undefined) want.dstZone = [clean(a.dst.zone), f.dstZone];
  }
  if (a.protocol) want.appProtocol = [a.protocol, f.appProtocol];
  if (a.transport) want.proto = [a.transport.toUpperCase(), f.proto];
  for (const [k, [w, g]] of Object.entries(want)) {
    if (w !== g) throw new Error(`${a.rule} ${a.id}: ${k} = ${JSON.stringify(g)}, want ${JSON.stringify(w)}\n${lines[i]}`);
  }
});
console.log(`${lines.length} LEEF records match`);
