//! BACnet/IP in a building's control network, for the BACnet detections.
//!
//! - `learn`: the BMS workstation sweeps for devices (Who-Is, every device), the two
//!   controllers answer I-Am, the workstation reads each device object's vendor, model,
//!   firmware, application software and name, polls a temperature and writes a setpoint at
//!   the ordinary priority 8: what the baseline learns.
//! - `attack`: the same the next day, and a laptop that sweeps for devices, tells the first
//!   controller to stop communicating, restarts the second, overrides a fan at priority 1,
//!   takes a sensor out of service and writes a file to the first controller.
//!
//! Datagrams as ASHRAE 135 lays them out (BVLC Annex J, NPDU clause 6, APDU clause 20;
//! checked against Wireshark by tests/e2e/bacnet.rs).

use crate::wire::{End, FromIp, Macs, Out};
use crate::{Frame, Mac};

/// The BMS workstation.
pub const BMS: [u8; 4] = [10, 30, 0, 10];
/// The first controller (device 2101).
pub const AHU: [u8; 4] = [10, 30, 0, 21];
/// The second controller (device 2102).
pub const VAV: [u8; 4] = [10, 30, 0, 22];
/// The laptop.
pub const LAPTOP: [u8; 4] = [10, 30, 0, 66];
/// The subnet's broadcast address.
const BROADCAST: [u8; 4] = [10, 30, 0, 255];
const PORT: u16 = 47808;

/// Hosts' MACs from their addresses; the broadcast address's is Ethernet's.
struct Building;

impl Macs for Building {
    fn mac(&self, a: [u8; 4]) -> Mac {
        if a == BROADCAST {
            [0xff; 6]
        } else {
            FromIp.mac(a)
        }
    }
}

/// Object types (clause 21, BACnetObjectType).
mod object {
    pub const ANALOG_INPUT: u16 = 0;
    pub const ANALOG_VALUE: u16 = 2;
    pub const BINARY_OUTPUT: u16 = 4;
    pub const DEVICE: u16 = 8;
    pub const FILE: u16 = 10;
}

/// Properties (clause 21, BACnetPropertyIdentifier).
mod property {
    pub const APPLICATION_SOFTWARE_VERSION: u8 = 12;
    pub const FIRMWARE_REVISION: u8 = 44;
    pub const MODEL_NAME: u8 = 70;
    pub const OBJECT_NAME: u8 = 77;
    pub const OUT_OF_SERVICE: u8 = 81;
    pub const PRESENT_VALUE: u8 = 85;
    pub const VENDOR_NAME: u8 = 121;
}

/// A BACnet tag's value octets with its header: class (application or context), tag
/// number and length, extended length for more than four octets (clause 20.2.1).
fn tag(number: u8, context: bool, value: &[u8]) -> Vec<u8> {
    let class = if context { 0x08 } else { 0 };
    let mut v = Vec::new();
    match value.len() {
        n @ 0..=4 => v.push(number << 4 | class | n as u8),
        n => {
            v.push(number << 4 | class | 5);
            v.push(n as u8);
        }
    }
    v.extend(value);
    v
}

/// An unsigned integer in its fewest octets.
fn unsigned(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take(3).take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

fn object_id(kind: u16, instance: u32) -> [u8; 4] {
    (u32::from(kind) << 22 | instance).to_be_bytes()
}

/// A character string (ISO 10646 UTF-8, character set 0).
fn text(s: &str) -> Vec<u8> {
    let mut v = vec![0];
    v.extend(s.as_bytes());
    v
}

/// Opening and closing tags around `inner` (clause 20.2.1.3.2).
fn wrap(number: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![number << 4 | 0x0e];
    v.extend(inner);
    v.push(number << 4 | 0x0f);
    v
}

/// A BVLC (Original-Unicast or Original-Broadcast) with a local NPDU around `apdu`.
fn bvlc(broadcast: bool, expecting_reply: bool, apdu: &[u8]) -> Vec<u8> {
    let function = if broadcast { 0x0b } else { 0x0a };
    let control = if expecting_reply { 0x04 } else { 0 };
    let len = (4 + 2 + apdu.len()) as u16;
    let mut v = vec![0x81, function];
    v.extend(len.to_be_bytes());
    v.extend([0x01, control]);
    v.extend(apdu);
    v
}

/// A confirmed request: max 1476 octets accepted, not segmented.
fn confirmed(invoke: u8, service: u8, params: &[u8]) -> Vec<u8> {
    bvlc(
        false,
        true,
        &[&[0x00, 0x05, invoke, service][..], params].concat(),
    )
}

fn simple_ack(invoke: u8, service: u8) -> Vec<u8> {
    bvlc(false, false, &[0x20, invoke, service])
}

fn complex_ack(invoke: u8, service: u8, params: &[u8]) -> Vec<u8> {
    bvlc(
        false,
        false,
        &[&[0x30, invoke, service][..], params].concat(),
    )
}

/// [0] an object, [1] a property: ReadProperty's and WriteProperty's first fields.
fn object_property(kind: u16, instance: u32, property: u8) -> Vec<u8> {
    [
        tag(0, true, &object_id(kind, instance)),
        tag(1, true, &[property]),
    ]
    .concat()
}

/// One host's conversation with the devices, with its own invoke ids.
struct Client {
    ip: [u8; 4],
    invoke: u8,
}

impl Client {
    fn end(&self) -> End {
        (self.ip, PORT)
    }

    /// A confirmed request to `device` and its answer 8 ms later; returns the time after.
    fn ask(
        &mut self,
        out: &mut Out,
        ts: u64,
        device: [u8; 4],
        service: u8,
        params: &[u8],
        answer: Answer,
    ) -> u64 {
        self.invoke = self.invoke.wrapping_add(1);
        let id = self.invoke;
        let to = (device, PORT);
        out.push(
            ts,
            Building.udp(self.end(), to, &confirmed(id, service, params)),
        );
        let reply = match answer {
            Answer::Simple => simple_ack(id, service),
            Answer::Complex(p) => complex_ack(id, service, &p),
        };
        out.push(ts + 8_000, Building.udp(to, self.end(), &reply));
        ts + 50_000
    }

    /// A ReadProperty of a device object's character string property, answered with `value`.
    fn read_text(
        &mut self,
        out: &mut Out,
        ts: u64,
        device: [u8; 4],
        instance: u32,
        property: u8,
        value: &str,
    ) -> u64 {
        let q = object_property(object::DEVICE, instance, property);
        let a = [q.clone(), wrap(3, &tag(7, false, &text(value)))].concat();
        self.ask(out, ts, device, 12, &q, Answer::Complex(a))
    }

    /// A ReadProperty of an analog input's present value, answered with `value`.
    fn read_temperature(&mut self, out: &mut Out, ts: u64, device: [u8; 4], value: f32) -> u64 {
        let q = object_property(object::ANALOG_INPUT, 1, property::PRESENT_VALUE);
        let a = [q.clone(), wrap(3, &tag(4, false, &value.to_be_bytes()))].concat();
        self.ask(out, ts, device, 12, &q, Answer::Complex(a))
    }

    /// A WriteProperty of `value` (application-tagged) at `priority`, acknowledged.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        out: &mut Out,
        ts: u64,
        device: [u8; 4],
        kind: u16,
        instance: u32,
        property: u8,
        value: &[u8],
        priority: u8,
    ) -> u64 {
        let p = [
            object_property(kind, instance, property),
            wrap(3, value),
            tag(4, true, &[priority]),
        ]
        .concat();
        self.ask(out, ts, device, 15, &p, Answer::Simple)
    }

    /// Who-Is for every device, broadcast, answered by both controllers' I-Am.
    fn sweep(&self, out: &mut Out, ts: u64) -> u64 {
        let who_is = bvlc(true, false, &[0x10, 0x08]);
        out.push(ts, Building.udp(self.end(), (BROADCAST, PORT), &who_is));
        for (i, (ip, instance)) in [(AHU, 2101), (VAV, 2102)].into_iter().enumerate() {
            let i_am = [
                &[0x10, 0x00][..],
                &tag(12, false, &object_id(object::DEVICE, instance)),
                &tag(2, false, &unsigned(1476)),
                &tag(9, false, &[0]),
                &tag(2, false, &unsigned(260)),
            ]
            .concat();
            let t = ts + 5_000 * (i as u64 + 1);
            out.push(
                t,
                Building.udp((ip, PORT), (BROADCAST, PORT), &bvlc(true, false, &i_am)),
            );
        }
        ts + 100_000
    }
}

enum Answer {
    Simple,
    Complex(Vec<u8>),
}

/// The BMS workstation's day: a sweep, each device's identity, `polls` polls of both
/// temperatures ten seconds apart, and a setpoint written at priority 8.
fn bms(out: &mut Out, t0: u64, polls: u8) {
    let mut bms = Client { ip: BMS, invoke: 0 };
    let mut ts = bms.sweep(out, t0);
    for (ip, instance, model, name) in [
        (AHU, 2101, "AHU-700", "AHU-1"),
        (VAV, 2102, "VAV-210", "VAV-2-14"),
    ] {
        for (property, value) in [
            (property::VENDOR_NAME, "BACnet Stack at SourceForge"),
            (property::MODEL_NAME, model),
            (property::FIRMWARE_REVISION, "4.2.1"),
            (property::APPLICATION_SOFTWARE_VERSION, "AcmeBMS app 2.7"),
            (property::OBJECT_NAME, name),
        ] {
            ts = bms.read_text(out, ts, ip, instance, property, value);
        }
    }
    for i in 0..polls {
        let t = t0 + 1_000_000 + u64::from(i) * 10_000_000;
        let t = bms.read_temperature(out, t, AHU, 21.0 + f32::from(i) / 10.0);
        bms.read_temperature(out, t, VAV, 22.5);
    }
    let setpoint = tag(4, false, &21.5f32.to_be_bytes());
    bms.write(
        out,
        t0 + 30_500_000,
        AHU,
        object::ANALOG_VALUE,
        3,
        property::PRESENT_VALUE,
        &setpoint,
        8,
    );
}

/// The laptop: a sweep, a read, then everything a building must not be told lightly.
fn laptop(out: &mut Out, t0: u64) {
    let mut l = Client {
        ip: LAPTOP,
        invoke: 0x40,
    };
    let mut ts = l.sweep(out, t0);
    ts = l.read_text(out, ts, AHU, 2101, property::MODEL_NAME, "AHU-700");
    // DeviceCommunicationControl: disable ([1] 1) with a password ([2]).
    let dcc = [tag(1, true, &[1]), tag(2, true, &text("admin"))].concat();
    ts = l.ask(out, ts, AHU, 17, &dcc, Answer::Simple);
    // ReinitializeDevice: warmstart ([0] 1).
    ts = l.ask(out, ts, VAV, 20, &tag(0, true, &[1]), Answer::Simple);
    // The supply fan on (active) at priority 1, manual life safety.
    ts = l.write(
        out,
        ts,
        AHU,
        object::BINARY_OUTPUT,
        1,
        property::PRESENT_VALUE,
        &tag(9, false, &[1]),
        1,
    );
    // The temperature sensor out of service (boolean true: the value in the tag's length).
    ts = l.write(
        out,
        ts,
        VAV,
        object::ANALOG_INPUT,
        1,
        property::OUT_OF_SERVICE,
        &[0x11],
        16,
    );
    // AtomicWriteFile of file 1 from its start: a program image's first record.
    let file = [
        tag(12, false, &object_id(object::FILE, 1)),
        wrap(
            0,
            &[tag(3, false, &[0]), tag(6, false, b"PROGRAM IMAGE v9 ...")].concat(),
        ),
    ]
    .concat();
    // AtomicWriteFile-ACK: the position written, [0] fileStartPosition.
    let ack = tag(0, true, &[0]);
    l.ask(out, ts, AHU, 7, &file, Answer::Complex(ack));
}

fn sorted(out: Out) -> Vec<Frame> {
    let mut f = out.frames;
    f.sort_by_key(|f| f.ts_us);
    f
}

/// The first day: the BMS workstation alone.
pub fn learn() -> Vec<Frame> {
    let mut out = Out { frames: Vec::new() };
    bms(&mut out, 1_767_100_000_000_000, 6);
    sorted(out)
}

/// The next day: the BMS workstation, and the laptop a minute into it.
pub fn attack() -> Vec<Frame> {
    let mut out = Out { frames: Vec::new() };
    let t0 = 1_767_186_400_000_000;
    // Polling on while the laptop is at work (a poll that stopped would be an alert).
    bms(&mut out, t0, 9);
    laptop(&mut out, t0 + 70_000_000);
    sorted(out)
}
