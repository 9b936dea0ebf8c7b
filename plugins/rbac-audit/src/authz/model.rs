//! The RBAC graph: every (binding subject × effective rule) edge, queried with the RBAC
//! authorizer's rules (upstream `DefaultRuleResolver.VisitRulesFor`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use guardrails::rbac::{
    ClusterRole, ClusterRoleBinding, PolicyRule, RbacMeta, Role, RoleBinding, RoleRef, Subject,
};
use serde::Serialize;

use super::aggregation::{EffectiveRule, effective_cluster_role_rules};
use super::subject::{Identity, SubjectKey, resolve_subject};
use super::{Request, rule_allows};

/// Where namespaced objects without `metadata.namespace` land, as with `kubectl apply`
/// against a context without a namespace.
pub const DEFAULT_NAMESPACE: &str = "default";

#[derive(Debug, Clone, Copy, Default)]
pub struct RbacInput<'a> {
    pub cluster_roles: &'a [ClusterRole],
    pub cluster_role_bindings: &'a [ClusterRoleBinding],
    pub roles: &'a [Role],
    pub role_bindings: &'a [RoleBinding],
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Scope {
    /// Via a ClusterRoleBinding: every namespace, cluster-scoped resources, non-resource URLs.
    Cluster,
    /// Via a RoleBinding: namespaced requests in this namespace only.
    Namespace(String),
}

impl Scope {
    /// Whether the grant is consulted for a request in `namespace` (`None` = cluster scope).
    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match self {
            Scope::Cluster => true,
            Scope::Namespace(ns) => namespace == Some(ns.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum BindingKind {
    ClusterRoleBinding,
    RoleBinding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindingRef {
    pub kind: BindingKind,
    /// `None` for ClusterRoleBindings.
    pub namespace: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl fmt::Display for BindingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?}/{ns}/{}", self.kind, self.name),
            None => write!(f, "{:?}/{}", self.kind, self.name),
        }
    }
}

/// A binding's `roleRef`, with the namespace a `Role` is looked up in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRefResolved {
    /// `Role` or `ClusterRole` (or whatever unsupported kind the binding names).
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// One edge: `subject` may use `rule` within `scope`, because of `binding`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grant<'a> {
    /// As written in the binding. (Subject and rule are the input's own; the `Arc`s are shared
    /// by all grants of one binding: large clusters have hundreds of thousands of grants.)
    pub subject: &'a Subject,
    /// A ServiceAccount subject without namespace, defaulted to the RoleBinding's.
    pub subject_namespace_defaulted: bool,
    pub binding: Arc<BindingRef>,
    pub role: Arc<RoleRefResolved>,
    pub rule: &'a PolicyRule,
    /// Index in the role's effective rules ([`RbacModel::effective_rules`]).
    pub rule_index: usize,
    /// See [`EffectiveRule::aggregated_from`].
    pub aggregated_from: Arc<Vec<String>>,
    pub scope: Scope,
}

impl Grant<'_> {
    /// The user or group the binding gave this grant to (a ServiceAccount as its user name),
    /// as the model indexes it.
    pub(crate) fn subject_key(&self) -> Option<SubjectKey> {
        resolve_subject(self.subject, self.binding.namespace.as_deref())
            .ok()
            .map(|resolved| resolved.key)
    }

    /// The ServiceAccount subject's namespace, explicit or defaulted.
    pub fn subject_namespace(&self) -> Option<&str> {
        match self.subject_namespace_defaulted {
            true => self.binding.namespace.as_deref(),
            false => self.subject.namespace.as_deref(),
        }
    }
}

/// A binding whose `roleRef` points nowhere: it grants nothing (until the role appears).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DanglingRef {
    pub binding: BindingRef,
    pub role: RoleRefResolved,
    /// The binding's subjects as written: who would get the role once it exists.
    pub subjects: Vec<Subject>,
    pub reason: String,
}

/// A binding subject that can never match anybody (e.g. an unknown kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IneffectiveSubject {
    pub binding: BindingRef,
    pub subject: Subject,
    pub reason: String,
}

/// A subject as written in bindings (ServiceAccount namespace filled in when defaulted),
/// with the grants that allow a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectGrants<'a> {
    pub subject: Subject,
    pub grants: Vec<&'a Grant<'a>>,
}

/// The evaluated RBAC state; built once, then queried without further allocation-heavy work.
/// It borrows the roles' rules and the bindings' subjects from the input instead of copying
/// them: at 100k RBAC objects the copies were most of its memory.
#[derive(Debug, Clone, Default)]
pub struct RbacModel<'a> {
    grants: Vec<Grant<'a>>,
    dangling: Vec<DanglingRef>,
    ineffective_subjects: Vec<IneffectiveSubject>,
    cluster_role_rules: BTreeMap<&'a str, Vec<EffectiveRule<'a>>>,
    role_rules: BTreeMap<&'a str, BTreeMap<&'a str, Vec<EffectiveRule<'a>>>>,
    /// Grant indices by user name (User subjects and ServiceAccount user names) and group.
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
}

fn namespace_of(meta: &RbacMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

fn binding_ref(kind: BindingKind, meta: &RbacMeta) -> BindingRef {
    BindingRef {
        kind,
        namespace: (kind == BindingKind::RoleBinding).then(|| namespace_of(meta).to_owned()),
        name: meta.name.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
    }
}

impl<'a> RbacModel<'a> {
    pub fn build(input: RbacInput<'a>) -> RbacModel<'a> {
        let mut model = RbacModel::with_roles(input.cluster_roles, input.roles);
        model.add_cluster_role_bindings(input.cluster_role_bindings);
        model.add_role_bindings(input.role_bindings);
        model
    }

    /// The roles' effective rules, no binding yet: bindings are added with
    /// [`RbacModel::add_cluster_role_bindings`], then [`RbacModel::add_role_bindings`] (as
    /// often as they arrive; a live scan adds each page of RoleBindings as it is listed).
    pub fn with_roles(cluster_roles: &'a [ClusterRole], roles: &'a [Role]) -> RbacModel<'a> {
        let mut model = RbacModel {
            cluster_role_rules: effective_cluster_role_rules(cluster_roles),
            ..Default::default()
        };
        for role in roles {
            let Some(name) = role.metadata.name.as_deref() else {
                continue;
            };
            let rules = role.rules.iter().flatten().enumerate();
            let rules = rules.map(|(rule_index, rule)| EffectiveRule {
                rule,
                rule_index,
                aggregated_from: Arc::default(),
            });
            model
                .role_rules
                .entry(namespace_of(&role.metadata))
                .or_default()
                .insert(name, rules.collect());
        }
        model
    }

    /// Before any RoleBinding, as the authorizer visits ClusterRoleBindings first.
    pub fn add_cluster_role_bindings(&mut self, bindings: &'a [ClusterRoleBinding]) {
        debug_assert!(
            self.grants
                .last()
                .is_none_or(|g| g.binding.kind == BindingKind::ClusterRoleBinding),
            "ClusterRoleBindings come before RoleBindings"
        );
        for b in bindings {
            self.add_binding(
                binding_ref(BindingKind::ClusterRoleBinding, &b.metadata),
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
            );
        }
    }

    pub fn add_role_bindings(&mut self, bindings: &'a [RoleBinding]) {
        for b in bindings {
            self.add_binding(
                binding_ref(BindingKind::RoleBinding, &b.metadata),
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
            );
        }
    }

    fn add_binding(&mut self, binding: BindingRef, role_ref: &RoleRef, subjects: &'a [Subject]) {
        let ns = binding.namespace.clone();
        let role = RoleRefResolved {
            kind: role_ref.kind.clone(),
            namespace: ns.clone().filter(|_| role_ref.kind == "Role"),
            name: role_ref.name.clone(),
        };
        let rules = match (role_ref.kind.as_str(), &ns) {
            ("ClusterRole", _) => self
                .cluster_role_rules
                .get(role.name.as_str())
                .ok_or("ClusterRole not found"),
            ("Role", Some(ns)) => self
                .role_rules
                .get(ns.as_str())
                .and_then(|m| m.get(role.name.as_str()))
                .ok_or("Role not found in the binding's namespace"),
            ("Role", None) => Err("a ClusterRoleBinding cannot reference a Role"),
            _ => Err("unsupported roleRef kind"),
        };
        let rules = match rules {
            Ok(rules) => rules,
            Err(reason) => {
                self.dangling.push(DanglingRef {
                    binding,
                    role,
                    subjects: subjects.to_vec(),
                    reason: reason.into(),
                });
                return;
            }
        };
        let scope = ns.clone().map_or(Scope::Cluster, Scope::Namespace);
        let shared_binding = Arc::new(binding);
        let shared_role = Arc::new(role.clone());
        for subject in subjects {
            let resolved = match resolve_subject(subject, ns.as_deref()) {
                Ok(r) => r,
                Err(reason) => {
                    let binding = (*shared_binding).clone();
                    self.ineffective_subjects.push(IneffectiveSubject {
                        binding,
                        subject: subject.clone(),
                        reason,
                    });
                    continue;
                }
            };
            let index = match &resolved.key {
                SubjectKey::User(u) => self.by_user.entry(u.clone()).or_default(),
                SubjectKey::Group(g) => self.by_group.entry(g.clone()).or_default(),
            };
            for eff in rules {
                index.push(self.grants.len());
                self.grants.push(Grant {
                    subject,
                    subject_namespace_defaulted: resolved.namespace_defaulted,
                    binding: Arc::clone(&shared_binding),
                    role: Arc::clone(&shared_role),
                    rule: eff.rule,
                    rule_index: eff.rule_index,
                    aggregated_from: eff.aggregated_from.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }

    pub fn grants(&self) -> &[Grant<'a>] {
        &self.grants
    }

    pub fn dangling_role_refs(&self) -> &[DanglingRef] {
        &self.dangling
    }

    pub fn ineffective_subjects(&self) -> &[IneffectiveSubject] {
        &self.ineffective_subjects
    }

    /// Every grant whose subject names `who` directly or through one of its groups, in model
    /// order (ClusterRoleBindings first, then input order).
    fn grants_of(&self, who: &Identity) -> impl Iterator<Item = &Grant<'a>> {
        let mut idx: Vec<usize> = self
            .by_user
            .get(&who.user)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        idx.extend(
            who.groups
                .iter()
                .filter_map(|g| self.by_group.get(g))
                .flatten(),
        );
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.grants[i])
    }

    /// The grants that allow `req` for `who`; empty = RBAC denies it.
    pub fn allowed(&self, who: &Identity, req: &Request) -> Vec<&Grant<'a>> {
        let ns = req.scope_namespace();
        self.grants_of(who)
            .filter(|g| g.scope.covers(ns) && rule_allows(g.rule, req))
            .collect()
    }

    /// Every subject (as written; groups stay groups) with the grants allowing `req`, sorted
    /// by kind, namespace, name.
    pub fn who_can(&self, req: &Request) -> Vec<SubjectGrants<'_>> {
        let ns = req.scope_namespace();
        let mut by_subject: BTreeMap<(String, String, String), SubjectGrants<'_>> = BTreeMap::new();
        for g in self
            .grants
            .iter()
            .filter(|g| g.scope.covers(ns) && rule_allows(g.rule, req))
        {
            let mut subject = (*g.subject).clone();
            subject.namespace = g.subject_namespace().map(Into::into);
            let key = (
                subject.kind.clone(),
                subject.namespace.clone().unwrap_or_default(),
                subject.name.clone(),
            );
            by_subject
                .entry(key)
                .or_insert_with(|| SubjectGrants {
                    subject,
                    grants: Vec::new(),
                })
                .grants
                .push(g);
        }
        by_subject.into_values().collect()
    }

    /// What `who` may do: all its grants (direct and via groups) that apply in `namespace`
    /// (cluster-wide grants included), or everywhere for `None`.
    pub fn rules_for(&self, who: &Identity, namespace: Option<&str>) -> Vec<&Grant<'a>> {
        self.grants_of(who)
            .filter(|g| namespace.is_none_or(|ns| g.scope.covers(Some(ns))))
            .collect()
    }

    /// A ClusterRole's effective rules (aggregation applied).
    pub fn effective_rules(&self, cluster_role_name: &str) -> Option<&[EffectiveRule<'a>]> {
        self.cluster_role_rules
            .get(cluster_role_name)
            .map(Vec::as_slice)
    }

    pub fn role_rules(&self, namespace: &str, name: &str) -> Option<&[EffectiveRule<'a>]> {
        self.role_rules.get(namespace)?.get(name).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn de<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("valid fixture")
    }

    fn sa(ns: &str, name: &str) -> Value {
        json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
    }

    fn crb(name: &str, role: &str, subjects: Value) -> ClusterRoleBinding {
        de(
            json!({"metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects}),
        )
    }

    fn rb(ns: &str, name: &str, kind: &str, role: &str, subjects: Value) -> RoleBinding {
        de(
            json!({"metadata": {"name": name, "namespace": ns, "labels": {"team": "a"}}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects}),
        )
    }

    struct Fixture {
        cluster_roles: Vec<ClusterRole>,
        crbs: Vec<ClusterRoleBinding>,
        roles: Vec<Role>,
        rbs: Vec<RoleBinding>,
    }

    impl Fixture {
        fn model(&self) -> RbacModel<'_> {
            RbacModel::build(RbacInput {
                cluster_roles: &self.cluster_roles,
                cluster_role_bindings: &self.crbs,
                roles: &self.roles,
                role_bindings: &self.rbs,
            })
        }
    }

    fn fixture() -> Fixture {
        Fixture {
            cluster_roles: vec![
                de(json!({"metadata": {"name": "reader"}, "rules": [
                    {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "nodes"]},
                    {"verbs": ["get"], "nonResourceURLs": ["/metrics"]}
                ]})),
                de(json!({"metadata": {"name": "secret-reader"}, "rules": [
                    {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}
                ]})),
            ],
            crbs: vec![
                crb(
                    "global-readers",
                    "reader",
                    json!([sa("mon", "prom"), {"kind": "Group", "name": "auditors"}]),
                ),
                crb(
                    "ghost",
                    "does-not-exist",
                    json!([{"kind": "User", "name": "alice"}]),
                ),
                crb(
                    "nsless",
                    "reader",
                    json!([{"kind": "ServiceAccount", "name": "x"}]),
                ),
            ],
            roles: vec![
                de(
                    json!({"metadata": {"name": "deployer", "namespace": "shop"}, "rules": [
                        {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"]}
                    ]}),
                ),
                de(
                    json!({"metadata": {"name": "deployer", "namespace": "other"}, "rules": [
                        {"verbs": ["*"], "apiGroups": [""], "resources": ["secrets"]}
                    ]}),
                ),
            ],
            rbs: vec![
                rb(
                    "shop",
                    "shop-readers",
                    "ClusterRole",
                    "reader",
                    json!([{"kind": "User", "name": "alice"}]),
                ),
                rb(
                    "shop",
                    "shop-secrets",
                    "ClusterRole",
                    "secret-reader",
                    json!([{"kind": "ServiceAccount", "name": "app"}, {"kind": "Group", "name": "system:authenticated"}]),
                ),
                rb(
                    "shop",
                    "deployers",
                    "Role",
                    "deployer",
                    json!([{"kind": "User", "name": "system:serviceaccount:ci:bot"}]),
                ),
                rb(
                    "shop",
                    "dangling",
                    "Role",
                    "nope",
                    json!([{"kind": "User", "name": "alice"}]),
                ),
            ],
        }
    }

    fn pods(verb: &str) -> Request {
        Request::resource(verb, "", "pods")
    }

    fn binding_names<'a>(grants: impl IntoIterator<Item = &'a Grant<'a>>) -> Vec<String> {
        let mut names: Vec<String> = grants.into_iter().map(|g| g.binding.name.clone()).collect();
        names.dedup();
        names
    }

    /// A live scan adds RoleBindings page by page as they arrive: the model must be the one
    /// built from all of them at once, lookups included.
    #[test]
    fn role_bindings_added_one_page_at_a_time_give_the_same_model() {
        let f = fixture();
        assert!(f.rbs.len() > 2, "several pages");
        let whole = f.model();
        let mut paged = RbacModel::with_roles(&f.cluster_roles, &f.roles);
        paged.add_cluster_role_bindings(&f.crbs);
        for page in f.rbs.chunks(1) {
            paged.add_role_bindings(page);
        }
        assert_eq!(paged.grants(), whole.grants());
        assert_eq!(paged.dangling_role_refs(), whole.dangling_role_refs());
        assert_eq!(paged.ineffective_subjects(), whole.ineffective_subjects());
        for who in [
            Identity::service_account("mon", "prom"),
            Identity::user("eve", ["auditors".to_string()]),
            Identity::user("alice", []),
        ] {
            assert_eq!(paged.rules_for(&who, None), whole.rules_for(&who, None));
        }
    }

    #[test]
    fn cluster_role_binding_grants_everywhere() {
        let f = fixture();
        let m = f.model();
        let prom = Identity::service_account("mon", "prom");
        assert!(
            !m.allowed(&prom, &pods("list")).is_empty(),
            "all namespaces"
        );
        assert!(
            !m.allowed(&prom, &pods("get").in_namespace("any"))
                .is_empty()
        );
        assert!(
            !m.allowed(&prom, &Request::resource("get", "", "nodes"))
                .is_empty(),
            "cluster-scoped"
        );
        assert!(
            !m.allowed(&prom, &Request::non_resource("get", "/metrics"))
                .is_empty()
        );
        assert!(
            m.allowed(&prom, &pods("delete").in_namespace("any"))
                .is_empty()
        );
        let auditor = Identity::user("eve", ["auditors".to_string()]);
        let grants = m.allowed(&auditor, &pods("list"));
        assert_eq!(binding_names(grants.iter().copied()), ["global-readers"]);
        assert_eq!(grants[0].scope, Scope::Cluster);
    }

    #[test]
    fn role_binding_to_cluster_role_is_confined_to_its_namespace() {
        let f = fixture();
        let m = f.model();
        let alice = Identity::user("alice", []);
        let grants = m.allowed(&alice, &pods("get").in_namespace("shop"));
        assert_eq!(binding_names(grants.iter().copied()), ["shop-readers"]);
        assert_eq!(grants[0].scope, Scope::Namespace("shop".into()));
        assert_eq!(grants[0].binding.labels["team"], "a");
        assert!(
            m.allowed(&alice, &pods("get").in_namespace("other"))
                .is_empty()
        );
        assert!(
            m.allowed(&alice, &pods("list")).is_empty(),
            "not across all namespaces"
        );
        assert!(
            m.allowed(&alice, &Request::resource("get", "", "nodes"))
                .is_empty(),
            "no cluster-scoped resources"
        );
        assert!(
            m.allowed(&alice, &Request::non_resource("get", "/metrics"))
                .is_empty(),
            "no non-resource URLs"
        );
        // Even if a caller attaches a namespace to a non-resource request.
        assert!(
            m.allowed(
                &alice,
                &Request::non_resource("get", "/metrics").in_namespace("shop")
            )
            .is_empty()
        );
    }

    #[test]
    fn role_binding_uses_the_role_in_its_own_namespace() {
        let f = fixture();
        let m = f.model();
        let bot = Identity::service_account("ci", "bot");
        let deploy = Request::resource("patch", "apps", "deployments").in_namespace("shop");
        assert_eq!(binding_names(m.allowed(&bot, &deploy)), ["deployers"]);
        // The same-named Role in "other" (secrets) is not what the binding refers to.
        assert!(
            m.allowed(
                &bot,
                &Request::resource("get", "", "secrets")
                    .with_name("s")
                    .in_namespace("shop")
            )
            .iter()
            .all(|g| g.binding.name == "shop-secrets")
        );
        let g = m.allowed(&bot, &deploy)[0];
        assert_eq!(
            *g.role,
            RoleRefResolved {
                kind: "Role".into(),
                namespace: Some("shop".into()),
                name: "deployer".into()
            }
        );
        assert_eq!(m.role_rules("other", "deployer").map(<[_]>::len), Some(1));
    }

    #[test]
    fn dangling_refs_grant_nothing_and_are_reported() {
        let f = fixture();
        let m = f.model();
        let dangling: Vec<_> = m
            .dangling_role_refs()
            .iter()
            .map(|d| {
                (
                    d.binding.to_string(),
                    d.role.kind.as_str(),
                    d.role.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            dangling,
            [
                (
                    "ClusterRoleBinding/ghost".to_string(),
                    "ClusterRole",
                    "does-not-exist"
                ),
                ("RoleBinding/shop/dangling".to_string(), "Role", "nope")
            ]
        );
        assert!(
            m.grants()
                .iter()
                .all(|g| g.binding.name != "ghost" && g.binding.name != "dangling")
        );
        let crb_to_role = crb("weird", "deployer", json!([{"kind": "User", "name": "u"}]));
        let mut f = fixture();
        f.crbs = vec![ClusterRoleBinding {
            role_ref: RoleRef {
                kind: "Role".into(),
                ..crb_to_role.role_ref.clone()
            },
            ..crb_to_role
        }];
        let m = f.model();
        assert!(
            m.dangling_role_refs()
                .iter()
                .any(|d| d.binding.name == "weird" && d.reason.contains("cannot reference a Role"))
        );
    }

    #[test]
    fn service_account_subject_namespace_defaults_to_the_role_binding() {
        let f = fixture();
        let m = f.model();
        let app = Identity::service_account("shop", "app");
        let req = Request::resource("get", "", "secrets")
            .with_name("db")
            .in_namespace("shop");
        let grants = m.allowed(&app, &req);
        let direct: Vec<_> = grants
            .iter()
            .filter(|g| g.subject.kind == "ServiceAccount")
            .collect();
        assert_eq!(direct.len(), 1);
        assert!(direct[0].subject_namespace_defaulted);
        assert_eq!(direct[0].subject.namespace, None, "kept as written");
        assert_eq!(direct[0].subject_namespace(), Some("shop"));
        // In a ClusterRoleBinding there is nothing to default to.
        assert!(
            m.ineffective_subjects()
                .iter()
                .any(|s| s.binding.name == "nsless" && s.subject.name == "x")
        );
        assert!(m.grants().iter().all(|g| g.binding.name != "nsless"));
    }

    #[test]
    fn who_can_lists_subjects_as_written() {
        let f = fixture();
        let m = f.model();
        let req = Request::resource("get", "", "secrets")
            .with_name("db")
            .in_namespace("shop");
        let who: Vec<_> = m
            .who_can(&req)
            .into_iter()
            .map(|s| {
                (
                    s.subject.kind,
                    s.subject.namespace,
                    s.subject.name,
                    s.grants.len(),
                )
            })
            .collect();
        assert_eq!(
            who,
            [
                ("Group".into(), None, "system:authenticated".into(), 1),
                (
                    "ServiceAccount".into(),
                    Some("shop".into()),
                    "app".into(),
                    1
                ),
            ]
        );
        let list_pods = m.who_can(&pods("list").in_namespace("shop"));
        let names: Vec<_> = list_pods.iter().map(|s| s.subject.name.as_str()).collect();
        assert_eq!(names, ["auditors", "prom", "alice"]);
        assert!(
            m.who_can(
                &Request::resource("get", "", "secrets")
                    .with_name("db")
                    .in_namespace("other")
            )
            .is_empty()
        );
    }

    #[test]
    fn rules_for_filters_by_namespace_scope() {
        let f = fixture();
        let m = f.model();
        let app = Identity::service_account("shop", "app");
        // Direct (ServiceAccount) and via the implicit system:authenticated group.
        assert_eq!(m.rules_for(&app, None).len(), 2);
        assert_eq!(m.rules_for(&app, Some("shop")).len(), 2);
        assert!(m.rules_for(&app, Some("other")).is_empty());
        let prom = Identity::service_account("mon", "prom");
        assert_eq!(
            m.rules_for(&prom, Some("anything")).len(),
            2,
            "cluster-wide grants apply everywhere"
        );
        assert!(m.rules_for(&Identity::anonymous(), None).is_empty());
    }

    #[test]
    fn grants_enumerate_subjects_times_rules() {
        let f = fixture();
        let m = f.model();
        let global: Vec<_> = m
            .grants()
            .iter()
            .filter(|g| g.binding.name == "global-readers")
            .collect();
        assert_eq!(global.len(), 4, "2 subjects x 2 rules");
        assert_eq!(
            global.iter().map(|g| g.rule_index).collect::<Vec<_>>(),
            [0, 1, 0, 1]
        );
        assert_eq!(m.effective_rules("reader").map(<[_]>::len), Some(2));
        assert!(m.effective_rules("nope").is_none());
    }
}
