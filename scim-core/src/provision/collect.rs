//! [`PageCollector`]: the filter, sort and page step of a search done in memory, shared by every
//! backend that evaluates a query over resources it reads itself.

use std::borrow::Borrow;

use scim_filter::Filter;
use serde_json::Value;

use super::query::{ListQuery, Page};
use crate::schema::ResourceSchema;

/// Collects one page of a search from resources offered one at a time, in the backend's scan
/// order: keeps those the filter accepts, counts them all, sorts by `sortBy` and cuts the page
/// `startIndex`/`count` asks for.
///
/// Memory stays bounded by the page: without `sortBy` only the requested page's resources are
/// kept (the others are counted and dropped); with it, every match is kept, since any of them may
/// sort first. The sort is stable, so ties keep the scan order.
///
/// Each resource is offered with its JSON form `J` (a [`Value`], or a borrowed one, anything that
/// [`Borrow`]s a `Value`), which the filter and the sort read, and the item `T` the page returns.
///
/// ```
/// use scim_core::provision::{ListQuery, PageCollector};
/// use scim_core::schema::SchemaRegistry;
/// use serde_json::json;
///
/// use scim_core::messages::SortOrder;
///
/// let query = ListQuery::new()
///     .with_filter("title pr".parse().unwrap())
///     .with_sort("userName".parse().unwrap(), SortOrder::Ascending);
/// let schema = SchemaRegistry::builtin().resource(scim_core::urn::USER);
/// let mut page = PageCollector::new(&query, schema);
/// let scanned = [("1", "carol", Some("CTO")), ("2", "alice", Some("CEO")), ("3", "bob", None)];
/// for (id, name, title) in scanned {
///     page.offer(json!({ "userName": name, "title": title }), id);
/// }
/// let page = page.finish();
/// assert_eq!(page.resources, ["2", "1"]);
/// assert_eq!(page.total_results, 2);
/// ```
#[derive(Debug)]
#[must_use]
pub struct PageCollector<'a, J, T> {
    filters: &'a [Filter],
    schema: ResourceSchema<'a>,
    query: &'a ListQuery,
    offset: usize,
    count: usize,
    kept: Vec<(J, T)>,
    matched: usize,
}

impl<'a, J: Borrow<Value>, T> PageCollector<'a, J, T> {
    /// A collector for `query`, whose filter and sort attributes resolve in `schema` (the
    /// resource type's: users' or groups').
    pub fn new(query: &'a ListQuery, schema: ResourceSchema<'a>) -> Self {
        let (offset, count) = query.window();
        PageCollector {
            filters: query.filter.as_slice(),
            schema,
            query,
            offset,
            count,
            kept: Vec::new(),
            matched: 0,
        }
    }

    /// Accepts resources that match all of `filters` instead of the query's filter: for a
    /// backend that already applied part of the filter itself and leaves the rest here.
    pub fn with_filters(mut self, filters: &'a [Filter]) -> Self {
        self.filters = filters;
        self
    }

    /// Offers the next resource of the scan; returns whether it matched.
    pub fn offer(&mut self, json: J, item: T) -> bool {
        if !self
            .filters
            .iter()
            .all(|f| f.matches_with(json.borrow(), &self.schema))
        {
            return false;
        }
        let in_window = self.matched >= self.offset && self.matched - self.offset < self.count;
        if self.query.sort_by.is_some() || in_window {
            self.kept.push((json, item));
        }
        self.matched += 1;
        true
    }

    /// The page: sorted, cut to the window, with the count of every match.
    pub fn finish(self) -> Page<T> {
        self.finish_with_json().map(|(_, item)| item)
    }

    /// [`finish`](Self::finish), each resource still paired with its JSON form (for a backend
    /// whose items are the JSON itself).
    pub fn finish_with_json(mut self) -> Page<(J, T)> {
        let resources = if let Some(path) = &self.query.sort_by {
            crate::sort::sort_items_by_path(
                &mut self.kept,
                |(json, _)| json.borrow(),
                path,
                self.query.sort_order,
                &self.schema,
            );
            self.kept
                .into_iter()
                .skip(self.offset)
                .take(self.count)
                .collect()
        } else {
            self.kept
        };
        Page {
            resources,
            total_results: self.matched as u64,
            start_index: self.query.start_index,
        }
    }
}
