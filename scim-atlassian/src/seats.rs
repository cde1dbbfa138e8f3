//! [`SeatUsage`]: how many licence seats a product has and how many are taken, as
//! [`AtlassianProvisioner::seats`](crate::AtlassianProvisioner::seats) and
//! [`CloudProvisioner::seats`](crate::cloud::CloudProvisioner::seats) read them.
//!
//! Where each product tells (ATLASSIAN.md):
//! - Jira Data Center: `GET /rest/api/2/applicationrole`, one [`SeatPool`] per application
//!   role (`numberOfSeats`, `userCount`, the groups granting it, whether new users get it).
//! - Confluence Data Center: `GET /rest/license/1.0/license/maxUsers` and `.../userCount`
//!   \[K\], one pool.
//! - Bitbucket Data Center: `GET /rest/api/1.0/admin/license` (`maximumNumberOfUsers`,
//!   `status.currentNumberOfUsers`), one pool.
//! - Crowd and Atlassian Cloud: not exposed to the credentials this crate uses (Crowd's
//!   application API has no licence call; Cloud's user provisioning API has none either:
//!   seats are managed in admin.atlassian.com). [`SeatUsage::note`] says so and the counts
//!   are `None`.

use serde::{Deserialize, Serialize};

/// One group of seats a product counts apart (a Jira application role; the whole licence on
/// the other products).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SeatPool {
    /// The product's key for it (`jira-software`; `confluence`, `bitbucket`).
    pub key: String,
    /// Its name for people (`Jira Software`).
    pub name: String,
    /// Seats the licence grants; `None`: unlimited.
    pub licensed: Option<u64>,
    /// Seats taken.
    pub used: u64,
    /// The groups whose members take a seat in it (Jira); empty: every active user does.
    pub groups: Vec<String>,
    /// Whether a new user takes a seat in it whatever its groups (Jira: a role selected by
    /// default; the other products: always).
    pub default_for_new_users: bool,
}

impl SeatPool {
    /// A pool every active user takes a seat in (Confluence, Bitbucket).
    pub(crate) fn whole(key: &str, name: &str, licensed: Option<u64>, used: u64) -> Self {
        SeatPool {
            key: key.to_owned(),
            name: name.to_owned(),
            licensed,
            used,
            groups: Vec::new(),
            default_for_new_users: true,
        }
    }

    /// A Jira application role.
    pub(crate) fn role(
        key: String,
        name: String,
        licensed: Option<u64>,
        used: u64,
        groups: Vec<String>,
        default_for_new_users: bool,
    ) -> Self {
        SeatPool {
            key,
            name,
            licensed,
            used,
            groups,
            default_for_new_users,
        }
    }

    /// Seats left once `reserve` are kept free; `None` when unlimited. A reserve larger than
    /// what is left leaves 0.
    pub fn free(&self, reserve: u64) -> Option<u64> {
        self.licensed
            .map(|l| l.saturating_sub(self.used).saturating_sub(reserve))
    }

    /// Whether a user in `groups` (when it is new: `new_user`) takes a seat in this pool.
    pub fn applies_to(&self, groups: &[String], new_user: bool) -> bool {
        (new_user && self.default_for_new_users)
            || self.groups.is_empty()
            || self
                .groups
                .iter()
                .any(|g| groups.iter().any(|u| u.eq_ignore_ascii_case(g)))
    }
}

/// A product's licence seats: what [`AtlassianProvisioner::seats`](crate::AtlassianProvisioner::seats)
/// answers, for connection tests and admin pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SeatUsage {
    /// The product (`Jira`, `Confluence`, `Bitbucket`, `Crowd`, `Atlassian Cloud`).
    pub product: String,
    /// Seats licensed in the tightest pool (the one with the fewest seats left); `None` when
    /// unlimited or not known (see [`SeatUsage::note`]).
    pub licensed: Option<u64>,
    /// Seats taken in that pool; `None` when not known.
    pub used: Option<u64>,
    /// Seats the policy keeps free ([`SeatPolicy::reserve`](crate::policy::SeatPolicy::reserve)).
    pub reserve: u64,
    /// Every pool the product counts (Jira: per application role).
    pub pools: Vec<SeatPool>,
    /// Why counts are missing, when the product does not tell.
    pub note: Option<String>,
}

impl SeatUsage {
    /// Usage from `pools` (empty: the product does not tell, `note` says why).
    pub(crate) fn from_pools(
        product: &str,
        pools: Vec<SeatPool>,
        reserve: u64,
        note: Option<String>,
    ) -> Self {
        // The tightest limited pool is the headline: it is the one that refuses first.
        let tightest = pools
            .iter()
            .filter(|p| p.licensed.is_some())
            .min_by_key(|p| p.free(0));
        let (licensed, used) = match (tightest, pools.first()) {
            (Some(p), _) => (p.licensed, Some(p.used)),
            (None, Some(p)) => (None, Some(p.used)),
            (None, None) => (None, None),
        };
        SeatUsage {
            product: product.to_owned(),
            licensed,
            used,
            reserve,
            pools,
            note,
        }
    }

    /// Seats left in the tightest pool once the reserve is kept free; `None` when unlimited
    /// or not known.
    pub fn free(&self) -> Option<u64> {
        self.licensed.map(|l| {
            l.saturating_sub(self.used.unwrap_or(0))
                .saturating_sub(self.reserve)
        })
    }

    /// A limited pool whose seats the reserve takes whole (`reserve >= licensed`): with
    /// `seats.enforce` every user it applies to would be refused, a misconfiguration to
    /// report (the bridge's `--test-connection` does).
    pub fn reserve_too_large(&self) -> Option<&SeatPool> {
        self.pools
            .iter()
            .find(|p| p.licensed.is_some_and(|l| self.reserve >= l))
    }

    /// Whether the product told its seat counts.
    pub fn is_known(&self) -> bool {
        !self.pools.is_empty()
    }
}

impl std::fmt::Display for SeatUsage {
    /// `Jira: 8 of 10 seats used, 2 kept free (Jira Software 8/10, Jira Service Management
    /// 3/unlimited)`, or the note.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.is_known() {
            let note = self.note.as_deref().unwrap_or("seat counts not available");
            return write!(f, "{}: {note}", self.product);
        }
        match (self.licensed, self.used) {
            (Some(l), Some(u)) => write!(f, "{}: {u} of {l} seats used", self.product)?,
            (None, Some(u)) => write!(f, "{}: {u} seats used, unlimited licence", self.product)?,
            _ => write!(f, "{}: seat counts not available", self.product)?,
        }
        if self.reserve > 0 {
            write!(f, ", {} kept free", self.reserve)?;
        }
        if self.pools.len() > 1 {
            let parts: Vec<String> = self
                .pools
                .iter()
                .map(|p| match p.licensed {
                    Some(l) => format!("{} {}/{l}", p.name, p.used),
                    None => format!("{} {}/unlimited", p.name, p.used),
                })
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}
