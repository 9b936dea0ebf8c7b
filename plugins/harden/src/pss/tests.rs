//! The evaluator against what a real kube-apiserver printed (recordings 088–093) and against
//! upstream's structural rules (check order, overrides, version grammar).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::*;

fn recording(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/apiserver-recordings")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("recording");
    serde_json::from_str(&text).expect("recording json")
}

/// The text of a `299 - "…"` Warning header value.
fn warning_text(header: &str) -> String {
    let quoted = header.strip_prefix("299 - ").expect("warning code");
    serde_json::from_str::<String>(quoted).expect("quoted warning")
}

fn restricted_latest() -> LevelVersion {
    LevelVersion {
        level: Level::Restricted,
        version: Version::Latest,
    }
}

#[test]
fn checks_run_in_upstream_order() {
    let ids = |level| -> Vec<&str> {
        CHECKS
            .iter()
            .filter(|c| c.level == level)
            .map(|c| c.id)
            .collect()
    };
    for level in [Level::Baseline, Level::Restricted] {
        let mut sorted = ids(level);
        sorted.sort_unstable(); // byte order, as Go's sort of strings
        assert_eq!(ids(level), sorted, "{level} checks out of order");
    }
    let first_restricted = CHECKS
        .iter()
        .position(|c| c.level == Level::Restricted)
        .expect("restricted");
    assert!(
        CHECKS[first_restricted..]
            .iter()
            .all(|c| c.level == Level::Restricted)
    );
    assert_eq!(CHECKS.len(), 19);
}

#[test]
fn restricted_drops_the_baseline_checks_it_overrides_per_version() {
    let ids = |level, minor| -> Vec<&str> { active_checks(level, minor).map(|c| c.id).collect() };
    let r21 = ids(Level::Restricted, 21);
    assert!(r21.contains(&"capabilities_baseline") && !r21.contains(&"hostPathVolumes"));
    let r22 = ids(Level::Restricted, 22);
    assert!(!r22.contains(&"capabilities_baseline") && r22.contains(&"capabilities_restricted"));
    assert!(ids(Level::Restricted, 18).contains(&"seccompProfile_baseline"));
    assert!(!ids(Level::Restricted, 19).contains(&"seccompProfile_baseline"));
    assert!(ids(Level::Restricted, 34).contains(&"procMount"));
    let r35 = ids(Level::Restricted, 35);
    assert!(!r35.contains(&"procMount") && r35.contains(&"procMount_restricted"));
    assert!(!ids(Level::Baseline, 33).contains(&"hostProbesAndHostLifecycle"));
    assert!(ids(Level::Baseline, 34).contains(&"hostProbesAndHostLifecycle"));
    assert_eq!(ids(Level::Baseline, MAX_MINOR).len(), 12);
    assert_eq!(ids(Level::Restricted, MAX_MINOR).len(), 15);
}

#[test]
fn versions_parse_like_upstream() {
    assert_eq!("latest".parse::<Version>(), Ok(Version::Latest));
    assert_eq!("v1.29".parse::<Version>(), Ok(Version::Minor(29)));
    assert_eq!("v1.0".parse::<Version>(), Ok(Version::Minor(0)));
    for bad in ["1.29", "v1.029", "v2.1", "v1.", "v1.x", "Latest", ""] {
        assert!(bad.parse::<Version>().is_err(), "{bad:?} accepted");
    }
    assert_eq!(Version::Minor(40).effective_minor(), MAX_MINOR);
    assert_eq!(Version::Latest.to_string(), "latest");
}

#[test]
fn deployment_warning_matches_the_api_server_byte_for_byte() {
    // 093: a Deployment with a privileged container created in a warn=restricted namespace.
    let rec = recording("093-create-privileged-deployment-warn-restricted-201.json");
    let template = &rec["request"]["body"]["spec"]["template"];
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": template["metadata"], "spec": template["spec"]
    }))
    .expect("template");
    let spec = pod.spec.as_ref().expect("spec");
    let violations = evaluate(restricted_latest(), &pod.metadata, spec);
    let expected = warning_text(
        rec["response"]["headers"]["warning"][0]
            .as_str()
            .expect("header"),
    );
    assert_eq!(warning(restricted_latest(), &violations), expected);
    assert_eq!(violations[0].containers, ["tools"]);
}

#[test]
fn forbidden_pod_message_matches_the_api_server() {
    // 091: a privileged hostPID pod refused by enforce=baseline.
    let rec = recording("091-create-privileged-pod-enforce-baseline-403.json");
    let pod: Pod = serde_json::from_value(rec["request"]["body"].clone()).expect("pod");
    let policy = LevelVersion {
        level: Level::Baseline,
        version: Version::Latest,
    };
    let violations = evaluate(policy, &pod.metadata, pod.spec.as_ref().expect("spec"));
    let segments: Vec<String> = violations.iter().map(Violation::segment).collect();
    let message = format!(
        "pods \"debug-privileged\" is forbidden: violates PodSecurity \"{policy}\": {}",
        segments.join(", ")
    );
    assert_eq!(
        message,
        rec["response"]["body"]["message"]
            .as_str()
            .expect("message")
    );
}

#[test]
fn namespace_dry_runs_flag_the_same_pods_with_the_same_reasons() {
    // 088/089: enforce=restricted on shop and payments names the violating pods and reasons;
    // 017 is the pod list those namespaces held at the time.
    let pods = recording("017-list-pods-all-namespaces.json");
    let items = pods["response"]["body"]["items"].as_array().expect("items");
    for (file, namespace) in [
        (
            "088-patch-namespace-enforce-restricted-dryrun-shop.json",
            "shop",
        ),
        (
            "089-patch-namespace-enforce-restricted-dryrun-payments.json",
            "payments",
        ),
    ] {
        let rec = recording(file);
        let line = warning_text(
            rec["response"]["headers"]["warning"][1]
                .as_str()
                .expect("w"),
        );
        // "<pod> (and N other pods): reasons"
        let (who, reasons) = line.split_once(": ").expect("grouped line");
        let (first, others) = who.split_once(" (and ").expect("group");
        let others: usize = others
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("count");
        let mut failing = Vec::new();
        for item in items
            .iter()
            .filter(|p| p["metadata"]["namespace"] == namespace)
        {
            let pod: Pod = serde_json::from_value(item.clone()).expect("pod");
            let v = evaluate(
                restricted_latest(),
                &pod.metadata,
                pod.spec.as_ref().expect("s"),
            );
            if !v.is_empty() {
                let got: Vec<&str> = v.iter().map(|v| v.reason.as_str()).collect();
                assert_eq!(got.join(", "), reasons, "{namespace}");
                failing.push(pod.metadata.name.clone().unwrap_or_default());
            }
        }
        assert!(failing.contains(&first.to_string()), "{failing:?}");
        assert_eq!(failing.len(), others + 1, "{namespace}: {failing:?}");
    }
}

#[test]
fn ephemeral_containers_are_checked() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "app", "image": "x"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox",
                "securityContext": {"privileged": true}}]
        }
    }))
    .expect("pod");
    let policy = LevelVersion {
        level: Level::Baseline,
        version: Version::Latest,
    };
    let v = evaluate(policy, &pod.metadata, pod.spec.as_ref().expect("spec"));
    assert_eq!(
        v[0].segment(),
        "privileged (container \"debugger\" must not set securityContext.privileged=true)"
    );
}

#[test]
fn quirks_of_upstream_messages_are_kept() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"seLinuxOptions": {"user": "system_u"}},
            "containers": [
                {"name": "b", "image": "x", "ports": [{"containerPort": 1, "hostPort": 80}, {"containerPort": 2, "hostPort": 10000}]},
                {"name": "a", "image": "x", "livenessProbe": {"tcpSocket": {"port": 1, "host": "10.0.0.1"}}}
            ]
        }
    }))
    .expect("pod");
    let policy = LevelVersion {
        level: Level::Baseline,
        version: Version::Latest,
    };
    let v = evaluate(policy, &pod.metadata, pod.spec.as_ref().expect("spec"));
    let segments: Vec<String> = v.iter().map(Violation::segment).collect();
    assert_eq!(
        segments,
        [
            // Ports are sorted as text.
            "hostPort (container \"b\" uses hostPorts 10000, 80)",
            "probe or lifecycle host (container \"a\" uses probe or lifecycle host \"10.0.0.1\")",
            // A forbidden user alone leaves the detail empty after the colon, as upstream does.
            "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: )",
        ]
    );
}

/// RFC 7386 merge (enough for patches without lists).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[test]
fn remaining_violations_after_a_partial_fix_match_the_api_server() {
    // 078: a dry-run patch adding pod-level runAsNonRoot and seccompProfile to shop/frontend;
    // the API server's warning lists what the patched template still violates.
    let mut deployment =
        recording("028-get-deployment-shop-frontend.json")["response"]["body"].clone();
    let rec = recording("078-patch-smp-deployment-securitycontext-partial-dryrun.json");
    merge(&mut deployment, &rec["request"]["body"]);
    let template = &deployment["spec"]["template"];
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": template["metadata"], "spec": template["spec"]
    }))
    .expect("template");
    let violations = evaluate(
        restricted_latest(),
        &pod.metadata,
        pod.spec.as_ref().expect("spec"),
    );
    let expected = warning_text(
        rec["response"]["headers"]["warning"][0]
            .as_str()
            .expect("w"),
    );
    assert_eq!(warning(restricted_latest(), &violations), expected);
}
