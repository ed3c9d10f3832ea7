//! What is normal on an OT network and what deviates from it.
//!
//! This crate holds the model the sensor builds while it watches traffic and does no packet
//! I/O: the sensor feeds it flows and messages and renders what it returns.
//!
//! - [`zones`]: zones and conduits (IEC 62443), hosts to zones by CIDR, VLAN or interface;
//! - [`assets`]: the shared asset inventory;
//! - [`baseline`]: the learned, readable baseline (edges, operations, ranges, timing) and its
//!   learner;
//! - [`detector`]: per-worker checks of each message (policy, baseline, operational and
//!   protocol rules) and [`anomaly`]: correlation across flows (scans, floods), both raising
//!   [`alert`] signals for the [`rules`], and the plant's own [`sigma`] rules;
//! - [`lru`], [`intervals`], [`oui`]: the bounded tables, address ranges and MAC vendors they
//!   use.
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
pub mod clues;
pub mod community_id;
pub mod conversations;
pub mod decision;
pub mod detector;
pub mod device_type;
pub mod intervals;
pub mod lru;
pub mod oui;
pub mod polls;
pub mod rules;
pub mod sigma;
pub mod sorted_set;
pub mod streams;
pub mod substation;
pub mod triage;
pub mod zones;

// The vocabulary the protocols speak in, defined with them.
pub use otsensor_protocols::{mac, message, time};
