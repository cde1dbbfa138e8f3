//! Replays seed inputs through the fuzz-target bodies as an ordinary test, on
//! the stable compiler and without libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.
//!
//! Inputs: every file under `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`
//! (when present), plus the strings of scim-filter's `tests/data/{filters,paths}/*.jsonl`.

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's test data: the filter and path corpora are scim-filter's, the RFC examples,
/// recorded IdP traffic and PATCH bodies scim-core's.
fn test_data(sub: &str) -> PathBuf {
    let krate = if sub.starts_with("filters") || sub.starts_with("paths") {
        "scim-filter"
    } else {
        "scim-core"
    };
    fuzz_dir()
        .join("..")
        .join(krate)
        .join("tests/data")
        .join(sub)
}

/// The JSON-encoded strings of every `*.jsonl` file in `dir` (`#` lines are comments).
fn jsonl_strings(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for file in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        let text = fs::read_to_string(file).unwrap();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Ok(serde_json::Value::String(s)) = serde_json::from_str(line) {
                out.push(s.into_bytes());
            }
        }
    }
    out
}

/// Every file in `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`.
fn corpus_files(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["corpus", "artifacts"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(sub).join(target)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            if e.path().is_file() {
                out.push(fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn replay(target: &str, body: fn(&[u8]), extra: Vec<Vec<u8>>) {
    let inputs: Vec<_> = corpus_files(target).into_iter().chain(extra).collect();
    for input in &inputs {
        body(input);
    }
    eprintln!("{target}: replayed {} inputs", inputs.len());
}

#[test]
fn filter_parse() {
    let extra = jsonl_strings(&test_data("filters"));
    replay("filter_parse", scim_filter_fuzz::filter_parse, extra);
}

#[test]
fn path_parse() {
    let extra = jsonl_strings(&test_data("paths"));
    replay("path_parse", scim_filter_fuzz::path_parse, extra);
}

#[test]
fn filter_eval() {
    let doc = br#"{"userName":"bjensen","emails":[{"value":"b@example.com","type":"work"}]}"#;
    let extra = jsonl_strings(&test_data("filters"))
        .into_iter()
        .map(|mut f| {
            f.push(0);
            f.extend_from_slice(doc);
            f
        })
        .collect();
    replay("filter_eval", scim_filter_fuzz::filter_eval, extra);
}

/// Every JSON document of the shared RFC examples and recorded IdP traffic, as bytes.
fn shared_json_docs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["rfc-examples", "idp-traffic"] {
        let Ok(entries) = fs::read_dir(test_data(dir)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            out.push(fs::read(e.path()).unwrap());
        }
    }
    out
}

/// The PATCH bodies of `patch/idp-quirks.jsonl` (field `body` of each line).
fn idp_quirk_patches() -> Vec<Vec<u8>> {
    let text = fs::read_to_string(test_data("patch/idp-quirks.jsonl")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("body").map(|b| serde_json::to_vec(b).unwrap()))
        .collect()
}

#[test]
fn resource_decode() {
    replay(
        "resource_decode",
        scim_filter_fuzz::resource_decode,
        shared_json_docs(),
    );
}

#[test]
fn patch_apply() {
    let mut extra = idp_quirk_patches();
    assert!(extra.len() >= 15, "the IdP quirk PATCH bodies are missing");
    extra.extend(shared_json_docs());
    replay("patch_apply", scim_filter_fuzz::patch_apply, extra);
}

/// Requests an identity provider makes, plus malformed ones, as `service_request` inputs.
fn service_requests() -> Vec<Vec<u8>> {
    let json = "Content-Type: application/scim+json";
    let user = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","emails":[{"value":"a@example.com","primary":"True"}]}"#;
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#;
    let members =
        r#"{"Operations":[{"op":"remove","path":"members","value":[{"value":"{uid}"}]}]}"#;
    let bulk = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"bob"}},{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:a"}]}}]}"#;
    [
        "GET /scim/v2/Users".to_owned(),
        "GET /scim/v2/Users/{uid}".to_owned(),
        "GET /scim/v2/Users?filter=userName%20eq%20%22BJENSEN%22&attributes=userName".to_owned(),
        "GET /scim/v2/Users?filter=userName%20eq&startIndex=x".to_owned(),
        "GET /scim/v2/Groups?sortBy=displayName&count=0".to_owned(),
        format!("POST /scim/v2/Users\n{json}\n\n{user}"),
        format!("POST /scim/v2/Users\n{json}\n\n{{\"userName\": "),
        format!("POST /scim/v2/Users\nContent-Type: text/plain\n\n{user}"),
        format!("PUT /scim/v2/Users/{{uid}}\n{json}\n\n{user}"),
        format!("PATCH /scim/v2/Users/{{uid}}\n{json}\n\n{patch}"),
        format!("PATCH /scim/v2/Groups/{{gid}}\n{json}\n\n{members}"),
        format!("POST /scim/v2/Bulk\n{json}\n\n{bulk}"),
        format!("POST /scim/v2/.search\n{json}\n\n{{\"filter\":\"userName pr\"}}"),
        "DELETE /scim/v2/Groups/{gid}\nIf-Match: W/\"0\"".to_owned(),
        "GET /scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".to_owned(),
        "GET /scim/v1/Users/{uid}".to_owned(),
        "TRACE /scim/v2/Users".to_owned(),
        "GET /scim/v2/Me".to_owned(),
        // Found by the fuzzer: an unknown method under the SCIM 1.1 base path (a 405 whose
        // error body has the 1.1 shape).
        "seT /scim/v1/Users?filter=userName%20eq%20%22bjensen%22".to_owned(),
        // A path that only starts like the 1.1 base path is answered in the 2.0 shape.
        "GET /scim/v1ers?filter=userName".to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

#[test]
fn service_request() {
    replay(
        "service_request",
        scim_filter_fuzz::service_request,
        service_requests(),
    );
}

#[test]
fn bulk_decode() {
    replay(
        "bulk_decode",
        scim_filter_fuzz::bulk_decode,
        shared_json_docs(),
    );
}
