//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a resource's JSON,
//! honouring each attribute's `returned` characteristic (RFC 7643 §7).
//!
//! | `returned` | no parameter | `attributes` given | `excludedAttributes` given |
//! |---|---|---|---|
//! | `always` (`id`, and `schemas`) | returned | returned | returned, even if listed |
//! | `default` | returned | only if listed | unless listed |
//! | `request` | not returned | only if listed | not returned |
//! | `never` (`password`) | never | never | never |
//!
//! Details:
//!
//! - Paths are comma-separated, case-insensitive, optionally URN-prefixed
//!   (`urn:ietf:params:scim:schemas:core:2.0:User:userName`,
//!   `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, and Entra ID's
//!   `...:2.0:User.manager`), with an optional sub-attribute (`name.givenName`, `emails.value`).
//!   A bare extension URN selects (or excludes) the whole extension.
//! - A path without a URN names a core attribute; extension attributes need their URN.
//! - Listing a sub-attribute returns the parent with that sub-attribute only (plus sub-attributes
//!   that are `returned: always`); for a multi-valued attribute this applies to every element.
//!   Listing the parent returns all of it (except `never` sub-attributes).
//! - Both parameters at once: `attributes` selects, then `excludedAttributes` removes
//!   (never removing `always` attributes).
//! - Attributes the schema does not define are treated as `returned: default`. A path naming no
//!   known attribute is not an error (it selects nothing), as servers commonly do.
//! - Complex values left empty by the projection, and extension objects left empty, are removed.
//! - A syntactically invalid path is a 400 `invalidValue` whose attribute is the parameter
//!   (`attributes` or `excludedAttributes`) and whose detail names the path. RFC 7644 defines
//!   `invalidPath` for PATCH paths only and no `scimType` for these query parameters;
//!   `invalidValue` ("the value specified was not compatible with the operation") fits best.
//!
//! ```
//! use scim_core::{projection::Projection, schema::SchemaRegistry, urn};
//! use serde_json::json;
//!
//! let mut user = json!({
//!     "schemas": [urn::USER],
//!     "id": "2819c223",
//!     "userName": "bjensen",
//!     "password": "t1meMa$heen",
//!     "name": {"givenName": "Barbara", "familyName": "Jensen"},
//!     "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
//! });
//! let p = Projection::parse(Some("userName,NAME.givenName,emails.value"), None).unwrap();
//! p.apply(&mut user, SchemaRegistry::builtin(), urn::USER);
//! assert_eq!(user, json!({
//!     "schemas": [urn::USER],
//!     "id": "2819c223",                // returned: always
//!     "userName": "bjensen",
//!     "name": {"givenName": "Barbara"},
//!     "emails": [{"value": "bjensen@example.com"}],
//! }));                                 // password: returned never
//!
//! let err = Projection::parse(None, Some("name..givenName")).unwrap_err();
//! assert!(err.detail().contains("excludedAttributes"));
//! assert!(err.detail().contains("name..givenName"));
//! ```

use scim_filter::{AttrPath, Parser};
use serde_json::{Map, Value};

use crate::de::is_urn;
use crate::error::ScimError;
use crate::schema::{AttributeDef, ResourceSchema, Returned, SchemaRegistry};

/// One parsed path of `attributes` or `excludedAttributes`.
#[derive(Clone, Debug)]
struct Selector {
    /// The whole path as written (for matching a bare extension URN).
    full: String,
    schema: Option<String>,
    name: String,
    sub: Option<String>,
}

impl Selector {
    fn parse(param: &str, text: &str) -> Result<Selector, ScimError> {
        let path: AttrPath = Parser::lenient().parse_attr_path(text).map_err(|e| {
            ScimError::invalid_value(
                param,
                format_args!(
                    "`{}` is not a valid attribute path: {e}",
                    text.escape_debug()
                ),
            )
        })?;
        Ok(Selector {
            full: text.to_owned(),
            schema: path.schema().map(str::to_owned),
            name: path.name().to_owned(),
            sub: path.sub_attr().map(str::to_owned),
        })
    }

    /// Whether this names attribute `name` of `container` (`None`: the core schema).
    fn names(&self, container: Option<&str>, core: &str, name: &str) -> bool {
        let schema_ok = match (&self.schema, container) {
            (None, None) => true,
            (Some(s), None) => s.eq_ignore_ascii_case(core),
            (Some(s), Some(c)) => s.eq_ignore_ascii_case(c),
            (None, Some(_)) => false,
        };
        schema_ok && self.name.eq_ignore_ascii_case(name)
    }

    fn is_whole(&self, urn: &str) -> bool {
        self.full.eq_ignore_ascii_case(urn)
    }
}

/// Parsed `attributes` and `excludedAttributes`, ready to apply to resources.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    attributes: Vec<Selector>,
    excluded: Vec<Selector>,
}

/// What the parameters say about one attribute.
struct Verdict<'a> {
    listed_whole: bool,
    listed_subs: Vec<&'a str>,
    excluded_whole: bool,
    excluded_subs: Vec<&'a str>,
}

impl Projection {
    /// No projection: the default attribute set (`always` and `default` attributes).
    pub fn none() -> Self {
        Projection::default()
    }

    /// Parses the query parameters `attributes` and `excludedAttributes` (comma-separated; empty
    /// items and surrounding spaces ignored).
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        if attributes.is_none() && excluded.is_none() {
            // The usual request: nothing to split or allocate.
            return Ok(Projection::default());
        }
        Projection::from_lists(attributes.as_slice(), excluded.as_slice())
    }

    /// From lists of paths, as in a [`SearchRequest`](crate::SearchRequest) (each item may itself
    /// be comma-separated).
    pub fn from_lists<A: AsRef<str>, E: AsRef<str>>(
        attributes: &[A],
        excluded: &[E],
    ) -> Result<Self, ScimError> {
        let parse = |param: &str, items: Vec<&str>| -> Result<Vec<Selector>, ScimError> {
            items
                .into_iter()
                .flat_map(|i| i.split(','))
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Selector::parse(param, p))
                .collect()
        };
        Ok(Projection {
            attributes: parse("attributes", attributes.iter().map(AsRef::as_ref).collect())?,
            excluded: parse(
                "excludedAttributes",
                excluded.iter().map(AsRef::as_ref).collect(),
            )?,
        })
    }

    /// Whether neither parameter was given.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Projects `resource` (a JSON object; anything else is left alone) in place. `registry`
    /// gives the `returned` characteristics; `core` is the URN of the resource type's core schema
    /// (e.g. [`urn::USER`](crate::urn::USER)), which attributes without a URN belong to.
    pub fn apply(&self, resource: &mut Value, registry: &SchemaRegistry, core: &str) {
        let schema = registry.resource(core);
        let Value::Object(obj) = resource else {
            return;
        };
        // In place rather than into a new map: rebuilding every object was most of the cost of
        // serving a resource.
        obj.retain(|key, value| {
            if key.eq_ignore_ascii_case("schemas") {
                return true;
            }
            let taken = std::mem::take(value);
            let projected = if is_urn(key) {
                self.extension(key, taken, core, schema)
            } else {
                self.attribute(None, key, taken, core, schema, false)
            };
            match projected {
                Some(v) => {
                    *value = v;
                    true
                }
                None => false,
            }
        });
    }

    /// [`Projection::apply`] returning a new value.
    pub fn applied(&self, resource: &Value, registry: &SchemaRegistry, core: &str) -> Value {
        let mut v = resource.clone();
        self.apply(&mut v, registry, core);
        v
    }

    fn extension(
        &self,
        urn: &str,
        value: Value,
        core: &str,
        schema: ResourceSchema<'_>,
    ) -> Option<Value> {
        let Value::Object(attrs) = value else {
            // Not an object: treat the whole key as one default attribute.
            let whole_listed = self.attributes.iter().any(|s| s.is_whole(urn));
            let whole_excluded = self.excluded.iter().any(|s| s.is_whole(urn));
            let keep = if self.attributes.is_empty() {
                !whole_excluded
            } else {
                whole_listed && !whole_excluded
            };
            return keep.then_some(value);
        };
        let whole = self.attributes.iter().any(|s| s.is_whole(urn));
        let whole_excluded = self.excluded.iter().any(|s| s.is_whole(urn));
        let mut out = Map::new();
        for (k, v) in attrs {
            let v = if whole_excluded {
                // Only `always` attributes survive excluding the whole extension.
                let def = schema.find(Some(urn), &k, None);
                if returned(def) == Returned::Always {
                    Some(filter_subs(v, def, |_, r| r != Returned::Never))
                } else {
                    None
                }
            } else {
                self.attribute(Some(urn), &k, v, core, schema, whole)
            };
            if let Some(v) = v {
                out.insert(k, v);
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    fn verdict(&self, container: Option<&str>, core: &str, name: &str) -> Verdict<'_> {
        let mut v = Verdict {
            listed_whole: false,
            listed_subs: Vec::new(),
            excluded_whole: false,
            excluded_subs: Vec::new(),
        };
        for s in self
            .attributes
            .iter()
            .filter(|s| s.names(container, core, name))
        {
            match &s.sub {
                None => v.listed_whole = true,
                Some(sub) => v.listed_subs.push(sub),
            }
        }
        for s in self
            .excluded
            .iter()
            .filter(|s| s.names(container, core, name))
        {
            match &s.sub {
                None => v.excluded_whole = true,
                Some(sub) => v.excluded_subs.push(sub),
            }
        }
        v
    }

    /// The projected value of one attribute, or `None` to leave it out.
    fn attribute(
        &self,
        container: Option<&str>,
        name: &str,
        value: Value,
        core: &str,
        schema: ResourceSchema<'_>,
        container_listed: bool,
    ) -> Option<Value> {
        let def = schema.find(container, name, None);
        let ret = returned(def);
        let v = self.verdict(container, core, name);
        let listed_whole = v.listed_whole || container_listed;
        if v.excluded_whole && ret != Returned::Always {
            return None;
        }
        let has_sub = |subs: &[&str], s: &str| subs.iter().any(|x| x.eq_ignore_ascii_case(s));
        let not_excluded =
            |s: &str, r: Returned| r == Returned::Always || !has_sub(&v.excluded_subs, s);
        let original_empty = is_empty_container(&value);
        let out = match ret {
            Returned::Never => return None,
            Returned::Always => filter_subs(value, def, |s, r| {
                r != Returned::Never && not_excluded(s, r)
            }),
            Returned::Default | Returned::Request => {
                if !self.attributes.is_empty() {
                    if listed_whole {
                        filter_subs(value, def, |s, r| {
                            r != Returned::Never && not_excluded(s, r)
                        })
                    } else if !v.listed_subs.is_empty() {
                        filter_subs(value, def, |s, r| {
                            r == Returned::Always
                                || (r != Returned::Never
                                    && has_sub(&v.listed_subs, s)
                                    && not_excluded(s, r))
                        })
                    } else {
                        return None;
                    }
                } else if ret == Returned::Request {
                    return None;
                } else {
                    filter_subs(value, def, |s, r| {
                        matches!(r, Returned::Always | Returned::Default) && not_excluded(s, r)
                    })
                }
            }
        };
        if !original_empty && is_empty_container(&out) {
            None
        } else {
            Some(out)
        }
    }
}

fn returned(def: Option<&AttributeDef>) -> Returned {
    def.map_or(Returned::Default, |d| d.returned)
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Keeps the sub-attributes `keep(name, returned)` accepts, in an object or in every object
/// element of an array. Elements left empty are removed.
fn filter_subs(
    value: Value,
    def: Option<&AttributeDef>,
    keep: impl Fn(&str, Returned) -> bool,
) -> Value {
    // In place (`retain`) rather than rebuilding each object: same result, far fewer allocations.
    let filter_obj = |o: &mut Map<String, Value>| {
        o.retain(|k, _| {
            let r = returned(def.and_then(|d| d.sub_attribute(k)));
            keep(k, r)
        });
    };
    match value {
        Value::Object(mut o) => {
            filter_obj(&mut o);
            Value::Object(o)
        }
        Value::Array(mut items) => {
            items.retain_mut(|e| match e {
                Value::Object(o) if !o.is_empty() => {
                    filter_obj(o);
                    !o.is_empty()
                }
                _ => true,
            });
            Value::Array(items)
        }
        other => other,
    }
}
