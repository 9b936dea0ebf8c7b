//! A synthetic cluster of pod-creating workloads for the `harden` benchmark: every controller
//! kind plus standalone Pods, with security contexts cycling from fully restricted-compliant to
//! privileged, hostPath, host ports, probes with hosts, sysctls and unconfined profiles, and some
//! namespaces pinned to an older policy version. Deterministic for a given count.

use serde_json::{Value, json};

/// Workloads per namespace (so 50,000 workloads spread over 500 namespaces).
pub const PER_NAMESPACE: usize = 100;

fn containers(i: usize) -> Value {
    let restricted = json!({
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": true,
    });
    let app = |sc: Value| {
        json!({
            "name": "app", "image": format!("registry.example.com/app-{}:1.{}", i % 97, i % 13),
            "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "securityContext": sc,
        })
    };
    let sidecar = json!({"name": "proxy", "image": "registry.example.com/proxy:2", "securityContext": restricted});
    match i % 10 {
        0..=2 => json!([app(restricted.clone()), sidecar]),
        3 => json!([app(json!({"privileged": true}))]),
        4 => json!([app(
            json!({"capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}})
        )]),
        5 => json!([{
            "name": "app", "image": "registry.example.com/web:3",
            "ports": [{"containerPort": 80, "hostPort": 80}],
            "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}},
        }]),
        6 => json!([
            app(json!({"runAsUser": 0, "allowPrivilegeEscalation": true})),
            sidecar
        ]),
        7 => json!([app(
            json!({"seccompProfile": {"type": "Unconfined"}, "procMount": "Unmasked"})
        )]),
        _ => json!([app(Value::Null)]),
    }
}

fn pod_spec(i: usize) -> Value {
    let mut spec = json!({
        "serviceAccountName": if i.is_multiple_of(4) { "default".to_string() } else { format!("sa-{}", i % 5) },
        "containers": containers(i),
    });
    match i % 6 {
        0 | 1 => {
            spec["securityContext"] = json!({"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}});
            spec["automountServiceAccountToken"] = json!(false);
        }
        2 => spec["hostNetwork"] = json!(true),
        3 => {
            spec["volumes"] = json!([{"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "tmp", "emptyDir": {}}]);
        }
        4 => {
            spec["securityContext"] = json!({"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "600"}], "appArmorProfile": {"type": "Unconfined"}});
        }
        _ => {}
    }
    if i.is_multiple_of(50) {
        spec["initContainers"] =
            json!([{"name": "migrate", "image": "registry.example.com/migrate:1"}]);
    }
    spec
}

/// Calls `emit` for the namespaces, their ServiceAccounts and `count` workloads.
pub fn generate(count: usize, mut emit: impl FnMut(Value)) {
    let namespaces = count.div_ceil(PER_NAMESPACE);
    for n in 0..namespaces {
        let ns = format!("ns-{n}");
        let mut labels = json!({"team": format!("team-{}", n % 20)});
        if n.is_multiple_of(5) {
            labels["pod-security.kubernetes.io/enforce-version"] = json!("v1.29");
        }
        emit(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
        );
        for s in 0..5 {
            emit(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{s}"), "namespace": ns}}),
            );
        }
    }
    for i in 0..count {
        let ns = format!("ns-{}", i / PER_NAMESPACE);
        let name = format!("w-{i}");
        let labels = json!({"app": name});
        let template = json!({"metadata": {"labels": labels}, "spec": pod_spec(i)});
        let meta = json!({"name": name, "namespace": ns, "labels": labels});
        let selector = json!({"matchLabels": labels});
        let object = match i % 8 {
            0..=2 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": 3, "selector": selector, "template": template}}),
            3 => json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
                "spec": {"serviceName": name, "selector": selector, "template": template}}),
            4 => json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
                "spec": {"selector": selector, "template": template}}),
            5 => {
                let mut t = template;
                t["spec"]["restartPolicy"] = json!("Never");
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                    "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": t}}}})
            }
            6 => {
                let mut t = template;
                t["spec"]["restartPolicy"] = json!("Never");
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": t}})
            }
            _ => {
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]})
            }
        };
        emit(object);
    }
}

/// Writes the workloads as a JSON stream (one object per line), the fastest `-f` input.
pub fn write_json_stream(count: usize, path: &std::path::Path) -> std::io::Result<usize> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut objects = 0;
    let mut result = Ok(());
    generate(count, |obj| {
        if result.is_ok() {
            result = serde_json::to_writer(&mut out, &obj)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"));
            objects += 1;
        }
    });
    result?;
    out.flush()?;
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_the_requested_workloads_across_kinds() {
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        generate(800, |o| {
            *kinds
                .entry(o["kind"].as_str().unwrap_or("").to_string())
                .or_default() += 1
        });
        let workloads: usize = [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "CronJob",
            "Job",
            "Pod",
        ]
        .iter()
        .map(|k| kinds.get(*k).copied().unwrap_or(0))
        .sum();
        assert_eq!(workloads, 800);
        assert_eq!(kinds["Namespace"], 8);
        assert_eq!(kinds["Deployment"], 300);
    }
}
