#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ for the cargo-fuzz targets.
#
# fuzz/corpus/ is gitignored, so the seeds are generated at run time from the
# project's test data (scim-filter/tests/data: filters/*.jsonl, paths/*.jsonl;
# scim-core/tests/data: rfc-examples/*.json, idp-traffic/*.json, patch/), plus a
# few built-in seeds so the script works without it. Files are named by the SHA-1 of their contents, as
# libFuzzer names its own, so running this again adds nothing twice and never
# removes what the fuzzer has found.
#
# Usage: fuzz/seed.sh [CORPUS_DIR...]
#   (default: <project>/scim-filter/tests/data <project>/scim-core/tests/data)
set -euo pipefail

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -eq 0 ]; then
    set -- "$fuzz_dir/../scim-filter/tests/data" "$fuzz_dir/../scim-core/tests/data"
fi

python3 - "$fuzz_dir" "$@" <<'EOF'
import hashlib, json, os, sys
from pathlib import Path

fuzz_dir, roots = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]

def sglob(pattern):
    return sorted(f for root in roots for f in root.glob(pattern))

def read_jsonl(pattern):
    out = []
    for f in (sglob(pattern)):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                s = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"seed.sh: skipping {f}:{n}: {e}", file=sys.stderr)
                continue
            if isinstance(s, str):
                out.append(s)
    return out

builtin_filters = [
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    'title pr and userType eq "Employee"',
    'not (emails co "example.com")',
    'emails[type eq "work" and value co "@example.com"]',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
    'active eq true or age ge 21.5 or manager eq null',
    'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
]
builtin_paths = [
    'members',
    'name.familyName',
    'emails[type eq "work"].value',
    'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    'addresses[type eq "work"].streetAddress',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
]
builtin_docs = [
    {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "2819c223",
     "userName": "bjensen", "active": True, "name": {"familyName": "Jensen", "givenName": "Barbara"},
     "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                {"value": "babs@jensen.org", "type": "home"}],
     "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"},
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984",
        "manager": {"value": "26118915"}}},
    {"displayName": "Group", "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"}]},
    [1, "a", None, {"a": {"b": [{"c": 1.5e3}]}}],
]

filters = read_jsonl("filters/*.jsonl")
paths = read_jsonl("paths/*.jsonl")
valid_filters = read_jsonl("filters/valid.jsonl")
docs = []
for f in (sglob("rfc-examples/*.json")):
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        continue
    # Keep seeds under the -max_len that .ci/run gives filter_eval (8192):
    # libFuzzer truncates longer inputs, which would cut the JSON.
    if len(json.dumps(doc, separators=(",", ":"))) <= 7000:
        docs.append(doc)

def write(target, seeds):
    d = fuzz_dir / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in seeds:
        b = s if isinstance(s, bytes) else s.encode("utf-8")
        p = d / hashlib.sha1(b).hexdigest()
        if not p.exists():
            p.write_bytes(b)
            n += 1
    print(f"seed.sh: {target}: {n} new, {len(os.listdir(d))} in {d}")

write("filter_parse", builtin_filters + filters)
# A path's value filter is a filter, so valid filters make useful path seeds too.
write("path_parse", builtin_paths + paths + [f"emails[{f}]" for f in valid_filters[:10]])

# filter_eval: FILTER \0 JSON. Every filter once with a small built-in doc
# (round robin), and every document once with a few filters.
all_filters = builtin_filters + valid_filters
all_docs = [json.dumps(d, separators=(",", ":")) for d in builtin_docs + docs]
evals = []
for i, f in enumerate(all_filters):
    evals.append(f.encode() + b"\0" + all_docs[i % len(builtin_docs)].encode())
for i, d in enumerate(all_docs):
    for f in all_filters[i % len(all_filters)::max(1, len(all_filters) // 3)][:3]:
        evals.append(f.encode() + b"\0" + d.encode())
write("filter_eval", evals)

# resource_decode: the RFC examples and recorded IdP traffic, whole documents.
raw_docs = [f.read_bytes() for d in ("rfc-examples", "idp-traffic") for f in (sglob(d + "/*.json"))]
write("resource_decode", [b for b in raw_docs if len(b) <= 8192] + [b'{"userName":"bjensen","ACTIVE":"True"}'])

# patch_apply: the PATCH bodies IdPs send (idp-quirks.jsonl) and the RFC PatchOp examples.
quirks = []
for qfile in sglob("patch/idp-quirks.jsonl"):
    for line in qfile.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                quirks.append(json.dumps(json.loads(line)["body"]).encode())
            except (json.JSONDecodeError, KeyError):
                pass
rfc_patches = [f.read_bytes() for f in (sglob("rfc-examples/rfc7644-3.5.2*.json"))]
write("patch_apply", quirks + rfc_patches + [b'{"Operations":[{"op":"Replace","value":{"active":false}}]}'])

# bulk_decode: the RFC bulk requests and responses, and a request whose group refers to a user by
# bulkId in its path, its members and a $ref.
rfc_bulk = [f.read_bytes() for f in (sglob("rfc-examples/rfc7644-3.7*bulk*.json"))]
write("bulk_decode", rfc_bulk + [
    b'{"operations":[{"method":"patch","path":"/Groups/bulkId:g","data":[{"op":"add","path":"members","value":[{"value":"bulkId:u","$ref":"/Users/bulkId:u"}]}]},'
    b'{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"g"}},{"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"u"}}]}',
])

# service_request: METHOD TARGET, header lines, a blank line, the body. The recorded IdP
# requests, their paths under /scim/v2 with the ids swapped for {uid}/{gid} (the users and
# groups the target creates first), plus a few hand-written ones.
import re
ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\b[0-9a-f]{20}\b")
reqs = []
for f in (sglob("idp-traffic/*.json")):
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        continue
    if not isinstance(d, dict) or "method" not in d or "path" not in d:
        continue
    path = str(d["path"])
    placeholder = "{gid}" if "/Groups" in path else "{uid}"
    path = ID.sub(placeholder, path).replace(" ", "%20").replace('"', "%22")
    if not path.startswith("/scim/"):
        path = "/scim/v2" + (path if path.startswith("/") else "/" + path)
    body = json.dumps(d["request"]) if "request" in d else ""
    body = ID.sub("{uid}", body)
    reqs.append(f"{d['method']} {path}\nContent-Type: application/scim+json\n\n{body}")
reqs += [
    "GET /scim/v2/Users?filter=userName%20eq%20%22bjensen%22&count=1",
    "GET /scim/v2/Groups/{gid}?excludedAttributes=members",
    "GET /scim/v1/Users?filter=userName%20eq%20%22bjensen%22",
    "GET /scim/v2/ResourceTypes/User",
    "POST /scim/v2/Users/.search\nContent-Type: application/json\n\n{\"filter\":\"emails[type eq \\\"work\\\"]\",\"sortBy\":\"userName\"}",
    "DELETE /scim/v2/Users/{uid}",
]
write("service_request", reqs)
EOF
