//! `kubectl netpol-scaffold` end to end: the built plugin, found by the real kubectl on PATH,
//! run offline on the bundled examples and live against the recording-faithful test API
//! server serving the same objects — with the same answers both ways.

use guardrails_e2e::e2e::{
    assert_clean_error, example_objects, examples, has, json_of, recorded_cluster_file, repo,
    rule_and_name, run, stderr, stdout,
};
use guardrails_e2e::{ApiServerConfig, Inventory, TestApiServer, harness};
use serde_json::Value;

fn cases_file() -> String {
    repo()
        .join("examples/netpol-cases.yaml")
        .display()
        .to_string()
}

#[test]
fn kubectl_discovers_the_plugin_and_its_help() {
    let list = run(&["plugin", "list"]);
    assert!(
        stdout(&list).contains("kubectl-netpol_scaffold"),
        "{}{}",
        stdout(&list),
        stderr(&list)
    );
    let help = run(&["netpol-scaffold", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    assert!(text.contains("Usage: kubectl netpol-scaffold"), "{text}");
    assert!(
        text.contains("Exit codes:") && text.contains("check") && text.contains("matrix"),
        "{text}"
    );
    let version = run(&["netpol-scaffold", "--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn offline_coverage_of_the_examples() {
    let out = run(&["netpol-scaffold", "-f", &examples(), "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no high finding: {}",
        stderr(&out)
    );
    let report = json_of(&out);
    assert_eq!(report["kind"], "Report");
    assert_eq!(report["plugin"], "netpol-scaffold");
    for (rule, name) in [
        ("namespace-without-policy", "monitoring"),
        ("namespace-without-policy", "ingress-nginx"),
        ("pod-egress-not-isolated", "frontend"),
        ("policy-selects-nothing", "allow-frontend-to-web-cache"),
        ("peer-matches-nothing", "allow-prometheus-scrape"),
        ("cni-enforcement-unknown", "kube-system"),
    ] {
        assert!(
            has(&report, rule, name),
            "{rule} on {name} missing: {:?}",
            rule_and_name(&report)
        );
    }
    // payments is fully isolated and allows DNS; shop isolates ingress.
    assert!(!has(&report, "namespace-without-policy", "payments"));
    assert!(!has(&report, "namespace-without-policy", "shop"));
    assert!(
        !rule_and_name(&report)
            .iter()
            .any(|(r, _)| r == "egress-deny-without-dns")
    );
    assert!(!has(&report, "pod-ingress-not-isolated", "frontend"));
    assert!(
        stderr(&out).contains("may not enforce NetworkPolicy"),
        "CNI warning: {}",
        stderr(&out)
    );

    let gate = run(&["netpol-scaffold", "-f", &examples(), "--fail-on", "medium"]);
    assert_eq!(gate.status.code(), Some(1), "{}", stderr(&gate));
    let table = stdout(&gate);
    assert!(
        table.contains("SEVERITY") && table.contains("namespace-without-policy"),
        "{table}"
    );

    let ns = json_of(&run(&[
        "netpol-scaffold",
        "-f",
        &examples(),
        "-n",
        "payments",
        "-o",
        "json",
    ]));
    assert!(
        rule_and_name(&ns)
            .iter()
            .all(|(r, _)| r == "cni-enforcement-unknown"),
        "payments is clean: {:?}",
        rule_and_name(&ns)
    );

    let rules = json_of(&run(&["netpol-scaffold", "--list-rules", "-o", "json"]));
    let ids: Vec<&str> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "namespace-without-policy",
        "pod-ingress-not-isolated",
        "pod-egress-not-isolated",
        "policy-selects-nothing",
        "egress-deny-without-dns",
        "peer-matches-nothing",
        "cni-enforcement-unknown",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
}

#[test]
fn default_deny_without_dns_is_high_and_fails_ci() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("deny.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n",
    )
    .expect("write");
    let f = file.display().to_string();
    let out = run(&["netpol-scaffold", "-f", &examples(), "-f", &f, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json_of(&out);
    assert!(
        has(&report, "egress-deny-without-dns", "frontend"),
        "{:?}",
        rule_and_name(&report)
    );
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "egress-deny-without-dns")
        .expect("finding");
    assert_eq!(finding["severity"], "high");
    assert!(
        finding["message"]
            .as_str()
            .unwrap_or("")
            .contains("kube-system/k8s-app=kube-dns"),
        "{finding}"
    );
}

#[test]
fn check_answers_with_the_deciding_policies() {
    let out = run(&[
        "netpol-scaffold",
        "check",
        "-f",
        &examples(),
        "--from",
        "shop/app=frontend",
        "--to",
        "payments/svc/mysql",
        "--port",
        "3306/TCP",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "ConnectivityCheck");
    let r = &doc["results"][0];
    assert_eq!(r["verdict"], "DENY");
    assert_eq!(r["port"], "3306");
    assert_eq!(r["protocol"], "TCP");
    assert_eq!(r["expected"], Value::Null);
    assert_eq!(r["pass"], Value::Null);
    let deciders: Vec<&str> = r["decidedBy"]
        .as_array()
        .expect("decidedBy")
        .iter()
        .filter_map(|d| d["policy"].as_str())
        .collect();
    assert!(deciders.contains(&"payments/mysql-access"), "{r}");

    // The Service port 8080 reaches the API's container port named http-api.
    let out = run(&[
        "netpol-scaffold",
        "check",
        "-f",
        &examples(),
        "--from",
        "shop/checkout",
        "--to",
        "payments/svc/payments-api",
        "--port",
        "8080",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("ALLOW") && text.contains("payments/allow-checkout-to-api ingress[0]"),
        "{text}"
    );

    // hostNetwork pods: the CNI decides.
    let out = run(&[
        "netpol-scaffold",
        "check",
        "-f",
        &examples(),
        "--from",
        "monitoring/node-exporter",
        "--to",
        "payments/mysql",
        "--port",
        "3306",
    ]);
    assert!(stdout(&out).contains("DEPENDS"), "{}", stdout(&out));
}

#[test]
fn case_files_pass_and_fail() {
    let out = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &cases_file(),
        "-f",
        &examples(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("EXPECTED") && text.contains("PASS") && !text.contains("FAIL"),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cases.json");
    std::fs::write(
        &file,
        r#"[{"from": "shop/app=frontend", "to": "payments/svc/mysql", "port": 3306, "expected": "ALLOW"},
            {"from": "payments/app=payments-api", "to": "payments/svc/mysql", "port": "3306/TCP", "expected": "ALLOW"}]"#,
    )
    .expect("write");
    let out = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &file.display().to_string(),
        "-f",
        &examples(),
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed expectation exits 1: {}",
        stderr(&out)
    );
    let doc = json_of(&out);
    assert_eq!(doc["results"][0]["pass"], false);
    assert_eq!(doc["results"][1]["pass"], true);
    assert!(
        stderr(&out).contains("1 of 2 case(s) failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn matrix_formats() {
    let json = json_of(&run(&[
        "netpol-scaffold",
        "matrix",
        "-f",
        &examples(),
        "-o",
        "json",
    ]));
    assert_eq!(json["kind"], "ConnectivityMatrix");
    let names: Vec<&str> = json["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    let idx = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n} in {names:?}"))
    };
    let edge = |from: &str, to: &str| {
        json["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .find(|c| {
                c["from"].as_u64() == Some(idx(from) as u64)
                    && c["to"].as_u64() == Some(idx(to) as u64)
            })
    };
    let api_to_mysql = edge("payments/payments-api", "payments/mysql").expect("api -> mysql");
    assert_eq!(api_to_mysql["verdict"], "PARTIAL");
    assert_eq!(api_to_mysql["allowed"], serde_json::json!(["TCP/3306"]));
    assert!(
        edge("shop/frontend", "payments/mysql").is_none(),
        "denied pairs are not listed"
    );
    assert_eq!(
        edge("shop/frontend", "monitoring/prometheus").expect("open")["verdict"],
        "ALL"
    );
    assert_eq!(
        edge("monitoring/node-exporter", "shop/frontend").expect("hostNetwork")["verdict"],
        "DEPENDS"
    );

    let table = stdout(&run(&["netpol-scaffold", "matrix", "-f", &examples()]));
    assert!(
        table.contains("FROM \\ TO") && table.contains("A = all ports"),
        "{table}"
    );
    let dot = stdout(&run(&[
        "netpol-scaffold",
        "matrix",
        "-f",
        &examples(),
        "--format",
        "dot",
    ]));
    assert!(
        dot.starts_with("digraph connectivity {") && dot.contains("label=\"TCP/3306\""),
        "{dot}"
    );
    let md = stdout(&run(&[
        "netpol-scaffold",
        "matrix",
        "-f",
        &examples(),
        "-o",
        "markdown",
    ]));
    assert!(
        md.contains("| payments/payments-api | payments/mysql | TCP/3306 |"),
        "{md}"
    );
}

/// The same objects served by the test API server: coverage, checks and the matrix agree.
fn assert_live_equals_offline(server: &TestApiServer, offline: &[&str]) {
    let live = |args: &[&str]| server.kubectl(args).output().expect("run");
    let with = |base: &[&str], extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    for (is_report, command) in [
        (
            true,
            vec!["netpol-scaffold", "-A", "-o", "json", "--fail-on", "never"],
        ),
        (false, vec!["netpol-scaffold", "matrix", "-A", "-o", "json"]),
    ] {
        let l = live(&command);
        assert_eq!(l.status.code(), Some(0), "{}", stderr(&l));
        let off_args = with(&command, offline);
        let off_refs: Vec<&str> = off_args.iter().map(String::as_str).collect();
        let o = run(&off_refs);
        let (l, o) = (json_of(&l), json_of(&o));
        if is_report {
            assert_eq!(l["findings"], o["findings"], "coverage, ids included");
            assert_eq!(l["summary"], o["summary"]);
            assert_eq!(l["source"]["context"], "test");
        } else {
            assert_eq!(l, o, "matrix");
        }
    }
}

#[test]
fn live_and_offline_agree_on_the_examples() {
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(example_objects()),
        ..ApiServerConfig::default()
    });
    assert_live_equals_offline(&server, &["-f", &examples()]);
    let cases = cases_file();
    let live = server
        .kubectl(&["netpol-scaffold", "check", "--cases", &cases, "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(
        live.status.code(),
        Some(0),
        "{}{}",
        stdout(&live),
        stderr(&live)
    );
    let offline = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &cases,
        "-f",
        &examples(),
        "-o",
        "json",
    ]);
    assert_eq!(json_of(&live), json_of(&offline));
}

#[test]
fn live_and_offline_agree_on_the_recorded_cluster() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let f = recorded_cluster_file(dir.path());
    assert_live_equals_offline(&server, &["-f", &f]);
    // The recorded pods (ReplicaSet- and StatefulSet-owned) are evaluated one by one.
    let out = server
        .kubectl(&[
            "netpol-scaffold",
            "check",
            "--from",
            "payments/payments-api",
            "--to",
            "payments/mysql-0",
            "--port",
            "3306",
        ])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.contains("DENY") && text.contains("payments/default-deny-all (egress isolated"),
        "{text}"
    );
    let report = json_of(
        &server
            .kubectl(&["netpol-scaffold", "-A", "-o", "json"])
            .output()
            .expect("run"),
    );
    assert!(
        has(&report, "namespace-without-policy", "shop"),
        "{:?}",
        rule_and_name(&report)
    );
    // One NetworkPolicy list for all namespaces, never one per namespace.
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/networkpolicies") && r.method == "GET")
        .map(|r| r.path.clone())
        .collect();
    assert!(
        lists
            .iter()
            .all(|p| p == "/apis/networking.k8s.io/v1/networkpolicies"),
        "{lists:?}"
    );
}

#[test]
fn bad_input_gets_one_line_and_the_contract_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: wide, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 80, endPort: 70}]}]\n",
    )
    .expect("write");
    let b = bad.display().to_string();
    assert_clean_error(
        &run(&["netpol-scaffold", "-f", &b]),
        3,
        "bad.yaml:1: invalid NetworkPolicy shop/wide: spec.ingress[0].ports[0]: endPort 70 is less than port 80",
    );

    let ex = examples();
    let check = |from: &str, to: &str, port: &str| {
        run(&[
            "netpol-scaffold",
            "check",
            "-f",
            &ex,
            "--from",
            from,
            "--to",
            to,
            "--port",
            port,
        ])
    };
    assert_clean_error(
        &check("shop", "payments/mysql", "3306"),
        2,
        "endpoint \"shop\"",
    );
    assert_clean_error(
        &check("shop/app=frontend", "payments/mysql", "99999"),
        2,
        "--port: port 99999",
    );
    assert_clean_error(
        &check("shop/app=frontend", "payments/mysql", "3306/ICMP"),
        2,
        "ICMP",
    );
    assert_clean_error(
        &check("shop/nope", "payments/mysql", "3306"),
        2,
        "no pod or workload shop/nope",
    );
    assert_clean_error(
        &check("shop/frontend", "payments/svc/mysql", "80"),
        2,
        "Service payments/mysql has no port 80/TCP",
    );

    let missing = dir.path().join("missing.yaml").display().to_string();
    assert_clean_error(
        &run(&["netpol-scaffold", "check", "--cases", &missing, "-f", &ex]),
        3,
        "missing.yaml",
    );
    let cases = dir.path().join("cases.yaml");
    std::fs::write(&cases, "- {from: shop/frontend, port: 80}\n").expect("write");
    assert_clean_error(
        &run(&[
            "netpol-scaffold",
            "check",
            "--cases",
            &cases.display().to_string(),
            "-f",
            &ex,
        ]),
        3,
        "cases.yaml: case 1: missing to",
    );
    std::fs::write(
        &cases,
        "- {from: shop/frontend, to: shop/nothing, port: 80, expected: ALLOW}\n",
    )
    .expect("write");
    assert_clean_error(
        &run(&[
            "netpol-scaffold",
            "check",
            "--cases",
            &cases.display().to_string(),
            "-f",
            &ex,
        ]),
        3,
        "case 1: no pod or workload shop/nothing",
    );
    // clap's own usage errors (several lines, with a hint) keep exit 2.
    let svg = run(&["netpol-scaffold", "matrix", "--format", "svg", "-f", &ex]);
    assert_eq!(svg.status.code(), Some(2));
    assert!(stderr(&svg).contains("svg"), "{}", stderr(&svg));

    // No cluster: the contract's exit 4.
    let out = harness::kubectl(&["netpol-scaffold", "-A"])
        .output()
        .expect("run");
    assert_clean_error(&out, 4, "kubeconfig");
}

#[test]
fn scaffold_proposes_safe_default_deny_and_proves_it() {
    let ex = examples();
    let args = [
        "netpol-scaffold",
        "scaffold",
        "-n",
        "shop",
        "-f",
        &ex,
        "--allow-dns",
        "--ingress-from",
        "auto",
        "--expose",
        "frontend",
        "--infer",
        "--allow",
        "frontend->svc-less-typo:80",
    ];
    // A bad --allow is a usage error before anything is written.
    assert_clean_error(&run(&args), 2, "no workload or pod shop/svc-less-typo");

    let args = [
        "netpol-scaffold",
        "scaffold",
        "-n",
        "shop",
        "-f",
        &ex,
        "--allow-dns",
        "--ingress-from",
        "auto",
        "--expose",
        "frontend",
        "--infer",
        "--allow",
        "frontend->shop/svc/checkout:8080",
    ];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    for name in [
        "name: default-deny\n",
        "name: allow-dns-egress\n",
        "name: allow-ingress-from-ingress-nginx\n",
        "name: allow-frontend-to-checkout\n",
        "name: allow-frontend-egress-to-checkout\n",
        "name: allow-checkout-egress-to-payments-api\n",
    ] {
        assert!(yaml.contains(name), "{name:?} missing:\n{yaml}");
    }
    assert!(
        stderr(&out)
            .contains("checked with the evaluator: DNS and every requested connection allowed"),
        "{}",
        stderr(&out)
    );

    // Applied on top of the examples: DNS works, the namespace is isolated both ways, and the
    // connections asked for (and the one inferred from checkout's PAYMENTS_URL) still work.
    let dir = tempfile::tempdir().expect("tmp");
    let proposed = dir.path().join("shop.yaml");
    std::fs::write(&proposed, &yaml).expect("write");
    let p = proposed.display().to_string();
    let report = json_of(&run(&[
        "netpol-scaffold",
        "-f",
        &ex,
        "-f",
        &p,
        "-n",
        "shop",
        "-o",
        "json",
    ]));
    assert!(
        !rule_and_name(&report)
            .iter()
            .any(|(r, _)| r == "egress-deny-without-dns" || r.starts_with("pod-")),
        "{:?}",
        rule_and_name(&report)
    );
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        "- {from: ingress-nginx/ingress-nginx-controller, to: shop/svc/frontend, port: 80, expected: ALLOW}\n\
         - {from: shop/frontend, to: shop/svc/checkout, port: 8080, expected: ALLOW}\n\
         - {from: shop/checkout, to: payments/svc/payments-api, port: 8080, expected: ALLOW}\n\
         - {from: shop/frontend, to: payments/svc/payments-api, port: 8080, expected: DENY}\n\
         - {from: shop/web-cache, to: kube-system/svc/kube-dns, port: 53, protocol: UDP, expected: ALLOW}\n\
         - {from: shop/checkout, to: 203.0.113.10, port: 443, expected: DENY}\n\
         - {from: monitoring/prometheus, to: shop/svc/checkout, port: 8080, expected: DENY}\n",
    )
    .expect("write");
    let c = cases.display().to_string();
    let out = run(&[
        "netpol-scaffold",
        "check",
        "--cases",
        &c,
        "-f",
        &ex,
        "-f",
        &p,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // --out-dir: one file per policy, numbered in apply order.
    let out_dir = dir.path().join("policies");
    let o = out_dir.display().to_string();
    let written = run(&[
        "netpol-scaffold",
        "scaffold",
        "-n",
        "shop",
        "-f",
        &ex,
        "--yes",
        "--out-dir",
        &o,
    ]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // Allows first, the default-deny last: `kubectl apply -f DIR` never denies in between.
    assert_eq!(files[0], "01-allow-dns-egress.yaml");
    assert_eq!(
        files.last().map(String::as_str),
        Some(format!("{:02}-default-deny.yaml", files.len()).as_str())
    );
    assert!(
        files.iter().all(|f| !f.starts_with('.')),
        "no temp files left: {files:?}"
    );

    // Without the DNS allow, the self-check says what breaks.
    let bare = run(&["netpol-scaffold", "scaffold", "-n", "shop", "-f", &ex]);
    assert!(
        stderr(&bare).contains("cannot resolve names"),
        "{}",
        stderr(&bare)
    );

    assert_clean_error(
        &run(&["netpol-scaffold", "scaffold", "-f", &ex]),
        2,
        "pass -n NS",
    );
    assert_clean_error(
        &run(&["netpol-scaffold", "scaffold", "-n", "nowhere", "-f", &ex]),
        2,
        "namespace nowhere not found",
    );
    assert_clean_error(
        &run(&[
            "netpol-scaffold",
            "scaffold",
            "-n",
            "shop",
            "-f",
            &ex,
            "--ingress-from",
            "auto",
        ]),
        2,
        "--ingress-from needs --expose",
    );
}

#[test]
fn scaffold_live_equals_offline() {
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(example_objects()),
        ..ApiServerConfig::default()
    });
    let args = [
        "netpol-scaffold",
        "scaffold",
        "-n",
        "payments",
        "--yes",
        "--allow",
        "payments-api->mysql:3306",
    ];
    let live = server.kubectl(&args).output().expect("run");
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    let mut offline_args = args.to_vec();
    let ex = examples();
    offline_args.extend(["-f", &ex]);
    let offline = run(&offline_args);
    assert_eq!(stdout(&live), stdout(&offline));
    assert!(
        stdout(&live).contains("name: allow-checkout-to-payments-api"),
        "{}",
        stdout(&live)
    );
}

/// The NetworkPolicies in `ns` on the test API server, by name, with their labels (through kubectl).
fn live_policies(server: &TestApiServer, ns: &str) -> Vec<(String, Value)> {
    let out = server
        .kubectl(&["get", "networkpolicies", "-n", ns, "-o", "json"])
        .output()
        .expect("kubectl get");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut names: Vec<(String, Value)> = json_of(&out)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                p["metadata"]["labels"].clone(),
            )
        })
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names
}

/// Real (not dry-run) NetworkPolicy writes the server received, as "METHOD name".
fn writes(server: &TestApiServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter(|r| {
            r.method != "GET" && r.param("dryRun").is_none() && r.path.contains("/networkpolicies")
        })
        .map(|r| {
            let name = match r.method.as_str() {
                "POST" => r
                    .body
                    .as_ref()
                    .and_then(|b| b["metadata"]["name"].as_str())
                    .unwrap_or("")
                    .to_string(),
                _ => r.path.rsplit('/').next().unwrap_or("").to_string(),
            };
            format!("{} {name}", r.method)
        })
        .collect()
}

const SCAFFOLD_LIVE: [&str; 5] = ["netpol-scaffold", "scaffold", "-n", "shop", "--allow-dns"];

#[test]
fn apply_previews_and_refuses_without_yes_and_writes_nothing() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let before = live_policies(&server, "shop");

    let dry = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply", "--dry-run=server"]].concat())
        .output()
        .expect("run");
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let text = stdout(&dry);
    assert!(
        text.contains("# networkpolicy.networking.k8s.io/default-deny -n shop: create")
            && text.contains("+  name: default-deny")
            && text.contains("+    netpol-scaffold.guardrails.dev/run: "),
        "{text}"
    );
    assert!(text.contains("dry run: server"), "{text}");
    // The server was asked (dryRun=All) for each creation, but nothing was written.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.param("dryRun") == Some("All")),
    );
    assert_eq!(writes(&server), Vec::<String>::new());

    let client = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply", "--dry-run"]].concat())
        .output()
        .expect("run");
    assert_eq!(client.status.code(), Some(0), "{}", stderr(&client));
    assert!(stdout(&client).contains("dry run: client"));

    // No terminal and no --yes: refused with exit 5 after showing the diff.
    let refused = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply"]].concat())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(stdout(&refused).contains("+  name: default-deny"));
    assert_eq!(writes(&server), Vec::<String>::new());
    assert_eq!(live_policies(&server, "shop"), before);

    // -f files are not a cluster to write to.
    let ex = examples();
    assert_clean_error(
        &run(&[&SCAFFOLD_LIVE[..], &["--apply", "-f", &ex]].concat()),
        2,
        "drop -f",
    );
    assert_clean_error(
        &run(&[&SCAFFOLD_LIVE[..], &["--dry-run=server", "-f", &ex]].concat()),
        2,
        "use it with --apply or --rollback",
    );
}

#[test]
fn apply_creates_allows_before_the_deny_and_rollback_removes_exactly_them() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let before = live_policies(&server, "shop");
    let applied = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply", "--yes"]].concat())
        .output()
        .expect("run");
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let text = stdout(&applied);
    assert!(
        text.contains("networkpolicy.networking.k8s.io/default-deny -n shop created"),
        "{text}"
    );

    // The server's request log: every allow is created before the default-deny, which is last.
    let created = writes(&server);
    assert!(created.len() >= 2, "{created:?}");
    assert!(
        created.iter().all(|w| w.starts_with("POST ")),
        "{created:?}"
    );
    assert_eq!(
        created.last().map(String::as_str),
        Some("POST default-deny")
    );

    // kubectl sees them, labelled with the run and the manager; the user's policies are untouched.
    let after = live_policies(&server, "shop");
    let new: Vec<&(String, Value)> = after.iter().filter(|p| !before.contains(p)).collect();
    let mut new_names: Vec<String> = new.iter().map(|p| format!("POST {}", p.0)).collect();
    new_names.sort();
    let mut sorted_created = created.clone();
    sorted_created.sort();
    assert_eq!(new_names, sorted_created);
    let run_ids: std::collections::BTreeSet<&str> = new
        .iter()
        .map(|p| {
            assert_eq!(
                p.1["app.kubernetes.io/managed-by"],
                "kubectl-netpol-scaffold"
            );
            p.1["netpol-scaffold.guardrails.dev/run"]
                .as_str()
                .expect("run label")
        })
        .collect();
    assert_eq!(run_ids.len(), 1, "{run_ids:?}");
    let run_id = run_ids
        .iter()
        .next()
        .copied()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains(&format!("--rollback {run_id}")), "{text}");
    let posts = server.requests();
    for r in posts
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/networkpolicies"))
    {
        assert_eq!(r.param("fieldManager"), Some("kubectl-netpol-scaffold"));
    }

    // A second apply finds them all in place.
    server.clear_requests();
    let again = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply", "--yes"]].concat())
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again)
            .contains("default-deny -n shop already exists with the proposed spec: unchanged")
            && stdout(&again).contains("nothing to create"),
        "{}",
        stdout(&again)
    );
    assert_eq!(writes(&server), Vec::<String>::new());

    // Rollback: refused without --yes, then deletes exactly the run's objects, the deny first.
    let refused = server
        .kubectl(&["netpol-scaffold", "scaffold", "-n", "shop", "--rollback"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert_eq!(writes(&server), Vec::<String>::new());
    let rolled = server
        .kubectl(&[
            "netpol-scaffold",
            "scaffold",
            "-n",
            "shop",
            "--rollback",
            &run_id,
            "--yes",
        ])
        .output()
        .expect("run");
    assert_eq!(rolled.status.code(), Some(0), "{}", stderr(&rolled));
    let deleted = writes(&server);
    assert_eq!(
        deleted.first().map(String::as_str),
        Some("DELETE default-deny")
    );
    let mut deleted_names: Vec<String> = deleted
        .iter()
        .map(|d| d.replace("DELETE", "POST"))
        .collect();
    deleted_names.sort();
    assert_eq!(deleted_names, sorted_created);
    assert_eq!(live_policies(&server, "shop"), before);

    let none = server
        .kubectl(&[
            "netpol-scaffold",
            "scaffold",
            "-n",
            "shop",
            "--rollback",
            "--yes",
        ])
        .output()
        .expect("run");
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
    assert!(
        stdout(&none).contains("nothing to roll back"),
        "{}",
        stdout(&none)
    );
}

#[test]
fn plan_shows_the_flows_the_deny_would_break_live_and_offline_alike() {
    let ex = examples();
    let offline = run(&[
        "netpol-scaffold",
        "plan",
        "-n",
        "shop",
        "-f",
        &ex,
        "-o",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    let plan = json_of(&offline);
    assert_eq!(plan["kind"], "NetpolPlan");
    // The default proposal (DNS + inferred allows) keeps DNS and checkout -> payments-api, but
    // its egress deny cuts the frontend off from checkout inside shop.
    assert_eq!(
        plan["applyOrder"].as_array().and_then(|a| a.last()),
        Some(&Value::from("default-deny"))
    );
    let breaks = plan["breaks"].as_array().expect("breaks");
    let frontend_checkout = breaks
        .iter()
        .find(|b| b["from"] == "Deployment/shop/frontend" && b["to"] == "Deployment/shop/checkout");
    let b = frontend_checkout.unwrap_or_else(|| panic!("{breaks:?}"));
    assert_eq!(b["port"], 8080);
    assert_eq!(b["via"], "Service shop/checkout");
    assert!(
        b["deniedBy"]
            .to_string()
            .contains("shop/default-deny (egress isolated"),
        "{b}"
    );
    assert!(
        !breaks
            .iter()
            .any(|b| b["via"] == "DNS" || b["to"] == "Deployment/payments/payments-api"),
        "DNS and the inferred allow stay open: {breaks:?}"
    );

    // A deny-only proposal given as a file also cuts ingress to the frontend from the controller.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("deny.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: monitoring}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
    )
    .expect("write");
    let f = file.display().to_string();
    let table = run(&[
        "netpol-scaffold",
        "plan",
        "-n",
        "monitoring",
        "-f",
        &ex,
        "--policies",
        &f,
    ]);
    let text = stdout(&table);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    assert!(
        text.contains("Deployment/shop/frontend")
            && text.contains("Deployment/monitoring/prometheus")
            && text.contains("monitoring/deny-all (ingress isolated")
            && text.contains("apply order: deny-all"),
        "{text}"
    );

    // Live against the test API server (its recording predates the examples' shop policies and
    // kube-system objects, so only the shared part is compared): the same break and order.
    let server = TestApiServer::start(ApiServerConfig::default());
    let live = json_of(
        &server
            .kubectl(&["netpol-scaffold", "plan", "-n", "shop", "-o", "json"])
            .output()
            .expect("run"),
    );
    assert_eq!(live["applyOrder"], plan["applyOrder"]);
    let live_breaks = live["breaks"].as_array().expect("breaks");
    assert!(
        live_breaks.iter().any(|l| l["from"] == b["from"]
            && l["to"] == b["to"]
            && l["port"] == b["port"]
            && l["via"] == b["via"]),
        "{live_breaks:?}"
    );
}

#[test]
fn apply_leaves_a_differing_policy_of_the_same_name_alone() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("own.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
    )
    .expect("write");
    let created = server
        .kubectl(&[
            "create",
            "--validate=false",
            "-f",
            &file.display().to_string(),
        ])
        .output()
        .expect("kubectl create");
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    server.clear_requests();

    let applied = server
        .kubectl(&[&SCAFFOLD_LIVE[..], &["--apply", "--yes"]].concat())
        .output()
        .expect("run");
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert!(
        stdout(&applied).contains(
            "networkpolicy.networking.k8s.io/default-deny -n shop already exists with a different spec: skipped"
        ),
        "{}",
        stdout(&applied)
    );
    let sent = writes(&server);
    assert!(!sent.is_empty(), "the allows are still created");
    assert!(
        !sent.iter().any(|w| w.ends_with(" default-deny")),
        "{sent:?}"
    );
    let own = live_policies(&server, "shop");
    let deny = own
        .iter()
        .find(|p| p.0 == "default-deny")
        .expect("still there");
    assert!(
        deny.1.get("netpol-scaffold.guardrails.dev/run").is_none(),
        "{deny:?}"
    );
}

#[test]
fn admin_network_policies_in_the_input_are_warned_about() {
    let dir = tempfile::tempdir().expect("tmp");
    let anp = dir.path().join("anp.yaml");
    std::fs::write(
        &anp,
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: cluster-wide}\nspec: {priority: 10, subject: {namespaces: {}}, ingress: []}\n",
    )
    .expect("write");
    let with = run(&[
        "netpol-scaffold",
        "-f",
        &examples(),
        "-f",
        &anp.display().to_string(),
        "--fail-on",
        "never",
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert!(
        stderr(&with).contains("1 admin network policies in the files: AdminNetworkPolicy/BaselineAdminNetworkPolicy take precedence"),
        "{}",
        stderr(&with)
    );
    let without = run(&["netpol-scaffold", "-f", &examples(), "--fail-on", "never"]);
    assert!(
        !stderr(&without).contains("AdminNetworkPolicy"),
        "{}",
        stderr(&without)
    );
}
