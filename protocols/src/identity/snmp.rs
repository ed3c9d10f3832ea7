//! SNMP responses (RFC 1157, RFC 3416, RFC 3412): an agent's `sysName.0` (its name) and
//! `sysDescr.0` (its software and hardware) when a manager's request asked for them. SNMPv3
//! is read when its scoped PDU is in clear (no privacy); encrypted ones are not.

use super::{Kind, Sighting, Who};

/// `1.3.6.1.2.1.1.1.0` (sysDescr.0), BER-encoded.
const SYS_DESCR: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];
/// `1.3.6.1.2.1.1.5.0` (sysName.0), BER-encoded.
const SYS_NAME: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 5, 0];
/// Most variable bindings looked at.
const MAX_VARBINDS: usize = 64;

/// One BER TLV: (tag, value) and the rest.
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let [tag, first, rest @ ..] = d else {
        return None;
    };
    let (len, rest) = match first {
        0..=0x7f => (usize::from(*first), rest),
        0x81 => {
            let [l, r @ ..] = rest else { return None };
            (usize::from(*l), r)
        }
        0x82 => {
            let [h, l, r @ ..] = rest else { return None };
            (usize::from(u16::from_be_bytes([*h, *l])), r)
        }
        _ => return None,
    };
    let value = rest.get(..len)?;
    Some((*tag, value, rest.get(len..).unwrap_or_default()))
}

/// The sysName and sysDescr an agent's GetResponse carries, as sightings of the sender.
pub fn snmp(d: &[u8], out: &mut Vec<Sighting>) {
    let Some((0x30, msg, _)) = tlv(d) else { return };
    let Some((0x02, version, rest)) = tlv(msg) else {
        return;
    };
    let rest = match version {
        // v1 (0) and v2c (1): the community, then the PDU.
        [0] | [1] => {
            let Some((0x04, _community, rest)) = tlv(rest) else {
                return;
            };
            rest
        }
        // v3: global data, security parameters, then a plaintext scoped PDU (an encrypted
        // one is an octet string, not read): context engine id and name, then the PDU.
        [3] => {
            let Some((0x30, _global, rest)) = tlv(rest) else {
                return;
            };
            let Some((0x04, _security, rest)) = tlv(rest) else {
                return;
            };
            let Some((0x30, scoped, _)) = tlv(rest) else {
                return;
            };
            let Some((0x04, _engine, scoped)) = tlv(scoped) else {
                return;
            };
            let Some((0x04, _context, pdu)) = tlv(scoped) else {
                return;
            };
            pdu
        }
        _ => return,
    };
    // GetResponse / Response-PDU.
    let Some((0xa2, pdu, _)) = tlv(rest) else {
        return;
    };
    let Some((0x02, _request_id, pdu)) = tlv(pdu) else {
        return;
    };
    let Some((0x02, error, pdu)) = tlv(pdu) else {
        return;
    };
    if error.iter().any(|b| *b != 0) {
        return;
    }
    let Some((0x02, _index, pdu)) = tlv(pdu) else {
        return;
    };
    let Some((0x30, mut binds, _)) = tlv(pdu) else {
        return;
    };
    for _ in 0..MAX_VARBINDS {
        let Some((0x30, bind, next)) = tlv(binds) else {
            return;
        };
        binds = next;
        let Some((0x06, oid, value)) = tlv(bind) else {
            continue;
        };
        let Some((0x04, text, _)) = tlv(value) else {
            continue;
        };
        let (kind, source) = match oid {
            SYS_NAME => (Kind::Hostname, "snmp.sysname"),
            SYS_DESCR => (Kind::Software, "snmp.sysdescr"),
            _ => continue,
        };
        let text = String::from_utf8_lossy(text);
        out.extend(Sighting::new(Who::Sender, kind, &text, source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if v.len() < 0x80 {
            out.push(v.len() as u8);
        } else {
            out.push(0x81);
            out.push(v.len() as u8);
        }
        out.extend(v);
        out
    }

    fn response(binds: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut vb = Vec::new();
        for (oid, s) in binds {
            let mut b = wrap(0x06, oid);
            b.extend(wrap(0x04, s));
            vb.extend(wrap(0x30, &b));
        }
        let mut pdu = wrap(0x02, &[0x12]);
        pdu.extend(wrap(0x02, &[0]));
        pdu.extend(wrap(0x02, &[0]));
        pdu.extend(wrap(0x30, &vb));
        let mut msg = wrap(0x02, &[1]);
        msg.extend(wrap(0x04, b"public"));
        msg.extend(wrap(0xa2, &pdu));
        wrap(0x30, &msg)
    }

    #[test]
    fn sys_name_and_descr() {
        let descr: &[u8] =
            b"Siemens, SIMATIC NET, SCALANCE X208, 6GK5 208-0BA10-2AA3, HW: 7, FW: V4.1.0";
        let d = response(&[(SYS_DESCR, descr), (SYS_NAME, b"sw-cell-a")]);
        let mut out = Vec::new();
        snmp(&d, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind, Kind::Software);
        assert!(out[0].value.starts_with("Siemens, SIMATIC NET"));
        assert_eq!(out[1].value, "sw-cell-a");
        assert_eq!(out[1].who, Who::Sender);
        // The same PDU in a plaintext SNMPv3 message.
        let at = d.iter().position(|b| *b == 0xa2).unwrap();
        let mut scoped = wrap(0x04, &[0x80, 0, 0x1f, 0x88]);
        scoped.extend(wrap(0x04, b""));
        scoped.extend(&d[at..]);
        let mut v3 = wrap(0x02, &[3]);
        v3.extend(wrap(0x30, &[2, 1, 7, 2, 2, 5, 220, 4, 1, 0, 2, 1, 3]));
        v3.extend(wrap(0x04, &[0x30, 0]));
        v3.extend(wrap(0x30, &scoped));
        let v3 = wrap(0x30, &v3);
        let mut out3 = Vec::new();
        snmp(&v3, &mut out3);
        assert_eq!(out3, out);
        // A request (GetRequest, 0xa0) names nobody.
        let mut req = d.clone();
        let at = req.iter().position(|b| *b == 0xa2).unwrap();
        req[at] = 0xa0;
        out.clear();
        snmp(&req, &mut out);
        assert!(out.is_empty());
    }
}
