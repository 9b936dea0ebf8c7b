//! `kubectl harden` end to end: the built plugin, found by the real kubectl on PATH, run offline
//! on the bundled examples and live against the recording-faithful test API server.

use std::collections::BTreeSet;

use guardrails_e2e::e2e::{
    assert_clean_error, examples, json_of, recorded_cluster_file, run, stderr, stdout,
};
use guardrails_e2e::{ApiServerConfig, Inventory, TestApiServer, harness};
use serde_json::Value;

/// One line, no panic, the contract's exit code.
fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings")
}

/// (rule, Kind/namespace/name) of every finding.
fn keys(report: &Value) -> BTreeSet<(String, String)> {
    findings(report)
        .iter()
        .map(|f| {
            let o = &f["object"];
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["namespace"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

fn finding<'r>(report: &'r Value, rule: &str, object: &str) -> Option<&'r Value> {
    findings(report).iter().find(|f| {
        let o = &f["object"];
        f["rule"] == rule
            && format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["namespace"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            ) == object
    })
}

#[test]
fn kubectl_discovers_the_plugin_and_its_help() {
    let list = run(&["plugin", "list"]);
    assert!(
        stdout(&list).contains("kubectl-harden"),
        "{}",
        stdout(&list)
    );
    let help = run(&["harden", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    assert!(text.contains("Usage: kubectl harden"), "{text}");
    assert!(
        text.contains("--pss-version") && text.contains("Exit codes:"),
        "{text}"
    );
    let version = run(&["harden", "--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
    let completion = stdout(&run(&["__complete", "harden", "--level", ""]));
    assert!(completion.lines().any(|l| l == "baseline"), "{completion}");
}

#[test]
fn offline_examples_report_the_standard_exactly_and_hardening_separately() {
    let out = run(&["harden", "-f", &examples(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(report["plugin"], "harden");
    let privileged = finding(
        &report,
        "pss-privileged",
        "DaemonSet/monitoring/node-exporter",
    )
    .expect("privileged node-exporter");
    assert_eq!(
        privileged["message"],
        "privileged (container \"node-exporter\" must not set securityContext.privileged=true)"
    );
    assert_eq!(privileged["evidence"]["policy"], "restricted:latest");
    assert_eq!(privileged["evidence"]["containers"][0], "node-exporter");
    assert!(
        finding(
            &report,
            "pss-host-namespaces",
            "DaemonSet/monitoring/node-exporter"
        )
        .is_some()
    );
    let checkout = finding(&report, "pss-run-as-non-root", "Deployment/shop/checkout")
        .expect("checkout runAsNonRoot");
    assert_eq!(
        checkout["message"],
        "runAsNonRoot != true (pod or container \"checkout\" must set securityContext.runAsNonRoot=true)"
    );
    // The hardened payments-api passes the whole restricted standard.
    let all = keys(&report);
    assert!(
        !all.iter()
            .any(|(r, o)| r.starts_with("pss-") && o.ends_with("/payments-api")),
        "{all:?}"
    );
    assert!(all.iter().any(|(r, _)| r == "hardening-read-only-root-fs"));
    // Findings land on controllers, never on the pods they create.
    assert!(
        !all.iter()
            .any(|(_, o)| o.starts_with("Pod/") || o.starts_with("ReplicaSet/"))
    );

    let pss_only = json_of(&run(&[
        "harden",
        "-f",
        &examples(),
        "--rules",
        "pss",
        "-o",
        "json",
    ]));
    assert!(keys_of_family(&pss_only, "hardening-").is_empty());
    assert_eq!(
        keys_of_family(&pss_only, "pss-"),
        keys_of_family(&report, "pss-")
    );

    let baseline = json_of(&run(&[
        "harden",
        "-f",
        &examples(),
        "--level",
        "baseline",
        "--rules",
        "pss",
        "-o",
        "json",
    ]));
    let objects: BTreeSet<String> = keys(&baseline).into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        objects,
        BTreeSet::from(["DaemonSet/monitoring/node-exporter".to_string()]),
        "only the privileged DaemonSet breaks baseline"
    );
    assert_eq!(
        finding(
            &baseline,
            "pss-privileged",
            "DaemonSet/monitoring/node-exporter"
        )
        .map(|f| f["evidence"]["policy"].clone()),
        Some(Value::from("baseline:latest"))
    );
}

fn keys_of_family(report: &Value, prefix: &str) -> BTreeSet<(String, String)> {
    keys(report)
        .into_iter()
        .filter(|(r, _)| r.starts_with(prefix))
        .collect()
}

#[test]
fn table_output_has_the_two_families_in_separate_sections() {
    let out = run(&["harden", "-f", &examples(), "-n", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let pss = text
        .find("Pod Security Standards: restricted")
        .expect("pss heading");
    let hardening = text
        .find("Hardening beyond the standard")
        .expect("hardening heading");
    assert!(pss < hardening, "{text}");
    let (first, second) = text.split_at(hardening);
    assert!(first.contains("pss-run-as-non-root") && !first.contains("hardening-"));
    assert!(second.contains("hardening-read-only-root-fs") && !second.contains("pss-"));
    assert!(!text.contains('\u{1b}'), "no colour without a terminal");
    insta::assert_snapshot!("harden_examples_shop_table", text);
}

#[test]
fn live_and_offline_give_identical_findings() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let live = server
        .kubectl(&["harden", "-A", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(live.status.code(), Some(1), "{}", stderr(&live));
    let live = json_of(&live);

    let dir = tempfile::tempdir().expect("tmp");
    let file = recorded_cluster_file(dir.path());
    let offline = json_of(&run(&["harden", "-f", &file, "-A", "-o", "json"]));
    assert!(!findings(&live).is_empty());
    assert_eq!(
        live["findings"], offline["findings"],
        "same inventory, same findings (ids included)"
    );
    assert_eq!(live["source"]["context"], "test");

    // The live cluster was created from examples/cluster: its controllers get the same
    // Pod Security findings as the manifests (live adds only what was created by hand later;
    // kube-system's CoreDNS was added to the examples after the recording).
    let examples = json_of(&run(&["harden", "-f", &examples(), "-A", "-o", "json"]));
    let from_files: BTreeSet<_> = keys_of_family(&examples, "pss-")
        .into_iter()
        .filter(|(_, object)| !object.contains("/kube-system/"))
        .collect();
    let from_cluster = keys_of_family(&live, "pss-");
    let missing: Vec<_> = from_files.difference(&from_cluster).collect();
    assert!(missing.is_empty(), "in files, not live: {missing:?}");
}

#[test]
fn live_scope_follows_the_context_namespace_and_flags() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = server.write_kubeconfig(dir.path(), Some("payments"));
    let out = harness::kubectl(&[
        "harden",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--rules",
        "pss",
        "-o",
        "json",
    ])
    .output()
    .expect("run");
    let report = json_of(&out);
    let namespaces: BTreeSet<String> = findings(&report)
        .iter()
        .map(|f| f["object"]["namespace"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["payments".to_string()]));
    assert!(finding(&report, "pss-run-as-non-root", "StatefulSet/payments/mysql").is_some());
}

const VERSIONED: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: pinned
  labels: {pod-security.kubernetes.io/enforce-version: v1.33}
---
apiVersion: v1
kind: Namespace
metadata:
  name: broken
  labels: {pod-security.kubernetes.io/enforce-version: "1.33"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: pinned}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1
        livenessProbe: {httpGet: {host: 169.254.169.254, port: 80}}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: broken}
spec:
  containers:
  - name: app
    image: registry.example/app:1
    livenessProbe: {httpGet: {host: 169.254.169.254, port: 80}}
"#;

#[test]
fn the_namespace_enforce_version_label_picks_the_policy_version() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("versioned.yaml");
    std::fs::write(&file, VERSIONED).expect("write");
    let f = file.display().to_string();
    let by_label = run(&["harden", "-f", &f, "--level", "baseline", "-o", "json"]);
    assert!(
        stderr(&by_label).contains("namespace broken") && stderr(&by_label).contains("latest"),
        "an invalid label is reported: {}",
        stderr(&by_label)
    );
    let report = json_of(&by_label);
    // v1.33 predates the host-probe check; the unparsable label evaluates as latest.
    assert!(
        finding(
            &report,
            "pss-host-probes-and-host-lifecycle",
            "Deployment/pinned/probe"
        )
        .is_none()
    );
    let pod = finding(
        &report,
        "pss-host-probes-and-host-lifecycle",
        "Pod/broken/probe",
    )
    .expect("latest has the check");
    assert_eq!(pod["evidence"]["policy"], "baseline:latest");

    let pinned = json_of(&run(&[
        "harden",
        "-f",
        &f,
        "--level",
        "baseline",
        "--pss-version",
        "v1.34",
        "-o",
        "json",
    ]));
    let deployment = finding(
        &pinned,
        "pss-host-probes-and-host-lifecycle",
        "Deployment/pinned/probe",
    )
    .expect("v1.34 has the check");
    assert_eq!(
        deployment["message"],
        "probe or lifecycle host (container \"app\" uses probe or lifecycle host \"169.254.169.254\")"
    );
    assert_eq!(deployment["evidence"]["policy"], "baseline:v1.34");
}

#[test]
fn disabled_rules_and_the_gate_decide_the_exit_code() {
    let ex = examples();
    let hardening_only = run(&[
        "harden",
        "-f",
        &ex,
        "--rules",
        "hardening",
        "--disable",
        "hardening-no-resources,hardening-default-service-account",
        "-o",
        "json",
    ]);
    // Hardening rules are medium at most: the default --fail-on high passes.
    assert_eq!(
        hardening_only.status.code(),
        Some(0),
        "{}",
        stderr(&hardening_only)
    );
    let report = json_of(&hardening_only);
    let rules: BTreeSet<String> = keys(&report).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            "hardening-automount-token".to_string(),
            "hardening-read-only-root-fs".to_string(),
            "hardening-run-as-uid-zero-or-unset".to_string(),
        ])
    );
    let medium = run(&[
        "harden",
        "-f",
        &ex,
        "--rules",
        "hardening",
        "--fail-on",
        "medium",
    ]);
    assert_eq!(medium.status.code(), Some(1));
    // payments-api is fully hardened for the standard: nothing at restricted.
    let clean = run(&[
        "harden",
        "-f",
        &ex,
        "-n",
        "payments",
        "-l",
        "app=payments-api",
        "--rules",
        "pss",
    ]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("No findings."));
}

#[test]
fn sarif_and_rule_listing() {
    let sarif = json_of(&run(&["harden", "-f", &examples(), "-o", "sarif"]));
    assert_eq!(sarif["version"], "2.1.0");
    let rules = run(&["harden", "--list-rules", "-o", "json"]);
    assert_eq!(rules.status.code(), Some(0));
    let rules = json_of(&rules);
    let ids: Vec<&str> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "pss-privileged",
        "pss-host-namespaces",
        "pss-capabilities-restricted",
        "pss-run-as-non-root",
        "pss-seccomp-profile-restricted",
        "pss-allow-privilege-escalation",
        "pss-host-probes-and-host-lifecycle",
        "hardening-read-only-root-fs",
        "hardening-no-resources",
        "hardening-automount-token",
        "hardening-run-as-uid-zero-or-unset",
        "hardening-default-service-account",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[test]
fn bad_input_gets_one_line_and_the_contract_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    for (file, text, error) in [
        (
            "bad.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n",
            "bad.yaml:",
        ),
        (
            "invalid.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: x}\nspec: {template: {spec: {containers: 3}}}\n",
            "invalid Deployment \"web\"",
        ),
        // From JSON a controller's pod spec is decoded when the workload is checked: the error
        // is the same, with the file and line of the object.
        (
            "invalid.json",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}\n{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"x\"},\"spec\":{\"selector\":{},\"template\":{\"spec\":{\"containers\":3}}}}\n",
            "invalid.json:2: invalid Deployment \"web\": invalid type: integer `3`, expected a sequence in spec.template.spec",
        ),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("write");
        assert_clean_error(
            &run(&["harden", "-f", &path.display().to_string()]),
            3,
            error,
        );
    }
    assert_clean_error(
        &run(&["harden", "-f", "/does/not/exist.yaml"]),
        3,
        "no such file",
    );
    assert_clean_error(
        &run(&["harden", "-f", &examples(), "--disable", "pss-nonsense"]),
        2,
        "unknown rule \"pss-nonsense\"",
    );
    assert_eq!(
        run(&["harden", "-f", &examples(), "--pss-version", "1.29"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["harden", "-f", &examples(), "--level", "privileged"])
            .status
            .code(),
        Some(2)
    );
    assert_clean_error(
        &run(&["harden", "--kubeconfig", "/nope/config"]),
        4,
        "/nope/config",
    );
}

#[test]
fn debug_containers_added_to_controller_pods_are_checked_on_the_controller() {
    // `kubectl debug` adds an ephemeral container to one pod of shop/frontend.
    let mut objects = Inventory::from_recordings().objects();
    let mut debugged = objects
        .iter()
        .find(|o| {
            o["kind"] == "Pod"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("frontend-"))
        })
        .expect("a frontend pod")
        .clone();
    debugged["spec"]["ephemeralContainers"] = serde_json::json!([{
        "name": "debugger", "image": "busybox:1.36",
        "securityContext": {"privileged": true}
    }]);
    let name = debugged["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    objects.retain(|o| !(o["kind"] == "Pod" && o["metadata"]["name"] == name.as_str()));
    objects.push(debugged);
    let inventory = Inventory::from_objects(objects);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cluster.json");
    std::fs::write(&file, inventory.to_list_document().to_string()).expect("write");
    let server = TestApiServer::start(ApiServerConfig {
        inventory,
        ..ApiServerConfig::default()
    });
    let live = json_of(
        &server
            .kubectl(&["harden", "-n", "shop", "--level", "baseline", "-o", "json"])
            .output()
            .expect("run"),
    );
    let offline = json_of(&run(&[
        "harden",
        "-f",
        &file.display().to_string(),
        "-n",
        "shop",
        "--level",
        "baseline",
        "-o",
        "json",
    ]));
    for report in [&live, &offline] {
        let f = finding(report, "pss-privileged", "Deployment/shop/frontend")
            .expect("the debug container's privilege lands on the Deployment");
        assert_eq!(
            f["message"],
            "privileged (container \"debugger\" must not set securityContext.privileged=true)"
        );
        assert!(
            !keys(report).iter().any(|(_, o)| o.starts_with("Pod/")),
            "never on the pod"
        );
    }
    assert_eq!(live["findings"], offline["findings"]);
}

#[test]
fn live_latest_is_the_api_servers_newest_policy_version() {
    // The test API server answers /version as kube-apiserver 1.24, whose PodSecurity admission
    // has no host-probe check (policy v1.34): live, `latest` is v1.24; offline it is the newest.
    let mut objects = Inventory::from_recordings().objects();
    objects.push(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probe", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1",
            "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]}
    }));
    let inventory = Inventory::from_objects(objects);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cluster.json");
    std::fs::write(&file, inventory.to_list_document().to_string()).expect("write");
    let server = TestApiServer::start(ApiServerConfig {
        inventory,
        ..ApiServerConfig::default()
    });
    let args = ["-n", "shop", "--rules", "pss", "-o", "json"];
    let live = json_of(
        &server
            .kubectl(&[&["harden"][..], &args[..]].concat())
            .output()
            .expect("run"),
    );
    let f = file.display().to_string();
    let offline = json_of(&run(&[&["harden", "-f", &f][..], &args[..]].concat()));
    let rule = "pss-host-probes-and-host-lifecycle";
    assert!(finding(&live, rule, "Pod/shop/probe").is_none(), "{live}");
    assert!(
        finding(&live, "pss-run-as-non-root", "Pod/shop/probe").is_some(),
        "the pod is checked live"
    );
    let found = finding(&offline, rule, "Pod/shop/probe").expect("offline latest has it");
    assert_eq!(found["evidence"]["policy"], "restricted:latest");
    // Asking for v1.34 against a 1.24 server is capped the same way, as the server would.
    let pinned = json_of(
        &server
            .kubectl(&[&["harden", "--pss-version", "v1.34"][..], &args[..]].concat())
            .output()
            .expect("run"),
    );
    assert!(finding(&pinned, rule, "Pod/shop/probe").is_none());
}
