//! IEC 60870-5-104 parsers: the APCI (start 0x68, length, four control octets: I, S and U
//! formats) and the ASDU (type id, variable structure qualifier, cause of transmission with
//! P/N and test bits and originator address, common address, information objects with their
//! 3-octet addresses, values, quality descriptors and CP56Time2a time tags).

use super::codes;

/// The start octet.
pub const START: u8 = 0x68;
/// Length of the APCI.
pub const APCI_LEN: usize = 6;
/// Largest APDU length field (253: the APDU is at most 255 octets).
pub const MAX_LENGTH: u8 = 253;
/// Most information objects decoded into values per ASDU (all are counted).
pub const MAX_VALUES: usize = 64;

/// Out-of-spec conditions found in an APDU (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u32);

impl Flags {
    /// The ASDU is shorter than its type and count require.
    pub const TRUNCATED: Flags = Flags(1 << 0);
    /// Octets follow the last information object.
    pub const TRAILING_BYTES: Flags = Flags(1 << 1);
    /// A type id IEC 60870-5-104 does not define.
    pub const UNKNOWN_TYPE: Flags = Flags(1 << 2);
    /// A cause of transmission the standard does not define.
    pub const UNKNOWN_CAUSE: Flags = Flags(1 << 3);
    /// An I-frame's send sequence number skips numbers (frames lost or injected).
    pub const SEQUENCE_GAP: Flags = Flags(1 << 4);
    /// An I-frame's send sequence number repeats one already seen.
    pub const SEQUENCE_DUPLICATE: Flags = Flags(1 << 5);
    /// An S- or U-frame with octets the standard fixes not as fixed.
    pub const BAD_CONTROL: Flags = Flags(1 << 6);
    /// A U-frame function the standard does not define (or more than one at once).
    pub const UNKNOWN_U_FUNCTION: Flags = Flags(1 << 7);
    /// A number of information objects of zero.
    pub const NO_OBJECTS: Flags = Flags(1 << 8);
    /// The negative confirmation bit is set (the command was refused).
    pub const NEGATIVE: Flags = Flags(1 << 9);
    /// A command executed without a select, on a point this connection selects before it
    /// operates (select-before-operate skipped).
    pub const OPERATE_WITHOUT_SELECT: Flags = Flags(1 << 10);
    /// A command executed with another type or value than its select.
    pub const OPERATE_DIFFERS_FROM_SELECT: Flags = Flags(1 << 11);

    pub(crate) const NAMES: [(Flags, &'static str); 12] = [
        (Flags::TRUNCATED, "truncated"),
        (Flags::TRAILING_BYTES, "trailing_bytes"),
        (Flags::UNKNOWN_TYPE, "unknown_function"),
        (Flags::UNKNOWN_CAUSE, "unknown_cause"),
        (Flags::SEQUENCE_GAP, "sequence_gap"),
        (Flags::SEQUENCE_DUPLICATE, "sequence_duplicate"),
        (Flags::BAD_CONTROL, "bad_control"),
        (Flags::UNKNOWN_U_FUNCTION, "unknown_sub_function"),
        (Flags::NO_OBJECTS, "no_objects"),
        (Flags::NEGATIVE, "negative_confirmation"),
        (Flags::OPERATE_WITHOUT_SELECT, "operate_without_select"),
        (
            Flags::OPERATE_DIFFERS_FROM_SELECT,
            "operate_differs_from_select",
        ),
    ];
}

flag_set!(Flags);

/// The APCI's control field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Information transfer: send and receive sequence numbers.
    I {
        /// N(S).
        send: u16,
        /// N(R).
        recv: u16,
    },
    /// Supervisory: receive sequence number.
    S {
        /// N(R).
        recv: u16,
    },
    /// Unnumbered: STARTDT, STOPDT, TESTFR act/con (control octet 1).
    U {
        /// Control octet 1.
        function: u8,
    },
}

/// Why octets do not frame as an APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The first octet is not 0x68.
    BadStart(u8),
    /// The length is below 4.
    BadLength(u8),
}

impl FrameError {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::BadStart(_) => "bad_start",
            FrameError::BadLength(_) => "bad_length",
        }
    }
}

/// A framed APDU: its length on the wire, control field, flags of the APCI, and ASDU octets.
pub type Apdu<'a> = (usize, Control, Flags, &'a [u8]);

/// Frames one APDU: `Ok(None)` when more octets are needed.
pub fn frame(input: &[u8]) -> Result<Option<Apdu<'_>>, FrameError> {
    let Some((&start, rest)) = input.split_first() else {
        return Ok(None);
    };
    if start != START {
        return Err(FrameError::BadStart(start));
    }
    let Some((&len, rest)) = rest.split_first() else {
        return Ok(None);
    };
    if len < 4 {
        return Err(FrameError::BadLength(len));
    }
    let Some(body) = rest.get(..usize::from(len)) else {
        return Ok(None);
    };
    let (Some(&[c1, c2, c3, c4]), Some(asdu)) = (body.get(..4), body.get(4..)) else {
        return Ok(None);
    };
    let mut flags = Flags::default();
    let control = if c1 & 0x01 == 0 {
        Control::I {
            send: (u16::from(c1) >> 1) | (u16::from(c2) << 7),
            recv: (u16::from(c3) >> 1) | (u16::from(c4) << 7),
        }
    } else if c1 & 0x03 == 0x01 {
        if c1 != 0x01 || c2 != 0 || c3 & 0x01 != 0 || !asdu.is_empty() {
            flags.insert(Flags::BAD_CONTROL);
        }
        Control::S {
            recv: (u16::from(c3) >> 1) | (u16::from(c4) << 7),
        }
    } else {
        if codes::u_function_name(c1).is_none() {
            flags.insert(Flags::UNKNOWN_U_FUNCTION);
        }
        if c2 != 0 || c3 != 0 || c4 != 0 || !asdu.is_empty() {
            flags.insert(Flags::BAD_CONTROL);
        }
        Control::U { function: c1 }
    };
    Ok(Some((2 + usize::from(len), control, flags, asdu)))
}

/// True when an APCI plausibly starts at `b` (to resynchronise, and to probe).
pub fn plausible_header(b: &[u8]) -> bool {
    let Some(&[start, len, c1, c2, c3, _]) = b.get(..APCI_LEN) else {
        return false;
    };
    if start != START || !(4..=MAX_LENGTH).contains(&len) {
        return false;
    }
    if c1 & 0x01 == 0 {
        // An I-frame carries an ASDU: at least its type id.
        len > 4
    } else if c1 & 0x03 == 0x01 {
        len == 4 && c1 == 0x01 && c2 == 0 && c3 & 0x01 == 0
    } else {
        len == 4 && codes::u_function_name(c1).is_some()
    }
}

/// A CP56Time2a time tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cp56 {
    /// Milliseconds within the minute (0–59999).
    pub ms: u16,
    /// Minute.
    pub minute: u8,
    /// The time is invalid (IV bit).
    pub invalid: bool,
    /// Hour.
    pub hour: u8,
    /// Summer time (SU bit).
    pub summer: bool,
    /// Day of month.
    pub day: u8,
    /// Month.
    pub month: u8,
    /// Year, 0–99 (2000 + year).
    pub year: u8,
}

impl Cp56 {
    /// Parses 7 octets.
    pub fn parse(b: &[u8]) -> Option<Cp56> {
        let &[m0, m1, mi, h, d, mo, y] = b.get(..7)? else {
            return None;
        };
        Some(Cp56 {
            ms: u16::from_le_bytes([m0, m1]),
            minute: mi & 0x3F,
            invalid: mi & 0x80 != 0,
            hour: h & 0x1F,
            summer: h & 0x80 != 0,
            day: d & 0x1F,
            month: mo & 0x0F,
            year: y & 0x7F,
        })
    }

    /// As text: `2009-08-13T10:21:03.123` (local time of the station; `(invalid)` appended
    /// when the IV bit is set).
    pub fn text(&self) -> String {
        format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.ms / 1000,
            self.ms % 1000,
            if self.invalid { " (invalid)" } else { "" }
        )
    }
}

/// The decoded value of one information object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (single/double point state, step position, measured value, counter, set
    /// point, command state, qualifier).
    Number(f64),
    /// A bitstring.
    Bits(u32),
    /// No value (C_RD_NA_1).
    None,
}

/// One information object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Information object address.
    pub ioa: u32,
    /// Its value, when the type has one.
    pub value: Value,
    /// Quality descriptor bits set (IV, NT, SB, BL, OV), or a command's select bit (`select`).
    pub quality: Vec<&'static str>,
    /// Its time tag.
    pub time: Option<Cp56>,
}

/// An ASDU.
#[derive(Debug, Clone, PartialEq)]
pub struct Asdu {
    /// Type id.
    pub type_id: u8,
    /// Sequence of elements (SQ bit): one address, consecutive elements.
    pub sequence: bool,
    /// Number of objects (or elements).
    pub count: u8,
    /// Cause of transmission (1–63).
    pub cause: u8,
    /// Negative confirmation (P/N bit).
    pub negative: bool,
    /// Test (T bit).
    pub test: bool,
    /// Originator address.
    pub originator: u8,
    /// Common address of ASDU (station).
    pub common_address: u16,
    /// The objects decoded (up to [`MAX_VALUES`]).
    pub objects: Vec<Object>,
    /// Addresses addressed: (first IOA, count) runs.
    pub ranges: Vec<(u32, u32)>,
    /// Out-of-spec conditions.
    pub flags: Flags,
}

fn le24(b: &[u8]) -> Option<u32> {
    let &[a, b2, c] = b.get(..3)? else {
        return None;
    };
    Some(u32::from_le_bytes([a, b2, c, 0]))
}

const QUALITY: [(u8, &str); 5] = [
    (0x01, "ov"),
    (0x10, "bl"),
    (0x20, "sb"),
    (0x40, "nt"),
    (0x80, "iv"),
];

fn quality(q: u8, mask: u8) -> Vec<&'static str> {
    QUALITY
        .iter()
        .filter(|(b, _)| mask & b != 0 && q & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Decodes one element of type `t` (its value and quality; the time tag, if any, last).
fn element(t: u8, e: &[u8]) -> (Value, Vec<&'static str>, Option<Cp56>) {
    let b = |i: usize| e.get(i).copied().unwrap_or(0);
    let f32le = |i: usize| {
        e.get(i..i + 4)
            .and_then(|x| x.try_into().ok())
            .map_or(0.0, |x: [u8; 4]| f64::from(f32::from_le_bytes(x)))
    };
    let i16le = |i: usize| f64::from(i16::from_le_bytes([b(i), b(i + 1)]));
    let time = match t {
        30..=40 | 58..=64 | 103 | 107 | 126 => e
            .len()
            .checked_sub(7)
            .and_then(|s| Cp56::parse(e.get(s..)?)),
        _ => None,
    };
    let (value, q) = match t {
        1 | 2 | 30 => (Value::Number(f64::from(b(0) & 0x01)), quality(b(0), 0xF0)),
        3 | 4 | 31 => (Value::Number(f64::from(b(0) & 0x03)), quality(b(0), 0xF0)),
        5 | 6 | 32 => {
            let v = i8::from_le_bytes([(b(0) & 0x7F) | ((b(0) & 0x40) << 1)]);
            (Value::Number(f64::from(v)), quality(b(1), 0xF1))
        }
        7 | 8 | 33 | 51 | 64 => (
            Value::Bits(u32::from_le_bytes([b(0), b(1), b(2), b(3)])),
            if matches!(t, 51 | 64) {
                Vec::new()
            } else {
                quality(b(4), 0xF1)
            },
        ),
        9 | 10 | 34 => (Value::Number(i16le(0) / 32768.0), quality(b(2), 0xF1)),
        11 | 12 | 35 => (Value::Number(i16le(0)), quality(b(2), 0xF1)),
        13 | 14 | 36 => (Value::Number(f32le(0)), quality(b(4), 0xF1)),
        15 | 16 | 37 => (
            Value::Number(f64::from(i32::from_le_bytes([b(0), b(1), b(2), b(3)]))),
            quality(b(4), 0x80),
        ),
        21 => (Value::Number(i16le(0) / 32768.0), Vec::new()),
        45 | 58 => (Value::Number(f64::from(b(0) & 0x01)), select(b(0))),
        46 | 47 | 59 | 60 => (Value::Number(f64::from(b(0) & 0x03)), select(b(0))),
        48 | 61 => (Value::Number(i16le(0) / 32768.0), select(b(2))),
        49 | 62 => (Value::Number(i16le(0)), select(b(2))),
        50 | 63 => (Value::Number(f32le(0)), select(b(4))),
        110 => (Value::Number(i16le(0) / 32768.0), Vec::new()),
        111 => (Value::Number(i16le(0)), Vec::new()),
        112 => (Value::Number(f32le(0)), Vec::new()),
        70 | 100 | 101 | 105 | 113 => (Value::Number(f64::from(b(0))), Vec::new()),
        102 | 103 => (Value::None, Vec::new()),
        _ => (Value::None, Vec::new()),
    };
    (value, q, time)
}

/// A command's select/execute bit: `select` when set.
fn select(q: u8) -> Vec<&'static str> {
    if q & 0x80 != 0 {
        vec!["select"]
    } else {
        Vec::new()
    }
}

/// Parses an ASDU (104 sizes: 2-octet cause, 2-octet common address, 3-octet IOA).
pub fn asdu(b: &[u8]) -> Asdu {
    let mut a = Asdu {
        type_id: b.first().copied().unwrap_or(0),
        sequence: false,
        count: 0,
        cause: 0,
        negative: false,
        test: false,
        originator: 0,
        common_address: 0,
        objects: Vec::new(),
        ranges: Vec::new(),
        flags: Flags::default(),
    };
    if codes::type_name(a.type_id).is_none() {
        a.flags.insert(Flags::UNKNOWN_TYPE);
    }
    let Some(&[t, vsq, cot, orig, ca0, ca1]) = b.get(..6) else {
        a.flags.insert(Flags::TRUNCATED);
        return a;
    };
    a.type_id = t;
    a.sequence = vsq & 0x80 != 0;
    a.count = vsq & 0x7F;
    a.cause = cot & 0x3F;
    a.negative = cot & 0x40 != 0;
    a.test = cot & 0x80 != 0;
    a.originator = orig;
    a.common_address = u16::from_le_bytes([ca0, ca1]);
    if codes::cause_name(a.cause).is_none() {
        a.flags.insert(Flags::UNKNOWN_CAUSE);
    }
    if a.negative {
        a.flags.insert(Flags::NEGATIVE);
    }
    if a.count == 0 {
        a.flags.insert(Flags::NO_OBJECTS);
    }
    let body = b.get(6..).unwrap_or_default();
    let Some(size) = codes::element_size(t).filter(|_| codes::type_name(t).is_some()) else {
        // Variable-size elements (file segments): the address only.
        if let Some(ioa) = le24(body) {
            a.ranges.push((ioa, 1));
        }
        return a;
    };
    let n = usize::from(a.count);
    let need = if a.sequence {
        3 + n * size
    } else {
        n * (3 + size)
    };
    if body.len() < need {
        a.flags.insert(Flags::TRUNCATED);
    } else if body.len() > need {
        a.flags.insert(Flags::TRAILING_BYTES);
    }
    let mut pos = 0usize;
    let base = if a.sequence { le24(body) } else { None };
    if a.sequence {
        pos = 3;
        if let Some(ioa) = base {
            a.ranges.push((ioa, a.count.into()));
        }
    }
    for k in 0..n {
        let ioa = match base {
            Some(b0) => b0.wrapping_add(k as u32),
            None => {
                let Some(ioa) = body.get(pos..).and_then(le24) else {
                    break;
                };
                pos += 3;
                match a.ranges.last_mut() {
                    Some((start, count)) if start.wrapping_add(*count) == ioa => *count += 1,
                    _ => a.ranges.push((ioa, 1)),
                }
                ioa
            }
        };
        let Some(e) = body.get(pos..pos + size) else {
            break;
        };
        pos += size;
        if a.objects.len() < MAX_VALUES {
            let (value, quality, time) = element(t, e);
            a.objects.push(Object {
                ioa,
                value,
                quality,
                time,
            });
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_i_s_and_u() {
        // STARTDT act
        assert_eq!(
            frame(&[0x68, 4, 0x07, 0, 0, 0]),
            Ok(Some((
                6,
                Control::U { function: 0x07 },
                Flags::default(),
                &[][..]
            )))
        );
        // S-frame, N(R) = 5
        assert_eq!(
            frame(&[0x68, 4, 0x01, 0, 0x0A, 0]).map(|f| f.map(|x| x.1)),
            Ok(Some(Control::S { recv: 5 }))
        );
        // I-frame N(S)=1 N(R)=2 with C_IC_NA_1 activation, CA 1, IOA 0, QOI 20
        let i = [0x68, 14, 0x02, 0, 0x04, 0, 100, 1, 6, 0, 1, 0, 0, 0, 0, 20];
        let (len, c, _, body) = frame(&i).unwrap().unwrap();
        assert_eq!((len, c), (16, Control::I { send: 1, recv: 2 }));
        let a = asdu(body);
        assert_eq!(
            (a.type_id, a.count, a.cause, a.common_address),
            (100, 1, 6, 1)
        );
        assert_eq!(a.objects[0].value, Value::Number(20.0));
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert!(plausible_header(&i));
        assert_eq!(frame(&[0x69, 4]), Err(FrameError::BadStart(0x69)));
        assert_eq!(frame(&[0x68, 4, 0x07]), Ok(None));
    }

    #[test]
    fn sequences_floats_and_time_tags() {
        // M_ME_NC_1, SQ=1, 2 elements from IOA 1000, spontaneous, CA 7
        let mut b = vec![13, 0x82, 3, 0, 7, 0, 0xE8, 0x03, 0];
        b.extend(1.5f32.to_le_bytes());
        b.push(0);
        b.extend((-2.0f32).to_le_bytes());
        b.push(0x80);
        let a = asdu(&b);
        assert_eq!(a.ranges, vec![(1000, 2)]);
        assert_eq!(a.objects[1].value, Value::Number(-2.0));
        assert_eq!(a.objects[1].quality, vec!["iv"]);
        // M_SP_TB_1 with a CP56Time2a: 2009-08-13 10:21:03.123
        let c = [
            30, 1, 3, 0, 1, 0, 5, 0, 0, 0x01, 0x33, 0x0C, 21, 10, 13, 8, 9,
        ];
        let a = asdu(&c);
        assert_eq!(
            a.objects[0].time.map(|t| t.text()),
            Some("2009-08-13T10:21:03.123".into())
        );
        assert_eq!(a.objects[0].value, Value::Number(1.0));
        // unknown type 24: counted, flagged
        assert!(asdu(&[24, 1, 3, 0, 1, 0, 1, 0, 0, 0])
            .flags
            .contains(Flags::UNKNOWN_TYPE));
        // truncated
        assert!(asdu(&[13, 1, 3, 0, 1, 0, 1, 0])
            .flags
            .contains(Flags::TRUNCATED));
    }
}
