//! `kubectl harden fix` and `undo` end to end through the real kubectl: format-preserving edits
//! of copied example files, and guarded patches of live controllers on the test API server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use guardrails_e2e::{ApiServerConfig, TestApiServer, harness};
use serde_json::{Value, json};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("examples/cluster")
}

fn run(args: &[&str]) -> Output {
    harness::kubectl(args)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn copy_examples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for entry in std::fs::read_dir(examples()).expect("examples") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if name.contains("workloads") {
            std::fs::copy(&path, dir.path().join(name)).expect("copy");
        }
    }
    dir
}

fn read_all(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

fn pss_rules(dir: &Path) -> BTreeSet<String> {
    let out = run(&[
        "harden",
        "-f",
        &dir.display().to_string(),
        "--rules",
        "pss",
        "-o",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn fixing_files_leaves_only_the_fixes_that_need_asking_and_keeps_comments() {
    let dir = copy_examples();
    let d = dir.path().display().to_string();
    let before = read_all(dir.path());
    assert!(pss_rules(dir.path()).contains("pss-run-as-non-root"));

    // Without a terminal and without --yes: diff shown, nothing written, exit 5.
    let refused = run(&["harden", "fix", "-f", &d]);
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused.stderr));
    assert!(text(&refused.stdout).contains("+          allowPrivilegeEscalation: false"));
    assert_eq!(read_all(dir.path()), before);

    // --dry-run writes nothing either.
    let dry = run(&["harden", "fix", "-f", &d, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert_eq!(read_all(dir.path()), before);

    let fixed = run(&["harden", "fix", "-f", &d, "--yes"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stderr));
    // Only the fixes that take something away (not asked for by --only) remain.
    let left = pss_rules(dir.path());
    let expected: BTreeSet<String> = [
        "pss-host-namespaces",
        "pss-privileged",
        "pss-restricted-volumes",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(left, expected);

    // Every original line is still there, in order (edits only insert or set values).
    let after = read_all(dir.path());
    for ((_, old), (name, new)) in before.iter().zip(&after) {
        let mut new_lines = new.lines();
        for line in old.lines() {
            if line.contains("allowPrivilegeEscalation") || line.contains("runAsNonRoot") {
                continue;
            }
            assert!(
                new_lines.any(|l| l == line),
                "{name}: line {line:?} lost or moved"
            );
        }
    }
    assert!(
        after[0]
            .1
            .starts_with("# shop (pod-security warn=restricted)")
    );

    // A second fix changes nothing.
    let again = run(&["harden", "fix", "-f", &d, "--yes"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stdout).contains("Nothing to fix."));
    assert_eq!(read_all(dir.path()), after);

    // Asked for by name, the fixes that take something away apply too — including the
    // hostPath volume's removal — and nothing is left to do by hand.
    let named = run(&[
        "harden",
        "fix",
        "-f",
        &d,
        "--only",
        "privileged,host-namespaces,volumes",
        "--yes",
    ]);
    assert_eq!(named.status.code(), Some(0), "{}", text(&named.stderr));
    assert!(
        !text(&named.stderr).contains("by hand"),
        "{}",
        text(&named.stderr)
    );
    assert_eq!(pss_rules(dir.path()), BTreeSet::new());
    let fully = read_all(dir.path());
    assert!(!fully.iter().any(|(_, t)| t.contains("hostPath:")));
    // Idempotent: neither a named nor a default second fix finds anything.
    for args in [vec!["--only", "privileged,host-namespaces,volumes"], vec![]] {
        let mut all = vec!["harden", "fix", "-f", &d, "--yes"];
        all.extend(args);
        let again = run(&all);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
        assert!(text(&again.stdout).contains("Nothing to fix."));
    }
    assert_eq!(read_all(dir.path()), fully);
}

#[test]
fn fixing_files_appends_to_existing_lists() {
    // mysql mounts a data volume: its /tmp mount and emptyDir are appended to the lists, so
    // its root filesystem becomes read-only too; a drop list without ALL gets ALL appended.
    let dir = copy_examples();
    let extra = dir.path().join("40-workloads-extra.yaml");
    std::fs::write(
        &extra,
        "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache, namespace: shop}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
      - name: cache
        image: redis:7   # the cache
        securityContext:
          capabilities:
            drop: [NET_RAW]   # why not all
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, emptyDir: {}}]
",
    )
    .expect("write");
    let d = dir.path().display().to_string();
    let fixed = run(&["harden", "fix", "-f", &d, "--yes"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stderr));
    assert!(
        !text(&fixed.stderr).contains("read-only"),
        "{}",
        text(&fixed.stderr)
    );
    let cache = std::fs::read_to_string(&extra).expect("read");
    assert!(
        cache.contains("drop: [NET_RAW, ALL]   # why not all"),
        "{cache}"
    );
    assert!(
        cache.contains(
            "volumeMounts: [{name: data, mountPath: /data}, {name: tmp, mountPath: /tmp}]"
        ),
        "{cache}"
    );
    assert!(
        cache.contains("volumes: [{name: data, emptyDir: {}}, {name: tmp, emptyDir: {}}]"),
        "{cache}"
    );
    let payments =
        std::fs::read_to_string(dir.path().join("31-workloads-payments.yaml")).expect("read");
    assert!(
        payments.contains("        - name: data\n          mountPath: /var/lib/mysql\n        - name: tmp\n          mountPath: /tmp\n"),
        "{payments}"
    );
    let rules = pss_rules(dir.path());
    assert!(!rules.contains("pss-capabilities-restricted"), "{rules:?}");
    let hardening = run(&[
        "harden",
        "-f",
        &d,
        "--rules",
        "hardening",
        "-o",
        "json",
        "--fail-on",
        "never",
    ]);
    let report: Value = serde_json::from_slice(&hardening.stdout).expect("json");
    assert!(
        !report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "hardening-read-only-root-fs"
                && (f["object"]["name"] == "mysql" || f["object"]["name"] == "cache")),
        "{report}"
    );
    let again = run(&["harden", "fix", "-f", &d, "--yes"]);
    assert!(
        text(&again.stdout).contains("Nothing to fix."),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn fixing_files_removes_disallowed_capabilities_in_place() {
    // One container adds a capability the restricted level forbids next to an allowed one
    // (a flow list losing one element); another holds only an `add` list, which goes while
    // `drop: [ALL]` comes into the same mapping.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("caps.yaml");
    let original = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app   # the app
        image: nginx:1.27
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            add: [SYS_ADMIN, NET_BIND_SERVICE]   # why SYS_ADMIN?
            drop: [ALL]
      - name: sidecar
        image: busybox:1.36
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            add:
            - NET_RAW
";
    std::fs::write(&file, original).expect("write");
    let f = file.display().to_string();
    // Taking a capability away can break the program: it is made when asked for by name.
    let fixed = run(&["harden", "fix", "-f", &f, "--yes", "--only", "capabilities"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stderr));
    assert!(
        !text(&fixed.stderr).contains("by hand"),
        "{}",
        text(&fixed.stderr)
    );
    let after = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        after,
        original
            .replace(
                "add: [SYS_ADMIN, NET_BIND_SERVICE]   # why SYS_ADMIN?",
                "add: [NET_BIND_SERVICE]   # why SYS_ADMIN?"
            )
            .replace(
                "            add:\n            - NET_RAW\n",
                "            drop:\n              - ALL\n"
            ),
        "{}",
        text(&fixed.stdout)
    );
    let rules = pss_rules(dir.path());
    assert!(!rules.contains("pss-capabilities-restricted"), "{rules:?}");
    let again = run(&["harden", "fix", "-f", &f, "--yes", "--only", "capabilities"]);
    assert!(
        text(&again.stdout).contains("Nothing to fix."),
        "{}",
        text(&again.stdout)
    );
}

const FRONTEND: &str = "/apis/apps/v1/namespaces/shop/deployments/frontend";

fn get(server: &TestApiServer, path: &str) -> Value {
    let out = server
        .kubectl(&["get", "--raw", path])
        .output()
        .expect("kubectl get");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn harden(server: &TestApiServer, args: &[&str]) -> Output {
    let mut all = vec!["harden"];
    all.extend_from_slice(args);
    server
        .kubectl(&all)
        .stdin(Stdio::null())
        .output()
        .expect("run")
}

fn without_template_spec(mut v: Value) -> Value {
    if let Some(t) = v
        .pointer_mut("/spec/template")
        .and_then(Value::as_object_mut)
    {
        t.remove("spec");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "annotations",
            "managedFields",
            "resourceVersion",
            "generation",
        ] {
            m.remove(k);
        }
    }
    v
}

#[test]
fn live_fix_patches_only_the_planned_fields_and_undo_restores_them() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let before = get(&server, FRONTEND);

    let dry = harden(&server, &["fix", "-n", "shop", "--dry-run=server"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("# deployment.apps/frontend -n shop: harden fix"),
        "{}",
        text(&dry.stdout)
    );
    assert_eq!(
        get(&server, FRONTEND),
        before,
        "server dry run writes nothing"
    );

    let refused = harden(&server, &["fix", "-n", "shop"]);
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused.stderr));
    assert_eq!(get(&server, FRONTEND), before);

    let fixed = harden(&server, &["fix", "-n", "shop", "--yes"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stderr));
    let after = get(&server, FRONTEND);
    let spec = &after["spec"]["template"]["spec"];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], json!(true));
    assert_eq!(
        spec["securityContext"]["seccompProfile"],
        json!({"type": "RuntimeDefault"})
    );
    // shop's RoleBinding grants every shop ServiceAccount rights: the token stays.
    assert_eq!(
        spec["automountServiceAccountToken"],
        before["spec"]["template"]["spec"]["automountServiceAccountToken"]
    );
    assert!(
        text(&fixed.stderr).contains(
            "Deployment/shop/frontend: automountServiceAccountToken left as is: ServiceAccount shop-frontend"
        ),
        "{}",
        text(&fixed.stderr)
    );
    let c = &spec["containers"][0];
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"],
        json!(false)
    );
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    // Untouched: image, ports, resources, and everything outside the pod spec.
    let old_c = &before["spec"]["template"]["spec"]["containers"][0];
    for field in ["image", "ports", "resources", "name"] {
        assert_eq!(c[field], old_c[field], "{field}");
    }
    assert_eq!(
        without_template_spec(after.clone()),
        without_template_spec(before.clone())
    );
    let previous: Value = serde_json::from_str(
        after["metadata"]["annotations"]["harden.guardrails.dev/previous"]
            .as_str()
            .expect("previous values saved"),
    )
    .expect("json");
    assert_eq!(
        previous["/spec/template/spec/securityContext"],
        Value::Null,
        "{previous}"
    );
    // The pods were not patched.
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| !r.path.contains("/pods/")),
        "only controllers are patched"
    );

    // A second fix has nothing to change in shop.
    let again = harden(&server, &["fix", "-n", "shop", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(get(&server, FRONTEND)["spec"], after["spec"]);

    assert!(
        text(&fixed.stderr)
            .contains("Job/shop/nginx-config-check-manual: a Job's pod template cannot be changed"),
        "{}",
        text(&fixed.stderr)
    );

    // Undo, named as kubectl does (-n NS KIND/NAME): a server dry run first writes nothing.
    // The undo plan for scripts: every recorded field goes back to what it was before the
    // fix, through one guarded patch; nothing is written.
    let plan = harden(
        &server,
        &["undo", "-n", "shop", "deployment/frontend", "-o", "json"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("json");
    assert_eq!(plan["kind"], "HardenUndoPlan");
    assert_eq!(plan["object"]["name"], "frontend");
    let restores = plan["restores"].as_array().expect("restores");
    assert!(!restores.is_empty(), "{plan}");
    for r in restores {
        let at = r["path"].as_str().expect("path");
        assert_eq!(
            before.pointer(at).unwrap_or(&Value::Null),
            &r["previous"],
            "{at}"
        );
        assert_eq!(
            after.pointer(at).unwrap_or(&Value::Null),
            &r["current"],
            "{at}"
        );
    }
    assert!(
        plan["patch"]
            .as_array()
            .expect("patch")
            .iter()
            .any(|op| op["op"] == "test"),
        "guarded: {plan}"
    );
    assert_eq!(get(&server, FRONTEND), after, "nothing written");
    let dry_undo = harden(
        &server,
        &[
            "undo",
            "-n",
            "shop",
            "deployment/frontend",
            "--dry-run=server",
        ],
    );
    assert_eq!(
        dry_undo.status.code(),
        Some(0),
        "{}",
        text(&dry_undo.stderr)
    );
    assert_eq!(get(&server, FRONTEND)["spec"], after["spec"]);
    let undone = harden(&server, &["undo", "shop/deployment/frontend", "--yes"]);
    assert_eq!(undone.status.code(), Some(0), "{}", text(&undone.stderr));
    let restored = get(&server, FRONTEND);
    assert_eq!(restored["spec"], before["spec"]);
    assert!(
        restored["metadata"]["annotations"]
            .get("harden.guardrails.dev/previous")
            .is_none()
    );
}

const SHOP: &str = "/api/v1/namespaces/shop";

#[test]
fn rollout_shows_violations_and_the_admissions_answer_and_sets_stages_in_order() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let before = get(&server, SHOP);

    // shop has warn=restricted only: enforcing first is refused, nothing written.
    let refused = harden(
        &server,
        &[
            "rollout",
            "-n",
            "shop",
            "--level",
            "restricted",
            "--stage",
            "enforce",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("pod-security.kubernetes.io/audit"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(get(&server, SHOP), before);

    // Forced, as a server dry run: our evaluation, then the PodSecurity admission's warnings.
    let dry = harden(
        &server,
        &[
            "rollout",
            "-n",
            "shop",
            "--level",
            "restricted",
            "--stage",
            "enforce",
            "--force",
            "--dry-run=server",
        ],
    );
    let out = text(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        out.contains("deployment.apps/frontend -n shop  pss-allow-privilege-escalation"),
        "{out}"
    );
    assert!(
        out.contains(
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\""
        ),
        "{out}"
    );
    assert!(
        out.contains("checkout-744c5644f7-2n26g (and 4 other pods)"),
        "{out}"
    );
    assert!(
        out.contains("+    pod-security.kubernetes.io/enforce: restricted"),
        "{out}"
    );
    assert_eq!(get(&server, SHOP), before);

    // Without --stage: the next stage (audit, warn is already restricted) is set.
    let audit = harden(&server, &["rollout", "-n", "shop", "--yes"]);
    assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stderr));
    let labels = get(&server, SHOP)["metadata"]["labels"].clone();
    assert_eq!(
        labels["pod-security.kubernetes.io/audit"],
        json!("restricted")
    );
    assert!(labels.get("pod-security.kubernetes.io/enforce").is_none());
    // Now enforce is allowed without --force.
    let enforce = harden(&server, &["rollout", "-n", "shop", "--yes"]);
    assert_eq!(enforce.status.code(), Some(0), "{}", text(&enforce.stderr));
    assert_eq!(
        get(&server, SHOP)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        json!("restricted")
    );
}

/// `rollout -o json|yaml` is for scripts: the evaluation as a stable object, and no write
/// (not even with --yes), live or offline.
#[test]
fn rollout_as_json_reports_the_violations_and_writes_nothing() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let before = get(&server, SHOP);
    let live = harden(&server, &["rollout", "-n", "shop", "--yes", "-o", "json"]);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let report: Value = serde_json::from_slice(&live.stdout).expect("json");
    assert_eq!(report["kind"], "HardenRollout");
    assert_eq!(report["stage"], "pod-security.kubernetes.io/audit");
    assert_eq!(
        report["currentLabels"]["pod-security.kubernetes.io/warn"],
        "restricted"
    );
    let frontend = report["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .find(|v| v["object"]["name"] == "frontend")
        .expect("frontend violates restricted");
    assert!(
        frontend["rules"]
            .as_array()
            .expect("rules")
            .contains(&json!("pss-run-as-non-root"))
    );
    assert_eq!(get(&server, SHOP), before, "nothing written");

    let offline = run(&[
        "harden",
        "rollout",
        "-f",
        &examples().display().to_string(),
        "-n",
        "shop",
        "-o",
        "json",
    ]);
    let offline: Value = serde_json::from_slice(&offline.stdout).expect("json");
    assert_eq!(
        offline["violations"], report["violations"],
        "live = offline"
    );
}

#[test]
fn rollout_offline_evaluates_the_files_and_writes_nothing() {
    let dir = copy_examples();
    let namespaces = examples().join("00-namespaces.yaml");
    std::fs::copy(&namespaces, dir.path().join("00-namespaces.yaml")).expect("copy");
    let before = read_all(dir.path());
    let out = run(&[
        "harden",
        "rollout",
        "-f",
        &dir.path().display().to_string(),
        "-n",
        "payments",
        "--level",
        "baseline",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // payments already enforces baseline; the next stage without a baseline label is warn.
    assert!(
        stdout.contains("Namespace payments: pod-security.kubernetes.io/warn baseline"),
        "{stdout}"
    );
    assert_eq!(read_all(dir.path()), before);
}

#[test]
fn fix_plan_as_json_lists_the_edits_per_workload_and_writes_nothing() {
    let dir = copy_examples();
    let d = dir.path().display().to_string();
    let before = read_all(dir.path());
    let out = run(&["harden", "fix", "-f", &d, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(read_all(dir.path()), before);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json plan");
    assert_eq!(plan["kind"], "HardenFixPlan");
    assert_eq!(plan["target"], "files");
    let workloads = plan["workloads"].as_array().expect("workloads");
    let exporter = workloads
        .iter()
        .find(|w| w["object"]["name"] == "node-exporter")
        .expect("node-exporter planned");
    let edits = exporter["edits"].as_array().expect("edits");
    // Edits that take something away are listed, marked, and are not applied without --only.
    let privileged = edits
        .iter()
        .find(|e| e["fix"] == "privileged")
        .expect("privileged edit");
    assert_eq!(privileged["confirm"], true);
    assert_eq!(privileged["applies"], false);
    assert!(
        edits
            .iter()
            .any(|e| e["fix"] == "seccomp" && e["applies"] == true)
    );
    assert_eq!(privileged["old"], true);
    assert_eq!(privileged["new"], false);
    assert_eq!(
        privileged["path"],
        "spec.template.spec.containers[name=node-exporter].securityContext.privileged"
    );
    // --only narrows the plan the same way it narrows a fix.
    let only = run(&["harden", "fix", "-f", &d, "-o", "json", "--only", "seccomp"]);
    let plan: Value = serde_json::from_slice(&only.stdout).expect("json plan");
    assert!(
        plan["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .flat_map(|w| w["edits"].as_array().expect("edits"))
            .all(|e| e["fix"] == "seccomp")
    );
}
