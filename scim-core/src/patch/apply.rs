//! The PATCH engine: resolves each operation's path through the schemas and applies it to a
//! [`Resource`], recording an undo log so that a failed PATCH leaves the resource unchanged.

use std::borrow::Cow;
use std::mem;

use http::StatusCode;
use serde_json::{Map, Value};

use scim_filter::{AttrInfo, AttrPath, AttributeSchema, CompValue, CompareOp, Filter, PatchPath};

use super::op::{OpKind, PatchOp, PatchOperation};
use super::value::{self, Name, get_ci, is_primary, is_true, key_ci};
use crate::error::{ScimError, ScimType};
use crate::json::get_mut_ci;
use crate::resource::{Extensions, Resource};
use crate::schema::{AttributeDef, AttributeType, Mutability, SchemaRegistry};

/// One step to take back, newest last.
enum Undo<'a> {
    /// Put `old` back (or remove the member when `None`) at `key`, element `idx`, member `sub`.
    Set {
        ext: Option<Cow<'a, str>>,
        key: Cow<'a, str>,
        idx: Option<usize>,
        sub: Option<Cow<'a, str>>,
        old: Option<Value>,
    },
    /// Shorten the array at `key` to `len` (elements were appended).
    Truncate {
        ext: Option<Cow<'a, str>>,
        key: Cow<'a, str>,
        len: usize,
    },
    /// Put a removed element back at `idx`.
    Insert {
        ext: Option<Cow<'a, str>>,
        key: Cow<'a, str>,
        idx: usize,
        value: Value,
    },
    ExternalId(Option<String>),
    /// The extension was created by this PATCH (it is the last one).
    ExtCreated(&'a str),
    Extensions(Extensions),
    /// A URN was pushed onto `schemas`.
    SchemaPushed,
    Schemas(Vec<String>),
}

/// What a path designates.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// A whole extension object, by URN.
    Extension(&'a str),
    /// An attribute of the core schema (`ext: None`) or of an extension.
    Attr(AttrTarget<'a>),
}

#[derive(Clone, Copy)]
struct AttrTarget<'a> {
    ext: Option<&'a str>,
    name: &'a str,
    filter: Option<&'a Filter>,
    sub: Option<&'a str>,
}

impl<'a> AttrTarget<'a> {
    fn name(&self) -> Name<'a> {
        Name {
            ext: self.ext,
            attr: self.name,
            sub: self.sub,
        }
    }

    fn attr_name(&self) -> Name<'a> {
        Name {
            ext: self.ext,
            attr: self.name,
            sub: None,
        }
    }
}

/// Where an error message says the operation went: the path as written, or the key of a
/// path-less value.
#[derive(Clone, Copy)]
enum At<'a> {
    Path(&'a PatchPath),
    Key(&'a str),
}

impl At<'_> {
    fn text(self) -> String {
        match self {
            At::Path(p) => p.to_string(),
            At::Key(k) => k.to_owned(),
        }
    }
}

/// Attribute characteristics for a value filter's terms, which are relative to one element of
/// the attribute `attr`.
struct ElemSchema<'a> {
    reg: &'a SchemaRegistry,
    urn: Option<&'a str>,
    attr: &'a str,
}

impl AttributeSchema for ElemSchema<'_> {
    fn attribute(&self, schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        match (schema, sub) {
            (Some(_), _) => self.reg.attribute(schema, attr, sub),
            (None, None) => self
                .reg
                .find(self.urn, self.attr, Some(attr))
                .map(AttributeDef::info),
            (None, Some(_)) => None,
        }
    }
}

pub(super) struct Engine<'a> {
    res: &'a mut Resource,
    reg: &'a SchemaRegistry,
    core: Option<String>,
    undo: Vec<Undo<'a>>,
}

fn container<'r>(res: &'r mut Resource, ext: Option<&str>) -> Option<&'r mut Map<String, Value>> {
    match ext {
        None => Some(&mut res.attributes),
        Some(urn) => res
            .extensions
            .get_raw_mut(urn)
            .and_then(Value::as_object_mut),
    }
}

fn container_ref<'r>(res: &'r Resource, ext: Option<&str>) -> Option<&'r Map<String, Value>> {
    match ext {
        None => Some(&res.attributes),
        Some(urn) => res.extensions.get_raw(urn).and_then(Value::as_object),
    }
}

/// Sets (or with `None` removes) the member `key` of `map`, returning the previous value.
fn put(map: &mut Map<String, Value>, key: &str, v: Option<Value>) -> Option<Value> {
    let existing = key_ci(map, key).map(str::to_owned);
    match (existing, v) {
        (Some(k), Some(v)) => map.get_mut(&k).map(|slot| mem::replace(slot, v)),
        (None, Some(v)) => map.insert(key.to_owned(), v),
        (Some(k), None) => map.remove(&k),
        (None, None) => None,
    }
}

fn no_target_without_path() -> ScimError {
    ScimError::other(
        StatusCode::BAD_REQUEST,
        Some(ScimType::NoTarget),
        "a remove operation needs a `path` (RFC 7644 §3.5.2.2)",
    )
}

fn is_core_urn(urn: &str) -> bool {
    urn.len() > 20
        && urn
            .to_ascii_lowercase()
            .starts_with("urn:ietf:params:scim:schemas:core:")
}

/// Whether `candidate` is `urn:name` (ASCII case ignored).
fn joins(candidate: &str, urn: &str, name: &str) -> bool {
    candidate.len() == urn.len() + 1 + name.len()
        && candidate
            .get(..urn.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(urn))
        && candidate.as_bytes().get(urn.len()) == Some(&b':')
        && candidate
            .get(urn.len() + 1..)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// The element a value filter describes, when it is a conjunction of `attr eq literal` on the
/// element's own sub-attributes (`type eq "work"`): what an add creates when nothing matches.
fn element_from_filter(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare(p, CompareOp::Eq, v) if p.schema().is_none() && p.sub_attr().is_none() => {
            let v = match v {
                CompValue::String(s) => Value::String(s.to_string()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            out.insert(p.name().to_owned(), v);
            true
        }
        Filter::And(ops) => ops.iter().all(|f| element_from_filter(f, out)),
        _ => false,
    }
}

impl<'a> Engine<'a> {
    pub(super) fn new(res: &'a mut Resource, reg: &'a SchemaRegistry) -> Self {
        let core = res
            .schemas
            .iter()
            .find(|s| res.extensions.get_raw(s).is_none() && reg.get(s).is_some())
            .or_else(|| res.schemas.iter().find(|s| is_core_urn(s)))
            .cloned();
        Engine {
            res,
            reg,
            core,
            undo: Vec::new(),
        }
    }

    pub(super) fn run(&mut self, patch: &'a PatchOp) -> Result<(), ScimError> {
        for op in &patch.operations {
            self.operation(op)?;
        }
        Ok(())
    }

    fn operation(&mut self, op: &'a PatchOperation) -> Result<(), ScimError> {
        match (&op.path, op.op) {
            (None, OpKind::Remove) => Err(no_target_without_path()),
            (None, kind) => {
                let value = op.value.as_ref().ok_or_else(|| {
                    ScimError::invalid_syntax(format_args!("`{kind}` without `value`"))
                })?;
                let Value::Object(attrs) = value else {
                    return Err(ScimError::invalid_syntax(format_args!(
                        "`{kind}` without `path` needs an object of attributes as `value`"
                    )));
                };
                for (k, v) in attrs {
                    self.pathless(kind, k, v)?;
                }
                Ok(())
            }
            (Some(path), kind) => {
                let target = self.resolve(path, At::Path(path))?;
                if kind != OpKind::Remove && op.value.is_none() {
                    return Err(ScimError::invalid_syntax(format_args!(
                        "`{kind}` of `{path}` without `value`"
                    )));
                }
                self.apply_target(kind, target, op.value.as_ref(), At::Path(path))
            }
        }
    }

    /// One key of a path-less add/replace: `name`, `name.sub` (Entra ID's dotted keys), a URN
    /// qualified attribute (`urn:...:User:manager`, or Entra ID's `urn:...:User.manager`) or a
    /// whole extension. Resolved by slicing the key, without the path parser.
    fn pathless(&mut self, kind: OpKind, key: &'a str, v: &'a Value) -> Result<(), ScimError> {
        if key.eq_ignore_ascii_case("schemas") {
            return Ok(());
        }
        let target = if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            self.pathless_urn(key)?
        } else {
            let (name, sub) = split_dotted(key);
            check_name(key, name, sub)?;
            Target::Attr(AttrTarget {
                ext: None,
                name,
                filter: None,
                sub,
            })
        };
        self.apply_target(kind, target, Some(v), At::Key(key))
    }

    fn pathless_urn(&self, key: &'a str) -> Result<Target<'a>, ScimError> {
        // The longest schema URN the key starts with, among registered schemas, the resource's
        // extensions and its `schemas`.
        let known = self
            .reg
            .schemas()
            .iter()
            .map(|s| s.id.as_str())
            .chain(self.res.extensions.iter().map(|(k, _)| k))
            .chain(self.res.schemas.iter().map(String::as_str))
            .filter(|urn| {
                key.get(..urn.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(urn))
                    && matches!(key.as_bytes().get(urn.len()), None | Some(b':' | b'.'))
            })
            .map(str::len)
            .max();
        let (urn, rest) = match known {
            Some(len) => (
                key.get(..len).unwrap_or(key),
                key.get(len + 1..).unwrap_or(""),
            ),
            None => match key.rsplit_once(':') {
                Some((urn, rest)) => (urn, rest),
                None => (key, ""),
            },
        };
        if rest.is_empty() {
            return Ok(Target::Extension(self.canonical_urn(urn)));
        }
        let (name, sub) = split_dotted(rest);
        check_name(key, name, sub)?;
        Ok(self.qualified(urn, name, sub, None, key))
    }

    /// The target of `urn:name[.sub]`, or of `urn:name` when that is itself an extension URN.
    fn qualified(
        &self,
        urn: &'a str,
        name: &'a str,
        sub: Option<&'a str>,
        filter: Option<&'a Filter>,
        text: &'a str,
    ) -> Target<'a> {
        if self.is_core(urn) {
            return Target::Attr(AttrTarget {
                ext: None,
                name,
                filter,
                sub,
            });
        }
        if sub.is_none() && filter.is_none() {
            if let Some(full) = self.joined_extension(urn, name, text) {
                return Target::Extension(full);
            }
        }
        Target::Attr(AttrTarget {
            ext: Some(self.canonical_urn(urn)),
            name,
            filter,
            sub,
        })
    }

    fn resolve(&self, path: &'a PatchPath, at: At<'a>) -> Result<Target<'a>, ScimError> {
        let attr = path.attr();
        let (sub, filter) = match path.filter() {
            Some(f) => {
                if attr.sub_attr().is_some() {
                    return Err(ScimError::invalid_path(
                        at.text(),
                        "a value filter applies to an attribute, not a sub-attribute",
                    ));
                }
                (path.sub_attr(), Some(f))
            }
            None => (attr.sub_attr(), None),
        };
        Ok(match attr.schema() {
            None => Target::Attr(AttrTarget {
                ext: None,
                name: attr.name(),
                filter,
                sub,
            }),
            Some(urn) => self.qualified(urn, attr.name(), sub, filter, attr.as_str()),
        })
    }

    fn is_core(&self, urn: &str) -> bool {
        match &self.core {
            Some(core) => core.eq_ignore_ascii_case(urn),
            None => is_core_urn(urn),
        }
    }

    /// The registered spelling of an extension URN, or the URN as written.
    fn canonical_urn(&self, urn: &'a str) -> &'a str {
        match self.reg.get(urn) {
            Some(s) => &s.id,
            None => urn,
        }
    }

    /// `urn:name`, when that names a registered schema or an extension of the resource.
    fn joined_extension(&self, urn: &str, name: &str, text: &'a str) -> Option<&'a str> {
        if let Some(s) = self.reg.schemas().iter().find(|s| joins(&s.id, urn, name)) {
            return Some(&s.id);
        }
        self.res
            .extensions
            .iter()
            .map(|(k, _)| k)
            .chain(self.res.schemas.iter().map(String::as_str))
            .any(|k| joins(k, urn, name))
            .then_some(text)
    }

    fn def(&self, ext: Option<&str>, name: &str) -> Option<&'a AttributeDef> {
        match (ext, &self.core) {
            (Some(urn), _) => self.reg.find(Some(urn), name, None),
            (None, Some(core)) if self.reg.get(core).is_some() => {
                self.reg.find(Some(core), name, None)
            }
            (None, _) => self.reg.find(None, name, None),
        }
    }

    // ----------------------------------------------------------------------------------------
    // Dispatch

    fn apply_target(
        &mut self,
        kind: OpKind,
        target: Target<'a>,
        value: Option<&'a Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        match target {
            Target::Extension(urn) => self.extension(kind, urn, value, at),
            Target::Attr(t) => self.attribute(kind, t, value, at),
        }
    }

    fn extension(
        &mut self,
        kind: OpKind,
        urn: &'a str,
        value: Option<&'a Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        if kind == OpKind::Remove {
            if self.res.extensions.get_raw(urn).is_some() {
                self.undo
                    .push(Undo::Extensions(self.res.extensions.clone()));
                self.undo.push(Undo::Schemas(self.res.schemas.clone()));
                self.res.extensions.remove(urn);
                self.res.schemas.retain(|s| !s.eq_ignore_ascii_case(urn));
            }
            return Ok(());
        }
        let Some(Value::Object(attrs)) = value else {
            return Err(ScimError::invalid_value(
                urn,
                "an extension is set with an object of its attributes",
            ));
        };
        for (k, v) in attrs {
            if k.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let (name, sub) = split_dotted(k);
            check_name(k, name, sub)?;
            let t = AttrTarget {
                ext: Some(urn),
                name,
                filter: None,
                sub,
            };
            self.attribute(kind, t, Some(v), at)?;
        }
        Ok(())
    }

    /// Makes sure the extension `urn` exists as an object (creating it and naming it in
    /// `schemas`).
    fn ensure_extension(&mut self, urn: &'a str) {
        match self.res.extensions.get_raw(urn) {
            Some(Value::Object(_)) => {}
            Some(_) => {
                self.undo
                    .push(Undo::Extensions(self.res.extensions.clone()));
                self.res
                    .extensions
                    .insert(urn.to_string(), Value::Object(Map::new()));
            }
            None => {
                self.res
                    .extensions
                    .insert(urn.to_string(), Value::Object(Map::new()));
                self.undo.push(Undo::ExtCreated(urn));
            }
        }
        if !self.res.schemas.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
            self.res.schemas.push(urn.to_string());
            self.undo.push(Undo::SchemaPushed);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Attributes

    fn attribute(
        &mut self,
        kind: OpKind,
        t: AttrTarget<'a>,
        value: Option<&'a Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        if t.ext.is_none() {
            if t.name.eq_ignore_ascii_case("id") {
                return self.id(kind, t, value);
            }
            if t.name.eq_ignore_ascii_case("meta") {
                return Err(ScimError::read_only(t.name().to_string()));
            }
            if t.name.eq_ignore_ascii_case("externalId") {
                return self.external_id(kind, t, value, at);
            }
            if t.name.eq_ignore_ascii_case("schemas") {
                return Err(ScimError::invalid_path(
                    at.text(),
                    "`schemas` is not an attribute a PATCH can change",
                ));
            }
        }
        let def = self.def(t.ext, t.name);
        let sub_def = Self::check_shape(&t, def, at)?;
        if let Some(d) = def {
            if d.mutability == Mutability::ReadOnly {
                return self.read_only(kind, t, d, value);
            }
        }
        let multi = match def {
            Some(d) => d.multi_valued,
            None => {
                self.current(&t).is_some_and(Value::is_array) || value.is_some_and(Value::is_array)
            }
        };
        if let Some(filter) = t.filter {
            if !multi && def.is_none() && self.current(&t).is_none() {
                return Err(ScimError::no_target(at.text()));
            }
            return self.filtered(kind, t, def, sub_def, filter, value, at);
        }
        if let Some(d) = def {
            if d.mutability == Mutability::Immutable {
                self.check_immutable(kind, &t, d, value)?;
            }
            if kind == OpKind::Remove && d.required && t.sub.is_none() && value.is_none() {
                return Err(ScimError::invalid_value(
                    t.name().to_string(),
                    "is required and cannot be removed",
                ));
            }
        }
        match (kind, t.sub) {
            (OpKind::Remove, None) => match value {
                Some(v) if multi && !v.is_null() => self.remove_listed(t, def, v),
                _ => {
                    self.set_attr(t, def, None);
                    Ok(())
                }
            },
            (OpKind::Remove, Some(sub)) => {
                self.remove_sub(t, sub, multi);
                Ok(())
            }
            (_, Some(sub)) => {
                if multi {
                    return Err(ScimError::invalid_path(
                        at.text(),
                        format_args!(
                            "`{}` is multi-valued: select values with a filter, e.g. `{}[type eq \"work\"].{sub}`",
                            t.name, t.name
                        ),
                    ));
                }
                let v = value.unwrap_or(&Value::Null);
                self.set_sub(t, sub, sub_def, v)
            }
            (kind, None) => {
                let v = value.unwrap_or(&Value::Null);
                if v.is_null() {
                    if kind == OpKind::Replace {
                        self.set_attr(t, def, None);
                    }
                    return Ok(());
                }
                if multi {
                    let new = value::many(v, def, t.name())?;
                    if kind == OpKind::Replace {
                        let new = if new.is_empty() {
                            None
                        } else {
                            Some(Value::Array(new))
                        };
                        self.set_attr(t, def, new);
                        Ok(())
                    } else {
                        self.append(t, def, new);
                        Ok(())
                    }
                } else {
                    let new = value::one(v, def, t.name(), false)?;
                    let complex = def.map_or(new.is_object(), |d| d.kind == AttributeType::Complex);
                    if complex && self.current(&t).is_some_and(Value::is_object) {
                        if let Value::Object(members) = new {
                            self.merge(t, members);
                        }
                    } else {
                        self.set_attr(t, def, Some(new));
                    }
                    Ok(())
                }
            }
        }
    }

    /// Checks the sub-attribute and filter against the definition; returns the sub-attribute's
    /// definition.
    fn check_shape(
        t: &AttrTarget<'a>,
        def: Option<&'a AttributeDef>,
        at: At<'a>,
    ) -> Result<Option<&'a AttributeDef>, ScimError> {
        let Some(d) = def else {
            return Ok(None);
        };
        if t.filter.is_some() && !d.multi_valued {
            return Err(ScimError::invalid_path(
                at.text(),
                format_args!("`{}` is not multi-valued: it takes no value filter", d.name),
            ));
        }
        let Some(sub) = t.sub else {
            return Ok(None);
        };
        if d.kind != AttributeType::Complex {
            return Err(ScimError::invalid_path(
                at.text(),
                format_args!("`{}` has no sub-attributes", d.name),
            ));
        }
        match d.sub_attribute(sub) {
            Some(sd) => Ok(Some(sd)),
            None if d.multi_valued && value::is_standard_sub(sub) => Ok(None),
            None => Err(ScimError::invalid_path(
                at.text(),
                format_args!("`{}` has no sub-attribute `{sub}`", d.name),
            )),
        }
    }

    fn current(&self, t: &AttrTarget<'_>) -> Option<&Value> {
        container_ref(self.res, t.ext).and_then(|m| get_ci(m, t.name))
    }

    /// A readOnly attribute: accepted only when the value is what is already there (Okta sends
    /// the group's own `id` in path-less replaces).
    fn read_only(
        &self,
        kind: OpKind,
        t: AttrTarget<'a>,
        def: &AttributeDef,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if kind != OpKind::Remove && t.sub.is_none() && t.filter.is_none() {
            if let (Some(v), Some(cur)) = (value, self.current(&t)) {
                let same = if def.multi_valued {
                    value::many(v, Some(def), t.name()).ok().map(Value::Array)
                } else {
                    value::one(v, Some(def), t.name(), false).ok()
                };
                if same.as_ref() == Some(cur) {
                    return Ok(());
                }
            }
        }
        Err(ScimError::read_only(t.name().to_string()))
    }

    fn check_immutable(
        &self,
        kind: OpKind,
        t: &AttrTarget<'a>,
        def: &AttributeDef,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let Some(cur) = self.current(t) else {
            return Ok(());
        };
        if cur.is_null() {
            return Ok(());
        }
        if kind != OpKind::Remove && t.sub.is_none() {
            if let Some(v) = value {
                let new = if def.multi_valued {
                    value::many(v, Some(def), t.name()).ok().map(Value::Array)
                } else {
                    value::one(v, Some(def), t.name(), false).ok()
                };
                if new.as_ref() == Some(cur) {
                    return Ok(());
                }
            }
        }
        Err(ScimError::Mutability {
            attribute: t.name().to_string(),
            detail: "is immutable and already has a value".to_owned(),
        })
    }

    fn id(
        &mut self,
        kind: OpKind,
        t: AttrTarget<'a>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let same = kind != OpKind::Remove
            && t.sub.is_none()
            && t.filter.is_none()
            && matches!((value, &self.res.id), (Some(Value::String(v)), Some(id)) if v == id);
        if same {
            Ok(())
        } else {
            Err(ScimError::read_only("id"))
        }
    }

    fn external_id(
        &mut self,
        kind: OpKind,
        t: AttrTarget<'a>,
        value: Option<&Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        if t.sub.is_some() || t.filter.is_some() {
            return Err(ScimError::invalid_path(
                at.text(),
                "`externalId` is a string: it has no sub-attributes or values to filter",
            ));
        }
        let new = match (kind, value) {
            (OpKind::Remove, _) | (_, None | Some(Value::Null)) => None,
            (_, Some(Value::String(s))) => Some(s.clone()),
            (_, Some(other)) => {
                return Err(ScimError::invalid_value(
                    "externalId",
                    format_args!("expected a string, got {other}"),
                ));
            }
        };
        if kind == OpKind::Add && new.is_none() {
            return Ok(());
        }
        let old = mem::replace(&mut self.res.external_id, new);
        self.undo.push(Undo::ExternalId(old));
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Mutations, each recording its undo step

    fn key_for(t: &AttrTarget<'a>, def: Option<&'a AttributeDef>) -> Cow<'a, str> {
        match def {
            Some(d) => Cow::Borrowed(&d.name),
            None => Cow::Borrowed(t.name),
        }
    }

    /// Sets or (with `None`) removes the whole attribute.
    fn set_attr(&mut self, t: AttrTarget<'a>, def: Option<&'a AttributeDef>, new: Option<Value>) {
        if new.is_none() && self.current(&t).is_none() {
            return;
        }
        let ext = t.ext.map(Cow::Borrowed);
        if let Some(urn) = t.ext {
            self.ensure_extension(urn);
        }
        let key = Self::key_for(&t, def);
        let Some(map) = container(self.res, t.ext) else {
            return;
        };
        let old = put(map, &key, new);
        self.undo.push(Undo::Set {
            ext,
            key,
            idx: None,
            sub: None,
            old,
        });
    }

    /// Merges sub-attributes into the existing complex value.
    fn merge(&mut self, t: AttrTarget<'a>, members: Map<String, Value>) {
        let key = Cow::Borrowed(t.name);
        for (k, v) in members {
            let Some(Value::Object(obj)) = container(self.res, t.ext).and_then(|m| {
                let k = key_ci(m, t.name).map(str::to_owned)?;
                m.get_mut(&k)
            }) else {
                return;
            };
            let old = put(obj, &k, Some(v));
            self.undo.push(Undo::Set {
                ext: t.ext.map(Cow::Borrowed),
                key: key.clone(),
                idx: None,
                sub: Some(Cow::Owned(k)),
                old,
            });
        }
    }

    /// Sets one sub-attribute of a single-valued complex attribute.
    fn set_sub(
        &mut self,
        t: AttrTarget<'a>,
        sub: &'a str,
        sub_def: Option<&'a AttributeDef>,
        v: &Value,
    ) -> Result<(), ScimError> {
        let name = t.name();
        if v.is_null() {
            self.remove_sub(t, sub, false);
            return Ok(());
        }
        let new = match sub_def {
            Some(sd) if sd.multi_valued => Value::Array(value::many(v, Some(sd), name)?),
            Some(sd) => value::one(v, Some(sd), name, false)?,
            None => value::one(v, None, name, false)?,
        };
        let sub_key: Cow<'a, str> = sub_def.map_or(Cow::Borrowed(sub), |d| Cow::Borrowed(&d.name));
        if let Some(sd) = sub_def {
            if sd.mutability == Mutability::Immutable {
                let cur = self
                    .current(&t)
                    .and_then(Value::as_object)
                    .and_then(|o| get_ci(o, sub));
                if cur.is_some_and(|c| !c.is_null() && *c != new) {
                    return Err(ScimError::Mutability {
                        attribute: name.to_string(),
                        detail: "is immutable and already has a value".to_owned(),
                    });
                }
            }
        }
        match self.current(&t) {
            Some(Value::Object(_)) => {
                let Some(Value::Object(obj)) = container(self.res, t.ext).and_then(|m| {
                    let k = key_ci(m, t.name).map(str::to_owned)?;
                    m.get_mut(&k)
                }) else {
                    return Ok(());
                };
                let old = put(obj, &sub_key, Some(new));
                self.undo.push(Undo::Set {
                    ext: t.ext.map(Cow::Borrowed),
                    key: Cow::Borrowed(t.name),
                    idx: None,
                    sub: Some(sub_key),
                    old,
                });
                Ok(())
            }
            Some(other) if !other.is_null() => Err(ScimError::invalid_value(
                t.attr_name().to_string(),
                "holds a value that is not complex; its sub-attributes cannot be set",
            )),
            _ => {
                let mut obj = Map::new();
                obj.insert(sub_key.into_owned(), new);
                let def = self.def(t.ext, t.name);
                self.set_attr(t, def, Some(Value::Object(obj)));
                Ok(())
            }
        }
    }

    /// Removes a sub-attribute: from the complex value, or from every element of a multi-valued
    /// attribute. A complex value left empty is removed.
    fn remove_sub(&mut self, t: AttrTarget<'a>, sub: &'a str, multi: bool) {
        let Some(map) = container(self.res, t.ext) else {
            return;
        };
        let Some(key) = key_ci(map, t.name).map(str::to_owned) else {
            return;
        };
        let ext = t.ext.map(Cow::Borrowed);
        let mut emptied = false;
        match map.get_mut(&key) {
            Some(Value::Array(items)) if multi => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let Some(obj) = item.as_object_mut() {
                        if let Some(old) = put(obj, sub, None) {
                            self.undo.push(Undo::Set {
                                ext: ext.clone(),
                                key: Cow::Borrowed(t.name),
                                idx: Some(i),
                                sub: Some(Cow::Borrowed(sub)),
                                old: Some(old),
                            });
                        }
                    }
                }
            }
            Some(Value::Object(obj)) => {
                if let Some(old) = put(obj, sub, None) {
                    self.undo.push(Undo::Set {
                        ext: ext.clone(),
                        key: Cow::Borrowed(t.name),
                        idx: None,
                        sub: Some(Cow::Borrowed(sub)),
                        old: Some(old),
                    });
                }
                emptied = obj.is_empty();
            }
            _ => {}
        }
        if emptied {
            let old = map.remove(&key);
            self.undo.push(Undo::Set {
                ext,
                key: Cow::Owned(key),
                idx: None,
                sub: None,
                old,
            });
        }
    }

    /// Appends values to a multi-valued attribute, skipping those already present; a new
    /// primary clears the old one.
    fn append(&mut self, t: AttrTarget<'a>, def: Option<&'a AttributeDef>, new: Vec<Value>) {
        if new.is_empty() {
            return;
        }
        let by_value = def.is_some_and(|d| d.sub_attribute("$ref").is_some());
        let existing = match self.current(&t) {
            Some(Value::Array(items)) => Some(items.len()),
            _ => None,
        };
        let Some(len) = existing else {
            let mut fresh: Vec<Value> = Vec::with_capacity(new.len());
            for n in new {
                if !fresh.iter().any(|o| value::same_element(o, &n, by_value)) {
                    fresh.push(n);
                }
            }
            self.set_attr(t, def, Some(Value::Array(fresh)));
            return;
        };
        if new.iter().any(is_primary) {
            self.clear_primary(t, &[]);
        }
        let ext = t.ext.map(Cow::Borrowed);
        let Some(items) = self.array_mut(t) else {
            return;
        };
        for n in new {
            if !items.iter().any(|o| value::same_element(o, &n, by_value)) {
                items.push(n);
            }
        }
        self.undo.push(Undo::Truncate {
            ext,
            key: Cow::Borrowed(t.name),
            len,
        });
    }

    fn array_mut(&mut self, t: AttrTarget<'a>) -> Option<&mut Vec<Value>> {
        let map = container(self.res, t.ext)?;
        let key = key_ci(map, t.name)?.to_owned();
        map.get_mut(&key).and_then(Value::as_array_mut)
    }

    /// Removes `primary` from every element except those at `keep`.
    fn clear_primary(&mut self, t: AttrTarget<'a>, keep: &[usize]) {
        let ext = t.ext.map(Cow::Borrowed);
        let mut undo = Vec::new();
        if let Some(items) = self.array_mut(t) {
            for (i, item) in items.iter_mut().enumerate() {
                if keep.contains(&i) || !is_primary(item) {
                    continue;
                }
                if let Some(obj) = item.as_object_mut() {
                    let old = put(obj, "primary", None);
                    undo.push(Undo::Set {
                        ext: ext.clone(),
                        key: Cow::Borrowed(t.name),
                        idx: Some(i),
                        sub: Some(Cow::Borrowed("primary")),
                        old,
                    });
                }
            }
        }
        self.undo.extend(undo);
    }

    /// `remove` of a multi-valued attribute with a `value` listing elements (Entra ID's way of
    /// removing members): removes those elements, matched by `value` when given, else whole.
    fn remove_listed(
        &mut self,
        t: AttrTarget<'a>,
        def: Option<&'a AttributeDef>,
        listed: &Value,
    ) -> Result<(), ScimError> {
        let listed = value::many(listed, def, t.name())?;
        let hits: Vec<usize> = match self.current(&t) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    listed.iter().any(|l| match value::element_value(l) {
                        Some(v) => value::element_value(item) == Some(v),
                        None => l == *item,
                    })
                })
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        };
        self.remove_elements(t, def, &hits);
        Ok(())
    }

    /// Removes the elements at `indices` (ascending) from a multi-valued attribute, logging each
    /// for rollback, and removes the attribute itself when nothing is left.
    fn remove_elements(
        &mut self,
        t: AttrTarget<'a>,
        def: Option<&'a AttributeDef>,
        indices: &[usize],
    ) {
        let ext = t.ext.map(Cow::Borrowed);
        let mut undo = Vec::new();
        let mut now_empty = false;
        if let Some(items) = self.array_mut(t) {
            for &i in indices.iter().rev() {
                if i < items.len() {
                    let removed = items.remove(i);
                    undo.push(Undo::Insert {
                        ext: ext.clone(),
                        key: Cow::Borrowed(t.name),
                        idx: i,
                        value: removed,
                    });
                }
            }
            now_empty = items.is_empty();
        }
        self.undo.extend(undo);
        if now_empty {
            self.set_attr(t, def, None);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Value filters

    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &mut self,
        kind: OpKind,
        t: AttrTarget<'a>,
        def: Option<&'a AttributeDef>,
        sub_def: Option<&'a AttributeDef>,
        filter: &'a Filter,
        value: Option<&'a Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        let hits = self.matching(t, filter);
        let name = t.name();
        if hits.is_empty() {
            if kind == OpKind::Add {
                return self.add_from_filter(t, def, sub_def, filter, value, at);
            }
            return Err(ScimError::no_target(at.text()));
        }
        match (kind, t.sub) {
            (OpKind::Remove, None) => {
                self.remove_elements(t, def, &hits);
                Ok(())
            }
            (OpKind::Remove, Some(sub)) => {
                for &i in &hits {
                    self.set_elem_sub(t, i, sub, None);
                }
                Ok(())
            }
            (_, Some(sub)) => {
                let v = value.unwrap_or(&Value::Null);
                if v.is_null() {
                    for &i in &hits {
                        self.set_elem_sub(t, i, sub, None);
                    }
                    return Ok(());
                }
                let new = value::one(v, sub_def, name, false)?;
                let sub_key: &'a str = sub_def.map_or(sub, |d| d.name.as_str());
                if let Some(sd) = sub_def {
                    if sd.mutability == Mutability::Immutable {
                        self.check_elem_immutable(t, &hits, sub, &new)?;
                    }
                }
                if sub_key.eq_ignore_ascii_case("primary") && is_true(&new) {
                    self.clear_primary(t, &hits);
                }
                for &i in &hits {
                    self.set_elem_sub(t, i, sub_key, Some(new.clone()));
                }
                Ok(())
            }
            (kind, None) => {
                let v = value.unwrap_or(&Value::Null);
                let new = value::one(v, def, name, true)?;
                if is_primary(&new) {
                    self.clear_primary(t, &hits);
                }
                for &i in &hits {
                    if kind == OpKind::Add {
                        if let Value::Object(members) = &new {
                            for (k, mv) in members {
                                self.set_elem_sub_owned(t, i, k, Some(mv.clone()));
                            }
                        }
                    } else {
                        self.set_elem(t, i, new.clone());
                    }
                }
                Ok(())
            }
        }
    }

    fn matching(&self, t: AttrTarget<'a>, filter: &Filter) -> Vec<usize> {
        let Some(Value::Array(items)) = self.current(&t) else {
            return Vec::new();
        };
        let schema = ElemSchema {
            reg: self.reg,
            urn: t.ext.or(self.core.as_deref()),
            attr: t.name,
        };
        items
            .iter()
            .enumerate()
            .filter(|(_, item)| filter.matches_with(item, &schema))
            .map(|(i, _)| i)
            .collect()
    }

    fn check_elem_immutable(
        &self,
        t: AttrTarget<'a>,
        hits: &[usize],
        sub: &str,
        new: &Value,
    ) -> Result<(), ScimError> {
        if let Some(Value::Array(items)) = self.current(&t) {
            for &i in hits {
                let cur = items
                    .get(i)
                    .and_then(Value::as_object)
                    .and_then(|o| get_ci(o, sub));
                if cur.is_some_and(|c| !c.is_null() && c != new) {
                    return Err(ScimError::Mutability {
                        attribute: t.name().to_string(),
                        detail: "is immutable and already has a value".to_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Nothing matched an `add` with a value filter: create the element the filter describes
    /// (`emails[type eq "work"].value` → `{"type": "work", "value": ...}`, as Entra ID expects).
    fn add_from_filter(
        &mut self,
        t: AttrTarget<'a>,
        def: Option<&'a AttributeDef>,
        sub_def: Option<&'a AttributeDef>,
        filter: &Filter,
        value: Option<&'a Value>,
        at: At<'a>,
    ) -> Result<(), ScimError> {
        let mut elem = Map::new();
        if !element_from_filter(filter, &mut elem) {
            return Err(ScimError::no_target(at.text()));
        }
        let v = value.unwrap_or(&Value::Null);
        match t.sub {
            Some(sub) => {
                let key = sub_def.map_or(sub, |d| d.name.as_str());
                elem.insert(key.to_owned(), v.clone());
            }
            None => match v {
                Value::Object(members) => {
                    for (k, mv) in members {
                        elem.insert(k.clone(), mv.clone());
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(ScimError::invalid_value(
                        t.name().to_string(),
                        "expected an object",
                    ));
                }
            },
        }
        let new = value::one(&Value::Object(elem), def, t.attr_name(), true)?;
        self.append(t, def, vec![new]);
        Ok(())
    }

    fn set_elem(&mut self, t: AttrTarget<'a>, i: usize, new: Value) {
        let ext = t.ext.map(Cow::Borrowed);
        if let Some(slot) = self.array_mut(t).and_then(|items| items.get_mut(i)) {
            let old = mem::replace(slot, new);
            self.undo.push(Undo::Set {
                ext,
                key: Cow::Borrowed(t.name),
                idx: Some(i),
                sub: None,
                old: Some(old),
            });
        }
    }

    fn set_elem_sub(&mut self, t: AttrTarget<'a>, i: usize, sub: &'a str, new: Option<Value>) {
        self.set_elem_sub_cow(t, i, Cow::Borrowed(sub), new);
    }

    fn set_elem_sub_owned(&mut self, t: AttrTarget<'a>, i: usize, sub: &str, new: Option<Value>) {
        self.set_elem_sub_cow(t, i, Cow::Owned(sub.to_owned()), new);
    }

    fn set_elem_sub_cow(
        &mut self,
        t: AttrTarget<'a>,
        i: usize,
        sub: Cow<'a, str>,
        new: Option<Value>,
    ) {
        let ext = t.ext.map(Cow::Borrowed);
        let Some(obj) = self
            .array_mut(t)
            .and_then(|items| items.get_mut(i))
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let had = key_ci(obj, &sub).is_some();
        if !had && new.is_none() {
            return;
        }
        let old = put(obj, &sub, new);
        self.undo.push(Undo::Set {
            ext,
            key: Cow::Borrowed(t.name),
            idx: Some(i),
            sub: Some(sub),
            old,
        });
    }

    // ----------------------------------------------------------------------------------------
    // Rollback

    /// Takes back every change, newest first, leaving the resource as it was.
    pub(super) fn rollback(&mut self) {
        while let Some(step) = self.undo.pop() {
            match step {
                Undo::Set {
                    ext,
                    key,
                    idx,
                    sub,
                    old,
                } => {
                    let Some(map) = container(self.res, ext.as_deref()) else {
                        continue;
                    };
                    match (idx, sub) {
                        (None, None) => {
                            put(map, &key, old);
                        }
                        (None, Some(sub)) => {
                            if let Some(Value::Object(obj)) = get_mut_ci(map, &key) {
                                put(obj, &sub, old);
                            }
                        }
                        (Some(i), None) => {
                            if let (Some(slot), Some(old)) = (
                                get_mut_ci(map, &key)
                                    .and_then(Value::as_array_mut)
                                    .and_then(|a| a.get_mut(i)),
                                old,
                            ) {
                                *slot = old;
                            }
                        }
                        (Some(i), Some(sub)) => {
                            if let Some(obj) = get_mut_ci(map, &key)
                                .and_then(Value::as_array_mut)
                                .and_then(|a| a.get_mut(i))
                                .and_then(Value::as_object_mut)
                            {
                                put(obj, &sub, old);
                            }
                        }
                    }
                }
                Undo::Truncate { ext, key, len } => {
                    if let Some(a) = container(self.res, ext.as_deref())
                        .and_then(|m| get_mut_ci(m, &key))
                        .and_then(Value::as_array_mut)
                    {
                        a.truncate(len);
                    }
                }
                Undo::Insert {
                    ext,
                    key,
                    idx,
                    value,
                } => {
                    if let Some(a) = container(self.res, ext.as_deref())
                        .and_then(|m| get_mut_ci(m, &key))
                        .and_then(Value::as_array_mut)
                    {
                        if idx <= a.len() {
                            a.insert(idx, value);
                        }
                    }
                }
                Undo::ExternalId(old) => self.res.external_id = old,
                Undo::ExtCreated(urn) => {
                    self.res.extensions.remove(urn);
                }
                Undo::Extensions(old) => self.res.extensions = old,
                Undo::SchemaPushed => {
                    self.res.schemas.pop();
                }
                Undo::Schemas(old) => self.res.schemas = old,
            }
        }
    }
}

/// Checks the names of a path-less key (`invalidPath` when they are not attribute names).
fn check_name(key: &str, name: &str, sub: Option<&str>) -> Result<(), ScimError> {
    let ok = AttrPath::new(name).is_some() && sub.is_none_or(|s| AttrPath::new(s).is_some());
    if ok {
        Ok(())
    } else {
        Err(ScimError::invalid_path(key, "not an attribute name"))
    }
}

/// `name.sub` → (`name`, `Some(sub)`), as Entra ID writes keys of path-less values.
fn split_dotted(key: &str) -> (&str, Option<&str>) {
    match key.split_once('.') {
        Some((name, sub)) if !name.is_empty() && !sub.is_empty() => (name, Some(sub)),
        _ => (key, None),
    }
}
