//! `GET /metrics` (Prometheus text exposition, every name prefixed `otsensor_`) and
//! `GET /health` (`{"status": "ok" | "degraded", "reasons": [...]}`, HTTP 200 or 503), served
//! by a small HTTP server on its own thread from what the pipeline published to
//! [`Telemetry`]. The counters are the ones `--stats` holds: both come from [`Stats`].

use std::sync::Arc;
use std::thread::JoinHandle;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry as Metrics;

use crate::registry::Registry;
use crate::service::telemetry::Telemetry;
use crate::stats::Stats;

type Labels = Vec<(String, String)>;

/// Counters and gauges by label set, registered under one name.
struct Families<'r> {
    reg: &'r mut Metrics,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Families<'_> {
    fn counter(&mut self, name: &str, help: &str, values: Vec<(Labels, u64)>) {
        let f = Family::<Labels, Counter>::default();
        for (l, v) in values {
            f.get_or_create(&l).inc_by(v);
        }
        self.reg.register(name, help, f);
    }

    fn gauge(&mut self, name: &str, help: &str, values: Vec<(Labels, i64)>) {
        let f = Family::<Labels, Gauge>::default();
        for (l, v) in values {
            f.get_or_create(&l).set(v);
        }
        self.reg.register(name, help, f);
    }
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The metrics page for `stats` (built from `t`) and what only telemetry knows.
pub fn render(s: &Stats, t: &Telemetry) -> String {
    let mut reg = Metrics::with_prefix("otsensor");
    let mut m = Families { reg: &mut reg };

    inputs(&mut m, s);
    decoding(&mut m, s);
    flow_families(&mut m, s, t);
    alert_families(&mut m, s, t);
    state_families(&mut m, t);
    reg.register(
        "alert_latency_seconds",
        "Seconds from a packet's capture to the first write of the alert it raised.",
        t.latency.clone(),
    );
    let mut text = String::new();
    if encode(&mut text, &reg).is_err() {
        text.clear();
    }
    text
}

/// Packets, bytes and capture counters per input and interface.
fn inputs(m: &mut Families<'_>, s: &Stats) {
    let one = |k: &str, v: &str| labels(&[(k, v)]);
    m.counter(
        "packets",
        "Packets read, per input (interface or file).",
        s.inputs
            .iter()
            .map(|x| (one("input", &x.source), x.packets))
            .collect(),
    );
    m.counter(
        "bytes",
        "Captured bytes read, per input (interface or file).",
        s.inputs
            .iter()
            .map(|x| (one("input", &x.source), x.bytes))
            .collect(),
    );
    let mut received = Vec::new();
    let mut dropped = Vec::new();
    let mut up = Vec::new();
    let mut failures = Vec::new();
    for x in &s.interfaces {
        received.push((one("interface", &x.name), x.capture.received));
        for (place, n) in [
            ("kernel", x.capture.dropped),
            ("interface", x.capture.if_dropped),
        ] {
            dropped.push((labels(&[("interface", &x.name), ("where", place)]), n));
        }
        up.push((one("interface", &x.name), i64::from(x.up)));
        failures.push((one("interface", &x.name), x.failures));
    }
    m.counter(
        "capture_received",
        "Packets the kernel passed to libpcap, per interface.",
        received,
    );
    m.counter(
        "capture_dropped",
        "Packets dropped before the sensor saw them, per interface: in the kernel's capture buffer, or by the interface.",
        dropped,
    );
    m.gauge("interface_up", "1 while the interface is open.", up);
    m.counter(
        "interface_failures",
        "Times the interface went down, disappeared or errored (it is then reopened).",
        failures,
    );
}

/// Drops, undecodable frames, PDUs and parse errors.
fn decoding(m: &mut Families<'_>, s: &Stats) {
    let one = |k: &str, v: &str| labels(&[(k, v)]);
    m.counter(
        "drops",
        "Everything the sensor lost, by reason (the drops of --stats).",
        s.drops
            .iter()
            .map(|(k, v)| (one("reason", k), *v))
            .collect(),
    );
    m.counter(
        "undecodable_packets",
        "Frames that could not be decoded, by reason.",
        s.undecodable
            .iter()
            .map(|(k, v)| (one("reason", k), *v))
            .collect(),
    );
    m.counter(
        "pdus",
        "Application PDUs parsed, per protocol.",
        s.pdus
            .iter()
            .map(|(k, v)| (one("protocol", k), *v))
            .collect(),
    );
    m.counter(
        "parse_errors",
        "Data a protocol parser could not parse, per protocol.",
        s.parse_errors
            .iter()
            .map(|(k, v)| (one("protocol", k), *v))
            .collect(),
    );
}

/// Flows held, created and ended, and event lines.
fn flow_families(m: &mut Families<'_>, s: &Stats, t: &Telemetry) {
    let one = |k: &str, v: &str| labels(&[(k, v)]);
    m.gauge(
        "flows_active",
        "Flows held now.",
        vec![(Vec::new(), i(t.flows_active()))],
    );
    m.counter(
        "flows_created",
        "Flows created, by transport.",
        vec![
            (one("transport", "tcp"), s.flows.tcp),
            (one("transport", "udp"), s.flows.udp),
            (one("transport", "other"), s.flows.other),
        ],
    );
    m.counter(
        "flows_ended",
        "Flows ended, by reason.",
        s.flows
            .ended
            .iter()
            .map(|(k, v)| (one("reason", k), *v))
            .collect(),
    );
    m.counter(
        "events",
        "Event lines written (--events).",
        vec![(Vec::new(), s.events)],
    );
}

/// Alerts, alert records and each sink's delivery.
fn alert_families(m: &mut Families<'_>, s: &Stats, t: &Telemetry) {
    let one = |k: &str, v: &str| labels(&[(k, v)]);
    let out = t.output();
    m.counter(
        "alerts",
        "Distinct alerts raised, by rule and severity.",
        out.by_severity
            .iter()
            .map(|((rule, sev), n)| (labels(&[("rule", rule), ("severity", sev)]), *n))
            .collect(),
    );
    m.counter(
        "alert_records",
        "Alert records written (first sight, updates, final states).",
        vec![(Vec::new(), s.alerts.records_written)],
    );
    let mut records = Vec::new();
    let mut spool = Vec::new();
    let mut degraded = Vec::new();
    for k in &s.alerts.kafka {
        for (outcome, n) in [
            ("produced", k.produced),
            ("acknowledged", k.acknowledged),
            ("failed", k.failed),
            ("spooled", k.spooled),
            ("replayed", k.replayed),
            ("dropped", k.dropped),
        ] {
            records.push((labels(&[("sink", &k.sink), ("outcome", outcome)]), n));
        }
    }
    for x in &out.sinks {
        if x.kind != "kafka" {
            records.push((
                labels(&[("sink", &x.name), ("outcome", "written")]),
                x.records - x.failed,
            ));
            records.push((
                labels(&[("sink", &x.name), ("outcome", "failed")]),
                x.failed,
            ));
        }
        spool.push((one("sink", &x.name), i(x.spool_bytes)));
        degraded.push((one("sink", &x.name), i64::from(x.degraded_secs.is_some())));
    }
    m.counter(
        "sink_records",
        "Records handed to each alert sink, by outcome.",
        records,
    );
    m.gauge(
        "sink_spool_bytes",
        "Bytes waiting in a sink's spool.",
        spool,
    );
    m.gauge("sink_degraded", "1 while a sink cannot deliver.", degraded);
}

/// Queues, the baseline in memory and health.
fn state_families(m: &mut Families<'_>, t: &Telemetry) {
    let one = |k: &str, v: &str| labels(&[(k, v)]);
    m.gauge(
        "worker_queue_depth",
        "Batches waiting in each worker's queue.",
        t.queue_depths()
            .iter()
            .enumerate()
            .map(|(w, d)| {
                (
                    one("worker", &w.to_string()),
                    i64::try_from(*d).unwrap_or(i64::MAX),
                )
            })
            .collect(),
    );
    let [edges, assets, learned] = t.baseline();
    m.gauge(
        "baseline_entries",
        "Entries of the baseline in memory.",
        [("edges", edges), ("assets", assets), ("alerts", learned)]
            .iter()
            .map(|(k, v)| (one("kind", k), i64::try_from(*v).unwrap_or(i64::MAX)))
            .collect(),
    );
    m.gauge(
        "health_degraded",
        "1 while a health condition (engine sensor) is active.",
        vec![(Vec::new(), i64::from(!t.health().is_empty()))],
    );
}

/// The `/health` document and its HTTP status.
pub fn health(t: &Telemetry) -> (u16, String) {
    let reasons = t.health();
    let status = if reasons.is_empty() { "ok" } else { "degraded" };
    let body = serde_json::json!({ "status": status, "reasons": reasons }).to_string();
    (if reasons.is_empty() { 200 } else { 503 }, body)
}

/// The metrics server: bound at start (before privileges are dropped), serving on its own
/// thread until [`Server::stop`].
pub struct Server {
    http: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr`; an address in use or not allowed is an error naming it.
    pub fn bind(addr: std::net::SocketAddr) -> anyhow::Result<Server> {
        let http = tiny_http::Server::http(addr)
            .map_err(|e| anyhow::anyhow!("metrics.listen {addr}: {e}"))?;
        Ok(Server {
            http: Arc::new(http),
            thread: None,
        })
    }

    /// Starts answering requests from `telemetry`.
    pub fn serve(
        &mut self,
        telemetry: Arc<Telemetry>,
        registry: Arc<Registry>,
    ) -> anyhow::Result<()> {
        let http = self.http.clone();
        let h = std::thread::Builder::new()
            .name("otsensor-metrics".into())
            .spawn(move || {
                for rq in http.incoming_requests() {
                    let (code, body, ctype) = match rq.url().split('?').next().unwrap_or("") {
                        "/metrics" => (
                            200,
                            render(&telemetry.stats(&registry, &[]), &telemetry),
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ),
                        "/health" => {
                            let (code, body) = health(&telemetry);
                            (code, body, "application/json")
                        }
                        _ => (
                            404,
                            "not found: try /metrics or /health\n".to_string(),
                            "text/plain",
                        ),
                    };
                    let mut resp = tiny_http::Response::from_string(body).with_status_code(code);
                    if let Ok(h) =
                        tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes())
                    {
                        resp.add_header(h);
                    }
                    let _ = rq.respond(resp);
                }
            })?;
        self.thread = Some(h);
        Ok(())
    }

    /// Stops serving.
    pub fn stop(mut self) {
        self.http.unblock();
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::live::Interface;

    #[test]
    fn the_page_carries_the_stats_counters_and_ends_with_eof() {
        let iface = Arc::new(Interface::new("eth1"));
        iface.record_packet(otsensor_baselines::time::Timestamp::now(), 100);
        let t = Telemetry::new("capture", 2, vec![iface]);
        t.set_health(vec!["sensor.input_silent: no packet on eth2".into()]);
        let registry = Registry::builtin();
        let page = render(&t.stats(&registry, &[]), &t);
        for want in [
            "otsensor_packets_total{input=\"eth1\"} 1",
            "otsensor_bytes_total{input=\"eth1\"} 100",
            "otsensor_capture_dropped_total{interface=\"eth1\",where=\"kernel\"} 0",
            "otsensor_pdus_total{protocol=\"modbus\"} 0",
            "otsensor_health_degraded 1",
            "# TYPE otsensor_alert_latency_seconds histogram",
        ] {
            assert!(page.contains(want), "{want} not in\n{page}");
        }
        assert!(page.ends_with("# EOF\n"), "{page}");
        let (code, body) = health(&t);
        assert_eq!(code, 503);
        assert!(
            body.contains("\"degraded\"") && body.contains("eth2"),
            "{body}"
        );
    }
}
