//! The suite passes its own audit: `deploy/` (the in-cluster weekly audit) scanned by every
//! plugin through the real kubectl has no finding at all, its ServiceAccount may make exactly
//! the requests the plugins make against a live API server (as our own `rbac-audit who-can` /
//! `what-can` answer it) and nothing else, and its NetworkPolicies let the audit pod reach the
//! cluster DNS and the API server only.

use std::collections::BTreeSet;

use guardrails_e2e::e2e::{json_of, repo, run, stderr, stdout};
use guardrails_e2e::{ApiServerConfig, Inventory, TestApiServer};
use serde_json::Value;

const SERVICE_ACCOUNT: &str = "system:serviceaccount:guardrails:guardrails-audit";

fn deploy() -> String {
    repo().join("deploy").display().to_string()
}

/// The scan command of each plugin, as the weekly loop runs it.
const PLUGINS: [&str; 4] = ["rbac-audit", "netpol-scaffold", "image-pins", "harden"];

#[test]
fn every_plugin_finds_nothing_in_deploy_at_fail_on_low() {
    let dir = deploy();
    for plugin in PLUGINS {
        let out = run(&[plugin, "-f", &dir, "-R", "--fail-on", "low", "-o", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{plugin}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let report = json_of(&out);
        assert_eq!(report["plugin"], plugin);
        assert_eq!(
            report["findings"],
            Value::Array(Vec::new()),
            "{plugin} on deploy/"
        );
        assert_eq!(report["summary"]["score"], 100, "{plugin}");
        // The human form gates the same way.
        let table = run(&[plugin, "-f", &dir, "-R", "--fail-on", "low"]);
        assert_eq!(table.status.code(), Some(0), "{plugin}: {}", stdout(&table));
    }
}

/// Every object of `deploy/`, to serve from the test API server.
fn deploy_objects() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("deploy"))
        .expect("deploy/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("YAML");
            if !value.is_null() {
                objects.push(value);
            }
        }
    }
    objects
}

#[test]
fn applied_to_a_cluster_deploy_still_has_no_finding() {
    // The same objects live: what `kubectl apply -f deploy/` creates, audited by the suite.
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(deploy_objects()),
        ..ApiServerConfig::default()
    });
    for plugin in PLUGINS {
        let out = server
            .kubectl(&[plugin, "-A", "--fail-on", "low", "-o", "json"])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{plugin}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let report = json_of(&out);
        assert_eq!(
            report["findings"],
            Value::Array(Vec::new()),
            "{plugin} live"
        );
        assert_eq!(
            report["skipped"],
            Value::Array(Vec::new()),
            "{plugin} read everything"
        );
    }
}

#[test]
fn deploy_holds_what_the_audit_needs() {
    // The zero findings above are about these objects, not about an empty directory.
    let report = json_of(&run(&[
        "rbac-audit",
        "blast-radius",
        "-f",
        &deploy(),
        "-R",
        "-o",
        "json",
    ]));
    let text = report.to_string();
    assert!(
        text.contains("guardrails-audit") && text.contains("CronJob"),
        "the CronJob mounts the audit ServiceAccount's token: {text}"
    );
    let cronjob = std::fs::read_to_string(repo().join("deploy/50-cronjob.yaml")).expect("read");
    let image = cronjob
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .expect("an image line");
    assert!(
        image.starts_with("ghcr.io/kubectl-guardrails/guardrails:") && image.contains("@sha256:"),
        "pinned by digest: {image}"
    );
}

/// `(verb, group, resource)` of a resource request, or `None` for a non-resource URL.
fn resource_request(method: &str, path: &str) -> Option<(String, String, String)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let resource = match rest {
        [resource] => *resource,
        ["namespaces", _, resource, ..] => *resource,
        [resource, _name] => *resource,
        _ => return None,
    };
    let verb = match (method, rest.len()) {
        ("GET", 1) | ("GET", 3) => "list",
        ("GET", _) => "get",
        ("POST", _) => "create",
        (other, _) => other,
    };
    Some((verb.to_string(), group.to_string(), resource.to_string()))
}

/// `resource.group` as `who-can` takes it.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The subjects `rbac-audit who-can VERB WHAT` lists, as `Kind:namespace/name`.
fn who_can(extra: &[&str], verb: &str, what: &str) -> BTreeSet<String> {
    let mut args = vec!["rbac-audit", "who-can", verb, what, "-A", "-o", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    subjects(&json_of(&out))
}

fn subjects(answer: &Value) -> BTreeSet<String> {
    answer["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| {
            let kind = s["kind"].as_str().unwrap_or("");
            match s["namespace"].as_str() {
                Some(ns) => format!("{kind}:{ns}/{}", s["name"].as_str().unwrap_or("")),
                None => format!("{kind}:{}", s["name"].as_str().unwrap_or("")),
            }
        })
        .collect()
}

#[test]
fn the_audit_service_account_may_make_every_request_the_plugins_make_and_nothing_more() {
    // What the plugins actually request, live, doing what the weekly loop does.
    let server = TestApiServer::start(ApiServerConfig::default());
    for plugin in PLUGINS {
        let out = server
            .kubectl(&[plugin, "-A", "-o", "json", "--fail-on", "never"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{plugin}: {}", stderr(&out));
    }
    let mut needed: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut non_resource: BTreeSet<String> = BTreeSet::new();
    for r in server.requests() {
        // The machine's kubectl dispatcher asks /version itself before running kubectl.
        if r.user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("kubectl-dispatcher"))
        {
            continue;
        }
        match resource_request(&r.method, &r.path) {
            Some(request) => {
                needed.insert(request);
            }
            None => {
                non_resource.insert(r.path.clone());
            }
        }
    }
    let ssar = (
        "create".to_string(),
        "authorization.k8s.io".to_string(),
        "selfsubjectaccessreviews".to_string(),
    );
    assert!(needed.contains(&ssar), "the preflight ran: {needed:?}");
    assert!(
        needed.iter().any(|(_, _, r)| r == "clusterrolebindings")
            && needed.iter().any(|(_, _, r)| r == "networkpolicies"),
        "{needed:?}"
    );

    let dir = deploy();
    let offline = ["-f", dir.as_str(), "-R"];
    let account = "ServiceAccount:guardrails/guardrails-audit".to_string();
    let mut lists = BTreeSet::new();
    for (verb, group, resource) in &needed {
        if (verb, group, resource) == (&ssar.0, &ssar.1, &ssar.2) {
            continue;
        }
        assert_eq!(verb, "list", "the plugins only list: {group}/{resource}");
        let who = who_can(&offline, verb, &qualified(group, resource));
        assert!(
            who.contains(&account),
            "deploy/ lets the audit list {}: {who:?}",
            qualified(group, resource)
        );
        lists.insert((group.clone(), resource.clone()));
    }

    // The preflight and the non-resource URLs are every authenticated identity's through
    // Kubernetes' bootstrap bindings (system:basic-user, system:discovery,
    // system:public-info-viewer): asked of the recorded cluster, which has them.
    let live = |verb: &str, what: &str| {
        let out = server
            .kubectl(&[
                "rbac-audit",
                "who-can",
                verb,
                what,
                "-A",
                "--include-system",
                "-o",
                "json",
            ])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        subjects(&json_of(&out))
    };
    let everyone = "Group:system:authenticated".to_string();
    let preflight = live("create", "selfsubjectaccessreviews.authorization.k8s.io");
    assert!(preflight.contains(&everyone), "{preflight:?}");
    assert!(!non_resource.is_empty());
    for path in &non_resource {
        let who = live("get", path);
        assert!(who.contains(&everyone), "GET {path}: {who:?}");
    }

    // Nothing more: every rule deploy/ grants the account is a list the plugins make.
    let what = json_of(&run(&[
        "rbac-audit",
        "what-can",
        SERVICE_ACCOUNT,
        "-f",
        &dir,
        "-R",
        "-A",
        "-o",
        "json",
    ]));
    let rules = what["rules"].as_array().expect("rules");
    assert!(!rules.is_empty());
    let mut granted = BTreeSet::new();
    for rule in rules {
        assert_eq!(rule["verbs"], serde_json::json!(["list"]), "{rule}");
        assert_eq!(rule["nonResourceURLs"], serde_json::json!([]), "{rule}");
        for group in rule["apiGroups"].as_array().expect("groups") {
            for resource in rule["resources"].as_array().expect("resources") {
                granted.insert((
                    group.as_str().unwrap_or("").to_string(),
                    resource.as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    assert_eq!(granted, lists, "granted exactly what the plugins list");

    // No Secret contents, no writes, no exec.
    for (verb, what) in [
        ("get", "secrets"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("create", "pods"),
        ("create", "pods/exec"),
        ("patch", "deployments.apps"),
        ("update", "clusterroles.rbac.authorization.k8s.io"),
        ("delete", "namespaces"),
        ("create", "serviceaccounts/token"),
    ] {
        let who = who_can(&offline, verb, what);
        assert!(!who.contains(&account), "{verb} {what}: {who:?}");
    }
}

#[test]
fn the_audit_pod_reaches_dns_and_the_api_server_only() {
    let dir = deploy();
    let policies =
        std::fs::read_to_string(repo().join("deploy/30-networkpolicies.yaml")).expect("read");
    let apiserver = policies
        .lines()
        .find_map(|l| l.trim().strip_prefix("cidr: "))
        .expect("the API server CIDR")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let audit = "guardrails/app.kubernetes.io/name=guardrails-audit";
    let cases = serde_json::json!([
        {"from": audit, "to": "kube-system/k8s-app=kube-dns", "port": 53, "protocol": "UDP", "expected": "ALLOW"},
        {"from": audit, "to": "kube-system/k8s-app=kube-dns", "port": 53, "protocol": "TCP", "expected": "ALLOW"},
        {"from": audit, "to": apiserver, "port": 443, "expected": "ALLOW"},
        {"from": audit, "to": apiserver, "port": 6443, "expected": "ALLOW"},
        {"from": audit, "to": apiserver, "port": 22, "expected": "DENY"},
        // The kubernetes Service's ClusterIP: policies see the endpoint after DNAT.
        {"from": audit, "to": "10.96.0.1", "port": 443, "expected": "DENY"},
        {"from": audit, "to": "8.8.8.8", "port": 53, "protocol": "UDP", "expected": "DENY"},
        {"from": audit, "to": "kube-system/k8s-app=metrics-server", "port": 443, "expected": "DENY"},
        {"from": audit, "to": "shop/app=frontend", "port": 80, "expected": "DENY"},
        {"from": "shop/app=frontend", "to": audit, "port": 8080, "expected": "DENY"},
        {"from": "guardrails/app=other", "to": audit, "port": 8080, "expected": "DENY"},
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("cases.json");
    std::fs::write(&file, cases.to_string()).expect("write");
    let file = file.display().to_string();
    let out = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &file,
        "-f",
        &dir,
        "-R",
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let results = json_of(&out)["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 11);
    assert!(results.iter().all(|r| r["pass"] == true), "{results:?}");

    // The same check fails when an expectation is wrong: the audit may not reach the internet.
    let wrong = tmp.path().join("wrong.json");
    std::fs::write(
        &wrong,
        serde_json::json!([{"from": audit, "to": "8.8.8.8", "port": 443, "expected": "ALLOW"}])
            .to_string(),
    )
    .expect("write");
    let out = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &wrong.display().to_string(),
        "-f",
        &dir,
        "-R",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
