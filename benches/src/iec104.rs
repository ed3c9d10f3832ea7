//! Realistic IEC 60870-5-104 sessions for tests and benchmarks: a controlling station (SCADA
//! master) connects to outstations on port 2404, starts data transfer, interrogates them,
//! receives spontaneous events, operates a breaker with select-before-operate, sends a set
//! point and a time-tagged double command, synchronises the clock, interrogates counters,
//! resets a process and tests the link — with correct TCP and IEC sequence numbers. The
//! generator returns the ASDUs it wrote per type id: the ground truth a parser must match.

use std::collections::BTreeMap;

use crate::{frame, Frame};

/// Causes of transmission.
const SPONT: u8 = 3;
const ACT: u8 = 6;
const ACTCON: u8 = 7;
const ACTTERM: u8 = 10;
const INROGEN: u8 = 20;
const REQCOGEN: u8 = 37;

struct Session {
    master: [u8; 4],
    station: [u8; 4],
    port: u16,
    /// TCP sequence numbers, master and station.
    seq: [u32; 2],
    /// IEC N(S), master and station.
    ns: [u16; 2],
    ts_us: u64,
    frames: Vec<Frame>,
    asdus: BTreeMap<u8, u64>,
    ca: u16,
}

impl Session {
    /// Handshake, STARTDT and a general interrogation of the station's points.
    fn open(&mut self) {
        let s = self;
        s.segment(true, "S", &[]);
        s.segment(false, "SA", &[]);
        s.u(true, 0x07); // STARTDT act
        s.u(false, 0x0B); // STARTDT con
                          // General interrogation: act, actcon, the station's points, actterm.
        s.i(true, 100, ACT, false, &[(0, vec![20])]);
        s.i(false, 100, ACTCON, false, &[(0, vec![20])]);
        s.i(
            false,
            1,
            INROGEN,
            true,
            &(0..8)
                .map(|p| (100 + p, vec![u8::from(p % 3 == 0)]))
                .collect::<Vec<_>>(),
        );
        s.i(
            false,
            3,
            INROGEN,
            false,
            &[(200, vec![0x02]), (201, vec![0x01])],
        );
        s.i(
            false,
            13,
            INROGEN,
            false,
            &(0..4)
                .map(|p| (300 + p, float(49.9 + p as f32, 0)))
                .collect::<Vec<_>>(),
        );
        s.i(false, 100, ACTTERM, false, &[(0, vec![20])]);
        s.s(true);
    }

    /// `rounds` rounds of spontaneous events, with acknowledgements and test frames.
    fn events(&mut self, rounds: u32) {
        let s = self;
        for r in 0..rounds {
            let m = (r % 60) as u8;
            s.i(
                false,
                30,
                SPONT,
                false,
                &[(100 + r % 8, {
                    let mut e = vec![u8::from(r % 2 == 0)];
                    e.extend(cp56(m, 7));
                    e
                })],
            );
            s.i(
                false,
                36,
                SPONT,
                false,
                &[(300, {
                    let mut e = float(50.0 + r as f32 / 10.0, 0);
                    e.extend(cp56(m, 8));
                    e
                })],
            );
            if r % 4 == 3 {
                s.i(
                    false,
                    37,
                    SPONT,
                    false,
                    &[(400, {
                        let mut e = (r as i32 * 10).to_le_bytes().to_vec();
                        e.push(r as u8 & 0x1F);
                        e.extend(cp56(m, 9));
                        e
                    })],
                );
            }
            if r % 8 == 7 {
                s.s(true);
                s.u(true, 0x43); // TESTFR act
                s.u(false, 0x83); // TESTFR con
            }
        }
    }

    /// Commands (select-before-operate, set point, time-tagged command), clock sync, counter interrogation, reset, then STOPDT and FIN.
    fn commands_and_close(&mut self) {
        let s = self;
        // Select-before-operate of a breaker: select, confirmation, execute, confirmation,
        // termination.
        s.i(true, 45, ACT, false, &[(500, vec![0x81])]);
        s.i(false, 45, ACTCON, false, &[(500, vec![0x81])]);
        s.i(true, 45, ACT, false, &[(500, vec![0x01])]);
        s.i(false, 45, ACTCON, false, &[(500, vec![0x01])]);
        s.i(false, 45, ACTTERM, false, &[(500, vec![0x01])]);
        // A set point (short float) and a time-tagged double command.
        s.i(true, 50, ACT, false, &[(600, float(12.5, 0))]);
        s.i(false, 50, ACTCON, false, &[(600, float(12.5, 0))]);
        s.i(
            true,
            59,
            ACT,
            false,
            &[(700, {
                let mut e = vec![0x02];
                e.extend(cp56(30, 1));
                e
            })],
        );
        s.i(
            false,
            59,
            ACTCON,
            false,
            &[(700, {
                let mut e = vec![0x02];
                e.extend(cp56(30, 1));
                e
            })],
        );
        // Clock synchronisation, counter interrogation, reset process.
        s.i(true, 103, ACT, false, &[(0, cp56(31, 0))]);
        s.i(false, 103, ACTCON, false, &[(0, cp56(31, 0))]);
        s.i(true, 101, ACT, false, &[(0, vec![5])]);
        s.i(false, 101, ACTCON, false, &[(0, vec![5])]);
        s.i(
            false,
            15,
            REQCOGEN,
            false,
            &[(400, vec![10, 0, 0, 0, 1]), (401, vec![20, 0, 0, 0, 2])],
        );
        s.i(false, 101, ACTTERM, false, &[(0, vec![5])]);
        s.i(true, 105, ACT, false, &[(0, vec![1])]);
        s.i(false, 105, ACTCON, false, &[(0, vec![1])]);
        s.s(true);
        s.u(true, 0x13); // STOPDT act
        s.u(false, 0x23); // STOPDT con
        s.segment(true, "FA", &[]);
        s.segment(false, "FA", &[]);
    }

    fn segment(&mut self, from_master: bool, flags: &str, payload: &[u8]) {
        let (i, j) = if from_master { (0, 1) } else { (1, 0) };
        let (from, to) = if from_master {
            ((self.master, self.port), (self.station, 2404))
        } else {
            ((self.station, 2404), (self.master, self.port))
        };
        let ack = (!flags.contains('S') || flags.contains('A')).then_some(self.seq[j]);
        let ack = if flags == "S" { None } else { ack };
        self.ts_us += 1_500;
        self.frames.push(Frame {
            ts_us: self.ts_us,
            data: frame(from, to, self.seq[i], ack, flags, payload),
        });
        let used = payload.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
        self.seq[i] = self.seq[i].wrapping_add(used);
    }

    fn u(&mut self, from_master: bool, function: u8) {
        self.segment(from_master, "P", &[0x68, 4, function, 0, 0, 0]);
    }

    fn s(&mut self, from_master: bool) {
        let nr = self.ns[usize::from(from_master)] << 1;
        self.segment(
            from_master,
            "P",
            &[0x68, 4, 1, 0, nr as u8, (nr >> 8) as u8],
        );
    }

    /// An I-frame carrying one ASDU: `objects` are (IOA, element) pairs, or with `sq` one
    /// IOA then consecutive elements.
    fn i(
        &mut self,
        from_master: bool,
        type_id: u8,
        cause: u8,
        sq: bool,
        objects: &[(u32, Vec<u8>)],
    ) {
        let (me, peer) = if from_master { (0, 1) } else { (1, 0) };
        let ns = self.ns[me] << 1;
        let nr = self.ns[peer] << 1;
        self.ns[me] = (self.ns[me] + 1) & 0x7FFF;
        let mut asdu = vec![
            type_id,
            (objects.len() as u8) | if sq { 0x80 } else { 0 },
            cause,
            0,
            self.ca as u8,
            (self.ca >> 8) as u8,
        ];
        for (k, (ioa, e)) in objects.iter().enumerate() {
            if !sq || k == 0 {
                asdu.extend(&ioa.to_le_bytes()[..3]);
            }
            asdu.extend(e);
        }
        let mut apdu = vec![
            0x68,
            (4 + asdu.len()) as u8,
            ns as u8,
            (ns >> 8) as u8,
            nr as u8,
            (nr >> 8) as u8,
        ];
        apdu.extend(asdu);
        *self.asdus.entry(type_id).or_default() += 1;
        self.segment(from_master, "P", &apdu);
    }
}

/// A CP56Time2a of minute `m`, second `s` on 2024-05-17 10:`m`:`s`.
fn cp56(m: u8, s: u8) -> Vec<u8> {
    let ms = u16::from(s) * 1000 + 250;
    vec![ms as u8, (ms >> 8) as u8, m, 10, 17, 5, 24]
}

fn float(v: f32, q: u8) -> Vec<u8> {
    let mut e = v.to_le_bytes().to_vec();
    e.push(q);
    e
}

/// `stations` outstations (10.0.4.1, ...) each in one session with the master 10.0.0.20,
/// `rounds` rounds of spontaneous events each: the frames, and the ASDUs written per type id.
pub fn sessions(stations: u8, rounds: u32) -> (Vec<Frame>, BTreeMap<u8, u64>) {
    let mut frames = Vec::new();
    let mut asdus = BTreeMap::new();
    for k in 0..stations {
        let mut s = Session {
            master: [10, 0, 0, 20],
            station: [10, 0, 4, k + 1],
            port: 40_000 + u16::from(k),
            seq: [1_000 + u32::from(k), 90_000],
            ns: [0, 0],
            ts_us: 1_715_940_000_000_000 + u64::from(k) * 10_000_000,
            frames: Vec::new(),
            asdus: BTreeMap::new(),
            ca: u16::from(k) + 1,
        };
        s.open();
        s.events(rounds);
        s.commands_and_close();
        frames.extend(s.frames);
        for (t, n) in s.asdus {
            *asdus.entry(t).or_default() += n;
        }
    }
    frames.sort_by_key(|f| f.ts_us);
    (frames, asdus)
}
