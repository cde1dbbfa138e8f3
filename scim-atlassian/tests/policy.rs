//! `SyncPolicy`: configuration parsing and checking, and each policy option applied through
//! SCIM operations on `AtlassianProvisioner` against the Jira simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The conformance macro is not used here.
#[allow(unused_macros, unused_imports)]
mod common;

use std::sync::Arc;

use common::{ctx, user, user_in};

use scim_atlassian::policy::{
    DeprovisionAction, GroupMapping, NameTransform, PolicyError, SyncPolicy,
};
use scim_atlassian::simulator::{Fault, JiraSimulator};
use scim_atlassian::{AtlassianError, AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{Group, Member, PatchOp, User};

struct Setup {
    sim: Arc<JiraSimulator>,
    p: AtlassianProvisioner,
}

fn with(policy: SyncPolicy) -> Setup {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let p = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .policy(policy)
        .build()
        .unwrap();
    Setup { sim, p }
}

fn id(u: &User) -> String {
    u.id.clone().unwrap()
}

fn patch(json: &str) -> PatchOp {
    PatchOp::from_slice(json.as_bytes()).unwrap()
}

fn groups_of(sim: &JiraSimulator, name: &str) -> Vec<String> {
    sim.group_names()
        .into_iter()
        .filter(|g| {
            sim.group_members(g)
                .unwrap()
                .iter()
                .any(|m| m.eq_ignore_ascii_case(name))
        })
        .collect()
}

// ---- configuration ----

const FULL_TOML: &str = r#"
remove_unmanaged_groups = true

[groups]
mode = "manual"
[groups.map]
Engineering = ["jira-developers", "jira-software-users"]
"Ops Team" = ["jira-ops"]

[default_groups]
new_users = ["jira-newcomers"]
all_users = ["jira-software-users"]

[scope]
groups = ["okta-jira"]
deprovision_out_of_scope = true

[user_name]
strip_domain = true
lowercase = true
rules = [{ pattern = "^ext-(.*)$", replacement = "x-$1" }]

[group_name]
lowercase = false

[deprovision]
action = "delete"
project_lead = "jira-admin"
component_lead = "jira-admin"
"#;

#[test]
fn a_policy_parses_from_toml_and_json_and_round_trips() {
    let policy = SyncPolicy::from_toml_str(FULL_TOML).unwrap();
    assert!(policy.remove_unmanaged_groups);
    let GroupMapping::Manual { map } = &policy.groups else {
        panic!("manual mapping expected: {:?}", policy.groups);
    };
    assert_eq!(
        map["Engineering"],
        ["jira-developers", "jira-software-users"]
    );
    assert_eq!(policy.default_groups.all_users, ["jira-software-users"]);
    assert_eq!(policy.scope.groups, ["okta-jira"]);
    assert!(policy.user_name.strip_domain && policy.user_name.lowercase);
    assert_eq!(policy.deprovision.action, DeprovisionAction::Delete);
    assert_eq!(
        policy.deprovision.project_lead.as_deref(),
        Some("jira-admin")
    );

    let json = serde_json::to_string(&policy).unwrap();
    assert_eq!(SyncPolicy::from_json_str(&json).unwrap(), policy);
    let toml_text = toml::to_string(&policy).unwrap();
    assert_eq!(SyncPolicy::from_toml_str(&toml_text).unwrap(), policy);

    let on_the_fly = SyncPolicy::from_json_str(
        r#"{"groups": {"mode": "on_the_fly", "include": ["^okta-"], "exclude": ["-admins$"]},
            "group_name": {"rules": [{"pattern": "^okta-(.*)$", "replacement": "jira-$1"}]}}"#,
    )
    .unwrap();
    assert_eq!(
        on_the_fly.groups,
        GroupMapping::OnTheFly {
            include: vec!["^okta-".to_owned()],
            exclude: vec!["-admins$".to_owned()],
        }
    );
}

#[test]
fn policies_load_from_files_by_extension() {
    let dir = std::env::temp_dir().join(format!("scim-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml_path = dir.join("policy.toml");
    std::fs::write(&toml_path, FULL_TOML).unwrap();
    let from_toml = SyncPolicy::from_file(&toml_path).unwrap();
    let json_path = dir.join("policy.JSON");
    std::fs::write(&json_path, serde_json::to_string(&from_toml).unwrap()).unwrap();
    assert_eq!(SyncPolicy::from_file(&json_path).unwrap(), from_toml);

    let yaml = dir.join("policy.yaml");
    std::fs::write(&yaml, "groups: {}").unwrap();
    let err = SyncPolicy::from_file(&yaml).unwrap_err();
    assert!(matches!(err, PolicyError::File { .. }), "{err}");
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[scope\n").unwrap();
    let err = SyncPolicy::from_file(&broken).unwrap_err();
    assert!(err.to_string().contains("broken.toml"), "{err}");
    let err = SyncPolicy::from_file(dir.join("missing.json")).unwrap_err();
    assert!(matches!(err, PolicyError::File { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_policy_file_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scim-provisioning/policy.example.toml"
    );
    let policy = SyncPolicy::from_file(path).unwrap();
    assert_eq!(policy.default_groups.all_users, ["jira-software-users"]);
    assert!(policy.user_name.strip_domain);
    let s = with(policy);
    let created =
        block_on(s.p.create_user(&ctx(), user_in("bjensen@example.com", &["okta-devs"]))).unwrap();
    assert_eq!(created.user_name, "bjensen@example.com");
    assert_eq!(
        groups_of(&s.sim, "bjensen"),
        ["jira-devs", "jira-software-users"]
    );
}

#[test]
fn every_setting_has_a_default() {
    assert_eq!(
        SyncPolicy::from_toml_str("").unwrap(),
        SyncPolicy::default()
    );
    assert_eq!(
        SyncPolicy::from_json_str("{}").unwrap(),
        SyncPolicy::default()
    );
    let p = SyncPolicy::from_toml_str("[deprovision]\nproject_lead = \"admin\"\n").unwrap();
    assert_eq!(p.deprovision.action, DeprovisionAction::Deactivate);
    assert_eq!(
        SyncPolicy::default().groups,
        GroupMapping::OnTheFly {
            include: vec![],
            exclude: vec![]
        }
    );
}

#[test]
fn unknown_settings_are_refused() {
    for text in [
        "remove_unmanaged = true",
        "[scope]\ngroup = [\"a\"]",
        "[groups]\nmode = \"on_the_fly\"\nmap = {}",
        "[groups]\nmode = \"sideways\"",
        "[deprovision]\naction = \"archive\"",
        "[user_name]\nrules = [{ pattern = \"a\", replacement = \"b\", flags = \"i\" }]",
    ] {
        let err = SyncPolicy::from_toml_str(text).unwrap_err();
        assert!(matches!(err, PolicyError::Parse(_)), "{text}: {err}");
    }
    let err =
        SyncPolicy::from_toml_str("[groups]\nmode = \"manual\"\ninclude = [\"x\"]").unwrap_err();
    assert!(err.to_string().contains("on_the_fly"), "{err}");
    // `mode` defaults to on_the_fly.
    let p = SyncPolicy::from_toml_str("[groups]\ninclude = [\"^okta-\"]").unwrap();
    assert_eq!(
        p.groups,
        GroupMapping::OnTheFly {
            include: vec!["^okta-".to_owned()],
            exclude: vec![]
        }
    );
    let err = SyncPolicy::from_json_str(r#"{"default_groups": {"everyone": []}}"#).unwrap_err();
    assert!(err.to_string().contains("everyone"), "{err}");
}

fn setting_of(err: &PolicyError) -> &str {
    match err {
        PolicyError::Regex { setting, .. } | PolicyError::Invalid { setting, .. } => setting,
        other => panic!("a setting error expected: {other}"),
    }
}

#[test]
fn bad_configuration_is_rejected_naming_the_setting() {
    let cases: Vec<(&str, Result<SyncPolicy, PolicyError>)> = vec![
        (
            "groups.include[1]",
            SyncPolicy::builder()
                .include("^ok")
                .include("(unclosed")
                .build(),
        ),
        (
            "groups.exclude[0]",
            SyncPolicy::builder().exclude("[z-a]").build(),
        ),
        (
            "user_name.rules[0].pattern",
            SyncPolicy::builder()
                .user_name(NameTransform::default().rule("a{2,1}", "b"))
                .build(),
        ),
        (
            "group_name.rules[0].replacement",
            SyncPolicy::builder()
                .group_name(NameTransform::default().rule("^okta-(.*)$", "jira-$2"))
                .build(),
        ),
        (
            "user_name.rules[0].replacement",
            SyncPolicy::builder()
                .user_name(NameTransform::default().rule("^(?P<u>.*)@x$", "${user}"))
                .build(),
        ),
        (
            "user_name.rules[0].replacement",
            SyncPolicy::builder()
                .user_name(NameTransform::default().rule("^(.*)$", " "))
                .build(),
        ),
        (
            r#"groups.map."Engineering""#,
            SyncPolicy::builder()
                .map_group("Engineering", Vec::<String>::new())
                .build(),
        ),
        (
            r#"groups.map."Engineering"[1]"#,
            SyncPolicy::builder()
                .map_group("Engineering", ["jira-developers", "  "])
                .build(),
        ),
        (
            "groups.map",
            SyncPolicy::builder()
                .group_name(NameTransform::default().lowercase())
                .map_group("Engineering", ["a"])
                .map_group("ENGINEERING", ["b"])
                .build(),
        ),
        (
            "groups.map",
            SyncPolicy::builder()
                .group_name(NameTransform::default().rule("^okta-(.*)$", "$1"))
                .map_group("okta-eng", ["a"])
                .map_group("eng", ["b"])
                .build(),
        ),
        (
            "default_groups.all_users[0]",
            SyncPolicy::builder().default_group_for_all("").build(),
        ),
        (
            "scope.deprovision_out_of_scope",
            SyncPolicy::builder().deprovision_out_of_scope(true).build(),
        ),
        (
            "deprovision.project_lead",
            SyncPolicy::builder().project_lead(" ").build(),
        ),
    ];
    for (setting, result) in cases {
        let err = result.unwrap_err();
        assert_eq!(setting_of(&err), setting, "{err}");
        assert!(err.to_string().contains(setting), "{err}");
    }

    // Files are checked as they are read, and the provisioner refuses a bad policy built by
    // hand (the fields are public).
    let err = SyncPolicy::from_toml_str("[groups]\nmode = \"on_the_fly\"\ninclude = [\"(\"]")
        .unwrap_err();
    assert_eq!(setting_of(&err), "groups.include[0]");
    let mut bad = SyncPolicy::default();
    bad.default_groups.new_users.push(String::new());
    let err = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(Arc::new(JiraSimulator::new(Credentials::bearer("pat"))))
        .policy(bad)
        .build()
        .unwrap_err();
    assert!(matches!(err, AtlassianError::Policy(_)), "{err}");
    assert!(
        err.to_string().contains("default_groups.new_users[0]"),
        "{err}"
    );
}

// ---- group mapping ----

fn on_the_fly() -> SyncPolicy {
    SyncPolicy::builder()
        .include("^okta-")
        .exclude("-admins$")
        .group_name(NameTransform::default().rule("^okta-(.*)$", "jira-$1"))
        .build()
        .unwrap()
}

#[test]
fn on_the_fly_mapping_filters_renames_and_creates_groups() {
    let s = with(on_the_fly());
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    let b = id(&block_on(s.p.create_user(&ctx(), user("bob"))).unwrap());

    let mut devs = Group::new("okta-devs");
    devs.members = vec![Member::new(&a)];
    let created = block_on(s.p.create_group(&ctx(), devs)).unwrap();
    assert_eq!(
        created.id.as_deref(),
        Some("okta-devs"),
        "the IdP's name is the id"
    );
    assert_eq!(created.display_name, "okta-devs");
    assert_eq!(s.sim.group_members("jira-devs").unwrap(), ["alice"]);
    assert!(s.sim.group_members("okta-devs").is_none());

    // The IdP finds its group by its own name, and changes members through it.
    let query = ListQuery::new().with_filter(r#"displayName eq "okta-devs""#.parse().unwrap());
    let found = block_on(s.p.search_groups(&ctx(), &query)).unwrap();
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id.as_deref(), Some("okta-devs"));
    let add = patch(&format!(
        r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{b}"}}]}}]}}"#
    ));
    let g = block_on(s.p.patch_group(&ctx(), "okta-devs", &add, None)).unwrap();
    assert_eq!(g.members.len(), 2);
    assert_eq!(s.sim.group_members("jira-devs").unwrap(), ["alice", "bob"]);
    block_on(s.p.remove_members(&ctx(), "okta-devs", std::slice::from_ref(&a))).unwrap();
    assert_eq!(s.sim.group_members("jira-devs").unwrap(), ["bob"]);

    // Excluded and not included groups are accepted, and nothing reaches Jira.
    s.sim.reset_calls();
    for name in ["okta-admins", "sales"] {
        let mut g = Group::new(name);
        g.members = vec![Member::new(&a)];
        let answered = block_on(s.p.create_group(&ctx(), g)).unwrap();
        assert_eq!(answered.id.as_deref(), Some(name));
        assert!(answered.members.is_empty(), "nothing of it is in Jira");
        let got = block_on(s.p.get_group(&ctx(), name)).unwrap();
        assert!(got.members.is_empty());
        block_on(s.p.patch_group(&ctx(), name, &add, None)).unwrap();
        block_on(s.p.delete_group(&ctx(), name, None)).unwrap();
    }
    assert_eq!(s.sim.write_calls(), 0, "{:?}", s.sim.call_counts());
    assert_eq!(s.sim.group_names(), ["jira-devs"]);

    // A group that already exists in Jira is used as it is.
    block_on(s.p.create_group(&ctx(), Group::new("okta-devs"))).unwrap();
    assert_eq!(s.sim.group_members("jira-devs").unwrap(), ["bob"]);

    block_on(s.p.delete_group(&ctx(), "okta-devs", None)).unwrap();
    assert!(
        s.sim.group_names().is_empty(),
        "on-the-fly groups are deleted with the IdP's"
    );
}

fn manual() -> SyncPolicy {
    SyncPolicy::builder()
        .map_group("Engineering", ["jira-developers", "jira-software-users"])
        .map_group("Ops", ["jira-ops"])
        .build()
        .unwrap()
}

#[test]
fn manual_mapping_fans_out_and_ignores_unmapped_groups() {
    let s = with(manual());
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    let mut eng = Group::new("Engineering");
    eng.members = vec![Member::new(&a)];
    let g = block_on(s.p.create_group(&ctx(), eng)).unwrap();
    assert_eq!(g.id.as_deref(), Some("Engineering"));
    assert_eq!(s.sim.group_members("jira-developers").unwrap(), ["alice"]);
    assert_eq!(
        s.sim.group_members("jira-software-users").unwrap(),
        ["alice"]
    );

    // Keys are compared ignoring case.
    let got = block_on(s.p.get_group(&ctx(), "engineering")).unwrap();
    assert_eq!(got.members.len(), 1);
    let alice = block_on(s.p.get_user(&ctx(), &a)).unwrap();
    assert_eq!(alice.groups.len(), 1);
    assert_eq!(alice.groups[0].value.as_deref(), Some("Engineering"));

    block_on(s.p.create_group(&ctx(), Group::new("Marketing"))).unwrap();
    assert!(
        s.sim.group_members("Marketing").is_none(),
        "unmapped: ignored"
    );

    let replace = {
        let mut g = Group::new("Engineering");
        g.members = vec![];
        g
    };
    block_on(s.p.replace_group(&ctx(), "Engineering", replace, None)).unwrap();
    assert!(s.sim.group_members("jira-developers").unwrap().is_empty());
    assert!(
        s.sim
            .group_members("jira-software-users")
            .unwrap()
            .is_empty()
    );

    block_on(s.p.delete_group(&ctx(), "Engineering", None)).unwrap();
    assert!(
        s.sim.group_members("jira-developers").is_some(),
        "manual targets are the administrator's: deleting the IdP group keeps them"
    );
}

#[test]
fn user_groups_replace_managed_groups_and_keep_unmanaged_ones_unless_asked() {
    for remove_unmanaged in [false, true] {
        let policy = SyncPolicy::builder()
            .map_group("Engineering", ["jira-developers", "jira-software-users"])
            .map_group("Ops", ["jira-ops"])
            .default_group_for_all("jira-users")
            .remove_unmanaged_groups(remove_unmanaged)
            .build()
            .unwrap();
        let s = with(policy);
        let created =
            block_on(s.p.create_user(&ctx(), user_in("alice", &["Engineering", "Unmapped"])))
                .unwrap();
        let a = id(&created);
        assert_eq!(
            groups_of(&s.sim, "alice"),
            ["jira-developers", "jira-software-users", "jira-users"]
        );
        // An administrator grants a group in Jira itself.
        block_on(s.p.jira_client().unwrap().create_group("jira-local")).unwrap();
        block_on(s.p.jira_client().unwrap().add_member("jira-local", "alice")).unwrap();

        let replaced =
            block_on(s.p.replace_user(&ctx(), &a, user_in("alice", &["Ops"]), None)).unwrap();
        let expected: &[&str] = if remove_unmanaged {
            &["jira-ops", "jira-users"]
        } else {
            &["jira-local", "jira-ops", "jira-users"]
        };
        assert_eq!(
            groups_of(&s.sim, "alice"),
            expected,
            "remove_unmanaged {remove_unmanaged}"
        );
        let shown: Vec<&str> = replaced
            .groups
            .iter()
            .map(|g| g.value.as_deref().unwrap())
            .collect();
        assert_eq!(
            shown,
            ["Ops"],
            "the user's groups are SCIM groups: the IdP's names"
        );

        // A PATCH of `groups` is the same replacement.
        let to_eng = patch(
            r#"{"Operations":[{"op":"replace","path":"groups","value":[{"value":"Engineering","display":"Engineering"}]}]}"#,
        );
        block_on(s.p.patch_user(&ctx(), &a, &to_eng, None)).unwrap();
        let mut expected = vec!["jira-developers", "jira-software-users", "jira-users"];
        if !remove_unmanaged {
            expected.insert(1, "jira-local");
        }
        assert_eq!(groups_of(&s.sim, "alice"), expected);
    }
}

#[test]
fn on_the_fly_manages_only_the_groups_user_writes_gave() {
    let s = with(SyncPolicy::default());
    let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["devs", "ops"]))).unwrap());
    assert_eq!(
        groups_of(&s.sim, "alice"),
        ["devs", "ops"],
        "created on the fly"
    );
    block_on(s.p.jira_client().unwrap().create_group("jira-local")).unwrap();
    block_on(s.p.jira_client().unwrap().add_member("jira-local", "alice")).unwrap();
    block_on(s.p.replace_user(&ctx(), &a, user_in("alice", &["ops", "qa"]), None)).unwrap();
    assert_eq!(
        groups_of(&s.sim, "alice"),
        ["jira-local", "ops", "qa"],
        "devs was the IdP's and goes; jira-local was granted in Jira and stays"
    );
}

#[test]
fn creating_a_user_with_three_existing_groups_takes_five_calls() {
    let s = with(manual());
    for g in ["jira-developers", "jira-software-users", "jira-ops"] {
        block_on(s.p.jira_client().unwrap().create_group(g)).unwrap();
    }
    s.sim.reset_calls();
    block_on(s.p.create_user(&ctx(), user_in("alice", &["Engineering", "Ops"]))).unwrap();
    let counts = s.sim.call_counts();
    assert_eq!(s.sim.calls("POST", "/user"), 1, "{counts:?}");
    assert_eq!(
        s.sim.calls("PUT", "/user/properties/scim-rs"),
        1,
        "{counts:?}"
    );
    assert_eq!(s.sim.calls("POST", "/group/user"), 3, "{counts:?}");
    assert_eq!(s.sim.total_calls(), 5, "no reads: {counts:?}");
}

#[test]
fn a_failed_group_add_after_a_create_says_so_and_a_replace_converges() {
    let s = with(manual());
    for g in ["jira-developers", "jira-software-users"] {
        block_on(s.p.jira_client().unwrap().create_group(g)).unwrap();
    }
    s.sim
        .fail_call("POST", "/group/user", 2, Fault::Status(403));
    let err = block_on(s.p.create_user(&ctx(), user_in("alice", &["Engineering"]))).unwrap_err();
    assert_eq!(err.status(), 403, "{err}");
    assert!(err.detail().contains("was created"), "{err}");
    assert!(err.detail().contains("jira-software-users"), "{err}");
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-developers"]);

    let alice = s.sim.user("alice").unwrap();
    block_on(s.p.replace_user(&ctx(), &alice.key, user_in("alice", &["Engineering"]), None))
        .unwrap();
    assert_eq!(
        groups_of(&s.sim, "alice"),
        ["jira-developers", "jira-software-users"]
    );
}

#[test]
fn group_listings_under_a_rename_show_only_groups_that_map_onto_themselves() {
    let s = with(on_the_fly());
    block_on(s.p.create_group(&ctx(), Group::new("okta-devs"))).unwrap();
    block_on(s.p.jira_client().unwrap().create_group("jira-local")).unwrap();
    let all = block_on(s.p.search_groups(&ctx(), &ListQuery::new())).unwrap();
    assert_eq!(all.total_results, 0, "{:?}", all.resources);
    let by_name = ListQuery::new().with_filter(r#"displayName eq "okta-devs""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_groups(&ctx(), &by_name))
            .unwrap()
            .total_results,
        1
    );
}

#[test]
fn default_groups_for_new_users_and_for_all_users() {
    let policy = SyncPolicy::builder()
        .default_group_for_new("jira-newcomers")
        .default_group_for_all("jira-software-users")
        .build()
        .unwrap();
    let s = with(policy);
    s.sim.reset_calls();
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    assert_eq!(
        groups_of(&s.sim, "alice"),
        ["jira-newcomers", "jira-software-users"],
        "missing default groups are created"
    );
    assert_eq!(s.sim.calls("POST", "/group"), 2);

    // An administrator takes alice out of both; the next write of alice restores only the
    // all-users group.
    for g in ["jira-newcomers", "jira-software-users"] {
        block_on(s.p.jira_client().unwrap().remove_member(g, "alice")).unwrap();
    }
    let title = patch(r#"{"Operations":[{"op":"replace","path":"title","value":"Guide"}]}"#);
    let patched = block_on(s.p.patch_user(&ctx(), &a, &title, None)).unwrap();
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-software-users"]);
    assert_eq!(patched.groups.len(), 1);

    // A write that changes nothing makes no call to write.
    s.sim.reset_calls();
    block_on(s.p.patch_user(&ctx(), &a, &title, None)).unwrap();
    assert_eq!(s.sim.write_calls(), 0, "{:?}", s.sim.call_counts());
}

// ---- scope ----

#[test]
fn users_outside_the_scope_are_refused_and_writes_ignored() {
    let policy = SyncPolicy::builder()
        .scope_group("okta-jira")
        .build()
        .unwrap();
    let s = with(policy);
    let err = block_on(s.p.create_user(&ctx(), user("outsider"))).unwrap_err();
    assert_eq!(err.status(), 403, "{err}");
    assert!(err.detail().contains("scope"), "{err}");
    let err = block_on(s.p.create_user(&ctx(), user_in("outsider", &["sales"]))).unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(s.sim.user_count(), 0, "nothing was written");

    let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["OKTA-jira"]))).unwrap());
    assert!(s.sim.user("alice").is_some());

    // Leaving the scope without the option: the write is ignored.
    s.sim.reset_calls();
    let mut moved = user_in("alice", &["sales"]);
    moved.display_name = Some("Alice Elsewhere".to_owned());
    let answered = block_on(s.p.replace_user(&ctx(), &a, moved, None)).unwrap();
    assert_eq!(answered.display_name.as_deref(), Some("alice display"));
    assert_eq!(s.sim.write_calls(), 0);
    assert!(s.sim.user("alice").unwrap().active);
}

#[test]
fn users_leaving_the_scope_are_deprovisioned_by_option() {
    for action in [DeprovisionAction::Deactivate, DeprovisionAction::Delete] {
        let policy = SyncPolicy::builder()
            .scope_group("okta-jira")
            .deprovision_out_of_scope(true)
            .deprovision(action)
            .build()
            .unwrap();
        let s = with(policy);
        let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["okta-jira"]))).unwrap());
        let answered =
            block_on(s.p.replace_user(&ctx(), &a, user_in("alice", &["sales"]), None)).unwrap();
        assert_eq!(answered.active, Some(false));
        if action == DeprovisionAction::Delete {
            assert!(s.sim.user("alice").is_none());
        } else {
            assert!(!s.sim.user("alice").unwrap().active);
        }
    }
}

#[test]
fn users_removed_from_the_last_scope_group_are_deprovisioned_by_option() {
    let policy = SyncPolicy::builder()
        .scope_group("okta-jira")
        .scope_group("okta-jira-contractors")
        .deprovision_out_of_scope(true)
        .build()
        .unwrap();
    let s = with(policy);
    let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["okta-jira"]))).unwrap());
    let b = id(&block_on(s.p.create_user(
        &ctx(),
        user_in("bob", &["okta-jira", "okta-jira-contractors"]),
    ))
    .unwrap());
    assert_eq!(s.sim.group_members("okta-jira").unwrap(), ["alice", "bob"]);

    let remove = patch(&format!(
        r#"{{"Operations":[{{"op":"remove","path":"members[value eq \"{a}\" or value eq \"{b}\"]"}}]}}"#
    ));
    block_on(s.p.patch_group(&ctx(), "okta-jira", &remove, None)).unwrap();
    assert!(s.sim.group_members("okta-jira").unwrap().is_empty());
    assert!(!s.sim.user("alice").unwrap().active, "alice left the scope");
    assert!(
        s.sim.user("bob").unwrap().active,
        "bob is still in a scope group"
    );

    // Groups outside the scope change memberships only.
    let mut other = Group::new("okta-other");
    other.members = vec![Member::new(&b)];
    block_on(s.p.create_group(&ctx(), other)).unwrap();
    block_on(s.p.remove_members(&ctx(), "okta-other", std::slice::from_ref(&b))).unwrap();
    assert!(s.sim.user("bob").unwrap().active);
}

// ---- name transformations ----

#[test]
fn user_names_are_transformed_and_found_again_by_the_idp_name() {
    let policy = SyncPolicy::builder()
        .user_name(NameTransform::default().strip_domain().lowercase())
        .build()
        .unwrap();
    let s = with(policy);
    let created = block_on(s.p.create_user(&ctx(), user("BJensen@Example.com"))).unwrap();
    assert_eq!(
        created.user_name, "BJensen@Example.com",
        "the IdP sees its own name"
    );
    assert!(s.sim.user("bjensen").is_some());
    assert_eq!(s.sim.user("bjensen").unwrap().name, "bjensen");
    let b = id(&created);
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &b)).unwrap().user_name,
        "BJensen@Example.com"
    );

    s.sim.reset_calls();
    let query =
        ListQuery::new().with_filter(r#"userName eq "bjensen@example.com""#.parse().unwrap());
    let page = block_on(s.p.search_users(&ctx(), &query)).unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(page.resources[0].id.as_deref(), Some(b.as_str()));
    assert_eq!(s.sim.calls("GET", "/user/search"), 0, "a direct lookup");

    // Other filters on userName see the IdP's names.
    let query = ListQuery::new().with_filter(r#"userName sw "BJensen@""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &query))
            .unwrap()
            .total_results,
        1
    );

    // Another IdP name that becomes the same Jira name is a conflict that says why, and
    // does not find the first user.
    let err = block_on(s.p.create_user(&ctx(), user("bjensen@other.example"))).unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    assert!(err.detail().contains("user_name transformation"), "{err}");
    let query =
        ListQuery::new().with_filter(r#"userName eq "bjensen@other.example""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &query))
            .unwrap()
            .total_results,
        0
    );

    // A rename from the IdP renames the Jira user through the transformation.
    let rename = patch(
        r#"{"Operations":[{"op":"replace","path":"userName","value":"Barbara@Example.com"}]}"#,
    );
    let renamed = block_on(s.p.patch_user(&ctx(), &b, &rename, None)).unwrap();
    assert_eq!(renamed.user_name, "Barbara@Example.com");
    assert!(s.sim.user("bjensen").is_none());
    assert_eq!(s.sim.user("barbara").unwrap().key, b);
}

#[test]
fn a_regex_rule_with_captures_rewrites_user_names() {
    let policy = SyncPolicy::builder()
        .user_name(
            NameTransform::default()
                .rule(r"^(?P<first>\w+)\.(?P<last>\w+)@corp$", "${last}_${first}"),
        )
        .build()
        .unwrap();
    let s = with(policy);
    block_on(s.p.create_user(&ctx(), user("babs.jensen@corp"))).unwrap();
    assert!(s.sim.user("jensen_babs").is_some());
    // Names the rule does not match pass unchanged.
    block_on(s.p.create_user(&ctx(), user("plain"))).unwrap();
    assert!(s.sim.user("plain").is_some());
}

#[test]
fn group_names_are_transformed_for_manual_keys() {
    let policy = SyncPolicy::builder()
        .group_name(NameTransform::default().lowercase())
        .map_group("engineering", ["jira-developers"])
        .build()
        .unwrap();
    let s = with(policy);
    let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["ENGINEERING"]))).unwrap());
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-developers"]);
    let g = block_on(s.p.get_group(&ctx(), "Engineering")).unwrap();
    assert_eq!(g.members[0].value.as_deref(), Some(a.as_str()));
}

// ---- deprovisioning ----

#[test]
fn delete_deactivates_by_default_and_a_re_create_reactivates() {
    let s = with(SyncPolicy::default());
    let mut devs = Group::new("devs");
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    devs.members = vec![Member::new(&a)];
    block_on(s.p.create_group(&ctx(), devs)).unwrap();

    s.sim.reset_calls();
    block_on(s.p.delete_user(&ctx(), &a, None)).unwrap();
    assert_eq!(s.sim.calls("DELETE", "/user"), 0, "not deleted");
    assert_eq!(s.sim.calls("DELETE", "/group/user"), 1);
    assert_eq!(s.sim.calls("PUT", "/user"), 1);
    let kept = s.sim.user("alice").unwrap();
    assert!(!kept.active, "the account is kept, inactive");
    assert!(s.sim.group_members("devs").unwrap().is_empty());
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &a)).unwrap_err().status(),
        404
    );
    assert_eq!(
        block_on(s.p.delete_user(&ctx(), &a, None))
            .unwrap_err()
            .status(),
        404
    );
    let all = block_on(s.p.search_users(&ctx(), &ListQuery::new())).unwrap();
    assert_eq!(all.total_results, 0, "hidden from listings");
    let by_name = ListQuery::new().with_filter(r#"userName eq "alice""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &by_name))
            .unwrap()
            .total_results,
        0
    );

    let again = block_on(s.p.create_user(&ctx(), user("alice"))).unwrap();
    assert_eq!(id(&again), a, "the same Jira account comes back");
    assert_eq!(again.active, Some(true));
    assert!(s.sim.user("alice").unwrap().active);
    assert!(block_on(s.p.get_user(&ctx(), &a)).is_ok());
}

#[test]
fn a_reactivated_user_gets_the_new_user_groups_again() {
    let policy = SyncPolicy::builder()
        .default_group_for_new("jira-newcomers")
        .build()
        .unwrap();
    let s = with(policy);
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    block_on(s.p.delete_user(&ctx(), &a, None)).unwrap();
    assert!(groups_of(&s.sim, "alice").is_empty());
    let again = block_on(s.p.create_user(&ctx(), user("alice"))).unwrap();
    assert_eq!(id(&again), a);
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-newcomers"]);
    assert_eq!(again.groups.len(), 1);
}

#[test]
fn delete_on_jira_before_8_3_changes_nothing_and_says_so() {
    let s = with(SyncPolicy::default());
    let mut devs = Group::new("devs");
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    devs.members = vec![Member::new(&a)];
    block_on(s.p.create_group(&ctx(), devs)).unwrap();
    s.sim.set_before_8_3(true);
    let err = block_on(s.p.delete_user(&ctx(), &a, None)).unwrap_err();
    assert_eq!(err.status(), 501, "{err}");
    assert_eq!(s.sim.group_members("devs").unwrap(), ["alice"]);
    assert!(block_on(s.p.get_user(&ctx(), &a)).is_ok());
}

#[test]
fn patch_active_false_follows_the_policy() {
    let deactivate = patch(r#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#);
    let s = with(SyncPolicy::default());
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    let u = block_on(s.p.patch_user(&ctx(), &a, &deactivate, None)).unwrap();
    assert_eq!(u.active, Some(false));
    assert!(!s.sim.user("alice").unwrap().active);
    assert!(
        block_on(s.p.get_user(&ctx(), &a)).is_ok(),
        "a deactivated user stays visible"
    );

    let s = with(
        SyncPolicy::builder()
            .deprovision(DeprovisionAction::Delete)
            .build()
            .unwrap(),
    );
    let a = id(&block_on(s.p.create_user(&ctx(), user("alice"))).unwrap());
    let u = block_on(s.p.patch_user(&ctx(), &a, &deactivate, None)).unwrap();
    assert_eq!(u.active, Some(false));
    assert!(s.sim.user("alice").is_none(), "deleted in Jira");
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &a)).unwrap_err().status(),
        404
    );
}

#[test]
fn delete_hands_projects_and_components_to_the_default_leads() {
    let policy = SyncPolicy::builder()
        .deprovision(DeprovisionAction::Delete)
        .project_lead("lead-admin")
        .component_lead("comp-admin")
        .build()
        .unwrap();
    let s = with(policy);
    s.sim.add_user("lead-admin", "la@example.com", "Lead Admin");
    s.sim
        .add_user("comp-admin", "ca@example.com", "Component Admin");
    let bob = id(&block_on(s.p.create_user(&ctx(), user("bob"))).unwrap());
    s.sim.add_user("carol", "carol@example.com", "Carol");
    assert!(s.sim.add_project("PROJ", "Project", "bob"));
    assert!(s.sim.add_project("OTHER", "Other", "carol"));
    let c1 = s
        .sim
        .add_component("OTHER", "Backend", Some("bob"))
        .unwrap();
    let c2 = s
        .sim
        .add_component("PROJ", "Frontend", Some("carol"))
        .unwrap();

    s.sim.reset_calls();
    block_on(s.p.delete_user(&ctx(), &bob, None)).unwrap();
    assert!(s.sim.user("bob").is_none());
    assert_eq!(s.sim.project_lead("PROJ").as_deref(), Some("lead-admin"));
    assert_eq!(s.sim.project_lead("OTHER").as_deref(), Some("carol"));
    assert_eq!(s.sim.component_lead(c1).as_deref(), Some("comp-admin"));
    assert_eq!(s.sim.component_lead(c2).as_deref(), Some("carol"));
    assert_eq!(s.sim.calls("GET", "/project"), 1);
    assert_eq!(s.sim.calls("PUT", "/project/PROJ"), 1);
    assert_eq!(s.sim.calls("PUT", "/project/OTHER"), 0);
    assert_eq!(s.sim.calls("GET", "/project/PROJ/components"), 1);
    assert_eq!(s.sim.calls("GET", "/project/OTHER/components"), 1);
    assert_eq!(s.sim.calls("PUT", &format!("/component/{c1}")), 1);
    assert_eq!(s.sim.calls("DELETE", "/user"), 1);
}

#[test]
fn deleting_a_lead_without_a_default_lead_says_what_to_configure() {
    let s = with(
        SyncPolicy::builder()
            .deprovision(DeprovisionAction::Delete)
            .build()
            .unwrap(),
    );
    let bob = id(&block_on(s.p.create_user(&ctx(), user("bob"))).unwrap());
    assert!(s.sim.add_project("PROJ", "Project", "bob"));
    let err = block_on(s.p.delete_user(&ctx(), &bob, None)).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.detail().contains("deprovision.project_lead"), "{err}");
    assert!(s.sim.user("bob").is_some(), "Jira refused: nothing changed");
    assert_eq!(s.sim.project_lead("PROJ").as_deref(), Some("bob"));

    // The simulator behaves as Jira: a component lead cannot be deleted either.
    let s = with(
        SyncPolicy::builder()
            .deprovision(DeprovisionAction::Delete)
            .project_lead("bob")
            .build()
            .unwrap(),
    );
    let carol = id(&block_on(s.p.create_user(&ctx(), user("carol"))).unwrap());
    block_on(s.p.create_user(&ctx(), user("bob"))).unwrap();
    assert!(s.sim.add_project("PROJ", "Project", "bob"));
    s.sim
        .add_component("PROJ", "Backend", Some("carol"))
        .unwrap();
    let err = block_on(s.p.delete_user(&ctx(), &carol, None)).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.detail().contains("component_lead"), "{err}");
}

// ---- the conformance suite with the default policy, set explicitly ----

fn default_policy() -> AtlassianProvisioner {
    let s = with(SyncPolicy::builder().build().unwrap());
    s.sim.require_email(false);
    s.p
}

#[test]
fn conformance_with_the_default_policy() {
    block_on(conformance::user_crud(&default_policy(), "t"));
    block_on(conformance::user_name_uniqueness(&default_policy(), "t"));
    block_on(conformance::preconditions(&default_policy(), "t"));
    block_on(conformance::filters(&default_policy(), "t"));
    block_on(conformance::paging_and_sorting(&default_policy(), "t"));
    block_on(conformance::patch_users(&default_policy(), "t"));
    block_on(conformance::group_membership(&default_policy(), "t"));
}

#[test]
fn patch_add_and_remove_of_groups_under_manual_mapping_read_the_idp_names() {
    let policy = SyncPolicy::builder()
        .map_group("Engineering", ["jira-developers"])
        .map_group("Ops", ["jira-ops"])
        .build()
        .unwrap();
    let s = with(policy);
    let a = id(&block_on(s.p.create_user(&ctx(), user_in("alice", &["Engineering"]))).unwrap());
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-developers"]);
    // An `add` keeps the IdP groups the user has (shown by their IdP names) and adds one.
    let add = patch(r#"{"Operations":[{"op":"add","path":"groups","value":[{"display":"Ops"}]}]}"#);
    let patched = block_on(s.p.patch_user(&ctx(), &a, &add, None)).unwrap();
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-developers", "jira-ops"]);
    let shown: Vec<&str> = patched
        .groups
        .iter()
        .filter_map(|g| g.display.as_deref())
        .collect();
    assert_eq!(shown, ["Engineering", "Ops"]);
    // A `remove` by the IdP name takes that IdP group's Jira group away, and only it.
    let remove =
        patch(r#"{"Operations":[{"op":"remove","path":"groups[display eq \"Engineering\"]"}]}"#);
    block_on(s.p.patch_user(&ctx(), &a, &remove, None)).unwrap();
    assert_eq!(groups_of(&s.sim, "alice"), ["jira-ops"]);
}
