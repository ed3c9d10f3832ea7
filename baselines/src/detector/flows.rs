//! Every flow judged, whatever it carries: once a flow's application label is known (an
//! industrial parser's name, or an IT label from content or port), zones and conduits
//! judge it like a parsed message (`policy.no_conduit`, `policy.protocol_not_allowed`, and
//! the more specific `policy.internet_access` and `policy.remote_access`), and the
//! baseline learns or checks its conversation (client, server, server port, transport,
//! label). Flows of parsed industrial protocols meet the conduits per message instead (with
//! their operations); their conversations are learned here like any other.

use std::net::IpAddr;

use serde_json::json;

use otsensor_protocols::applabel::{App, Category};

use crate::alert::{Comparison, Observation, Rule, Signal};
use crate::conversations::Conversation;
use crate::rules;
use crate::time::Timestamp;
use crate::zones::{Purdue, Violation, ZoneId, ZoneMap};

use super::{Detector, FlowView, Mode};

/// A flow's application label, as the worker decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// The label: an IT label's name, a parsed protocol's name, or `unknown`.
    pub name: &'static str,
    /// The IT label, when it is one.
    pub app: Option<App>,
    /// Whether an industrial parser handles the flow (its messages meet the conduits).
    pub parsed: bool,
    /// IP protocol number.
    pub proto: u8,
    /// The client end was guessed (the flow was picked up midstream).
    pub guessed_client: bool,
}

/// Whether `ip` is a public unicast address (not private, shared, loopback, link-local,
/// documentation, benchmarking, multicast or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let [a, b, c, _] = v.octets();
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
                || v.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Destinations that are no host of a zone: multicast, broadcast, unspecified.
fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.is_unspecified(),
        IpAddr::V6(v) => v.is_multicast() || v.is_unspecified(),
    }
}

fn level(zones: &ZoneMap, z: ZoneId) -> Option<u8> {
    match zones.purdue(z) {
        Some(Purdue::Level(n)) => Some(n),
        _ => None,
    }
}

/// The severity of a new conversation, by what it carries and where it goes: remote access
/// and file sharing into a control zone (Purdue 0-2) first.
pub fn conversation_severity(app: Option<App>, control_server: bool) -> u8 {
    let base = match app.map(App::category) {
        Some(Category::RemoteAccess) => 7,
        Some(Category::FileSharing) => 6,
        Some(Category::Web) | None => 5,
        Some(Category::Directory) => 4,
        Some(Category::Infrastructure) => 3,
    };
    base + u8::from(control_server && base >= 5) * 2
}

impl Detector {
    /// The flow's application label is known: the policy judges it (flows that no parser
    /// handles), and the baseline learns or checks its conversation.
    pub fn flow_labeled(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        label: Label,
        out: &mut Vec<Signal>,
    ) {
        if is_group(f.server.ip) || is_group(f.client.ip) {
            return;
        }
        if !label.parsed {
            self.flow_policy(f, ts, label, out);
        }
        let conv = Conversation {
            client: f.client.ip,
            server: f.server.ip,
            port: f.server.port,
            transport: f.transport.into(),
            label: label.name.into(),
        }
        .normalized();
        match self.policy.cfg.mode {
            Mode::PolicyOnly => {}
            Mode::Learn => self.shared.learner.learn_conversation(&conv, ts),
            // A parsed protocol's flows meet the baseline's edges message by message
            // (new_asset, new_edge, new_operation, ...): no second alert for the same path.
            Mode::Detect if label.parsed => {}
            Mode::Detect => {
                if self.shared.learner.knows_conversation(&conv) {
                    return;
                }
                let zones = &self.policy.zones;
                let control = level(zones, f.server_zone).is_some_and(|n| n <= 2);
                let score = conversation_severity(label.app, control);
                let (name, port, t) = (label.name, f.server.port, f.transport);
                let guessed = if label.guessed_client {
                    " (client guessed: picked up midstream)"
                } else {
                    ""
                };
                self.obs(
                    f,
                    ts,
                    &rules::NEW_CONVERSATION,
                    label.name,
                    format!("{}>{}:{t}/{port}/{name}", f.client.ip, f.server.ip),
                    format!(
                        "new conversation: {} to {} on {t}/{port} ({name}){guessed}",
                        f.client.ip, f.server.ip
                    ),
                    Comparison {
                        observed: json!({ "client": f.client.ip, "server": f.server.ip,
                            "port": port, "transport": t, "label": name,
                            "client_guessed": label.guessed_client }),
                        expected: json!({ "conversations": "those learned between these hosts" }),
                    },
                    Some(score),
                    out,
                );
            }
        }
    }

    fn flow_policy(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        label: Label,
        out: &mut Vec<Signal>,
    ) {
        let zones = &self.policy.zones;
        let (cz, sz, port) = (f.client_zone, f.server_zone, f.server.port);
        let Some(v) = zones.check_flow(cz, sz, label.name, label.proto, port) else {
            return;
        };
        let (czn, szn) = (zones.name(cz).to_string(), zones.name(sz).to_string());
        let control_client = level(zones, cz).is_some_and(|n| n <= 3);
        let control_server = level(zones, sz).is_some_and(|n| n <= 2);
        let remote = label.app.is_some_and(App::is_remote_access);
        let (rule, what): (&'static Rule, String) =
            if zones.is_default(sz) && control_client && is_public(f.server.ip) {
                (
                    &rules::INTERNET_ACCESS,
                    format!(
                        "{} from zone {czn} to the internet ({})",
                        label.name, f.server.ip
                    ),
                )
            } else if remote && control_server {
                (
                    &rules::REMOTE_ACCESS,
                    format!("{} into zone {szn} from zone {czn}", label.name),
                )
            } else {
                let rule = match v {
                    Violation::NoConduit => &rules::NO_CONDUIT,
                    _ => &rules::PROTOCOL_NOT_ALLOWED,
                };
                (
                    rule,
                    format!("{} from zone {czn} to zone {szn}", label.name),
                )
            };
        let what = if label.name == "unknown" {
            format!("{what} on {}/{port}", f.transport)
        } else {
            what
        };
        let key = if label.name == "unknown" {
            format!("{}>{}/{}:{port}", f.client.ip, f.server.ip, f.transport)
        } else {
            format!("{}>{}/{}", f.client.ip, f.server.ip, label.name)
        };
        let expected = match v {
            Violation::NoConduit => "a conduit between these zones",
            _ => "a conduit listing this protocol or port",
        };
        self.obs(
            f,
            ts,
            rule,
            label.name,
            key,
            what,
            Comparison {
                observed: json!({ "from": czn, "to": szn, "protocol": label.name,
                    "transport": f.transport, "port": port }),
                expected: json!({ "conduit": expected }),
            },
            None,
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn obs(
        &self,
        f: &FlowView<'_>,
        ts: Timestamp,
        rule: &'static Rule,
        protocol: &'static str,
        key: String,
        details: String,
        comparison: Comparison,
        severity: Option<u8>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        if !pol.enabled(rule) {
            return;
        }
        out.push(Signal::Obs(Box::new(Observation {
            rule,
            key,
            ts,
            src: Some(pol.endpoint(f.client, f.client_zone)),
            dst: Some(pol.endpoint(f.server, f.server_zone)),
            protocol: Some(protocol),
            transport: Some(f.transport),
            operation: None,
            function: None,
            details,
            comparison,
            severity: pol.severity_override(rule).or(severity),
            community_id: f.community_id(),
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for ip in ["8.8.8.8", "1.1.1.1", "2a00:1450::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.251",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "0.0.0.0",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn remote_access_into_control_ranks_above_a_new_time_server() {
        let rdp = conversation_severity(Some(App::Rdp), true);
        let smb = conversation_severity(Some(App::Smb), true);
        let ntp = conversation_severity(Some(App::Ntp), true);
        assert!(rdp > smb && smb > ntp, "{rdp} {smb} {ntp}");
        assert!(rdp <= 10);
        assert!(conversation_severity(Some(App::Rdp), false) < rdp);
    }
}
