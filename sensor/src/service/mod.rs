//! Running unattended: the counters the threads publish while running ([`telemetry`]), the
//! sensor's own health alerts ([`health`]), Prometheus metrics and the health endpoint
//! ([`metrics`]), and dropping root ([`privileges`]).

pub mod health;
pub mod metrics;
pub mod privileges;
pub mod telemetry;
