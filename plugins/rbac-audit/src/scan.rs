//! `kubectl rbac-audit` (scan): every rule of the catalogue over the inventory.

use std::collections::{BTreeMap, HashMap};

use guardrails::cluster::NamespaceScope;
use guardrails::error::Result;
use guardrails::finding::{Finding, ObjectRef, Severity, Skipped};
use guardrails::inventory::{Inventory, ResourceKind};
use guardrails::rbac::{RbacMeta, RoleBinding};
use guardrails::selector::LabelQuery;
use guardrails::workload::token_mount;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use serde_json::{Value, json};

use crate::authz::{
    ALL_SERVICE_ACCOUNTS_GROUP, ANONYMOUS_USER, AUTHENTICATED_GROUP, BindingKind, BindingRef,
    DanglingRef, Grant, Identity, RbacModel, SubjectKey, UNAUTHENTICATED_GROUP,
    ineffective_resource_patterns, split_service_account_username,
};
use crate::catalogue::*;
use crate::exposure::{self, subject_json};

const RBAC_API: &str = "rbac.authorization.k8s.io/v1";
const BOOTSTRAP_LABEL: &str = "kubernetes.io/bootstrapping";

/// What the rules look at and how the user narrowed it.
pub struct ScanContext<'a> {
    /// Where the Roles, ClusterRoles, ClusterRoleBindings, ServiceAccounts and namespaces are.
    /// (A live scan lists them apart from the rest, and streams the RoleBindings, so that they
    /// are analysed while the workloads still arrive.)
    pub rbac: &'a Inventory,
    pub scope: &'a NamespaceScope,
    pub selector: Option<&'a LabelQuery>,
    pub include_system: bool,
    pub live: bool,
}

fn is_bootstrap(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(BOOTSTRAP_LABEL)
        .is_some_and(|v| v == "rbac-defaults")
}

impl ScanContext<'_> {
    /// Namespace scope, `-l` and the bootstrap filter, applied to the object a finding is on.
    fn admits(&self, namespace: Option<&str>, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        self.scope.includes(namespace)
            && self.selector.is_none_or(|q| q.matches(labels))
            && (self.include_system || !is_bootstrap(labels))
    }
}

fn binding_object(b: &BindingRef) -> ObjectRef {
    let kind = match b.kind {
        BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
        BindingKind::RoleBinding => "RoleBinding",
    };
    ObjectRef::new(RBAC_API, kind, b.namespace.as_deref(), &b.name)
}

pub fn subject_text(subject: &Subject, namespace: Option<&str>) -> String {
    match (subject.kind.as_str(), namespace) {
        ("ServiceAccount", Some(ns)) => format!("ServiceAccount {ns}/{}", subject.name),
        (kind, _) => format!("{kind} {}", subject.name),
    }
}

/// The ServiceAccount a subject is, whether written as a ServiceAccount or as its user name.
fn service_account_of<'s>(
    subject: &'s Subject,
    namespace: Option<&'s str>,
) -> Option<(&'s str, &'s str)> {
    match subject.kind.as_str() {
        "ServiceAccount" => Some((namespace?, subject.name.as_str())),
        "User" => split_service_account_username(&subject.name),
        _ => None,
    }
}

/// The RBAC side of a scan once every binding is in: the model, the RoleBindings it was built
/// from, and the rules on roles and bindings as far as they have run.
pub struct RbacSide<'r> {
    pub model: RbacModel<'r>,
    pub role_bindings: Vec<&'r [RoleBinding]>,
    pub rules: RbacRules,
}

impl RbacSide<'_> {
    /// Runs the rules on the bindings added since the last call (and, live, works out the
    /// token rights of the `mounted` ServiceAccounts once they are known).
    pub fn catch_up(&mut self, ctx: &ScanContext<'_>, mounted: &MountedAccounts) {
        self.rules
            .catch_up(ctx, &self.model, &self.role_bindings, mounted.get());
    }
}

/// The ServiceAccounts (namespace, name) whose tokens the workloads in scope mount, set by the
/// workload thread when it has read them (empty if it failed).
pub type MountedAccounts = std::sync::OnceLock<Vec<(String, String)>>;

/// What a scan found, what it could not evaluate, and what it read (given back so that the
/// caller decides when to free it).
pub type ScanOutcome<'r, I> = (Vec<Finding>, Vec<Skipped>, I, RbacSide<'r>);

/// Runs every rule. Two sides meet here:
/// - `rbac` completes the RBAC side on this thread (live: it adds the RoleBindings page by
///   page as they arrive, the rules catching up with each);
/// - another thread waits for `workloads` (offline at once; live as soon as the workloads
///   are listed, RoleBindings or not) and finds those that mount their ServiceAccount's
///   token, which needs no RBAC.
///
/// Whichever side is in first does what it can alone, so that little is left once both are.
/// Live, if the workloads are in first, `rbac` is handed the ServiceAccounts whose tokens
/// they mount (through `MountedAccounts`) and works out their rights between RoleBinding
/// pages; if the RoleBindings are in first, this thread works out ServiceAccounts' token
/// rights until the mounted tokens are known. The `automount-token-with-rights` findings come
/// last, from the two sides' results. Offline the two threads do about equal halves at 100k
/// RBAC objects.
pub fn scan<'r, I>(
    ctx: &ScanContext<'r>,
    rbac: impl FnOnce(&MountedAccounts) -> RbacSide<'r>,
    workloads: impl FnOnce() -> Result<I> + Send,
) -> Result<ScanOutcome<'r, I>>
where
    I: std::borrow::Borrow<Inventory> + Send,
{
    let mounted_accounts = MountedAccounts::new();
    let mounted_accounts = &mounted_accounts;
    std::thread::scope(|threads| {
        let workload_side = threads.spawn(move || {
            let side = workloads().and_then(|inventory| {
                let mounted = mounted_tokens(ctx, inventory.borrow())?;
                Ok((mounted, inventory))
            });
            let mut accounts: Vec<(String, String)> = match &side {
                Ok((mounted, _)) => mounted
                    .iter()
                    .map(|t| (t.namespace.clone(), t.service_account.clone()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            accounts.sort_unstable();
            accounts.dedup();
            let _ = mounted_accounts.set(accounts);
            side
        });
        let mut side = rbac(mounted_accounts);
        // Live, the rules have seen every binding by now: the other threads need not work out
        // any rule's capabilities again. (Offline this is empty, and each thread keeps its own.)
        let shared = side.rules.take_capabilities();
        let mut known = match ctx.live {
            true => token_rights_until(ctx, &side.model, mounted_accounts, &shared),
            // Offline nothing arrives later: worked out on demand, below.
            false => TokenRightsTable::new(),
        };
        guardrails::run::phase("token rights");
        // Not handed the mounted ServiceAccounts: once every RoleBinding is in, the workload
        // rule's parallel parts work out what rights are still missing, not this thread.
        side.rules
            .catch_up(ctx, &side.model, &side.role_bindings, None);
        known.extend(side.rules.take_token_rights());
        let (mut findings, mut skipped) = side.rules.take_results();
        guardrails::run::phase("rbac rules");
        // A panic in a rule is a bug: surface it as such rather than lose its findings.
        let (mounted, inventory) = workload_side
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        guardrails::run::phase("mounted tokens");
        let (more, more_skipped) =
            automount_with_rights(ctx, &side.model, mounted, &known, &shared)?;
        findings.extend(more);
        skipped.extend(more_skipped);
        Ok((findings, skipped, inventory, side))
    })
}

/// The rules that read only roles and bindings, run as bindings are added to the model: a
/// live scan adds each page of RoleBindings as it arrives, so that little is left to do when
/// the listing ends.
pub struct RbacRules {
    findings: Vec<Finding>,
    skipped: Vec<Skipped>,
    cache: exposure::RuleCapabilities<'static>,
    /// How many of the model's grants and dangling references have been looked at.
    grants_done: usize,
    dangling_done: usize,
    /// Without the roles, a binding's missing role proves nothing.
    roles_unknown: bool,
    /// How many slices of RoleBindings `dangling-subject` has looked at; `None` when it
    /// cannot judge.
    subject_slices_done: Option<usize>,
    /// Live only.
    token_rights: TokenRightsAhead,
}

impl RbacRules {
    /// The rules on roles as written; those on bindings follow with [`RbacRules::catch_up`].
    pub fn start(ctx: &ScanContext<'_>) -> RbacRules {
        let mut rules = RbacRules {
            findings: Vec::new(),
            skipped: Vec::new(),
            cache: exposure::RuleCapabilities::default(),
            grants_done: 0,
            dangling_done: 0,
            roles_unknown: ctx.rbac.was_skipped(ResourceKind::ClusterRole)
                || ctx.rbac.was_skipped(ResourceKind::Role),
            subject_slices_done: None,
            token_rights: TokenRightsAhead::default(),
        };
        if rules.roles_unknown {
            rules.skipped.push(Skipped {
                resource: "rule/dangling-role-ref".into(),
                namespace: None,
                reason: "roles could not be listed".into(),
            });
        }
        role_lints(ctx, &mut rules.findings);
        match dangling_subjects_judged(ctx) {
            Ok(()) => {
                let bindings = ctx.rbac.cluster_role_bindings.iter().map(|b| {
                    let kind = BindingKind::ClusterRoleBinding;
                    (kind, &b.metadata, &b.role_ref, &b.subjects)
                });
                dangling_subjects(ctx, bindings, &mut rules.findings);
                rules.subject_slices_done = Some(0);
            }
            Err(skipped) => rules.skipped.push(skipped),
        }
        rules
    }

    /// The rules on the bindings added to `model` since the last call, and on the slices of
    /// `role_bindings` not yet seen. (Bindings are added whole: each one's grants are all in
    /// the model at once.)
    fn catch_up(
        &mut self,
        ctx: &ScanContext<'_>,
        model: &RbacModel<'_>,
        role_bindings: &[&[RoleBinding]],
        mounted: Option<&Vec<(String, String)>>,
    ) {
        let grants = &model.grants()[self.grants_done..];
        binding_findings(ctx, grants, &mut self.cache, &mut self.findings);
        self.grants_done += grants.len();
        let dangling = &model.dangling_role_refs()[self.dangling_done..];
        if !self.roles_unknown {
            dangling_role_refs(ctx, dangling, &mut self.findings);
        }
        self.dangling_done += dangling.len();
        if let Some(done) = &mut self.subject_slices_done {
            let bindings = role_bindings[*done..].iter().copied().flatten().map(|b| {
                let kind = BindingKind::RoleBinding;
                (kind, &b.metadata, &b.role_ref, &b.subjects)
            });
            dangling_subjects(ctx, bindings, &mut self.findings);
            *done = role_bindings.len();
        }
        // Offline the workload rules work them out on all threads at the end instead.
        if ctx.live {
            self.token_rights.catch_up(model, mounted, &mut self.cache);
        }
    }

    /// The token rights worked out ahead that still hold.
    fn take_token_rights(&mut self) -> TokenRightsTable {
        std::mem::take(&mut self.token_rights.rights)
    }

    /// The capabilities worked out so far, for other threads to share (live, every rule that
    /// a binding grants is in them once the last RoleBinding page has been caught up with).
    fn take_capabilities(&mut self) -> exposure::RuleCapabilities<'static> {
        std::mem::take(&mut self.cache)
    }

    /// The findings so far and what could not be evaluated.
    pub fn take_results(&mut self) -> (Vec<Finding>, Vec<Skipped>) {
        (
            std::mem::take(&mut self.findings),
            std::mem::take(&mut self.skipped),
        )
    }
}

/// Capability, implicit-group and default-ServiceAccount rules, per (binding, subject).
fn binding_findings(
    ctx: &ScanContext<'_>,
    grants: &[Grant<'_>],
    cache: &mut exposure::RuleCapabilities<'_>,
    out: &mut Vec<Finding>,
) {
    for group in exposure::by_binding_subject(grants) {
        let group: Vec<&Grant> = group.iter().collect();
        let first = group[0];
        if !ctx.admits(
            first.binding.namespace.as_deref(),
            Some(&first.binding.labels),
        ) {
            continue;
        }
        let object = binding_object(&first.binding);
        let subject_ns = first.subject_namespace();
        let who = subject_text(first.subject, subject_ns);
        let key = format!(
            "{}|{}|{}",
            first.subject.kind,
            subject_ns.unwrap_or(""),
            first.subject.name
        );
        let hits = exposure::capabilities(&group, cache);

        for hit in &hits {
            let via = exposure::chain_text(hit.grants[0]);
            let scope = exposure::scope_text(&hit.grants[0].scope);
            let names = if hit.restricted_to_names {
                " (only named objects)"
            } else {
                ""
            };
            let message = if hit.rule.id == CLUSTER_ADMIN_BINDING.id {
                format!("{who} can {} via {via}", hit.summary)
            } else {
                format!(
                    "{who} can {} ({}){names} {scope} via {via}",
                    hit.summary,
                    hit.verbs.join(", ")
                )
            };
            out.push(
                Finding::new(
                    hit.rule,
                    object.clone(),
                    &key,
                    message,
                    exposure::BindingSubjectEvidence::of(first, Some(hit)),
                )
                .with_severity(hit.severity),
            );
        }

        let rights = if hits.is_empty() {
            format!("the rights of {} {}", first.role.kind, first.role.name)
        } else {
            hits.iter()
                .map(|h| h.rule.id)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let worst = hits.first().map(|h| h.severity);
        let subject = &first.subject;
        let implicit = match (subject.kind.as_str(), subject.name.as_str()) {
            ("User", ANONYMOUS_USER) | ("Group", UNAUTHENTICATED_GROUP) => Some((
                &ANONYMOUS_BINDING,
                Severity::Critical,
                format!(
                    "unauthenticated requests get {rights} via {}",
                    exposure::chain_text(first)
                ),
            )),
            ("Group", AUTHENTICATED_GROUP) => Some((
                &AUTHENTICATED_GROUP_BINDING,
                worst.map_or(Severity::Medium, |w| w.max(Severity::High)),
                format!(
                    "every authenticated identity gets {rights} via {}",
                    exposure::chain_text(first)
                ),
            )),
            ("Group", name)
                if name == ALL_SERVICE_ACCOUNTS_GROUP
                    || name.starts_with("system:serviceaccounts:") =>
            {
                let all = name == ALL_SERVICE_ACCOUNTS_GROUP;
                let base = if all {
                    Severity::High
                } else {
                    Severity::Medium
                };
                let which = match name.strip_prefix("system:serviceaccounts:") {
                    Some(ns) => format!("every ServiceAccount in namespace {ns}"),
                    None => "every ServiceAccount in the cluster".to_string(),
                };
                Some((
                    &SERVICEACCOUNTS_GROUP_BINDING,
                    worst.map_or(base, |w| w.max(base)),
                    format!(
                        "{which} (and so every pod token) gets {rights} via {}",
                        exposure::chain_text(first)
                    ),
                ))
            }
            _ => None,
        };
        if let Some((rule, severity, message)) = implicit {
            out.push(
                Finding::new(
                    rule,
                    object.clone(),
                    &key,
                    message,
                    exposure::BindingSubjectEvidence::of(first, None),
                )
                .with_severity(severity),
            );
        }

        if let Some((ns, "default")) = service_account_of(subject, subject_ns) {
            let severity = worst.map_or(DEFAULT_SA_BOUND.severity, |w| {
                w.max(DEFAULT_SA_BOUND.severity)
            });
            out.push(
                Finding::new(
                    &DEFAULT_SA_BOUND,
                    object,
                    &key,
                    format!(
                        "ServiceAccount {ns}/default gets {rights} via {}; every pod in {ns} without its own ServiceAccount inherits them",
                        exposure::chain_text(first)
                    ),
                    exposure::BindingSubjectEvidence::of(first, None),
                )
                .with_severity(severity),
            );
        }
    }
}

fn dangling_role_refs(ctx: &ScanContext<'_>, dangling: &[DanglingRef], out: &mut Vec<Finding>) {
    for dangling in dangling {
        if !ctx.admits(
            dangling.binding.namespace.as_deref(),
            Some(&dangling.binding.labels),
        ) {
            continue;
        }
        // ServiceAccount subjects without a namespace belong to the RoleBinding's.
        let subjects: Vec<Subject> = dangling
            .subjects
            .iter()
            .map(|s| {
                let mut s = s.clone();
                if s.kind == "ServiceAccount" && s.namespace.is_none() {
                    s.namespace = dangling.binding.namespace.clone();
                }
                s
            })
            .collect();
        let who: Vec<String> = subjects
            .iter()
            .map(|s| subject_text(s, s.namespace.as_deref()))
            .collect();
        let role = match &dangling.role.namespace {
            Some(ns) if dangling.role.kind == "Role" => format!("Role {ns}/{}", dangling.role.name),
            _ => format!("{} {}", dangling.role.kind, dangling.role.name),
        };
        let message = format!(
            "refers to {role}, which does not exist: creating it would grant its rules to {}",
            if who.is_empty() {
                "nobody (no subjects)".to_string()
            } else {
                who.join(", ")
            }
        );
        let evidence = json!({
            "role": { "kind": dangling.role.kind, "namespace": dangling.role.namespace, "name": dangling.role.name },
            "subjects": subjects.iter().map(|s| subject_json(s, s.namespace.as_deref())).collect::<Vec<_>>(),
            "reason": dangling.reason,
        });
        out.push(Finding::new(
            &DANGLING_ROLE_REF,
            binding_object(&dangling.binding),
            &role,
            message,
            evidence,
        ));
    }
}

/// Whether `dangling-subject` can tell a missing ServiceAccount from one it was not shown.
fn dangling_subjects_judged(ctx: &ScanContext<'_>) -> Result<(), Skipped> {
    let skipped = |reason: &str| Skipped {
        resource: "rule/dangling-subject".into(),
        namespace: None,
        reason: reason.into(),
    };
    if ctx.rbac.was_skipped(ResourceKind::ServiceAccount) {
        return Err(skipped("serviceaccounts could not be listed"));
    }
    // Offline, the files may simply not contain the ServiceAccounts: only judge when they do.
    if !ctx.live && ctx.rbac.service_accounts.is_empty() {
        return Err(skipped("no ServiceAccounts in the input"));
    }
    Ok(())
}

/// A binding as `dangling-subject` reads it: kind, metadata, role and subjects.
type BindingParts<'b> = (
    BindingKind,
    &'b RbacMeta,
    &'b RoleRef,
    &'b Option<Vec<Subject>>,
);

/// `dangling-subject` on some bindings (once [`dangling_subjects_judged`]): a live scan
/// looks at each page of RoleBindings as it arrives.
fn dangling_subjects<'b>(
    ctx: &ScanContext<'_>,
    bindings: impl Iterator<Item = BindingParts<'b>>,
    out: &mut Vec<Finding>,
) {
    let inv = ctx.rbac;
    let namespaces_known = ctx.live && !inv.was_skipped(ResourceKind::Namespace);
    for (kind, meta, role_ref, subjects) in bindings {
        let binding_ns = match kind {
            BindingKind::RoleBinding => Some(
                meta.namespace
                    .as_deref()
                    .unwrap_or(crate::authz::DEFAULT_NAMESPACE),
            ),
            BindingKind::ClusterRoleBinding => None,
        };
        if !ctx.admits(binding_ns, meta.labels.as_ref()) {
            continue;
        }
        // Made for the first dangling subject only: nearly every binding has none.
        let mut object = None;
        for subject in subjects.iter().flatten() {
            let ns = subject.namespace.as_deref().or(binding_ns);
            let Some((sa_ns, sa_name)) = service_account_of(subject, ns) else {
                continue;
            };
            if inv.service_account(sa_ns, sa_name).is_some() {
                continue;
            }
            // Every namespace gets a `default` ServiceAccount; it is only missing with its namespace.
            if sa_name == "default" && (!namespaces_known || inv.namespace(sa_ns).is_some()) {
                continue;
            }
            let why = if namespaces_known && inv.namespace(sa_ns).is_none() {
                format!("namespace {sa_ns} does not exist either")
            } else if ctx.live {
                "it does not exist in the cluster".to_string()
            } else {
                "it is not in the given manifests".to_string()
            };
            let message = format!(
                "grants the rights of {} {} to ServiceAccount {sa_ns}/{sa_name}, but {why}: whoever creates it gets them",
                role_ref.kind, role_ref.name
            );
            let evidence = json!({ "subject": subject_json(subject, Some(sa_ns)) });
            let object = object.get_or_insert_with(|| {
                let name = meta.name.as_deref().unwrap_or_default();
                ObjectRef::new(RBAC_API, &format!("{kind:?}"), binding_ns, name)
            });
            out.push(Finding::new(
                &DANGLING_SUBJECT,
                object.clone(),
                &format!("{sa_ns}/{sa_name}"),
                message,
                evidence,
            ));
        }
    }
}

/// Rule-level lints on Roles and ClusterRoles as written (aggregated roles hold copies).
fn role_lints(ctx: &ScanContext<'_>, out: &mut Vec<Finding>) {
    let inv = ctx.rbac;
    let cluster_roles = inv
        .cluster_roles
        .iter()
        .filter(|r| r.aggregation_rule.is_none())
        .map(|r| {
            (
                ObjectRef::new(
                    RBAC_API,
                    "ClusterRole",
                    None,
                    r.metadata.name.as_deref().unwrap_or(""),
                ),
                &r.metadata,
                &r.rules,
            )
        });
    let roles = inv.roles.iter().map(|r| {
        let ns = r
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(crate::authz::DEFAULT_NAMESPACE);
        (
            ObjectRef::new(
                RBAC_API,
                "Role",
                Some(ns),
                r.metadata.name.as_deref().unwrap_or(""),
            ),
            &r.metadata,
            &r.rules,
        )
    });
    for (object, meta, rules) in cluster_roles.chain(roles) {
        if !ctx.admits(object.namespace.as_deref(), meta.labels.as_ref()) {
            continue;
        }
        let rules: &[PolicyRule] = rules.as_deref().unwrap_or_default();
        let mut wild: Vec<Value> = Vec::new();
        let mut severity = WILDCARD_RULE.severity;
        let mut patterns: Vec<String> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let star = |v: Option<&Vec<String>>| v.is_some_and(|v| v.iter().any(|s| s == "*"));
            let (verbs, groups, resources) = (
                star(Some(&rule.verbs)),
                star(rule.api_groups.as_ref()),
                star(rule.resources.as_ref()),
            );
            if verbs || groups || resources || star(rule.non_resource_urls.as_ref()) {
                if verbs && resources {
                    severity = severity.max(Severity::High);
                }
                let mut fields = Vec::new();
                for (on, field) in [
                    (verbs, "verbs"),
                    (groups, "apiGroups"),
                    (resources, "resources"),
                ] {
                    if on {
                        fields.push(field);
                    }
                }
                if star(rule.non_resource_urls.as_ref()) {
                    fields.push("nonResourceURLs");
                }
                wild.push(json!({ "ruleIndex": index, "wildcards": fields }));
            }
            patterns.extend(ineffective_resource_patterns(rule));
        }
        if !wild.is_empty() {
            let fields: Vec<&str> = {
                let mut f: Vec<&str> = wild
                    .iter()
                    .flat_map(|w| {
                        w["wildcards"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                    })
                    .collect();
                f.sort_unstable();
                f.dedup();
                f
            };
            let message = format!(
                "{} rule(s) use '*' in {}; the role silently grants resources added later (CRDs included)",
                wild.len(),
                fields.join(", ")
            );
            out.push(
                Finding::new(
                    &WILDCARD_RULE,
                    object.clone(),
                    "",
                    message,
                    json!({ "rules": wild }),
                )
                .with_severity(severity),
            );
        }
        if !patterns.is_empty() {
            patterns.sort();
            patterns.dedup();
            let message = format!(
                "resource pattern(s) {} are matched literally by the RBAC authorizer and grant nothing",
                patterns
                    .iter()
                    .map(|p| format!("'{p}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            out.push(Finding::new(
                &INEFFECTIVE_RESOURCE_PATTERN,
                object,
                "",
                message,
                json!({ "patterns": patterns }),
            ));
        }
    }
}

/// What a ServiceAccount's mounted token exposes, its evidence ready as text.
struct TokenRights {
    worst: Severity,
    capabilities: Vec<&'static str>,
    summary: String,
    grants: Box<serde_json::value::RawValue>,
}

/// Token rights by ServiceAccount (namespace, name); `None`: nothing the catalogue flags.
type TokenRightsTable = HashMap<(String, String), Option<TokenRights>>;

fn token_rights(
    model: &RbacModel<'_>,
    namespace: &str,
    name: &str,
    cache: &mut exposure::RuleCapabilities<'_>,
) -> Option<TokenRights> {
    let grants = model.rules_for(&Identity::service_account(namespace, name), None);
    let hits = exposure::capabilities(&grants, cache);
    let worst = hits.first()?.severity;
    Some(TokenRights {
        worst,
        capabilities: hits.iter().map(|h| h.rule.id).collect(),
        summary: hits
            .iter()
            .map(|h| h.summary)
            .collect::<Vec<_>>()
            .join("; "),
        grants: guardrails::finding::evidence_text(
            &hits
                .iter()
                .map(exposure::HitEvidence::of)
                .collect::<Vec<_>>(),
        ),
    })
}

/// Live: the token rights of the ServiceAccounts whose tokens workloads mount, worked out
/// while RoleBindings still arrive, from when those ServiceAccounts are known. A later grant
/// to one of them (to its user name or one of its groups, as the model indexes grants) makes
/// its rights be worked out again, so what is kept at the end is what the whole model says.
#[derive(Default)]
struct TokenRightsAhead {
    rights: TokenRightsTable,
    /// The ServiceAccounts whose rights a new grant to this user or group changes.
    by_user: HashMap<String, (String, String)>,
    by_group: HashMap<String, Vec<(String, String)>>,
    wanted: Vec<(String, String)>,
    grants_seen: usize,
    /// How many more rights may be worked out (`None` until the ServiceAccounts are known):
    /// with their groups bound on every page, the same work would be redone page after page,
    /// while the end would do it once.
    budget: Option<usize>,
}

impl TokenRightsAhead {
    fn catch_up(
        &mut self,
        model: &RbacModel<'_>,
        mounted: Option<&Vec<(String, String)>>,
        cache: &mut exposure::RuleCapabilities<'_>,
    ) {
        let grants = model.grants();
        match self.budget {
            None => {
                let Some(mounted) = mounted else {
                    return;
                };
                for key in mounted {
                    let identity = Identity::service_account(&key.0, &key.1);
                    self.by_user.insert(identity.user, key.clone());
                    for group in identity.groups {
                        self.by_group.entry(group).or_default().push(key.clone());
                    }
                }
                self.wanted.clone_from(mounted);
                self.budget = Some(2 * mounted.len());
            }
            Some(_) => {
                let mut last = None;
                for grant in &grants[self.grants_seen..] {
                    // A subject's grants from one binding are consecutive: resolved once.
                    let this = (
                        std::ptr::from_ref(grant.subject),
                        std::sync::Arc::as_ptr(&grant.binding),
                    );
                    if last == Some(this) {
                        continue;
                    }
                    last = Some(this);
                    let changed: Vec<&(String, String)> = match grant.subject_key() {
                        Some(SubjectKey::User(user)) => {
                            self.by_user.get(&user).into_iter().collect()
                        }
                        Some(SubjectKey::Group(group)) => {
                            self.by_group.get(&group).into_iter().flatten().collect()
                        }
                        None => Vec::new(),
                    };
                    for key in changed {
                        self.rights.remove(key);
                    }
                }
            }
        }
        self.grants_seen = grants.len();
        let Some(budget) = &mut self.budget else {
            return;
        };
        for key in &self.wanted {
            if *budget == 0 {
                break;
            }
            if self.rights.contains_key(key) {
                continue;
            }
            *budget -= 1;
            let rights = token_rights(model, &key.0, &key.1, cache);
            self.rights.insert(key.clone(), rights);
        }
    }
}

/// The token rights of the ServiceAccounts in scope, worked out while the workloads are still
/// being listed (live, the ServiceAccounts are in long before): it stops when they have
/// `arrived`, and the workload rules work out the rest on demand, on all worker threads.
fn token_rights_until(
    ctx: &ScanContext<'_>,
    model: &RbacModel<'_>,
    arrived: &MountedAccounts,
    shared: &exposure::RuleCapabilities<'static>,
) -> TokenRightsTable {
    let mut cache = exposure::RuleCapabilities::over(shared);
    ctx.rbac
        .service_accounts
        .iter()
        .take_while(|_| arrived.get().is_none())
        .filter_map(|sa| {
            let namespace = sa.metadata.namespace.as_deref()?;
            let name = sa.metadata.name.as_deref()?;
            ctx.scope.includes(Some(namespace)).then(|| {
                let rights = token_rights(model, namespace, name, &mut cache);
                ((namespace.to_owned(), name.to_owned()), rights)
            })
        })
        .collect()
}

/// An `automount-token-with-rights` finding's evidence.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AutomountEvidence<'a> {
    service_account: ServiceAccountName<'a>,
    token_mount: &'a guardrails::workload::TokenMount,
    capabilities: &'a [&'static str],
    nodes: Vec<&'a str>,
    grants: &'a serde_json::value::RawValue,
}

#[derive(serde::Serialize)]
struct ServiceAccountName<'a> {
    namespace: &'a str,
    name: &'a str,
}

/// A workload that runs with its ServiceAccount's token mounted: what the
/// `automount-token-with-rights` rule needs of it once the ServiceAccount's rights are known.
/// (Owned: it outlives the thread that read the workloads.)
struct MountedToken {
    object: ObjectRef,
    namespace: String,
    service_account: String,
    mount: guardrails::workload::TokenMount,
    nodes: Vec<String>,
}

/// The workloads in scope that mount their ServiceAccount's token, in inventory order. Needs
/// no RBAC, so a live scan works it out as soon as the workloads are in, while RoleBindings
/// may still be arriving. The workloads are split into contiguous parts, one per worker
/// thread.
fn mounted_tokens(ctx: &ScanContext<'_>, inv: &Inventory) -> Result<Vec<MountedToken>> {
    let workloads = inv.pending_workloads();
    // Small inventories are not worth a thread.
    let parts = guardrails::parallel::worker_threads().min(workloads.len().div_ceil(512));
    let part_size = workloads.len().div_ceil(parts.max(1)).max(1);
    let mut mounted = Vec::new();
    guardrails::parallel::map_in_order(
        guardrails::parallel::into_chunks(workloads, part_size),
        |part| mounted_tokens_of(ctx, inv, part),
        |part| {
            mounted.extend(part?);
            Ok::<(), guardrails::error::Error>(())
        },
    )?;
    Ok(mounted)
}

/// [`mounted_tokens`] of some of the workloads.
fn mounted_tokens_of(
    ctx: &ScanContext<'_>,
    inv: &Inventory,
    workloads: Vec<guardrails::workload::PendingWorkload<'_>>,
) -> Result<Vec<MountedToken>> {
    let mut out = Vec::new();
    for workload in workloads {
        if !ctx.admits(
            workload.object.namespace.as_deref(),
            workload.metadata.labels.as_ref(),
        ) {
            continue;
        }
        let workload = workload.resolve(inv)?;
        let namespace = workload.namespace();
        let service_account = workload.service_account_name();
        let mount = token_mount(
            &workload.pod_spec,
            ctx.rbac.service_account(namespace, service_account),
        );
        if !mount.is_mounted() {
            continue;
        }
        out.push(MountedToken {
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
            mount,
            nodes: workload
                .node_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            object: workload.object,
        });
    }
    Ok(out)
}

/// The `automount-token-with-rights` findings: the `mounted` tokens whose ServiceAccount
/// holds risky rights. `known` holds the rights of ServiceAccounts worked out beforehand; the
/// others' are worked out here, in parts on the worker threads. (Contiguous parts, so that
/// workloads sharing a ServiceAccount mostly fall in one part, which works out its rights
/// once.)
fn automount_with_rights(
    ctx: &ScanContext<'_>,
    model: &RbacModel<'_>,
    mounted: Vec<MountedToken>,
    known: &TokenRightsTable,
    shared: &exposure::RuleCapabilities<'static>,
) -> Result<(Vec<Finding>, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    if ctx.rbac.was_skipped(ResourceKind::ServiceAccount) {
        // The ServiceAccount's automount setting is unknown; the pod's own setting still decides
        // when present, otherwise the default (mounted) is assumed and said so in the evidence.
        skipped.push(Skipped {
            resource: "rule/automount-token-with-rights".into(),
            namespace: None,
            reason: "serviceaccounts could not be listed; ServiceAccount automount settings assumed unset".into(),
        });
    }
    let parts = guardrails::parallel::worker_threads().min(mounted.len().div_ceil(256));
    let part_size = mounted.len().div_ceil(parts.max(1)).max(1);
    let mut found = Vec::new();
    guardrails::parallel::map_in_order(
        guardrails::parallel::into_chunks(mounted, part_size),
        |part| automount_part(model, known, shared, part),
        |part| {
            found.extend(part);
            Ok::<(), guardrails::error::Error>(())
        },
    )?;
    Ok((found, skipped))
}

/// [`automount_with_rights`] on some of the mounted tokens.
fn automount_part(
    model: &RbacModel<'_>,
    known: &TokenRightsTable,
    shared: &exposure::RuleCapabilities<'static>,
    mounted: Vec<MountedToken>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut cache = exposure::RuleCapabilities::over(shared);
    let mut more = TokenRightsTable::new();
    for token in mounted {
        let MountedToken {
            object,
            namespace: ns,
            service_account: sa_name,
            mount,
            nodes,
        } = token;
        // Many workloads share a ServiceAccount: its rights are worked out once.
        let key = (ns, sa_name);
        let rights = match known.get(&key) {
            Some(rights) => rights,
            None => {
                let (ns, sa_name) = (&key.0, &key.1);
                more.entry(key.clone())
                    .or_insert_with(|| token_rights(model, ns, sa_name, &mut cache))
            }
        };
        let Some(rights) = rights else {
            continue;
        };
        let (ns, sa_name) = (&key.0, &key.1);
        let message = format!(
            "pods run with ServiceAccount {ns}/{sa_name} and its token mounted; it can {}",
            rights.summary
        );
        let evidence = AutomountEvidence {
            service_account: ServiceAccountName {
                namespace: ns,
                name: sa_name,
            },
            token_mount: &mount,
            capabilities: &rights.capabilities,
            nodes: nodes.iter().map(String::as_str).collect(),
            grants: &rights.grants,
        };
        // The mounted token is the exposure: the finding is as severe as the worst right.
        out.push(
            Finding::new(&AUTOMOUNT_TOKEN_WITH_RIGHTS, object, "", message, evidence)
                .with_severity(rights.worst),
        );
    }
    out
}
