//! [`ListQuery`] and [`Page`]: a list request as a backend sees it, and its answer.

use scim_filter::{AttrPath, Filter};

use crate::messages::{ListResponse, SortOrder};

/// A parsed list or search request: filter, sort and page (RFC 7644 §3.4.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    /// `filter`, if any.
    pub filter: Option<Filter>,
    /// `sortBy`, if any.
    pub sort_by: Option<AttrPath>,
    /// `sortOrder`.
    pub sort_order: SortOrder,
    /// `startIndex`: 1-based, at least 1.
    pub start_index: u64,
    /// `count`: the page size; `None` means as many as the service allows, `Some(0)` asks for
    /// `totalResults` only.
    pub count: Option<u64>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            sort_by: None,
            sort_order: SortOrder::Ascending,
            start_index: 1,
            count: None,
        }
    }
}

impl ListQuery {
    /// Everything, unsorted, from the first resource.
    pub fn new() -> Self {
        ListQuery::default()
    }

    /// Sets the filter.
    #[must_use]
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets `sortBy` and `sortOrder`.
    #[must_use]
    pub fn with_sort(mut self, sort_by: AttrPath, order: SortOrder) -> Self {
        self.sort_by = Some(sort_by);
        self.sort_order = order;
        self
    }

    /// Sets `startIndex` (values below 1 mean 1) and `count`.
    #[must_use]
    pub fn with_page(mut self, start_index: u64, count: Option<u64>) -> Self {
        self.start_index = start_index.max(1);
        self.count = count;
        self
    }

    /// The 0-based offset of the first result and the page size (`usize::MAX` when unbounded).
    pub fn window(&self) -> (usize, usize) {
        let offset = usize::try_from(self.start_index.saturating_sub(1)).unwrap_or(usize::MAX);
        let count = self
            .count
            .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        (offset, count)
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// This page.
    pub resources: Vec<T>,
    /// How many resources matched in all.
    pub total_results: u64,
    /// The 1-based index of the first resource of this page.
    pub start_index: u64,
}

impl<T> Page<T> {
    /// Maps every resource (e.g. to project it for output).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            resources: self.resources.into_iter().map(f).collect(),
            total_results: self.total_results,
            start_index: self.start_index,
        }
    }
}

impl<T> From<Page<T>> for ListResponse<T> {
    fn from(page: Page<T>) -> Self {
        ListResponse::new(page.resources, page.total_results, page.start_index)
    }
}
