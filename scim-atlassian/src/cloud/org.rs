//! Last logins on Atlassian Cloud: the organizations REST API's last-active dates
//! (`GET /admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates`), which an
//! organization admin API key reaches and a directory (SCIM) API key does not.
//!
//! What Atlassian documents of it: a user's last active date for each product of the
//! organization ("active" is viewing a product's page for at least 2 seconds; the data may be
//! late by up to a day); `product_access` is empty for a user who has used no product; only
//! managed accounts (in a verified domain) have it. The account is named by its Atlassian
//! account id, which Cloud's SCIM users carry in
//! `urn:scim:schemas:extension:atlassian-external:1.1`'s `atlassianAccountId`.

use chrono::{DateTime, NaiveDate, Utc};
use http::{HeaderValue, Method, Request, StatusCode, header};
use scim_core::ScimError;
use serde::Deserialize;
use serde_json::Value;

use super::{CloudProvisioner, cloud_error, decode_error, transport_error};
use crate::transport::Retry;
use crate::{AtlassianError, Credentials};

use super::ATLASSIAN_EXTERNAL;

/// The call as records and errors name it (no ids).
const CALL: &str = "GET /admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates";

/// The organizations REST API of one organization.
#[derive(Clone)]
pub(super) struct OrgApi {
    /// `https://HOST/admin/v1/orgs/{orgId}`.
    base: url::Url,
    auth: HeaderValue,
}

impl OrgApi {
    /// The API of organization `org_id` on the host of the `directory` URL, with `key`.
    pub(super) fn new(
        directory: &url::Url,
        org_id: &str,
        key: &Credentials,
    ) -> Result<Self, AtlassianError> {
        let org_id = org_id.trim();
        if org_id.is_empty() {
            return Err(AtlassianError::InvalidConfig(
                "organization: the organization id is empty".to_owned(),
            ));
        }
        let auth = key
            .header_value()
            .ok_or(AtlassianError::InvalidCredentials)?;
        let mut base = directory.clone();
        base.set_query(None);
        base.path_segments_mut()
            .map_err(|()| {
                AtlassianError::InvalidBaseUrl(format!("{directory} cannot take a path"))
            })?
            .clear()
            .extend(["admin", "v1", "orgs", org_id]);
        Ok(OrgApi { base, auth })
    }

    fn request(&self, account_id: &str) -> Result<Request<Vec<u8>>, ScimError> {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(["directory", "users", account_id, "last-active-dates"]);
        }
        Request::builder()
            .method(Method::GET)
            .uri(url.as_str())
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| {
                ScimError::other(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    format_args!("Atlassian Cloud {CALL}: cannot build the request: {e}"),
                )
            })
    }
}

/// The answer's part we read.
#[derive(Deserialize)]
struct Activity {
    #[serde(default)]
    data: Option<ActivityData>,
}

#[derive(Deserialize)]
struct ActivityData {
    #[serde(default)]
    product_access: Vec<ProductAccess>,
}

#[derive(Deserialize)]
struct ProductAccess {
    /// A date, `YYYY-MM-DD`.
    #[serde(default)]
    last_active: Option<String>,
    /// A finer time where sent (an RFC 3339 string, or milliseconds since 1970).
    #[serde(default)]
    last_active_timestamp: Option<Value>,
}

impl ProductAccess {
    fn when(&self) -> Option<DateTime<Utc>> {
        let exact = match &self.last_active_timestamp {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Some(Value::Number(n)) => n.as_i64().and_then(DateTime::from_timestamp_millis),
            _ => None,
        };
        exact.or_else(|| {
            let date = NaiveDate::parse_from_str(self.last_active.as_deref()?, "%Y-%m-%d").ok()?;
            Some(date.and_hms_opt(0, 0, 0)?.and_utc())
        })
    }
}

impl CloudProvisioner {
    /// When user `id` was last active in any of the organization's products (`Ok(None)`:
    /// never), for the inactive-user cleanup: the organizations REST API's last-active dates
    /// (see [`CloudBuilder::organization`](super::CloudBuilder::organization)), the latest
    /// over the products. Two calls: the SCIM user (for its Atlassian account id), then the
    /// dates. Atlassian counts a product's page viewed for 2 seconds as activity, and its
    /// dates may be a day late, so choose inactivity periods in days.
    ///
    /// 404 for a user SCIM does not show; 501 when no organization admin API key is
    /// configured (the directory API key cannot reach that API, and the user provisioning
    /// API does not tell); 502 when Cloud gives no account id or the organizations API
    /// refuses (it answers only for managed accounts).
    pub async fn last_login(&self, id: &str) -> Result<Option<DateTime<Utc>>, ScimError> {
        let user = self.visible(id).await?;
        let Some(api) = &self.org else {
            return Err(ScimError::other(
                StatusCode::NOT_IMPLEMENTED,
                None,
                "last login is not supported by Atlassian Cloud's user provisioning (SCIM) API, \
                 the only one a directory API key reaches; configure the organization id and an \
                 organization admin API key (CloudBuilder::organization) to read the \
                 organizations REST API's last-active dates",
            ));
        };
        let account = user
            .get(ATLASSIAN_EXTERNAL)
            .and_then(|e| e.get("atlassianAccountId"))
            .and_then(Value::as_str)
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                decode_error(
                    "GET /Users/{id}",
                    format_args!(
                        "user {id} carries no Atlassian account id \
                         ({ATLASSIAN_EXTERNAL}:atlassianAccountId), which the organizations \
                         API needs"
                    ),
                )
            })?;
        let resp = self
            .link
            .send(
                CALL,
                Retry::Idempotent,
                || api.request(account),
                |resp| {
                    let e = cloud_error(CALL, resp);
                    match resp.status().as_u16() {
                        401 | 403 | 404 => ScimError::other(
                            StatusCode::BAD_GATEWAY,
                            None,
                            format_args!(
                                "{} (the organizations API answers an organization admin API \
                                 key of the organization, and only for its managed accounts)",
                                e.detail()
                            ),
                        ),
                        _ => e,
                    }
                },
                |e| transport_error(CALL, &e),
            )
            .await?;
        let activity: Activity =
            serde_json::from_slice(resp.body()).map_err(|e| decode_error(CALL, e))?;
        Ok(activity
            .data
            .into_iter()
            .flat_map(|d| d.product_access)
            .filter_map(|p| p.when())
            .max())
    }
}

/// For the inactive-user cleanup (`scim_sync::InactiveCleanup`):
/// [`CloudProvisioner::last_login`].
#[async_trait::async_trait]
impl scim_provisioning::LastLogins for CloudProvisioner {
    async fn last_login(
        &self,
        _ctx: &scim_core::provision::RequestContext,
        id: &str,
    ) -> Result<Option<DateTime<Utc>>, ScimError> {
        CloudProvisioner::last_login(self, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_dates_read_as_the_latest_instant() {
        let p = |json: Value| {
            serde_json::from_value::<ProductAccess>(json)
                .unwrap()
                .when()
        };
        assert_eq!(
            p(serde_json::json!({"last_active": "2026-03-04"})),
            Some(
                NaiveDate::from_ymd_opt(2026, 3, 4)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc()
            )
        );
        assert_eq!(
            p(serde_json::json!({"last_active": "2026-03-04",
                                 "last_active_timestamp": "2026-03-04T10:20:30Z"}))
            .map(|t| t.to_rfc3339()),
            Some("2026-03-04T10:20:30+00:00".to_owned())
        );
        assert_eq!(p(serde_json::json!({"last_active": "yesterday"})), None);
        assert_eq!(p(serde_json::json!({})), None);
    }
}
