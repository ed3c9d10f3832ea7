//! Console users, logins and sessions: argon2id password hashes (PHC strings), random
//! session tokens with an expiry and a CSRF token each, failed logins rate-limited per
//! client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::config::{ConsoleRole, ConsoleUser};

/// Sessions held at once; beyond, the oldest is dropped (its user logs in again).
pub const MAX_SESSIONS: usize = 1024;
/// Failed logins from one address within [`FAILURE_WINDOW`] before it must wait.
pub const MAX_FAILURES: u32 = 5;
/// How long failed logins are remembered (and an address that failed too often waits).
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses whose failures are remembered; beyond, the oldest is forgotten.
const MAX_TRACKED: usize = 4096;

/// Whether `phc` is an argon2id hash this console can verify against.
pub fn check_hash(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e})"))?;
    if h.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "algorithm {} (expected argon2id; `otsensor console hash-password` makes one)",
            h.algorithm
        ));
    }
    Ok(())
}

/// An argon2id hash of `password` with a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc`.
fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random token: 32 bytes, hex.
pub fn token() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // No randomness from the OS: refuse to make a guessable token.
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: String,
    /// What they may do.
    pub role: ConsoleRole,
    /// The token every state-changing request must carry.
    pub csrf: String,
    expires: Instant,
    created: Instant,
}

/// Why a login failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong name or password.
    Refused,
    /// Too many failures from this address: wait.
    TooMany,
    /// The system gave no randomness for a token.
    NoToken,
}

/// Users, sessions and failed logins.
pub struct Auth {
    users: Vec<ConsoleUser>,
    ttl: Duration,
    /// A hash verified for unknown names (made at the first such login: making it costs
    /// as much as a login).
    dummy: std::sync::OnceLock<String>,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Auth {
    /// For these users, sessions lasting `ttl`.
    pub fn new(users: Vec<ConsoleUser>, ttl: Duration) -> Auth {
        Auth {
            users,
            ttl,
            dummy: std::sync::OnceLock::new(),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Logs `name` in from `from`: the new session's token and the session.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        from: IpAddr,
    ) -> Result<(String, Session), LoginError> {
        let now = Instant::now();
        {
            let mut f = lock(&self.failures);
            if let Some((n, since)) = f.get(&from).copied() {
                if now.duration_since(since) >= FAILURE_WINDOW {
                    f.remove(&from);
                } else if n >= MAX_FAILURES {
                    return Err(LoginError::TooMany);
                }
            }
        }
        // A hash is verified even for an unknown name, so that timing does not tell
        // which names exist.
        let user = self.users.iter().find(|u| u.name == name);
        let ok = verify(
            password,
            user.map_or_else(
                || {
                    self.dummy
                        .get_or_init(|| hash_password(&token()).unwrap_or_default())
                        .as_str()
                },
                |u| u.password_hash.as_str(),
            ),
        );
        let Some(user) = user.filter(|_| ok) else {
            let mut f = lock(&self.failures);
            if f.len() >= MAX_TRACKED && !f.contains_key(&from) {
                if let Some(oldest) = f.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k) {
                    f.remove(&oldest);
                }
            }
            let e = f.entry(from).or_insert((0, now));
            e.0 += 1;
            return Err(LoginError::Refused);
        };
        lock(&self.failures).remove(&from);
        let (t, csrf) = (token(), token());
        if t.is_empty() || csrf.is_empty() {
            return Err(LoginError::NoToken);
        }
        let s = Session {
            user: user.name.clone(),
            role: user.role,
            csrf,
            expires: now + self.ttl,
            created: now,
        };
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(t.clone(), s.clone());
        Ok((t, s))
    }

    /// The session of `token`, if it is one and has not expired. A user removed from the
    /// config (a reload) loses their sessions; a changed role applies at once.
    pub fn session(&self, token: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        let s = sessions.get(token)?.clone();
        match self.users.iter().find(|u| u.name == s.user) {
            Some(u) if s.expires > now => Some(Session { role: u.role, ..s }),
            _ => {
                sessions.remove(token);
                None
            }
        }
    }

    /// Ends the session of `token`.
    pub fn logout(&self, token: &str) {
        lock(&self.sessions).remove(token);
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let users = vec![
            ConsoleUser {
                name: "op".into(),
                password_hash: hash_password("right").unwrap(),
                role: ConsoleRole::Operator,
            },
            ConsoleUser {
                name: "view".into(),
                password_hash: hash_password("seen").unwrap(),
                role: ConsoleRole::Viewer,
            },
        ];
        Auth::new(users, Duration::from_secs(60))
    }

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let h = hash_password("secret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        check_hash(&h).unwrap();
        assert!(verify("secret", &h));
        assert!(!verify("Secret", &h));
        assert!(check_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(check_hash("plain").is_err());
    }

    #[test]
    fn logins_give_sessions_with_their_role_and_failures_are_limited() {
        let a = auth();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (t, s) = a.login("op", "right", ip).unwrap();
        assert_eq!(s.role, ConsoleRole::Operator);
        assert_eq!(a.session(&t).unwrap().user, "op");
        assert!(a.session("nope").is_none());
        assert_eq!(
            a.login("view", "right", ip).unwrap_err(),
            LoginError::Refused
        );
        assert_eq!(a.login("ghost", "x", ip).unwrap_err(), LoginError::Refused);
        for _ in 0..MAX_FAILURES {
            let _ = a.login("op", "wrong", ip);
        }
        // Even the right password waits now, from that address only.
        assert_eq!(a.login("op", "right", ip).unwrap_err(), LoginError::TooMany);
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(a.login("view", "seen", other).is_ok());
        a.logout(&t);
        assert!(a.session(&t).is_none());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", ""));
    }
}
