//! MMS `Data` values (ISO 9506-2 §14.4, as IEC 61850 uses them in reads, writes, reports
//! and GOOSE datasets), bounded: at most [`MAX_VALUES`] leaves and [`MAX_DEPTH`] levels.

use serde::Serialize;

use super::ber;

/// Most leaf values decoded from one list.
pub const MAX_VALUES: usize = 256;
/// Deepest nesting of structures and arrays decoded.
pub const MAX_DEPTH: usize = 8;
/// Most octets of a string or octet string kept.
const MAX_BYTES: usize = 64;

/// One value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// boolean.
    Bool(bool),
    /// integer or unsigned.
    Int(i64),
    /// floating-point (single or double precision).
    Float(f64),
    /// visible-string, MMS string, octet-string (hex), bit-string (bits as `0`/`1`),
    /// utc-time (RFC 3339), an access failure (`failure:N`, N the DataAccessError), or a
    /// type this reader does not decode (`<tag N>`).
    Text(String),
    /// structure or array.
    List(Vec<Value>),
}

fn int(v: &[u8]) -> Option<i64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    let neg = v.first().is_some_and(|b| b & 0x80 != 0);
    let init = if neg { -1i64 } else { 0 };
    Some(v.iter().fold(init, |a, &b| (a << 8) | i64::from(b)))
}

fn hex(v: &[u8]) -> String {
    v.iter()
        .take(MAX_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An IEC 61850 UtcTime: seconds since 1970 (4 octets), fraction of a second (3 octets),
/// time quality (1 octet).
pub fn utc_time(v: &[u8]) -> Option<String> {
    let [s0, s1, s2, s3, f0, f1, f2, _q] = *v else {
        return None;
    };
    let secs = i64::from(u32::from_be_bytes([s0, s1, s2, s3]));
    let frac = u32::from_be_bytes([0, f0, f1, f2]);
    let nanos = ((u64::from(frac) * 1_000_000_000) >> 24) as i64;
    Some(crate::time::Timestamp::from_nanos(secs * 1_000_000_000 + nanos).to_string())
}

fn one(t: &ber::Tlv<'_>, depth: usize, budget: &mut usize) -> Value {
    *budget = budget.saturating_sub(1);
    let v = t.value;
    match (t.class, t.number) {
        // Not a Data choice: an AccessResult's failure [0] DataAccessError (reads, reports).
        (2, 0) if !t.constructed => Value::Text(format!("failure:{}", ber::uint(v).unwrap_or(0))),
        (2, 1 | 2) if depth < MAX_DEPTH => Value::List(list(v, depth + 1, budget)),
        (2, 3) => Value::Bool(v.first().is_some_and(|b| *b != 0)),
        (2, 4) => {
            // First octet: unused bits at the end.
            let unused = usize::from(v.first().copied().unwrap_or(0)).min(7);
            let bits = v.len().saturating_sub(1) * 8;
            let s: String = (0..bits.saturating_sub(unused).min(MAX_BYTES * 8))
                .map(|i| {
                    let byte = v.get(1 + i / 8).copied().unwrap_or(0);
                    if byte & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            Value::Text(s)
        }
        (2, 5) => int(v).map_or_else(|| Value::Text(hex(v)), Value::Int),
        (2, 6) => ber::uint(v)
            .and_then(|n| i64::try_from(n).ok())
            .map_or_else(|| Value::Text(hex(v)), Value::Int),
        (2, 7) => match v {
            [_, a, b, c, d] => Value::Float(f64::from(f32::from_be_bytes([*a, *b, *c, *d]))),
            [_, a, b, c, d, e, f, g, h] => {
                Value::Float(f64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]))
            }
            _ => Value::Text(hex(v)),
        },
        (2, 9) => Value::Text(hex(v)),
        (2, 10 | 16) => {
            let s = String::from_utf8_lossy(v.get(..v.len().min(MAX_BYTES)).unwrap_or_default());
            Value::Text(s.into_owned())
        }
        (2, 17) => utc_time(v).map_or_else(|| Value::Text(hex(v)), Value::Text),
        (_, n) => Value::Text(format!("<tag {n}>")),
    }
}

/// The values of a `SEQUENCE OF Data`.
pub fn list(d: &[u8], depth: usize, budget: &mut usize) -> Vec<Value> {
    let mut out = Vec::new();
    for t in ber::children(d) {
        if *budget == 0 {
            break;
        }
        out.push(one(&t, depth, budget));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_each_type() {
        let d = [
            0x83,
            1,
            1, // true
            0x84,
            2,
            3,
            0b1010_0000, // bits 10100
            0x85,
            1,
            0xff, // -1
            0x86,
            2,
            1,
            0, // 256
            0x87,
            5,
            8,
            0x3f,
            0x80,
            0,
            0, // 1.0
            0x8a,
            2,
            b'o',
            b'k', // "ok"
            0xa2,
            3,
            0x83,
            1,
            0, // [false]
            0x91,
            8,
            0,
            0,
            0,
            1,
            0x80,
            0,
            0,
            0, // 1 s + 0.5
        ];
        let mut budget = MAX_VALUES;
        let v = list(&d, 0, &mut budget);
        assert_eq!(
            v,
            [
                Value::Bool(true),
                Value::Text("10100".into()),
                Value::Int(-1),
                Value::Int(256),
                Value::Float(1.0),
                Value::Text("ok".into()),
                Value::List(vec![Value::Bool(false)]),
                Value::Text("1970-01-01T00:00:01.500000Z".into()),
            ]
        );
    }
}
