//! What is normal on an OT network and what deviates from it.
//!
//! This crate holds the model the sensor builds while it watches traffic — the asset
//! inventory today; zones, conduits, learned baselines and the detector as they land —
//! and does no packet I/O: the sensor feeds it observations and renders what it returns.
//!
//! ```
//! use otsensor_baselines::{assets::{AssetInventory, FlowObservation, Endpoint}, time::Timestamp};
//! let inv = AssetInventory::default();
//! let ts = Timestamp::from_nanos(1_700_000_000_000_000_000);
//! inv.observe_flow(&FlowObservation {
//!     client: Endpoint { ip: "10.0.0.1".parse().unwrap(), mac: None, port: 50000 },
//!     server: Endpoint { ip: "10.0.0.2".parse().unwrap(), mac: None, port: 502 },
//!     transport: "tcp", vlan: None, app_protocol: Some("modbus"),
//!     first_seen: ts, last_seen: ts, packets: [1, 1], bytes: [64, 64], server_answered: true,
//!     client_zone: None, server_zone: None, new_flow: true,
//! });
//! assert_eq!(inv.len(), 2);
//! ```

pub mod alert;
pub mod anomaly;
pub mod assets;
pub mod baseline;
pub mod detector;
pub mod intervals;
pub mod lru;
pub mod oui;
pub mod rules;
pub mod zones;

// The vocabulary the protocols speak in, defined with them.
pub use otsensor_protocols::{mac, message, time};
