//! EtherNet/IP (ODVA Vol. 2) and CIP explicit messaging (ODVA Vol. 1).
//!
//! Supported: the encapsulation header and every command (NOP, ListServices, ListIdentity,
//! ListInterfaces, RegisterSession, UnRegisterSession, SendRRData, SendUnitData,
//! IndicateStatus, Cancel; others flagged `unknown_function`) on TCP and UDP 44818, with
//! session handles and status; the common packet format items; CIP requests and replies
//! (service code and reply bit, EPATH with class, instance, attribute, member, connection
//! point, port segments and Logix symbolic tag names, general and extended status);
//! Multiple Service Packet and Unconnected Send unwrapped, each inner service its own
//! message; Forward Open, Large Forward Open and Forward Close (connection ids, serials,
//! RPIs); identity answers (ListIdentity, Get_Attributes_All on the identity object);
//! implicit I/O on UDP 2222 recognised per connection id and counted (the message carries
//! the connection it opens or carries, for the anomaly engine to pair them across flows);
//! Logix fragmented tag services with each fragment's offset and bytes, and the transfer
//! reassembled on the message that completes it. PCCC carried by Execute PCCC is decoded
//! (see [`pccc`]).
//!
//! Not supported: CIP Security (TLS/DTLS) is not decrypted.

pub mod adapter;
pub mod codes;
pub mod descriptor;
pub mod parser;
pub mod pccc;
pub mod state;
#[cfg(test)]
mod tests;

pub use descriptor::{CIP_DESCRIPTOR, DESCRIPTOR};
pub use state::{EnipFlow, Event};
