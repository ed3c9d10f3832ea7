//! End-to-end tests: the real `otsensor` binary on real captures (the project's own `pcaps/`
//! and, when present, the public corpus in `../shared/pcaps`), live capture between network
//! namespaces, exit codes and worker-count independence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bacnet;
mod baseline;
mod config;
pub mod console;
mod detections;
mod dnp3;
mod enip;
mod evidence;
mod floods;
mod flows;
mod formats;
mod goose;
mod identity;
mod iec104;
mod kafka;
mod live;
mod mms;
mod modbus;
mod netns;
mod opcua;
mod package;
mod profinet;
mod replay;
mod s7comm;
mod scenarios;
mod service;
mod settings;
mod sigma;
mod triage;
mod util;
