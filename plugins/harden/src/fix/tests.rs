//! The fix plan: fix-then-check leaves no Pod Security finding, planning again after a fix
//! plans nothing, and nothing outside the planned paths changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::pss::{self, LevelVersion};

fn examples() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("yaml");
            if value.is_object() {
                docs.push(value);
            }
        }
    }
    docs
}

/// Workloads of the examples plus hand-made hard cases.
fn workloads() -> Vec<Value> {
    let mut all: Vec<Value> = examples()
        .into_iter()
        .filter(|d| d["kind"].as_str().and_then(template_path).is_some())
        .collect();
    assert!(all.len() >= 10, "examples hold the workloads");
    all.push(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "everything-wrong",
            "annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "spec": {
            "hostPID": true, "hostIPC": true,
            "automountServiceAccountToken": true,
            "securityContext": {"runAsUser": 0, "runAsNonRoot": false,
                "seccompProfile": {"type": "Unconfined"},
                "seLinuxOptions": {"type": "spc_t", "user": "root"},
                "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}],
                "appArmorProfile": {"type": "Unconfined"}},
            "initContainers": [{"name": "init", "image": "x", "securityContext": {"runAsUser": 0, "procMount": "Unmasked"}}],
            "containers": [{"name": "app", "image": "x",
                "ports": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 9090}],
                "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
                "lifecycle": {"preStop": {"tcpSocket": {"host": "node", "port": 1}}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "securityContext": {"privileged": true, "runAsNonRoot": false, "allowPrivilegeEscalation": true,
                    "capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"], "drop": ["NET_RAW"]},
                    "seccompProfile": {"type": "Unconfined"},
                    "windowsOptions": {"hostProcess": true}}}],
            "volumes": [{"name": "data", "nfs": {"server": "s", "path": "/"}},
                        {"name": "tmp", "hostPath": {"path": "/tmp"}}]
        }
    }));
    all.push(json!({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "kept", "namespace": "x"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}},
            "containers": [{"name": "c", "image": "x", "resources": {"limits": {"memory": "1Gi"}},
                "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
                "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}}],
            "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
        }}}}}
    }));
    all
}

/// The pod metadata and spec of a workload's JSON.
fn pod_of(object: &Value) -> (ObjectMeta, PodSpec) {
    let kind = object["kind"].as_str().expect("kind");
    let template = template_path(kind).expect("template");
    let template = get(object, &template).expect("template value");
    let meta = serde_json::from_value(template.get("metadata").cloned().unwrap_or(json!({})))
        .expect("meta");
    let spec = serde_json::from_value(template["spec"].clone()).expect("spec");
    (meta, spec)
}

fn violations(object: &Value, level: Level) -> Vec<&'static str> {
    let (meta, spec) = pod_of(object);
    let policy = LevelVersion {
        level,
        version: Version::Latest,
    };
    pss::evaluate(policy, &meta, &spec)
        .into_iter()
        .map(|v| v.check)
        .collect()
}

#[test]
fn fix_then_check_leaves_no_pod_security_finding() {
    let opts = FixOptions::default();
    let mut had_findings = 0;
    for object in workloads() {
        let name = object["metadata"]["name"].clone();
        if !violations(&object, Level::Restricted).is_empty() {
            had_findings += 1;
        }
        let plan = plan(&object, &opts).expect("plan");
        let mut fixed = object.clone();
        plan.apply_to(&mut fixed);
        assert_eq!(
            violations(&fixed, Level::Restricted),
            Vec::<&str>::new(),
            "{name} after fix: {}",
            serde_json::to_string_pretty(&fixed).unwrap_or_default()
        );
        // The hardening rules are satisfied too.
        let (_, spec) = pod_of(&fixed);
        assert!(
            crate::hardening::read_only_root_fs(&spec).is_none(),
            "{name}"
        );
        assert!(
            crate::hardening::run_as_uid_zero_or_unset(&spec).is_none(),
            "{name}"
        );
        assert!(
            crate::hardening::automount_token(&spec, None).is_none(),
            "{name}"
        );
    }
    assert!(had_findings >= 10, "the examples are not already compliant");
}

#[test]
fn declined_edits_leave_only_their_own_findings() {
    // Everything that needs confirmation declined: what remains are the baseline-style
    // privileges the workload asked for, never a restricted default.
    let allowed_to_remain: BTreeSet<&str> = [
        "hostNamespaces",
        "privileged",
        "hostPathVolumes",
        "restrictedVolumes",
        "hostPorts",
        "sysctls",
        "seLinuxOptions",
        "windowsHostProcess",
        "hostProbesAndHostLifecycle",
        "capabilities_restricted",
    ]
    .into();
    for object in workloads() {
        let plan = plan(&object, &FixOptions::default())
            .expect("plan")
            .without_confirmations();
        let mut fixed = object.clone();
        plan.apply_to(&mut fixed);
        for check in violations(&fixed, Level::Restricted) {
            assert!(
                allowed_to_remain.contains(check),
                "{}: {check} remains",
                object["metadata"]["name"]
            );
        }
    }
    let node_exporter = workloads()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "node-exporter")
        .expect("node-exporter");
    let mut declined = node_exporter.clone();
    plan(&node_exporter, &FixOptions::default())
        .expect("plan")
        .without_confirmations()
        .apply_to(&mut declined);
    assert_eq!(
        violations(&declined, Level::Restricted),
        ["hostNamespaces", "privileged", "restrictedVolumes"]
    );
}

#[test]
fn fixing_twice_changes_nothing_more() {
    for object in workloads() {
        let opts = FixOptions {
            keep_caps: vec!["NET_BIND_SERVICE".into()],
            ..FixOptions::default()
        };
        let mut fixed = object.clone();
        plan(&object, &opts).expect("plan").apply_to(&mut fixed);
        let again = plan(&fixed, &opts).expect("plan");
        assert!(
            again.is_empty(),
            "{}: second plan {:?}",
            object["metadata"]["name"],
            again.edits
        );
    }
}

/// Leaf paths in `FieldPath` notation (list items by merge key), with their values.
fn leaves(value: &Value, prefix: String, out: &mut BTreeMap<String, Value>) {
    let join = |p: &str, k: &str| {
        if p.is_empty() {
            k.to_string()
        } else {
            format!("{p}.{k}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                leaves(v, join(&prefix, k), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let (list_prefix, list) = match prefix.rsplit_once('.') {
                Some((p, l)) => (p.to_string(), l.to_string()),
                None => (String::new(), prefix.clone()),
            };
            for (i, item) in items.iter().enumerate() {
                // The strategic-merge keys: mounts by path, ports by number, others by name.
                let merge_key = match list.as_str() {
                    "volumeMounts" => "mountPath",
                    "ports" => "containerPort",
                    _ => "name",
                };
                let key = item.get(merge_key).map(|v| (merge_key, v));
                let step = match key {
                    Some((k, v)) => format!(
                        "{list}[{k}={}]",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    ),
                    None => format!("{list}[{i}]"),
                };
                leaves(item, join(&list_prefix, &step), out);
            }
        }
        other => {
            out.insert(prefix, other.clone());
        }
    }
}

#[test]
fn nothing_outside_the_planned_paths_changes() {
    for object in workloads() {
        let plan = plan(&object, &FixOptions::default()).expect("plan");
        let mut fixed = object.clone();
        plan.apply_to(&mut fixed);
        let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
        leaves(&object, String::new(), &mut before);
        leaves(&fixed, String::new(), &mut after);
        let paths: Vec<String> = plan.edits.iter().map(|e| e.path.to_string()).collect();
        let covered = |leaf: &str| {
            paths.iter().any(|p| {
                leaf == p
                    || leaf.starts_with(&format!("{p}."))
                    || leaf.starts_with(&format!("{p}["))
                    // A parent left empty by removing its last planned field.
                    || p.starts_with(&format!("{leaf}."))
            })
        };
        let changed: BTreeSet<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        for leaf in changed {
            assert!(
                covered(leaf),
                "{}: {leaf} changed outside the plan ({paths:?})",
                object["metadata"]["name"]
            );
        }
        // Every edit records what was there before.
        for edit in &plan.edits {
            assert_eq!(edit.old.as_ref(), get(&object, &edit.path), "{}", edit.path);
        }
    }
}

#[test]
fn compliant_choices_are_kept() {
    let kept = workloads()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "kept")
        .expect("kept");
    let plan = plan(&kept, &FixOptions::default()).expect("plan");
    let paths: Vec<String> = plan.edits.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(
        paths,
        [
            "spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot",
            "spec.jobTemplate.spec.template.spec.automountServiceAccountToken",
            "spec.jobTemplate.spec.template.spec.containers[name=c].securityContext.allowPrivilegeEscalation",
            "spec.jobTemplate.spec.template.spec.containers[name=c].securityContext.readOnlyRootFilesystem",
        ],
        "UIDs, the Localhost profile, NET_BIND_SERVICE and the /tmp mount stay"
    );
    assert!(plan.edits.iter().all(|e| !e.confirm));
}

#[test]
fn capabilities_keep_what_is_asked_and_ask_before_removing() {
    let pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "app", "image": "x", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE", "SYS_TIME"]}}}]}});
    let opts = FixOptions {
        keep_caps: vec!["SYS_TIME".into()],
        ..FixOptions::default()
    };
    let plan = plan(&pod, &opts).expect("plan");
    let add = plan
        .edits
        .iter()
        .find(|e| e.path.to_string().ends_with("capabilities.add"))
        .expect("add edit");
    assert_eq!(add.new, Some(json!(["NET_BIND_SERVICE", "SYS_TIME"])));
    assert!(add.confirm, "removing SYS_ADMIN is asked");
    let baseline = plan_for_level(&pod, Level::Baseline);
    assert!(
        baseline
            .edits
            .iter()
            .find(|e| e.path.to_string().ends_with("capabilities.add"))
            .is_some_and(|e| e.new == Some(json!(["NET_BIND_SERVICE"])))
    );
}

fn plan_for_level(object: &Value, level: Level) -> FixPlan {
    plan(
        object,
        &FixOptions {
            level,
            ..FixOptions::default()
        },
    )
    .expect("plan")
}

#[test]
fn windows_pods_get_no_linux_only_fields() {
    let pod = json!({"kind": "Pod", "metadata": {"name": "w"}, "spec": {"os": {"name": "windows"},
        "containers": [{"name": "app", "image": "x"}]}});
    let plan = plan(&pod, &FixOptions::default()).expect("plan");
    let paths: Vec<String> = plan.edits.iter().map(|e| e.path.to_string()).collect();
    assert_eq!(
        paths,
        [
            "spec.securityContext.runAsNonRoot",
            "spec.automountServiceAccountToken"
        ]
    );
    let mut fixed = pod.clone();
    plan.apply_to(&mut fixed);
    assert!(violations(&fixed, Level::Restricted).is_empty());
}

#[test]
fn the_patch_is_what_the_api_server_accepted() {
    // 081: the strategic-merge patch of shop/frontend the real API server accepted (with a
    // runAsUser of 101 chosen by hand); our plan for the same Deployment carries every field
    // of it with the same value, keyed the same way.
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/apiserver-recordings");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).expect("recording"))
            .expect("json")
    };
    let deployment = read("028-get-deployment-shop-frontend.json")["response"]["body"].clone();
    let accepted = read("081-patch-smp-deployment-securitycontext.json")["request"]["body"].clone();
    let ours = plan(&deployment, &FixOptions::default())
        .expect("plan")
        .strategic_merge_patch();
    let (mut theirs, mut mine) = (BTreeMap::new(), BTreeMap::new());
    leaves(&accepted, String::new(), &mut theirs);
    leaves(&ours, String::new(), &mut mine);
    for (path, value) in &theirs {
        if path.ends_with("securityContext.runAsUser") {
            assert_eq!(mine.get(path), Some(&json!(10001)));
            continue;
        }
        assert_eq!(mine.get(path), Some(value), "{path}");
    }
    // Removals are nulls; whole list elements merge on their keys.
    let pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "app", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}],
         "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
         "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true}}],
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1, "runAsGroup": 1, "fsGroup": 1, "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": false}});
    let patch = plan(&pod, &FixOptions::default())
        .expect("plan")
        .strategic_merge_patch();
    assert_eq!(
        patch,
        json!({"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80, "hostPort": null}]}]}})
    );
}

#[test]
fn only_and_skip_select_fixes() {
    let deployment = workloads()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "checkout")
        .expect("checkout");
    let all = plan(&deployment, &FixOptions::default()).expect("plan");
    let only: HashSet<String> = ["seccomp".to_string()].into();
    let seccomp = all.clone().select(&only, &HashSet::new());
    assert!(!seccomp.is_empty() && seccomp.edits.iter().all(|e| e.fix == "seccomp"));
    let skip: HashSet<String> = ["read-only-root-fs".to_string()].into();
    let rest = all.clone().select(&HashSet::new(), &skip);
    assert!(rest.edits.iter().all(|e| e.fix != "read-only-root-fs"));
    assert_eq!(
        rest.edits.len()
            + all
                .edits
                .iter()
                .filter(|e| e.fix == "read-only-root-fs")
                .count(),
        all.edits.len()
    );
    for edit in &all.edits {
        assert!(FIXES.contains(&edit.fix), "{} is listed", edit.fix);
    }
}
