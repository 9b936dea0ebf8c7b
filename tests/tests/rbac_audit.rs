//! `kubectl rbac-audit` end to end: the built plugin, found by the real kubectl on PATH, run
//! offline on the bundled examples and live against the recording-faithful test API server.

use guardrails_e2e::e2e::{
    assert_clean_error, examples, has, json_of, rbac_findings_either_way, recorded_cluster_file,
    repo, rule_and_name, run, stderr, stdout,
};
use guardrails_e2e::{
    ApiServerConfig, Forbid, Inventory, TestApiServer, harness, write_kubeconfig,
};
use serde_json::json;

#[test]
fn kubectl_discovers_the_plugin_and_its_help() {
    let list = run(&["plugin", "list"]);
    assert!(
        stdout(&list).contains("kubectl-rbac_audit"),
        "{}{}",
        stdout(&list),
        stderr(&list)
    );
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));

    let help = run(&["rbac-audit", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    assert!(text.contains("Usage: kubectl rbac-audit"), "{text}");
    assert!(
        text.contains("Exit codes:") && text.contains("who-can"),
        "{text}"
    );

    let version = run(&["rbac-audit", "--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn offline_examples_give_the_expected_findings_and_exit_codes() {
    let ex = examples();
    let out = run(&["rbac-audit", "-f", &ex, "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "high findings fail by default: {}",
        stderr(&out)
    );
    let report = json_of(&out);
    assert_eq!(report["apiVersion"], "guardrails/v1");
    assert_eq!(report["kind"], "Report");
    assert_eq!(report["plugin"], "rbac-audit");
    assert!(has(
        &report,
        "cluster-admin-binding",
        "ci-deployer-cluster-admin"
    ));
    assert!(has(&report, "secrets-read", "ingress-nginx"));
    assert!(has(
        &report,
        "serviceaccounts-group-binding",
        "shop-serviceaccounts-developer"
    ));
    assert!(
        has(&report, "automount-token-with-rights", "checkout"),
        "pod says true over an SA that says false"
    );
    assert!(
        !has(&report, "automount-token-with-rights", "frontend"),
        "frontend's SA disables automount"
    );
    assert!(has(&report, "wildcard-rule", "shop-developer"));
    let admin = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "cluster-admin-binding")
        .expect("admin");
    assert_eq!(admin["severity"], "critical");
    assert_eq!(
        admin["evidence"]["subject"],
        json!({"kind": "ServiceAccount", "name": "ci-deployer", "namespace": "kube-system"})
    );
    assert_eq!(admin["id"].as_str().map(str::len), Some(16));

    assert_eq!(
        run(&["rbac-audit", "-f", &ex, "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["rbac-audit", "-f", &ex, "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    // Namespace scope keeps cluster-wide grants and the namespace's own objects only.
    let payments = json_of(&run(&[
        "rbac-audit",
        "-f",
        &ex,
        "-n",
        "payments",
        "-o",
        "json",
    ]));
    assert!(
        rule_and_name(&payments)
            .iter()
            .all(|(r, n)| r != "secrets-read" || n == "ingress-nginx")
    );
    assert!(!has(&payments, "wildcard-rule", "shop-developer"));
}

#[test]
fn table_output_snapshot() {
    let out = run(&["rbac-audit", "-f", &examples(), "--fail-on", "never"]);
    insta::assert_snapshot!("examples_table", stdout(&out));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let ex = examples();
    let plain = run(&["rbac-audit", "-f", &ex, "--fail-on", "never"]);
    assert!(
        !stdout(&plain).contains('\u{1b}'),
        "piped output must not be coloured"
    );
    let forced = run(&[
        "rbac-audit",
        "-f",
        &ex,
        "--fail-on",
        "never",
        "--color",
        "always",
    ]);
    assert!(stdout(&forced).contains('\u{1b}'));
    let json = run(&["rbac-audit", "-f", &ex, "-o", "json", "--color", "always"]);
    assert!(!stdout(&json).contains('\u{1b}'), "JSON is never coloured");
    let markdown = run(&[
        "rbac-audit",
        "-f",
        &ex,
        "-o",
        "markdown",
        "--color",
        "always",
        "--fail-on",
        "never",
    ]);
    let text = stdout(&markdown);
    assert!(!text.contains('\u{1b}'), "Markdown is never coloured");
    assert!(text.contains("| CRITICAL | `cluster-admin-binding` | `ClusterRoleBinding/ci-deployer-cluster-admin` |"), "{text}");
}

#[test]
fn sarif_is_valid_for_code_scanning() {
    let out = run(&["rbac-audit", "-f", &examples(), "-o", "sarif"]);
    let sarif = json_of(&out);
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        rules.contains(&"cluster-admin-binding") && rules.contains(&"automount-token-with-rights")
    );
    let results = run0["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().expect("ruleId")));
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            uri.ends_with(".yaml"),
            "offline results point at the manifest: {uri}"
        );
        assert!(loc["region"]["startLine"].as_i64().is_some_and(|l| l >= 1));
        assert!(r["partialFingerprints"]["guardrails/v1"].is_string());
        assert!(matches!(
            r["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
    }
    let severities = run0["tool"]["driver"]["rules"][0]["properties"]["security-severity"].as_str();
    assert!(severities.is_some());
}

#[test]
fn list_rules_names_the_whole_catalogue() {
    let out = run(&["rbac-audit", "--list-rules", "-o", "json"]);
    let ids: Vec<String> = json_of(&out)
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    for id in [
        "cluster-admin-binding",
        "wildcard-rule",
        "secrets-read",
        "pod-exec",
        "workload-create",
        "rbac-escalate",
        "rbac-bind",
        "impersonate",
        "nodes-proxy",
        "token-create",
        "csr-approve",
        "webhook-config-write",
        "anonymous-binding",
        "authenticated-group-binding",
        "serviceaccounts-group-binding",
        "dangling-role-ref",
        "dangling-subject",
        "default-sa-bound",
        "automount-token-with-rights",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing");
    }
}

/// `kubectl rbac-audit -A -o json` against `server`, which must report findings (exit 1).
fn live_scan(server: &TestApiServer) -> std::process::Output {
    let live = server
        .kubectl(&["rbac-audit", "-A", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(live.status.code(), Some(1), "{}", stderr(&live));
    live
}

/// A live scan with `--fail-on never`: exit 0 whatever it finds.
fn live_scan_without_gate(server: &TestApiServer) -> std::process::Output {
    let out = server
        .kubectl(&["rbac-audit", "-A", "-o", "json", "--fail-on", "never"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

/// The same scan offline, of `file`.
fn offline_scan(file: &std::path::Path) -> serde_json::Value {
    json_of(&run(&[
        "rbac-audit",
        "-f",
        &file.display().to_string(),
        "-A",
        "-o",
        "json",
    ]))
}

#[test]
fn live_and_offline_give_identical_findings() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let live = json_of(&live_scan(&server));

    let dir = tempfile::tempdir().expect("tmp");
    let file = recorded_cluster_file(dir.path());
    let offline = json_of(&run(&["rbac-audit", "-f", &file, "-A", "-o", "json"]));

    assert!(!live["findings"].as_array().expect("findings").is_empty());
    assert_eq!(
        live["findings"], offline["findings"],
        "same inventory, same findings (ids included)"
    );
    assert_eq!(live["summary"], offline["summary"]);
    assert_eq!(live["source"]["context"], "test");
    assert!(has(
        &live,
        "cluster-admin-binding",
        "ci-deployer-cluster-admin"
    ));
}

/// The scale bench's synthetic cluster at a hundredth of its size: 600 RoleBindings over two
/// pages (named `rb-0`, `rb-1`, …, so file order is not key order), group bindings, dangling
/// subjects and mounted tokens. Live and offline must find the same, but for the wording of
/// a missing subject (absent from the cluster, or from the given manifests).
#[test]
fn live_and_offline_agree_on_a_synthetic_cluster() {
    use guardrails_e2e::synthetic;
    let scale = synthetic::Scale::LARGE.divided(100);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cluster.json");
    synthetic::write_json_stream(&scale, &file).expect("generate");
    let mut objects = Vec::new();
    synthetic::generate(&scale, |o| objects.push(o));
    // A real cluster serves the bootstrap ClusterRoles that offline mode assumes.
    objects.extend(Inventory::bootstrap_cluster_roles());
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let live = json_of(&live_scan(&server));
    let offline = offline_scan(&file);
    let live_findings = rbac_findings_either_way(&live);
    for rule in [
        "automount-token-with-rights",
        "serviceaccounts-group-binding",
        "dangling-subject",
    ] {
        assert!(live_findings.iter().any(|f| f["rule"] == rule), "{rule}");
    }
    assert_eq!(live_findings, rbac_findings_either_way(&offline));
    assert_eq!(live["summary"], offline["summary"]);
}

/// Evidence names the grants behind a right in one order whatever order the bindings were
/// read in: live they come in key order, from files in file order.
#[test]
fn grants_in_evidence_do_not_depend_on_the_order_bindings_are_read_in() {
    let mut objects = Inventory::from_recordings().objects();
    objects.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "reporter", "namespace": "shop"},
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "reporter-0", "namespace": "shop"},
        "spec": {"serviceAccountName": "reporter", "nodeName": "node-a",
                 "containers": [{"name": "app", "image": "registry.example/reporter:1.0"}]},
    }));
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "secret-reader", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
    }));
    // In the file, the later name first.
    for name in ["zz-reads-secrets", "aa-reads-secrets"] {
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reporter", "namespace": "shop"}],
        }));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cluster.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects.clone()});
    std::fs::write(&file, list.to_string()).expect("write");
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let live = json_of(&live_scan(&server));
    let offline = offline_scan(&file);
    let automount = |report: &serde_json::Value| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| {
                f["rule"] == "automount-token-with-rights" && f["object"]["name"] == "reporter-0"
            })
            .cloned()
            .expect("the reporter pod's mounted token is reported")
    };
    let bindings = |finding: &serde_json::Value| -> Vec<String> {
        finding["evidence"]["grants"][0]["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .map(|g| {
                g["binding"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    // All RoleBindings in `shop`: in name order (a group binding from the recordings too).
    let names = bindings(&automount(&offline));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for mine in ["aa-reads-secrets", "zz-reads-secrets"] {
        assert!(names.iter().any(|n| n == mine), "{names:?}");
    }
    assert_eq!(automount(&live), automount(&offline));
}

/// A live scan adds RoleBindings to its model page by page while they are listed; a list that
/// expires midway (410) starts over, and the abandoned pages' bindings must not count twice.
#[test]
fn a_restarted_role_binding_list_gives_the_findings_of_one_snapshot() {
    let mut objects = Inventory::from_recordings().objects();
    for i in 0..1200 {
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("admins-{i:04}"), "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("dev-{i:04}")}],
        }));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cluster.json");
    let inventory = Inventory::from_objects(objects);
    std::fs::write(&file, inventory.to_list_document().to_string()).expect("write");
    // Only the RoleBindings span pages: the 2nd continue request is their 3rd page.
    let server = TestApiServer::start(ApiServerConfig {
        inventory,
        expire_continue_after_pages: Some(2),
        ..ApiServerConfig::default()
    });
    let live = live_scan(&server);
    assert!(stderr(&live).contains("410 Expired"), "{}", stderr(&live));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.status == 410 && r.path.ends_with("/rolebindings")),
        "the RoleBinding list was restarted"
    );
    let live = json_of(&live);
    let offline = offline_scan(&file);
    let on_added = |report: &serde_json::Value| {
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| {
                f["object"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("admins-"))
            })
            .count()
    };
    assert!(on_added(&live) >= 1200, "{}", on_added(&live));
    assert_eq!(live["findings"], offline["findings"]);
    assert_eq!(live["summary"], offline["summary"]);
}

#[test]
fn live_scan_lists_each_kind_once_with_pagination() {
    // 1,300 ServiceAccounts and RoleBindings: more than two pages of 500 each.
    let mut objects = Inventory::from_recordings().objects();
    for i in 0..1300 {
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{i:04}"), "namespace": "shop"}}));
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("rb-{i:04}"), "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{i:04}"), "namespace": "shop"}],
        }));
    }
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "rb-last-ghost", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": "shop"}],
    }));
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let out = live_scan_without_gate(&server);
    let report = json_of(&out);
    assert!(
        has(&report, "dangling-subject", "rb-last-ghost"),
        "the last page was read"
    );

    let requests = server.requests();
    let lists: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    assert!(
        lists.iter().all(|r| !r.path.contains("/namespaces/")),
        "never one list per namespace: {lists:?}"
    );
    assert!(lists.iter().all(|r| r.param("limit") == Some("500")));
    let sa_pages = lists
        .iter()
        .filter(|r| r.path == "/api/v1/serviceaccounts")
        .count();
    assert_eq!(sa_pages, 3, "1,300+ ServiceAccounts in pages of 500");
    assert!(
        lists
            .iter()
            .any(|r| r.path == "/api/v1/serviceaccounts" && r.param("continue").is_some())
    );
}

#[test]
fn an_expired_continue_token_restarts_the_list() {
    let mut objects = Inventory::from_recordings().objects();
    for i in 0..700 {
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("extra-{i:04}"), "namespace": "payments"}}));
    }
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        expire_continue_after_pages: Some(1),
        ..ApiServerConfig::default()
    });
    let out = server
        .kubectl(&["rbac-audit", "blast-radius", "-A", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("410 Expired"), "{}", stderr(&out));
    let entries = json_of(&out)["serviceAccounts"]
        .as_array()
        .expect("entries")
        .len();
    assert!(
        entries > 700,
        "every ServiceAccount after the restart: {entries}"
    );
    assert!(server.requests().iter().any(|r| r.status == 410));
}

#[test]
fn forbidden_lists_degrade_with_a_warning_and_require_complete_fails() {
    let server = TestApiServer::start(ApiServerConfig {
        forbidden: vec![Forbid::cluster("", "serviceaccounts")],
        ..ApiServerConfig::default()
    });
    let out = server
        .kubectl(&["rbac-audit", "-A", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings still reported: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("warning: could not list serviceaccounts (forbidden)"),
        "{}",
        stderr(&out)
    );
    let report = json_of(&out);
    let skipped = report["skipped"].as_array().expect("skipped");
    assert!(
        skipped
            .iter()
            .any(|s| s["resource"] == "serviceaccounts" && s["reason"] == "forbidden")
    );
    assert!(
        skipped
            .iter()
            .any(|s| s["resource"] == "rule/dangling-subject"),
        "no false pass: {skipped:?}"
    );
    // The preflight review answered "no": the list itself was never sent.
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/api/v1/serviceaccounts")
    );

    let strict = server
        .kubectl(&["rbac-audit", "-A", "--require-complete"])
        .output()
        .expect("run");
    assert_clean_error(&strict, 4, "incomplete read access");
}

/// The kinds a live scan lists in the background (the RoleBindings page by page, the Pods
/// and controllers as one inventory) are reported like the others when refused: one warning,
/// `skipped` in the report, and `--require-complete` fails.
#[test]
fn forbidden_background_lists_are_reported_with_the_others() {
    let server = TestApiServer::start(ApiServerConfig {
        forbidden: vec![
            Forbid::cluster("rbac.authorization.k8s.io", "rolebindings"),
            Forbid::cluster("", "pods"),
            Forbid::cluster("", "serviceaccounts"),
        ],
        ..ApiServerConfig::default()
    });
    let out = live_scan_without_gate(&server);
    let warnings: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("warning: could not list"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for kind in ["pods", "rolebindings", "serviceaccounts"] {
        assert!(
            warnings[0].contains(&format!("{kind} (forbidden)")),
            "{warnings:?}"
        );
    }
    let report = json_of(&out);
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter(|s| s["reason"] == "forbidden")
        .filter_map(|s| s["resource"].as_str())
        .collect();
    assert_eq!(skipped, ["pods", "rolebindings", "serviceaccounts"]);
    // ClusterRoleBindings were still listed and analysed.
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["object"]["kind"] == "ClusterRoleBinding"),
        "{report}"
    );

    let strict = server
        .kubectl(&["rbac-audit", "-A", "--require-complete"])
        .output()
        .expect("run");
    assert_clean_error(&strict, 4, "incomplete read access");
    assert!(stderr(&strict).contains("rolebindings (forbidden)"));
}

#[test]
fn who_can_what_can_and_blast_radius_live() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let who = json_of(
        &server
            .kubectl(&[
                "rbac-audit",
                "who-can",
                "list",
                "secrets",
                "-n",
                "shop",
                "-o",
                "json",
            ])
            .output()
            .expect("run"),
    );
    assert_eq!(who["kind"], "WhoCan");
    let subjects: Vec<String> = who["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["kind"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "Group:system:serviceaccounts:shop",
        "ServiceAccount:ci-deployer",
        "ServiceAccount:ingress-nginx",
        "Group:system:masters",
    ] {
        assert!(
            subjects.contains(&expected.to_string()),
            "{expected} in {subjects:?}"
        );
    }
    assert!(
        !subjects.contains(&"Group:developers".to_string()),
        "view does not read secrets"
    );

    let what = json_of(
        &server
            .kubectl(&[
                "rbac-audit",
                "what-can",
                "system:serviceaccount:monitoring:prometheus",
                "-A",
                "-o",
                "json",
            ])
            .output()
            .expect("run"),
    );
    let metrics = what["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["nonResourceURLs"] == json!(["/metrics"]))
        .expect("/metrics rule");
    assert_eq!(
        metrics["grants"][0]["aggregatedFrom"],
        json!(["monitoring-metrics-reader"])
    );

    let blast = json_of(
        &server
            .kubectl(&["rbac-audit", "blast-radius", "-A", "-o", "json"])
            .output()
            .expect("run"),
    );
    let labelled = json_of(
        &server
            .kubectl(&[
                "rbac-audit",
                "blast-radius",
                "-A",
                "-l",
                "app.kubernetes.io/name=ci-deployer",
                "-o",
                "json",
            ])
            .output()
            .expect("run"),
    );
    let names: Vec<&str> = labelled["serviceAccounts"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["ci-deployer"],
        "-l selects ServiceAccounts by label"
    );
    let first = &blast["serviceAccounts"][0];
    assert_eq!(first["risk"], "critical");
    let checkout = blast["serviceAccounts"]
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == "checkout")
        .expect("checkout");
    assert_eq!(
        checkout["workloads"][0]["tokenMount"],
        json!({"automounted": {"decidedBy": "pod"}})
    );
}

#[test]
fn baseline_and_exceptions_gate_ci() {
    let ex = examples();
    let dir = tempfile::tempdir().expect("tmp");
    let baseline = dir.path().join("baseline.json");
    let out = run(&["rbac-audit", "-f", &ex, "-o", "json"]);
    std::fs::write(&baseline, &out.stdout).expect("write");
    let again = run(&[
        "rbac-audit",
        "-f",
        &ex,
        "--baseline",
        &baseline.display().to_string(),
    ]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "nothing new: {}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("already in the baseline"));

    let exceptions = dir.path().join("exceptions.yaml");
    std::fs::write(
        &exceptions,
        "- rule: cluster-admin-binding\n  object: ClusterRoleBinding/ci-deployer-cluster-admin\n  reason: CI deployer, tracked in SEC-12\n  expires: 2999-01-01\n\
- rule: secrets-read\n  object: ClusterRoleBinding/ingress-nginx\n  reason: expired acceptance\n  expires: 2020-01-01\n",
    )
    .expect("write");
    let out = run(&[
        "rbac-audit",
        "-f",
        &ex,
        "-o",
        "json",
        "--exceptions",
        &exceptions.display().to_string(),
    ]);
    let report = json_of(&out);
    assert!(!has(
        &report,
        "cluster-admin-binding",
        "ci-deployer-cluster-admin"
    ));
    assert!(
        has(&report, "secrets-read", "ingress-nginx"),
        "an expired exception stops suppressing"
    );
    assert_eq!(report["suppressed"].as_array().map(Vec::len), Some(1));
    assert!(
        stderr(&out).contains("expired on 2020-01-01"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_gets_one_line_and_the_contract_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let malformed = dir.path().join("bad.yaml");
    std::fs::write(
        &malformed,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a\n",
    )
    .expect("write");
    let out = run(&["rbac-audit", "-f", &malformed.display().to_string()]);
    assert_clean_error(&out, 3, "bad.yaml:");
    assert!(stderr(&out).contains("malformed YAML"));

    let binary = dir.path().join("blob.yaml");
    std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 0, 1, 2]).expect("write");
    assert_clean_error(
        &run(&["rbac-audit", "-f", &binary.display().to_string()]),
        3,
        "binary data",
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert_clean_error(
        &run(&["rbac-audit", "-f", &empty.display().to_string()]),
        3,
        "no manifest files",
    );
    assert_clean_error(
        &run(&["rbac-audit", "-f", "/does/not/exist.yaml"]),
        3,
        "no such file",
    );

    let invalid = dir.path().join("invalid.yaml");
    std::fs::write(&invalid, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: 7\n").expect("write");
    assert_clean_error(
        &run(&["rbac-audit", "-f", &invalid.display().to_string()]),
        3,
        "invalid ClusterRoleBinding \"x\"",
    );

    assert_clean_error(
        &run(&["rbac-audit", "--kubeconfig", "/nope/config"]),
        4,
        "/nope/config",
    );
    assert_clean_error(&run(&["rbac-audit"]), 4, "no kubeconfig found");

    // A kubeconfig pointing at a port nobody listens on.
    let unreachable = dir.path().join("kubeconfig");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    write_kubeconfig(
        &unreachable,
        &format!("https://127.0.0.1:{port}"),
        Some("t"),
        None,
    );
    assert_clean_error(
        &run(&[
            "rbac-audit",
            "--kubeconfig",
            &unreachable.display().to_string(),
        ]),
        4,
        "cannot reach",
    );

    let server = TestApiServer::start(ApiServerConfig::default());
    let wrong = dir.path().join("wrong-token");
    write_kubeconfig(&wrong, &server.url, Some("not-the-token"), None);
    assert_clean_error(
        &run(&["rbac-audit", "--kubeconfig", &wrong.display().to_string()]),
        4,
        "Unauthorized",
    );

    let usage = run(&["rbac-audit", "--no-such-flag"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(run(&["rbac-audit", "-o", "csv"]).status.code(), Some(2));
    assert_clean_error(
        &run(&["rbac-audit", "-f", &examples(), "what-can", "alice"]),
        2,
        "invalid subject",
    );
    assert_clean_error(
        &run(&["rbac-audit", "-f", &examples(), "-l", "a in (b"]),
        2,
        "invalid label selector",
    );
}

#[test]
fn stdin_and_recursive_directories_are_read_like_kubectl() {
    let ex = examples();
    let all = json_of(&run(&[
        "rbac-audit",
        "-f",
        &ex,
        "-o",
        "json",
        "--fail-on",
        "never",
    ]));

    // -R descends into sub-directories; without it they are skipped.
    let dir = tempfile::tempdir().expect("tmp");
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("mkdir");
    for entry in std::fs::read_dir(&ex).expect("examples").flatten() {
        std::fs::copy(entry.path(), nested.join(entry.file_name())).expect("copy");
    }
    std::fs::write(
        dir.path().join("top.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: top}\n",
    )
    .expect("write");
    let root = dir.path().display().to_string();
    let recursive = json_of(&run(&[
        "rbac-audit",
        "-f",
        &root,
        "-R",
        "-o",
        "json",
        "--fail-on",
        "never",
    ]));
    assert_eq!(recursive["findings"], all["findings"]);
    let shallow = json_of(&run(&[
        "rbac-audit",
        "-f",
        &root,
        "-o",
        "json",
        "--fail-on",
        "never",
    ]));
    assert!(shallow["findings"].as_array().expect("findings").is_empty());

    // `-f -` reads stdin.
    let rbac = std::fs::read_to_string(repo().join("examples/cluster/20-rbac.yaml")).expect("read");
    let mut child =
        harness::kubectl(&["rbac-audit", "-f", "-", "-o", "json", "--fail-on", "never"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), rbac.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let report = json_of(&out);
    assert!(has(
        &report,
        "cluster-admin-binding",
        "ci-deployer-cluster-admin"
    ));
    assert_eq!(report["source"]["files"], json!(["-"]));
}

#[test]
fn kubeconfig_lists_and_contexts_are_resolved_like_kubectl() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let good = server.write_kubeconfig(dir.path(), None);
    // A second file whose current context points at a dead port, merged first in KUBECONFIG.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let other = dir.path().join("other");
    std::fs::write(
        &other,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster: {{server: 'https://127.0.0.1:{dead_port}'}}\ncontexts:\n- name: dead\n  context: {{cluster: dead, user: dead}}\nusers:\n- name: dead\n  user: {{token: x}}\n"
        ),
    )
    .expect("write");
    let list = std::env::join_paths([&other, &good]).expect("join");

    let mut dead = harness::kubectl(&["rbac-audit", "blast-radius", "-o", "json"]);
    dead.env("KUBECONFIG", &list);
    assert_clean_error(&dead.output().expect("run"), 4, "cannot reach");

    let mut chosen = harness::kubectl(&[
        "rbac-audit",
        "blast-radius",
        "--context",
        "test",
        "-n",
        "shop",
        "-o",
        "json",
    ]);
    chosen.env("KUBECONFIG", &list);
    let out = chosen.output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let entries = json_of(&out)["serviceAccounts"]
        .as_array()
        .expect("entries")
        .clone();
    assert!(
        !entries.is_empty() && entries.iter().all(|e| e["namespace"] == "shop"),
        "-n scopes the answer"
    );

    let missing = harness::kubectl(&[
        "rbac-audit",
        "--kubeconfig",
        &good.display().to_string(),
        "--context",
        "nope",
    ])
    .output()
    .expect("run");
    assert_clean_error(&missing, 4, "nope");
}

#[test]
fn blast_radius_names_the_nodes_live() {
    let mut objects = Inventory::from_recordings().objects();
    for (i, node) in ["node-a", "node-b"].iter().enumerate() {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("ingress-nginx-controller-{i}"), "namespace": "ingress-nginx",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ingress-nginx-controller", "uid": "u", "controller": true}]},
            "spec": {"nodeName": node, "serviceAccountName": "ingress-nginx", "containers": [{"name": "c", "image": "nginx"}]},
        }));
    }
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let out = server
        .kubectl(&[
            "rbac-audit",
            "blast-radius",
            "ingress-nginx/ingress-nginx",
            "-o",
            "json",
        ])
        .output()
        .expect("run");
    let report = json_of(&out);
    let entry = &report["serviceAccounts"][0];
    assert_eq!(entry["name"], "ingress-nginx");
    assert_eq!(entry["nodes"], json!(["node-a", "node-b"]));
    assert_eq!(entry["workloads"][0]["onEveryNode"], true);
    let table = server
        .kubectl(&["rbac-audit", "blast-radius", "ingress-nginx/ingress-nginx"])
        .output()
        .expect("run");
    assert!(
        stdout(&table).contains("DaemonSet/ingress-nginx-controller (every node)"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn kubectl_completes_plugin_arguments() {
    let subcommands = stdout(&run(&["__complete", "rbac-audit", "w"]));
    assert!(
        subcommands.lines().any(|l| l.starts_with("who-can\t")),
        "{subcommands}"
    );
    assert!(
        subcommands.lines().any(|l| l.starts_with("what-can\t")),
        "{subcommands}"
    );
    let formats = stdout(&run(&["__complete", "rbac-audit", "-o", ""]));
    assert!(formats.lines().any(|l| l == "sarif"), "{formats}");
    let flags = stdout(&run(&["__complete", "rbac-audit", "who-can", "--fail"]));
    assert!(
        flags.lines().any(|l| l.starts_with("--fail-on\t")),
        "{flags}"
    );
}

#[test]
fn kubectl_completes_live_values_from_the_kubeconfig_and_the_cluster() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let complete = |words: &[&str]| {
        let mut args = vec!["__complete", "rbac-audit"];
        args.extend_from_slice(words);
        stdout(&server.kubectl(&args).output().expect("kubectl"))
    };
    let lines = |out: &str| out.lines().map(str::to_string).collect::<Vec<_>>();

    assert_eq!(lines(&complete(&["--context", ""]))[0], "test");
    let namespaces = lines(&complete(&["-n", "s"]));
    assert!(namespaces.contains(&"shop".to_string()), "{namespaces:?}");
    assert!(
        namespaces
            .iter()
            .all(|n| n.starts_with('s') || n.starts_with(':'))
    );

    let verbs = lines(&complete(&["who-can", ""]));
    assert!(
        ["get", "list", "impersonate", "escalate"]
            .iter()
            .all(|v| verbs.contains(&v.to_string())),
        "{verbs:?}"
    );
    let resources = lines(&complete(&["who-can", "create", "pods/"]));
    assert!(
        resources.contains(&"pods/exec".to_string()),
        "{resources:?}"
    );

    let accounts = lines(&complete(&["blast-radius", "-n", "ingress-nginx", ""]));
    assert!(
        accounts.contains(&"ingress-nginx/ingress-nginx".to_string())
            && accounts
                .iter()
                .all(|a| a.starts_with("ingress-nginx/") || a.starts_with(':')),
        "-n narrows the ServiceAccounts: {accounts:?}"
    );
    let subjects = lines(&complete(&["what-can", "system:serviceaccount:shop:"]));
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("system:serviceaccount:shop:")),
        "{subjects:?}"
    );

    // An unreachable cluster costs at most the live timeout and yields no candidates.
    let started = std::time::Instant::now();
    let none = run(&["__complete", "rbac-audit", "-n", ""]);
    assert!(none.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn a_restarted_pod_list_does_not_count_pods_twice() {
    let mut objects = Inventory::from_recordings().objects();
    for i in 0..1200 {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-cache-{i}"), "namespace": "shop",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web-cache", "uid": "u", "controller": true}]},
            "spec": {"nodeName": format!("node-{}", i % 3), "containers": [{"name": "c", "image": "nginx"}]},
        }));
    }
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        expire_continue_after_pages: Some(2),
        ..ApiServerConfig::default()
    });
    let out = server
        .kubectl(&["rbac-audit", "blast-radius", "shop/default", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        server.requests().iter().any(|r| r.status == 410),
        "the pod list was restarted"
    );
    let report = json_of(&out);
    let web_cache = report["serviceAccounts"][0]["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["object"]["name"] == "web-cache")
        .expect("web-cache")
        .clone();
    assert_eq!(
        web_cache["pods"], 1200,
        "each pod once (web-cache-0 replaces the recorded one)"
    );
    assert_eq!(web_cache["nodes"], json!(["node-0", "node-1", "node-2"]));
}
