//! What a set of grants lets its holder do: the capabilities of the catalogue, with the
//! severity each one earns given where it applies and how narrowly it is written.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use guardrails::finding::{RuleInfo, Severity};
use serde::Serialize;
use serde_json::Value;

use crate::authz::{BindingKind, Grant, Scope};
use crate::catalogue::{self, CAPABILITIES, CLUSTER_ADMIN_BINDING, Capability};

/// One capability found in a set of grants.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub rule: &'static RuleInfo,
    pub summary: &'static str,
    pub severity: Severity,
    pub verbs: Vec<&'static str>,
    pub grants: Vec<&'a Grant<'a>>,
    /// Every contributing rule is limited by resourceNames.
    pub restricted_to_names: bool,
}

/// The namespace where a privilege is worth a cluster: lowering stops there.
const PRIVILEGED_NAMESPACE: &str = "kube-system";

fn grant_severity(capability: &Capability, grant: &Grant) -> Severity {
    let mut severity = capability.rule.severity;
    if let Scope::Namespace(ns) = &grant.scope
        && capability.lower_when_namespaced
        && ns != PRIVILEGED_NAMESPACE
    {
        severity = catalogue::lower(severity);
    }
    if grant
        .rule
        .resource_names
        .as_ref()
        .is_some_and(|n| !n.is_empty())
    {
        severity = catalogue::lower(severity);
    }
    severity
}

/// Whether these grants amount to cluster-admin: the `cluster-admin` ClusterRole or any
/// `*/*/*` rule. Returns the grants that make it so.
pub fn admin_equivalent<'a>(grants: &[&'a Grant<'a>]) -> Vec<&'a Grant<'a>> {
    grants
        .iter()
        .copied()
        .filter(|g| {
            (g.role.kind == "ClusterRole" && g.role.name == "cluster-admin")
                || catalogue::is_full_wildcard(g.rule)
        })
        .collect()
}

/// The capabilities of each distinct rule, computed once: grants of one role share their
/// rules (the input's own, by address), and a cluster has far fewer distinct rules than grants.
/// A cache may sit on a finished one that other threads share ([`RuleCapabilities::over`]):
/// what that one holds is not worked out again.
#[derive(Default)]
pub struct RuleCapabilities<'base> {
    base: Option<&'base RuleCapabilities<'static>>,
    by_rule: HashMap<usize, Vec<(usize, Vec<&'static str>)>>,
}

impl<'base> RuleCapabilities<'base> {
    /// An empty cache that looks in `base` first.
    pub fn over(base: &'base RuleCapabilities<'static>) -> RuleCapabilities<'base> {
        RuleCapabilities {
            base: Some(base),
            by_rule: HashMap::new(),
        }
    }

    fn of(&mut self, rule: &PolicyRule) -> &[(usize, Vec<&'static str>)] {
        let key = std::ptr::from_ref(rule) as usize;
        if let Some(known) = self.base.and_then(|base| base.by_rule.get(&key)) {
            return known;
        }
        self.by_rule.entry(key).or_insert_with(|| {
            CAPABILITIES
                .iter()
                .enumerate()
                .filter_map(|(i, cap)| {
                    let verbs = cap.granted_verbs(rule);
                    (!verbs.is_empty()).then_some((i, verbs))
                })
                .collect()
        })
    }
}

/// Every capability the grants carry, most severe first. Admin equivalence is reported as
/// one `cluster-admin-binding` hit that stands for all the others.
pub fn capabilities<'a>(grants: &[&'a Grant], cache: &mut RuleCapabilities<'_>) -> Vec<Hit<'a>> {
    let admin = admin_equivalent(grants);
    if !admin.is_empty() {
        let cluster_wide = admin.iter().any(|g| g.scope == Scope::Cluster);
        let severity = if cluster_wide {
            Severity::Critical
        } else {
            Severity::High
        };
        return vec![Hit {
            rule: &CLUSTER_ADMIN_BINDING,
            summary: if cluster_wide {
                "do anything in the cluster"
            } else {
                "do anything in the namespace"
            },
            severity,
            verbs: vec!["*"],
            grants: admin,
            restricted_to_names: false,
        }];
    }
    let mut hits: Vec<Hit<'a>> = Vec::new();
    for grant in grants {
        for (index, verbs) in cache.of(grant.rule) {
            let capability = &CAPABILITIES[*index];
            let severity = grant_severity(capability, grant);
            let hit = match hits
                .iter_mut()
                .find(|h| std::ptr::eq(h.rule, capability.rule))
            {
                Some(hit) => hit,
                None => {
                    hits.push(Hit {
                        rule: capability.rule,
                        summary: capability.summary,
                        severity,
                        verbs: Vec::new(),
                        grants: Vec::new(),
                        restricted_to_names: true,
                    });
                    let last = hits.len() - 1;
                    &mut hits[last]
                }
            };
            hit.severity = hit.severity.max(severity);
            hit.verbs.extend(verbs.iter().copied());
            hit.restricted_to_names &= grant
                .rule
                .resource_names
                .as_ref()
                .is_some_and(|n| !n.is_empty());
            hit.grants.push(grant);
        }
    }
    for hit in &mut hits {
        hit.verbs.sort_unstable();
        hit.verbs.dedup();
    }
    hits.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.id.cmp(b.rule.id))
    });
    hits
}

pub fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Cluster => "cluster-wide".into(),
        Scope::Namespace(ns) => format!("in namespace {ns}"),
    }
}

/// `RoleBinding shop/x → Role shop/y ← aggregated-from`, the chain a finding names.
pub fn chain_text(grant: &Grant) -> String {
    let binding = match &grant.binding.namespace {
        Some(ns) => format!("RoleBinding {ns}/{}", grant.binding.name),
        None => format!("ClusterRoleBinding {}", grant.binding.name),
    };
    let role = match &grant.role.namespace {
        Some(ns) if grant.role.kind == "Role" => format!("Role {ns}/{}", grant.role.name),
        _ => format!("{} {}", grant.role.kind, grant.role.name),
    };
    let mut text = format!("{binding} → {role}");
    if !grant.aggregated_from.is_empty() {
        text.push_str(&format!(" ← {}", grant.aggregated_from.join(" ← ")));
    }
    text
}

pub fn rule_json(grant: &Grant) -> Value {
    serde_json::to_value(RuleEvidence::of(grant.rule)).unwrap_or(Value::Null)
}

/// A subject in reports; `namespace` is the ServiceAccount's (explicit or defaulted).
pub fn subject_json(subject: &Subject, namespace: Option<&str>) -> Value {
    serde_json::to_value(SubjectEvidence::of(subject, namespace)).unwrap_or(Value::Null)
}

#[derive(Serialize)]
struct SubjectEvidence<'g> {
    kind: &'g str,
    name: &'g str,
    namespace: Option<&'g str>,
}

impl<'g> SubjectEvidence<'g> {
    fn of(subject: &'g Subject, namespace: Option<&'g str>) -> SubjectEvidence<'g> {
        SubjectEvidence {
            kind: &subject.kind,
            name: &subject.name,
            namespace,
        }
    }
}

/// The evidence of a finding on one subject of a binding: the grant it has through the
/// binding and, for a capability, the verbs and the rules that give it (each with the roles
/// it was aggregated from). Serialised straight from the model, like [`GrantEvidence`]:
/// these are most of a large cluster's findings.
#[derive(Serialize)]
pub struct BindingSubjectEvidence<'g> {
    subject: SubjectEvidence<'g>,
    binding: BindingEvidence<'g>,
    role: RoleEvidence<'g>,
    scope: ScopeEvidence<'g>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verbs: Option<&'g [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<HitRuleEvidence<'g>>>,
}

/// A rule behind a capability, and the roles it was aggregated from (when it was).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HitRuleEvidence<'g> {
    #[serde(flatten)]
    rule: RuleEvidence<'g>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aggregated_from: &'g [String],
}

impl<'g> BindingSubjectEvidence<'g> {
    pub fn of(grant: &'g Grant<'g>, hit: Option<&'g Hit<'g>>) -> BindingSubjectEvidence<'g> {
        BindingSubjectEvidence {
            subject: SubjectEvidence::of(grant.subject, grant.subject_namespace()),
            binding: BindingEvidence::of(grant),
            role: RoleEvidence::of(grant),
            scope: ScopeEvidence(&grant.scope),
            verbs: hit.map(|hit| &hit.verbs[..]),
            rules: hit.map(|hit| {
                hit.grants
                    .iter()
                    .map(|g| HitRuleEvidence {
                        rule: RuleEvidence::of(g.rule),
                        aggregated_from: &g.aggregated_from,
                    })
                    .collect()
            }),
        }
    }
}

/// The provenance of one grant, in the contract's `grants[]` shape. Serialised straight from
/// the model (no intermediate `Value`): a large cluster's report has hundreds of thousands.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantEvidence<'g> {
    binding: BindingEvidence<'g>,
    role: RoleEvidence<'g>,
    rule: RuleEvidence<'g>,
    aggregated_from: &'g [String],
    scope: ScopeEvidence<'g>,
}

#[derive(Serialize)]
struct BindingEvidence<'g> {
    kind: BindingKind,
    namespace: &'g Option<String>,
    name: &'g str,
}

#[derive(Serialize)]
struct RoleEvidence<'g> {
    kind: &'g str,
    name: &'g str,
}

/// A rule as written, without its empty lists.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleEvidence<'g> {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_groups: Option<&'g [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'g [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_names: Option<&'g [String]>,
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Option::is_none")]
    non_resource_urls: Option<&'g [String]>,
    verbs: &'g [String],
}

/// `cluster` or `namespace/NAME`.
struct ScopeEvidence<'g>(&'g Scope);

impl Serialize for ScopeEvidence<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Scope::Cluster => serializer.serialize_str("cluster"),
            Scope::Namespace(ns) => serializer.collect_str(&format_args!("namespace/{ns}")),
        }
    }
}

impl<'g> BindingEvidence<'g> {
    fn of(grant: &'g Grant<'g>) -> BindingEvidence<'g> {
        BindingEvidence {
            kind: grant.binding.kind,
            namespace: &grant.binding.namespace,
            name: &grant.binding.name,
        }
    }
}

impl<'g> RoleEvidence<'g> {
    fn of(grant: &'g Grant<'g>) -> RoleEvidence<'g> {
        RoleEvidence {
            kind: &grant.role.kind,
            name: &grant.role.name,
        }
    }
}

impl<'g> RuleEvidence<'g> {
    fn of(rule: &'g PolicyRule) -> RuleEvidence<'g> {
        let listed = |v: &'g Option<Vec<String>>| v.as_deref().filter(|v| !v.is_empty());
        RuleEvidence {
            api_groups: listed(&rule.api_groups),
            resources: listed(&rule.resources),
            resource_names: listed(&rule.resource_names),
            non_resource_urls: listed(&rule.non_resource_urls),
            verbs: &rule.verbs,
        }
    }
}

impl<'g> GrantEvidence<'g> {
    pub fn of(grant: &'g Grant<'g>) -> GrantEvidence<'g> {
        GrantEvidence {
            binding: BindingEvidence::of(grant),
            role: RoleEvidence::of(grant),
            rule: RuleEvidence::of(grant.rule),
            aggregated_from: &grant.aggregated_from,
            scope: ScopeEvidence(&grant.scope),
        }
    }
}

/// One capability and the grants behind it, as evidence.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HitEvidence<'h> {
    rule: &'static str,
    severity: Severity,
    verbs: &'h [&'static str],
    restricted_to_resource_names: bool,
    grants: Vec<GrantEvidence<'h>>,
}

impl<'h> HitEvidence<'h> {
    /// The grants in binding order (kind, namespace, name), then subject and rule: the model
    /// has them in input order, which is file order offline and key order live, and the same
    /// cluster must give the same evidence both ways.
    pub fn of(hit: &'h Hit<'h>) -> HitEvidence<'h> {
        let mut grants = hit.grants.clone();
        grants.sort_by(|a, b| evidence_order(a).cmp(&evidence_order(b)));
        HitEvidence {
            rule: hit.rule.id,
            severity: hit.severity,
            verbs: &hit.verbs,
            restricted_to_resource_names: hit.restricted_to_names,
            grants: grants.into_iter().map(GrantEvidence::of).collect(),
        }
    }
}

type EvidenceOrder<'g> = (
    BindingKind,
    Option<&'g str>,
    &'g str,
    &'g str,
    Option<&'g str>,
    &'g str,
    usize,
);

fn evidence_order<'g>(grant: &'g Grant<'g>) -> EvidenceOrder<'g> {
    (
        grant.binding.kind,
        grant.binding.namespace.as_deref(),
        &grant.binding.name,
        &grant.subject.kind,
        grant.subject_namespace(),
        &grant.subject.name,
        grant.rule_index,
    )
}

/// [`GrantEvidence`] as a JSON value, for reports assembled as values.
pub fn grant_json(grant: &Grant) -> Value {
    serde_json::to_value(GrantEvidence::of(grant)).unwrap_or(Value::Null)
}

/// [`HitEvidence`] as a JSON value.
pub fn hit_json(hit: &Hit<'_>) -> Value {
    serde_json::to_value(HitEvidence::of(hit)).unwrap_or(Value::Null)
}

/// Groups grants by (binding, subject). The model emits each binding's subjects' grants
/// consecutively, sharing one `Arc` per binding and per subject, so grouping is one pass.
pub fn by_binding_subject<'a>(grants: &'a [Grant<'a>]) -> Vec<&'a [Grant<'a>]> {
    grants
        .chunk_by(|a, b| Arc::ptr_eq(&a.binding, &b.binding) && std::ptr::eq(a.subject, b.subject))
        .collect()
}
