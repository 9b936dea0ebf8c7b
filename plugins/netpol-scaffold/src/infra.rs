//! The cluster infrastructure NetworkPolicies must leave room for, found in the inventory: the
//! cluster DNS (its Service's selector, namespace and target ports; NodeLocal DNSCache), the
//! ingress controller, and whether the network plugin enforces NetworkPolicy at all.

use std::collections::BTreeMap;

use crate::model::{ContainerPort, Model, ServiceInfo, TargetPort};
use crate::policy::Protocol;

/// The link-local address NodeLocal DNSCache listens on by default.
pub const NODE_LOCAL_DNS_ADDRESS: &str = "169.254.20.10";

/// Where pods send DNS queries.
#[derive(Debug, Clone)]
pub struct Dns {
    pub namespace: String,
    /// The DNS Service's selector (the labels of the DNS pods).
    pub pod_labels: BTreeMap<String, String>,
    /// The DNS pods (model indexes).
    pub pods: Vec<usize>,
    /// The Service ports for port 53, with their target ports.
    pub ports: Vec<(Protocol, TargetPort)>,
    /// Not found in the input: the kubeadm defaults are assumed.
    pub assumed: bool,
    /// A NodeLocal DNSCache DaemonSet exists: pods may query its link-local address.
    pub node_local: bool,
}

impl Dns {
    pub fn describe(&self) -> String {
        let labels: Vec<String> = self
            .pod_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{}/{}{}",
            self.namespace,
            labels.join(","),
            if self.assumed { " (assumed)" } else { "" }
        )
    }
}

fn is_dns_service(s: &ServiceInfo) -> bool {
    s.namespace == "kube-system"
        && matches!(
            s.name.as_str(),
            "kube-dns" | "coredns" | "rke2-coredns-rke2-coredns"
        )
}

/// Finds the cluster DNS; when the input has none, adds a pod like kubeadm's CoreDNS
/// (`kube-system`, `k8s-app=kube-dns`, 53/UDP and 53/TCP) so that egress can be checked.
pub fn find_dns(model: &mut Model) -> Dns {
    let node_local = model
        .system_workloads
        .iter()
        .any(|(name, _)| name.contains("node-local-dns") || name.contains("nodelocaldns"));
    if let Some(svc) = model.services.iter().find(|s| is_dns_service(s)).cloned()
        && let Some(selector) = svc.selector.clone().filter(|s| !s.is_empty())
    {
        let mut pods = model.service_backends(&svc);
        let ports: Vec<(Protocol, TargetPort)> = svc
            .ports
            .iter()
            .filter(|p| p.port == 53)
            .map(|p| (p.protocol, p.target.clone()))
            .collect();
        if pods.is_empty() {
            pods.push(add_assumed_dns_pod(model, &svc.namespace, selector.clone()));
        }
        return Dns {
            namespace: svc.namespace.clone(),
            pod_labels: selector,
            pods,
            ports,
            assumed: false,
            node_local,
        };
    }
    let labels: BTreeMap<String, String> = [("k8s-app".to_string(), "kube-dns".to_string())].into();
    let mut pods: Vec<usize> = model
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.namespace == "kube-system"
                && p.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
        })
        .map(|(i, _)| i)
        .collect();
    let assumed = pods.is_empty();
    if assumed {
        pods.push(add_assumed_dns_pod(model, "kube-system", labels.clone()));
    }
    Dns {
        namespace: "kube-system".into(),
        pod_labels: labels,
        pods,
        ports: vec![
            (Protocol::Udp, TargetPort::Number(53)),
            (Protocol::Tcp, TargetPort::Number(53)),
        ],
        assumed,
        node_local,
    }
}

fn add_assumed_dns_pod(
    model: &mut Model,
    namespace: &str,
    labels: BTreeMap<String, String>,
) -> usize {
    let ports = vec![
        ContainerPort {
            name: Some("dns".into()),
            number: 53,
            protocol: Protocol::Udp,
        },
        ContainerPort {
            name: Some("dns-tcp".into()),
            number: 53,
            protocol: Protocol::Tcp,
        },
    ];
    model.add_synthetic_pod(namespace, "cluster-dns", labels, ports)
}

/// What the kube-system workloads say about NetworkPolicy enforcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// A plugin known to enforce NetworkPolicy runs (its name).
    Enforcing(String),
    /// Only a plugin known NOT to enforce it (flannel without Calico).
    NotEnforcing(String),
    /// kube-system workloads exist, none is a known network plugin.
    Unknown,
    /// No kube-system workloads in the input: nothing to tell from.
    NoData,
}

const ENFORCING: &[(&str, &str)] = &[
    ("calico", "Calico"),
    ("canal", "Canal (Calico policy)"),
    ("cilium", "Cilium"),
    ("anetd", "GKE Dataplane V2 (Cilium)"),
    ("antrea", "Antrea"),
    ("weave", "Weave Net"),
    ("kube-router", "kube-router"),
    ("kube-ovn", "Kube-OVN"),
    ("ovnkube", "OVN-Kubernetes"),
    ("openshift-sdn", "OpenShift SDN"),
    ("azure-npm", "Azure Network Policy Manager"),
    (
        "network-policy-agent",
        "Amazon VPC CNI network policy agent",
    ),
    ("kube-network-policies", "kube-network-policies"),
    ("romana", "Romana"),
];

/// Detects the network plugin from kube-system workload names and images.
pub fn enforcement(model: &Model) -> Enforcement {
    if model.system_workloads.is_empty() {
        return Enforcement::NoData;
    }
    let haystacks: Vec<String> = model
        .system_workloads
        .iter()
        .flat_map(|(name, images)| std::iter::once(name.clone()).chain(images.iter().cloned()))
        .map(|s| s.to_ascii_lowercase())
        .collect();
    for (needle, name) in ENFORCING {
        if haystacks.iter().any(|h| h.contains(needle)) {
            return Enforcement::Enforcing((*name).to_string());
        }
    }
    if haystacks.iter().any(|h| h.contains("flannel")) {
        return Enforcement::NotEnforcing("flannel".into());
    }
    Enforcement::Unknown
}
