//! The admin page's HTML, rendered on the server. Every value that comes from outside the code
//! (user and group names, tenant names, error details, the target's description) goes through
//! `Html::text`, which escapes it; markup is only ever written from string literals.

use chrono::{DateTime, Utc};
use scim_atlassian::history::{HistoryEntry, Outcome};
use scim_sync::Step;
use scim_sync::plan::user_names;

use crate::admin::HistorySearch;
use crate::bridge_sync::{LastRun, PlanView, SyncProgress};

/// The most plan steps one page lists; the rest are counted.
pub const MAX_PLAN_ROWS: usize = 200;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped: safe as element content and as a quoted
/// attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` encoded for a query string value (`application/x-www-form-urlencoded`).
pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An HTML document being written.
#[derive(Default)]
pub(crate) struct Html(String);

impl Html {
    /// Markup, written as is: string literals of this module only.
    fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// A value, escaped.
    fn text(&mut self, value: &str) -> &mut Self {
        self.0.push_str(&escape(value));
        self
    }

    fn cell(&mut self, value: &str) -> &mut Self {
        self.raw("<td>").text(value).raw("</td>")
    }

    /// A cell that does not wrap (times, names of kinds and results).
    fn tight(&mut self, value: &str) -> &mut Self {
        self.raw("<td class=\"tight\">").text(value).raw("</td>")
    }

    /// A history entry's outcome, as a badge.
    fn outcome(&mut self, outcome: &Outcome) -> &mut Self {
        let (class, text) = outcome_text(outcome);
        self.raw("<td><span class=\"badge ")
            .raw(class)
            .raw("\">")
            .text(&text)
            .raw("</span></td>")
    }

    fn head(&mut self, title: &str) -> &mut Self {
        self.raw(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <link rel=\"stylesheet\" href=\"/admin/assets/admin.css\"><title>",
        )
        .text(title)
        .raw("</title>")
    }

    pub(crate) fn finish(self) -> String {
        self.0
    }
}

/// `t` as the page shows times: `2026-12-06 19:49:27 UTC`.
pub fn show_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The sign-in form; `error` says why the last attempt failed.
pub(crate) fn login_page(error: Option<&str>, next: &str) -> String {
    let mut h = Html::default();
    h.head("Sign in: atlassian-bridge admin")
        .raw("</head><body><main class=\"login\"><h1>atlassian-bridge admin</h1>");
    if let Some(error) = error {
        h.raw("<p class=\"error\" role=\"alert\">")
            .text(error)
            .raw("</p>");
    }
    h.raw(
        "<form method=\"post\" action=\"/admin/login\">\
         <label for=\"token\">Admin token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" \
         required autofocus><input type=\"hidden\" name=\"next\" value=\"",
    )
    .text(next)
    .raw(
        "\"><button type=\"submit\">Sign in</button></form>\
         <p class=\"hint\">The admin token is the bridge's <code>--admin-token</code> or \
         <code>admin_token</code>. Signing in sets a session cookie for this page only.</p>\
         </main></body></html>",
    );
    h.finish()
}

/// The page a successful sign-in answers: the browser follows its refresh to `next`, as a
/// navigation from this site, so that the `SameSite=Strict` cookie goes along (a redirect
/// answering a form posted from elsewhere would not carry it).
pub(crate) fn signed_in_page(next: &str) -> String {
    let mut h = Html::default();
    h.head("Signed in")
        .raw("<meta http-equiv=\"refresh\" content=\"0;url=")
        .text(next)
        .raw("\"></head><body><main class=\"login\"><p>Signed in. <a href=\"")
        .text(next)
        .raw("\">Continue to the admin page</a>.</p></main></body></html>");
    h.finish()
}

/// A short page for a refused or failed request.
pub(crate) fn message_page(title: &str, message: &str) -> String {
    let mut h = Html::default();
    h.head(title)
        .raw("</head><body><main class=\"login\"><h1>")
        .text(title)
        .raw("</h1><p>")
        .text(message)
        .raw("</p><p><a href=\"/admin\">Back to the admin page</a></p></main></body></html>");
    h.finish()
}

/// The target and whether it answered.
#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// How the target is named (never with credentials).
    pub described: String,
    /// When it was asked.
    pub checked_at: DateTime<Utc>,
    /// What it answered: the account the bridge works as, or what went wrong.
    pub result: Result<String, String>,
}

/// One product's licence seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatRow {
    /// The product or application (`jira-software`, `Confluence`).
    pub product: String,
    /// Seats the licence grants; `None`: unlimited or not told.
    pub licensed: Option<u64>,
    /// Seats in use.
    pub used: u64,
}

/// The target's licence seats, as far as it reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seats {
    /// One row per pool the product counts (a Jira application role; the whole licence).
    pub rows: Vec<SeatRow>,
    /// Seats the policy keeps free.
    pub reserve: u64,
    /// Why counts are missing, when the product does not tell.
    pub note: Option<String>,
}

/// One identity provider, as the page lists it.
#[derive(Clone, Debug)]
pub struct TenantRow {
    /// Its name.
    pub name: String,
    /// Whether its writes are dry runs.
    pub dry_run: bool,
}

/// The directory sync, as the page shows it.
pub(crate) struct SyncSection<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) source: String,
    pub(crate) every: Option<std::time::Duration>,
    pub(crate) progress: SyncProgress,
    pub(crate) last: Option<LastRun>,
    pub(crate) plan: Option<PlanView>,
}

/// The inactive-user cleanup, as the page shows it.
pub(crate) struct CleanupSection<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) days: u32,
    pub(crate) excluded: &'a [String],
    pub(crate) dry_run: bool,
    pub(crate) every: Option<std::time::Duration>,
    pub(crate) running: bool,
    pub(crate) last: Option<LastRun>,
}

/// One page of the history search.
pub(crate) struct HistorySection<'a> {
    pub(crate) search: &'a HistorySearch,
    pub(crate) entries: Vec<HistoryEntry>,
    pub(crate) more: bool,
    pub(crate) error: Option<String>,
}

/// Everything the dashboard shows.
pub(crate) struct Dashboard<'a> {
    pub(crate) csrf: &'a str,
    pub(crate) target: &'a TargetStatus,
    pub(crate) seats: &'a Result<Seats, String>,
    pub(crate) tenants: &'a [TenantRow],
    pub(crate) sync: Option<SyncSection<'a>>,
    pub(crate) cleanup: Option<CleanupSection<'a>>,
    pub(crate) runs: Result<Vec<HistoryEntry>, String>,
    pub(crate) history: HistorySection<'a>,
}

fn csrf_field(h: &mut Html, csrf: &str) {
    h.raw("<input type=\"hidden\" name=\"csrf\" value=\"")
        .text(csrf)
        .raw("\">");
}

/// How the last run of a job of this bridge ended, as a paragraph with the id `id`.
fn last_run(h: &mut Html, id: &'static str, last: &LastRun) {
    h.raw("<p id=\"")
        .raw(id)
        .raw("\">Last run of this bridge, ")
        .text(&show_time(&last.finished))
        .raw(": <span class=\"badge ")
        .raw(if last.ok { "ok\">ok" } else { "bad\">failed" })
        .raw("</span> ")
        .text(&last.outcome)
        .raw("</p>");
}

/// The form that starts a job (posting the CSRF token to `action`), disabled while `running`;
/// it ends the section.
fn run_button(h: &mut Html, csrf: &str, action: &'static str, label: &'static str, running: bool) {
    h.raw("<form method=\"post\" action=\"")
        .raw(action)
        .raw("\">");
    csrf_field(h, csrf);
    h.raw("<button type=\"submit\"");
    if running {
        h.raw(" disabled");
    }
    h.raw(">").raw(label).raw("</button></form></section>");
}

fn outcome_text(outcome: &Outcome) -> (&'static str, String) {
    match outcome {
        Outcome::Success => ("ok", "ok".to_owned()),
        Outcome::DryRun { would_write } => (
            "dry",
            format!("dry run: {} writes held back", would_write.len()),
        ),
        Outcome::Failure { status, detail, .. } => ("bad", format!("failed ({status}): {detail}")),
        // Outcome is non-exhaustive: a kind this page does not know yet is shown as such.
        _ => ("dry", "other".to_owned()),
    }
}

fn every_text(every: std::time::Duration) -> String {
    let s = every.as_secs();
    if s % 3600 == 0 {
        format!("every {} h", s / 3600)
    } else if s % 60 == 0 {
        format!("every {} min", s / 60)
    } else {
        format!("every {s} s")
    }
}

/// `(action, kind, name, details)` of a plan step.
fn step_row(step: &Step) -> (&'static str, &'static str, String, String) {
    let attrs = |changes: &[scim_sync::plan::Change]| {
        changes
            .iter()
            .map(|c| c.attribute.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match step {
        Step::CreateUser { user } => (
            "create",
            "user",
            user.user_name.clone(),
            user.display_name.clone().unwrap_or_default(),
        ),
        Step::UpdateUser { user, changes } => {
            ("update", "user", user.user_name.clone(), attrs(changes))
        }
        Step::ActivateUser { user } => ("activate", "user", user.user_name.clone(), String::new()),
        Step::DeactivateUser { user } => {
            ("deactivate", "user", user.user_name.clone(), String::new())
        }
        Step::DeleteUser { user } => ("delete", "user", user.user_name.clone(), String::new()),
        Step::CreateGroup {
            display_name,
            members,
            ..
        } => (
            "create",
            "group",
            display_name.clone(),
            format!("{} members: {}", members.len(), user_names(members)),
        ),
        Step::UpdateGroup {
            display_name,
            changes,
            ..
        } => ("update", "group", display_name.clone(), attrs(changes)),
        Step::AddMembers {
            display_name,
            members,
            ..
        } => (
            "add members",
            "group",
            display_name.clone(),
            user_names(members),
        ),
        Step::RemoveMembers {
            display_name,
            members,
            ..
        } => (
            "remove members",
            "group",
            display_name.clone(),
            user_names(members),
        ),
        Step::DeleteGroup { display_name, .. } => {
            ("delete", "group", display_name.clone(), String::new())
        }
        // Step is non-exhaustive: a kind this page does not know is shown as the plan prints it.
        other => ("other", "", other.to_string(), String::new()),
    }
}

/// The link to page `page` of the search `s`.
fn history_link(s: &HistorySearch, page: usize) -> String {
    format!(
        "/admin?user={}&match={}&tenant={}&page={page}#history",
        url_encode(&s.user),
        if s.exact { "exact" } else { "contains" },
        url_encode(&s.tenant)
    )
}

impl Dashboard<'_> {
    /// The page.
    pub(crate) fn render(&self) -> String {
        let mut h = Html::default();
        h.head("atlassian-bridge admin").raw(
            "<script src=\"/admin/assets/admin.js\" defer></script></head><body>\
             <header><h1>atlassian-bridge admin</h1>\
             <form method=\"post\" action=\"/admin/logout\">",
        );
        csrf_field(&mut h, self.csrf);
        h.raw("<button type=\"submit\" class=\"link\">Sign out</button></form></header><main>");
        self.target_section(&mut h);
        self.tenants_section(&mut h);
        self.sync_section(&mut h);
        self.cleanup_section(&mut h);
        self.runs_section(&mut h);
        self.plan_section(&mut h);
        self.history_section(&mut h);
        h.raw("</main></body></html>");
        h.finish()
    }

    fn target_section(&self, h: &mut Html) {
        let t = self.target;
        h.raw(
            "<section id=\"target\"><h2>Target</h2><table><thead><tr><th>Target</th>\
               <th>Connection</th><th>Checked</th></tr></thead><tbody><tr>",
        )
        .cell(&t.described);
        match &t.result {
            Ok(account) => h
                .raw("<td><span class=\"badge ok\">connected</span> ")
                .text(account)
                .raw("</td>"),
            Err(why) => h
                .raw("<td><span class=\"badge bad\">not connected</span> ")
                .text(why)
                .raw("</td>"),
        };
        h.cell(&show_time(&t.checked_at))
            .raw("</tr></tbody></table><h3>Licence seats</h3>");
        match self.seats {
            Ok(seats) if seats.rows.is_empty() => {
                h.raw("<p class=\"muted\">No seat counts reported by this target.</p>");
            }
            Ok(seats) => {
                h.raw(
                    "<table id=\"seats\"><thead><tr><th>Product</th><th>Used</th>\
                       <th>Licensed</th><th>Use</th></tr></thead><tbody>",
                );
                for r in &seats.rows {
                    h.raw("<tr>").cell(&r.product).cell(&r.used.to_string());
                    match r.licensed {
                        Some(l) => {
                            h.cell(&l.to_string())
                                .raw("<td><meter min=\"0\" max=\"")
                                .text(&l.to_string())
                                .raw("\" value=\"")
                                .text(&r.used.to_string())
                                .raw("\"></meter></td>");
                        }
                        None => {
                            h.cell("unlimited").cell("");
                        }
                    }
                    h.raw("</tr>");
                }
                h.raw("</tbody></table>");
                if seats.reserve > 0 {
                    h.raw("<p class=\"muted\">The policy keeps ")
                        .text(&seats.reserve.to_string())
                        .raw(" seats free.</p>");
                }
            }
            Err(why) => {
                h.raw("<p class=\"error\">Seats could not be read: ")
                    .text(why)
                    .raw("</p>");
            }
        }
        if let Ok(Seats {
            note: Some(note), ..
        }) = self.seats
        {
            h.raw("<p class=\"muted\">").text(note).raw("</p>");
        }
        h.raw("</section>");
    }

    fn tenants_section(&self, h: &mut Html) {
        h.raw(
            "<section id=\"tenants\"><h2>Identity providers</h2><table><thead><tr>\
               <th>Identity provider</th><th>Mode</th><th>History</th></tr></thead><tbody>",
        );
        for t in self.tenants {
            h.raw("<tr>").cell(&t.name);
            if t.dry_run {
                h.raw("<td><span class=\"badge dry\">dry run</span></td>");
            } else {
                h.raw("<td><span class=\"badge ok\">live</span></td>");
            }
            let search = HistorySearch {
                user: String::new(),
                exact: false,
                tenant: t.name.clone(),
                page: 1,
            };
            h.raw("<td><a href=\"")
                .text(&history_link(&search, 1))
                .raw("\">history</a></td></tr>");
        }
        h.raw("</tbody></table></section>");
    }

    fn sync_section(&self, h: &mut Html) {
        h.raw("<section id=\"sync\"><h2>Directory sync</h2>");
        let Some(s) = &self.sync else {
            h.raw(
                "<p class=\"muted\">This bridge has no <code>[sync]</code> section: it syncs \
                 nothing itself. Runs of <code>sync</code> instances sharing its history are \
                 listed below.</p></section>",
            );
            return;
        };
        h.raw("<p>Source: ")
            .text(&s.source)
            .raw(", recorded as ")
            .text(s.tenant)
            .raw("; ")
            .text(&s.every.map_or_else(|| "on demand".to_owned(), every_text))
            .raw(".</p>");
        let p = s.progress;
        h.raw("<div id=\"sync-status\" data-running=\"")
            .text(if p.running { "true" } else { "false" })
            .raw("\">");
        if p.running {
            h.raw("<p>A sync is running.</p>");
        }
        h.raw("<progress id=\"sync-progress\" max=\"")
            .text(&p.total.max(1).to_string())
            .raw("\" value=\"")
            .text(&p.done.to_string())
            .raw("\"></progress> <span id=\"sync-progress-text\">");
        let words = if p.running && p.total == 0 {
            "planning...".to_owned()
        } else {
            format!("{} of {} steps, {} failed", p.done, p.total, p.failed)
        };
        h.text(&words).raw("</span></div>");
        if let Some(last) = &s.last {
            last_run(h, "sync-last", last);
        }
        run_button(h, self.csrf, "/admin/sync", "Sync now", p.running);
    }

    fn cleanup_section(&self, h: &mut Html) {
        h.raw("<section id=\"cleanup\"><h2>Inactive-user cleanup</h2>");
        let Some(c) = &self.cleanup else {
            h.raw(
                "<p class=\"muted\">This bridge has no <code>[cleanup]</code> section: it \
                 deprovisions no inactive users itself.</p></section>",
            );
            return;
        };
        h.raw("<p>Deprovisions (per the policy) users who have not logged in for ")
            .text(&c.days.to_string())
            .raw(" days");
        if !c.excluded.is_empty() {
            h.raw(", except users matching ")
                .text(&c.excluded.join(", "));
        }
        h.raw("; recorded as ")
            .text(c.tenant)
            .raw("; ")
            .text(&c.every.map_or_else(|| "on demand".to_owned(), every_text))
            .raw(".");
        if c.dry_run {
            h.raw(" <span class=\"badge dry\">dry run</span>");
        }
        h.raw("</p>");
        if c.running {
            h.raw("<p>A cleanup is running.</p>");
        }
        match &c.last {
            Some(last) => last_run(h, "cleanup-last", last),
            None => {
                h.raw("<p id=\"cleanup-last\" class=\"muted\">No run of this bridge yet.</p>");
            }
        }
        run_button(h, self.csrf, "/admin/cleanup", "Clean up now", c.running);
    }

    fn runs_section(&self, h: &mut Html) {
        h.raw("<section id=\"runs\"><h2>Last sync and cleanup runs</h2>");
        match &self.runs {
            Ok(runs) if runs.is_empty() => {
                h.raw("<p class=\"muted\">No sync run recorded yet.</p>");
            }
            Ok(runs) => {
                h.raw(
                    "<table><thead><tr><th>Finished</th><th>Recorded as</th><th>Result</th>\
                       <th>Counts</th></tr></thead><tbody>",
                );
                for e in runs {
                    h.raw("<tr>")
                        .tight(&show_time(&e.time))
                        .tight(&e.tenant)
                        .outcome(&e.outcome)
                        .cell(&e.changes)
                        .raw("</tr>");
                }
                h.raw("</tbody></table>");
            }
            Err(why) => {
                h.raw("<p class=\"error\">").text(why).raw("</p>");
            }
        }
        h.raw("</section>");
    }

    fn plan_section(&self, h: &mut Html) {
        let Some(view) = self.sync.as_ref().and_then(|s| s.plan.as_ref()) else {
            return;
        };
        h.raw("<section id=\"plan\"><h2>Next sync (dry run)</h2><p class=\"muted\">Planned ")
            .text(&show_time(&view.planned_at))
            .raw("; nothing is written until a sync runs.</p>");
        let plan = match &view.plan {
            Ok(plan) => plan,
            Err(why) => {
                h.raw("<p class=\"error\">No plan could be made: ")
                    .text(why)
                    .raw("</p></section>");
                return;
            }
        };
        if plan.is_empty() {
            h.raw("<p>Nothing to do: the target's ")
                .text(&plan.target_users().to_string())
                .raw(" users match the source.</p>");
        } else {
            h.raw("<p>").text(&plan.summary().to_string()).raw("</p>");
            h.raw(
                "<table id=\"plan-steps\"><thead><tr><th>#</th><th>Action</th><th>Kind</th>\
                   <th>Name</th><th>Details</th></tr></thead><tbody>",
            );
            for (i, step) in plan.steps().iter().take(MAX_PLAN_ROWS).enumerate() {
                let (action, kind, name, details) = step_row(step);
                h.raw("<tr>")
                    .cell(&(i + 1).to_string())
                    .raw("<td><span class=\"action ")
                    .raw(match action {
                        "create" | "activate" | "add members" => "plus",
                        "deactivate" | "delete" | "remove members" => "minus",
                        _ => "change",
                    })
                    .raw("\">")
                    .text(action)
                    .raw("</span></td>")
                    .cell(kind)
                    .cell(&name)
                    .cell(&details)
                    .raw("</tr>");
            }
            h.raw("</tbody></table>");
            let more = plan.steps().len().saturating_sub(MAX_PLAN_ROWS);
            if more > 0 {
                h.raw("<p class=\"muted\">and ")
                    .text(&more.to_string())
                    .raw(" more steps.</p>");
            }
        }
        for w in plan.warnings() {
            h.raw("<p class=\"warning\">").text(w).raw("</p>");
        }
        if let Err(e) = plan.check_limits() {
            h.raw("<p class=\"error\">The safety rail would refuse this plan: ")
                .text(&e.to_string())
                .raw("</p>");
        }
        h.raw("</section>");
    }

    fn history_section(&self, h: &mut Html) {
        let q = &self.history;
        let s = q.search;
        h.raw(
            "<section id=\"history\"><h2>Sync history</h2>\
               <form method=\"get\" action=\"/admin\" class=\"search\">\
               <label for=\"user\">User or group</label>\
               <select id=\"match\" name=\"match\" aria-label=\"How the name matches\">\
               <option value=\"contains\"",
        );
        if !s.exact {
            h.raw(" selected");
        }
        h.raw(">contains</option><option value=\"exact\"");
        if s.exact {
            h.raw(" selected");
        }
        h.raw(
            ">is</option></select>\
               <input id=\"user\" name=\"user\" type=\"search\" value=\"",
        )
        .text(&s.user)
        .raw(
            "\"><label for=\"tenant\">Identity provider</label>\
                  <select id=\"tenant\" name=\"tenant\"><option value=\"\">all</option>",
        );
        let mut names: Vec<&str> = self.tenants.iter().map(|t| t.name.as_str()).collect();
        if let Some(sync) = &self.sync {
            names.push(sync.tenant);
        }
        if let Some(cleanup) = &self.cleanup {
            names.push(cleanup.tenant);
        }
        names.sort_unstable();
        names.dedup();
        for name in names {
            h.raw("<option");
            if name == s.tenant {
                h.raw(" selected");
            }
            h.raw(">").text(name).raw("</option>");
        }
        h.raw(
            "</select><button type=\"submit\">Search</button></form>\
               <p class=\"muted\">Searches the whole history: user and group names and ids \
               (ignoring case) that contain the text, or are it (faster on a large history).</p>",
        );
        if let Some(why) = &q.error {
            h.raw("<p class=\"error\">").text(why).raw("</p></section>");
            return;
        }
        if q.entries.is_empty() {
            h.raw("<p class=\"muted\">No entries match.</p>");
        } else {
            h.raw(
                "<table id=\"history-entries\"><thead><tr><th>Time</th>\
                   <th>Identity provider</th><th>Operation</th><th>User or group</th>\
                   <th>Result</th><th>What happened</th></tr></thead><tbody>",
            );
            for e in &q.entries {
                let op = &e.operation;
                h.raw("<tr>")
                    .tight(&show_time(&e.time))
                    .tight(&e.tenant)
                    .tight(&format!("{} {}", op.method, op.resource_type))
                    .cell(op.name.as_deref().or(op.id.as_deref()).unwrap_or(""))
                    .outcome(&e.outcome)
                    .cell(&e.changes)
                    .raw("</tr>");
            }
            h.raw("</tbody></table>");
        }
        h.raw("<nav class=\"pager\">");
        if s.page > 1 {
            h.raw("<a rel=\"prev\" href=\"")
                .text(&history_link(s, s.page - 1))
                .raw("\">&larr; newer</a>");
        }
        h.raw("<span>page ")
            .text(&s.page.to_string())
            .raw("</span>");
        if q.more {
            h.raw("<a rel=\"next\" href=\"")
                .text(&history_link(s, s.page + 1))
                .raw("\">older &rarr;</a>");
        }
        h.raw("</nav></section>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_atlassian::history::Operation;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(url_encode("a b&c=<d>/é"), "a+b%26c%3D%3Cd%3E%2F%C3%A9");
    }

    fn dashboard_with<'a>(
        target: &'a TargetStatus,
        tenants: &'a [TenantRow],
        entries: Vec<HistoryEntry>,
        sync: Option<SyncSection<'a>>,
    ) -> String {
        Dashboard {
            csrf: "csrf-value",
            target,
            seats: &Ok(Seats {
                rows: vec![SeatRow {
                    product: "Jira Software".to_owned(),
                    licensed: Some(10),
                    used: 3,
                }],
                reserve: 2,
                note: Some("counted <per role>".to_owned()),
            }),
            tenants,
            sync,
            cleanup: None,
            runs: Ok(Vec::new()),
            history: HistorySection {
                search: &HistorySearch {
                    user: "<script>".to_owned(),
                    exact: false,
                    tenant: "okta".to_owned(),
                    page: 2,
                },
                entries,
                more: true,
                error: None,
            },
        }
        .render()
    }

    #[test]
    fn the_dashboard_escapes_every_value() {
        let target = TargetStatus {
            described: "Jira <b>".to_owned(),
            checked_at: crate::bridge_sync::now(),
            result: Err("refused \"x\"".to_owned()),
        };
        let tenants = [TenantRow {
            name: "<img src=x onerror=alert(1)>".to_owned(),
            dry_run: true,
        }];
        let entry = HistoryEntry::new(
            "okta",
            "r1",
            Operation::new("POST", "User").name("<script>alert(1)</script>"),
        )
        .with_changes("created user <script>alert(1)</script>");
        let page = dashboard_with(&target, &tenants, vec![entry], None);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("refused &quot;x&quot;"));
        // Only the page's own script element.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        // The search is kept in the pager's links, encoded, on both sides.
        assert!(page.contains(
            "/admin?user=%3Cscript%3E&amp;match=contains&amp;tenant=okta&amp;page=1#history"
        ));
        assert!(page.contains(
            "/admin?user=%3Cscript%3E&amp;match=contains&amp;tenant=okta&amp;page=3#history"
        ));
        assert!(page.contains("<meter min=\"0\" max=\"10\" value=\"3\">"));
        assert!(page.contains("keeps 2 seats free") && page.contains("counted &lt;per role&gt;"));
    }

    #[test]
    fn the_cleanup_section_shows_its_settings_and_last_run_escaped() {
        let target = TargetStatus {
            described: "Crowd".to_owned(),
            checked_at: crate::bridge_sync::now(),
            result: Ok("app".to_owned()),
        };
        let excluded = ["^svc-".to_owned(), "<b>".to_owned()];
        let search = HistorySearch {
            user: String::new(),
            exact: true,
            tenant: String::new(),
            page: 1,
        };
        let page = |running: bool, last: Option<LastRun>| {
            Dashboard {
                csrf: "c",
                target: &target,
                seats: &Ok(Seats::default()),
                tenants: &[],
                sync: None,
                cleanup: Some(CleanupSection {
                    tenant: "idle-users",
                    days: 45,
                    excluded: &excluded,
                    dry_run: true,
                    every: Some(std::time::Duration::from_secs(24 * 3600)),
                    running,
                    last,
                }),
                runs: Ok(Vec::new()),
                history: HistorySection {
                    search: &search,
                    entries: Vec::new(),
                    more: false,
                    error: None,
                },
            }
            .render()
        };
        let idle = page(false, None);
        assert!(idle.contains("not logged in for 45 days, except users matching ^svc-, &lt;b&gt;"));
        assert!(idle.contains("every 24 h") && idle.contains("badge dry\">dry run"));
        assert!(idle.contains("No run of this bridge yet."));
        assert!(idle.contains("<button type=\"submit\">Clean up now</button>"));
        // The identity provider list offers the cleanup's tenant; the exact match is kept.
        assert!(idle.contains("<option>idle-users</option>"), "{idle}");
        assert!(idle.contains("<option value=\"exact\" selected>"));
        let last = LastRun {
            finished: crate::bridge_sync::now(),
            ok: false,
            outcome: "failed: <refused>".to_owned(),
        };
        let busy = page(true, Some(last));
        assert!(busy.contains("badge bad\">failed</span> failed: &lt;refused&gt;"));
        assert!(busy.contains("<button type=\"submit\" disabled>Clean up now</button>"));
        assert!(!busy.contains("<refused>") && !busy.contains("<b>"));
    }

    #[test]
    fn a_running_sync_shows_its_progress_and_no_button_to_start_another() {
        let target = TargetStatus {
            described: "Jira".to_owned(),
            checked_at: crate::bridge_sync::now(),
            result: Ok("admin".to_owned()),
        };
        let progress = SyncProgress {
            running: true,
            done: 3,
            total: 8,
            failed: 1,
        };
        let sync = SyncSection {
            tenant: "directory",
            source: "file dir.json".to_owned(),
            every: Some(std::time::Duration::from_secs(900)),
            progress,
            last: None,
            plan: Some(PlanView {
                planned_at: crate::bridge_sync::now(),
                plan: Err("cannot read dir.json".to_owned()),
            }),
        };
        let page = dashboard_with(&target, &[], Vec::new(), Some(sync));
        assert!(page.contains("data-running=\"true\""), "{page}");
        assert!(page.contains("<progress id=\"sync-progress\" max=\"8\" value=\"3\">"));
        assert!(page.contains("3 of 8 steps, 1 failed"));
        assert!(page.contains("every 15 min"));
        assert!(page.contains("<button type=\"submit\" disabled>Sync now</button>"));
        assert!(page.contains("No plan could be made: cannot read dir.json"));
    }
}
