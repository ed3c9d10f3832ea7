//! The per-asset risk and exposure score published with asset records (Kafka `assets_topic`),
//! for network access control and Zero Trust policy engines.
//!
//! score = min(100, alerts + dangerous + exposure), each part capped:
//! - alerts (≤ 40): 4 × the highest severity (1–10) of the alerts it is the source or target
//!   of, plus 2 for each further distinct alert;
//! - dangerous (≤ 30): 10 for each distinct operational rule (PLC stop, program download,
//!   restart, ...) that targeted it;
//! - exposure (≤ 30): 15 if clients in another zone opened flows to it, plus 5 for each
//!   further zone;
//! - posture (≤ 30), from the asset's `risk_inputs`: 10 if it answers remote access (RDP,
//!   VNC, SSH, Telnet, TeamViewer), 5 if it answers cleartext management (Telnet, FTP, HTTP,
//!   SNMP), 10 if it runs an unsupported OS, and 10 more if it is an engineering station
//!   with either remote access or an unsupported OS.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use otsensor_baselines::alert::{Alert, Engine};
use otsensor_baselines::assets::Asset;

/// The risk of one asset.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Risk {
    /// 0–100.
    pub score: u8,
    /// Distinct alerts it is the source or target of.
    pub alerts: usize,
    /// The highest severity among them.
    pub max_severity: u8,
    /// Operational rules that targeted it.
    pub dangerous_operations: BTreeSet<&'static str>,
    /// Other zones whose clients reach it.
    pub exposed_to_zones: BTreeSet<String>,
}

/// An asset record for the assets topic.
#[derive(Debug, Serialize)]
pub struct AssetRecord<'a> {
    /// The asset.
    #[serde(flatten)]
    pub asset: &'a Asset,
    /// Its risk.
    pub risk: Risk,
    /// The sensor.
    pub sensor: &'a str,
}

/// The posture part of an asset's score (see the module's documentation).
fn posture(asset: &Asset) -> u32 {
    let Some(r) = asset.device.as_deref().map(|d| &d.risk_inputs) else {
        return 0;
    };
    let remote = !r.remote_access.is_empty();
    let old = !r.unsupported_os.is_empty();
    let part = 10 * u32::from(remote)
        + 5 * u32::from(!r.cleartext_management.is_empty())
        + 10 * u32::from(old)
        + 10 * u32::from(r.engineering_station && (remote || old));
    part.min(30)
}

/// A device known only by MAC address, for the assets topic (keyed by its MAC; no score:
/// no alert names it).
#[derive(Debug, Serialize)]
pub struct L2AssetRecord<'a> {
    /// The device.
    #[serde(flatten)]
    pub device: &'a otsensor_baselines::clues::L2Asset,
    /// The sensor.
    pub sensor: &'a str,
}

/// Scores every asset from the alerts raised so far.
pub fn score(assets: &[Asset], alerts: &[&Alert]) -> BTreeMap<IpAddr, Risk> {
    let mut by_ip: BTreeMap<IpAddr, (BTreeSet<&str>, u8, BTreeSet<&'static str>)> = BTreeMap::new();
    for a in alerts {
        let ends = [a.src.as_ref(), a.dst.as_ref()];
        for (i, e) in ends.into_iter().enumerate() {
            // Layer-2 endpoints (GOOSE publishers) have no address to score by.
            let Some(ip) = e.and_then(|e| e.ip) else {
                continue;
            };
            let entry = by_ip.entry(ip).or_default();
            entry.0.insert(a.id.as_str());
            entry.1 = entry.1.max(a.severity.score);
            if i == 1 && a.engine == Engine::Operational {
                entry.2.insert(a.rule);
            }
        }
    }
    assets
        .iter()
        .map(|asset| {
            let (ids, max_sev, dangerous) = by_ip.remove(&asset.ip).unwrap_or_default();
            let n = ids.len();
            let alerts_part = if n == 0 {
                0
            } else {
                (4 * u32::from(max_sev) + 2 * (n as u32 - 1)).min(40)
            };
            let dangerous_part = (10 * dangerous.len() as u32).min(30);
            let zones = asset.peer_zones.len() as u32;
            let exposure_part = if zones == 0 {
                0
            } else {
                (15 + 5 * (zones - 1)).min(30)
            };
            let score =
                (alerts_part + dangerous_part + exposure_part + posture(asset)).min(100) as u8;
            (
                asset.ip,
                Risk {
                    score,
                    alerts: n,
                    max_severity: max_sev,
                    dangerous_operations: dangerous,
                    exposed_to_zones: asset.peer_zones.iter().cloned().collect(),
                },
            )
        })
        .collect()
}
