//! What each protocol tells the rest of the sensor about itself: its name, the ports it
//! owns, how its flows are recognised (content probe) and parsed (per-flow handler), the
//! asset roles of the two ends of its flows, its own operational rules and which requests
//! raise an operational rule. Config validation, the detector, the asset inventory
//! and the rule catalog read the descriptors in [`crate::PROTOCOLS`]; none of them matches a
//! protocol name or function code by hand.

use crate::flow::{Handler, Probe, ProbeMode, Transport};
use crate::rule::Rule;
use crate::Direction;

/// Asset roles of the two ends of a protocol's flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The end that opens the flow (client, master, scanner).
    pub client: &'static str,
    /// The end that answers (server, outstation, PLC, adapter).
    pub server: &'static str,
}

/// A request as the operational rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Function code.
    pub function_code: u16,
    /// Sub-function, where the protocol has them.
    pub sub_function: Option<u16>,
    /// Name of the sub-function or service (e.g. an S7 PI service name).
    pub sub_function_name: Option<&'a str>,
    /// Name of the function, where the parser names it more finely than its code (a PCCC
    /// command carried by CIP's Execute PCCC).
    pub function: Option<&'a str>,
}

/// A dangerous request: the operational rule it raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dangerous {
    /// The rule.
    pub rule: &'static Rule,
    /// What the request does, in a few words (`PLC STOP`, `Force listen-only mode`).
    pub what: String,
    /// When alerts of the rule are kept apart per service on one edge: the service's name.
    pub service: Option<String>,
}

impl Dangerous {
    /// `rule`, described as `what`, one alert per edge.
    pub fn new(rule: &'static Rule, what: &str) -> Dangerous {
        Dangerous {
            rule,
            what: what.to_string(),
            service: None,
        }
    }
}

/// How the sensor finds and parses a protocol's flows.
#[derive(Debug, Clone, Copy)]
pub struct Parser {
    /// Cheap content check on the first payload of a flow in either direction.
    pub probe: fn(Transport, Direction, &[u8], ProbeMode) -> Probe,
    /// Per-flow state for a newly identified flow (a [`crate::flow::Driver`] of the
    /// protocol's adapter).
    pub new_handler: fn() -> Box<dyn Handler>,
}

/// A protocol, as the rest of the sensor knows it.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    /// Name in events, alerts, stats, baselines and config (`modbus`, `dnp3`, ...).
    pub name: &'static str,
    /// What is parsed, in a line (`otsensor protocols`).
    pub summary: &'static str,
    /// TCP ports the protocol owns (empty for a protocol carried inside another).
    pub tcp_ports: &'static [u16],
    /// UDP ports the protocol owns.
    pub udp_ports: &'static [u16],
    /// How its flows are found and parsed; `None` for a protocol parsed by another's parser
    /// (S7comm-plus, in S7comm's connections).
    pub parser: Option<Parser>,
    /// Asset roles of the two ends.
    pub roles: Roles,
    /// The operational (and protocol) rules only this protocol raises, for the rule catalog.
    pub rules: &'static [&'static Rule],
    /// The operational rule a request raises, if it is dangerous in a way the protocol knows
    /// best (otherwise the detector's rules by operation apply: program download, upload,
    /// restart).
    pub dangerous: fn(&Request<'_>) -> Option<Dangerous>,
    /// Every flag its parser puts on a message, with its kind: what the detector judges
    /// (a flag missing here fails the protocol's flag test and, in debug builds, the
    /// detector).
    pub flags: &'static [(&'static str, FlagKind)],
}

impl Descriptor {
    /// The kind of `flag` on this protocol's messages.
    pub fn flag_kind(&self, flag: &str) -> Option<FlagKind> {
        self.flags.iter().find(|(f, _)| *f == flag).map(|(_, k)| *k)
    }
}

/// What a parser's flag says about a PDU: the detector matches kinds, not names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// Breaks its protocol's specification (counted toward `protocol.malformed`).
    Malformed,
    /// Beyond the specification's or the sensor's size limits (`protocol.oversized`).
    Oversized,
    /// A function or sub-function the protocol does not define or reserves
    /// (`protocol.illegal_function`).
    IllegalFunction,
    /// Application sequence numbers out of turn on a stream that lost nothing
    /// (`protocol.sequence_anomaly`).
    Sequence,
    /// A control that broke select-before-operate (`protocol.select_before_operate`).
    SelectBeforeOperate,
    /// A frame whose checksum is wrong (`protocol.bad_crc`).
    Checksum,
    /// Requests left unanswered in bulk (`protocol.request_flood`).
    Flood,
    /// A password sent in clear (`operational.password_in_clear`).
    Password,
    /// An event field, not an alert: pairing misses, vendor-defined codes, negative
    /// confirmations, security settings the operational rules judge.
    Informational,
}

impl FlagKind {
    /// The kind's name (in `otsensor protocols` and the documentation).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Malformed => "malformed",
            FlagKind::Oversized => "oversized",
            FlagKind::IllegalFunction => "illegal_function",
            FlagKind::Sequence => "sequence",
            FlagKind::SelectBeforeOperate => "select_before_operate",
            FlagKind::Checksum => "checksum",
            FlagKind::Flood => "flood",
            FlagKind::Password => "password",
            FlagKind::Informational => "informational",
        }
    }
}

/// For protocols without dangerous functions of their own.
pub fn no_dangerous_functions(_: &Request<'_>) -> Option<Dangerous> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Engine;
    use crate::{descriptor, PROTOCOLS};

    fn dangerous(
        protocol: &str,
        code: u16,
        sub: Option<u16>,
        name: Option<&str>,
    ) -> Option<&'static str> {
        let d = descriptor(protocol).expect("registered");
        let r = Request {
            function_code: code,
            sub_function: sub,
            sub_function_name: name,
            function: None,
        };
        (d.dangerous)(&r).map(|d| d.rule.id)
    }

    /// Every flag a parser can set is declared with a kind in its protocol's descriptor:
    /// the flag sets' names, and every flag pushed by name in the protocol's sources.
    #[test]
    fn every_flag_a_parser_sets_has_a_kind() {
        fn names<F: Copy>(n: &[(F, &'static str)]) -> Vec<&'static str> {
            n.iter().map(|(_, s)| *s).collect()
        }
        let sets = [
            ("modbus", names(&crate::modbus::parser::Flags::NAMES)),
            ("dnp3", names(&crate::dnp3::parser::Flags::NAMES)),
            ("s7comm", names(&crate::s7comm::parser::Flags::NAMES)),
            ("enip", names(&crate::enip::parser::Flags::NAMES)),
            ("cip", names(&crate::enip::parser::Flags::NAMES)),
            ("iec104", names(&crate::iec104::parser::Flags::NAMES)),
        ];
        for (p, set) in &sets {
            let d = descriptor(p).expect("registered");
            for f in set {
                assert!(d.flag_kind(f).is_some(), "{p}: flag {f} has no kind");
            }
        }
        // Flags pushed by name: `flags.push("...")` in the protocol's own directory.
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pushed = 0;
        for d in PROTOCOLS {
            let Ok(dir) = std::fs::read_dir(src.join(d.name)) else {
                continue;
            };
            for file in dir.flatten() {
                let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                for part in text.split("flags.push(\"").skip(1) {
                    let flag = part.split('"').next().unwrap_or_default();
                    assert!(
                        d.flag_kind(flag).is_some(),
                        "{}: flag {flag} ({}) has no kind",
                        d.name,
                        file.path().display()
                    );
                    pushed += 1;
                }
            }
        }
        assert!(pushed >= 5, "{pushed}");
        // And nothing declared twice.
        for d in PROTOCOLS {
            for (i, (f, _)) in d.flags.iter().enumerate() {
                assert!(
                    !d.flags.iter().skip(i + 1).any(|(g, _)| g == f),
                    "{}: {f}",
                    d.name
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_no_port_has_two_owners() {
        let mut names: Vec<&str> = PROTOCOLS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROTOCOLS.len());
        for (i, a) in PROTOCOLS.iter().enumerate() {
            for b in PROTOCOLS.iter().skip(i + 1) {
                assert!(
                    !a.tcp_ports.iter().any(|p| b.tcp_ports.contains(p)),
                    "{} {}",
                    a.name,
                    b.name
                );
                assert!(
                    !a.udp_ports.iter().any(|p| b.udp_ports.contains(p)),
                    "{} {}",
                    a.name,
                    b.name
                );
            }
            // A descriptor's rules are operational or protocol rules, named by engine.
            assert!(a.rules.iter().all(|r| {
                matches!(r.engine, Engine::Operational | Engine::Protocol)
                    && r.id.starts_with(&format!("{}.", r.engine.as_str()))
            }));
        }
        assert!(descriptor("modbus").is_some() && descriptor("http").is_none());
        let any = Request {
            function_code: 0x29,
            sub_function: None,
            sub_function_name: None,
            function: None,
        };
        assert_eq!(no_dangerous_functions(&any), None);
    }

    #[test]
    fn dangerous_functions_raise_their_rules() {
        assert_eq!(
            dangerous("modbus", 8, Some(4), None),
            Some("operational.modbus_listen_only")
        );
        assert_eq!(dangerous("modbus", 8, Some(1), None), None);
        assert_eq!(
            dangerous("modbus", 90, Some(0x41), None),
            Some("operational.plc_stop")
        );
        assert_eq!(
            dangerous("modbus", 90, Some(0x40), None),
            Some("operational.plc_start")
        );
        assert_eq!(dangerous("modbus", 16, None, None), None);
        for code in 15..=18 {
            assert_eq!(
                dangerous("dnp3", code, None, None),
                Some("operational.dnp3_application_control")
            );
        }
        assert_eq!(
            dangerous("dnp3", 21, None, None),
            Some("operational.dnp3_disable_unsolicited")
        );
        assert_eq!(dangerous("dnp3", 1, None, None), None);
        assert_eq!(
            dangerous("s7comm", 0x29, None, None),
            Some("operational.plc_stop")
        );
        assert_eq!(
            dangerous("s7comm", 0x28, None, Some("_MODU")),
            Some("operational.s7_copy_ram_to_rom")
        );
        assert_eq!(dangerous("s7comm", 0x04, None, None), None);
        assert_eq!(dangerous("s7comm_plus", 0x29, None, None), None);
        // Other PI services: one alert per service.
        let d = descriptor("s7comm").expect("registered");
        let pi = (d.dangerous)(&Request {
            function_code: 0x28,
            sub_function: None,
            sub_function_name: Some("_GARB"),
            function: None,
        })
        .expect("a PI service");
        assert_eq!(
            (pi.rule.id, pi.what.as_str(), pi.service.as_deref()),
            (
                "operational.s7_pi_service",
                "PI service _GARB",
                Some("_GARB")
            )
        );
    }
}
