//! The ISO upper layers on a COTP connection (ISO 8327 session, ISO 8823 presentation,
//! ISO 8650 ACSE) down to the MMS PDU (ISO 9506-2) they carry, and the MMS PDU itself: its
//! type, invoke id, service, the objects it names and an identify answer.

use super::ber::{self, child, children, Tlv};
use super::data::{self, Value};

/// Most values (leaves and lists) kept per PDU.
pub const MAX_VALUES: usize = 64;

/// Most object names kept per PDU.
pub const MAX_OBJECTS: usize = 16;
/// Longest object name kept.
pub const MAX_NAME: usize = 160;
/// How deep object names are looked for.
const MAX_DEPTH: usize = 10;

/// Session SPDU identifiers (ISO 8327-1 §8.3).
const SI_DATA: u8 = 1;
const SI_FINISH: u8 = 9;
const SI_DISCONNECT: u8 = 10;
const SI_NOT_FINISHED: u8 = 8;
const SI_REFUSE: u8 = 12;
const SI_CONNECT: u8 = 13;
const SI_ACCEPT: u8 = 14;
const SI_ABORT: u8 = 25;
const SI_ABORT_ACCEPT: u8 = 26;
/// Session parameter group "User Data" and "Extended User Data".
const PGI_USER_DATA: u8 = 193;
const PGI_EXTENDED_USER_DATA: u8 = 194;
/// The MMS abstract syntax's application context (1.0.9506.2.3), as an encoded OID.
const MMS_CONTEXT: [u8; 5] = [0x28, 0xca, 0x22, 0x02, 0x03];

/// One session SPDU and what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session<'a> {
    /// `data`, `connect`, `accept`, `finish`, `disconnect`, `refuse`, `abort`, ...
    pub spdu: &'static str,
    /// The ACSE APDU inside, if any: `aarq`, `aare`, `rlrq`, `rlre`, `abrt`.
    pub acse: Option<&'static str>,
    /// The association request or answer names MMS's application context.
    pub mms_context: bool,
    /// The MMS PDU's octets, if one is carried.
    pub mms: Option<&'a [u8]>,
}

/// A session header at `d`: its identifier, its parameters and what follows it.
fn spdu(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&si, rest) = d.split_first()?;
    let (&l, rest) = rest.split_first()?;
    let (len, rest) = if l == 0xff {
        let (&[a, b], r) = rest.split_first_chunk::<2>()?;
        (usize::from(u16::from_be_bytes([a, b])), r)
    } else {
        (usize::from(l), rest)
    };
    Some((si, rest.get(..len)?, rest.get(len..)?))
}

/// The value of parameter (group) `code` among session parameters.
fn parameter(mut p: &[u8], code: u8) -> Option<&[u8]> {
    while let Some((pi, value, rest)) = spdu(p) {
        if pi == code {
            return Some(value);
        }
        p = rest;
    }
    None
}

/// Reads a COTP data payload as an ISO session SPDU: `None` when it is not one.
pub fn session(d: &[u8]) -> Option<Session<'_>> {
    let (si, params, rest) = spdu(d)?;
    let name = match si {
        SI_DATA => {
            // Give Tokens, then Data Transfer: the presentation PDU follows the second header.
            let (si2, _, user) = spdu(rest)?;
            if si2 != SI_DATA {
                return None;
            }
            let (acse, mms_context, mms) = presentation(user)?;
            return Some(Session {
                spdu: "data",
                acse,
                mms_context,
                mms,
            });
        }
        SI_CONNECT => "connect",
        SI_ACCEPT => "accept",
        SI_FINISH => "finish",
        SI_DISCONNECT => "disconnect",
        SI_NOT_FINISHED => "not_finished",
        SI_REFUSE => "refuse",
        SI_ABORT => "abort",
        SI_ABORT_ACCEPT => "abort_accept",
        _ => return None,
    };
    let user =
        parameter(params, PGI_USER_DATA).or_else(|| parameter(params, PGI_EXTENDED_USER_DATA));
    let (acse, mms_context, mms) = user.and_then(presentation).unwrap_or((None, false, None));
    Some(Session {
        spdu: name,
        acse,
        mms_context,
        mms,
    })
}

/// MMS carried straight in the COTP data, without the session and presentation layers
/// (some test tools and gateways send it so; Wireshark reads it too): one whole MMS PDU.
pub fn bare(d: &[u8]) -> Option<Session<'_>> {
    let (t, rest) = ber::read(d)?;
    (rest.is_empty() && t.class == 2 && (t.number as usize) < Kind::ALL.len()).then_some(Session {
        spdu: "none",
        acse: None,
        mms_context: false,
        mms: Some(d),
    })
}

type Carried<'a> = (Option<&'static str>, bool, Option<&'a [u8]>);

/// A presentation PDU: CP/CPA (a SET with normal-mode parameters) or user data; the ACSE
/// APDU and the MMS PDU inside its first presentation data value.
fn presentation(p: &[u8]) -> Option<Carried<'_>> {
    let (t, _) = ber::read(p)?;
    let fully = match t.first {
        0x31 => child(child(t.value, 0xa2)?.value, 0x61)?,
        0x61 => t,
        _ => return None,
    };
    let pdv = child(fully.value, 0x30)?;
    let Some(data) = child(pdv.value, 0xa0) else {
        return Some((None, false, None));
    };
    let (inner, _) = ber::read(data.value)?;
    let acse = match inner.first {
        0x60 => "aarq",
        0x61 => "aare",
        0x62 => "rlrq",
        0x63 => "rlre",
        0x64 => "abrt",
        _ => return Some((None, false, Some(data.value))),
    };
    let context = child(inner.value, 0xa1)
        .and_then(|c| child(c.value, 0x06))
        .is_some_and(|o| o.value == MMS_CONTEXT);
    let mms = child(inner.value, 0xbe)
        .and_then(|u| child(u.value, 0x28))
        .and_then(|e| child(e.value, 0xa0))
        .map(|s| s.value);
    Some((Some(acse), context, mms))
}

/// An MMS PDU's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// confirmed-RequestPDU.
    ConfirmedRequest,
    /// confirmed-ResponsePDU.
    ConfirmedResponse,
    /// confirmed-ErrorPDU.
    ConfirmedError,
    /// unconfirmed-PDU (information reports).
    Unconfirmed,
    /// rejectPDU.
    Reject,
    /// cancel-RequestPDU.
    CancelRequest,
    /// cancel-ResponsePDU.
    CancelResponse,
    /// cancel-ErrorPDU.
    CancelError,
    /// initiate-RequestPDU.
    InitiateRequest,
    /// initiate-ResponsePDU.
    InitiateResponse,
    /// initiate-ErrorPDU.
    InitiateError,
    /// conclude-RequestPDU.
    ConcludeRequest,
    /// conclude-ResponsePDU.
    ConcludeResponse,
    /// conclude-ErrorPDU.
    ConcludeError,
}

impl Kind {
    const ALL: [Kind; 14] = [
        Kind::ConfirmedRequest,
        Kind::ConfirmedResponse,
        Kind::ConfirmedError,
        Kind::Unconfirmed,
        Kind::Reject,
        Kind::CancelRequest,
        Kind::CancelResponse,
        Kind::CancelError,
        Kind::InitiateRequest,
        Kind::InitiateResponse,
        Kind::InitiateError,
        Kind::ConcludeRequest,
        Kind::ConcludeResponse,
        Kind::ConcludeError,
    ];

    /// The name Wireshark gives it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ConfirmedRequest => "confirmed-RequestPDU",
            Kind::ConfirmedResponse => "confirmed-ResponsePDU",
            Kind::ConfirmedError => "confirmed-ErrorPDU",
            Kind::Unconfirmed => "unconfirmed-PDU",
            Kind::Reject => "rejectPDU",
            Kind::CancelRequest => "cancel-RequestPDU",
            Kind::CancelResponse => "cancel-ResponsePDU",
            Kind::CancelError => "cancel-ErrorPDU",
            Kind::InitiateRequest => "initiate-RequestPDU",
            Kind::InitiateResponse => "initiate-ResponsePDU",
            Kind::InitiateError => "initiate-ErrorPDU",
            Kind::ConcludeRequest => "conclude-RequestPDU",
            Kind::ConcludeResponse => "conclude-ResponsePDU",
            Kind::ConcludeError => "conclude-ErrorPDU",
        }
    }

    /// Sent by the requester (client) rather than the responder.
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Kind::ConfirmedRequest
                | Kind::CancelRequest
                | Kind::InitiateRequest
                | Kind::ConcludeRequest
        )
    }

    /// Answers a request.
    pub fn is_answer(self) -> bool {
        !self.is_request() && !matches!(self, Kind::Unconfirmed | Kind::Reject)
    }
}

/// What an identify response says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identify {
    /// vendorName.
    pub vendor: String,
    /// modelName.
    pub model: String,
    /// revision.
    pub revision: String,
}

/// One MMS PDU.
#[derive(Debug, Clone, PartialEq)]
pub struct MmsPdu {
    /// Its type.
    pub kind: Kind,
    /// The invoke id (confirmed, cancel and error PDUs).
    pub invoke_id: Option<u32>,
    /// The confirmed service's (or the unconfirmed service's) choice number.
    pub service: Option<u32>,
    /// Object names it carries, `domain/item` (at most [`MAX_OBJECTS`]).
    pub objects: Vec<String>,
    /// An identify response's answer.
    pub identify: Option<Identify>,
    /// The values it carries: a write's data, a read's or a report's access results (a
    /// failure as `failure:<DataAccessError>`), at most [`MAX_VALUES`] leaves.
    pub values: Vec<Value>,
}

impl MmsPdu {
    /// Whether it names a control object (`$CO$`: IEC 61850 select, operate, cancel).
    pub fn control_object(&self) -> bool {
        self.objects.iter().any(|o| o.contains("$CO$"))
    }

    /// The control service of the first control object it names: the last component of
    /// `…$CO$Pos$Oper` (`Oper`, `SBOw`, `SBO`, `Cancel`).
    pub fn control_service(&self) -> Option<&str> {
        let o = self.objects.iter().find(|o| o.contains("$CO$"))?;
        o.rsplit('$').next()
    }
}

fn visible(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// Domain-specific object names (`[1] SEQUENCE { domainId, itemId }`) anywhere below `d`.
fn object_names(d: &[u8], depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    for t in children(d) {
        if out.len() >= MAX_OBJECTS {
            return;
        }
        if !t.constructed {
            continue;
        }
        let kids: Vec<Tlv<'_>> = children(t.value).take(3).collect();
        match kids.as_slice() {
            [a, b] if t.first == 0xa1 && a.first == 0x1a && b.first == 0x1a => {
                out.push(format!("{}/{}", visible(a.value), visible(b.value)));
            }
            _ => object_names(t.value, depth + 1, out),
        }
    }
}

/// The data or access results of a write request, read response or information report.
/// A read response's are its `[1]` list; the others' follow the variable access
/// specification (`[0]` list of variables or `[1]` list name) as the next `[0]`.
fn list_after_spec(service: &[u8], read_response: bool) -> Vec<Value> {
    let kids: Vec<Tlv<'_>> = children(service).take(4).collect();
    let list = if read_response {
        kids.iter().find(|t| t.first == 0xa1)
    } else {
        match kids.as_slice() {
            [spec, rest @ ..] if spec.first == 0xa0 || spec.first == 0xa1 => {
                rest.iter().find(|t| t.first == 0xa0)
            }
            _ => None,
        }
    };
    let Some(list) = list else {
        return Vec::new();
    };
    let mut budget = MAX_VALUES;
    data::list(list.value, 0, &mut budget)
}

fn small(v: &[u8]) -> Option<u32> {
    ber::uint(v).and_then(|n| u32::try_from(n).ok())
}

/// Reads an MMS PDU: `None` when `d` does not start with one.
pub fn parse(d: &[u8]) -> Option<MmsPdu> {
    let (t, _) = ber::read(d)?;
    if t.class != 2 {
        return None;
    }
    let kind = *Kind::ALL.get(t.number as usize)?;
    let mut pdu = MmsPdu {
        kind,
        invoke_id: None,
        service: None,
        objects: Vec::new(),
        identify: None,
        values: Vec::new(),
    };
    match kind {
        Kind::ConfirmedRequest | Kind::ConfirmedResponse => {
            let mut it = children(t.value);
            let id = it.next().filter(|c| c.first == 0x02)?;
            pdu.invoke_id = small(id.value);
            // Requests may carry a list of modifiers before the service.
            let service = it.find(|c| c.class == 2);
            if let Some(s) = service {
                pdu.service = Some(s.number);
                if s.constructed {
                    object_names(s.value, 0, &mut pdu.objects);
                    pdu.values = match (kind, s.number) {
                        (Kind::ConfirmedRequest, 5) => list_after_spec(s.value, false),
                        (Kind::ConfirmedResponse, 4) => list_after_spec(s.value, true),
                        _ => Vec::new(),
                    };
                    if kind == Kind::ConfirmedResponse && s.number == 2 {
                        let text = |first| child(s.value, first).map(|c| visible(c.value));
                        pdu.identify = Some(Identify {
                            vendor: text(0x80).unwrap_or_default(),
                            model: text(0x81).unwrap_or_default(),
                            revision: text(0x82).unwrap_or_default(),
                        });
                    }
                }
            }
        }
        Kind::ConfirmedError | Kind::Reject | Kind::CancelError => {
            pdu.invoke_id = child(t.value, 0x80).and_then(|c| small(c.value));
        }
        Kind::CancelRequest | Kind::CancelResponse => pdu.invoke_id = small(t.value),
        Kind::Unconfirmed => {
            if let Some(s) = children(t.value).find(|c| c.class == 2) {
                pdu.service = Some(s.number);
                if s.constructed {
                    object_names(s.value, 0, &mut pdu.objects);
                    if s.number == 0 {
                        pdu.values = list_after_spec(s.value, false);
                    }
                }
            }
        }
        _ => {}
    }
    Some(pdu)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Session GT + DT, presentation user data, one PDV with an MMS PDU.
    fn data(mms: &[u8]) -> Vec<u8> {
        let mut pdv = vec![0x02, 0x01, 0x03, 0xa0, mms.len() as u8];
        pdv.extend(mms);
        let mut p = vec![0x61, (pdv.len() + 2) as u8, 0x30, pdv.len() as u8];
        p.extend(pdv);
        let mut d = vec![0x01, 0x00, 0x01, 0x00];
        d.extend(p);
        d
    }

    #[test]
    fn a_read_of_a_named_object_in_a_data_spdu() {
        // confirmed-RequestPDU, invoke id 7, read [4] of IED1LD0 / XCBR1$ST$Pos.
        let name = [&[0x1a, 7][..], b"IED1LD0", &[0x1a, 12], b"XCBR1$ST$Pos"].concat();
        let mut obj = vec![0xa1, name.len() as u8];
        obj.extend(&name);
        let mut spec = vec![0xa0, (obj.len() + 2) as u8, 0x30, obj.len() as u8];
        spec.extend(&obj);
        // read: [1] variableAccessSpecification [0] listOfVariable SEQUENCE { name [0] ... }
        let mut var = vec![0xa0, obj.len() as u8];
        var.extend(&obj);
        let mut list = vec![0x30, var.len() as u8];
        list.extend(&var);
        let mut las = vec![0xa0, list.len() as u8];
        las.extend(&list);
        let mut vas = vec![0xa1, las.len() as u8];
        vas.extend(&las);
        let mut read = vec![0xa4, vas.len() as u8];
        read.extend(&vas);
        let mut req = vec![0xa0, (read.len() + 3) as u8, 0x02, 0x01, 0x07];
        req.extend(&read);
        let d = data(&req);
        let s = session(&d).unwrap();
        assert_eq!((s.spdu, s.acse), ("data", None));
        let p = parse(s.mms.unwrap()).unwrap();
        assert_eq!(p.kind, Kind::ConfirmedRequest);
        assert_eq!((p.invoke_id, p.service), (Some(7), Some(4)));
        assert_eq!(p.objects, ["IED1LD0/XCBR1$ST$Pos"]);
        assert!(!p.control_object());
        let mut operate = p.clone();
        operate.objects = vec!["IED1LD0/CSWI1$CO$Pos$Oper".into()];
        assert_eq!(operate.control_service(), Some("Oper"));
    }

    #[test]
    fn identify_answers_and_other_pdus() {
        let mut id = vec![0x80, 3];
        id.extend(b"ABB");
        id.extend([0x81, 4]);
        id.extend(b"REF6");
        id.extend([0x82, 3]);
        id.extend(b"2.1");
        let mut svc = vec![0xa2, id.len() as u8];
        svc.extend(&id);
        let mut resp = vec![0xa1, (svc.len() + 3) as u8, 0x02, 0x01, 0x01];
        resp.extend(&svc);
        let p = parse(&resp).unwrap();
        assert_eq!(p.kind, Kind::ConfirmedResponse);
        let i = p.identify.unwrap();
        assert_eq!(
            (i.vendor.as_str(), i.model.as_str(), i.revision.as_str()),
            ("ABB", "REF6", "2.1")
        );
        assert_eq!(parse(&[0x8b, 0x00]).unwrap().kind, Kind::ConcludeRequest);
        assert_eq!(parse(&[0x85, 0x01, 0x09]).unwrap().invoke_id, Some(9));
        // A high-numbered service: [63] getAlarmSummary.
        let p = parse(&[0xa0, 0x06, 0x02, 0x01, 0x01, 0xbf, 0x3f, 0x00]).unwrap();
        assert_eq!(p.service, Some(63));
        // A read response: a failure (object-non-existent, 10) and an integer.
        let rr = [
            0xa1, 0x0d, 0x02, 0x01, 0x05, 0xa4, 0x08, 0xa1, 0x06, 0x80, 0x01, 0x0a, 0x85, 0x01,
            0x07,
        ];
        let p = parse(&rr).unwrap();
        assert_eq!(p.values, [Value::Text("failure:10".into()), Value::Int(7)]);
        // A write: list of variables [0], then the data [0].
        let w = [
            0xa0, 0x10, 0x02, 0x01, 0x06, 0xa5, 0x0b, 0xa0, 0x04, 0x30, 0x02, 0x80, 0x00, 0xa0,
            0x03, 0x83, 0x01, 0x01,
        ];
        let p = parse(&w).unwrap();
        assert_eq!(
            (p.service, p.values.as_slice()),
            (Some(5), &[Value::Bool(true)][..])
        );
        // Not MMS: a universal or application tag.
        assert_eq!(parse(&[0x30, 0x00]), None);
        assert_eq!(session(&[0x32, 0x01, 0x00]), None);
    }
}

#[cfg(test)]
mod props {
    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for s in [super::session(&d), super::bare(&d)].into_iter().flatten() {
                if let Some(p) = s.mms.and_then(super::parse) {
                    proptest::prop_assert!(p.objects.len() <= super::MAX_OBJECTS);
                }
            }
            let _ = super::parse(&d);
        }
    }
}
