//! Query parameters (RFC 7644 §3.4.2, §3.9): from the URL or from a `SearchRequest` body, into a
//! [`ListQuery`] and a [`Projection`].

use std::num::IntErrorKind;

use crate::error::ScimError;
use crate::messages::{SearchRequest, SortOrder};
use crate::projection::Projection;
use crate::provision::{ListQuery, ScimVersion};
use crate::scim1;

/// The decoded query string.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Percent-decodes the query string (`+` is a space, as HTML forms and identity providers
    /// write it). In SCIM 1.1, attribute paths in `sortBy`, `attributes` and
    /// `excludedAttributes` are translated to 2.0 ([`v1_paths`]).
    pub(crate) fn parse(query: Option<&str>, version: ScimVersion) -> Params {
        let pairs = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| {
                        let is_path = ["sortBy", "attributes", "excludedAttributes"]
                            .iter()
                            .any(|n| n.eq_ignore_ascii_case(&k));
                        let v = if is_path && version == ScimVersion::V1_1 {
                            v1_paths(&v)
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs }
    }

    /// The parameter `name` (matched in any case). Given twice it is a 400: which one the
    /// client meant cannot be known.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, ScimError> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(ScimError::invalid_value(
                name,
                "the query parameter is given more than once",
            ));
        }
        Ok(first)
    }

    /// Whether `name` is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// `attributes` and `excludedAttributes`.
    pub(crate) fn projection(&self) -> Result<Projection, ScimError> {
        Projection::parse(self.get("attributes")?, self.get("excludedAttributes")?)
    }
}

/// A list request: what to ask the provisioner, and how to project the results.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListParams {
    pub(crate) query: ListQuery,
    pub(crate) projection: Projection,
}

impl ListParams {
    /// From the URL of `GET /Users` and the like.
    pub(crate) fn from_params(p: &Params, max_results: u64) -> Result<ListParams, ScimError> {
        let mut query = ListQuery::new();
        if let Some(f) = p.get("filter")? {
            query.filter = Some(f.parse()?);
        }
        if let Some(s) = p.get("sortBy")? {
            query.sort_by = Some(crate::sort::parse_sort_by(s)?);
        }
        if let Some(o) = p.get("sortOrder")? {
            query.sort_order = parse_sort_order(o)?;
        }
        let start = p
            .get("startIndex")?
            .map(|s| integer("startIndex", s))
            .transpose()?;
        let count = p.get("count")?.map(|s| integer("count", s)).transpose()?;
        query.start_index = start.map_or(1, |i| i.max(1).unsigned_abs());
        query.count = Some(clamp_count(
            count.map(|c| c.max(0).unsigned_abs()),
            max_results,
        ));
        Ok(ListParams {
            query,
            projection: p.projection()?,
        })
    }

    /// From a `POST .search` body.
    pub(crate) fn from_search(
        req: &SearchRequest,
        max_results: u64,
    ) -> Result<ListParams, ScimError> {
        let mut query = ListQuery::new();
        query.filter = req.parsed_filter()?;
        if let Some(s) = &req.sort_by {
            query.sort_by = Some(crate::sort::parse_sort_by(s)?);
        }
        query.sort_order = req.sort_order.unwrap_or_default();
        query.start_index = req.start_index();
        query.count = Some(clamp_count(req.count(), max_results));
        Ok(ListParams {
            query,
            projection: Projection::from_lists(&req.attributes, &req.excluded_attributes)?,
        })
    }
}

/// SCIM 1.1 attribute paths as 2.0 ones: the 1.1 enterprise URN becomes the 2.0 one, and the
/// 1.1 core URN prefix (shared by Users and Groups) is dropped, leaving the plain attribute
/// name that means the core attribute in 2.0.
pub(crate) fn v1_paths(paths: &str) -> String {
    let core_prefix = format!("{}:", scim1::CORE);
    paths
        .split(',')
        .map(|p| {
            let p = p.trim();
            if let Some(rest) = strip_prefix_ci(p, &core_prefix) {
                rest.to_owned()
            } else if let Some(rest) = strip_prefix_ci(p, scim1::ENTERPRISE) {
                format!("{}{rest}", crate::urn::ENTERPRISE_USER)
            } else {
                p.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `count`: absent means as many as allowed; above `max_results` is cut to it (RFC 7644
/// §3.4.2.4 lets the provider return fewer; `tooMany` is for filters, not for page sizes).
fn clamp_count(count: Option<u64>, max_results: u64) -> u64 {
    count.map_or(max_results, |c| c.min(max_results))
}

fn parse_sort_order(s: &str) -> Result<SortOrder, ScimError> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("ascending") {
        Ok(SortOrder::Ascending)
    } else if s.eq_ignore_ascii_case("descending") {
        Ok(SortOrder::Descending)
    } else {
        Err(ScimError::invalid_value(
            "sortOrder",
            format_args!(
                "`{}` is not \"ascending\" or \"descending\"",
                s.escape_debug()
            ),
        ))
    }
}

/// An integer parameter; out-of-range values saturate (they mean "very large" or "very small"
/// either way), anything else non-numeric is a 400 naming the parameter.
fn integer(name: &str, s: &str) -> Result<i64, ScimError> {
    match s.trim().parse::<i64>() {
        Ok(n) => Ok(n),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Ok(i64::MAX),
        Err(e) if *e.kind() == IntErrorKind::NegOverflow => Ok(i64::MIN),
        Err(_) => Err(ScimError::invalid_value(
            name,
            format_args!("`{}` is not an integer", s.escape_debug()),
        )),
    }
}
