//! Packet timestamps: nanoseconds since the Unix epoch, rendered as RFC 3339 UTC.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time taken from a packet (capture time), in nanoseconds since 1970-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// From seconds and microseconds, as libpcap reports them.
    pub fn from_micros(secs: i64, micros: i64) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(micros.saturating_mul(1_000)),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, with a fraction.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The time now, from the system clock (live capture only).
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Nanoseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Length of [`Timestamp::rfc3339`]'s text.
pub(crate) const RFC3339_LEN: usize = 27;

impl Timestamp {
    /// The RFC 3339 text (as [`fmt::Display`] writes it) into a fixed buffer, digit by digit:
    /// an event line carries two or three of them, and `write!` costs several times more.
    /// `None` for years outside 0..=9999 (written by `Display`'s general path).
    pub(crate) fn rfc3339(&self) -> Option<[u8; RFC3339_LEN]> {
        let secs = self.0.div_euclid(1_000_000_000);
        let micros = self.0.rem_euclid(1_000_000_000) / 1000;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        if !(0..=9999).contains(&y) {
            return None;
        }
        let sod = secs.rem_euclid(86_400);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (at..at + width).rev() {
                if let Some(c) = b.get_mut(i) {
                    *c = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, i64::from(m));
        put(8, 2, i64::from(d));
        put(11, 2, sod / 3600);
        put(14, 2, (sod / 60) % 60);
        put(17, 2, sod % 60);
        put(20, 6, micros);
        Some(b)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microsecond precision, e.g. `2012-11-12T11:03:00.264365Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self
            .rfc3339()
            .as_ref()
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            return f.write_str(text);
        }
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            nanos / 1000
        )
    }
}

/// The text is not an RFC 3339 UTC timestamp of the form this crate writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected RFC 3339 UTC like 2024-01-31T12:00:00.000000Z")]
pub struct ParseTimestampError(String);

impl std::str::FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimestampError(s.to_string());
        let b = s.as_bytes();
        if b.len() < 20 || !s.ends_with('Z') || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T')
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, ParseTimestampError> {
            s.get(r).and_then(|t| t.parse::<i64>().ok()).ok_or_else(err)
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err(err());
        }
        let mut nanos = 0i64;
        let rest = s.get(19..s.len() - 1).ok_or_else(err)?;
        if let Some(frac) = rest.strip_prefix('.') {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            let v: i64 = frac.parse().map_err(|_| err())?;
            nanos = v * 10i64.pow(9 - frac.len() as u32);
        } else if !rest.is_empty() {
            return Err(err());
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        Ok(Timestamp(
            ((days * 86_400 + h * 3600 + mi * 60 + se) * 1_000_000_000) + nanos,
        ))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self
            .rfc3339()
            .as_ref()
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The digit-by-digit text equals what `write!` makes.
        #[test]
        fn fast_text_equals_the_general_one(ns in any::<i64>()) {
            let t = Timestamp::from_nanos(ns);
            let secs = ns.div_euclid(1_000_000_000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let sod = secs.rem_euclid(86_400);
            let slow = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60,
                ns.rem_euclid(1_000_000_000) / 1000
            );
            prop_assert_eq!(t.to_string(), slow);
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            Timestamp::from_nanos(0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        // First packet of iti-ics__ModbusTCP.pcap per capinfos: 2012-11-12 11:03:00.264365 UTC.
        assert_eq!(
            Timestamp::from_micros(1_352_718_180, 264_365).to_string(),
            "2012-11-12T11:03:00.264365Z"
        );
        assert_eq!(
            Timestamp::from_micros(951_825_600, 0).to_string(),
            "2000-02-29T12:00:00.000000Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2012-11-12",
            "2012-13-12T11:03:00Z",
            "2012-11-12T11:03:00.x Z",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s}");
        }
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(micros in -2_000_000_000_000_000i64..4_000_000_000_000_000i64) {
            let ts = Timestamp::from_nanos(micros * 1000);
            let back: Timestamp = ts.to_string().parse().unwrap();
            prop_assert_eq!(back, ts);
        }
    }
}
