//! [`Credentials`] for an Atlassian Data Center product, kept out of `Debug` output and logs.

use std::fmt;

use http::HeaderValue;

/// How requests authenticate: an administrator's user name and password (HTTP Basic), or a
/// personal access token (`Authorization: Bearer`).
///
/// `Debug` shows the kind and the user name only.
#[derive(Clone)]
pub struct Credentials(Kind);

#[derive(Clone)]
enum Kind {
    Basic { user: String, password: String },
    Bearer(String),
}

impl Credentials {
    /// HTTP Basic with an administrator's user name and password.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials(Kind::Basic {
            user: user.into(),
            password: password.into(),
        })
    }

    /// A personal access token, sent as `Authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials(Kind::Bearer(token.into()))
    }

    /// The `Authorization` header value, marked sensitive so `http` never prints it; `None`
    /// when the credentials hold characters a header cannot carry.
    pub fn header_value(&self) -> Option<HeaderValue> {
        let text = self.header_text();
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    fn header_text(&self) -> String {
        match &self.0 {
            Kind::Basic { user, password } => {
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
            }
            Kind::Bearer(token) => format!("Bearer {token}"),
        }
    }

    /// Whether an `Authorization` header carries these credentials, compared in constant time
    /// (for the length of the expected value) so a simulator or server reveals nothing by timing.
    pub fn matches_header(&self, header: &[u8]) -> bool {
        let want = self.header_text();
        let want = want.as_bytes();
        let mut diff = u8::from(want.len() != header.len());
        for (i, w) in want.iter().enumerate() {
            diff |= w ^ header.get(i).copied().unwrap_or(0);
        }
        diff == 0
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Kind::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// Standard base64 with padding: the one encoding Basic auth needs, not worth a dependency.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let idx = ((n >> shift) & 0x3f) as usize;
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let basic = format!("{:?}", Credentials::basic("admin", "hunter2"));
        assert!(
            basic.contains("admin") && !basic.contains("hunter2"),
            "{basic}"
        );
        let pat = format!("{:?}", Credentials::bearer("secret-pat"));
        assert!(!pat.contains("secret-pat"), "{pat}");
    }

    #[test]
    fn header_round_trip() {
        let c = Credentials::basic("admin", "pw");
        let h = c.header_value().unwrap();
        assert!(h.is_sensitive());
        assert!(c.matches_header(h.as_bytes()));
        assert!(!c.matches_header(b"Basic YWRtaW46cHg="));
        assert!(!Credentials::bearer("a").matches_header(b"Bearer ab"));
    }
}
