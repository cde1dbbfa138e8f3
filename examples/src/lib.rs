//! Runnable examples for the scim-rs workspace; the binaries live in `src/bin`. This library
//! holds what they share: command-line parsing and token generation, tested here.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

/// The README's code blocks, compiled and run as doc tests so the README stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The command line of `scim-server`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// `--bind ADDR`: where to listen (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `--token TOKEN`, else `SCIM_TOKEN`; `None`: generate one.
    pub token: Option<String>,
    /// `--public-url URL`: the base of `Location` headers (default: from the `Host` header).
    pub public_url: Option<String>,
}

impl Args {
    /// The usage text.
    pub const USAGE: &'static str = "\
usage: scim-server [--bind ADDR] [--token TOKEN] [--public-url URL]

  --bind ADDR        address to listen on (default 127.0.0.1:8080; port 0 picks a free one)
  --token TOKEN      bearer token clients must send (default: $SCIM_TOKEN, else a generated
                     token printed once at start)
  --public-url URL   base URL for Location headers, e.g. https://scim.example.com
  -h, --help         this text

SCIM 2.0 is served at /scim/v2, SCIM 1.1 at /scim/v1. RUST_LOG sets the log level.";

    /// Parses the arguments (without the program name); `env_token` is `SCIM_TOKEN`.
    /// `Ok(None)` means help was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env_token: Option<String>,
    ) -> Result<Option<Args>, String> {
        let mut bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let mut token = None;
        let mut public_url = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--bind" => {
                    let v = value("--bind")?;
                    bind = v.parse().map_err(|e| {
                        format!("--bind {v:?} is not an address like 127.0.0.1:8080: {e}")
                    })?;
                }
                "--token" => {
                    let v = value("--token")?;
                    if v.is_empty() {
                        return Err("--token must not be empty".to_owned());
                    }
                    token = Some(v);
                }
                "--public-url" => {
                    let v = value("--public-url")?;
                    if !(v.starts_with("http://") || v.starts_with("https://")) {
                        return Err(format!(
                            "--public-url {v:?} must start with http:// or https://"
                        ));
                    }
                    public_url = Some(v.trim_end_matches('/').to_owned());
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let token = token.or(env_token.filter(|t| !t.is_empty()));
        Ok(Some(Args {
            bind,
            token,
            public_url,
        }))
    }
}

/// A random bearer token: 32 hex digits (128 bits).
///
/// The bits come from `RandomState`, whose keys the standard library draws from the operating
/// system's random source, so no extra dependency is needed for a token printed once at start.
pub fn random_token() -> String {
    let a = RandomState::new().hash_one(std::process::id());
    let b = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Option<Args>, String> {
        Args::parse(args.iter().map(|s| (*s).to_owned()), env.map(str::to_owned))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[], None).unwrap().unwrap();
        assert_eq!(a.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(a.token, None);
        let a = parse(
            &[
                "--bind",
                "0.0.0.0:9000",
                "--token=s3cret",
                "--public-url",
                "https://x.example/",
            ],
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(a.token.as_deref(), Some("s3cret"));
        assert_eq!(a.public_url.as_deref(), Some("https://x.example"));
    }

    #[test]
    fn token_from_the_environment_unless_given() {
        let a = parse(&[], Some("from-env")).unwrap().unwrap();
        assert_eq!(a.token.as_deref(), Some("from-env"));
        let a = parse(&["--token", "flag"], Some("from-env"))
            .unwrap()
            .unwrap();
        assert_eq!(a.token.as_deref(), Some("flag"));
        let a = parse(&[], Some("")).unwrap().unwrap();
        assert_eq!(a.token, None, "an empty SCIM_TOKEN means none");
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert!(parse(&["--help"], None).unwrap().is_none());
        let e = parse(&["--bind", "localhost"], None).unwrap_err();
        assert!(e.contains("--bind") && e.contains("localhost"), "{e}");
        assert_eq!(
            parse(&["--token"], None).unwrap_err(),
            "--token needs a value"
        );
        assert!(parse(&["--token", ""], None).unwrap_err().contains("empty"));
        assert!(parse(&["--frob"], None).unwrap_err().contains("--frob"));
        assert!(
            parse(&["--public-url", "ftp://x"], None)
                .unwrap_err()
                .contains("http")
        );
    }

    #[test]
    fn tokens_are_long_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
