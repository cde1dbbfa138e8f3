//! The sync policy applied by the Cloud provisioner, against the Cloud simulator: the same
//! settings as for Jira (group mapping, default groups, scope, transformations, deprovisioning).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::policy::{DeprovisionAction, NameTransform, SyncPolicy};
use scim_atlassian::simulator::CloudSimulator;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::{Group, Member, MultiValue, User};

const KEY: &str = "directory-api-key-secret";

fn setup(policy: SyncPolicy) -> (Arc<CloudSimulator>, CloudProvisioner) {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .policy(policy)
        .build()
        .unwrap();
    (sim, cloud)
}

fn ctx() -> RequestContext {
    RequestContext::new("acme")
}

fn create(cloud: &CloudProvisioner, user: User) -> String {
    block_on(cloud.create_user(&ctx(), user))
        .unwrap()
        .id
        .unwrap()
}

fn user_in(name: &str, groups: &[&str]) -> User {
    let mut user = User::new(name);
    user.groups = groups
        .iter()
        .map(|g| MultiValue {
            display: Some((*g).to_owned()),
            ..MultiValue::default()
        })
        .collect();
    user
}

/// Cloud's group `name` as Cloud has it, read through a provisioner without policy.
fn cloud_group(sim: &Arc<CloudSimulator>, name: &str) -> Option<Group> {
    let query = ListQuery::new().with_filter(format!("displayName eq {name:?}").parse().unwrap());
    block_on(raw(sim).search_groups(&ctx(), &query))
        .unwrap()
        .resources
        .into_iter()
        .next()
}

/// A provisioner without policy over the same simulator, to see Cloud's own names.
fn raw(sim: &Arc<CloudSimulator>) -> CloudProvisioner {
    CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .build()
        .unwrap()
}

fn sorted(items: impl Iterator<Item = Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = items.flatten().collect();
    out.sort();
    out
}

fn members(group: &Group) -> Vec<String> {
    sorted(group.members.iter().map(|m| m.value.clone()))
}

fn group_names(user: &User) -> Vec<String> {
    sorted(user.groups.iter().map(|g| g.display.clone()))
}

/// The user answers 404.
fn assert_gone(cloud: &CloudProvisioner, id: &str) {
    let err = block_on(cloud.get_user(&ctx(), id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
}

#[test]
fn on_the_fly_mapping_filters_renames_and_ignores() {
    let policy = SyncPolicy::builder()
        .include("^okta-")
        .exclude("-secret$")
        .group_name(NameTransform::default().rule("^okta-(.*)$", "cloud-$1"))
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let alice = create(&cloud, User::new("alice@example.com"));

    let mut dev = Group::new("okta-dev");
    dev.members = vec![Member::new(&alice)];
    let created = block_on(cloud.create_group(&ctx(), dev)).unwrap();
    assert_eq!(created.display_name, "cloud-dev");
    assert_eq!(members(&created), vec![alice.clone()]);
    assert!(cloud_group(&sim, "cloud-dev").is_some());
    assert!(cloud_group(&sim, "okta-dev").is_none());
    // The IdP finds it by the name it sent.
    let query = ListQuery::new().with_filter(r#"displayName eq "okta-dev""#.parse().unwrap());
    assert_eq!(
        block_on(cloud.search_groups(&ctx(), &query))
            .unwrap()
            .total_results,
        1
    );

    // Excluded and not included groups are accepted, read as empty, and never reach Cloud.
    sim.reset_calls();
    for name in ["okta-ops-secret", "marketing"] {
        let mut g = Group::new(name);
        g.members = vec![Member::new(&alice)];
        let ignored = block_on(cloud.create_group(&ctx(), g)).unwrap();
        let id = ignored.id.clone().unwrap();
        assert!(ignored.members.is_empty());
        let read = block_on(cloud.get_group(&ctx(), &id)).unwrap();
        assert_eq!(read.display_name, name);
        block_on(cloud.add_members(&ctx(), &id, &[Member::new(&alice)])).unwrap();
        block_on(cloud.delete_group(&ctx(), &id, None)).unwrap();
    }
    assert_eq!(sim.total_calls(), 0, "{:?}", sim.requests());
    assert_eq!(sim.group_count(), 1);
}

#[test]
fn manual_mapping_fans_membership_out_and_shows_the_idp_name() {
    let policy = SyncPolicy::builder()
        .map_group("Engineering", ["developers", "confluence-users"])
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let alice = create(&cloud, User::new("alice@example.com"));
    let bob = create(&cloud, User::new("bob@example.com"));
    let mut eng = Group::new("Engineering");
    eng.members = vec![Member::new(&alice)];
    let created = block_on(cloud.create_group(&ctx(), eng)).unwrap();
    assert_eq!(created.display_name, "Engineering");
    let id = created.id.unwrap();
    for target in ["developers", "confluence-users"] {
        assert_eq!(
            members(&cloud_group(&sim, target).unwrap()),
            vec![alice.clone()]
        );
    }

    block_on(cloud.add_members(&ctx(), &id, &[Member::new(&bob)])).unwrap();
    let both = {
        let mut v = vec![alice.clone(), bob.clone()];
        v.sort();
        v
    };
    assert_eq!(
        members(&cloud_group(&sim, "confluence-users").unwrap()),
        both
    );

    block_on(cloud.remove_members(&ctx(), &id, std::slice::from_ref(&alice))).unwrap();
    for target in ["developers", "confluence-users"] {
        assert_eq!(
            members(&cloud_group(&sim, target).unwrap()),
            vec![bob.clone()]
        );
    }
    assert_eq!(
        block_on(cloud.get_group(&ctx(), &id)).unwrap().display_name,
        "Engineering"
    );

    // An unmapped IdP group is ignored; deleting the mapped one leaves the admin's groups.
    let other = block_on(cloud.create_group(&ctx(), Group::new("Sales"))).unwrap();
    assert!(other.id.unwrap().starts_with("unsynced-"));
    block_on(cloud.delete_group(&ctx(), &id, None)).unwrap();
    assert_eq!(sim.group_count(), 2);
}

#[test]
fn default_groups_and_user_groups_follow_the_policy() {
    let policy = SyncPolicy::builder()
        .map_group("okta-dev", ["developers"])
        .default_group_for_new("newcomers")
        .default_group_for_all("everyone")
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let created =
        block_on(cloud.create_user(&ctx(), user_in("alice@example.com", &["okta-dev"]))).unwrap();
    let id = created.id.clone().unwrap();
    // SCIM shows the IdP's group (as the group views name it); Cloud has the mapped and
    // default groups.
    assert_eq!(group_names(&created), vec!["okta-dev"]);
    assert_eq!(
        group_names(&block_on(raw(&sim).get_user(&ctx(), &id)).unwrap()),
        vec!["developers", "everyone", "newcomers"]
    );

    // The admin removes her from `everyone` in Cloud; any write puts her back. Dropping
    // `okta-dev` from her groups takes her out of `developers` (a managed group), while
    // `newcomers` (a default group) stays.
    let everyone = cloud_group(&sim, "everyone").unwrap();
    block_on(raw(&sim).remove_members(
        &ctx(),
        everyone.id.as_deref().unwrap(),
        std::slice::from_ref(&id),
    ))
    .unwrap();
    let mut again = user_in("alice@example.com", &["okta-other"]);
    again.display_name = Some("Alice".to_owned());
    let replaced = block_on(cloud.replace_user(&ctx(), &id, again, None)).unwrap();
    assert_eq!(replaced.display_name.as_deref(), Some("Alice"));
    assert!(group_names(&replaced).is_empty());
    assert_eq!(
        group_names(&block_on(raw(&sim).get_user(&ctx(), &id)).unwrap()),
        vec!["everyone", "newcomers"]
    );
}

#[test]
fn user_patches_of_groups_change_memberships_through_the_mapping() {
    let policy = SyncPolicy::builder()
        .map_group("okta-dev", ["developers", "confluence-users"])
        .map_group("okta-ops", ["operators"])
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let id = create(&cloud, user_in("alice@example.com", &["okta-dev"]));
    let in_cloud = |id: &str| group_names(&block_on(raw(&sim).get_user(&ctx(), id)).unwrap());
    assert_eq!(in_cloud(&id), vec!["confluence-users", "developers"]);

    // An add of `groups` (as some identity providers send memberships) joins the mapped group.
    let add = scim_core::PatchOp::from_slice(
        br#"{"Operations":[{"op":"add","path":"groups","value":[{"display":"okta-ops"}]}]}"#,
    )
    .unwrap();
    let patched = block_on(cloud.patch_user(&ctx(), &id, &add, None)).unwrap();
    assert_eq!(group_names(&patched), vec!["okta-dev", "okta-ops"]);
    assert_eq!(
        in_cloud(&id),
        vec!["confluence-users", "developers", "operators"]
    );

    // A remove by filter leaves that IdP group's Cloud groups, together with other changes.
    let remove = scim_core::PatchOp::from_slice(
        br#"{"Operations":[
            {"op":"remove","path":"groups[display eq \"okta-dev\"]"},
            {"op":"replace","path":"displayName","value":"Alice A."}
        ]}"#,
    )
    .unwrap();
    let patched = block_on(cloud.patch_user(&ctx(), &id, &remove, None)).unwrap();
    assert_eq!(group_names(&patched), vec!["okta-ops"]);
    assert_eq!(patched.display_name.as_deref(), Some("Alice A."));
    assert_eq!(in_cloud(&id), vec!["operators"]);

    // A path-less replace carrying `groups` is read the same way.
    let replace = scim_core::PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","value":{"groups":[{"display":"okta-dev"}]}}]}"#,
    )
    .unwrap();
    let patched = block_on(cloud.patch_user(&ctx(), &id, &replace, None)).unwrap();
    assert_eq!(group_names(&patched), vec!["okta-dev"]);
    assert_eq!(in_cloud(&id), vec!["confluence-users", "developers"]);
}

#[test]
fn unmanaged_groups_go_only_when_the_policy_says_so() {
    for remove in [false, true] {
        let policy = SyncPolicy::builder()
            .remove_unmanaged_groups(remove)
            .build()
            .unwrap();
        let (_, cloud) = setup(policy);
        let id = create(&cloud, user_in("a@example.com", &["admins", "dev"]));
        let replaced =
            block_on(cloud.replace_user(&ctx(), &id, user_in("a@example.com", &["dev"]), None))
                .unwrap();
        let expected: &[&str] = if remove { &["dev"] } else { &["admins", "dev"] };
        assert_eq!(
            group_names(&replaced),
            expected,
            "remove_unmanaged_groups = {remove}"
        );
    }
}

#[test]
fn scope_refuses_creates_and_ignores_or_deprovisions_leavers() {
    let policy = SyncPolicy::builder()
        .scope_group("jira-users")
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    sim.reset_calls();
    let err =
        block_on(cloud.create_user(&ctx(), user_in("out@example.com", &["sales"]))).unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    assert!(err.detail().contains("scope"), "{}", err.detail());
    assert_eq!(sim.total_calls(), 0);

    let id = create(&cloud, user_in("in@example.com", &["jira-users"]));
    // Ignored: the write leaves the user as Cloud has it.
    let mut renamed = user_in("in@example.com", &["sales"]);
    renamed.display_name = Some("Changed".to_owned());
    let answer = block_on(cloud.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(answer.display_name, None);
    assert_ne!(answer.active, Some(false));

    // With deprovision_out_of_scope (delete): leaving the scope group deletes in Cloud.
    let policy = SyncPolicy::builder()
        .scope_group("jira-users")
        .deprovision_out_of_scope(true)
        .deprovision(DeprovisionAction::Delete)
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let id = create(&cloud, user_in("in@example.com", &["jira-users"]));
    let group = block_on(cloud.search_groups(
        &ctx(),
        &ListQuery::new().with_filter(r#"displayName eq "jira-users""#.parse().unwrap()),
    ))
    .unwrap()
    .resources
    .remove(0);
    block_on(cloud.remove_members(
        &ctx(),
        group.id.as_deref().unwrap(),
        std::slice::from_ref(&id),
    ))
    .unwrap();
    assert_gone(&cloud, &id);
    assert!(sim.deactivated(&id).is_some());
}

#[test]
fn deprovisioning_deactivates_or_deletes() {
    let patch = scim_core::PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#,
    )
    .unwrap();
    // deactivate (default): active false, still there.
    let (_, cloud) = setup(SyncPolicy::default());
    let id = create(&cloud, User::new("a@example.com"));
    block_on(cloud.patch_user(&ctx(), &id, &patch, None)).unwrap();
    assert_eq!(
        block_on(cloud.get_user(&ctx(), &id)).unwrap().active,
        Some(false)
    );

    // delete: Cloud's DELETE, the id answers 404.
    let policy = SyncPolicy::builder()
        .deprovision(DeprovisionAction::Delete)
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let id = create(&cloud, User::new("a@example.com"));
    let answer = block_on(cloud.patch_user(&ctx(), &id, &patch, None)).unwrap();
    assert_eq!(answer.active, Some(false));
    assert_eq!(sim.calls("DELETE", "/Users/{id}"), 1);
    assert_gone(&cloud, &id);
}

#[test]
fn group_patches_and_replaces_follow_the_mapping() {
    let policy = SyncPolicy::builder()
        .map_group("Engineering", ["developers", "confluence-users"])
        .map_group("Ops", ["operators"])
        .build()
        .unwrap();
    let (sim, cloud) = setup(policy);
    let alice = create(&cloud, User::new("alice@example.com"));
    let id = block_on(cloud.create_group(&ctx(), Group::new("Engineering")))
        .unwrap()
        .id
        .unwrap();

    // A PATCH adding a member reaches every target; the answer shows the IdP name.
    let patch = scim_core::PatchOp::from_slice(
        format!(
            r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{alice}"}}]}}]}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    let patched = block_on(cloud.patch_group(&ctx(), &id, &patch, None)).unwrap();
    assert_eq!(patched.display_name, "Engineering");
    assert_eq!(members(&patched), vec![alice.clone()]);
    assert_eq!(
        members(&cloud_group(&sim, "confluence-users").unwrap()),
        vec![alice.clone()]
    );

    // A replace without her takes her out of both.
    let emptied =
        block_on(cloud.replace_group(&ctx(), &id, Group::new("Engineering"), None)).unwrap();
    assert!(emptied.members.is_empty());
    assert!(members(&cloud_group(&sim, "confluence-users").unwrap()).is_empty());

    // Renaming to a name the policy does not sync is refused, and nothing is written.
    sim.reset_calls();
    let err =
        block_on(cloud.replace_group(&ctx(), &id, Group::new("Marketing"), None)).unwrap_err();
    assert_eq!(err.status().as_u16(), 400);
    assert!(err.detail().contains("Marketing"), "{}", err.detail());
    assert_eq!(sim.calls("PATCH", "/Groups/{id}"), 0);
}

/// The simulator, except that the first group lookup finds nothing: the lookup ran just
/// before another writer created the group.
struct LookupRace {
    sim: Arc<CloudSimulator>,
    raced: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl scim_core::HttpClient for LookupRace {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, scim_core::HttpError> {
        let lookup =
            request.method() == http::Method::GET && request.uri().path().ends_with("/Groups");
        if lookup && !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let empty = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}"#;
            return Ok(http::Response::new(empty.to_vec()));
        }
        self.sim.send(request).await
    }
}

#[test]
fn a_group_created_meanwhile_is_joined_not_failed() {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    let other = raw(&sim);
    let user = block_on(other.create_user(&ctx(), User::new("a@example.com"))).unwrap();
    block_on(other.create_group(&ctx(), Group::new("everyone"))).unwrap();
    let racing = Arc::new(LookupRace {
        sim: sim.clone(),
        raced: std::sync::atomic::AtomicBool::new(false),
    });
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(racing)
        .policy(
            SyncPolicy::builder()
                .default_group_for_all("everyone")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    // Cloud answers our create of `everyone` with 409: the group that is there is joined.
    let id = user.id.unwrap();
    let replaced =
        block_on(cloud.replace_user(&ctx(), &id, User::new("a@example.com"), None)).unwrap();
    assert_eq!(group_names(&replaced), ["everyone"]);
    assert_eq!(sim.group_count(), 1);
    assert_eq!(sim.calls("POST", "/Groups"), 2, "ours was refused with 409");
}
