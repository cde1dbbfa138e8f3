//! Fuzz-target bodies for `scim-filter` and `scim-core`.
//!
//! Each `fuzz_targets/*.rs` binary is a one-line `fuzz_target!` that calls one
//! of the functions here, so the same checks can be replayed over a corpus as
//! an ordinary `cargo test` (see `tests/replay.rs`) without libFuzzer or a
//! nightly compiler.

use scim_filter::{AttrPath, Filter, ParseError, Parser, PatchPath};
use serde_json::Value;

/// Checks what every parse error must satisfy.
fn check_error(what: &str, input: &str, err: &ParseError) {
    let offset = err.offset();
    assert!(
        offset <= input.len(),
        "{what}: error offset {offset} > input length {} for {input:?}",
        input.len()
    );
    let msg = err.to_string();
    assert!(!msg.is_empty(), "{what}: empty error message for {input:?}");
}

/// Parses `input` with `parse` and `parser`; on success checks the round trip through the
/// canonical form with the same parser and with the strict one, and that the canonical form is a
/// fixed point. `what` names the kind of input in messages.
fn round_trip<T: PartialEq + std::fmt::Debug + std::fmt::Display>(
    name: &str,
    what: &str,
    parser: &Parser,
    input: &str,
    parse: impl Fn(&Parser, &str) -> Result<T, ParseError>,
) -> Option<T> {
    match parse(parser, input) {
        Ok(f) => {
            let canon = f.to_string();
            let again = parse(parser, &canon).unwrap_or_else(|e| {
                panic!("{name}: canonical {what} {canon:?} of {input:?} does not re-parse: {e}")
            });
            assert_eq!(
                again, f,
                "{name}: parse(display(x)) != x for {what} {input:?}, canonical {canon:?}"
            );
            let strict = parse(&Parser::strict(), &canon).unwrap_or_else(|e| {
                panic!("{name}: canonical {what} {canon:?} of {input:?} is not strict-valid: {e}")
            });
            assert_eq!(
                strict, f,
                "{name}: strict parse of canonical {what} differs, input {input:?}, canonical {canon:?}"
            );
            assert_eq!(
                again.to_string(),
                canon,
                "{name}: canonical {what} is not a fixed point, input {input:?}"
            );
            Some(f)
        }
        Err(e) => {
            check_error(name, input, &e);
            None
        }
    }
}

fn filter_with(name: &str, parser: &Parser, input: &str) -> Option<Filter> {
    round_trip(name, "filter", parser, input, Parser::parse_filter)
}

/// `filter_parse` target: strict and lenient filter parsing, round trips,
/// error offsets, and `FromStr` agreeing with the lenient parser.
///
/// # Panics
///
/// When any of those properties fails for `data`: that is a finding.
pub fn filter_parse(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let strict = filter_with("strict", &Parser::strict(), input);
    let lenient = filter_with("lenient", &Parser::lenient(), input);
    // Lenient mode only adds forms; it never refuses what the ABNF allows.
    assert!(
        strict.is_none() || lenient.is_some(),
        "strict accepts {input:?} but lenient rejects it"
    );
    match input.parse::<Filter>() {
        Ok(f) => assert_eq!(
            Some(&f),
            lenient.as_ref(),
            "FromStr and Parser::lenient() disagree on {input:?}"
        ),
        Err(e) => {
            check_error("FromStr", input, &e);
            assert!(
                lenient.is_none(),
                "FromStr rejects {input:?} but Parser::lenient() accepts it: {e}"
            );
        }
    }
}

fn path_with(name: &str, parser: &Parser, input: &str) -> Option<PatchPath> {
    round_trip(name, "path", parser, input, Parser::parse_path)
}

/// `path_parse` target: strict and lenient PATCH path parsing with round
/// trips, `FromStr` for `PatchPath`, and the `AttrPath` round trip.
///
/// # Panics
///
/// When any of those properties fails for `data`: that is a finding.
pub fn path_parse(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let strict = path_with("strict", &Parser::strict(), input);
    let lenient = path_with("lenient", &Parser::lenient(), input);
    assert!(
        strict.is_none() || lenient.is_some(),
        "strict accepts path {input:?} but lenient rejects it"
    );

    if let Ok(p) = input.parse::<PatchPath>() {
        let canon = p.to_string();
        let again = canon.parse::<PatchPath>().unwrap_or_else(|_| {
            panic!("PatchPath: canonical form {canon:?} of {input:?} does not re-parse")
        });
        assert_eq!(again, p, "PatchPath FromStr round trip, input {input:?}");
    }

    if let Ok(a) = input.parse::<AttrPath>() {
        let canon = a.to_string();
        let again = canon.parse::<AttrPath>().unwrap_or_else(|_| {
            panic!("AttrPath: canonical form {canon:?} of {input:?} does not re-parse")
        });
        assert_eq!(again, a, "AttrPath round trip, input {input:?}");
        assert_eq!(
            again.to_string(),
            canon,
            "AttrPath canonical form is not a fixed point, input {input:?}"
        );
    }
}

/// Calls `f` on `value` and on every object nested anywhere inside it.
fn for_each_object(value: &Value, f: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(map) => {
            f(value);
            for v in map.values() {
                for_each_object(v, f);
            }
        }
        Value::Array(items) => {
            for v in items {
                for_each_object(v, f);
            }
        }
        _ => {}
    }
}

/// `filter_eval` target: input is `FILTER \0 JSON` (or `FILTER \n JSON` when
/// there is no NUL). Evaluates the filter against the value and every object
/// inside it; only panics are looked for.
pub fn filter_eval(data: &[u8]) {
    let split = data
        .iter()
        .position(|&b| b == 0)
        .or_else(|| data.iter().position(|&b| b == b'\n'));
    let Some(split) = split else {
        return;
    };
    let (filter_bytes, rest) = data.split_at(split);
    let json_bytes = rest.get(1..).unwrap_or_default();
    let Ok(filter_text) = std::str::from_utf8(filter_bytes) else {
        return;
    };
    let Ok(filter) = filter_text.parse::<Filter>() else {
        return;
    };
    let Ok(json_text) = std::str::from_utf8(json_bytes) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<Value>(json_text) else {
        return;
    };
    // Top level first, whatever its type (scalars and arrays included).
    let _ = filter.matches(&value);
    for_each_object(&value, &mut |v| {
        let _ = filter.matches(v);
    });
    // The strict reading, where it parses, must not panic either.
    if let Ok(strict) = Parser::strict().parse_filter(filter_text) {
        let _ = strict.matches(&value);
    }
}

/// Serialises `value` or panics: every decoded resource must serialise.
fn to_bytes<T: serde::Serialize>(what: &str, value: &T) -> Vec<u8> {
    serde_json::to_vec(value)
        .unwrap_or_else(|e| panic!("{what}: a decoded value does not serialise: {e}"))
}

/// Decodes `data` as `T`; on success, its output must decode again to the same output (the
/// strict output is a fixed point of lenient input).
fn decode_round_trip<T>(what: &str, data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    match scim_core::from_slice::<T>(data) {
        Ok(v) => {
            let out = to_bytes(what, &v);
            let again: T = scim_core::from_slice(&out).unwrap_or_else(|e| {
                panic!(
                    "{what}: output does not decode again: {e}: {}",
                    String::from_utf8_lossy(&out)
                )
            });
            assert_eq!(
                to_bytes(what, &again),
                out,
                "{what}: output is not a fixed point"
            );
        }
        Err(e) => {
            let status = e.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{what}: decode error with status {status}"
            );
            assert!(!e.to_string().is_empty(), "{what}: empty error message");
        }
    }
}

/// `resource_decode` target: arbitrary bytes as a `User`, a `Group` and a generic `Resource`:
/// no panic, errors are 4xx SCIM errors, and output round-trips.
///
/// # Panics
///
/// When any of those properties fails for `data`: that is a finding.
pub fn resource_decode(data: &[u8]) {
    decode_round_trip::<scim_core::User>("User", data);
    decode_round_trip::<scim_core::Group>("Group", data);
    decode_round_trip::<scim_core::Resource>("Resource", data);
    stored_user_text(data);
}

/// `data` as a stored user's text ([`scim_core::provision::UserJson`]), under the id it holds
/// (if any): taken only when it is one JSON object with that `id` and none of `groups`, `meta`
/// or `password` in any case, since the service serves the text as it is.
fn stored_user_text(data: &[u8]) {
    use scim_core::provision::UserJson;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(map) => Some(map),
        // `UserJson` skips values without serde_json's recursion limit: deeper texts are not
        // this oracle's to judge.
        Err(e) if e.to_string().contains("recursion limit") => return,
        Err(_) => None,
    };
    let id = parsed
        .as_ref()
        .and_then(|m| m.get("id"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("2819c223")
        .to_owned();
    let taken = UserJson::new(&id, text.to_owned(), Vec::new(), scim_core::Meta::default());
    let Ok(user) = taken else {
        return;
    };
    let object = parsed.unwrap_or_else(|| panic!("UserJson took a text that is not an object"));
    assert_eq!(
        object.get("id"),
        Some(&serde_json::Value::from(id.as_str()))
    );
    for key in object.keys() {
        assert!(
            !["groups", "meta", "password"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(key)),
            "UserJson took a text holding {key:?}"
        );
    }
    assert_eq!(user.id(), id);
}

/// The resources `patch_apply` patches: a user with the enterprise extension, and a group.
const PATCH_TARGETS: [&str; 2] = [
    r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
       "id":"2819c223","externalId":"701984","userName":"bjensen@example.com",
       "name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara"},
       "displayName":"Babs Jensen","active":true,
       "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
       "phoneNumbers":[{"value":"555-555-8377","type":"work"}],
       "groups":[{"value":"e9e30dba","display":"Tour Guides"}],
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915","displayName":"John Smith"}},
       "meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"a330bc54f0671c9\""}}"#,
    r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"e9e30dba","displayName":"Tour Guides",
       "members":[{"value":"2819c223","display":"Babs Jensen"},{"value":"902c246b","display":"Mandy Pepperidge"}],
       "meta":{"resourceType":"Group","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z"}}"#,
];

/// `patch_apply` target: arbitrary bytes as a `PatchOp`, applied to a fixed user and group.
/// A failed PATCH must leave the resource byte-for-byte unchanged and be a 4xx SCIM error; a
/// successful one must leave a resource that serialises and decodes again.
///
/// # Panics
///
/// When any of those properties fails for `data`: that is a finding.
pub fn patch_apply(data: &[u8]) {
    let Ok(patch) = scim_core::PatchOp::from_slice(data) else {
        return;
    };
    let schemas = scim_core::SchemaRegistry::builtin();
    for target in PATCH_TARGETS {
        let Ok(base) = scim_core::from_str::<scim_core::Resource>(target) else {
            panic!("the fixed PATCH target does not decode");
        };
        let before = to_bytes("Resource", &base);
        let mut resource = base.clone();
        match scim_core::patch::apply(&mut resource, &patch, schemas) {
            Ok(()) => {
                let out = to_bytes("patched Resource", &resource);
                if let Err(e) = scim_core::from_slice::<scim_core::Resource>(&out) {
                    panic!("a patched resource does not decode again: {e}");
                }
            }
            Err(e) => {
                let status = e.status().as_u16();
                assert!(
                    (400..500).contains(&status),
                    "PATCH error with status {status}: {e}"
                );
                assert_eq!(
                    to_bytes("Resource", &resource),
                    before,
                    "a failed PATCH ({e}) changed the resource"
                );
                assert_eq!(resource, base, "a failed PATCH ({e}) changed the resource");
            }
        }
    }
}

/// One HTTP request as text: `METHOD TARGET` on the first line, `Name: value` header lines, a
/// blank line, then the body. `{uid}` and `{gid}` in the target and body stand for the ids of a
/// user and a group that exist before the request, so the fuzzer can reach `/Users/{id}`.
///
/// Checks that [`scim_core::ScimService::handle`] answers every request without panicking, that
/// every error response (but 304) carries a SCIM error body whose `status` (a 1.1 error's
/// `code`) is the response status, that no request but `/Me` gets a 5xx, and that a request answered with an error wrote
/// nothing.
pub fn service_request(data: &[u8]) {
    use std::sync::Arc;

    use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
    use scim_core::{BearerTokens, Group, Member, ScimService, User};

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let Some((method, target)) = lines.next().and_then(|l| l.split_once(' ')) else {
        return;
    };

    let backend = Arc::new(InMemoryProvisioner::new());
    let ctx = RequestContext::new("fuzz");
    let (uid, gid) = block_on(async {
        let user = backend.create_user(&ctx, User::new("bjensen")).await;
        let uid = user.ok().and_then(|u| u.id).unwrap_or_default();
        let mut group = Group::new("Tour Guides");
        group.members = vec![Member::new(uid.clone())];
        let gid = backend
            .create_group(&ctx, group)
            .await
            .ok()
            .and_then(|g| g.id)
            .unwrap_or_default();
        (uid, gid)
    });
    let fill = |s: &str| s.replace("{uid}", &uid).replace("{gid}", &gid);

    let mut request = http::Request::builder()
        .method(method)
        .uri(fill(target))
        .header("Authorization", "Bearer fuzz-token")
        .header("Host", "scim.example.com");
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            request = request.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = request.body(fill(body).into_bytes()) else {
        return;
    };
    let is_me = request.uri().path().contains("/Me");
    let path = request.uri().path();
    let is_v1 = path == "/scim/v1" || path.starts_with("/scim/v1/");
    let is_write = request.method() != http::Method::GET;

    let service = ScimService::builder(backend.clone())
        .authenticator(Arc::new(
            BearerTokens::new().with_token("fuzz-token", "fuzz"),
        ))
        .build();
    let before = block_on(snapshot(&*backend, &ctx));
    let response = block_on(service.handle(request));
    let status = response.status();
    assert!(
        !status.is_server_error() || is_me,
        "{status} for a request that is not /Me"
    );
    if status.is_client_error() || status.is_server_error() {
        let body: serde_json::Value = serde_json::from_slice(response.body())
            .unwrap_or_else(|e| panic!("{status} without a JSON error body: {e}"));
        // SCIM 1.1 errors are `{"Errors": [{"description", "code"}]}`.
        let said = if is_v1 {
            body.pointer("/Errors/0/code")
        } else {
            body.get("status")
        };
        assert_eq!(
            said.and_then(serde_json::Value::as_str),
            Some(status.as_str()),
            "error body status"
        );
        if is_write {
            let after = block_on(snapshot(&*backend, &ctx));
            assert_eq!(before, after, "a failed request changed the directory");
        }
    }
}

/// Every user and group of the tenant, as JSON, for before/after comparisons.
async fn snapshot(
    backend: &dyn scim_core::provision::Provisioner,
    ctx: &scim_core::provision::RequestContext,
) -> (serde_json::Value, serde_json::Value) {
    let query = scim_core::provision::ListQuery::new();
    let users = backend.search_users(ctx, &query).await.ok();
    let groups = backend.search_groups(ctx, &query).await.ok();
    let json = |v: Option<Vec<serde_json::Value>>| serde_json::Value::from(v.unwrap_or_default());
    (
        json(users.map(|p| {
            p.resources
                .iter()
                .filter_map(|u| serde_json::to_value(u).ok())
                .collect()
        })),
        json(groups.map(|p| {
            p.resources
                .iter()
                .filter_map(|g| serde_json::to_value(g).ok())
                .collect()
        })),
    )
}

/// Runs a future that never waits on I/O (the in-memory backend) to completion.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Asserts that `e` is a 4xx SCIM error with a message.
fn check_scim_error(what: &str, e: &scim_core::ScimError) {
    let status = e.status().as_u16();
    assert!(
        (400..500).contains(&status),
        "{what}: error with status {status}: {e}"
    );
    assert!(!e.to_string().is_empty(), "{what}: empty error message");
}

/// `bulk_decode` target: arbitrary bytes as a `BulkRequest` and a `BulkResponse`: no panic,
/// errors are 4xx SCIM errors, output round-trips. For a request that decodes: validation,
/// execution order (a permutation that runs every referenced `bulkId` first) and `bulkId`
/// resolution (all or nothing, and nothing left to resolve afterwards).
///
/// # Panics
///
/// When any of those properties fails for `data`: that is a finding.
pub fn bulk_decode(data: &[u8]) {
    decode_round_trip::<scim_core::BulkResponse>("BulkResponse", data);
    decode_round_trip::<scim_core::BulkRequest>("BulkRequest", data);
    let Ok(request) = scim_core::from_slice::<scim_core::BulkRequest>(data) else {
        return;
    };
    if let Err(e) = request.validate() {
        check_scim_error("validate", &e);
    }
    let ops = &request.operations;
    let mut ids = std::collections::HashMap::new();
    let mut defined_at = std::collections::HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(id) = &op.bulk_id {
            ids.insert(id.clone(), format!("id-{i}"));
            defined_at.entry(id.as_str()).or_insert(i);
        }
    }
    match request.execution_order() {
        Ok(order) => {
            let mut seen = vec![false; ops.len()];
            for &i in &order {
                assert!(!seen[i], "execution order repeats {i}");
                for r in ops[i].references() {
                    if let Some(&j) = defined_at.get(r) {
                        assert!(
                            seen[j],
                            "{i} runs before {j}, whose bulkId {r} it references"
                        );
                    }
                }
                seen[i] = true;
            }
            assert!(seen.iter().all(|&s| s), "execution order misses operations");
        }
        Err(e) => check_scim_error("execution_order", &e),
    }
    for op in ops {
        let mut resolved = op.clone();
        match resolved.resolve(&ids) {
            Ok(()) => assert!(
                resolved.references().is_empty(),
                "references left after resolving {op:?}: {resolved:?}"
            ),
            Err(e) => {
                check_scim_error("resolve", &e);
                assert!(e.to_string().contains("bulkId:"), "{e}");
                assert_eq!(&resolved, op, "a failed resolution changed the operation");
            }
        }
    }
}
