//! A synthetic large cluster for benchmarks: namespaces full of ServiceAccounts, Roles,
//! RoleBindings and Deployment → ReplicaSet → Pod chains, plus cluster-wide roles and
//! bindings, with a realistic share of risky rules. Deterministic for a given scale.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub namespaces: usize,
    pub service_accounts_per_namespace: usize,
    pub roles_per_namespace: usize,
    pub role_bindings_per_namespace: usize,
    pub deployments_per_namespace: usize,
    pub pods_per_deployment: usize,
    pub cluster_roles: usize,
    pub cluster_role_bindings: usize,
    pub nodes: usize,
}

impl Scale {
    /// 100,000 RBAC objects and 50,000 pods (the benchmark target).
    pub const LARGE: Scale = Scale {
        namespaces: 500,
        service_accounts_per_namespace: 10,
        roles_per_namespace: 60,
        role_bindings_per_namespace: 120,
        deployments_per_namespace: 10,
        pods_per_deployment: 10,
        cluster_roles: 5_000,
        cluster_role_bindings: 5_000,
        nodes: 100,
    };

    pub fn rbac_objects(&self) -> usize {
        self.namespaces * (self.roles_per_namespace + self.role_bindings_per_namespace)
            + self.cluster_roles
            + self.cluster_role_bindings
    }

    pub fn pods(&self) -> usize {
        self.namespaces * self.deployments_per_namespace * self.pods_per_deployment
    }

    /// The same shape at `1/divisor` of the size (at least one of each).
    pub fn divided(&self, divisor: usize) -> Scale {
        let d = |n: usize| (n / divisor).max(1);
        Scale {
            namespaces: d(self.namespaces),
            cluster_roles: d(self.cluster_roles),
            cluster_role_bindings: d(self.cluster_role_bindings),
            ..*self
        }
    }
}

const RBAC: &str = "rbac.authorization.k8s.io/v1";

/// Rules cycling through benign and risky shapes.
fn rules(i: usize) -> Value {
    match i % 10 {
        0 => {
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}])
        }
        1 => {
            json!([{"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["*"]}])
        }
        2 => {
            json!([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
        }
        3 => {
            json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [format!("tls-{i}")], "verbs": ["get"]}])
        }
        _ => json!([
            {"apiGroups": [""], "resources": ["configmaps", "services", "endpoints"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
        ]),
    }
}

/// Calls `emit` once per object (so callers can stream to a file or collect).
pub fn generate(scale: &Scale, mut emit: impl FnMut(Value)) {
    for c in 0..scale.cluster_roles {
        let mut role = json!({
            "apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": format!("synthetic-cr-{c}"), "labels": {"synthetic.example.com/tier": format!("t{}", c % 50)}},
            "rules": rules(c),
        });
        if c % 100 == 99 {
            // Aggregated roles, computed from label selectors.
            role["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {"synthetic.example.com/tier": format!("t{}", c % 50)}}]});
            role["rules"] = json!([]);
        }
        emit(role);
    }
    for b in 0..scale.cluster_role_bindings {
        let ns = format!("ns-{}", b % scale.namespaces);
        emit(json!({
            "apiVersion": RBAC, "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("synthetic-crb-{b}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("synthetic-cr-{}", (b * 7) % scale.cluster_roles)},
            "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{}", b % scale.service_accounts_per_namespace), "namespace": ns}],
        }));
    }
    for n in 0..scale.namespaces {
        let ns = format!("ns-{n}");
        emit(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": format!("team-{}", n % 20)}}}),
        );
        for s in 0..scale.service_accounts_per_namespace {
            let mut sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{s}"), "namespace": ns}});
            if s % 3 == 0 {
                sa["automountServiceAccountToken"] = json!(false);
            }
            emit(sa);
        }
        for r in 0..scale.roles_per_namespace {
            emit(json!({
                "apiVersion": RBAC, "kind": "Role",
                "metadata": {"name": format!("role-{r}"), "namespace": ns},
                "rules": rules(r + n),
            }));
        }
        for b in 0..scale.role_bindings_per_namespace {
            let subject = match b % 12 {
                0 => {
                    json!({"kind": "Group", "name": format!("system:serviceaccounts:{ns}"), "apiGroup": "rbac.authorization.k8s.io"})
                }
                1 => {
                    json!({"kind": "User", "name": format!("user-{}", b % 40), "apiGroup": "rbac.authorization.k8s.io"})
                }
                2 => json!({"kind": "ServiceAccount", "name": "ghost", "namespace": ns}),
                _ => {
                    json!({"kind": "ServiceAccount", "name": format!("sa-{}", b % scale.service_accounts_per_namespace), "namespace": ns})
                }
            };
            let role_ref = match b % 5 {
                0 => {
                    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"})
                }
                1 => {
                    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("synthetic-cr-{}", b % scale.cluster_roles)})
                }
                _ => {
                    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{}", b % scale.roles_per_namespace)})
                }
            };
            emit(json!({
                "apiVersion": RBAC, "kind": "RoleBinding",
                "metadata": {"name": format!("rb-{b}"), "namespace": ns},
                "roleRef": role_ref,
                "subjects": [subject],
            }));
        }
        for d in 0..scale.deployments_per_namespace {
            let name = format!("app-{d}");
            let sa = format!("sa-{}", d % scale.service_accounts_per_namespace);
            let template = json!({
                "metadata": {"labels": {"app": name}},
                "spec": {"serviceAccountName": sa, "containers": [{"name": "main", "image": format!("registry.example.com/{name}:1.{d}")}]},
            });
            emit(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "uid": format!("{ns}-{name}")},
                "spec": {"replicas": scale.pods_per_deployment, "selector": {"matchLabels": {"app": name}}, "template": template},
            }));
            let rs = format!("{name}-5d8f7c9b4");
            emit(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": ns, "uid": format!("{ns}-{rs}"),
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("{ns}-{name}"), "controller": true}]},
                "spec": {"replicas": scale.pods_per_deployment, "selector": {"matchLabels": {"app": name}}, "template": template},
            }));
            for p in 0..scale.pods_per_deployment {
                let mut spec = template["spec"].clone();
                spec["nodeName"] = json!(format!("node-{}", (n * 31 + d * 7 + p) % scale.nodes));
                emit(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{rs}-{p:05}"), "namespace": ns, "labels": {"app": name},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": format!("{ns}-{rs}"), "controller": true}]},
                    "spec": spec,
                    "status": {"phase": "Running"},
                }));
            }
        }
    }
}

/// Writes the cluster as a JSON stream (one object per line), the fastest `-f` input.
pub fn write_json_stream(scale: &Scale, path: &std::path::Path) -> std::io::Result<usize> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut count = 0;
    let mut result = Ok(());
    generate(scale, |obj| {
        if result.is_ok() {
            result = serde_json::to_writer(&mut out, &obj)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"));
            count += 1;
        }
    });
    result?;
    out.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_large_scale_is_what_the_benchmark_promises() {
        assert_eq!(Scale::LARGE.rbac_objects(), 100_000);
        assert_eq!(Scale::LARGE.pods(), 50_000);
        let small = Scale::LARGE.divided(100);
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        generate(&small, |o| {
            *kinds
                .entry(o["kind"].as_str().unwrap_or("").to_string())
                .or_default() += 1
        });
        assert_eq!(kinds["Pod"], small.pods());
        assert_eq!(
            kinds["RoleBinding"],
            small.namespaces * small.role_bindings_per_namespace
        );
        assert_eq!(kinds["ClusterRole"], small.cluster_roles);
    }
}
