//! The catalogue's rules on small inventories: each rule fires where it should, with the
//! severity the scope earns, and stays quiet where the authorizer would deny.

use guardrails::cluster::NamespaceScope;
use guardrails::finding::{Finding, Severity};
use guardrails::inventory::{Inventory, ResourceKind};
use guardrails::selector::LabelQuery;

use crate::scan::{MountedAccounts, RbacRules, RbacSide, ScanContext, scan};

fn inventory(yaml: &str) -> Inventory {
    let mut inv =
        Inventory::from_text("t.yaml", yaml, ResourceKind::ALL).expect("fixture is valid");
    crate::bootstrap::add_missing_cluster_roles(&mut inv);
    inv
}

fn run(
    yaml: &str,
    scope: NamespaceScope,
    selector: Option<&str>,
    include_system: bool,
) -> Vec<Finding> {
    let inv = inventory(yaml);
    let selector = selector.map(|s| LabelQuery::parse(s).expect("selector"));
    let ctx = ScanContext {
        rbac: &inv,
        scope: &scope,
        selector: selector.as_ref(),
        include_system,
        live: false,
    };
    let rbac = |_: &MountedAccounts| RbacSide {
        model: crate::build_model(&inv),
        role_bindings: vec![&inv.role_bindings[..]],
        rules: RbacRules::start(&ctx),
    };
    let (findings, ..) = scan(&ctx, rbac, || Ok(&inv)).expect("scan");
    findings
}

fn findings(yaml: &str) -> Vec<Finding> {
    run(yaml, NamespaceScope::All, None, false)
}

fn by_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

const SA: &str =
    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team}\n---\n";

fn binding(
    kind: &str,
    ns: Option<&str>,
    name: &str,
    role_kind: &str,
    role: &str,
    subject: &str,
) -> String {
    let meta = match ns {
        Some(ns) => format!("{{name: {name}, namespace: {ns}}}"),
        None => format!("{{name: {name}}}"),
    };
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role}}}\nsubjects: [{subject}]\n---\n"
    )
}

fn cluster_role(name: &str, rules: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {name}}}\nrules: {rules}\n---\n"
    )
}

const APP: &str = "{kind: ServiceAccount, name: app, namespace: team}";

/// RoleBinding `team/a`: `reader` to ServiceAccount `team/app`.
fn app_reads_secrets() -> String {
    binding(
        "RoleBinding",
        Some("team"),
        "a",
        "ClusterRole",
        "reader",
        APP,
    )
}

/// The ClusterRole `reader`: get Secrets.
fn secrets_reader() -> String {
    cluster_role(
        "reader",
        "[{apiGroups: [''], resources: [secrets], verbs: [get]}]",
    )
}

#[test]
fn cluster_admin_is_critical_cluster_wide_and_high_in_a_namespace() {
    let yaml = format!(
        "{SA}{}{}",
        binding(
            "ClusterRoleBinding",
            None,
            "crb",
            "ClusterRole",
            "cluster-admin",
            APP
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "rb",
            "ClusterRole",
            "cluster-admin",
            APP
        )
    );
    let f = findings(&yaml);
    let admin = by_rule(&f, "cluster-admin-binding");
    assert_eq!(admin.len(), 2);
    let crb = admin
        .iter()
        .find(|f| f.object.kind == "ClusterRoleBinding")
        .expect("crb finding");
    assert_eq!(crb.severity, Severity::Critical);
    assert!(
        crb.message.contains("ServiceAccount team/app"),
        "{}",
        crb.message
    );
    let rb = admin
        .iter()
        .find(|f| f.object.kind == "RoleBinding")
        .expect("rb finding");
    assert_eq!(rb.severity, Severity::High);
    // Admin equivalence stands for every other capability of the same grant.
    assert!(by_rule(&f, "secrets-read").is_empty());
}

#[test]
fn full_wildcard_role_is_admin_equivalent() {
    let yaml = format!(
        "{SA}{}{}",
        cluster_role(
            "everything",
            "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]"
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "crb",
            "ClusterRole",
            "everything",
            APP
        )
    );
    let f = findings(&yaml);
    assert_eq!(by_rule(&f, "cluster-admin-binding").len(), 1);
    let wild = by_rule(&f, "wildcard-rule");
    assert_eq!(wild.len(), 1);
    assert_eq!(wild[0].severity, Severity::High);
}

#[test]
fn secrets_read_severity_follows_scope_and_resource_names() {
    let reader = cluster_role(
        "reader",
        "[{apiGroups: [''], resources: [secrets], verbs: [list]}]",
    );
    let named = cluster_role(
        "named",
        "[{apiGroups: [''], resources: [secrets], resourceNames: [tls], verbs: [get]}]",
    );
    let yaml = format!(
        "{SA}{reader}{named}{}{}{}{}",
        binding(
            "ClusterRoleBinding",
            None,
            "cluster",
            "ClusterRole",
            "reader",
            APP
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "ns",
            "ClusterRole",
            "reader",
            APP
        ),
        binding(
            "RoleBinding",
            Some("kube-system"),
            "sys",
            "ClusterRole",
            "reader",
            APP
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "only-named",
            "ClusterRole",
            "named",
            APP
        ),
    );
    let f = findings(&yaml);
    let sev = |name: &str| {
        by_rule(&f, "secrets-read")
            .iter()
            .find(|f| f.object.name == name)
            .map(|f| f.severity)
    };
    assert_eq!(sev("cluster"), Some(Severity::Critical));
    assert_eq!(sev("ns"), Some(Severity::High));
    assert_eq!(
        sev("sys"),
        Some(Severity::Critical),
        "kube-system is worth the cluster"
    );
    assert_eq!(sev("only-named"), Some(Severity::Medium));
    let named = by_rule(&f, "secrets-read")
        .into_iter()
        .find(|f| f.object.name == "only-named")
        .expect("named");
    assert!(
        named.message.contains("only named objects"),
        "{}",
        named.message
    );
}

#[test]
fn api_groups_are_exact() {
    let yaml = format!(
        "{SA}{}{}{}{}",
        cluster_role(
            "apps-writer",
            "[{apiGroups: [apps], resources: [deployments], verbs: [patch]}]"
        ),
        cluster_role(
            "wrong-group",
            "[{apiGroups: [''], resources: [deployments], verbs: [create]}]"
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "a",
            "ClusterRole",
            "apps-writer",
            APP
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "b",
            "ClusterRole",
            "wrong-group",
            APP
        ),
    );
    let f = findings(&yaml);
    let wc = by_rule(&f, "workload-create");
    assert_eq!(wc.len(), 1);
    assert_eq!(wc[0].object.name, "a");
}

#[test]
fn escalation_rules_fire() {
    let yaml = format!(
        "{SA}{}{}",
        cluster_role(
            "escalator",
            "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, bind]}, {apiGroups: [''], resources: [users, groups], verbs: [impersonate]}, {apiGroups: [''], resources: [nodes/proxy], verbs: [get]}, {apiGroups: [''], resources: [serviceaccounts/token], verbs: [create]}, {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}, {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}, {apiGroups: [''], resources: ['*/exec'], verbs: [create]}]"
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "esc",
            "ClusterRole",
            "escalator",
            APP
        ),
    );
    let f = findings(&yaml);
    for rule in [
        "rbac-escalate",
        "rbac-bind",
        "impersonate",
        "nodes-proxy",
        "token-create",
        "csr-approve",
        "webhook-config-write",
        "pod-exec",
    ] {
        assert_eq!(by_rule(&f, rule).len(), 1, "{rule}: {f:#?}");
    }
}

#[test]
fn implicit_groups_are_flagged() {
    let reader = secrets_reader();
    let yaml = format!(
        "{reader}{}{}{}{}",
        binding(
            "ClusterRoleBinding",
            None,
            "anon",
            "ClusterRole",
            "reader",
            "{kind: User, name: 'system:anonymous', apiGroup: rbac.authorization.k8s.io}"
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "authn",
            "ClusterRole",
            "reader",
            "{kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}"
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "all-sa",
            "ClusterRole",
            "reader",
            "{kind: Group, name: 'system:serviceaccounts', apiGroup: rbac.authorization.k8s.io}"
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "team-sa",
            "ClusterRole",
            "view",
            "{kind: Group, name: 'system:serviceaccounts:team', apiGroup: rbac.authorization.k8s.io}"
        ),
    );
    let f = findings(&yaml);
    assert_eq!(
        by_rule(&f, "anonymous-binding")[0].severity,
        Severity::Critical
    );
    assert_eq!(
        by_rule(&f, "authenticated-group-binding")[0].object.name,
        "authn"
    );
    let sa_groups = by_rule(&f, "serviceaccounts-group-binding");
    assert_eq!(sa_groups.len(), 2);
    let team = sa_groups
        .iter()
        .find(|f| f.object.name == "team-sa")
        .expect("team");
    assert_eq!(
        team.severity,
        Severity::Medium,
        "view in one namespace: no risky capability"
    );
}

#[test]
fn bootstrap_bindings_are_hidden_unless_asked() {
    let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: cluster-admin, labels: {kubernetes.io/bootstrapping: rbac-defaults}}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: 'system:masters', apiGroup: rbac.authorization.k8s.io}]\n";
    assert!(by_rule(&findings(yaml), "cluster-admin-binding").is_empty());
    let shown = run(yaml, NamespaceScope::All, None, true);
    assert_eq!(by_rule(&shown, "cluster-admin-binding").len(), 1);
}

#[test]
fn aggregation_is_computed_offline() {
    let yaml = format!(
        "{SA}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: agg}}\naggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{x: 'true'}}}}]}}\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: part, labels: {{x: 'true'}}}}\nrules: [{{apiGroups: [''], resources: [secrets], verbs: [watch]}}]\n---\n{}",
        binding("ClusterRoleBinding", None, "crb", "ClusterRole", "agg", APP)
    );
    let f = findings(&yaml);
    let read = by_rule(&f, "secrets-read");
    assert_eq!(read.len(), 1);
    assert!(
        read[0].message.contains("ClusterRole agg ← part"),
        "{}",
        read[0].message
    );
    assert_eq!(
        read[0].evidence_value()["rules"][0]["aggregatedFrom"][0],
        "part"
    );
}

#[test]
fn dangling_references_are_latent_grants() {
    let yaml = format!(
        "{SA}{}{}{}",
        binding(
            "RoleBinding",
            Some("team"),
            "to-nothing",
            "Role",
            "missing",
            APP
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "to-ghost",
            "ClusterRole",
            "view",
            "{kind: ServiceAccount, name: ghost, namespace: team}"
        ),
        binding(
            "RoleBinding",
            Some("team"),
            "to-default",
            "ClusterRole",
            "view",
            "{kind: ServiceAccount, name: default, namespace: team}"
        ),
    );
    let f = findings(&yaml);
    let dangling = by_rule(&f, "dangling-role-ref");
    assert_eq!(dangling.len(), 1);
    assert!(
        dangling[0].message.contains("Role team/missing"),
        "{}",
        dangling[0].message
    );
    let ghosts = by_rule(&f, "dangling-subject");
    assert_eq!(ghosts.len(), 1, "default always exists: {ghosts:#?}");
    assert_eq!(ghosts[0].object.name, "to-ghost");
    assert_eq!(by_rule(&f, "default-sa-bound").len(), 1);
}

#[test]
fn automount_is_resolved_per_pod() {
    let reader = secrets_reader();
    let pods = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: quiet, namespace: team}\nautomountServiceAccountToken: false\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: off, namespace: team}\nspec: {serviceAccountName: app, automountServiceAccountToken: false, containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: on, namespace: team}\nspec: {serviceAccountName: app, containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: sa-off, namespace: team}\nspec: {serviceAccountName: quiet, containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: pod-overrides, namespace: team}\nspec: {serviceAccountName: quiet, automountServiceAccountToken: true, containers: [{name: c, image: x}]}\n---\n";
    let yaml = format!(
        "{SA}{reader}{pods}{}{}",
        app_reads_secrets(),
        binding(
            "RoleBinding",
            Some("team"),
            "b",
            "ClusterRole",
            "reader",
            "{kind: ServiceAccount, name: quiet, namespace: team}"
        ),
    );
    let f = findings(&yaml);
    let mut names: Vec<&str> = by_rule(&f, "automount-token-with-rights")
        .iter()
        .map(|f| f.object.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["on", "pod-overrides"]);
}

/// Live, the rights of the ServiceAccounts whose tokens are mounted are worked out while
/// RoleBindings still arrive. Grants on later pages, to the ServiceAccount itself or to its
/// namespace's group, must show in its finding as if every binding had been there at once.
#[test]
fn token_rights_worked_out_ahead_follow_the_later_pages() {
    let reader = secrets_reader();
    let exec = cluster_role(
        "exec",
        "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]",
    );
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: on, namespace: team}\nspec: {serviceAccountName: app, containers: [{name: c, image: x}]}\n---\n";
    let yaml = format!(
        "{SA}{reader}{exec}{pod}{}{}",
        app_reads_secrets(),
        binding(
            "RoleBinding",
            Some("team"),
            "b",
            "ClusterRole",
            "exec",
            "{kind: Group, name: 'system:serviceaccounts:team'}"
        ),
    );
    let whole = findings(&yaml);
    let expected = by_rule(&whole, "automount-token-with-rights");
    assert_eq!(expected.len(), 1, "{whole:#?}");

    // As a live scan whose workloads are in before any RoleBinding: one binding per page,
    // each kind of grant last once.
    let mut first = inventory(&yaml);
    let mut bindings = std::mem::take(&mut first.role_bindings);
    let scope = NamespaceScope::All;
    let ctx = ScanContext {
        rbac: &first,
        scope: &scope,
        selector: None,
        include_system: false,
        live: true,
    };
    let evidence = |f: &[&Finding]| {
        f.iter()
            .map(|f| (f.message.clone(), f.evidence.get().to_owned()))
            .collect::<Vec<_>>()
    };
    for _ in 0..2 {
        bindings.reverse();
        let rbac = |mounted: &MountedAccounts| {
            let mut side = RbacSide {
                model: crate::build_model(&first),
                role_bindings: vec![&first.role_bindings[..]],
                rules: RbacRules::start(&ctx),
            };
            while mounted.get().is_none() {
                std::thread::yield_now();
            }
            side.catch_up(&ctx, mounted);
            for page in bindings.chunks(1) {
                side.model.add_role_bindings(page);
                side.role_bindings.push(page);
                side.catch_up(&ctx, mounted);
            }
            side
        };
        let (live, ..) = scan(&ctx, rbac, || Ok(&first)).expect("scan");
        let live = by_rule(&live, "automount-token-with-rights");
        let last = &bindings[bindings.len() - 1].metadata.name;
        assert_eq!(evidence(&live), evidence(&expected), "{last:?} last");
    }
    assert!(
        expected[0].message.contains("read Secrets"),
        "{}",
        expected[0].message
    );
    assert!(
        expected[0].message.contains("exec"),
        "{}",
        expected[0].message
    );
}

#[test]
fn namespace_scope_and_selector_narrow_the_report() {
    let reader = secrets_reader();
    let labelled = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: labelled, namespace: other, labels: {team: blue}}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects: [{kind: ServiceAccount, name: app, namespace: team}]\n---\n";
    let yaml = format!(
        "{SA}{reader}{labelled}{}{}",
        binding(
            "RoleBinding",
            Some("team"),
            "in-team",
            "ClusterRole",
            "reader",
            APP
        ),
        binding(
            "ClusterRoleBinding",
            None,
            "cluster",
            "ClusterRole",
            "reader",
            APP
        ),
    );
    let only_team = run(&yaml, NamespaceScope::One("team".into()), None, false);
    let mut names: Vec<&str> = by_rule(&only_team, "secrets-read")
        .iter()
        .map(|f| f.object.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["cluster", "in-team"],
        "cluster-scoped bindings apply to every namespace"
    );
    let blue = run(&yaml, NamespaceScope::All, Some("team=blue"), false);
    let names: Vec<&str> = by_rule(&blue, "secrets-read")
        .iter()
        .map(|f| f.object.name.as_str())
        .collect();
    assert_eq!(names, ["labelled"]);
}

#[test]
fn ineffective_patterns_are_linted() {
    let yaml = cluster_role(
        "typo",
        "[{apiGroups: [''], resources: ['pods/*'], verbs: [get]}]",
    );
    let f = findings(&yaml);
    assert_eq!(by_rule(&f, "ineffective-resource-pattern").len(), 1);
}
