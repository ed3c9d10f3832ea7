//! SZL (system status list) answers: what identification and state a PLC reports.

use serde::Serialize;

use super::parser::DataItem;

/// A decoded SZL request or answer header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Szl {
    /// SZL-ID.
    pub id: u16,
    /// SZL index.
    pub index: u16,
    /// Record length (answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_len: Option<u16>,
    /// Record count (answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u16>,
    /// Identity found in the records (answers to 0x0011, 0x001C, 0x0424).
    #[serde(skip_serializing_if = "Identity::is_empty")]
    pub identity: Identity,
}

/// What an SZL answer says about the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Identity {
    /// Order number (MLFB) of the module (SZL 0x0011 index 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// Firmware version (SZL 0x0011 index 7), `V3.2.6`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Hardware version (SZL 0x0011 index 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<String>,
    /// Automation system name (SZL 0x001C index 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    /// Module name (SZL 0x001C index 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_name: Option<String>,
    /// Plant designation (SZL 0x001C index 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plant: Option<String>,
    /// Copyright (SZL 0x001C index 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    /// Module serial number (SZL 0x001C index 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Module type name (SZL 0x001C index 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_type: Option<String>,
    /// CPU mode (SZL 0x0424): `run`, `stop` or the raw value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_mode: Option<String>,
}

impl Identity {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == Identity::default()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Decodes the SZL part of a CPU-functions userdata data item: a request (ID, index) or an
/// answer (ID, index, record length and count, records).
pub fn parse(item: &DataItem<'_>, response: bool) -> Option<Szl> {
    let d = item.data;
    let mut s = Szl {
        id: be16(d, 0)?,
        index: be16(d, 2)?,
        ..Szl::default()
    };
    if !response {
        return Some(s);
    }
    let (Some(rlen), Some(count)) = (be16(d, 4), be16(d, 6)) else {
        return Some(s);
    };
    s.record_len = Some(rlen);
    s.record_count = Some(count);
    let rl = usize::from(rlen);
    if rl == 0 {
        return Some(s);
    }
    let records = d
        .get(8..)
        .unwrap_or_default()
        .chunks_exact(rl)
        .take(usize::from(count));
    let id = &mut s.identity;
    match s.id & 0x00ff {
        // Module identification: index u16 | MLFB 20 octets | BGTyp u16 | Ausbg u16 | Ausbe u16
        0x11 if rl >= 28 => {
            for r in records {
                let idx = be16(r, 0).unwrap_or(0);
                let mlfb = r.get(2..22).map(text).filter(|t| !t.is_empty());
                let (g0, g1, e0, e1) = (r.get(24), r.get(25), r.get(26), r.get(27));
                // Firmware: Ausbg 'V' and the major number, Ausbe minor and patch. Otherwise
                // Ausbg is a plain version number (hardware).
                let version = match (g0, g1, e0, e1) {
                    (Some(&b'V'), Some(a), Some(b), Some(c)) => Some(format!("V{a}.{b}.{c}")),
                    (Some(&a), Some(&b), _, _) => Some(u16::from_be_bytes([a, b]).to_string()),
                    _ => None,
                };
                match idx {
                    1 => id.order_number = mlfb.or(id.order_number.take()),
                    6 => id.hardware = version,
                    7 => id.firmware = version,
                    _ => {}
                }
            }
        }
        // Component identification: index u16 | text 32 octets
        0x1c if rl >= 34 => {
            for r in records {
                let t = r.get(2..34).map(text);
                match be16(r, 0).unwrap_or(0) {
                    1 => id.system_name = t,
                    2 => id.module_name = t,
                    3 => id.plant = t,
                    4 => id.copyright = t,
                    5 => id.serial = t,
                    7 => id.module_type = t,
                    _ => {}
                }
            }
        }
        // CPU mode: ereig u16 | ae u8 | bzu-id u8 (0x08 run, 0x04 stop) | ...
        0x24 if rl >= 4 => {
            if let Some(r) = records.into_iter().next() {
                id.cpu_mode = r.get(3).map(|b| match b {
                    0x08 => "run".to_string(),
                    0x04 => "stop".to_string(),
                    0x00 => "unknown".to_string(),
                    other => format!("{other:#04x}"),
                });
            }
        }
        _ => {}
    }
    Some(s)
}
