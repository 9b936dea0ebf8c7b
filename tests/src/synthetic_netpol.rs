//! A synthetic cluster for the NetworkPolicy benchmark: namespaces of Deployment → ReplicaSet
//! → Pod chains (pods with IPs and nodes) with Services, and per namespace a default deny, a
//! DNS allow and allows mixing every peer shape (same-namespace pods, namespace selectors,
//! both ANDed, matchExpressions, named ports, endPort ranges, ipBlocks with except).
//! Deterministic for a given scale.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
pub struct NetpolScale {
    pub namespaces: usize,
    pub deployments_per_namespace: usize,
    pub pods_per_deployment: usize,
    pub policies_per_namespace: usize,
    pub nodes: usize,
    /// Give every pod its own label (like StatefulSet pods' pod-name), so no two pods can be
    /// evaluated as one: the matrix's worst case.
    pub distinct_pods: bool,
}

impl NetpolScale {
    /// 5,000 pods and 1,000 NetworkPolicies (the benchmark target).
    pub const TARGET: NetpolScale = NetpolScale {
        namespaces: 50,
        deployments_per_namespace: 20,
        pods_per_deployment: 5,
        policies_per_namespace: 20,
        nodes: 50,
        distinct_pods: false,
    };

    pub fn pods(&self) -> usize {
        self.namespaces * self.deployments_per_namespace * self.pods_per_deployment
    }

    pub fn policies(&self) -> usize {
        self.namespaces * self.policies_per_namespace
    }
}

fn ns_name(n: usize) -> String {
    format!("team-{n:03}")
}

fn app(d: usize) -> String {
    format!("svc-{d:02}")
}

/// Every object, as one `kind: List`.
pub fn netpol_cluster(scale: &NetpolScale) -> Value {
    let mut items = Vec::new();
    for n in 0..scale.namespaces {
        let ns = ns_name(n);
        let tier = ["frontend", "backend", "data"][n % 3];
        items.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"kubernetes.io/metadata.name": ns, "tier": tier, "team": format!("t{}", n % 10)}}}));
        for d in 0..scale.deployments_per_namespace {
            let app = app(d);
            let role = ["web", "api", "db", "worker"][d % 4];
            let labels = json!({"app": app, "role": role});
            let template = json!({
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0",
                    "ports": [{"name": "http", "containerPort": 8000 + (d % 7) as i64},
                              {"name": "metrics", "containerPort": 9100},
                              {"name": "dns-like", "containerPort": 5353, "protocol": "UDP"}]}]}
            });
            let uid = format!("uid-{n}-{d}");
            items.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns, "uid": uid},
                "spec": {"replicas": scale.pods_per_deployment, "selector": {"matchLabels": {"app": app}}, "template": template}}));
            let rs = format!("{app}-5d8f7c");
            let rs_uid = format!("rs-{n}-{d}");
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"]["pod-template-hash"] = json!("5d8f7c");
            items.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": ns, "uid": rs_uid,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": uid, "controller": true}]},
                "spec": {"selector": {"matchLabels": {"app": app}}, "template": rs_template}}));
            for p in 0..scale.pods_per_deployment {
                let index =
                    (n * scale.deployments_per_namespace + d) * scale.pods_per_deployment + p;
                let mut pod_labels = labels.clone();
                pod_labels["pod-template-hash"] = json!("5d8f7c");
                if scale.distinct_pods {
                    pod_labels["statefulset.kubernetes.io/pod-name"] =
                        json!(format!("{rs}-{p:05}"));
                }
                items.push(json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{rs}-{p:05}"), "namespace": ns, "labels": pod_labels,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": rs_uid, "controller": true}]},
                    "spec": {"nodeName": format!("node-{}", index % scale.nodes.max(1)), "containers": template["spec"]["containers"].clone()},
                    "status": {"podIP": format!("10.{}.{}.{}", 64 + index / 65536, (index / 256) % 256, index % 256)}}));
            }
            items.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": app, "namespace": ns},
                "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}));
        }
        for k in 0..scale.policies_per_namespace {
            items.push(policy(scale, n, k));
        }
    }
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn policy(scale: &NetpolScale, n: usize, k: usize) -> Value {
    let ns = ns_name(n);
    let meta = |name: String| json!({"name": name, "namespace": ns});
    let target = app(k % scale.deployments_per_namespace);
    let other_ns = ns_name((n + k) % scale.namespaces);
    let spec = match k {
        0 => json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        1 => json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
        _ => match k % 6 {
            0 => json!({"podSelector": {"matchLabels": {"app": target}}, "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"role": "web"}}}], "ports": [{"port": "http"}]}]}),
            1 => json!({"podSelector": {"matchLabels": {"app": target}}, "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"tier": "frontend"}}, "podSelector": {"matchLabels": {"role": "api"}}}],
                "ports": [{"port": 8000, "endPort": 8006}]}]}),
            2 => {
                json!({"podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["db", "worker"]}]},
                "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["t1", "t2"]}]}}],
                "ports": [{"port": "metrics"}]}]})
            }
            3 => {
                json!({"podSelector": {"matchLabels": {"app": target}}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": other_ns}}}], "ports": [{"port": "http"}]}]})
            }
            4 => {
                json!({"podSelector": {"matchLabels": {"role": "web"}}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}}], "ports": [{"port": 443}]}]})
            }
            _ => json!({"podSelector": {"matchLabels": {"app": target}}, "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"app": app((k + 1) % scale.deployments_per_namespace)}}},
                         {"ipBlock": {"cidr": "172.16.0.0/12"}}]}]}),
        },
    };
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(format!("np-{k:02}")), "spec": spec})
}
