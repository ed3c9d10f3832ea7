//! IEC 61850 MMS (ISO 9506) over the ISO stack on TPKT/COTP: the same connections as S7comm
//! on TCP port 102, told apart by what the COTP data carries (S7comm starts with 0x32,
//! S7comm-plus with 0x72, MMS with an ISO session SPDU) and, before any data, by the COTP
//! TSAPs (IEC 61850 clients and servers use TSAPs beginning with 0x00; S7's name a connection
//! type and a rack and slot).
//!
//! Supported: MMS PDUs straight on COTP (without session and presentation), session SPDUs (connect, accept, data with give-tokens, finish, disconnect,
//! refuse, abort), presentation CP/CPA and user data, ACSE association and release (AARQ,
//! AARE, RLRQ, RLRE, ABRT; the MMS application context recognised), MMS PDUs: initiate and
//! conclude, confirmed requests and responses with their invoke id and service (all 78
//! confirmed services named), errors, rejects, cancels, unconfirmed information reports;
//! domain-specific object names (`IED1LD0/XCBR1$CO$Pos$Oper`) anywhere in a request or
//! report; identify answers (vendor, model, revision). Requests and responses are paired by
//! invoke id.
//!
//! Values: a write's data, a read response's and an information report's access results
//! (bounded, [`pdu::MAX_VALUES`]).
//!
//! Not supported: session segmentation across SPDUs, the presentation layer's context negotiation (the first data value is read
//! as MMS), indefinite BER lengths.

pub mod adapter;
pub mod ber;
pub mod codes;
pub mod data;
pub mod descriptor;
pub mod pdu;

pub use descriptor::DESCRIPTOR;
pub use pdu::{bare, parse, session, Identify, Kind, MmsPdu, Session};
