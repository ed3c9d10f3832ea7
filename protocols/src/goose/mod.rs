//! IEC 61850-8-1 GOOSE and IEC 61850-9-2 Sampled Values: Ethernet frames without IP
//! (EtherTypes 0x88B8 and 0x88BA, with or without an 802.1Q tag), read whole: the header
//! (APPID, length, reserved words with the simulation bit) and the PDU in BER.
//!
//! GOOSE: every field of the PDU (gocbRef, timeAllowedToLive, datSet, goID, t, stNum, sqNum,
//! simulation/test, confRev, ndsCom, numDatSetEntries) and the dataset values (MMS `Data`,
//! bounded). SV: every ASDU's svID, datSet, smpCnt, confRev, smpSynch, smpRate and the size of
//! its sample data (the samples themselves are not decoded: a merging unit sends 4,000 frames
//! a second, and the sensor summarises streams rather than reporting samples).
//!
//! The pipeline's workers read these frames as layer-2 flows (`sensor::pipeline::substation`);
//! publisher names reach the asset inventory through [`crate::identity::l2_frame`]. Not
//! supported: routable GOOSE/SV (over UDP), security extensions.

pub mod summary;

use crate::mms::ber::{self, children};
use crate::mms::data::{self, Value};

/// GOOSE's EtherType.
pub const GOOSE: u16 = 0x88b8;
/// Sampled Values' EtherType.
pub const SV: u16 = 0x88ba;
/// Most ASDUs read from one SV frame.
pub const MAX_ASDUS: usize = 16;
/// Longest string field kept.
const MAX_TEXT: usize = 129;

/// The common header of GOOSE and SV frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Source MAC (the publisher).
    pub src: [u8; 6],
    /// Destination MAC (a multicast group).
    pub dst: [u8; 6],
    /// 802.1Q VLAN id and priority, when tagged.
    pub vlan: Option<(u16, u8)>,
    /// EtherType ([`GOOSE`] or [`SV`]).
    pub ethertype: u16,
    /// Application id.
    pub appid: u16,
    /// Length field (header and PDU).
    pub length: u16,
    /// The simulation bit of Reserved 1 (IEC 61850-8-1 Ed. 2).
    pub simulated: bool,
}

/// A GOOSE PDU.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Goose {
    /// Control block reference.
    pub gocb_ref: String,
    /// Time allowed to live, ms.
    pub time_allowed_to_live: Option<u32>,
    /// Dataset reference.
    pub dat_set: String,
    /// GOOSE id.
    pub go_id: Option<String>,
    /// Time of the last state change (RFC 3339).
    pub t: Option<String>,
    /// State number.
    pub st_num: Option<u32>,
    /// Sequence number.
    pub sq_num: Option<u32>,
    /// Simulation (test in Edition 1).
    pub simulation: bool,
    /// Configuration revision.
    pub conf_rev: Option<u32>,
    /// Needs commissioning.
    pub nds_com: bool,
    /// Entries of the dataset, as the PDU states.
    pub num_dat_set_entries: Option<u32>,
    /// The dataset's values.
    pub all_data: Vec<Value>,
}

/// One ASDU of a Sampled Values frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SvAsdu {
    /// Stream id.
    pub sv_id: String,
    /// Dataset reference, if sent.
    pub dat_set: Option<String>,
    /// Sample counter.
    pub smp_cnt: Option<u32>,
    /// Configuration revision.
    pub conf_rev: Option<u32>,
    /// Synchronisation: 0 none, 1 local, 2 global.
    pub smp_synch: Option<u8>,
    /// Samples per period or second, if sent.
    pub smp_rate: Option<u32>,
    /// Octets of sample data.
    pub seq_data_len: usize,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v.get(..v.len().min(MAX_TEXT)).unwrap_or_default()).into_owned()
}

fn small(v: &[u8]) -> Option<u32> {
    ber::uint(v).and_then(|n| u32::try_from(n).ok())
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at + 2)? {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The header of a GOOSE or SV frame and its PDU's octets; `None` for other frames.
pub fn header(frame: &[u8]) -> Option<(Header, &[u8])> {
    let dst: [u8; 6] = frame.get(..6)?.try_into().ok()?;
    let src: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    let mut at = 12;
    let mut vlan = None;
    if be16(frame, at)? == 0x8100 {
        let tci = be16(frame, at + 2)?;
        vlan = Some((tci & 0x0fff, (tci >> 13) as u8));
        at += 4;
    }
    let ethertype = be16(frame, at)?;
    if ethertype != GOOSE && ethertype != SV {
        return None;
    }
    let at = at + 2;
    let h = Header {
        src,
        dst,
        vlan,
        ethertype,
        appid: be16(frame, at)?,
        length: be16(frame, at + 2)?,
        simulated: be16(frame, at + 4)? & 0x8000 != 0,
    };
    Some((h, frame.get(at + 8..)?))
}

/// The stream a GOOSE or SV frame belongs to, read cheaply (no field but one): a GOOSE
/// PDU's gocbRef, an SV frame's first svID. Every publisher of one stream, the real and a
/// forged one, names it alike, so the pipeline gives its frames to one worker by this id.
pub fn stream_id<'a>(h: &Header, pdu: &'a [u8]) -> Option<&'a [u8]> {
    let (t, _) = ber::read(pdu)?;
    let first_field = |v: &'a [u8]| children(v).find(|c| c.first == 0x80).map(|c| c.value);
    match (h.ethertype, t.first) {
        (GOOSE, 0x61) => first_field(t.value),
        (SV, 0x60) => {
            let seq = children(t.value).find(|c| c.first == 0xa2)?;
            let asdu = children(seq.value).find(|c| c.first == 0x30)?;
            first_field(asdu.value)
        }
        _ => None,
    }
}

/// A GOOSE PDU (`goosePdu`, [APPLICATION 1]).
pub fn goose(pdu: &[u8]) -> Option<Goose> {
    let (t, _) = ber::read(pdu)?;
    if t.first != 0x61 {
        return None;
    }
    let mut g = Goose::default();
    let mut have_ref = false;
    for f in children(t.value) {
        let v = f.value;
        match (f.class, f.number) {
            (2, 0) => {
                g.gocb_ref = text(v);
                have_ref = true;
            }
            (2, 1) => g.time_allowed_to_live = small(v),
            (2, 2) => g.dat_set = text(v),
            (2, 3) => g.go_id = Some(text(v)),
            (2, 4) => g.t = data::utc_time(v),
            (2, 5) => g.st_num = small(v),
            (2, 6) => g.sq_num = small(v),
            (2, 7) => g.simulation = v.first().is_some_and(|b| *b != 0),
            (2, 8) => g.conf_rev = small(v),
            (2, 9) => g.nds_com = v.first().is_some_and(|b| *b != 0),
            (2, 10) => g.num_dat_set_entries = small(v),
            (2, 11) => {
                let mut budget = data::MAX_VALUES;
                g.all_data = data::list(v, 0, &mut budget);
            }
            _ => {}
        }
    }
    have_ref.then_some(g)
}

/// The ASDUs of a Sampled Values PDU (`savPdu`, [APPLICATION 0]).
pub fn sv(pdu: &[u8]) -> Option<Vec<SvAsdu>> {
    let (t, _) = ber::read(pdu)?;
    if t.first != 0x60 {
        return None;
    }
    let seq = children(t.value).find(|c| c.first == 0xa2)?;
    let mut out = Vec::new();
    for a in children(seq.value)
        .filter(|c| c.first == 0x30)
        .take(MAX_ASDUS)
    {
        let mut s = SvAsdu::default();
        for f in children(a.value) {
            let v = f.value;
            match (f.class, f.number) {
                (2, 0) => s.sv_id = text(v),
                (2, 1) => s.dat_set = Some(text(v)),
                (2, 2) => s.smp_cnt = small(v),
                (2, 3) => s.conf_rev = small(v),
                (2, 5) => s.smp_synch = v.first().copied(),
                (2, 6) => s.smp_rate = small(v),
                (2, 7) => s.seq_data_len = v.len(),
                _ => {}
            }
        }
        out.push(s);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if v.len() < 0x80 {
            out.push(v.len() as u8);
        } else {
            out.extend([0x81, v.len() as u8]);
        }
        out.extend(v);
        out
    }

    /// A tagged GOOSE frame from `src` with `st_num` and `sq_num`.
    pub fn goose_frame(src: [u8; 6], st_num: u8, sq_num: u8) -> Vec<u8> {
        let mut pdu = Vec::new();
        pdu.extend(tlv(0x80, b"IED1LD0/LLN0$GO$gcb01"));
        pdu.extend(tlv(0x81, &[0x07, 0xd0]));
        pdu.extend(tlv(0x82, b"IED1LD0/LLN0$DS1"));
        pdu.extend(tlv(0x83, b"IED1_TRIP"));
        pdu.extend(tlv(0x84, &[0x5f, 0x5e, 0x10, 0, 0x40, 0, 0, 0x0a]));
        pdu.extend(tlv(0x85, &[st_num]));
        pdu.extend(tlv(0x86, &[sq_num]));
        pdu.extend(tlv(0x87, &[0]));
        pdu.extend(tlv(0x88, &[1]));
        pdu.extend(tlv(0x89, &[0]));
        pdu.extend(tlv(0x8a, &[2]));
        pdu.extend(tlv(0xab, &[0x83, 1, 1, 0x84, 2, 6, 0x40]));
        let pdu = tlv(0x61, &pdu);
        let mut f = vec![0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01];
        f.extend(src);
        f.extend([0x81, 0x00, 0x80, 0x05, 0x88, 0xb8, 0x00, 0x01]);
        f.extend(((pdu.len() + 8) as u16).to_be_bytes());
        f.extend([0, 0, 0, 0]);
        f.extend(pdu);
        f
    }

    #[test]
    fn a_goose_frame_read_whole() {
        let f = goose_frame([0, 0xa0, 0xf4, 1, 2, 3], 3, 0);
        let (h, pdu) = header(&f).unwrap();
        assert_eq!((h.appid, h.vlan, h.simulated), (1, Some((5, 4)), false));
        let g = goose(pdu).unwrap();
        assert_eq!(g.gocb_ref, "IED1LD0/LLN0$GO$gcb01");
        assert_eq!(stream_id(&h, pdu), Some(&b"IED1LD0/LLN0$GO$gcb01"[..]));
        assert_eq!(g.time_allowed_to_live, Some(2000));
        assert_eq!(g.go_id.as_deref(), Some("IED1_TRIP"));
        assert_eq!(
            (g.st_num, g.sq_num, g.conf_rev),
            (Some(3), Some(0), Some(1))
        );
        assert_eq!(g.num_dat_set_entries, Some(2));
        assert_eq!(g.all_data, [Value::Bool(true), Value::Text("01".into())]);
        // 1,600,000,000 s and a quarter.
        assert_eq!(g.t.as_deref(), Some("2020-09-13T12:26:40.250000Z"));
        // Cut short: the PDU does not read.
        assert!(goose(&pdu[..pdu.len() - 4]).is_none());
    }

    #[test]
    fn sampled_values_asdus() {
        let mut asdu = Vec::new();
        asdu.extend(tlv(0x80, b"MU01"));
        asdu.extend(tlv(0x82, &[0x0f, 0x9f]));
        asdu.extend(tlv(0x83, &[0, 0, 0, 1]));
        asdu.extend(tlv(0x85, &[2]));
        asdu.extend(tlv(0x87, &[0; 64]));
        let seq = tlv(0xa2, &tlv(0x30, &asdu));
        let mut body = tlv(0x80, &[1]);
        body.extend(seq);
        let pdu = tlv(0x60, &body);
        let mut f = vec![
            0x01, 0x0c, 0xcd, 0x04, 0x00, 0x01, 0, 1, 2, 3, 4, 5, 0x88, 0xba,
        ];
        f.extend([0x40, 0x00, 0, 0, 0, 0, 0, 0]);
        f.extend(pdu);
        let (h, pdu) = header(&f).unwrap();
        assert_eq!((h.ethertype, h.appid), (SV, 0x4000));
        let a = sv(pdu).unwrap();
        assert_eq!(stream_id(&h, pdu), Some(&b"MU01"[..]));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].sv_id, "MU01");
        assert_eq!(
            (a[0].smp_cnt, a[0].conf_rev, a[0].smp_synch),
            (Some(3999), Some(1), Some(2))
        );
        assert_eq!(a[0].seq_data_len, 64);
    }
}
