//! Requests: limits, sessions, CSRF, routing of pages and the JSON API.

use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;

use otsensor_baselines::triage::Action;
use serde_json::json;

use super::auth::{self, Auth, LoginError, Session};
use super::pages;
use super::state::{ConsoleState, Refused};
use crate::config::ConsoleRole;

/// Longest URL taken (414 beyond).
pub const MAX_URL: usize = 2048;
/// Largest request body taken (413 beyond).
pub const MAX_BODY: usize = 16 * 1024;
/// The session cookie.
const COOKIE: &str = "otsensor_session";

/// What the handler threads share.
pub struct Ctx {
    /// The sensor's state.
    pub state: Arc<ConsoleState>,
    /// Users and sessions.
    pub auth: Auth,
    /// Served over TLS (cookies are `Secure`).
    pub tls: bool,
}

/// An answer.
pub struct Reply {
    pub code: u16,
    pub ctype: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn html(code: u16, body: String) -> Reply {
        Reply {
            code,
            ctype: "text/html; charset=utf-8",
            body: body.into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn json(code: u16, v: &serde_json::Value) -> Reply {
        Reply {
            code,
            ctype: "application/json",
            body: v.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn error(code: u16, api: bool, msg: &str) -> Reply {
        if api {
            Reply::json(code, &json!({ "error": msg }))
        } else {
            Reply::html(code, pages::error(code, msg))
        }
    }

    fn redirect(to: &str) -> Reply {
        let mut r = Reply::html(303, String::new());
        r.headers.push(("Location", to.to_string()));
        r
    }
}

/// One parsed request.
pub struct Req {
    pub method: tiny_http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub from: Option<IpAddr>,
    pub cookie: Option<String>,
    pub csrf_header: Option<String>,
    pub partial: bool,
    pub body: Vec<u8>,
}

impl Req {
    /// The query parameter `k` (empty if absent).
    pub fn q(&self, k: &str) -> &str {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Answers one request.
pub fn answer(ctx: &Ctx, mut rq: tiny_http::Request) {
    let reply = match read(&mut rq) {
        Ok(req) => route(ctx, &req),
        Err(r) => r,
    };
    let mut resp = tiny_http::Response::from_data(reply.body).with_status_code(reply.code);
    let security = [
        ("Content-Type", reply.ctype.to_string()),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'".into(),
        ),
        ("X-Content-Type-Options", "nosniff".into()),
        ("X-Frame-Options", "DENY".into()),
        ("Referrer-Policy", "no-referrer".into()),
        ("Cache-Control", "no-store".into()),
    ];
    for (k, v) in security.into_iter().chain(reply.headers) {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            resp.add_header(h);
        }
    }
    if ctx.tls {
        if let Ok(h) = tiny_http::Header::from_bytes(
            &b"Strict-Transport-Security"[..],
            &b"max-age=31536000"[..],
        ) {
            resp.add_header(h);
        }
    }
    let _ = rq.respond(resp);
}

/// Reads the request within the limits.
fn read(rq: &mut tiny_http::Request) -> Result<Req, Reply> {
    let url = rq.url().to_string();
    let api = url.starts_with("/api/");
    if url.len() > MAX_URL {
        return Err(Reply::error(414, api, "URL too long"));
    }
    let method = rq.method().clone();
    if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Post) {
        return Err(Reply::error(405, api, "only GET and POST"));
    }
    if rq.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(Reply::error(413, api, "request body too large"));
    }
    let mut body = Vec::new();
    if method == tiny_http::Method::Post {
        rq.as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|_| Reply::error(400, api, "cannot read the request body"))?;
        if body.len() > MAX_BODY {
            return Err(Reply::error(413, api, "request body too large"));
        }
    }
    let header = |name: &'static str| {
        rq.headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let cookie = header("Cookie").and_then(|c| {
        c.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string())
    });
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    Ok(Req {
        method,
        path: decode(path).ok_or_else(|| Reply::error(400, api, "malformed URL"))?,
        query: form(query).ok_or_else(|| Reply::error(400, api, "malformed query"))?,
        from: rq.remote_addr().map(|a| a.ip()),
        cookie,
        csrf_header: header("X-CSRF-Token"),
        partial: header("X-Partial").is_some(),
        body,
    })
}

/// Percent-decoding (`+` as a space is the form's, see [`form`]).
fn decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut b = s.bytes();
    while let Some(c) = b.next() {
        if c == b'%' {
            let hex = [b.next()?, b.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(c);
        }
    }
    String::from_utf8(out).ok()
}

/// `a=1&b=2` (URL query or urlencoded form).
pub fn form(s: &str) -> Option<Vec<(String, String)>> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(&k.replace('+', " "))?, decode(&v.replace('+', " "))?))
        })
        .collect()
}

fn route(ctx: &Ctx, req: &Req) -> Reply {
    use tiny_http::Method::{Get, Post};
    let api = req.path.starts_with("/api/");
    // The pages that need no session.
    match (&req.method, req.path.as_str()) {
        (Get, "/static/console.css") => return asset("text/css", pages::CSS),
        (Get, "/static/console.js") => return asset("text/javascript", pages::JS),
        (Get, "/login") => return Reply::html(200, pages::login(None)),
        (Post, "/login") => return login_form(ctx, req),
        (Post, "/api/login") => return login_api(ctx, req),
        _ => {}
    }
    let token = req.cookie.clone().unwrap_or_default();
    let Some(session) = ctx.auth.session(&token) else {
        return if api {
            Reply::error(401, true, "log in first (POST /api/login)")
        } else {
            Reply::redirect("/login")
        };
    };
    if req.method == Post {
        // Every state-changing request carries the session's CSRF token.
        let form_token = form(std::str::from_utf8(&req.body).unwrap_or(""))
            .and_then(|f| f.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
        let given = req.csrf_header.clone().or(form_token).unwrap_or_default();
        if !auth::same(&given, &session.csrf) {
            return Reply::error(403, api, "missing or wrong CSRF token");
        }
    }
    let snap = ctx.state.snapshot();
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let page = |body: String| Reply::html(200, pages::layout(&ctx.state, &session, req, body));
    match (&req.method, segs.as_slice()) {
        (Get, [""]) => page(pages::overview(&ctx.state, &snap)),
        (Get, ["assets"]) => page(pages::assets(&snap, req)),
        (Get, ["assets", ip]) => match snap.asset(ip) {
            Some(a) => page(pages::asset(&ctx.state, &snap, a)),
            None => Reply::error(404, false, "no such asset"),
        },
        (Get, ["alerts"]) => page(pages::alerts(&snap, req)),
        (Get, ["alerts", id]) => match snap.alert(id) {
            Some(a) => page(pages::alert(
                &session,
                a,
                ctx.state.evidence_dir.is_some(),
                match req.q("queued") {
                    q @ ("learn" | "mute" | "unmute") => q,
                    _ => "",
                },
            )),
            None => Reply::error(404, false, "no such alert"),
        },
        (Get, ["alerts", id, "evidence"]) => evidence(ctx, &snap, id),
        (Post, ["alerts", id, verb]) => match decide(ctx, &session, req, id, verb) {
            Ok(()) => Reply::redirect(&format!("/alerts/{id}?queued={verb}")),
            Err(r) => r,
        },
        (Get, ["map"]) => page(pages::map(&ctx.state, &snap)),
        (Get, ["baseline"]) => Reply::html(
            200,
            pages::layout_still(
                &ctx.state,
                &session,
                req,
                pages::baseline(&ctx.state, &session, req),
            ),
        ),
        (Post, ["baseline", verb]) => curate(ctx, &session, req, verb),
        (Get, ["api", "baseline"]) => {
            Reply::json(200, &json!(ctx.state.shared.learner.to_baseline()))
        }
        (Post, ["api", "baseline", verb]) => curate(ctx, &session, req, verb),
        (Post, ["logout"]) => {
            ctx.auth.logout(&token);
            let mut r = Reply::redirect("/login");
            r.headers.push(("Set-Cookie", cookie(ctx, "", 0)));
            r
        }
        (Get, ["api", "alerts"]) => Reply::json(200, &json!(pages::filter_alerts(&snap, req))),
        (Get, ["api", "alerts", id]) => match snap.alert(id) {
            Some(a) => Reply::json(200, &json!(a)),
            None => Reply::error(404, true, "no such alert"),
        },
        (Get, ["api", "assets"]) => Reply::json(200, &json!(snap.assets)),
        (Get, ["api", "overview"]) => Reply::json(200, &pages::overview_json(&ctx.state, &snap)),
        (Get, ["api", "session"]) => Reply::json(
            200,
            &json!({ "user": session.user, "role": session.role, "csrf": session.csrf }),
        ),
        (Post, ["api", "alerts", verb]) => {
            #[derive(serde::Deserialize)]
            struct Body {
                id: String,
            }
            let Ok(b) = serde_json::from_slice::<Body>(&req.body) else {
                return Reply::error(400, true, "expected a JSON body {\"id\": \"<alert id>\"}");
            };
            match decide(ctx, &session, req, &b.id, verb) {
                Ok(()) => Reply::json(202, &json!({ "queued": verb, "id": b.id })),
                Err(r) => r,
            }
        }
        (Post, _) => Reply::error(404, api, "no such action"),
        _ => Reply::error(404, api, "no such page"),
    }
}

fn asset(ctype: &'static str, body: &'static str) -> Reply {
    let mut r = Reply::html(200, body.to_string());
    r.ctype = ctype;
    r
}

fn cookie(ctx: &Ctx, token: &str, max_age: u64) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if ctx.tls { "; Secure" } else { "" }
    )
}

fn login(ctx: &Ctx, req: &Req, name: &str, password: &str) -> Result<(String, Session), Reply> {
    let api = req.path.starts_with("/api/");
    let from = req.from.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    ctx.auth.login(name, password, from).map_err(|e| {
        let (code, msg) = match e {
            LoginError::Refused => (401, "wrong name or password"),
            LoginError::TooMany => (429, "too many failed logins: wait a minute"),
            LoginError::NoToken => (500, "no randomness for a session token"),
        };
        tracing::warn!("Console: login of {name:?} from {from} refused ({msg}).");
        if api {
            Reply::json(code, &json!({ "error": msg }))
        } else {
            Reply::html(code, pages::login(Some(msg)))
        }
    })
}

fn login_form(ctx: &Ctx, req: &Req) -> Reply {
    let f = form(std::str::from_utf8(&req.body).unwrap_or("")).unwrap_or_default();
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    match login(ctx, req, get("name"), get("password")) {
        Ok((token, _)) => {
            let mut r = Reply::redirect("/");
            r.headers
                .push(("Set-Cookie", cookie(ctx, &token, ctx.auth.ttl().as_secs())));
            r
        }
        Err(r) => r,
    }
}

fn login_api(ctx: &Ctx, req: &Req) -> Reply {
    #[derive(serde::Deserialize)]
    struct Body {
        name: String,
        password: String,
    }
    let Ok(b) = serde_json::from_slice::<Body>(&req.body) else {
        return Reply::error(400, true, "expected {\"name\": ..., \"password\": ...}");
    };
    match login(ctx, req, &b.name, &b.password) {
        Ok((token, s)) => {
            let mut r = Reply::json(
                200,
                &json!({ "user": s.user, "role": s.role, "csrf": s.csrf }),
            );
            r.headers
                .push(("Set-Cookie", cookie(ctx, &token, ctx.auth.ttl().as_secs())));
            r
        }
        Err(r) => r,
    }
}

fn decide(ctx: &Ctx, s: &Session, req: &Req, id: &str, verb: &str) -> Result<(), Reply> {
    let api = req.path.starts_with("/api/");
    let action = match verb {
        "learn" => Action::Learn,
        "mute" => Action::Mute,
        "unmute" => Action::Unmute,
        _ => return Err(Reply::error(404, api, "no such action")),
    };
    if s.role != ConsoleRole::Operator {
        return Err(Reply::error(403, api, "viewers cannot triage alerts"));
    }
    ctx.state
        .decide(id, action, &s.user, s.role, req.from)
        .map_err(|e| match e {
            Refused::Unknown => Reply::error(404, api, "no such alert"),
            Refused::Busy => Reply::error(503, api, "decisions are queued: try again"),
        })
}

/// The evidence pcap of an alert: the file named in its record, inside the evidence
/// directory (the URL names only the alert).
fn evidence(ctx: &Ctx, snap: &super::state::Snapshot, id: &str) -> Reply {
    let not_found = || Reply::error(404, false, "no evidence for this alert");
    let (Some(dir), Some(a)) = (&ctx.state.evidence_dir, snap.alert(id)) else {
        return not_found();
    };
    let Some(name) = a.evidence.pcap.as_deref() else {
        return not_found();
    };
    let (Ok(dir), Ok(file)) = (
        std::fs::canonicalize(dir),
        std::fs::canonicalize(dir.join(name)),
    ) else {
        return not_found();
    };
    if !file.starts_with(&dir) {
        return not_found();
    }
    match std::fs::read(&file) {
        Ok(body) => Reply {
            code: 200,
            ctype: "application/vnd.tcpdump.pcap",
            body,
            headers: vec![(
                "Content-Disposition",
                format!("attachment; filename=\"otsensor-{}.pcap\"", a.id),
            )],
        },
        Err(_) => not_found(),
    }
}

/// `POST /baseline/approve|suppress` (form field `selector`) and the same under `/api/`
/// (JSON `{"selector": ...}`): operators only.
fn curate(ctx: &Ctx, s: &Session, req: &Req, verb: &str) -> Reply {
    use otsensor_baselines::baseline::State;
    let api = req.path.starts_with("/api/");
    let state = match verb {
        "approve" => State::Approved,
        "suppress" => State::Suppressed,
        _ => return Reply::error(404, api, "no such action"),
    };
    if s.role != ConsoleRole::Operator {
        return Reply::error(403, api, "viewers cannot curate the baseline");
    }
    let selector = if api {
        #[derive(serde::Deserialize)]
        struct Body {
            selector: String,
        }
        match serde_json::from_slice::<Body>(&req.body) {
            Ok(b) => b.selector,
            Err(_) => return Reply::error(400, true, "expected {\"selector\": ...}"),
        }
    } else {
        form(std::str::from_utf8(&req.body).unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "selector")
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    match ctx.state.curate(&selector, state, &s.user, req.from) {
        Ok(n) if api => Reply::json(200, &json!({ "selector": selector, "changed": n })),
        Ok(n) => Reply::redirect(&format!("/baseline?changed={n}")),
        Err(e) => Reply::error(400, api, &e),
    }
}
