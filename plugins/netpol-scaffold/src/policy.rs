//! NetworkPolicies as the evaluator sees them: API defaulting applied (raw manifests are not
//! defaulted; live objects already are, and defaulting is idempotent), validated like the API
//! server, and peers made explicit (own namespace vs selected namespaces, all pods vs selected).

use std::fmt;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use guardrails::selector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The API's spelling (case-sensitive, as the API server validates it).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The port part of a rule's port entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    /// No `port`: every port of the protocol.
    Any,
    /// `port`, or `port`..=`endPort`.
    Range(u16, u16),
    /// A container port name, resolved per destination pod (name AND protocol).
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    pub protocol: Protocol,
    pub port: PortRef,
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            PortRef::Any => write!(f, "{}/*", self.protocol),
            PortRef::Range(a, b) if a == b => write!(f, "{}/{a}", self.protocol),
            PortRef::Range(a, b) => write!(f, "{}/{a}-{b}", self.protocol),
            PortRef::Named(n) => write!(f, "{}/{n}", self.protocol),
        }
    }
}

/// Which namespaces a selector peer looks in.
#[derive(Debug, Clone, PartialEq)]
pub enum NamespaceScope {
    /// No `namespaceSelector`: the policy's own namespace.
    Own,
    /// `namespaceSelector` (empty = every namespace).
    Selected(LabelSelector),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    /// podSelector and/or namespaceSelector in ONE list element (AND of both).
    Pods {
        namespaces: NamespaceScope,
        /// `None`: every pod of those namespaces (only a namespaceSelector was given).
        pods: Option<LabelSelector>,
    },
    /// An address range; `except` applies to this peer only.
    IpBlock { cidr: IpNet, except: Vec<IpNet> },
}

impl Peer {
    pub fn matches_ip(&self, ip: std::net::IpAddr) -> bool {
        match self {
            Peer::IpBlock { cidr, except } => {
                cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip))
            }
            Peer::Pods { .. } => false,
        }
    }
}

/// One ingress or egress rule. Empty `ports` = all ports and protocols; empty `peers` = all
/// sources/destinations (the rule's list was empty or absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub ports: Vec<PortRule>,
    pub peers: Vec<Peer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// A defaulted, validated NetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub pod_selector: LabelSelector,
    /// `Some` iff Ingress is in the (defaulted) policyTypes; the rules (possibly none).
    pub ingress: Option<Vec<Rule>>,
    /// `Some` iff Egress is in the (defaulted) policyTypes.
    pub egress: Option<Vec<Rule>>,
    /// policyTypes was absent/empty and defaulting decided the directions.
    pub types_defaulted: bool,
}

impl Policy {
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }

    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Defaults and validates `np` like the API server (`SetDefaults_NetworkPolicy`,
    /// `ValidateNetworkPolicy`); the error says what is wrong, the caller names the object.
    pub fn from_api(np: &NetworkPolicy) -> Result<Policy, String> {
        let namespace = np
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = np.metadata.name.clone().unwrap_or_default();
        let spec = np.spec.clone().unwrap_or_default();
        let pod_selector = spec.pod_selector.clone().unwrap_or_default();
        if !selector::is_valid(&pod_selector) {
            return Err("spec.podSelector is not a valid label selector".into());
        }
        let declared = spec.policy_types.clone().unwrap_or_default();
        if declared.len() > 2 {
            return Err("spec.policyTypes may have at most 2 entries".into());
        }
        for t in &declared {
            if t != "Ingress" && t != "Egress" {
                return Err(format!("spec.policyTypes: {t:?} is not Ingress or Egress"));
            }
        }
        let types_defaulted = declared.is_empty();
        // SetDefaults_NetworkPolicy: Ingress always; Egress only if egress rules exist.
        let (has_ingress, has_egress) = if types_defaulted {
            (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty()))
        } else {
            (
                declared.iter().any(|t| t == "Ingress"),
                declared.iter().any(|t| t == "Egress"),
            )
        };
        let mut ingress = Vec::new();
        for (i, r) in spec.ingress.iter().flatten().enumerate() {
            let at = format!("spec.ingress[{i}]");
            ingress.push(rule(r.ports.as_deref(), r.from.as_deref(), &at, "from")?);
        }
        let mut egress = Vec::new();
        for (i, r) in spec.egress.iter().flatten().enumerate() {
            let at = format!("spec.egress[{i}]");
            egress.push(rule(r.ports.as_deref(), r.to.as_deref(), &at, "to")?);
        }
        Ok(Policy {
            namespace,
            name,
            pod_selector,
            ingress: has_ingress.then_some(ingress),
            egress: has_egress.then_some(egress),
            types_defaulted,
        })
    }
}

fn rule(
    ports: Option<&[NetworkPolicyPort]>,
    peers: Option<&[NetworkPolicyPeer]>,
    at: &str,
    peer_field: &str,
) -> Result<Rule, String> {
    let ports = ports
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, p)| port_rule(p).map_err(|e| format!("{at}.ports[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let peers = peers
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, p)| peer(p).map_err(|e| format!("{at}.{peer_field}[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule { ports, peers })
}

fn port_rule(p: &NetworkPolicyPort) -> Result<PortRule, String> {
    let protocol = match p.protocol.as_deref() {
        None => Protocol::Tcp,
        Some(s) => {
            Protocol::parse(s).ok_or_else(|| format!("protocol {s:?} is not TCP, UDP or SCTP"))?
        }
    };
    let valid_port = |n: i32| -> Result<u16, String> {
        u16::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| format!("port {n} is not between 1 and 65535"))
    };
    let port = match (&p.port, p.end_port) {
        (None, None) => PortRef::Any,
        (None, Some(_)) => return Err("endPort requires port".into()),
        (Some(IntOrString::Int(n)), end) => {
            let start = valid_port(*n)?;
            let end = match end {
                None => start,
                Some(e) => {
                    let e = valid_port(e)?;
                    if e < start {
                        return Err(format!("endPort {e} is less than port {start}"));
                    }
                    e
                }
            };
            PortRef::Range(start, end)
        }
        (Some(IntOrString::String(name)), end) => {
            if end.is_some() {
                return Err("endPort requires a numeric port".into());
            }
            // A numeric string is what kubectl sends for `port: "80"` in some tools; the API
            // server stores it as a string and validates it as a name, which digits-only fail.
            if !is_iana_svc_name(name) {
                return Err(format!(
                    "port {name:?} is not a valid port name (at most 15 of a-z, 0-9, '-', at least one letter, no leading, trailing or double '-')"
                ));
            }
            PortRef::Named(name.clone())
        }
    };
    Ok(PortRule { protocol, port })
}

/// `IsValidPortName` of apimachinery.
pub fn is_iana_svc_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn peer(p: &NetworkPolicyPeer) -> Result<Peer, String> {
    match (&p.ip_block, &p.namespace_selector, &p.pod_selector) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("ipBlock may not be combined with podSelector or namespaceSelector".into())
        }
        (Some(block), None, None) => {
            let cidr: IpNet = block
                .cidr
                .parse()
                .map_err(|_| format!("ipBlock.cidr {:?} is not a valid CIDR", block.cidr))?;
            let mut except = Vec::new();
            for e in block.except.iter().flatten() {
                let net: IpNet = e
                    .parse()
                    .map_err(|_| format!("ipBlock.except {e:?} is not a valid CIDR"))?;
                if !cidr.contains(&net) || net.prefix_len() <= cidr.prefix_len() {
                    return Err(format!(
                        "ipBlock.except {e:?} must be a strict subset of cidr {:?}",
                        block.cidr
                    ));
                }
                except.push(net);
            }
            Ok(Peer::IpBlock {
                cidr: cidr.trunc(),
                except,
            })
        }
        (None, None, None) => {
            Err("a peer must set podSelector, namespaceSelector or ipBlock".into())
        }
        (None, ns, pods) => {
            for (field, s) in [("namespaceSelector", ns), ("podSelector", pods)] {
                if let Some(s) = s
                    && !selector::is_valid(s)
                {
                    return Err(format!("{field} is not a valid label selector"));
                }
            }
            Ok(Peer::Pods {
                namespaces: match ns {
                    Some(s) => NamespaceScope::Selected(s.clone()),
                    None => NamespaceScope::Own,
                },
                pods: pods.clone(),
            })
        }
    }
}
