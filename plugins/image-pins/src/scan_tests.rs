use super::*;
use guardrails::inventory::ResourceKind;

const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {tier: front}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      imagePullSecrets: [{name: pod-secret}]
      initContainers: [{name: init, image: busybox}]
      containers:
      - {name: web, image: "nginx:latest", imagePullPolicy: IfNotPresent}
      - {name: sidecar, image: "ghcr.io/acme/proxy:v1"}
      - name: pinned
        image: ghcr.io/acme/app:v2@sha256:f3f8d7c5d1177f0f0215386b14d122c5c464986173faa8032a9cd7bcf7110aac
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
imagePullSecrets: [{name: sa-secret}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: ops}
spec:
  containers: [{name: main, image: "quay.io/acme/tool:1"}]
  ephemeralContainers: [{name: dbg, image: "Busybox"}]
"#;

fn uses() -> (Inventory, NamespaceScope) {
    let inv = Inventory::from_text("m.yaml", MANIFESTS, ResourceKind::ALL).expect("inventory");
    (inv, NamespaceScope::All)
}

fn rules_of(findings: &[Finding]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f.rule.to_string(),
                f.evidence_value()["container"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_container_list_is_examined_with_pull_secrets() {
    let (inv, scope) = uses();
    let uses = image_uses(&inv, &scope, None).expect("uses");
    let names: Vec<(&str, ContainerList)> = uses
        .iter()
        .map(|u| (u.container.as_str(), u.list))
        .collect();
    assert_eq!(
        names,
        [
            ("init", ContainerList::InitContainers),
            ("web", ContainerList::Containers),
            ("sidecar", ContainerList::Containers),
            ("pinned", ContainerList::Containers),
            ("main", ContainerList::Containers),
            ("dbg", ContainerList::EphemeralContainers),
        ]
    );
    assert_eq!(uses[0].pull_secrets, ["pod-secret", "sa-secret"]);
}

#[test]
fn findings_by_rule() {
    let (inv, scope) = uses();
    let found = rules_of(&scan(
        &image_uses(&inv, &scope, None).expect("uses"),
        &RegistryPolicy::default(),
    ));
    let want: Vec<(String, String)> = [
        ("image-invalid-reference", "dbg"),
        ("image-latest-tag", "web"),
        ("image-no-tag", "init"),
        ("image-not-pinned", "main"),
        ("image-not-pinned", "sidecar"),
        ("image-pull-policy-mismatch", "web"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, want);
}

#[test]
fn allow_list_by_registry_and_repository_prefix() {
    let (inv, scope) = uses();
    let policy = RegistryPolicy::new(
        &[
            "ghcr.io/acme".to_string(),
            "index.docker.io/library".to_string(),
        ],
        None,
    )
    .expect("policy");
    let found = rules_of(&scan(
        &image_uses(&inv, &scope, None).expect("uses"),
        &policy,
    ));
    let not_allowed: Vec<&str> = found
        .iter()
        .filter(|(r, _)| r == "image-registry-not-allowed")
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(
        not_allowed,
        ["main"],
        "quay.io is not allowed; docker.io/library is"
    );
    // A prefix is whole path components: ghcr.io/acme does not allow ghcr.io/acmecorp.
    let image = ImageRef::parse("ghcr.io/acmecorp/x:1").expect("ref");
    assert!(!policy.allows(&image));
    assert!(RegistryPolicy::new(&["a@b".into()], None).is_err());
}

#[test]
fn allow_list_file_with_comments() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("allowed.txt");
    std::fs::write(&file, "# registries\nquay.io  # vetted\n\n").expect("write");
    let policy = RegistryPolicy::new(&[], Some(&file)).expect("policy");
    assert!(policy.allows(&ImageRef::parse("quay.io/acme/tool:1").expect("ref")));
    assert!(!policy.allows(&ImageRef::parse("nginx").expect("ref")));
    let missing = RegistryPolicy::new(&[], Some(&dir.path().join("nope"))).expect_err("missing");
    assert_eq!(missing.exit_code(), guardrails::exit_code::INPUT);
}

#[test]
fn scope_and_selector_filter_workloads() {
    let (inv, _) = uses();
    let shop = NamespaceScope::One("shop".into());
    assert!(
        image_uses(&inv, &shop, None)
            .expect("uses")
            .iter()
            .all(|u| u.namespace() == "shop")
    );
    let sel = LabelQuery::parse("tier=front").expect("selector");
    let uses = image_uses(&inv, &NamespaceScope::All, Some(&sel)).expect("uses");
    assert!(uses.iter().all(|u| u.workload.name == "web"));
}

#[test]
fn debug_containers_added_to_controller_pods_count_for_the_controller() {
    let text = format!(
        "{MANIFESTS}---\n{}",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web-abc
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u, controller: true}]
spec:
  containers: [{name: web, image: "nginx:latest"}]
  ephemeralContainers: [{name: debugger, image: "busybox:1.36"}]
"#
    );
    let inv = Inventory::from_text("m.yaml", &text, ResourceKind::ALL).expect("inventory");
    let uses = image_uses(&inv, &NamespaceScope::All, None).expect("uses");
    let debugger = uses
        .iter()
        .find(|u| u.container == "debugger")
        .expect("the debug container is examined");
    assert_eq!(debugger.workload.name, "web", "reported on the controller");
    assert_eq!(debugger.list, ContainerList::EphemeralContainers);
}
