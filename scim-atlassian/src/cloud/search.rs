//! Listing with the filters Cloud serves pushed down, the rest evaluated locally page by page.

use scim_core::provision::{ListQuery, Page, PageCollector};
use scim_core::{SchemaRegistry, ScimError};
use scim_filter::{CompValue, CompareOp, Filter};
use serde_json::Value;

use super::{CLOUD_PAGE, CloudProvisioner, Kind};

/// The attributes Cloud filters on with `eq`, per collection.
fn pushable(kind: Kind) -> (&'static str, &'static [&'static str]) {
    match kind {
        Kind::Users => (scim_core::urn::USER, &["userName", "externalId"]),
        Kind::Groups => (scim_core::urn::GROUP, &["displayName"]),
    }
}

/// The filter text to send to Cloud, when `filter` is one Cloud serves: a single `eq` with a
/// string on one of the attributes it indexes. It is sent in the plainest form (`userName eq
/// "x"`: no schema URN, the attribute's canonical spelling), the one Atlassian documents.
pub(crate) fn pushdown(kind: Kind, filter: &Filter) -> Option<String> {
    let (urn, attrs) = pushable(kind);
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(value))
            if path.sub_attr().is_none()
                && path.schema().is_none_or(|s| s.eq_ignore_ascii_case(urn)) =>
        {
            let attr = attrs.iter().find(|a| path.name().eq_ignore_ascii_case(a))?;
            let literal = serde_json::to_string(value.as_str()).ok()?;
            Some(format!("{attr} eq {literal}"))
        }
        _ => None,
    }
}

/// The name in a `userName eq "name"` filter (the core User's `userName`, no sub-attribute).
pub(crate) fn user_name_eq(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(value))
            if path.sub_attr().is_none()
                && path.name().eq_ignore_ascii_case("userName")
                && path
                    .schema()
                    .is_none_or(|s| s.eq_ignore_ascii_case(scim_core::urn::USER)) =>
        {
            Some(value.as_str())
        }
        _ => None,
    }
}

/// Up to `limit` resources from `offset` (0-based) in Cloud's order, [`CLOUD_PAGE`] a call.
///
/// The end is found from `totalResults`, not from a short page: a server may hand out fewer
/// than asked (a lower cap than documented) without having run out.
pub(crate) async fn scan(
    cloud: &CloudProvisioner,
    kind: Kind,
    offset: usize,
    limit: usize,
) -> Result<Vec<Value>, ScimError> {
    let mut out = Vec::new();
    while out.len() < limit {
        let want = (limit - out.len()).min(CLOUD_PAGE);
        let (page, total) = cloud
            .list_page(kind, None, offset + out.len() + 1, want)
            .await?;
        let len = page.len();
        out.extend(page);
        if len == 0 || reached(offset + out.len(), total) {
            break;
        }
    }
    Ok(out)
}

/// Serves `query`: a filter Cloud takes (and no `sortBy`) goes straight to Cloud with the
/// caller's paging; anything else pages through Cloud and filters, sorts and cuts locally.
///
/// `view` turns each resource Cloud answers into the resource as SCIM shows it, or `None` when
/// SCIM does not show it at all (users a SCIM `DELETE` hid). Filters evaluated here see the
/// view (so `active eq false` finds the users the identity provider deactivated under `keep`,
/// whose Cloud accounts stay active), and hidden resources are not part of the results:
/// `totalResults` and `startIndex` count only the others. A forwarded filter is asked from its
/// first match to the end of the caller's window, and for at least a whole page, so that hidden
/// resources before the window are counted out of it. That answer is used when it holds no hidden resource, or holds every
/// match (it reached Cloud's total), where dropping hidden ones keeps the count exact;
/// otherwise the search pages through Cloud with the filter instead.
pub(crate) async fn search(
    cloud: &CloudProvisioner,
    kind: Kind,
    query: &ListQuery,
    view: &(dyn Fn(Value) -> Result<Option<Value>, ScimError> + Sync),
) -> Result<Page<Value>, ScimError> {
    let pushed = query.filter.as_ref().and_then(|f| pushdown(kind, f));
    let (offset, count) = query.window();
    if let (Some(filter), None) = (&pushed, &query.sort_by) {
        // From the first match, not from `offset`: a hidden resource before the window would
        // otherwise shift it. At least a whole page: these filters match a few resources, so
        // one call usually holds every match, and the count stays exact whatever is hidden.
        let want = offset.saturating_add(count).max(CLOUD_PAGE);
        let (found, total) = forward(cloud, kind, filter, want).await?;
        let fetched = found.len();
        let mut shown = Vec::with_capacity(fetched);
        let mut dropped: usize = 0;
        for item in found {
            match view(item)? {
                Some(item) => shown.push(item),
                None => dropped += 1,
            }
        }
        if dropped == 0 || reached(fetched, total) {
            return Ok(Page {
                resources: shown.into_iter().skip(offset).take(count).collect(),
                total_results: total.saturating_sub(u64::try_from(dropped).unwrap_or(u64::MAX)),
                start_index: query.start_index,
            });
        }
    }
    let (urn, _) = pushable(kind);
    let mut collected = PageCollector::new(query, SchemaRegistry::builtin().resource(urn));
    let mut scanned: usize = 0;
    loop {
        let (page, total) = cloud
            .list_page(kind, pushed.as_deref(), scanned + 1, CLOUD_PAGE)
            .await?;
        let len = page.len();
        for item in page {
            if let Some(item) = view(item)? {
                collected.offer(item, ());
            }
        }
        scanned += len;
        if len == 0 || reached(scanned, total) {
            break;
        }
    }
    // The items are the JSON itself.
    Ok(collected.finish_with_json().map(|(json, ())| json))
}

/// The first `count` resources a pushed-down filter matches, in pages of at most
/// [`CLOUD_PAGE`], and Cloud's total: usually one call, since an `eq` on these attributes
/// matches few resources.
async fn forward(
    cloud: &CloudProvisioner,
    kind: Kind,
    filter: &str,
    count: usize,
) -> Result<(Vec<Value>, u64), ScimError> {
    let mut resources = Vec::new();
    let total = loop {
        let want = (count - resources.len()).min(CLOUD_PAGE);
        let (page, t) = cloud
            .list_page(kind, Some(filter), resources.len() + 1, want)
            .await?;
        let len = page.len();
        resources.extend(page);
        if len == 0 || resources.len() >= count || reached(resources.len(), t) {
            break t;
        }
    };
    resources.truncate(count);
    Ok((resources, total))
}

/// Whether `seen` resources from the start cover all of `total`.
fn reached(seen: usize, total: u64) -> bool {
    u64::try_from(seen).unwrap_or(u64::MAX) >= total
}
