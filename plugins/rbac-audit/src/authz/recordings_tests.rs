//! Differential tests against a real kube-apiserver 1.24's answers, recorded in
//! `tests/fixtures/apiserver-recordings/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use guardrails::rbac::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;

use super::*;

fn recording(number: u32) -> (String, Value) {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/apiserver-recordings");
    let prefix = format!("{number:03}-");
    let entry = fs::read_dir(&dir)
        .expect("recordings directory")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .unwrap_or_else(|| panic!("no recording {prefix}*"));
    let text = fs::read_to_string(entry.path()).expect("readable recording");
    (
        entry.file_name().to_string_lossy().into_owned(),
        serde_json::from_str(&text).expect("JSON recording"),
    )
}

fn items<T: serde::de::DeserializeOwned>(number: u32) -> Vec<T> {
    let (_, v) = recording(number);
    serde_json::from_value(v["response"]["body"]["items"].clone()).expect("typed items")
}

/// The recorded cluster's RBAC objects.
struct Recorded {
    cluster_roles: Vec<ClusterRole>,
    crbs: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    rbs: Vec<RoleBinding>,
}

/// The recorded objects with their model (which borrows them).
struct Cluster<'a> {
    cluster_roles: &'a [ClusterRole],
    model: RbacModel<'a>,
}

fn recorded() -> Recorded {
    Recorded {
        cluster_roles: items(11),
        crbs: items(12),
        roles: items(13),
        rbs: items(14),
    }
}

fn cluster(r: &Recorded) -> Cluster<'_> {
    let model = RbacModel::build(RbacInput {
        cluster_roles: &r.cluster_roles,
        cluster_role_bindings: &r.crbs,
        roles: &r.roles,
        role_bindings: &r.rbs,
    });
    Cluster {
        cluster_roles: &r.cluster_roles,
        model,
    }
}

fn str_of(v: &Value) -> Option<String> {
    v.as_str().map(Into::into)
}

/// The request a SubjectAccessReview spec describes.
fn request_of(spec: &Value) -> Request {
    if let Some(attrs) = spec.get("nonResourceAttributes") {
        return Request::non_resource(
            attrs["verb"].as_str().unwrap_or_default(),
            attrs["path"].as_str().unwrap_or_default(),
        );
    }
    let a = &spec["resourceAttributes"];
    Request {
        verb: str_of(&a["verb"]).unwrap_or_default(),
        api_group: str_of(&a["group"]).unwrap_or_default(),
        resource: str_of(&a["resource"]).unwrap_or_default(),
        subresource: str_of(&a["subresource"]),
        name: str_of(&a["name"]),
        namespace: str_of(&a["namespace"]),
        non_resource_url: None,
    }
}

/// `RBAC: allowed by RoleBinding "name/ns" of ...` -> ("RoleBinding", "name/ns").
fn reason_binding(reason: &str) -> Option<(&str, &str)> {
    let rest = reason.strip_prefix("RBAC: allowed by ")?;
    let (kind, rest) = rest.split_once(" \"")?;
    Some((kind, rest.split_once('"')?.0))
}

fn check_review(model: &RbacModel, number: u32, who: &Identity) {
    let (file, v) = recording(number);
    let req = request_of(&v["request"]["body"]["spec"]);
    let status = &v["response"]["body"]["status"];
    let expected = status["allowed"].as_bool().expect("status.allowed");
    let grants = model.allowed(who, &req);
    assert_eq!(
        !grants.is_empty(),
        expected,
        "{file}: {who:?} {req:?} -> {grants:#?}"
    );
    if let Some((kind, name)) = status["reason"].as_str().and_then(reason_binding) {
        // Upstream names the first allowing binding it visits; it must be among ours.
        let ours: Vec<String> = grants
            .iter()
            .map(|g| match &g.binding.namespace {
                Some(ns) => format!("{:?} {}/{ns}", g.binding.kind, g.binding.name),
                None => format!("{:?} {}", g.binding.kind, g.binding.name),
            })
            .collect();
        assert!(
            ours.contains(&format!("{kind} {name}")),
            "{file}: server says {kind} {name}, we say {ours:?}"
        );
    }
}

#[test]
fn subject_access_reviews_agree_with_the_api_server() {
    let r = recorded();
    let c = cluster(&r);
    for number in 34..=41 {
        let (_, v) = recording(number);
        let spec = &v["request"]["body"]["spec"];
        // Exactly the given user and groups: the server derives nothing from the user name (037).
        let groups = spec["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(str_of);
        let who = Identity::new(str_of(&spec["user"]).unwrap_or_default(), groups);
        check_review(&c.model, number, &who);
    }
}

#[test]
fn self_subject_access_reviews_as_alice_agree() {
    let r = recorded();
    let c = cluster(&r);
    let alice = Identity::user("alice", ["developers".to_string()]);
    for number in 44..=46 {
        check_review(&c.model, number, &alice);
    }
}

type RuleKey = (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
);

fn key(rule: &PolicyRule) -> RuleKey {
    let l = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
    (
        rule.verbs.clone(),
        l(&rule.api_groups),
        l(&rule.resources),
        l(&rule.resource_names),
        l(&rule.non_resource_urls),
    )
}

#[test]
fn self_subject_rules_reviews_match_rules_for() {
    let r = recorded();
    let c = cluster(&r);
    let alice = Identity::user("alice", ["developers".to_string()]);
    for (number, ns) in [(47, "shop"), (48, "payments")] {
        let (file, v) = recording(number);
        let status = &v["response"]["body"]["status"];
        let rules = status["resourceRules"].as_array().into_iter().flatten();
        let rules = rules.chain(status["nonResourceRules"].as_array().into_iter().flatten());
        let mut server: Vec<RuleKey> = rules
            .map(|r| key(&serde_json::from_value(r.clone()).expect("rule")))
            .collect();
        let mut ours: Vec<RuleKey> = c
            .model
            .rules_for(&alice, Some(ns))
            .iter()
            .map(|g| key(g.rule))
            .collect();
        server.sort();
        ours.sort();
        assert_eq!(ours, server, "{file}");
    }
}

#[test]
fn aggregation_reproduces_the_controllers_rules() {
    let r = recorded();
    let c = cluster(&r);
    let aggregated: Vec<&ClusterRole> = c
        .cluster_roles
        .iter()
        .filter(|r| r.aggregation_rule.is_some())
        .collect();
    let names: BTreeSet<&str> = aggregated
        .iter()
        .filter_map(|r| r.metadata.name.as_deref())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["admin", "edit", "monitoring-aggregate", "view"])
    );
    for role in aggregated {
        let name = role.metadata.name.as_deref().unwrap_or_default();
        let stored: Vec<RuleKey> = role.rules.iter().flatten().map(key).collect();
        let computed: Vec<RuleKey> = c
            .model
            .effective_rules(name)
            .expect("known role")
            .iter()
            .map(|e| key(e.rule))
            .collect();
        assert_eq!(
            computed.iter().collect::<BTreeSet<_>>(),
            stored.iter().collect::<BTreeSet<_>>(),
            "{name} as a set"
        );
        assert_eq!(computed, stored, "{name} in the controller's order");
    }
    // The same answer offline, where aggregated roles come with `rules: []`.
    let emptied: Vec<ClusterRole> = c
        .cluster_roles
        .iter()
        .map(|r| ClusterRole {
            rules: r
                .aggregation_rule
                .as_ref()
                .map_or(r.rules.clone(), |_| Some(Vec::new())),
            ..r.clone()
        })
        .collect();
    let offline = RbacModel::build(RbacInput {
        cluster_roles: &emptied,
        ..Default::default()
    });
    for name in ["admin", "edit", "view", "monitoring-aggregate"] {
        assert_eq!(
            offline.effective_rules(name),
            c.model.effective_rules(name),
            "{name}"
        );
    }
}

#[test]
fn aggregation_provenance_follows_the_bootstrap_chain() {
    let r = recorded();
    let c = cluster(&r);
    let from = |role: &str| -> BTreeSet<Vec<String>> {
        c.model
            .effective_rules(role)
            .into_iter()
            .flatten()
            .map(|e| e.aggregated_from.to_vec())
            .collect()
    };
    let chain = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        from("monitoring-aggregate"),
        BTreeSet::from([chain(&["monitoring-metrics-reader"])])
    );
    assert_eq!(
        from("view"),
        BTreeSet::from([chain(&["system:aggregate-to-view"])])
    );
    assert!(from("admin").contains(&chain(&["edit", "view", "system:aggregate-to-view"])));
    assert!(from("admin").contains(&chain(&["system:aggregate-to-admin"])));
    assert!(from("cluster-admin").iter().all(Vec::is_empty));
}
