//! The DNP3 object library: how many bytes each group/variation takes, and point values.
//! Reference: IEEE 1815-2012 Annex A.

use serde::Serialize;

/// How the objects of a group/variation are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjSize {
    /// Packed: this many bits per point (1 or 2), no prefixes.
    Bits(u8),
    /// This many bytes per point.
    Fixed(usize),
    /// No data (class objects; "any variation" in requests).
    Empty,
    /// Device attribute (group 0): data type, length and value per object.
    Attribute,
    /// Size given by a size prefix (qualifier prefix codes 4–6), e.g. groups 70, 120.
    Prefixed,
    /// Not in the object library as implemented here.
    Unknown,
}

/// Number encoding of a numeric point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    I16,
    I32,
    U16,
    U32,
    F32,
    F64,
}

impl Num {
    fn len(self) -> usize {
        match self {
            Num::I16 | Num::U16 => 2,
            Num::I32 | Num::U32 | Num::F32 => 4,
            Num::F64 => 8,
        }
    }
}

/// Layout of a numeric object: optional flags octet, the number, optional 48-bit time,
/// optional trailing status octet (analog output commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    flags: bool,
    num: Num,
    time: bool,
    status: bool,
}

const fn l(flags: bool, num: Num, time: bool) -> Option<Layout> {
    Some(Layout {
        flags,
        num,
        time,
        status: false,
    })
}

const fn cmd(num: Num) -> Option<Layout> {
    Some(Layout {
        flags: false,
        num,
        time: false,
        status: true,
    })
}

impl Layout {
    fn len(self) -> usize {
        usize::from(self.flags)
            + self.num.len()
            + if self.time { 6 } else { 0 }
            + usize::from(self.status)
    }
}

/// Numeric groups: counters, analogs, analog outputs.
fn layout(group: u8, var: u8) -> Option<Layout> {
    use Num::*;
    match (group, var) {
        (20, 1 | 3) | (22 | 23, 1 | 3) | (21, 1 | 3) => l(true, U32, false),
        (20, 2 | 4) | (22 | 23, 2 | 4) | (21, 2 | 4) => l(true, U16, false),
        (20, 5 | 7) | (21, 9 | 11) => l(false, U32, false),
        (20, 6 | 8) | (21, 10 | 12) => l(false, U16, false),
        (21..=23, 5 | 7) => l(true, U32, true),
        (21..=23, 6 | 8) => l(true, U16, true),
        (30 | 31 | 32 | 33 | 40 | 42 | 43, 1) => l(true, I32, false),
        (30 | 31 | 32 | 33 | 40 | 42 | 43, 2) => l(true, I16, false),
        (30, 3) | (31, 5) => l(false, I32, false),
        (30, 4) | (31, 6) => l(false, I16, false),
        (30, 5) | (31, 7) | (32 | 33 | 42 | 43, 5) | (40, 3) => l(true, F32, false),
        (30, 6) | (31, 8) | (32 | 33 | 42 | 43, 6) | (40, 4) => l(true, F64, false),
        (31 | 32 | 33 | 42 | 43, 3) => l(true, I32, true),
        (31 | 32 | 33 | 42 | 43, 4) => l(true, I16, true),
        (32 | 33 | 42 | 43, 7) => l(true, F32, true),
        (32 | 33 | 42 | 43, 8) => l(true, F64, true),
        (34, 1) => l(false, U16, false),
        (34, 2) => l(false, U32, false),
        (34, 3) => l(false, F32, false),
        (41, 1) => cmd(I32),
        (41, 2) => cmd(I16),
        (41, 3) => cmd(F32),
        (41, 4) => cmd(F64),
        _ => None,
    }
}

/// The layout of objects of `group`/`variation` (variation 0 means "any" and only occurs in
/// requests, without data).
pub fn object_size(group: u8, var: u8) -> ObjSize {
    if let Some(l) = layout(group, var) {
        return ObjSize::Fixed(l.len());
    }
    match (group, var) {
        (_, 0) if group != 110 && group != 111 && group != 112 && group != 113 => ObjSize::Empty,
        (0, _) => ObjSize::Attribute,
        (1 | 10 | 80, 1) | (12, 3) => ObjSize::Bits(1),
        (3, 1) => ObjSize::Bits(2),
        (1 | 3 | 10, 2) | (2 | 4 | 11 | 13, 1) => ObjSize::Fixed(1),
        (2 | 4 | 11 | 13, 2) => ObjSize::Fixed(7),
        (2 | 4, 3) => ObjSize::Fixed(3),
        (12, 1 | 2) => ObjSize::Fixed(11),
        (50, 1 | 3) | (51, 1 | 2) => ObjSize::Fixed(6),
        (50, 2) => ObjSize::Fixed(10),
        (50, 4) => ObjSize::Fixed(11),
        (52, 1 | 2) => ObjSize::Fixed(2),
        (60, 1..=4) => ObjSize::Empty,
        (81, 1) => ObjSize::Fixed(3),
        (101, 1) => ObjSize::Fixed(2),
        (101, 2) => ObjSize::Fixed(4),
        (101, 3) => ObjSize::Fixed(8),
        (102, 1) => ObjSize::Fixed(1),
        (110..=113, v) => ObjSize::Fixed(usize::from(v)),
        (121, 1) | (122, 1) => ObjSize::Fixed(7),
        (122, 2) => ObjSize::Fixed(13),
        (70 | 82 | 83 | 85 | 86 | 87 | 88 | 90 | 91 | 120, _) => ObjSize::Prefixed,
        _ => ObjSize::Unknown,
    }
}

/// A point's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value<'a> {
    /// A binary state.
    Bit(bool),
    /// A double-bit state: 0 intermediate, 1 off, 2 on, 3 indeterminate.
    DoubleBit(u8),
    /// An integer value.
    Int(i64),
    /// A floating-point value.
    Float(f64),
    /// A control relay output block (g12v1/v2).
    Crob {
        /// Control code (operation type, queue, clear, trip-close).
        code: u8,
        /// Number of times to repeat.
        count: u8,
        /// On time, ms.
        on_ms: u32,
        /// Off time, ms.
        off_ms: u32,
        /// Status (0 success in responses).
        status: u8,
    },
    /// A DNP3 time: milliseconds since 1970-01-01 UTC.
    TimeMs(u64),
    /// Anything else, raw.
    #[serde(serialize_with = "hex")]
    Bytes(&'a [u8]),
}

fn hex<S: serde::Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    use std::fmt::Write;
    let mut out = String::with_capacity(b.len() * 2);
    for x in b.iter() {
        let _ = write!(out, "{x:02x}");
    }
    s.serialize_str(&out)
}

/// One decoded point (object instance).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point<'a> {
    /// Point index.
    pub index: u32,
    /// The value.
    pub value: Value<'a>,
    /// Flags octet (online, restart, comm lost, ...), when the variation has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u8>,
    /// Time stamp (ms since epoch), for variations with time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    /// Status octet of a command (g41) or of the CROB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u8>,
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u48(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 6)?;
    let mut a = [0u8; 8];
    a.get_mut(..6)?.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn number(n: Num, b: &[u8], at: usize) -> Option<Value<'static>> {
    Some(match n {
        Num::I16 => Value::Int(i64::from(le_u16(b, at)? as i16)),
        Num::I32 => Value::Int(i64::from(le_u32(b, at)? as i32)),
        Num::U16 => Value::Int(i64::from(le_u16(b, at)?)),
        Num::U32 => Value::Int(i64::from(le_u32(b, at)?)),
        Num::F32 => Value::Float(f64::from(f32::from_bits(le_u32(b, at)?))),
        Num::F64 => Value::Float(f64::from_bits(le_u64(b, at)?)),
    })
}

/// Decodes one fixed-size object's bytes into a point (index supplied by the caller).
pub fn decode_point(group: u8, var: u8, index: u32, b: &[u8]) -> Point<'_> {
    let mut p = Point {
        index,
        value: Value::Bytes(b),
        flags: None,
        time_ms: None,
        status: None,
    };
    if let Some(l) = layout(group, var) {
        let mut at = 0;
        if l.flags {
            p.flags = b.first().copied();
            at = 1;
        }
        if let Some(v) = number(l.num, b, at) {
            p.value = v;
        }
        at += l.num.len();
        if l.time {
            p.time_ms = le_u48(b, at);
        }
        if l.status {
            p.status = b.get(at).copied();
        }
        return p;
    }
    match (group, var) {
        // Flags octet whose bit 7 is the state.
        (1 | 10, 2) | (2 | 11 | 13, 1..=3) => {
            p.flags = b.first().copied();
            p.value = Value::Bit(b.first().is_some_and(|f| f & 0x80 != 0));
            if var == 2 && group != 1 && group != 10 {
                p.time_ms = le_u48(b, 1);
            }
        }
        (3, 2) | (4, 1..=3) => {
            p.flags = b.first().copied();
            p.value = Value::DoubleBit(b.first().map_or(0, |f| f >> 6));
            if group == 4 && var == 2 {
                p.time_ms = le_u48(b, 1);
            }
        }
        (12, 1 | 2) => {
            if let (Some(&code), Some(&count), Some(on_ms), Some(off_ms), Some(&status)) =
                (b.first(), b.get(1), le_u32(b, 2), le_u32(b, 6), b.get(10))
            {
                p.value = Value::Crob {
                    code,
                    count,
                    on_ms,
                    off_ms,
                    status,
                };
                p.status = Some(status);
            }
        }
        (50, 1..=4) | (51, 1 | 2) => {
            if let Some(t) = le_u48(b, 0) {
                p.value = Value::TimeMs(t);
            }
        }
        (52, 1 | 2) | (101, 1) => {
            if let Some(v) = le_u16(b, 0) {
                p.value = Value::Int(i64::from(v));
            }
        }
        (102, 1) => {
            if let Some(&v) = b.first() {
                p.value = Value::Int(i64::from(v));
            }
        }
        _ => {}
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_object_library() {
        assert_eq!(object_size(30, 1), ObjSize::Fixed(5));
        assert_eq!(object_size(32, 8), ObjSize::Fixed(15));
        assert_eq!(object_size(41, 2), ObjSize::Fixed(3));
        assert_eq!(object_size(21, 5), ObjSize::Fixed(11));
        assert_eq!(object_size(12, 1), ObjSize::Fixed(11));
        assert_eq!(object_size(1, 1), ObjSize::Bits(1));
        assert_eq!(object_size(3, 1), ObjSize::Bits(2));
        assert_eq!(object_size(60, 2), ObjSize::Empty);
        assert_eq!(object_size(30, 0), ObjSize::Empty);
        assert_eq!(object_size(110, 5), ObjSize::Fixed(5));
        assert_eq!(object_size(120, 1), ObjSize::Prefixed);
        assert_eq!(object_size(99, 1), ObjSize::Unknown);
    }

    #[test]
    fn points_decode() {
        let p = decode_point(30, 1, 7, &[0x01, 0xfe, 0xff, 0xff, 0xff]);
        assert_eq!((p.index, p.flags, p.value), (7, Some(1), Value::Int(-2)));
        let p = decode_point(32, 7, 1, &[0x01, 0, 0, 0x80, 0x3f, 1, 0, 0, 0, 0, 0]);
        assert_eq!(p.value, Value::Float(1.0));
        assert_eq!(p.time_ms, Some(1));
        let p = decode_point(12, 1, 0, &[0x41, 1, 100, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            p.value,
            Value::Crob {
                code: 0x41,
                count: 1,
                on_ms: 100,
                ..
            }
        ));
        let p = decode_point(2, 2, 3, &[0x81, 1, 0, 0, 0, 0, 0]);
        assert_eq!((p.value, p.time_ms), (Value::Bit(true), Some(1)));
        let p = decode_point(41, 2, 0, &[0x10, 0x00, 0x00]);
        assert_eq!((p.value, p.status), (Value::Int(16), Some(0)));
    }
}
