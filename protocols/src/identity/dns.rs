//! Names from DNS-format messages: answers of DNS, mDNS and LLMNR (A, AAAA and PTR records
//! that map a name to an address), and the NetBIOS name service's registrations and
//! positive answers (RFC 1002).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Kind, Sighting, Who, MAX_SIGHTINGS};

/// Most compression pointers followed in one name.
const MAX_HOPS: usize = 16;
/// Longest name (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

fn be16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at + 2)? {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// The header: (flags, question, answer, authority, additional counts).
fn header(d: &[u8]) -> Option<(u16, u16, u16, u16, u16)> {
    Some((
        be16(d, 2)?,
        be16(d, 4)?,
        be16(d, 6)?,
        be16(d, 8)?,
        be16(d, 10)?,
    ))
}

/// The name at `at` (dotted, compression followed) and the offset after it in place.
fn name(d: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = usize::from(*d.get(at)?);
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some((out, end.unwrap_or(at + 1)));
            }
            0x00 => {
                let label = d.get(at + 1..at + 1 + len)?;
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&String::from_utf8_lossy(label));
                if out.len() > MAX_NAME {
                    return None;
                }
                at += 1 + len;
            }
            0xc0 => {
                hops += 1;
                if hops > MAX_HOPS {
                    return None;
                }
                let ptr = usize::from(be16(d, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                at = ptr;
            }
            _ => return None,
        }
    }
}

/// The offset after the name at `at`, without decoding it.
fn skip_name(d: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*d.get(at)?);
        match len & 0xc0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + len,
            0xc0 => return Some(at + 2),
            _ => return None,
        }
    }
}

/// One resource record: (owner name offset, type, rdata range) and the offset after it.
fn record(d: &[u8], at: usize) -> Option<(usize, u16, std::ops::Range<usize>, usize)> {
    let after_name = skip_name(d, at)?;
    let ty = be16(d, after_name)?;
    let rdlen = usize::from(be16(d, after_name + 8)?);
    let start = after_name + 10;
    let end = start + rdlen;
    if end > d.len() {
        return None;
    }
    Some((at, ty, start..end, end))
}

/// The records after the questions: answers, authority, additional.
fn records(d: &[u8], questions: u16, total: usize) -> Vec<(usize, u16, std::ops::Range<usize>)> {
    let mut at = 12;
    for _ in 0..questions {
        let Some(n) = skip_name(d, at) else {
            return Vec::new();
        };
        at = n + 4;
    }
    let mut out = Vec::new();
    for _ in 0..total.min(64) {
        let Some((owner, ty, rdata, next)) = record(d, at) else {
            break;
        };
        out.push((owner, ty, rdata));
        at = next;
    }
    out
}

/// The address a reverse-lookup name stands for (`4.3.2.1.in-addr.arpa`, `…ip6.arpa`).
fn reverse_addr(name: &str) -> Option<IpAddr> {
    let lower = name.to_ascii_lowercase();
    if let Some(v4) = lower.strip_suffix(".in-addr.arpa") {
        let o: Vec<u8> = v4
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [d, c, b, a] = o.as_slice() else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)));
    }
    let v6 = lower.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .map(|n| u8::from_str_radix(n, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if nibbles.len() != 32 || nibbles.iter().any(|n| *n > 15) {
        return None;
    }
    let mut b = [0u8; 16];
    // Reversed: the last nibble of the name is the first of the address.
    for (slot, pair) in b.iter_mut().zip(nibbles.rchunks(2)) {
        if let [lo, hi] = pair {
            *slot = (hi << 4) | lo;
        }
    }
    Some(IpAddr::V6(Ipv6Addr::from(b)))
}

/// A, AAAA and PTR records of a DNS, mDNS or LLMNR response (QR set, no error): the names
/// of the addresses they map, labelled `source` (`dns`, `mdns`, `llmnr`).
pub fn dns_answers(d: &[u8], source: &'static str, out: &mut Vec<Sighting>) {
    let Some((flags, qd, an, ns, ar)) = header(d) else {
        return;
    };
    if flags & 0x8000 == 0 || flags & 0x000f != 0 {
        return;
    }
    let total = usize::from(an) + usize::from(ns) + usize::from(ar);
    for (owner, ty, rdata) in records(d, qd, total) {
        if out.len() >= MAX_SIGHTINGS {
            return;
        }
        let s = match (ty, rdata.len()) {
            (1, 4) => d.get(rdata).and_then(|r| {
                let [w, x, y, z] = r else { return None };
                let a = IpAddr::V4(Ipv4Addr::new(*w, *x, *y, *z));
                let (n, _) = name(d, owner)?;
                Sighting::new(Who::Addr(a), Kind::Hostname, &n, source)
            }),
            (28, 16) => d.get(rdata).and_then(|r| {
                let b: [u8; 16] = r.try_into().ok()?;
                let (n, _) = name(d, owner)?;
                Sighting::new(Who::Addr(IpAddr::V6(b.into())), Kind::Hostname, &n, source)
            }),
            (12, _) => name(d, owner).and_then(|(n, _)| {
                let a = reverse_addr(&n)?;
                let (target, _) = name(d, rdata.start)?;
                Sighting::new(Who::Addr(a), Kind::Hostname, &target, source)
            }),
            _ => None,
        };
        out.extend(s);
    }
}

/// A NetBIOS name (first-level encoding, RFC 1001 §14.1): the name without its padding,
/// and its suffix (the 16th byte: 0x00 workstation, 0x20 server, ...).
fn netbios_name(d: &[u8], at: usize) -> Option<(String, u8)> {
    // Compressed names point at the question's name.
    let at = match *d.get(at)? {
        0x20 => at,
        b if b & 0xc0 == 0xc0 => usize::from(be16(d, at)? & 0x3fff),
        _ => return None,
    };
    if *d.get(at)? != 0x20 {
        return None;
    }
    let enc = d.get(at + 1..at + 33)?;
    let mut raw = [0u8; 16];
    for (slot, pair) in raw.iter_mut().zip(enc.chunks(2)) {
        let [h, l] = pair else { return None };
        let hi = h.checked_sub(b'A').filter(|v| *v < 16)?;
        let lo = l.checked_sub(b'A').filter(|v| *v < 16)?;
        *slot = (hi << 4) | lo;
    }
    let [name @ .., suffix] = raw;
    let n = String::from_utf8_lossy(&name).trim_end().to_string();
    Some((n, suffix))
}

/// Host names (suffix 0x00 workstation or 0x20 server) the NetBIOS name service says are
/// unique to an address: name registrations and refreshes, and positive query answers.
/// The names a host asks about are not its own and are ignored.
pub fn nbns(d: &[u8], out: &mut Vec<Sighting>) {
    let Some((flags, qd, an, ns, ar)) = header(d) else {
        return;
    };
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let rcode = flags & 0xf;
    // Registration (5) and refresh (8, 9) requests; positive answers to queries (0).
    let wanted = match (response, opcode) {
        (false, 5 | 8 | 9) => true,
        (true, 0) => rcode == 0,
        _ => false,
    };
    if !wanted {
        return;
    }
    let total = usize::from(an) + usize::from(ns) + usize::from(ar);
    for (owner, ty, rdata) in records(d, qd, total) {
        // NB records: pairs of NB_FLAGS (G bit: a group name) and an IPv4 address.
        if ty != 0x20 {
            continue;
        }
        let Some((n, suffix)) = netbios_name(d, owner) else {
            continue;
        };
        if !matches!(suffix, 0x00 | 0x20) {
            continue;
        }
        let Some(r) = d.get(rdata) else { continue };
        for e in r.chunks_exact(6) {
            if out.len() >= MAX_SIGHTINGS {
                return;
            }
            let [flags, _, w, x, y, z] = e else { continue };
            if flags & 0x80 != 0 {
                continue;
            }
            let a = IpAddr::V4(Ipv4Addr::new(*w, *x, *y, *z));
            out.extend(Sighting::new(Who::Addr(a), Kind::Hostname, &n, "nbns"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.') {
            v.push(l.len() as u8);
            v.extend(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// A response with one question and the given answers (owner name, type, rdata).
    fn response(q: &str, answers: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
        let mut d = vec![
            0x12,
            0x34,
            0x81,
            0x80,
            0,
            1,
            0,
            answers.len() as u8,
            0,
            0,
            0,
            0,
        ];
        d.extend(encode(q));
        d.extend([0, 1, 0, 1]);
        for (owner, ty, rdata) in answers {
            if *owner == q {
                d.extend([0xc0, 0x0c]);
            } else {
                d.extend(encode(owner));
            }
            d.extend(ty.to_be_bytes());
            d.extend([0, 1, 0, 0, 0x0e, 0x10]);
            d.extend((rdata.len() as u16).to_be_bytes());
            d.extend(rdata);
        }
        d
    }

    #[test]
    fn a_aaaa_and_ptr_answers_name_addresses() {
        let mut out = Vec::new();
        let d = response(
            "hmi1.plant.local",
            &[
                ("hmi1.plant.local", 1, vec![10, 1, 2, 3]),
                (
                    "hmi1.plant.local",
                    28,
                    vec![0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                ),
            ],
        );
        dns_answers(&d, "dns", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].who, Who::Addr("10.1.2.3".parse().unwrap()));
        assert_eq!(out[0].value, "hmi1.plant.local");
        assert_eq!(out[1].who, Who::Addr("fe80::1".parse().unwrap()));
        out.clear();
        let d = response(
            "3.2.1.10.in-addr.arpa",
            &[("3.2.1.10.in-addr.arpa", 12, encode("plc7.plant.local"))],
        );
        dns_answers(&d, "dns", &mut out);
        assert_eq!(out[0].who, Who::Addr("10.1.2.3".parse().unwrap()));
        assert_eq!(out[0].value, "plc7.plant.local");
        // Queries and errors name nobody.
        let mut q = d.clone();
        q[2] = 0x01;
        out.clear();
        dns_answers(&q, "dns", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn ipv6_reverse_names() {
        let n = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa";
        assert_eq!(reverse_addr(n), Some("fe80::1".parse().unwrap()));
        assert_eq!(reverse_addr("1.2.3.in-addr.arpa"), None);
    }

    #[test]
    fn compression_loops_end() {
        let mut d = vec![0, 0, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        d.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        let mut out = Vec::new();
        dns_answers(&d, "dns", &mut out);
        assert!(out.is_empty());
    }

    fn nb_encode(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        let mut v = vec![0x20];
        for b in raw {
            v.push(b'A' + (b >> 4));
            v.push(b'A' + (b & 0xf));
        }
        v.push(0);
        v
    }

    #[test]
    fn netbios_registrations_and_answers() {
        // Registration: opcode 5, one question, one additional NB record.
        let mut d = vec![0x80, 0x01, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        d.extend(nb_encode("EWS01", 0x00));
        d.extend([0, 0x20, 0, 1]);
        d.extend([
            0xc0, 0x0c, 0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0x00, 0x00, 10, 0, 0, 5,
        ]);
        let mut out = Vec::new();
        nbns(&d, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, "EWS01");
        assert_eq!(out[0].who, Who::Addr("10.0.0.5".parse().unwrap()));
        // A group name (G bit) and a domain suffix name nobody.
        let mut g = d.clone();
        let n = g.len();
        g[n - 6] = 0x80;
        out.clear();
        nbns(&g, &mut out);
        assert!(out.is_empty());
        let mut dom = vec![0x80, 0x01, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        dom.extend(nb_encode("PLANT", 0x1d));
        dom.extend([0, 0x20, 0, 1]);
        dom.extend([
            0xc0, 0x0c, 0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0x00, 0x00, 10, 0, 0, 5,
        ]);
        out.clear();
        nbns(&dom, &mut out);
        assert!(out.is_empty());
        // A query names nobody; its positive answer does.
        let mut q = vec![0x80, 0x02, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend(nb_encode("HIST01", 0x20));
        q.extend([0, 0x20, 0, 1]);
        out.clear();
        nbns(&q, &mut out);
        assert!(out.is_empty());
        let mut a = vec![0x80, 0x02, 0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
        a.extend(nb_encode("HIST01", 0x20));
        a.extend([
            0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0x00, 0x00, 10, 0, 0, 9,
        ]);
        nbns(&a, &mut out);
        assert_eq!(out[0].value, "HIST01");
        assert_eq!(out[0].who, Who::Addr("10.0.0.9".parse().unwrap()));
    }
}
