//! Ethernet MAC addresses.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 48-bit IEEE MAC address, written `00:1b:1b:0a:0b:0c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// True for group (multicast and broadcast) addresses.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }

    /// The 24-bit organisationally unique identifier.
    pub fn oui(self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// The text is not six colon- or dash-separated hex octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex octets like 00:1b:1b:0a:0b:0c")]
pub struct ParseMacError(String);

impl std::str::FromStr for MacAddr {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for slot in &mut out {
            let p = parts.next().ok_or_else(|| ParseMacError(s.to_string()))?;
            if p.len() != 2 {
                return Err(ParseMacError(s.to_string()));
            }
            *slot = u8::from_str_radix(p, 16).map_err(|_| ParseMacError(s.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(ParseMacError(s.to_string()));
        }
        Ok(MacAddr(out))
    }
}

impl MacAddr {
    /// `aa:bb:cc:dd:ee:ff`, into a fixed buffer (what `Display` writes, without `write!`).
    pub(crate) fn text(&self) -> [u8; 17] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = *b"00:00:00:00:00:00";
        for (i, o) in self.0.iter().enumerate() {
            let digits = [HEX.get(usize::from(o >> 4)), HEX.get(usize::from(o & 15))];
            for (k, d) in digits.into_iter().enumerate() {
                if let (Some(slot), Some(d)) = (b.get_mut(i * 3 + k), d) {
                    *slot = *d;
                }
            }
        }
        b
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return s.serialize_bytes(&self.0);
        }
        match std::str::from_utf8(&self.text()) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let m: MacAddr = "00:1B:1b:0a:0b:0c".parse().unwrap();
        assert_eq!(m.to_string(), "00:1b:1b:0a:0b:0c");
        assert_eq!(m.oui(), [0x00, 0x1b, 0x1b]);
        assert!(!m.is_multicast());
        assert!("ff-ff-ff-ff-ff-ff"
            .parse::<MacAddr>()
            .unwrap()
            .is_multicast());
        for bad in [
            "",
            "00:1b:1b:0a:0b",
            "00:1b:1b:0a:0b:0c:0d",
            "0:1b:1b:0a:0b:0c",
            "zz:1b:1b:0a:0b:0c",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }
}
