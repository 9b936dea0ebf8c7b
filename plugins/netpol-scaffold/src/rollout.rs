//! Putting the scaffold's proposals on a live cluster and taking them off again. Order matters
//! while the objects appear one by one: the allows go first and the default-deny last, so no
//! connection the proposals keep is ever denied in between; a rollback deletes the deny first
//! for the same reason. Every object created carries the run that created it, so a rollback
//! removes exactly what one `--apply` added and nothing a user wrote.

use std::collections::BTreeSet;

use guardrails::apply::{Action, LiveChange};
use guardrails::finding::ObjectRef;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use serde_json::Value;

use crate::scaffold::Proposal;

/// Field manager of our writes, and the managed-by label of the objects we create.
pub const FIELD_MANAGER: &str = "kubectl-netpol-scaffold";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The run (`--apply` invocation) that created an object: a UTC timestamp, so runs sort.
pub const RUN_LABEL: &str = "netpol-scaffold.guardrails.dev/run";

/// A run id for now: `20261125T191400Z` (a valid label value; sorts by time).
pub fn run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Whether a policy only isolates (selects pods, allows nothing): the default-deny.
fn is_deny_only(spec: Option<&NetworkPolicySpec>) -> bool {
    spec.is_none_or(|s| {
        s.ingress.as_ref().is_none_or(Vec::is_empty) && s.egress.as_ref().is_none_or(Vec::is_empty)
    })
}

/// The proposals in a safe creation order: every allow before any deny-only policy (stable
/// otherwise).
pub fn apply_order(proposals: Vec<Proposal>) -> Vec<Proposal> {
    let (deny, allow): (Vec<_>, Vec<_>) = proposals
        .into_iter()
        .partition(|p| is_deny_only(p.policy.spec.as_ref()));
    allow.into_iter().chain(deny).collect()
}

fn target(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(namespace),
        name,
    )
}

/// The spec as the API server stores it, for comparison: `policyTypes` defaulted as the
/// server does (Ingress, plus Egress when there are egress rules) and `protocol` TCP.
fn normalized_spec(spec: Option<&NetworkPolicySpec>) -> Value {
    let mut spec = spec.cloned().unwrap_or_default();
    if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
        let mut types = vec!["Ingress".to_string()];
        if spec.egress.is_some() {
            types.push("Egress".to_string());
        }
        spec.policy_types = Some(types);
    }
    let mut v = serde_json::to_value(&spec).unwrap_or(Value::Null);
    for direction in ["ingress", "egress"] {
        if let Some(rules) = v.get_mut(direction).and_then(Value::as_array_mut) {
            for rule in rules {
                if let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut) {
                    for port in ports {
                        if let Some(p) = port.as_object_mut() {
                            p.entry("protocol").or_insert_with(|| "TCP".into());
                        }
                    }
                }
            }
        }
    }
    v
}

/// What `--apply` will do.
#[derive(Debug, Default)]
pub struct ApplyPlan {
    /// Creations, in [`apply_order`].
    pub changes: Vec<LiveChange>,
    /// Policies already there with the same spec.
    pub unchanged: Vec<String>,
    /// Policies already there with another spec: left alone, for a person to reconcile.
    pub conflicting: Vec<String>,
}

/// Plans the creation of `proposals` (already in apply order) in a cluster holding
/// `existing`, labelling each with `run`.
pub fn plan_apply(proposals: &[Proposal], existing: &[NetworkPolicy], run: &str) -> ApplyPlan {
    let mut plan = ApplyPlan::default();
    for p in proposals {
        let namespace = p.policy.metadata.namespace.clone().unwrap_or_default();
        let name = p.policy.metadata.name.clone().unwrap_or_default();
        let live = existing.iter().find(|e| {
            e.metadata.namespace.as_deref() == Some(namespace.as_str())
                && e.metadata.name.as_deref() == Some(name.as_str())
        });
        if let Some(live) = live {
            let label = guardrails::apply::display_ref(&target(&namespace, &name));
            if normalized_spec(live.spec.as_ref()) == normalized_spec(p.policy.spec.as_ref()) {
                plan.unchanged.push(label);
            } else {
                plan.conflicting.push(label);
            }
            continue;
        }
        let mut policy = p.policy.clone();
        let labels = policy.metadata.labels.get_or_insert_with(Default::default);
        labels.insert(MANAGED_BY_LABEL.into(), FIELD_MANAGER.into());
        labels.insert(RUN_LABEL.into(), run.into());
        plan.changes.push(LiveChange {
            target: target(&namespace, &name),
            action: Action::Create(serde_json::to_value(&policy).unwrap_or(Value::Null)),
            reason: format!("create ({})", p.intent),
        });
    }
    plan
}

/// The runs of `--apply` whose policies are still in `namespace`, oldest first.
pub fn runs_in(existing: &[NetworkPolicy], namespace: &str) -> BTreeSet<String> {
    existing
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter_map(|p| created_by_run(p).map(str::to_string))
        .collect()
}

fn created_by_run(p: &NetworkPolicy) -> Option<&str> {
    let labels = p.metadata.labels.as_ref()?;
    (labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(FIELD_MANAGER))
        .then(|| labels.get(RUN_LABEL).map(String::as_str))
        .flatten()
}

/// The deletions undoing run `run` in `namespace`: deny-only policies first, then the allows
/// in reverse creation (name) order.
pub fn plan_rollback(existing: &[NetworkPolicy], namespace: &str, run: &str) -> Vec<LiveChange> {
    let mut created: Vec<&NetworkPolicy> = existing
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| created_by_run(p) == Some(run))
        .collect();
    created.sort_by(|a, b| {
        is_deny_only(b.spec.as_ref())
            .cmp(&is_deny_only(a.spec.as_ref()))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    created
        .into_iter()
        .map(|p| LiveChange {
            target: target(namespace, p.metadata.name.as_deref().unwrap_or_default()),
            action: Action::Delete,
            reason: format!("delete (created by netpol-scaffold run {run})"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(ns: &str, name: &str, spec: Value, labels: Value) -> NetworkPolicy {
        serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": spec,
        }))
        .expect("policy")
    }

    fn deny() -> Value {
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    }

    fn allow_dns() -> Value {
        json!({"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
    }

    fn proposal(name: &str, spec: Value) -> Proposal {
        Proposal {
            intent: name.into(),
            policy: policy("shop", name, spec, json!({})),
        }
    }

    fn names(changes: &[LiveChange]) -> Vec<&str> {
        changes.iter().map(|c| c.target.name.as_str()).collect()
    }

    #[test]
    fn allows_are_created_before_the_deny_and_labelled_with_the_run() {
        let ordered = apply_order(vec![
            proposal("default-deny", deny()),
            proposal("allow-dns-egress", allow_dns()),
        ]);
        let plan = plan_apply(&ordered, &[], "20261125T191400Z");
        assert_eq!(names(&plan.changes), ["allow-dns-egress", "default-deny"]);
        let Action::Create(obj) = &plan.changes[1].action else {
            panic!("create expected")
        };
        assert_eq!(obj["metadata"]["labels"][RUN_LABEL], "20261125T191400Z");
        assert_eq!(obj["metadata"]["labels"][MANAGED_BY_LABEL], FIELD_MANAGER);
        assert_eq!(obj["kind"], "NetworkPolicy");
    }

    #[test]
    fn existing_policies_are_unchanged_or_left_alone() {
        // The server's defaults (protocol TCP) do not make a policy differ.
        let live_same = policy(
            "shop",
            "default-deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            json!({}),
        );
        let live_other = policy(
            "shop",
            "allow-dns-egress",
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}),
            json!({}),
        );
        let plan = plan_apply(
            &[
                proposal("allow-dns-egress", allow_dns()),
                proposal("default-deny", deny()),
            ],
            &[live_same, live_other],
            "r",
        );
        assert!(plan.changes.is_empty());
        assert_eq!(
            plan.unchanged,
            ["networkpolicy.networking.k8s.io/default-deny -n shop"]
        );
        assert_eq!(
            plan.conflicting,
            ["networkpolicy.networking.k8s.io/allow-dns-egress -n shop"]
        );
        let with_default = json!({"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]});
        let without = json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                             "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}]});
        assert_eq!(
            normalized_spec(policy("a", "b", with_default, json!({})).spec.as_ref()),
            normalized_spec(policy("a", "b", without, json!({})).spec.as_ref())
        );
    }

    #[test]
    fn rollback_deletes_only_the_runs_objects_deny_first() {
        let ours = |run: &str| json!({MANAGED_BY_LABEL: FIELD_MANAGER, RUN_LABEL: run});
        let existing = vec![
            policy("shop", "allow-dns-egress", allow_dns(), ours("2")),
            policy("shop", "default-deny", deny(), ours("2")),
            policy("shop", "older", allow_dns(), ours("1")),
            policy(
                "shop",
                "users-own",
                deny(),
                json!({MANAGED_BY_LABEL: FIELD_MANAGER}),
            ),
            policy("payments", "default-deny", deny(), ours("2")),
        ];
        assert_eq!(
            runs_in(&existing, "shop").into_iter().collect::<Vec<_>>(),
            ["1", "2"]
        );
        let changes = plan_rollback(&existing, "shop", "2");
        assert_eq!(names(&changes), ["default-deny", "allow-dns-egress"]);
        assert!(changes.iter().all(|c| matches!(c.action, Action::Delete)));
        assert!(plan_rollback(&existing, "shop", "3").is_empty());
    }
}
