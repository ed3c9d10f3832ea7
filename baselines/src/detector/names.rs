//! Names a device gives itself (DHCP, NetBIOS, SNMP sysName, mDNS and LLMNR answers):
//! learned for the baseline's assets, and judged against them when detecting
//! (`anomaly.identity_changed`: a known device announcing a new name). Names others give a
//! device (DNS answers) are aliases, not identity, and are not judged.

use std::net::IpAddr;

use serde_json::json;

use otsensor_protocols::identity::{Kind, Sighting};

use crate::alert::{Comparison, Signal};
use crate::rules;
use crate::time::Timestamp;

use super::{Detector, FlowView, Mode};

/// Sources where a device names itself.
fn self_announced(source: &str) -> bool {
    matches!(
        source,
        "dhcp.hostname" | "dhcp.fqdn" | "nbns" | "snmp.sysname" | "mdns" | "llmnr"
    )
}

impl Detector {
    /// A packet of flow `f` named device `ip`.
    pub fn sighting(
        &mut self,
        f: &FlowView<'_>,
        ip: IpAddr,
        s: &Sighting,
        ts: Timestamp,
        out: &mut Vec<Signal>,
    ) {
        if s.kind != Kind::Hostname || !self_announced(s.source) {
            return;
        }
        match self.policy.cfg.mode {
            Mode::PolicyOnly => {}
            Mode::Learn => self.shared.learner.learn_asset_hostname(&ip, &s.value),
            Mode::Detect => {
                let Some(learned) = self.shared.learner.with_asset(&ip, |a| {
                    let known = a.hostnames.iter().any(|h| h.eq_ignore_ascii_case(&s.value));
                    (!a.hostnames.is_empty() && !known).then(|| a.hostnames.clone())
                }) else {
                    return;
                };
                let Some(learned) = learned else { return };
                let name = s.value.as_str();
                self.obs(
                    f,
                    ts,
                    &rules::IDENTITY_CHANGED,
                    s.source,
                    format!("{ip}#name={}", name.to_ascii_lowercase()),
                    format!(
                        "{ip} calls itself {name} ({}); while learning it was {}",
                        s.source,
                        learned.join(", ")
                    ),
                    Comparison {
                        observed: json!({ "ip": ip, "hostname": name, "source": s.source }),
                        expected: json!({ "hostnames": learned }),
                    },
                    None,
                    out,
                );
            }
        }
    }
}
