//! Browser sessions of the admin page: a random session id in an `HttpOnly`, `SameSite=Strict`
//! cookie, each with its own random CSRF token for the page's forms. The admin token itself is
//! sent once, in the login form's body, and is never put in a cookie or a URL.

use std::fmt::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "scim_admin_session";

/// How long a session lasts after it was opened, used or not.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The most sessions kept at once: one more signs the oldest out, so logins cannot grow
/// memory without bound.
pub const MAX_SESSIONS: usize = 64;

struct Session {
    id: String,
    csrf: String,
    opened: Instant,
}

/// The open sessions.
pub(crate) struct Sessions {
    open: Mutex<Vec<Session>>,
    ttl: Duration,
}

impl Sessions {
    pub(crate) fn new(ttl: Duration) -> Self {
        Sessions {
            open: Mutex::new(Vec::new()),
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Session>> {
        // A list of plain values stays consistent after a panic elsewhere.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a session: `(id, csrf token)`; `None` when the operating system gave no random
    /// bytes.
    pub(crate) fn open(&self) -> Option<(String, String)> {
        let id = random_secret()?;
        let csrf = random_secret()?;
        let mut open = self.lock();
        let ttl = self.ttl;
        open.retain(|s| s.opened.elapsed() < ttl);
        if open.len() >= MAX_SESSIONS {
            // Oldest first: they were pushed in order.
            open.remove(0);
        }
        open.push(Session {
            id: id.clone(),
            csrf: csrf.clone(),
            opened: Instant::now(),
        });
        Some((id, csrf))
    }

    /// The CSRF token of the live session `id`, if any. Every session is compared, each in
    /// constant time, so the answer's timing says nothing about how close `id` came.
    pub(crate) fn csrf_of(&self, id: &str) -> Option<String> {
        let open = self.lock();
        let mut found = None;
        for s in open.iter() {
            if constant_time_eq(s.id.as_bytes(), id.as_bytes()) && s.opened.elapsed() < self.ttl {
                found = Some(s.csrf.clone());
            }
        }
        found
    }

    /// Closes the session `id` (signing out).
    pub(crate) fn close(&self, id: &str) {
        self.lock()
            .retain(|s| !constant_time_eq(s.id.as_bytes(), id.as_bytes()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// 256 bits from the operating system's random source, as 64 hex digits.
fn random_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session id in a `Cookie` header's value, if it holds ours.
pub(crate) fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_find_and_close() {
        let sessions = Sessions::new(SESSION_TTL);
        let (id, csrf) = sessions.open().unwrap_or_default();
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        assert_eq!(sessions.csrf_of(&id).as_deref(), Some(csrf.as_str()));
        assert_eq!(sessions.csrf_of("nope"), None);
        assert_eq!(sessions.csrf_of(""), None);
        sessions.close(&id);
        assert_eq!(sessions.csrf_of(&id), None);
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let expired = Sessions::new(Duration::ZERO);
        let (id, _) = expired.open().unwrap_or_default();
        assert_eq!(
            expired.csrf_of(&id),
            None,
            "a session past its time is refused"
        );
        let sessions = Sessions::new(SESSION_TTL);
        let (first, _) = sessions.open().unwrap_or_default();
        for _ in 0..MAX_SESSIONS {
            let _ = sessions.open();
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert_eq!(sessions.csrf_of(&first), None, "the oldest was signed out");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(
            session_cookie("a=1; scim_admin_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(session_cookie("scim_admin_session="), None);
        assert_eq!(session_cookie("xscim_admin_session=abc"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
