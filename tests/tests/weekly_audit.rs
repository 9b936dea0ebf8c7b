//! The weekly audit and the score report end to end: `examples/weekly-audit.sh` runs the four
//! plugins through the real kubectl (plugin discovery on PATH), offline on the examples and
//! live against the test API server, and `kubectl <plugin> scorecard` folds their reports into
//! the dated Markdown + JSON report, compared with the previous one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guardrails_e2e::e2e::{
    assert_clean_error, examples, json_of, recorded_cluster_file, repo, run, stderr, stdout,
};
use guardrails_e2e::{ApiServerConfig, TestApiServer, harness};
use serde_json::Value;

const PLUGINS: [(&str, &str); 4] = [
    ("rbac", "rbac-audit"),
    ("network", "netpol-scaffold"),
    ("images", "image-pins"),
    ("runtime", "harden"),
];

/// `sh examples/weekly-audit.sh ARGS` with the built plugins on PATH and a private HOME.
fn weekly_audit(args: &[&str], kubeconfig: Option<&Path>) -> Output {
    weekly_audit_command(args, kubeconfig)
        .output()
        .expect("sh runs")
}

fn weekly_audit_command(args: &[&str], kubeconfig: Option<&Path>) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("examples/weekly-audit.sh"))
        .args(args)
        .env("PATH", harness::plugin_path_env())
        .env("KUBECTL", harness::kubectl_binary())
        .env("NO_COLOR", "1")
        .env("HOME", harness::fresh_home())
        .env_remove("KUBECONFIG");
    if let Some(k) = kubeconfig {
        cmd.env("KUBECONFIG", k);
    }
    cmd
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn area<'a>(card: &'a Value, name: &str) -> &'a Value {
    card["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .find(|a| a["area"] == name)
        .unwrap_or_else(|| panic!("no area {name} in {card}"))
}

fn ids(findings: &Value) -> BTreeSet<String> {
    findings
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

/// The raw report the script kept for `plugin` in the run of `date`.
fn raw(out: &Path, date: &str, plugin: &str) -> Value {
    read_json(&out.join(date).join(format!("{plugin}.json")))
}

fn check<'a>(card: &'a Value, starts: &str) -> &'a Value {
    card["weeklyChecks"]
        .as_array()
        .expect("weeklyChecks")
        .iter()
        .find(|c| c["check"].as_str().is_some_and(|s| s.starts_with(starts)))
        .unwrap_or_else(|| panic!("no check {starts:?}"))
}

#[test]
fn offline_run_writes_the_dated_report_with_each_plugins_own_score() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_dir = dir.path().join("reports");
    let out = out_dir.display().to_string();
    let ex = examples();
    let args = ["--out", &out, "--date", "2026-11-18"];
    let o = weekly_audit(&[&args[..], &["--", "-f", &ex, "-R"]].concat(), None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "high findings fail by default: {}",
        stderr(&o)
    );
    let markdown = std::fs::read_to_string(out_dir.join("guardrails-report-2026-11-18.md"))
        .expect("markdown written");
    assert_eq!(stdout(&o), markdown, "the Markdown is also printed");
    let card = read_json(&out_dir.join("guardrails-report-2026-11-18.json"));
    assert_eq!(card["apiVersion"], "guardrails/v1");
    assert_eq!(card["kind"], "Scorecard");
    assert_eq!(card["date"], "2026-11-18");
    assert_eq!(card["missing"], serde_json::json!([]));

    let mut total = 0.0;
    for (name, plugin) in PLUGINS {
        let a = area(&card, name);
        assert_eq!(a["plugin"], plugin);
        // The score is the plugin's own: the kept raw report, and a direct run agree.
        let kept = raw(&out_dir, "2026-11-18", plugin);
        assert_eq!(a["summary"], kept["summary"], "{plugin}");
        let direct = json_of(&run(&[plugin, "-f", &ex, "-o", "json"]));
        assert_eq!(a["summary"], direct["summary"], "{plugin}");
        assert_eq!(ids(&a["findings"]), ids(&direct["findings"]), "{plugin}");
        assert!(!a["findings"].as_array().expect("f").is_empty(), "{plugin}");
        total += a["summary"]["score"].as_f64().expect("score");
        assert!(
            markdown.contains(&format!(
                "## {} (`kubectl {plugin}`): {}/100",
                a["area"].as_str().map(title).unwrap_or_default(),
                a["summary"]["score"]
            )),
            "{markdown}"
        );
    }
    assert_eq!(card["overall"].as_f64(), Some((total / 4.0).round()));
    assert!(markdown.contains(&format!("**Overall score: {}/100**", card["overall"])));

    // The first guide's weekly loop, answered.
    let admin = check(&card, "Bindings that grant cluster-admin");
    assert_eq!(
        admin["objects"],
        serde_json::json!(["ClusterRoleBinding/ci-deployer-cluster-admin"])
    );
    let wildcard = check(&card, "RBAC rules using wildcards");
    assert!(
        wildcard["objects"]
            .as_array()
            .expect("objects")
            .contains(&"Role/shop/shop-developer".into())
    );
    let no_policy = check(&card, "Namespaces with zero NetworkPolicies");
    assert_eq!(
        no_policy["objects"],
        serde_json::json!(["Namespace/ingress-nginx", "Namespace/monitoring"])
    );
    let dangerous = check(
        &card,
        "Bindings that let an identity do something dangerous",
    );
    assert!(
        dangerous["objects"]
            .as_array()
            .expect("objects")
            .contains(&"ClusterRoleBinding/ingress-nginx".into()),
        "{dangerous}"
    );
    for section in [
        "## Weekly checks",
        "| Namespaces with zero NetworkPolicies (default-allow) | **2**: `Namespace/ingress-nginx`, `Namespace/monitoring` |",
        "## Changes\n\nFirst report: no previous report to compare with.",
        "| RBAC | `rbac-audit` |",
    ] {
        assert!(
            markdown.contains(section),
            "{section:?} not in:\n{markdown}"
        );
    }

    // --fail-on never: exit 0, and the same day's run replaces the files in place.
    let o = weekly_audit(
        &[&args[..], &["--fail-on", "never", "--", "-f", &ex, "-R"]].concat(),
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        read_json(&out_dir.join("guardrails-report-2026-11-18.json"))["changes"]["since"],
        Value::Null,
        "a report is not compared with itself"
    );
}

fn title(area: &str) -> String {
    match area {
        "rbac" => "RBAC".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// A copy of the examples where the cluster-admin binding is gone and a new `:latest`
/// Deployment has appeared.
fn next_week_examples(dir: &Path) -> PathBuf {
    let copy = dir.join("cluster");
    std::fs::create_dir_all(&copy).expect("mkdir");
    for entry in std::fs::read_dir(repo().join("examples/cluster")).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let kept: Vec<&str> = text
            .split("\n---\n")
            .filter(|doc| !doc.contains("name: ci-deployer-cluster-admin"))
            .collect();
        std::fs::write(
            copy.join(path.file_name().expect("name")),
            kept.join("\n---\n"),
        )
        .expect("write");
    }
    std::fs::write(
        copy.join("70-debug-shell.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: debug-shell\n  namespace: payments\n\
         spec:\n  selector:\n    matchLabels: {app: debug-shell}\n  template:\n    metadata:\n      \
         labels: {app: debug-shell}\n    spec:\n      containers:\n      - name: shell\n        \
         image: busybox:latest\n",
    )
    .expect("write");
    copy
}

#[test]
fn next_weeks_run_lists_new_and_fixed_findings_and_score_changes() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_dir = dir.path().join("reports");
    let out = out_dir.display().to_string();
    let ex = examples();
    let first = weekly_audit(
        &[
            "--out",
            &out,
            "--date",
            "2026-11-18",
            "--fail-on",
            "never",
            "--",
            "-f",
            &ex,
        ],
        None,
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let changed = next_week_examples(dir.path()).display().to_string();
    let second = weekly_audit(
        &[
            "--out",
            &out,
            "--date",
            "2026-11-25",
            "--fail-on",
            "never",
            "--",
            "-f",
            &changed,
        ],
        None,
    );
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("guardrails-report-2026-11-18.json"),
        "the newest earlier report is found: {}",
        stderr(&second)
    );
    let card = read_json(&out_dir.join("guardrails-report-2026-11-25.json"));
    let changes = &card["changes"];
    assert_eq!(changes["since"], "2026-11-18");

    // new / fixed are exactly the set differences of the plugins' own finding ids.
    let mut expect_new = BTreeSet::new();
    let mut expect_fixed = BTreeSet::new();
    let mut still_open = 0;
    for (name, plugin) in PLUGINS {
        let before = ids(&raw(&out_dir, "2026-11-18", plugin)["findings"]);
        let after = ids(&raw(&out_dir, "2026-11-25", plugin)["findings"]);
        expect_new.extend(after.difference(&before).cloned());
        expect_fixed.extend(before.difference(&after).cloned());
        still_open += after.intersection(&before).count();
        let a = area(&card, name);
        let then = raw(&out_dir, "2026-11-18", plugin)["summary"]["score"]
            .as_i64()
            .expect("score");
        assert_eq!(
            a["scoreChange"].as_i64(),
            Some(a["summary"]["score"].as_i64().expect("score") - then),
            "{plugin}"
        );
    }
    assert_eq!(ids(&changes["new"]), expect_new);
    assert_eq!(ids(&changes["fixed"]), expect_fixed);
    assert_eq!(changes["stillOpen"].as_u64(), Some(still_open as u64));
    let listed = |list: &Value, rule: &str, name: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .any(|f| f["rule"] == rule && f["object"]["name"] == name)
    };
    assert!(listed(
        &changes["fixed"],
        "cluster-admin-binding",
        "ci-deployer-cluster-admin"
    ));
    assert!(listed(&changes["new"], "image-latest-tag", "debug-shell"));
    assert!(listed(
        &changes["new"],
        "pss-allow-privilege-escalation",
        "debug-shell"
    ));
    assert!(area(&card, "rbac")["scoreChange"].as_i64().expect("change") > 0);
    assert!(
        area(&card, "images")["scoreChange"]
            .as_i64()
            .expect("change")
            < 0
    );
    let previous = read_json(&out_dir.join("guardrails-report-2026-11-18.json"));
    assert_eq!(
        changes["overallChange"].as_i64(),
        Some(card["overall"].as_i64().expect("o") - previous["overall"].as_i64().expect("o"))
    );
    assert_eq!(
        check(&card, "Bindings that grant cluster-admin")["count"],
        0,
        "fixed this week"
    );

    // Any plugin's `scorecard` on the kept raw reports, printing JSON only: the same report,
    // compared with the week named by --previous.
    let raw_reports: Vec<String> = PLUGINS
        .iter()
        .map(|(_, p)| out_dir.join("2026-11-25").join(format!("{p}.json")))
        .map(|p| p.display().to_string())
        .collect();
    let week1 = out_dir.join("guardrails-report-2026-11-18.json");
    let mut args = vec![
        "image-pins",
        "scorecard",
        "-o",
        "json",
        "--date",
        "2026-11-25",
    ];
    args.extend(raw_reports.iter().map(String::as_str));
    let week1_arg = week1.display().to_string();
    args.extend(["--previous", &week1_arg, "--fail-on", "critical"]);
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "critical findings remain: {}",
        stderr(&o)
    );
    let printed = json_of(&o);
    assert_eq!(printed["areas"], card["areas"]);
    assert_eq!(printed["changes"], card["changes"]);

    let markdown = stdout(&second);
    let images = area(&card, "images");
    for needle in [
        format!(
            "## Changes since 2026-11-18\n\n{} new, {} fixed, {} still open.",
            expect_new.len(),
            expect_fixed.len(),
            still_open
        ),
        "### New".to_string(),
        "### Fixed".to_string(),
        "| CRITICAL | RBAC | `cluster-admin-binding` | `ClusterRoleBinding/ci-deployer-cluster-admin` |"
            .to_string(),
        format!(
            "| Images | `image-pins` | {}/100 | {} |",
            images["summary"]["score"], images["scoreChange"]
        ),
        "| Bindings that grant cluster-admin (or an equivalent */*/* role) | none |".to_string(),
    ] {
        assert!(markdown.contains(&needle), "{needle:?} not in:\n{markdown}");
    }
}

#[test]
fn bad_reports_and_failing_plugins_give_the_contracts_exit_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("monday.json");
    std::fs::write(&bad, "{\"apiVersion\": \"guardrails/v1\", \"kind\": \"Rep").expect("write");
    let bad = bad.display().to_string();
    for plugin in ["rbac-audit", "netpol-scaffold", "image-pins", "harden"] {
        let o = run(&[plugin, "scorecard", &bad]);
        assert_clean_error(&o, 3, "monday.json: not JSON");
    }
    let list = dir.path().join("pods.json");
    std::fs::write(
        &list,
        r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
    )
    .expect("w");
    let o = run(&["harden", "scorecard", &list.display().to_string()]);
    assert_clean_error(&o, 3, "pods.json: not a guardrails/v1 Report");
    // The previous report found in --out is read too: a damaged one is named, nothing written.
    let reports = dir.path().join("weekly");
    std::fs::create_dir_all(&reports).expect("mkdir");
    std::fs::write(reports.join("guardrails-report-2026-11-11.json"), "[]").expect("write");
    let kept = dir.path().join("rbac.json");
    let scan = run(&[
        "rbac-audit",
        "-f",
        &examples(),
        "-o",
        "json",
        "--fail-on",
        "never",
    ]);
    std::fs::write(&kept, &scan.stdout).expect("write");
    let o = run(&[
        "netpol-scaffold",
        "scorecard",
        &kept.display().to_string(),
        "--out",
        &reports.display().to_string(),
        "--date",
        "2026-11-18",
    ]);
    assert_clean_error(
        &o,
        3,
        "guardrails-report-2026-11-11.json: not a guardrails/v1 Scorecard",
    );
    assert!(!reports.join("guardrails-report-2026-11-18.md").exists());
    let o = run(&[
        "harden",
        "scorecard",
        "-o",
        "sarif",
        &list.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A plugin's input error stops the run, named, with its exit code, and no report.
    let out = dir.path().join("reports");
    let o = weekly_audit(
        &[
            "--out",
            &out.display().to_string(),
            "--",
            "-f",
            &dir.path().join("missing.yaml").display().to_string(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("weekly-audit: kubectl rbac-audit scan failed (exit 3)"),
        "{}",
        stderr(&o)
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("guardrails-report-")
        })
        .collect();
    assert!(written.is_empty(), "no score report after a failed scan");

    // A live run without a kubeconfig is a cluster error (4), named.
    let o = weekly_audit(&["--out", &out.display().to_string(), "--", "-A"], None);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("kubectl rbac-audit scan failed (exit 4)"));

    let o = weekly_audit(&["--bogus"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn live_and_offline_give_the_same_scorecard() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = server.write_kubeconfig(dir.path(), None);
    let live_out = dir.path().join("live");
    let o = weekly_audit(
        &[
            "--out",
            &live_out.display().to_string(),
            "--date",
            "2026-11-25",
            "--fail-on",
            "never",
            "--",
            "-A",
        ],
        Some(&kubeconfig),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let live = read_json(&live_out.join("guardrails-report-2026-11-25.json"));
    assert_eq!(live["source"]["context"], "test");
    assert!(stdout(&o).contains("(context `test`)"), "{}", stdout(&o));

    let file = recorded_cluster_file(dir.path());
    let offline_out = dir.path().join("offline");
    let o = weekly_audit(
        &[
            "--out",
            &offline_out.display().to_string(),
            "--date",
            "2026-11-25",
            "--fail-on",
            "never",
            "--",
            "-f",
            &file,
            "-A",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let offline = read_json(&offline_out.join("guardrails-report-2026-11-25.json"));
    for (name, _) in PLUGINS {
        let (l, f) = (area(&live, name), area(&offline, name));
        assert_eq!(
            l["findings"], f["findings"],
            "{name}: same findings, ids included"
        );
        assert_eq!(l["summary"], f["summary"], "{name}");
    }
    assert_eq!(live["overall"], offline["overall"]);
    assert_eq!(live["weeklyChecks"], offline["weeklyChecks"]);
}

#[test]
fn kubectl_completes_the_scorecard_flags_and_report_files() {
    let flags = stdout(&run(&["__complete", "harden", "scorecard", "--p"]));
    assert!(flags.contains("--previous"), "{flags}");
    // The reports are files: the shell's own path completion (directive :0).
    let files = stdout(&run(&["__complete", "rbac-audit", "scorecard", ""]));
    assert_eq!(files.trim_end().lines().last(), Some(":0"), "{files}");
    let subcommands = stdout(&run(&["__complete", "netpol-scaffold", "sc"]));
    assert!(subcommands.contains("scorecard\t"), "{subcommands}");
}

#[test]
fn the_readme_shows_the_real_report_on_the_examples() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let shown = readme
        .split("<!-- weekly-audit-example:begin -->\n```markdown\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- weekly-audit-example:end -->").next())
        .expect("the README's weekly-audit example block");
    // Run where the README's command runs: `examples/` beside the output folder.
    let dir = tempfile::tempdir().expect("tmp");
    std::os::unix::fs::symlink(repo().join("examples"), dir.path().join("examples"))
        .expect("symlink");
    let args = [
        "--out",
        "reports",
        "--date",
        "2026-11-18",
        "--",
        "-f",
        "examples/cluster",
    ];
    let o = weekly_audit_command(&args, None)
        .current_dir(dir.path())
        .output()
        .expect("sh runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let markdown = stdout(&o);
    assert!(
        markdown.starts_with(shown),
        "README.md's weekly-audit example is out of date; replace it with the start of:\n{markdown}"
    );
}

/// The README's first command runs `examples/audit.sh`: the four steps, then the score report.
#[test]
fn the_bundled_demo_runs_every_step_and_ends_with_the_score_report() {
    let out = Command::new("sh")
        .arg(repo().join("examples/audit.sh"))
        .env("PATH", harness::plugin_path_env())
        .env("NO_COLOR", "1")
        .env("HOME", harness::fresh_home())
        .env_remove("KUBECONFIG")
        .output()
        .expect("sh runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut at = 0;
    for header in [
        "=== kubectl rbac-audit",
        "=== kubectl netpol-scaffold",
        "=== kubectl image-pins",
        "=== kubectl harden",
        "=== the score report",
        "**Overall score: ",
        "## Weekly checks",
    ] {
        let found = text[at..]
            .find(header)
            .unwrap_or_else(|| panic!("{header:?} missing or out of order in:\n{text}"));
        at += found + header.len();
    }
    assert!(
        !text.contains("## Changes"),
        "only the headline part is shown"
    );
}
