//! A minimal BER (ITU-T X.690) reader: one tag-length-value at a time, definite lengths only
//! (MMS and the ISO upper layers use them), tag numbers up to 2^21.

/// One element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Class: 0 universal, 1 application, 2 context-specific, 3 private.
    pub class: u8,
    /// Constructed (its value holds elements).
    pub constructed: bool,
    /// Tag number.
    pub number: u32,
    /// The first identifier octet (`0xa0`, `0x61`, ...), for tags below 31.
    pub first: u8,
    /// The value.
    pub value: &'a [u8],
}

/// The identifier and length at the start of `d`, without its value: the first identifier
/// octet, the tag number, the value's length and where the value starts. The value need not
/// be there (a frame cut by the snap length still shows its first fields).
pub fn header(d: &[u8]) -> Option<(u8, u32, usize, usize)> {
    let (&first, mut rest) = d.split_first()?;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        for i in 0..3 {
            let (&b, r) = rest.split_first()?;
            rest = r;
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
            if i == 2 {
                return None;
            }
        }
    }
    let (&l, r) = rest.split_first()?;
    rest = r;
    let len = match l {
        0..=0x7f => usize::from(l),
        0x81..=0x84 => {
            let n = usize::from(l & 0x7f);
            let bytes = rest.get(..n)?;
            rest = rest.get(n..)?;
            bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b))
        }
        _ => return None,
    };
    Some((first, number, len, d.len() - rest.len()))
}

/// Reads the element at the start of `d`: it and what follows it; `None` when `d` does not
/// hold a whole element.
pub fn read(d: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (first, number, len, at) = header(d)?;
    let rest = d.get(at..)?;
    let value = rest.get(..len)?;
    let after = rest.get(len..)?;
    Some((
        Tlv {
            class: first >> 6,
            constructed: first & 0x20 != 0,
            number,
            first,
            value,
        },
        after,
    ))
}

/// The elements of a constructed value, in order (stops at the first malformed one).
pub fn children(mut d: &[u8]) -> impl Iterator<Item = Tlv<'_>> {
    std::iter::from_fn(move || {
        let (t, rest) = read(d)?;
        d = rest;
        Some(t)
    })
}

/// The first child of `d` whose first identifier octet is `first`.
pub fn child(d: &[u8], first: u8) -> Option<Tlv<'_>> {
    children(d).find(|t| t.first == first)
}

/// An unsigned integer value (at most 8 octets).
pub fn uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_high_tags() {
        let (t, rest) = read(&[0xa0, 0x03, 0x02, 0x01, 0x07, 0xff]).unwrap();
        assert_eq!((t.class, t.constructed, t.number), (2, true, 0));
        assert_eq!(rest, [0xff]);
        assert_eq!(child(t.value, 0x02).map(|c| uint(c.value)), Some(Some(7)));
        // [63] constructed, long length.
        let mut d = vec![0xbf, 0x3f, 0x81, 0x02, 0x05, 0x00];
        let (t, _) = read(&d).unwrap();
        assert_eq!((t.number, t.value.len()), (63, 2));
        d.truncate(4);
        assert_eq!(read(&d), None);
        // Indefinite length: not read.
        assert_eq!(read(&[0x30, 0x80, 0, 0]), None);
    }
}
