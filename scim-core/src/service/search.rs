//! Queries: `GET /Users?filter=...`, `POST /Users/.search`, and `POST /.search` across users
//! and groups (RFC 7644 §3.4.2, §3.4.3).

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::Call;
use super::body;
use super::kind::Kind;
use super::query::{ListParams, v1_paths};
use super::response::{Reply, list_body};
use crate::error::ScimError;
use crate::messages::SearchRequest;
use crate::provision::{ListQuery, ScimVersion};
use crate::resource::{Group, User};
use crate::schema::SchemaRegistry;

/// `GET /Users`, `GET /Groups`.
pub(crate) async fn list<T: Kind>(call: &Call<'_>) -> Result<Reply, ScimError> {
    let params = ListParams::from_params(&call.params, call.inner.max_results)?;
    run::<T>(call, &params).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub(crate) async fn search<T: Kind>(call: &Call<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let params = search_params(call, body)?;
    run::<T>(call, &params).await
}

fn search_params(call: &Call<'_>, body: &[u8]) -> Result<ListParams, ScimError> {
    let value = body::json(body)?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(
            "a SearchRequest must be a JSON object",
        ));
    }
    let mut request = SearchRequest::deserialize(&value).map_err(ScimError::from)?;
    if call.version == ScimVersion::V1_1 {
        request.sort_by = request.sort_by.as_deref().map(v1_paths);
        for list in [&mut request.attributes, &mut request.excluded_attributes] {
            for item in list.iter_mut() {
                *item = v1_paths(item);
            }
        }
    }
    ListParams::from_search(&request, call.inner.max_results)
}

async fn run<T: Kind>(call: &Call<'_>, params: &ListParams) -> Result<Reply, ScimError> {
    let page = T::search(call.provisioner(), &call.ctx, &params.query).await?;
    let resources = page
        .resources
        .into_iter()
        .map(|r| call.render(&r, &params.projection).map(|(body, ..)| body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Reply::json(
        StatusCode::OK,
        list_body(
            resources,
            page.total_results,
            page.start_index,
            call.version,
        ),
    ))
}

/// `GET` on the base path: [`root_search`] with the query in the URL.
pub(crate) async fn root_list(call: &Call<'_>) -> Result<Reply, ScimError> {
    let params = ListParams::from_params(&call.params, call.inner.max_results)?;
    both(call, &params).await
}

/// `POST /.search`: users, then groups, as one result list.
pub(crate) async fn root_search(call: &Call<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let params = search_params(call, body)?;
    both(call, &params).await
}

/// Users and groups as one result list. Without `sortBy` the users come first and the page is
/// cut across both; with it, the first `startIndex + count - 1` of each (sorted by the
/// provisioner) are merged by the same key.
async fn both(call: &Call<'_>, params: &ListParams) -> Result<Reply, ScimError> {
    let query = &params.query;
    let (offset, count) = query.window();
    let p = call.provisioner();
    let (total, resources) = match &query.sort_by {
        None => {
            let users = User::search(p, &call.ctx, query).await?;
            let taken = users.resources.len();
            let group_offset = offset.saturating_sub(usize_of(users.total_results));
            let group_query = ListQuery {
                start_index: (group_offset as u64).saturating_add(1),
                count: Some(count.saturating_sub(taken) as u64),
                ..query.clone()
            };
            let groups = Group::search(p, &call.ctx, &group_query).await?;
            let mut out = Vec::with_capacity(taken + groups.resources.len());
            for u in users.resources {
                out.push(call.render(&u, &params.projection)?.0);
            }
            for g in groups.resources {
                out.push(call.render(&g, &params.projection)?.0);
            }
            (
                users.total_results.saturating_add(groups.total_results),
                out,
            )
        }
        Some(path) => {
            let head = ListQuery {
                start_index: 1,
                count: Some(offset.saturating_add(count) as u64),
                ..query.clone()
            };
            let users = User::search(p, &call.ctx, &head).await?;
            let groups = Group::search(p, &call.ctx, &head).await?;
            let mut merged: Vec<(Value, Either)> = Vec::new();
            for u in users.resources {
                merged.push((serde_json::to_value(&u)?, Either::User(Box::new(u))));
            }
            for g in groups.resources {
                merged.push((serde_json::to_value(&g)?, Either::Group(Box::new(g))));
            }
            crate::sort::sort_items_by_path(
                &mut merged,
                |(raw, _)| raw,
                path,
                query.sort_order,
                SchemaRegistry::builtin(),
            );
            // Only the page is rendered.
            let page = merged
                .into_iter()
                .skip(offset)
                .take(count)
                .map(|(_, r)| match r {
                    Either::User(u) => call.render(&*u, &params.projection),
                    Either::Group(g) => call.render(&*g, &params.projection),
                })
                .map(|r| r.map(|(body, ..)| body))
                .collect::<Result<Vec<_>, _>>()?;
            (
                users.total_results.saturating_add(groups.total_results),
                page,
            )
        }
    };
    Ok(Reply::json(
        StatusCode::OK,
        list_body(resources, total, query.start_index, call.version),
    ))
}

/// A user or a group of a merged result list.
enum Either {
    // Boxed: the typed resources are hundreds of bytes, and the list is sorted by moving them.
    User(Box<User>),
    Group(Box<Group>),
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
