//! Runnable examples for the scim-rs workspace; the binaries live in `src/bin`. This library
//! holds what they share, tested here: command-line parsing and token generation, logging and
//! shutdown around axum ([`glue`]), `atlassian-bridge`'s configuration ([`bridge`]), its per-tenant dispatch
//! ([`tenants`]), its target's client ([`target`]), its bound on calls in flight to the target ([`bounded`]), its admin web page
//! ([`admin`]), own directory sync ([`bridge_sync`]) and inactive-user cleanup
//! ([`bridge_cleanup`]), the `sync` binary
//! ([`sync`]), the database both share between instances ([`shared`]), and the "add SCIM to your
//! own app" example ([`own_app`]).

pub mod admin;
pub mod bounded;
pub mod bridge;
pub mod bridge_cleanup;
pub mod bridge_sync;
pub mod glue;
pub mod own_app;
pub mod shared;
pub mod sync;
pub mod target;
pub mod tenants;

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

/// Every binary of this package (the example server, the bridge, the HTTP bench) allocates
/// through mimalloc: with the system allocator, tokio's worker threads contended on glibc's
/// arena locks, and a SCIM GET over HTTP cost about 20 µs of CPU against 16 µs with mimalloc
/// (BENCHMARKS.md, "Over HTTP"). The library crates leave the allocator to their users.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// `--db URL`: where the directory lives: `sqlite://PATH`, `postgres://...`, or `memory`
    /// (default [`Args::DEFAULT_DB`]).
    pub db: String,
}

impl Args {
    /// The usage text.
    pub const USAGE: &'static str = "\
usage: scim-server [--bind ADDR] [--token TOKEN] [--public-url URL] [--db URL]

  --bind ADDR        address to listen on (default 127.0.0.1:8080; port 0 picks a free one)
  --token TOKEN      bearer token clients must send (default: $SCIM_TOKEN, else a generated
                     token printed once at start)
  --public-url URL   base URL for Location headers, e.g. https://scim.example.com
  --db URL           where users and groups are kept: sqlite://PATH (created on first start),
                     postgres://USER:PASSWORD@HOST/DB, or memory (lost on exit)
                     (default sqlite://./scim.db)
  -h, --help         this text

SCIM 2.0 is served at /scim/v2, SCIM 1.1 at /scim/v1. RUST_LOG sets the log level.";

    /// The default `--db`: a SQLite file in the working directory, so data survives restarts.
    pub const DEFAULT_DB: &'static str = "sqlite://./scim.db";

    /// Parses the arguments (without the program name); `env_token` is `SCIM_TOKEN`.
    /// `Ok(None)` means help was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env_token: Option<String>,
    ) -> Result<Option<Args>, String> {
        let mut bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let mut token = None;
        let mut public_url = None;
        let mut db = Args::DEFAULT_DB.to_owned();
        let mut flags = Flags::new(args);
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--bind" => bind = parse_bind(&flags.value("--bind")?)?,
                "--token" => {
                    let v = flags.value("--token")?;
                    if v.is_empty() {
                        return Err("--token must not be empty".to_owned());
                    }
                    token = Some(v);
                }
                "--public-url" => {
                    public_url = Some(parse_public_url(&flags.value("--public-url")?)?);
                }
                "--db" => db = parse_db(&flags.value("--db")?)?,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let token = token.or(env_token.filter(|t| !t.is_empty()));
        Ok(Some(Args {
            bind,
            token,
            public_url,
            db,
        }))
    }
}

/// `url` with any password replaced by `***`, for logs and error messages.
///
/// ```
/// assert_eq!(scim_examples::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
/// assert_eq!(scim_examples::redact_url("sqlite://./scim.db"), "sqlite://./scim.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Whether `v` is a database URL scim-sql opens: `sqlite:` or `postgres:`/`postgresql:`.
pub fn is_db_url(v: &str) -> bool {
    v.starts_with("sqlite:") || v.starts_with("postgres:") || v.starts_with("postgresql:")
}

/// `--db`: `memory`, or a `sqlite:` or `postgres:` URL.
fn parse_db(v: &str) -> Result<String, String> {
    if v == "memory" || is_db_url(v) {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "--db {v:?}: expected sqlite://PATH, postgres://USER:PASSWORD@HOST/DB or memory"
        ))
    }
}

/// Command-line flags one at a time: `--flag value` and `--flag=value` alike.
#[derive(Debug)]
pub struct Flags<I> {
    args: I,
    inline: Option<String>,
}

impl<I: Iterator<Item = String>> Flags<I> {
    /// Reads `args` (without the program name).
    pub fn new(args: impl IntoIterator<IntoIter = I>) -> Self {
        Flags {
            args: args.into_iter(),
            inline: None,
        }
    }

    /// The next flag (`--bind`), or any other argument as it is.
    pub fn next_flag(&mut self) -> Option<String> {
        let arg = self.args.next()?;
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.inline = Some(value.to_owned());
                Some(flag.to_owned())
            }
            _ => {
                self.inline = None;
                Some(arg)
            }
        }
    }

    /// The current flag's value: after `=`, else the next argument.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    /// Refuses a value given to a switch (`--simulate=yes`).
    pub fn no_value(&mut self, flag: &str) -> Result<(), String> {
        match self.inline.take() {
            Some(_) => Err(format!("{flag} takes no value")),
            None => Ok(()),
        }
    }
}

/// `--bind`'s value as a socket address.
pub fn parse_bind(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|e| format!("--bind {value:?} is not an address like 127.0.0.1:8080: {e}"))
}

/// `--public-url`'s value: an `http(s)://` origin, without a trailing slash.
pub fn parse_public_url(value: &str) -> Result<String, String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "--public-url {value:?} must start with http:// or https://"
        ))
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
        assert_eq!(a.db, "sqlite://./scim.db");
        let a = parse(&["--db", "memory"], None).unwrap().unwrap();
        assert_eq!(a.db, "memory");
        let a = parse(&["--db=postgres://u:p@h/d"], None).unwrap().unwrap();
        assert_eq!(a.db, "postgres://u:p@h/d");
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
            parse(&["--db", "mysql://x"], None)
                .unwrap_err()
                .contains("mysql://x")
        );
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
