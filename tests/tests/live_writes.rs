//! The shared live write path (`guardrails::apply`) against the test API server: previews by
//! server dry run with the API server's warnings, nothing written without confirmation, guarded
//! patches that fail on concurrent edits, and the exit codes of refused writes.

use guardrails::apply::{Action, LiveChange, LiveWriter, PatchBuilder, apply_all};
use guardrails::cli::{ClusterArgs, DryRun, WriteArgs};
use guardrails::error::Error;
use guardrails::finding::ObjectRef;
use guardrails::render::Styles;
use guardrails_e2e::recordings;
use guardrails_e2e::{ApiServerConfig, TestApiServer};
use serde_json::{Value, json};

struct Live {
    server: TestApiServer,
    _dir: tempfile::TempDir,
    cluster: guardrails::cluster::Cluster,
    runtime: tokio::runtime::Runtime,
}

fn live() -> Live {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = server.write_kubeconfig(dir.path(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args = ClusterArgs {
        kubeconfig: Some(kubeconfig),
        ..ClusterArgs::default()
    };
    let cluster = runtime
        .block_on(guardrails::cluster::connect(&args))
        .expect("connect to the test API server");
    Live {
        server,
        _dir: dir,
        cluster,
        runtime,
    }
}

impl Live {
    fn get(&self, path: &str) -> Value {
        let out = self
            .server
            .kubectl(&["get", "--raw", path])
            .output()
            .expect("kubectl get --raw");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn run(
        &self,
        changes: Vec<LiveChange>,
        dry_run: DryRun,
        yes: bool,
    ) -> (Result<guardrails::apply::ApplyOutcome, Error>, String) {
        let writer = LiveWriter::new(&self.cluster, "kubectl-harden");
        let args = WriteArgs { dry_run, yes };
        let mut out = Vec::new();
        let result = self.runtime.block_on(apply_all(
            &writer,
            changes,
            &args,
            &mut out,
            Styles { color: false },
        ));
        (result, String::from_utf8_lossy(&out).into_owned())
    }

    fn writes_sent(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.param("dryRun").is_none())
            .count()
    }
}

const FRONTEND: &str = "/apis/apps/v1/namespaces/shop/deployments/frontend";

fn frontend() -> ObjectRef {
    ObjectRef::new("apps/v1", "Deployment", Some("shop"), "frontend")
}

fn run_as_non_root(live: &Value) -> LiveChange {
    LiveChange {
        target: frontend(),
        action: Action::Patch(
            PatchBuilder::new(live)
                .set(
                    "/spec/template/spec/securityContext/runAsNonRoot",
                    json!(true),
                )
                .build(),
        ),
        reason: "run as non-root".into(),
    }
}

#[test]
fn server_dry_run_shows_the_diff_and_writes_nothing() {
    let live = live();
    let before = live.get(FRONTEND);
    let (result, out) = live.run(vec![run_as_non_root(&before)], DryRun::Server, false);
    let outcome = result.expect("dry run succeeds");
    assert_eq!(outcome.changed, 1);
    assert!(outcome.applied.is_empty());
    assert!(
        out.contains("# deployment.apps/frontend -n shop: run as non-root"),
        "{out}"
    );
    assert!(
        out.contains("+      securityContext:\n+        runAsNonRoot: true")
            || out.contains("+        runAsNonRoot: true"),
        "{out}"
    );
    assert!(out.contains("dry run: server"), "{out}");
    assert_eq!(live.writes_sent(), 0);
    assert_eq!(live.get(FRONTEND), before);
}

#[test]
fn without_a_terminal_or_yes_nothing_is_written_and_the_exit_code_is_5() {
    let live = live();
    let before = live.get(FRONTEND);
    let (result, out) = live.run(vec![run_as_non_root(&before)], DryRun::None, false);
    let err = result.expect_err("refused");
    assert_eq!(err.exit_code(), 5);
    assert!(err.to_string().contains("--yes"), "{err}");
    assert!(
        out.contains("runAsNonRoot: true"),
        "the diff is shown first: {out}"
    );
    assert_eq!(live.writes_sent(), 0);
}

#[test]
fn yes_applies_and_a_second_run_finds_nothing_to_change() {
    let live = live();
    let before = live.get(FRONTEND);
    let (result, out) = live.run(vec![run_as_non_root(&before)], DryRun::None, true);
    let outcome = result.expect("applied");
    assert_eq!(outcome.applied, vec![frontend()]);
    assert!(
        out.contains("deployment.apps/frontend -n shop patched"),
        "{out}"
    );
    let after = live.get(FRONTEND);
    assert_eq!(
        after.pointer("/spec/template/spec/securityContext/runAsNonRoot"),
        Some(&json!(true))
    );
    // Everything else is as it was (the patch carries only the changed field).
    assert_eq!(
        after.pointer("/spec/template/spec/containers"),
        before.pointer("/spec/template/spec/containers")
    );
    let (result, out) = live.run(vec![run_as_non_root(&after)], DryRun::None, false);
    assert_eq!(result.expect("no-op").unchanged, 1);
    assert!(out.contains("nothing to change"), "{out}");
}

#[test]
fn a_patch_planned_on_a_stale_object_is_refused_by_the_server() {
    let live = live();
    let before = live.get(FRONTEND);
    let mut stale = before.clone();
    stale["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.0");
    let change = LiveChange {
        target: frontend(),
        action: Action::Patch(
            PatchBuilder::new(&stale)
                .set(
                    "/spec/template/spec/containers/0/image",
                    json!("nginx:1.27"),
                )
                .build(),
        ),
        reason: "pin".into(),
    };
    let (result, _) = live.run(vec![change], DryRun::Server, false);
    let err = result.expect_err("conflict");
    assert_eq!(err.exit_code(), 5);
    assert_eq!(
        err.to_string(),
        "deployment.apps/frontend -n shop: Invalid (422): the server rejected our request due to an error in our request"
    );
}

#[test]
fn server_dry_run_reports_the_pod_security_warnings() {
    let live = live();
    // Exactly the recorded request of 082 (a digest pin of shop/checkout).
    let ops: json_patch::Patch =
        serde_json::from_value(recordings::get("082").request_body.clone()).expect("patch");
    let writer = LiveWriter::new(&live.cluster, "kubectl-image-pins");
    let change = LiveChange {
        target: ObjectRef::new("apps/v1", "Deployment", Some("shop"), "checkout"),
        action: Action::Patch(ops),
        reason: "pin".into(),
    };
    let previewed = live
        .runtime
        .block_on(writer.preview(change, DryRun::Server))
        .expect("preview");
    assert_eq!(previewed.warnings.len(), 1);
    assert!(
        previewed.warnings[0].starts_with(
            "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"
        ),
        "{:?}",
        previewed.warnings
    );
}

#[test]
fn a_namespace_label_dry_run_returns_the_violations_of_existing_pods() {
    let live = live();
    let change = LiveChange {
        target: ObjectRef::new("v1", "Namespace", None, "shop"),
        action: Action::MergePatch(
            json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
        ),
        reason: "enforce restricted".into(),
    };
    let (result, out) = live.run(vec![change], DryRun::Server, false);
    let outcome = result.expect("dry run");
    assert_eq!(
        outcome.warnings,
        vec![
            "existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\"".to_string(),
            "checkout-744c5644f7-2n26g (and 4 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile".to_string(),
        ]
    );
    assert!(
        out.contains("+    pod-security.kubernetes.io/enforce: restricted"),
        "{out}"
    );
}

#[test]
fn creating_and_deleting_preview_and_apply() {
    let live = live();
    let policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}});
    let target = ObjectRef::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some("shop"),
        "default-deny",
    );
    let create = LiveChange {
        target: target.clone(),
        action: Action::Create(policy),
        reason: "default deny".into(),
    };
    let (result, out) = live.run(vec![create.clone()], DryRun::None, true);
    result.expect("created");
    assert!(out.contains("+kind: NetworkPolicy"), "{out}");
    let path = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/default-deny";
    assert_eq!(
        live.get(path)["spec"]["policyTypes"],
        json!(["Ingress", "Egress"])
    );
    // Creating it again: the server's AlreadyExists, exit 5.
    let (result, _) = live.run(vec![create], DryRun::Server, false);
    let err = result.expect_err("exists");
    assert_eq!(err.exit_code(), 5);
    assert!(err.to_string().contains("AlreadyExists (409)"), "{err}");
    let delete = LiveChange {
        target,
        action: Action::Delete,
        reason: "rollback".into(),
    };
    let (result, out) = live.run(vec![delete], DryRun::None, true);
    result.expect("deleted");
    assert!(out.contains("-kind: NetworkPolicy"), "{out}");
    assert_eq!(live.get(path), Value::Null);
}
