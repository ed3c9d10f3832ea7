//! The plant's console: pages and a JSON API served by the sensor itself (`[console]`).
//!
//! It reads the running sensor's state ([`state::ConsoleState`], published by the output
//! thread) and sends triage decisions through the same path as the Kafka decisions topic.
//! Logins are checked against argon2id hashes in the config; a session is a random token in
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS) with an expiry, and every
//! state-changing request carries the session's CSRF token (403 without it). Everything the
//! pages need is compiled into the binary; the Content-Security-Policy forbids loading
//! anything from another host.

pub mod auth;
mod http;
mod pages;
pub mod state;

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;

use crate::config::ConsoleConfig;

pub use state::ConsoleState;

/// Handler threads (requests are small and answered from memory).
const THREADS: usize = 2;

/// A running console.
pub struct Console {
    http: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    /// Where it is served, e.g. `http://127.0.0.1:8443/`.
    pub url: String,
}

impl Console {
    /// Binds the configured address (TLS with the configured pair) and starts answering.
    pub fn start(cfg: &ConsoleConfig, state: Arc<ConsoleState>) -> anyhow::Result<Console> {
        let addr = cfg
            .listen_addr()
            .map_err(|e| anyhow::anyhow!("console.listen: {e}"))?
            .context("console.listen is not set")?;
        let tls = cfg.tls();
        let server = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => {
                let read = |p: &std::path::Path, k: &str| {
                    std::fs::read(p).map_err(|e| anyhow::anyhow!("{k}: {}: {e}", p.display()))
                };
                tiny_http::Server::https(
                    addr,
                    tiny_http::SslConfig {
                        certificate: read(cert, "console.tls_cert")?,
                        private_key: read(key, "console.tls_key")?,
                    },
                )
            }
            _ => tiny_http::Server::http(addr),
        }
        .map_err(|e| anyhow::anyhow!("console.listen {addr}: {e}"))?;
        let http = Arc::new(server);
        let bound = http
            .server_addr()
            .to_ip()
            .map_or_else(|| addr.to_string(), |a| a.to_string());
        let url = format!("{}://{bound}/", if tls { "https" } else { "http" });
        let ctx = Arc::new(http::Ctx {
            state,
            auth: auth::Auth::new(
                cfg.users.clone(),
                std::time::Duration::from_secs(cfg.session_minutes.saturating_mul(60)),
            ),
            tls,
        });
        let mut threads = Vec::new();
        for i in 0..THREADS {
            let (http, ctx) = (http.clone(), ctx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("otsensor-console-{i}"))
                    .spawn(move || {
                        for rq in http.incoming_requests() {
                            http::answer(&ctx, rq);
                        }
                    })
                    .context("cannot start a console thread")?,
            );
        }
        Ok(Console { http, threads, url })
    }

    /// Stops serving.
    pub fn stop(self) {
        for _ in &self.threads {
            self.http.unblock();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}
