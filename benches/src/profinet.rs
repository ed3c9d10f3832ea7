//! PROFINET DCP on a line, for the DCP detections: an engineering station that identifies
//! every station and names one (the commissioning the baseline learns), and a rogue host
//! that does the same and worse — discovery, a new address for the PLC, a factory reset of
//! an I/O device. Frames as IEC 61158-6-10 lays them out (checked against Wireshark by
//! tests/e2e/profinet.rs).

use crate::Frame;

/// The engineering station.
pub const ENGINEERING: [u8; 6] = [0x00, 0x1b, 0x1b, 0x00, 0x00, 0x0e];
/// The rogue host.
pub const ROGUE: [u8; 6] = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x03];
/// The PLC (IO controller).
pub const PLC: [u8; 6] = [0x00, 0x1b, 0x1b, 0x00, 0x00, 0x01];
/// An I/O device.
pub const IO: [u8; 6] = [0x00, 0x1b, 0x1b, 0x00, 0x00, 0x02];
const IDENTIFY_GROUP: [u8; 6] = [0x01, 0x0e, 0xcf, 0x00, 0x00, 0x00];

/// A DCP block: option, suboption, length, the qualifier or block info (`lead`) and the
/// value, padded to an even length.
fn block(option: u8, suboption: u8, lead: Option<u16>, value: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(l) = lead {
        body.extend(l.to_be_bytes());
    }
    body.extend(value);
    let mut out = vec![option, suboption];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(&body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// A DCP frame: Ethernet header, frame id, service, type, Xid, response delay (or
/// reserved), data length and the blocks; padded to Ethernet's minimum.
#[allow(clippy::too_many_arguments)]
fn dcp(
    src: [u8; 6],
    dst: [u8; 6],
    frame_id: u16,
    service: u8,
    kind: u8,
    xid: u32,
    delay: u16,
    blocks: &[Vec<u8>],
) -> Vec<u8> {
    let data: Vec<u8> = blocks.concat();
    let mut f = dst.to_vec();
    f.extend(src);
    f.extend([0x88, 0x92]);
    f.extend(frame_id.to_be_bytes());
    f.extend([service, kind]);
    f.extend(xid.to_be_bytes());
    f.extend(delay.to_be_bytes());
    f.extend((data.len() as u16).to_be_bytes());
    f.extend(data);
    f.resize(f.len().max(60), 0);
    f
}

/// A station's Identify answer: name, type, vendor and device id, role, IP suite.
fn answer(
    dev: [u8; 6],
    to: [u8; 6],
    xid: u32,
    name: &str,
    kind: &str,
    role: u8,
    ip: [u8; 4],
) -> Vec<u8> {
    let mut suite = ip.to_vec();
    suite.extend([255, 255, 255, 0, ip[0], ip[1], ip[2], 1]);
    dcp(
        dev,
        to,
        0xfeff,
        5,
        1,
        xid,
        0,
        &[
            block(2, 1, Some(0), kind.as_bytes()),
            block(2, 2, Some(0), name.as_bytes()),
            block(2, 3, Some(0), &[0x00, 0x2a, 0x01, 0x0c]),
            block(2, 4, Some(0), &[role, 0]),
            block(1, 2, Some(1), &suite),
        ],
    )
}

/// Identify All from `from`, and the two stations' answers.
fn discovery(from: [u8; 6], xid: u32, ts_us: u64) -> Vec<Frame> {
    vec![
        Frame {
            ts_us,
            data: dcp(
                from,
                IDENTIFY_GROUP,
                0xfefe,
                5,
                0,
                xid,
                1,
                &[block(0xff, 0xff, None, &[])],
            ),
        },
        Frame {
            ts_us: ts_us + 2_000,
            data: answer(
                PLC,
                from,
                xid,
                "plc-1",
                "CPU 1516-3 PN/DP",
                2,
                [10, 10, 0, 1],
            ),
        },
        Frame {
            ts_us: ts_us + 3_000,
            data: answer(IO, from, xid, "io-1", "ET 200SP", 1, [10, 10, 0, 2]),
        },
    ]
}

/// A Set request from `from` to `to` with `blocks`, and its answer (every block ok).
fn set(
    from: [u8; 6],
    to: [u8; 6],
    xid: u32,
    ts_us: u64,
    blocks: &[(u8, u8, u16, Vec<u8>)],
) -> Vec<Frame> {
    let req: Vec<Vec<u8>> = blocks
        .iter()
        .map(|(o, s, q, v)| block(*o, *s, Some(*q), v))
        .collect();
    let res: Vec<Vec<u8>> = blocks
        .iter()
        .map(|(o, s, _, _)| block(5, 4, None, &[*o, *s, 0]))
        .collect();
    vec![
        Frame {
            ts_us,
            data: dcp(from, to, 0xfefd, 4, 0, xid, 0, &req),
        },
        Frame {
            ts_us: ts_us + 5_000,
            data: dcp(to, from, 0xfefd, 4, 1, xid, 0, &res),
        },
    ]
}

const START_US: u64 = 1_700_000_000_000_000;

/// Commissioning by the engineering station: it identifies every station, names the I/O
/// device (permanently, in a transaction) and identifies again.
pub fn engineering() -> Vec<Frame> {
    let mut v = discovery(ENGINEERING, 0x0100_0001, START_US);
    v.extend(set(
        ENGINEERING,
        IO,
        0x0100_0002,
        START_US + 1_000_000,
        &[(2, 2, 1, b"io-1".to_vec()), (5, 2, 0, Vec::new())],
    ));
    v.extend(discovery(ENGINEERING, 0x0100_0003, START_US + 2_000_000));
    v
}

/// The next day: the engineering station identifies every station again (learned); a
/// rogue host identifies every station, gives the PLC a new address and resets the I/O
/// device to its factory settings.
pub fn rogue() -> Vec<Frame> {
    let day = START_US + 86_400_000_000;
    let mut v = discovery(ENGINEERING, 0x0100_0004, day);
    v.extend(discovery(ROGUE, 0x0200_0001, day + 1_000_000));
    v.extend(set(
        ROGUE,
        PLC,
        0x0200_0002,
        day + 2_000_000,
        &[(1, 2, 1, vec![10, 10, 0, 99, 255, 255, 255, 0, 10, 10, 0, 1])],
    ));
    v.extend(set(
        ROGUE,
        IO,
        0x0200_0003,
        day + 3_000_000,
        &[(5, 6, 2, Vec::new())],
    ));
    v
}
