//! The cluster as NetworkPolicy sees it: namespaces with labels, pods with labels, node, IP,
//! hostNetwork and named container ports, Services, and the defaulted policies. Pods come from
//! the shared workload view: running pods where they exist, else one pod synthesised from the
//! controller's template (offline manifests have no pods).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use guardrails::error::{Error, Result};
use guardrails::finding::ObjectRef;
use guardrails::inventory::{Inventory, ResourceKind, object_ref};

use crate::policy::{Policy, Protocol};

/// The immutable namespace label the control plane sets on every namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone)]
pub struct NamespaceInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Present in the input (not only referenced by other objects).
    pub declared: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub number: u16,
    pub protocol: Protocol,
}

/// One pod (or the pod a template would create).
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    /// The top-level workload it belongs to (the Pod itself when unowned).
    pub workload: ObjectRef,
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
    pub ip: Option<IpAddr>,
    pub host_network: bool,
    /// Index into [`Model::port_lists`] (pods of one template share it).
    pub ports: usize,
    /// Synthesised from a template or from labels given on the command line.
    pub synthetic: bool,
}

#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    /// `None`: no selector (endpoints managed by hand); matches no pod here.
    pub selector: Option<BTreeMap<String, String>>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
    pub target: TargetPort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    Named(String),
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub namespaces: Vec<NamespaceInfo>,
    pub pods: Vec<PodInfo>,
    pub port_lists: Vec<Vec<ContainerPort>>,
    pub services: Vec<ServiceInfo>,
    pub policies: Vec<Policy>,
    /// Names and images of the workloads where network plugins run, for the CNI detection.
    pub system_workloads: Vec<(String, Vec<String>)>,
    /// Literal env values of each workload, on its first pod (model index): Service references
    /// like `mysql.payments.svc:3306` hint at the connections it needs.
    pub env_values: Vec<(usize, String)>,
    namespace_index: HashMap<String, usize>,
}

/// What the plugin reads.
pub const KINDS: &[ResourceKind] = guardrails::kinds_with_workloads![
    ResourceKind::Namespace,
    ResourceKind::Service,
    ResourceKind::NetworkPolicy,
];

/// Where network plugins run: kube-system, and the namespaces their operators create.
fn is_network_plugin_namespace(ns: &str) -> bool {
    ns == "kube-system"
        || ns == "kube-flannel"
        || matches!(
            ns,
            "calico-system" | "tigera-operator" | "cilium" | "cilium-system"
        )
}

fn container_ports(spec: &PodSpec) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        for p in c.ports.iter().flatten() {
            let (Ok(number), Some(protocol)) = (
                u16::try_from(p.container_port),
                Protocol::parse(p.protocol.as_deref().unwrap_or("TCP")),
            ) else {
                continue;
            };
            out.push(ContainerPort {
                name: p.name.clone(),
                number,
                protocol,
            });
        }
    }
    out
}

impl Model {
    pub fn from_inventory(inv: &Inventory) -> Result<Model> {
        let mut model = Model::default();
        for ns in &inv.namespaces {
            let name = ns.metadata.name.clone().unwrap_or_default();
            model.add_namespace(&name, ns.metadata.labels.clone().unwrap_or_default(), true);
        }
        for np in &inv.network_policies {
            let policy = Policy::from_api(np).map_err(|message| {
                let object = object_ref(np);
                let at = inv
                    .location_of(&object)
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "cluster".into());
                Error::input(
                    at,
                    format!(
                        "invalid NetworkPolicy {}/{}: {message}",
                        object.namespace.as_deref().unwrap_or("default"),
                        object.name
                    ),
                )
            })?;
            model.ensure_namespace(&policy.namespace);
            model.policies.push(policy);
        }
        // Files keep their own order, the API server lists by namespace and name: explanations
        // must not depend on which.
        model
            .policies
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for w in inv.workloads()? {
            let ns = w.namespace().to_string();
            model.ensure_namespace(&ns);
            let ports = model.port_lists.len();
            model.port_lists.push(container_ports(&w.pod_spec));
            let host_network = w.pod_spec.host_network == Some(true);
            if is_network_plugin_namespace(&ns) {
                let images = w
                    .pod_spec
                    .containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect();
                model.system_workloads.push((w.object.name.clone(), images));
            }
            let first_pod = model.pods.len();
            for c in &w.pod_spec.containers {
                for e in c.env.iter().flatten() {
                    if let Some(v) = e.value.as_ref().filter(|v| !v.is_empty()) {
                        model.env_values.push((first_pod, v.clone()));
                    }
                }
            }
            if w.pods.is_empty() {
                model.pods.push(PodInfo {
                    namespace: ns.clone(),
                    name: w.object.name.clone(),
                    workload: w.object.clone(),
                    labels: w.pod_labels.cloned().unwrap_or_default(),
                    node: None,
                    ip: None,
                    host_network,
                    ports,
                    synthetic: true,
                });
            }
            for p in &w.pods {
                model.pods.push(PodInfo {
                    namespace: ns.clone(),
                    name: p.name.to_string(),
                    workload: w.object.clone(),
                    labels: p.labels.to_map(),
                    node: p.node_name.map(str::to_string),
                    ip: p.pod_ip.and_then(|ip| ip.parse().ok()),
                    host_network,
                    ports,
                    synthetic: false,
                });
            }
        }
        for svc in &inv.services {
            model.services.push(service_info(svc));
        }
        Ok(model)
    }

    fn add_namespace(&mut self, name: &str, mut labels: BTreeMap<String, String>, declared: bool) {
        // The API server sets this label on every namespace; manifests usually omit it.
        labels
            .entry(NAMESPACE_NAME_LABEL.to_string())
            .or_insert_with(|| name.to_string());
        self.namespace_index
            .insert(name.to_string(), self.namespaces.len());
        self.namespaces.push(NamespaceInfo {
            name: name.to_string(),
            labels,
            declared,
        });
    }

    /// A namespace referenced by objects but not in the input exists all the same.
    pub fn ensure_namespace(&mut self, name: &str) -> usize {
        if let Some(&i) = self.namespace_index.get(name) {
            return i;
        }
        self.add_namespace(name, BTreeMap::new(), false);
        self.namespaces.len() - 1
    }

    pub fn namespace_index(&self, name: &str) -> Option<usize> {
        self.namespace_index.get(name).copied()
    }

    pub fn ports_of(&self, pod: &PodInfo) -> &[ContainerPort] {
        self.port_lists.get(pod.ports).map_or(&[], Vec::as_slice)
    }

    /// Adds a pod that exists only for a query (labels from the command line); returns its index.
    pub fn add_synthetic_pod(
        &mut self,
        namespace: &str,
        name: &str,
        labels: BTreeMap<String, String>,
        ports: Vec<ContainerPort>,
    ) -> usize {
        self.ensure_namespace(namespace);
        let ports_index = self.port_lists.len();
        self.port_lists.push(ports);
        self.pods.push(PodInfo {
            namespace: namespace.to_string(),
            name: name.to_string(),
            workload: ObjectRef::new("v1", "Pod", Some(namespace), name),
            labels,
            node: None,
            ip: None,
            host_network: false,
            ports: ports_index,
            synthetic: true,
        });
        self.pods.len() - 1
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceInfo> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// The pods a Service sends traffic to (its selector, in its namespace).
    pub fn service_backends(&self, svc: &ServiceInfo) -> Vec<usize> {
        let Some(selector) = &svc.selector else {
            return Vec::new();
        };
        if selector.is_empty() {
            return Vec::new();
        }
        self.pods
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.namespace == svc.namespace
                    && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The container port a Service port reaches on `pod` (a named targetPort is looked up
    /// per pod, by name and protocol), or `None` when the pod does not declare it.
    pub fn target_port(&self, port: &ServicePort, pod: &PodInfo) -> Option<u16> {
        match &port.target {
            TargetPort::Number(n) => Some(*n),
            TargetPort::Named(name) => self
                .ports_of(pod)
                .iter()
                .find(|c| c.name.as_deref() == Some(name) && c.protocol == port.protocol)
                .map(|c| c.number),
        }
    }
}

fn service_info(svc: &Service) -> ServiceInfo {
    let spec = svc.spec.clone().unwrap_or_default();
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let port = u16::try_from(p.port).ok()?;
            let protocol = Protocol::parse(p.protocol.as_deref().unwrap_or("TCP"))?;
            let target = match &p.target_port {
                None => TargetPort::Number(port),
                Some(IntOrString::Int(n)) => TargetPort::Number(u16::try_from(*n).ok()?),
                Some(IntOrString::String(s)) => match s.parse::<u16>() {
                    Ok(n) => TargetPort::Number(n),
                    Err(_) => TargetPort::Named(s.clone()),
                },
            };
            Some(ServicePort {
                name: p.name.clone(),
                port,
                protocol,
                target,
            })
        })
        .collect();
    ServiceInfo {
        namespace: svc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        name: svc.metadata.name.clone().unwrap_or_default(),
        selector: spec.selector.clone(),
        ports,
    }
}
