//! `scaffold -n NS`: the policies a namespace needs to go default-deny safely — default deny
//! for both directions, DNS egress to the cluster DNS actually found, ingress from the ingress
//! controller actually found, and app-to-app allows (from flags, and inferred from workload env
//! values naming Services) — each named after its intent, then checked with the evaluator.
//!
//! Every choice is a value in [`ScaffoldOptions`], so an interactive front end only has to fill
//! it in; the output is plain NetworkPolicies, so `--apply` can hand them to the write path.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::infra::{Dns, NODE_LOCAL_DNS_ADDRESS};
use crate::model::{Model, NAMESPACE_NAME_LABEL, PodInfo, TargetPort};
use crate::policy::Protocol;

/// Labels that identify a workload's pods; the first present wins (pod-template-hash and
/// similar per-revision labels would tie a policy to one rollout).
const IDENTITY_LABELS: [&str; 4] = ["app.kubernetes.io/name", "app", "k8s-app", "name"];
const VOLATILE_LABELS: [&str; 4] = [
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "pod-template-generation",
];

#[derive(Debug, Clone, Default)]
pub struct ScaffoldOptions {
    pub namespace: String,
    pub allow_dns: bool,
    /// `auto` (the controller found) or `NS/key=value` (a given one).
    pub ingress_from: Option<String>,
    /// Workloads the ingress controller may reach (required with `ingress_from`).
    pub expose: Vec<String>,
    /// `FROM->TO:PORT[/PROTO]`; FROM/TO are `WORKLOAD`, `NS/WORKLOAD`, `NS/svc/NAME`.
    pub allows: Vec<String>,
    /// Also allow the connections workload env values name (`mysql.payments.svc:3306`).
    pub infer: bool,
    /// Inferred connections the user declined (the wizard): not allowed.
    pub declined: Vec<Edge>,
}

/// One proposed policy with why it is there.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub intent: String,
    pub policy: NetworkPolicy,
}

/// A connection the proposals must allow (checked with the evaluator afterwards).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// (namespace, pod selector labels)
    pub from: (String, BTreeMap<String, String>),
    pub to: (String, BTreeMap<String, String>),
    /// Container port on the destination: a name when it declares one.
    pub port: PortChoice,
    pub protocol: Protocol,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortChoice {
    Number(u16),
    Named(String),
}

impl PortChoice {
    fn int_or_string(&self) -> IntOrString {
        match self {
            PortChoice::Number(n) => IntOrString::Int(i32::from(*n)),
            PortChoice::Named(s) => IntOrString::String(s.clone()),
        }
    }
}

/// The labels selecting a pod's workload: an identity label if present, else all stable ones.
pub fn identity(pod: &PodInfo) -> BTreeMap<String, String> {
    for key in IDENTITY_LABELS {
        if let Some(v) = pod.labels.get(key) {
            return [(key.to_string(), v.clone())].into();
        }
    }
    pod.labels
        .iter()
        .filter(|(k, _)| !VOLATILE_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn short_name(labels: &BTreeMap<String, String>) -> String {
    labels
        .values()
        .next()
        .cloned()
        .unwrap_or_else(|| "pods".into())
}

fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then(|| labels.clone()),
        match_expressions: None,
    }
}

fn peer(from_namespace: &str, own: &str, labels: &BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        // In ONE peer: pods with these labels in that namespace (AND).
        namespace_selector: (from_namespace != own).then(|| {
            selector(&[(NAMESPACE_NAME_LABEL.to_string(), from_namespace.to_string())].into())
        }),
        pod_selector: Some(selector(labels)),
        ip_block: None,
    }
}

fn metadata(namespace: &str, name: &str, intent: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_string(),
                "kubectl-netpol-scaffold".to_string(),
            )]
            .into(),
        ),
        annotations: Some([("guardrails.dev/intent".to_string(), intent.to_string())].into()),
        ..ObjectMeta::default()
    }
}

fn port(protocol: Protocol, port: IntOrString) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.as_str().to_string()),
        port: Some(port),
        end_port: None,
    }
}

/// The ingress controller: pods named like one, preferring those behind a LoadBalancer or
/// NodePort Service; (namespace, selector labels, display name).
pub fn find_ingress_controller(
    model: &Model,
) -> Option<(String, BTreeMap<String, String>, String)> {
    const NAMES: [&str; 6] = [
        "ingress-nginx",
        "traefik",
        "haproxy-ingress",
        "contour",
        "kong",
        "nginx-ingress",
    ];
    let pod = model.pods.iter().find(|p| {
        NAMES
            .iter()
            .any(|n| p.labels.values().any(|v| v == n) || p.workload.name.contains(n))
    })?;
    let labels = model
        .services
        .iter()
        .find(|s| {
            s.namespace == pod.namespace
                && s.selector.as_ref().is_some_and(|sel| {
                    !sel.is_empty() && sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                })
        })
        .and_then(|s| s.selector.clone())
        .unwrap_or_else(|| identity(pod));
    let name = NAMES
        .iter()
        .find(|n| pod.labels.values().any(|v| v == *n) || pod.workload.name.contains(*n))
        .map(|n| n.to_string())
        .unwrap_or_else(|| pod.workload.name.clone());
    Some((pod.namespace.clone(), labels, name))
}

/// Finds the pods of `NS/WORKLOAD`, `WORKLOAD` (in `default_ns`) or `NS/svc/NAME`, with the
/// container port a given port means on them.
struct Side {
    namespace: String,
    labels: BTreeMap<String, String>,
    /// Representative pod (model index).
    pod: usize,
    service: Option<usize>,
}

fn side(model: &Model, text: &str, default_ns: &str) -> Result<Side, String> {
    let parts: Vec<&str> = text.splitn(3, '/').collect();
    let (ns, name, is_service) = match parts.as_slice() {
        [name] => (default_ns, *name, false),
        [ns, name] => (*ns, *name, false),
        [ns, "svc" | "service", name] => (*ns, *name, true),
        _ => {
            return Err(format!(
                "{text:?}: expected WORKLOAD, NS/WORKLOAD or NS/svc/NAME"
            ));
        }
    };
    if is_service {
        let si = model
            .services
            .iter()
            .position(|s| s.namespace == ns && s.name == name)
            .ok_or_else(|| format!("no Service {ns}/{name}"))?;
        let svc = &model.services[si];
        let pod = *model
            .service_backends(svc)
            .first()
            .ok_or_else(|| format!("Service {ns}/{name} selects no pod"))?;
        return Ok(Side {
            namespace: ns.to_string(),
            labels: svc.selector.clone().unwrap_or_default(),
            pod,
            service: Some(si),
        });
    }
    let pod = model
        .pods
        .iter()
        .position(|p| p.namespace == ns && (p.workload.name == name || p.name == name))
        .ok_or_else(|| format!("no workload or pod {ns}/{name}"))?;
    Ok(Side {
        namespace: ns.to_string(),
        labels: identity(&model.pods[pod]),
        pod,
        service: None,
    })
}

/// The destination's container port for `port` (a Service port maps to its target port), as
/// a name when the container declares one: policies then survive renumbering.
fn container_port(
    model: &Model,
    to: &Side,
    port: &str,
    protocol: Protocol,
) -> Result<PortChoice, String> {
    let pod = &model.pods[to.pod];
    let declared = model.ports_of(pod);
    let by_number = |n: u16| {
        declared
            .iter()
            .find(|c| c.number == n && c.protocol == protocol)
            .and_then(|c| c.name.clone())
            .map(PortChoice::Named)
            .unwrap_or(PortChoice::Number(n))
    };
    if let Some(si) = to.service {
        let svc = &model.services[si];
        let sp = svc
            .ports
            .iter()
            .find(|p| {
                p.protocol == protocol
                    && (p.port.to_string() == port || p.name.as_deref() == Some(port))
            })
            .ok_or_else(|| {
                format!(
                    "Service {}/{} has no port {port}/{protocol}",
                    svc.namespace, svc.name
                )
            })?;
        return Ok(match &sp.target {
            TargetPort::Number(n) => by_number(*n),
            TargetPort::Named(name) => PortChoice::Named(name.clone()),
        });
    }
    match port.parse::<u16>() {
        Ok(n) if n > 0 => Ok(by_number(n)),
        _ if crate::policy::is_iana_svc_name(port) => Ok(PortChoice::Named(port.to_string())),
        _ => Err(format!("port {port:?} is not a number or a port name")),
    }
}

/// `FROM->TO:PORT[/PROTO]`.
pub fn parse_allow(model: &Model, text: &str, default_ns: &str) -> Result<Edge, String> {
    let (from, rest) = text
        .split_once("->")
        .ok_or_else(|| format!("--allow {text:?}: expected FROM->TO:PORT[/PROTO]"))?;
    let (to, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("--allow {text:?}: expected FROM->TO:PORT[/PROTO]"))?;
    let (port, protocol) = match port.split_once('/') {
        Some((p, proto)) => (
            p,
            Protocol::parse(&proto.to_ascii_uppercase()).ok_or_else(|| {
                format!("--allow {text:?}: protocol {proto:?} is not TCP, UDP or SCTP")
            })?,
        ),
        None => (port, Protocol::Tcp),
    };
    let err = |e: String| format!("--allow {text:?}: {e}");
    let from = side(model, from.trim(), default_ns).map_err(err)?;
    let to = side(model, to.trim(), default_ns).map_err(err)?;
    let port = container_port(model, &to, port.trim(), protocol).map_err(err)?;
    Ok(Edge {
        from: (from.namespace, from.labels),
        to: (to.namespace, to.labels),
        port,
        protocol,
        why: format!("--allow {text}"),
    })
}

/// Connections named in env values: `svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`, with an
/// optional scheme and `:port` (roxctl's heuristic). Edges that touch `namespace` only.
pub fn infer_edges(model: &Model, inventory_env: &[(usize, String)], namespace: &str) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (pod, value) in inventory_env {
        let from_pod = &model.pods[*pod];
        for token in value.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            let host_port = token.split("://").last().unwrap_or(token);
            let host_port = host_port.split('/').next().unwrap_or(host_port);
            let (host, port) = match host_port.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (host_port, None),
            };
            let labels: Vec<&str> = host.split('.').collect();
            let (svc_name, svc_ns) = match labels.as_slice() {
                [s] => (*s, from_pod.namespace.as_str()),
                [s, ns] | [s, ns, "svc"] | [s, ns, "svc", "cluster", "local"] => (*s, *ns),
                _ => continue,
            };
            let Some(si) = model
                .services
                .iter()
                .position(|s| s.name == svc_name && s.namespace == svc_ns)
            else {
                continue;
            };
            if from_pod.namespace != namespace && svc_ns != namespace {
                continue;
            }
            let svc = &model.services[si];
            let Some(backend) = model.service_backends(svc).first().copied() else {
                continue;
            };
            let ports: Vec<_> = svc
                .ports
                .iter()
                .filter(|p| port.is_none_or(|n| p.port == n))
                .collect();
            // A bare host with several ports is ambiguous: every one of them.
            for sp in ports {
                let to = Side {
                    namespace: svc.namespace.clone(),
                    labels: svc.selector.clone().unwrap_or_default(),
                    pod: backend,
                    service: Some(si),
                };
                let Ok(port) = container_port(model, &to, &sp.port.to_string(), sp.protocol) else {
                    continue;
                };
                let edge = Edge {
                    from: (from_pod.namespace.clone(), identity(from_pod)),
                    to: (to.namespace, to.labels),
                    port,
                    protocol: sp.protocol,
                    why: format!("{} env names {host_port}", from_pod.workload.display_path()),
                };
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
    }
    // Workload order differs between files and the API server; the proposals must not.
    edges.sort();
    edges
}

/// The workloads behind a Service in `namespace` (what `--expose` may name), sorted.
pub fn exposable_workloads(model: &Model, namespace: &str) -> Vec<String> {
    let mut names: Vec<String> = model
        .services
        .iter()
        .filter(|s| s.namespace == namespace)
        .flat_map(|s| model.service_backends(s))
        .map(|i| model.pods[i].workload.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Builds the proposals for `opts.namespace`.
pub fn propose(
    model: &Model,
    dns: &Dns,
    opts: &ScaffoldOptions,
    edges: &[Edge],
) -> Result<Vec<Proposal>, String> {
    let ns = opts.namespace.as_str();
    let mut out = Vec::new();
    let intent = "deny all ingress and egress not allowed by another policy";
    out.push(Proposal {
        intent: intent.into(),
        policy: NetworkPolicy {
            metadata: metadata(ns, "default-deny", intent),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..NetworkPolicySpec::default()
            }),
        },
    });
    if opts.allow_dns {
        let ports: Vec<NetworkPolicyPort> = dns
            .ports
            .iter()
            .map(|(protocol, target)| {
                port(
                    *protocol,
                    match target {
                        TargetPort::Number(n) => IntOrString::Int(i32::from(*n)),
                        TargetPort::Named(s) => IntOrString::String(s.clone()),
                    },
                )
            })
            .collect();
        let mut rules = vec![NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(selector(
                    &[(NAMESPACE_NAME_LABEL.to_string(), dns.namespace.clone())].into(),
                )),
                pod_selector: Some(selector(&dns.pod_labels)),
                ip_block: None,
            }]),
            ports: Some(ports),
        }];
        if dns.node_local {
            // NodeLocal DNSCache answers on a link-local address from the host network.
            rules.push(NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: format!("{NODE_LOCAL_DNS_ADDRESS}/32"),
                        except: None,
                    }),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![
                    port(Protocol::Udp, IntOrString::Int(53)),
                    port(Protocol::Tcp, IntOrString::Int(53)),
                ]),
            });
        }
        let intent = format!(
            "every pod may resolve names with the cluster DNS ({})",
            dns.describe()
        );
        out.push(Proposal {
            policy: NetworkPolicy {
                metadata: metadata(ns, "allow-dns-egress", &intent),
                spec: Some(NetworkPolicySpec {
                    pod_selector: Some(LabelSelector::default()),
                    policy_types: Some(vec!["Egress".into()]),
                    egress: Some(rules),
                    ..NetworkPolicySpec::default()
                }),
            },
            intent,
        });
    }
    if let Some(from) = &opts.ingress_from {
        let (ctrl_ns, ctrl_labels, ctrl_name) = if from == "auto" {
            find_ingress_controller(model)
                .ok_or("--ingress-from auto: no ingress controller found (pass NS/key=value)")?
        } else {
            let (cns, query) = from
                .split_once('/')
                .filter(|(_, q)| q.contains('='))
                .ok_or_else(|| {
                    format!("--ingress-from {from:?}: expected auto or NS/key=value[,key=value]")
                })?;
            let mut labels = BTreeMap::new();
            for pair in query.split(',') {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--ingress-from {from:?}: expected key=value pairs"))?;
                labels.insert(k.trim().to_string(), v.trim().to_string());
            }
            (cns.to_string(), labels, cns.to_string())
        };
        // Only the workloads named: without Ingress objects, "every Service" would open
        // databases to the internet-facing controller.
        if opts.expose.is_empty() {
            return Err("--ingress-from needs --expose WORKLOAD (the workloads the ingress controller may reach)".into());
        }
        let mut targets: Vec<(String, BTreeMap<String, String>, Vec<PortChoice>)> = Vec::new();
        let services: Vec<_> = model
            .services
            .iter()
            .filter(|s| s.namespace == ns)
            .collect();
        for svc in services {
            for backend in model.service_backends(svc) {
                let pod = &model.pods[backend];
                if !opts.expose.is_empty() && !opts.expose.contains(&pod.workload.name) {
                    continue;
                }
                let mut ports = Vec::new();
                for sp in &svc.ports {
                    let choice = match &sp.target {
                        TargetPort::Named(n) => PortChoice::Named(n.clone()),
                        TargetPort::Number(n) => PortChoice::Number(*n),
                    };
                    if !ports.contains(&choice) {
                        ports.push(choice);
                    }
                }
                if !targets.iter().any(|t| t.0 == pod.workload.name) {
                    targets.push((pod.workload.name.clone(), identity(pod), ports));
                }
                break;
            }
        }
        if let Some(missing) = opts
            .expose
            .iter()
            .find(|w| !targets.iter().any(|t| &t.0 == *w))
        {
            return Err(format!(
                "--expose {missing}: no workload behind a Service in {ns} has that name"
            ));
        }
        // In the order asked for (file and API orders differ).
        targets.sort_by_key(|t| opts.expose.iter().position(|w| *w == t.0));
        let single = targets.len() == 1;
        for (workload, labels, ports) in targets {
            let name = if single {
                format!("allow-ingress-from-{ctrl_name}")
            } else {
                format!("allow-ingress-from-{ctrl_name}-to-{workload}")
            };
            let intent = format!(
                "the ingress controller ({ctrl_ns}) may reach {workload} on its Service target ports"
            );
            out.push(Proposal {
                policy: NetworkPolicy {
                    metadata: metadata(ns, &name, &intent),
                    spec: Some(NetworkPolicySpec {
                        pod_selector: Some(selector(&labels)),
                        policy_types: Some(vec!["Ingress".into()]),
                        ingress: Some(vec![NetworkPolicyIngressRule {
                            from: Some(vec![peer(&ctrl_ns, ns, &ctrl_labels)]),
                            ports: Some(
                                ports
                                    .iter()
                                    .map(|p| port(Protocol::Tcp, p.int_or_string()))
                                    .collect(),
                            ),
                        }]),
                        ..NetworkPolicySpec::default()
                    }),
                },
                intent,
            });
        }
    }
    for edge in edges {
        let (from_name, to_name) = (short_name(&edge.from.1), short_name(&edge.to.1));
        let ports = Some(vec![port(edge.protocol, edge.port.int_or_string())]);
        if edge.to.0 == ns {
            let name = format!("allow-{from_name}-to-{to_name}");
            out.push(Proposal {
                policy: NetworkPolicy {
                    metadata: metadata(ns, &name, &edge.why),
                    spec: Some(NetworkPolicySpec {
                        pod_selector: Some(selector(&edge.to.1)),
                        policy_types: Some(vec!["Ingress".into()]),
                        ingress: Some(vec![NetworkPolicyIngressRule {
                            from: Some(vec![peer(&edge.from.0, ns, &edge.from.1)]),
                            ports: ports.clone(),
                        }]),
                        ..NetworkPolicySpec::default()
                    }),
                },
                intent: edge.why.clone(),
            });
        }
        if edge.from.0 == ns {
            let name = format!("allow-{from_name}-egress-to-{to_name}");
            out.push(Proposal {
                policy: NetworkPolicy {
                    metadata: metadata(ns, &name, &edge.why),
                    spec: Some(NetworkPolicySpec {
                        pod_selector: Some(selector(&edge.from.1)),
                        policy_types: Some(vec!["Egress".into()]),
                        egress: Some(vec![NetworkPolicyEgressRule {
                            to: Some(vec![peer(&edge.to.0, ns, &edge.to.1)]),
                            ports,
                        }]),
                        ..NetworkPolicySpec::default()
                    }),
                },
                intent: edge.why.clone(),
            });
        }
    }
    // Two edges can propose the same name (same apps, other ports): merge by suffixing.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for p in &mut out {
        let name = p.policy.metadata.name.clone().unwrap_or_default();
        let n = seen.entry(name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            p.policy.metadata.name = Some(format!("{name}-{n}"));
        }
    }
    Ok(out)
}

/// Multi-document YAML, each document headed by its intent.
pub fn to_yaml(proposals: &[Proposal]) -> Result<String, String> {
    let mut text = String::new();
    for (i, p) in proposals.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&format!("# {}\n", p.intent));
        text.push_str(&serde_yaml_ng::to_string(&p.policy).map_err(|e| e.to_string())?);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails::inventory::Inventory;

    fn examples() -> Model {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster");
        let inv = Inventory::from_files(&[dir], false, crate::model::KINDS).expect("examples");
        Model::from_inventory(&inv).expect("model")
    }

    fn names(p: &[Proposal]) -> Vec<String> {
        p.iter()
            .map(|p| p.policy.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    fn yaml(p: &Proposal) -> String {
        serde_yaml_ng::to_string(&p.policy).expect("yaml")
    }

    #[test]
    fn dns_egress_uses_the_dns_found_and_its_target_ports() {
        let mut model = examples();
        let dns = crate::infra::find_dns(&mut model);
        assert!(!dns.assumed);
        let opts = ScaffoldOptions {
            namespace: "shop".into(),
            allow_dns: true,
            ..ScaffoldOptions::default()
        };
        let p = propose(&model, &dns, &opts, &[]).expect("proposals");
        assert_eq!(names(&p), ["default-deny", "allow-dns-egress"]);
        let text = yaml(&p[1]);
        for needle in [
            "kubernetes.io/metadata.name: kube-system",
            "k8s-app: kube-dns",
            "port: dns\n",
            "protocol: UDP",
            "port: dns-tcp",
            "protocol: TCP",
        ] {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
        assert!(
            yaml(&p[0]).contains("- Egress"),
            "default deny covers egress"
        );
    }

    #[test]
    fn ingress_from_the_controller_found_on_the_service_target_ports() {
        let model = examples();
        let dns = crate::infra::find_dns(&mut model.clone());
        assert_eq!(
            find_ingress_controller(&model).map(|c| (c.0, c.2)),
            Some(("ingress-nginx".to_string(), "ingress-nginx".to_string()))
        );
        let opts = ScaffoldOptions {
            namespace: "shop".into(),
            ingress_from: Some("auto".into()),
            expose: vec!["frontend".into()],
            ..ScaffoldOptions::default()
        };
        let p = propose(&model, &dns, &opts, &[]).expect("proposals");
        assert_eq!(
            names(&p),
            ["default-deny", "allow-ingress-from-ingress-nginx"]
        );
        let text = yaml(&p[1]);
        assert!(
            text.contains("app.kubernetes.io/component: controller")
                && text.contains("port: http\n"),
            "{text}"
        );
        let two = ScaffoldOptions {
            expose: vec!["frontend".into(), "checkout".into()],
            ..opts.clone()
        };
        let p = propose(&model, &dns, &two, &[]).expect("proposals");
        assert_eq!(
            names(&p),
            [
                "default-deny",
                "allow-ingress-from-ingress-nginx-to-frontend",
                "allow-ingress-from-ingress-nginx-to-checkout"
            ]
        );
        let unknown = ScaffoldOptions {
            expose: vec!["nope".into()],
            ..opts.clone()
        };
        assert!(propose(&model, &dns, &unknown, &[]).is_err());
        let none = ScaffoldOptions {
            expose: vec![],
            ..opts
        };
        assert!(
            propose(&model, &dns, &none, &[]).is_err(),
            "never every Service by default"
        );
    }

    #[test]
    fn allows_name_the_container_port_and_cover_both_ends() {
        let model = examples();
        let edge = parse_allow(&model, "payments-api->mysql:3306", "payments").expect("edge");
        assert_eq!(edge.port, PortChoice::Named("mysql".into()));
        let via_service = parse_allow(
            &model,
            "shop/checkout->payments/svc/payments-api:8080",
            "payments",
        )
        .expect("edge");
        assert_eq!(
            via_service.port,
            PortChoice::Named("http-api".into()),
            "Service port 8080 → targetPort http-api"
        );
        let dns = crate::infra::find_dns(&mut model.clone());
        let opts = ScaffoldOptions {
            namespace: "payments".into(),
            ..ScaffoldOptions::default()
        };
        let p = propose(&model, &dns, &opts, &[edge, via_service]).expect("proposals");
        assert_eq!(
            names(&p),
            [
                "default-deny",
                "allow-payments-api-to-mysql",
                "allow-payments-api-egress-to-mysql",
                "allow-checkout-to-payments-api"
            ]
        );
        let cross = yaml(&p[3]);
        assert!(
            cross.contains("kubernetes.io/metadata.name: shop") && cross.contains("app: checkout"),
            "{cross}"
        );
        assert!(parse_allow(&model, "api->mysql", "payments").is_err());
        assert!(parse_allow(&model, "nope->mysql:3306", "payments").is_err());
    }

    #[test]
    fn exposable_workloads_are_those_behind_a_service() {
        let model = examples();
        assert_eq!(
            exposable_workloads(&model, "shop"),
            ["checkout", "frontend", "web-cache"]
        );
        assert!(exposable_workloads(&model, "no-such-namespace").is_empty());
    }

    #[test]
    fn connections_are_inferred_from_env_service_names() {
        let model = examples();
        let edges = infer_edges(&model, &model.env_values, "payments");
        let checkout: Vec<&Edge> = edges.iter().filter(|e| e.from.0 == "shop").collect();
        assert_eq!(checkout.len(), 1, "{edges:?}");
        assert_eq!(checkout[0].to.0, "payments");
        assert_eq!(checkout[0].port, PortChoice::Named("http-api".into()));
        assert!(
            checkout[0]
                .why
                .contains("payments-api.payments.svc.cluster.local:8080")
        );
        assert!(infer_edges(&model, &model.env_values, "monitoring").is_empty());
    }
}
