//! Flows: keys, the per-worker flow table and TCP reassembly.

pub use otsensor_baselines::community_id;
pub mod key;
pub mod table;
pub mod tcp;

pub use key::{worker_of, FlowHasher, FlowKey, Hashed};
pub use table::{FlowId, FlowTable};
pub use tcp::{Gap, ReassemblyConfig, StreamEvent, TcpCounters, TcpStream};
