//! The operating system version an NTLMSSP message carries (MS-NLMP §2.2.2.10): SMB
//! clients and servers authenticating with NTLM say which Windows (or Samba posing as one)
//! they run, in the NEGOTIATE, CHALLENGE and AUTHENTICATE messages of a session setup.

use super::{Kind, Sighting, Who};

const SIGNATURE: &[u8] = b"NTLMSSP\0";
/// How far into a payload the signature is looked for (it sits in the session setup's
/// security blob, behind the SMB and SPNEGO headers).
const SEARCH: usize = 512;
/// NTLMSSP_NEGOTIATE_VERSION.
const NEGOTIATE_VERSION: u32 = 0x0200_0000;

fn le32(d: &[u8], at: usize) -> Option<u32> {
    match d.get(at..at + 4)? {
        [a, b, c, e] => Some(u32::from_le_bytes([*a, *b, *c, *e])),
        _ => None,
    }
}

/// The sender's OS version from an NTLMSSP message in the first bytes of `d`.
pub fn ntlmssp(d: &[u8], out: &mut Vec<Sighting>) {
    let head = d
        .get(..d.len().min(SEARCH + SIGNATURE.len()))
        .unwrap_or_default();
    let Some(at) = head.windows(SIGNATURE.len()).position(|w| w == SIGNATURE) else {
        return;
    };
    let m = d.get(at..).unwrap_or_default();
    // (flags offset, version offset) by message type.
    let (flags_at, version_at) = match le32(m, 8) {
        Some(1) => (12, 32),
        Some(2) => (20, 48),
        Some(3) => (60, 64),
        _ => return,
    };
    let Some(flags) = le32(m, flags_at) else {
        return;
    };
    if flags & NEGOTIATE_VERSION == 0 {
        return;
    }
    let Some([major, minor, b0, b1, ..]) = m.get(version_at..version_at + 8) else {
        return;
    };
    if *major == 0 {
        return;
    }
    let build = u16::from_le_bytes([*b0, *b1]);
    let v = format!("Windows {major}.{minor} build {build}");
    out.extend(Sighting::new(Who::Sender, Kind::Os, &v, "ntlmssp.version"));
}

/// SMB1 SESSION_SETUP_ANDX (command 0x73).
const SESSION_SETUP_ANDX: u8 = 0x73;
/// SMB_FLAGS_REPLY.
const FLAGS_REPLY: u8 = 0x80;
/// SMB_FLAGS2_UNICODE.
const FLAGS2_UNICODE: u16 = 0x8000;
/// Longest string read (bytes).
const MAX_STRING: usize = 256;

/// A string of an SMB1 message's bytes at `at` (from the SMB header's start, for the
/// alignment of Unicode strings), null-terminated; returns it and where the next one starts.
fn smb_string(smb: &[u8], mut at: usize, unicode: bool) -> Option<(String, usize)> {
    if unicode {
        at += at % 2;
        let rest = smb.get(at..)?;
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .take(MAX_STRING / 2)
            .filter_map(|c| c.try_into().ok().map(u16::from_le_bytes))
            .take_while(|&u| u != 0)
            .collect();
        let next = at + 2 * units.len() + 2;
        Some((String::from_utf16_lossy(&units), next))
    } else {
        let rest = smb.get(at..)?;
        let s: Vec<u8> = rest
            .iter()
            .take(MAX_STRING)
            .take_while(|&&b| b != 0)
            .copied()
            .collect();
        let next = at + s.len() + 1;
        Some((String::from_utf8_lossy(&s).into_owned(), next))
    }
}

/// The NativeOS string of an SMB1 session setup (request or response, MS-CIFS §2.2.4.53
/// and MS-SMB §2.2.4.6), behind the NetBIOS session header of `d`: what the sender says it
/// runs ("Windows 5.1", "Unix", "Windows Server 2003 3790 Service Pack 2").
pub fn smb_native_os(d: &[u8], out: &mut Vec<Sighting>) {
    let Some(smb) = d.get(4..) else { return };
    if !smb.starts_with(b"\xffSMB") || smb.get(4) != Some(&SESSION_SETUP_ANDX) {
        return;
    }
    let (Some(&flags), Some(&[f0, f1])) = (smb.get(9), smb.get(10..12)) else {
        return;
    };
    let unicode = u16::from_le_bytes([f0, f1]) & FLAGS2_UNICODE != 0;
    let Some(&wc) = smb.get(32) else { return };
    let words = smb.get(33..33 + 2 * usize::from(wc)).unwrap_or_default();
    let word = |i: usize| match words.get(2 * i..2 * i + 2) {
        Some(&[a, b]) => Some(usize::from(u16::from_le_bytes([a, b]))),
        _ => None,
    };
    // Bytes start after the words and the byte count.
    let bytes_at = 33 + 2 * usize::from(wc) + 2;
    let reply = flags & FLAGS_REPLY != 0;
    let os_at = match (reply, wc) {
        // Response without and with extended security (the blob's length in word 3).
        (true, 3) => Some(bytes_at),
        (true, 4) => word(3).map(|n| bytes_at + n),
        // Request with extended security (the blob's length in word 7).
        (false, 12) => word(7).map(|n| bytes_at + n),
        // Request without: two passwords (words 7 and 8), account name and domain.
        (false, 13) => (|| {
            let at = bytes_at + word(7)? + word(8)?;
            let (_, at) = smb_string(smb, at, unicode)?;
            let (_, at) = smb_string(smb, at, unicode)?;
            Some(at)
        })(),
        _ => None,
    };
    let Some((os, _)) = os_at.and_then(|at| smb_string(smb, at, unicode)) else {
        return;
    };
    out.extend(Sighting::new(Who::Sender, Kind::Os, &os, "smb.native_os"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_negotiate_and_challenge() {
        let mut neg = vec![0u8; 20];
        neg.extend(SIGNATURE);
        neg.extend(1u32.to_le_bytes());
        neg.extend(0xe208_8297u32.to_le_bytes());
        neg.extend([0; 16]);
        neg.extend([10, 0, 0x5a, 0x29, 0, 0, 0, 15]);
        let mut out = Vec::new();
        ntlmssp(&neg, &mut out);
        assert_eq!(out[0].value, "Windows 10.0 build 10586");
        // Without the version flag: nothing.
        let mut no = neg.clone();
        no[20 + 12 + 3] = 0;
        out.clear();
        ntlmssp(&no, &mut out);
        assert!(out.is_empty());
        let mut ch = SIGNATURE.to_vec();
        ch.extend(2u32.to_le_bytes());
        ch.extend([0; 8]);
        ch.extend(0x0289_8215u32.to_le_bytes());
        ch.extend([0; 24]);
        ch.extend([6, 3, 0x80, 0x25, 0, 0, 0, 15]);
        ntlmssp(&ch, &mut out);
        assert_eq!(out[0].value, "Windows 6.3 build 9600");
    }

    /// An SMB1 message behind a NetBIOS session header: header (command, flags, flags2),
    /// word count, words, byte count, bytes.
    fn smb1(flags: u8, unicode: bool, words: &[u16], bytes: &[u8]) -> Vec<u8> {
        let mut m = b"\xffSMB".to_vec();
        m.push(SESSION_SETUP_ANDX);
        m.extend([0; 4]);
        m.push(flags);
        m.extend((if unicode { FLAGS2_UNICODE } else { 0 }).to_le_bytes());
        m.resize(32, 0);
        m.push(words.len() as u8);
        for w in words {
            m.extend(w.to_le_bytes());
        }
        m.extend((bytes.len() as u16).to_le_bytes());
        m.extend(bytes);
        let mut d = vec![0, 0];
        d.extend((m.len() as u16).to_be_bytes());
        d.extend(m);
        d
    }

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn native_os_of_session_setups() {
        // Response without extended security, Unicode: bytes start at an odd offset
        // (33 + 6 + 2 = 41), so one pad byte.
        let mut b = vec![0];
        b.extend(utf16z("Windows 5.1"));
        b.extend(utf16z("Windows 2000 LAN Manager"));
        let mut out = Vec::new();
        smb_native_os(&smb1(FLAGS_REPLY, true, &[0xff, 0, 0], &b), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].kind, out[0].value.as_str()),
            (Kind::Os, "Windows 5.1")
        );
        // Request with extended security, ASCII: a 3-byte blob, then the strings.
        let mut b = vec![0x60, 1, 2];
        b.extend(b"Unix\0Samba\0");
        out.clear();
        let words = [0xff, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
        smb_native_os(&smb1(0, false, &words, &b), &mut out);
        assert_eq!(out[0].value, "Unix");
        // Request without: passwords, account, domain, then the OS.
        let mut b = vec![1, 2, 3];
        b.extend(b"guest\0WORKGROUP\0Windows NT 1381\0");
        out.clear();
        let words = [0xff, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0];
        smb_native_os(&smb1(0, false, &words, &b), &mut out);
        assert_eq!(out[0].value, "Windows NT 1381");
        // Another command: nothing.
        let mut other = smb1(FLAGS_REPLY, false, &[0, 0, 0], b"x\0");
        other[8] = 0x72;
        out.clear();
        smb_native_os(&other, &mut out);
        assert!(out.is_empty());
    }
}
