//! The rules that relate keys or look outside the file (directories, environment
//! variables); single values are checked against their range in [`super::keys`] first.
//! Each rule returns the key it is about and a one-line message.

use std::collections::{BTreeMap, BTreeSet};

use super::keys::MAX_QUEUED_PACKETS;
use super::Config;

type Checked = Result<(), (&'static str, String)>;

/// Every rule, in the order of the file's sections.
pub fn all(cfg: &Config) -> Checked {
    pipeline(cfg)?;
    capture(cfg)?;
    service(cfg)?;
    console(cfg)?;
    zones(cfg)?;
    conduits(cfg)?;
    rules(cfg)?;
    evidence(cfg)?;
    cfg.enip.vendor_table().map_err(|e| ("enip.vendors", e))?;
    protocols(cfg)?;
    cfg.sinks.iter().try_for_each(super::SinkConfig::validate)
}

/// What a worker's queue can hold is bounded as a whole, not only per key.
fn pipeline(cfg: &Config) -> Checked {
    let p = &cfg.pipeline;
    let queued = p.queue_batches.saturating_mul(p.batch_packets);
    if i64::try_from(queued).map_or(true, |q| q > MAX_QUEUED_PACKETS) {
        return Err((
            "pipeline.queue_batches",
            format!(
                "queue_batches × batch_packets = {queued} packets per worker queue; at most {MAX_QUEUED_PACKETS}"
            ),
        ));
    }
    Ok(())
}

/// Each interface once, named.
fn capture(cfg: &Config) -> Checked {
    let mut ifaces = BTreeSet::new();
    for e in cfg.capture.entries() {
        if e.interface.is_empty() {
            return Err(("capture.interface", "must not be empty".into()));
        }
        if !ifaces.insert(e.interface.as_str()) {
            return Err((
                "capture.interface",
                format!("interface {:?} is listed twice", e.interface),
            ));
        }
    }
    Ok(())
}

/// The metrics address and the service user (who must exist).
fn service(cfg: &Config) -> Checked {
    if let Err(e) = cfg.metrics.listen_addr() {
        return Err(("metrics.listen", e));
    }
    match cfg.sensor.user.as_deref() {
        Some("") => Err(("sensor.user", "must not be empty".into())),
        // What the capture will look up when it drops root.
        Some(name) => match nix::unistd::User::from_name(name) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(("sensor.user", format!("no user {name:?} on this system"))),
            Err(e) => Err(("sensor.user", format!("cannot look up user {name:?}: {e}"))),
        },
        None => Ok(()),
    }
}

/// The console: an address, plain HTTP only on loopback, TLS files that load, users named
/// once with hashes that parse.
fn console(cfg: &Config) -> Checked {
    let c = &cfg.console;
    let addr = c.listen_addr().map_err(|e| ("console.listen", e))?;
    match (&c.tls_cert, &c.tls_key) {
        (Some(_), None) => return Err(("console.tls_key", "tls_cert is set without it".into())),
        (None, Some(_)) => return Err(("console.tls_cert", "tls_key is set without it".into())),
        _ => {}
    }
    let Some(addr) = addr else {
        return Ok(());
    };
    if !c.tls() && !addr.ip().is_loopback() {
        return Err((
            "console.listen",
            format!(
                "{addr} is not a loopback address: set tls_cert and tls_key to serve it over HTTPS"
            ),
        ));
    }
    for (key, p) in [
        ("console.tls_cert", &c.tls_cert),
        ("console.tls_key", &c.tls_key),
    ] {
        if let Some(p) = p {
            std::fs::File::open(p).map_err(|e| (key, format!("{}: {e}", p.display())))?;
        }
    }
    if c.users.is_empty() {
        return Err((
            "console.users",
            "no user can log in: add [[console.users]] (otsensor console hash-password makes a hash)".into(),
        ));
    }
    let mut names = BTreeSet::new();
    for u in &c.users {
        if u.name.trim().is_empty() {
            return Err(("console.users.name", "must not be empty".into()));
        }
        if !names.insert(u.name.as_str()) {
            return Err((
                "console.users.name",
                format!("user {:?} is listed twice", u.name),
            ));
        }
        crate::console::auth::check_hash(&u.password_hash).map_err(|e| {
            (
                "console.users.password_hash",
                format!("user {:?}: {e}", u.name),
            )
        })?;
    }
    Ok(())
}

/// Zones: named once, each matching something, no CIDR, VLAN or interface in two zones (the
/// first would win silently), and a default zone that is a name of its own.
fn zones(cfg: &Config) -> Checked {
    let default = cfg.policy.default_zone.as_str();
    if default.is_empty() {
        return Err(("policy.default_zone", "must not be empty".into()));
    }
    let mut names = BTreeSet::new();
    let mut cidrs = BTreeMap::new();
    let mut vlans = BTreeMap::new();
    let mut macs = BTreeMap::new();
    let mut ifaces = BTreeMap::new();
    for z in &cfg.zones {
        let name = z.name.as_str();
        if name.is_empty() {
            return Err(("zones.name", "must not be empty".into()));
        }
        if !names.insert(name) {
            return Err(("zones.name", format!("zone {name:?} is defined twice")));
        }
        if name == default {
            return Err((
                "policy.default_zone",
                format!("{default:?} is also a configured zone"),
            ));
        }
        if z.cidrs.is_empty() && z.macs.is_empty() && z.vlans.is_empty() && z.interfaces.is_empty()
        {
            return Err((
                "zones.cidrs",
                format!(
                    "zone {name:?} has no cidrs, macs, vlans or interfaces: no host would be in it"
                ),
            ));
        }
        for m in &z.macs {
            if let Some(other) = macs.insert(*m, name) {
                return Err((
                    "zones.macs",
                    format!("MAC {m} is in zones {other:?} and {name:?}"),
                ));
            }
        }
        for c in &z.cidrs {
            if let Some(other) = cidrs.insert(c.to_string(), name) {
                return Err((
                    "zones.cidrs",
                    format!("{c} is in zones {other:?} and {name:?}"),
                ));
            }
        }
        for v in &z.vlans {
            if let Some(other) = vlans.insert(*v, name) {
                return Err((
                    "zones.vlans",
                    format!("VLAN {v} is in zones {other:?} and {name:?}"),
                ));
            }
        }
        for i in &z.interfaces {
            if let Some(other) = ifaces.insert(i.as_str(), name) {
                return Err((
                    "zones.interfaces",
                    format!("interface {i:?} is in zones {other:?} and {name:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Conduits: between two different known zones, for known protocols.
fn conduits(cfg: &Config) -> Checked {
    let default = cfg.policy.default_zone.as_str();
    let known = |z: &str| z == default || cfg.zones.iter().any(|x| x.name == z);
    let protocols: Vec<&str> = otsensor_protocols::PROTOCOLS
        .iter()
        .map(|d| d.name)
        .chain(
            otsensor_protocols::applabel::App::ALL
                .iter()
                .map(|a| a.as_str()),
        )
        .chain(["icmp", "icmpv6", "ip", "unknown"])
        // Layer-2 protocols (IEC 61850, PROFINET): a conduit lets a zone's senders reach another.
        .chain(["goose", "sv", "pn_dcp", "pn_rt"])
        .collect();
    for c in &cfg.conduits {
        for (key, z) in [("conduits.from", &c.from), ("conduits.to", &c.to)] {
            if !known(z) {
                return Err((key, format!("unknown zone {z:?}")));
            }
        }
        if c.from == c.to {
            return Err((
                "conduits.to",
                format!(
                    "a conduit from zone {:?} to itself: traffic within a zone needs no conduit",
                    c.from
                ),
            ));
        }
        if c.protocols.is_empty() && c.ports.is_empty() {
            return Err((
                "conduits.protocols",
                "must list at least one protocol or port".into(),
            ));
        }
        if let Some(p) = c
            .protocols
            .iter()
            .find(|p| !protocols.contains(&p.as_str()))
        {
            return Err((
                "conduits.protocols",
                format!(
                    "unknown protocol {p:?} (expected one of {})",
                    protocols.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Rule ids that exist.
fn rules(cfg: &Config) -> Checked {
    let r = &cfg.rules;
    if let Some(id) = r
        .disabled
        .iter()
        .find(|id| otsensor_baselines::rules::by_id(id).is_none())
    {
        return Err((
            "rules.disabled",
            format!("unknown rule id {id:?} (see otsensor rules)"),
        ));
    }
    if let Some(id) = r
        .severity
        .keys()
        .find(|id| otsensor_baselines::rules::by_id(id).is_none())
    {
        return Err((
            "rules.severity",
            format!("unknown rule id {id:?} (see otsensor rules)"),
        ));
    }
    Ok(())
}

/// `[protocols.NAME]` names a protocol the sensor parses.
fn protocols(cfg: &Config) -> Checked {
    let known: Vec<&str> = otsensor_protocols::PROTOCOLS
        .iter()
        .filter(|d| d.parser.is_some())
        .map(|d| d.name)
        .collect();
    match cfg.protocols.keys().find(|p| !known.contains(&p.as_str())) {
        Some(p) => Err((
            "protocols",
            format!(
                "unknown protocol {p:?} (expected one of {})",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The evidence directory exists.
fn evidence(cfg: &Config) -> Checked {
    match &cfg.evidence.dir {
        Some(d) if !d.is_dir() => Err((
            "evidence.dir",
            format!("{} is not a directory", d.display()),
        )),
        _ => Ok(()),
    }
}
