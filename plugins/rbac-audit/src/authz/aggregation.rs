//! ClusterRole aggregation, recomputed from `aggregationRule.clusterRoleSelectors` the way the
//! clusterrole-aggregation controller does, so that offline manifests (`rules: []`) and live
//! clusters (rules already filled in) give the same answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use guardrails::rbac::{ClusterRole, PolicyRule};
use serde::Serialize;

/// One rule of a role as the authorizer will use it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveRule<'a> {
    /// As written in the role that defines it (the model copies no rule).
    pub rule: &'a PolicyRule,
    /// Position in the role's effective rule list.
    pub rule_index: usize,
    /// For aggregated ClusterRoles: the selected ClusterRole the rule was copied from, then the
    /// one that one copied it from, …, ending at the non-aggregated role that defines it.
    /// Empty for a role's own rules.
    pub aggregated_from: Arc<Vec<String>>,
}

/// Rule equality as the controller's `equality.Semantic.DeepEqual` (absent == empty list).
pub fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn l(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or_default()
    }
    a.verbs == b.verbs
        && l(&a.api_groups) == l(&b.api_groups)
        && l(&a.resources) == l(&b.resources)
        && l(&a.resource_names) == l(&b.resource_names)
        && l(&a.non_resource_urls) == l(&b.non_resource_urls)
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// The effective rules of every ClusterRole, by name (a later duplicate name wins).
pub(crate) fn effective_cluster_role_rules(
    roles: &[ClusterRole],
) -> BTreeMap<&str, Vec<EffectiveRule<'_>>> {
    let by_name: BTreeMap<&str, &ClusterRole> = roles
        .iter()
        .filter_map(|r| Some((r.metadata.name.as_deref()?, r)))
        .collect();

    // For each aggregated role, the roles it copies from in the controller's order: per
    // selector, matching roles sorted by name, never itself.
    let mut selected: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (&name, role) in &by_name {
        let Some(agg) = &role.aggregation_rule else {
            continue;
        };
        let selectors = agg.cluster_role_selectors.as_deref().unwrap_or_default();
        // The controller gives up on a role with an unparsable selector; it never gets rules.
        let sources = if selectors.iter().all(guardrails::selector::is_valid) {
            selectors
                .iter()
                .flat_map(|sel| {
                    by_name.iter().filter(move |&(&other, r)| {
                        let labels = r.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
                        other != name && guardrails::selector::matches(sel, labels)
                    })
                })
                .map(|(other, _)| *other)
                .collect()
        } else {
            Vec::new()
        };
        selected.insert(name, sources);
    }

    // Aggregated roles start empty (their stored rules are the controller's output, not
    // input) and are recomputed until nothing changes: aggregated roles may select other
    // aggregated roles (admin <- edit <- view). The cap only guards pathological cycles.
    let mut rules: BTreeMap<&str, Vec<&PolicyRule>> = by_name
        .iter()
        .map(|(&name, r)| {
            let own = if selected.contains_key(name) {
                Vec::new()
            } else {
                r.rules.iter().flatten().collect()
            };
            (name, own)
        })
        .collect();
    for _ in 0..=2 * selected.len() + 1 {
        let mut changed = false;
        for (&name, sources) in &selected {
            let mut union: Vec<&PolicyRule> = Vec::new();
            for &rule in sources.iter().flat_map(|s| &rules[s]) {
                if !union.iter().any(|u| same_rule(u, rule)) {
                    union.push(rule);
                }
            }
            let current = &rules[name];
            if union.len() != current.len()
                || union.iter().zip(current).any(|(a, b)| !same_rule(a, b))
            {
                rules.insert(name, union);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    rules
        .iter()
        .map(|(&name, list)| {
            let effective = list
                .iter()
                .enumerate()
                .map(|(rule_index, &rule)| EffectiveRule {
                    rule,
                    rule_index,
                    aggregated_from: Arc::new(if selected.contains_key(name) {
                        provenance(rule, name, &selected, &rules, &mut BTreeSet::new())
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    }),
                })
                .collect();
            (name, effective)
        })
        .collect()
}

/// The chain of roles `rule` reached `role` through: the first selected role holding it (in
/// the controller's order), recursively, avoiding cycles, down to a non-aggregated role.
fn provenance<'a>(
    rule: &PolicyRule,
    role: &'a str,
    selected: &BTreeMap<&'a str, Vec<&'a str>>,
    rules: &BTreeMap<&'a str, Vec<&PolicyRule>>,
    visiting: &mut BTreeSet<&'a str>,
) -> Option<Vec<String>> {
    visiting.insert(role);
    for &source in selected.get(role).into_iter().flatten() {
        if visiting.contains(source) || !rules[source].iter().any(|r| same_rule(r, rule)) {
            continue;
        }
        if !selected.contains_key(source) {
            return Some(vec![source.to_owned()]);
        }
        if let Some(rest) = provenance(rule, source, selected, rules, visiting) {
            return Some(std::iter::once(source.to_owned()).chain(rest).collect());
        }
    }
    visiting.remove(role);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn role(name: &str, labels: Value, selectors: Option<Value>, rules: Value) -> ClusterRole {
        let mut v = json!({"metadata": {"name": name, "labels": labels}, "rules": rules});
        if let Some(s) = selectors {
            v["aggregationRule"] = json!({"clusterRoleSelectors": s});
        }
        serde_json::from_value(v).expect("valid ClusterRole")
    }

    fn r(verb: &str, resource: &str) -> Value {
        json!({"verbs": [verb], "apiGroups": [""], "resources": [resource]})
    }

    fn summary(
        eff: &BTreeMap<&str, Vec<EffectiveRule<'_>>>,
        name: &str,
    ) -> Vec<(String, Vec<String>)> {
        eff[name]
            .iter()
            .map(|e| {
                let res = e.rule.resources.clone().unwrap_or_default().join(",");
                (
                    format!("{} {res}", e.rule.verbs.join(",")),
                    e.aggregated_from.to_vec(),
                )
            })
            .collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// admin <- edit <- view as in the bootstrap policy, listed in an unhelpful order and with
    /// stale stored rules that must be ignored.
    fn bootstrap_like() -> Vec<ClusterRole> {
        vec![
            role(
                "admin",
                json!({}),
                Some(json!([{"matchLabels": {"to-admin": "true"}}])),
                json!([r("stale", "x")]),
            ),
            role(
                "view",
                json!({"to-edit": "true"}),
                Some(json!([{"matchLabels": {"to-view": "true"}}])),
                json!([]),
            ),
            role(
                "edit",
                json!({"to-admin": "true"}),
                Some(json!([{"matchLabels": {"to-edit": "true"}}])),
                json!(null),
            ),
            role(
                "agg-view",
                json!({"to-view": "true"}),
                None,
                json!([r("get", "pods"), r("list", "pods")]),
            ),
            role(
                "agg-edit",
                json!({"to-edit": "true"}),
                None,
                json!([r("create", "pods"), r("get", "pods")]),
            ),
            role(
                "agg-admin",
                json!({"to-admin": "true"}),
                None,
                json!([r("create", "roles")]),
            ),
        ]
    }

    #[test]
    fn aggregation_replaces_stored_rules_and_reaches_a_fixed_point() {
        let roles = bootstrap_like();
        let eff = effective_cluster_role_rules(&roles);
        assert_eq!(
            summary(&eff, "view"),
            [
                ("get pods".into(), strs(&["agg-view"])),
                ("list pods".into(), strs(&["agg-view"]))
            ]
        );
        // Sources in name order (agg-edit < view), duplicates dropped.
        assert_eq!(
            summary(&eff, "edit"),
            [
                ("create pods".into(), strs(&["agg-edit"])),
                ("get pods".into(), strs(&["agg-edit"])),
                ("list pods".into(), strs(&["view", "agg-view"])),
            ]
        );
        assert_eq!(
            summary(&eff, "admin"),
            [
                ("create roles".into(), strs(&["agg-admin"])),
                ("create pods".into(), strs(&["edit", "agg-edit"])),
                ("get pods".into(), strs(&["edit", "agg-edit"])),
                ("list pods".into(), strs(&["edit", "view", "agg-view"])),
            ]
        );
        assert_eq!(summary(&eff, "agg-view")[0].1, Vec::<String>::new());
        assert_eq!(
            eff["admin"]
                .iter()
                .map(|e| e.rule_index)
                .collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn never_includes_itself_and_survives_cycles() {
        let roles = vec![
            role(
                "a",
                json!({"agg": "yes"}),
                Some(json!([{"matchLabels": {"agg": "yes"}}])),
                json!([]),
            ),
            role(
                "b",
                json!({"agg": "yes"}),
                Some(json!([{"matchLabels": {"agg": "yes"}}])),
                json!([]),
            ),
            role(
                "c",
                json!({"agg": "yes"}),
                None,
                json!([r("get", "secrets")]),
            ),
        ];
        let eff = effective_cluster_role_rules(&roles);
        // Each copied it from the other first (name order), but the chain stops before looping.
        assert_eq!(
            summary(&eff, "a"),
            [("get secrets".into(), strs(&["b", "c"]))]
        );
        assert_eq!(
            summary(&eff, "b"),
            [("get secrets".into(), strs(&["a", "c"]))]
        );
        let only_cycle = vec![
            role(
                "x",
                json!({"k": "v"}),
                Some(json!([{"matchLabels": {"k": "v"}}])),
                json!([r("stale", "x")]),
            ),
            role(
                "y",
                json!({"k": "v"}),
                Some(json!([{"matchLabels": {"k": "v"}}])),
                json!([r("stale", "y")]),
            ),
        ];
        let eff = effective_cluster_role_rules(&only_cycle);
        assert!(eff["x"].is_empty() && eff["y"].is_empty());
    }

    #[test]
    fn selectors_use_label_selector_semantics() {
        let roles = vec![
            role(
                "agg",
                json!({}),
                Some(json!([
                    {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                    {"matchLabels": {"extra": "1"}}
                ])),
                json!([]),
            ),
            role(
                "p",
                json!({"tier": "b", "extra": "1"}),
                None,
                json!([r("get", "p")]),
            ),
            role("q", json!({"tier": "c"}), None, json!([r("get", "q")])),
            role("z", json!({"extra": "1"}), None, json!([r("get", "z")])),
            role("empty-sel", json!({}), Some(json!([{}])), json!([])),
            role(
                "no-sel",
                json!({}),
                Some(json!([])),
                json!([r("stale", "x")]),
            ),
            role(
                "bad-sel",
                json!({}),
                Some(json!([{"matchExpressions": [{"key": "k", "operator": "Is"}]}])),
                json!([]),
            ),
        ];
        let eff = effective_cluster_role_rules(&roles);
        // Per selector, then by name: p (selector 1), then z (selector 2; p already seen).
        assert_eq!(
            summary(&eff, "agg"),
            [
                ("get p".into(), strs(&["p"])),
                ("get z".into(), strs(&["z"]))
            ]
        );
        // An empty selector selects every other role: get p, get z, get q.
        assert_eq!(eff["empty-sel"].len(), 3);
        assert!(eff["no-sel"].is_empty());
        assert!(eff["bad-sel"].is_empty());
    }

    #[test]
    fn semantic_rule_equality_treats_absent_as_empty() {
        let a: PolicyRule =
            serde_json::from_value(json!({"verbs": ["get"], "resources": ["pods"]})).expect("rule");
        let b: PolicyRule = serde_json::from_value(
            json!({"verbs": ["get"], "resources": ["pods"], "apiGroups": [], "resourceNames": []}),
        )
        .expect("rule");
        assert!(same_rule(&a, &b));
        let c: PolicyRule = serde_json::from_value(
            json!({"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}),
        )
        .expect("rule");
        assert!(!same_rule(&a, &c));
    }
}
