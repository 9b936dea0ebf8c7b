//! The static evaluator: which connections NetworkPolicies allow, with Kubernetes semantics.
//!
//! Built once per model: each policy's selected pods and each rule peer's pod set are computed
//! up front (peer sets deduplicated, as bitsets over pods), and every pod knows the policies
//! isolating it per direction. A pair is then answered from the sender's egress rules and the
//! receiver's ingress rules only — never by scanning all policies.

use std::collections::HashMap;
use std::net::IpAddr;

use fixedbitset::FixedBitSet;
use ipnet::IpNet;
use serde::Serialize;

use guardrails::selector::{self, Requirement};

use crate::model::{ContainerPort, Model};
use crate::policy::{Direction, NamespaceScope, Peer, PortRef, PortRule, Protocol, Rule};
use crate::ports::PortSet;

fn all_hold(reqs: &[Requirement], labels: &std::collections::BTreeMap<String, String>) -> bool {
    reqs.iter().all(|r| r.matches(labels))
}

/// What a rule peer matches, precomputed.
#[derive(Debug)]
enum PeerMatch {
    /// Index into `Evaluator::pod_sets`.
    Pods(usize),
    Block(Peer),
}

#[derive(Debug)]
struct CompiledRule {
    ports: Vec<PortRule>,
    /// Empty = every peer (pods, addresses, nodes).
    peers: Vec<PeerMatch>,
    /// The rule's ports when none is named (the same for every destination).
    fixed_ports: Option<PortSet>,
}

/// One end of a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    Pod(usize),
    /// Outside the cluster (or an address not known to be a pod).
    Address(IpNet),
    /// A node's own traffic (kubelet probes, hostNetwork processes): ingress into pods on that
    /// node is always allowed.
    Node(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "ALLOW")]
    Allow,
    #[serde(rename = "DENY")]
    Deny,
    /// Undefined by the API: the CNI decides (hostNetwork pods, node addresses).
    #[serde(rename = "DEPENDS")]
    Depends,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "ALLOW",
            Verdict::Deny => "DENY",
            Verdict::Depends => "DEPENDS",
        }
    }
}

/// A rule that allows (part of) a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    pub policy: String,
    pub direction: Direction,
    pub rule: usize,
}

/// One direction's decision.
#[derive(Debug, Clone, Default)]
pub struct SideDecision {
    /// Policies isolating the pod in this direction (empty: not isolated, all allowed).
    pub isolating: Vec<usize>,
    /// Rules whose peers match, with the ports each allows toward this destination.
    pub matching: Vec<(usize, usize, PortSet)>,
    /// What this side allows.
    pub allowed: PortSet,
    /// A peer's match could not be decided (an ipBlock against a node of unknown address).
    pub uncertain: bool,
}

impl SideDecision {
    fn open() -> SideDecision {
        SideDecision {
            allowed: PortSet::all(),
            ..SideDecision::default()
        }
    }
    pub fn is_isolated(&self) -> bool {
        !self.isolating.is_empty()
    }
}

/// Why a pair got its verdict regardless of policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Special {
    /// A pod cannot block traffic to itself.
    Loopback,
    /// Ingress from the pod's own node is always allowed.
    OwnNode,
    /// A hostNetwork pod is involved: CNIs differ.
    HostNetwork,
}

#[derive(Debug, Clone)]
pub struct Connection {
    /// The sender's egress (`None` when the sender is not a pod).
    pub egress: Option<SideDecision>,
    /// The receiver's ingress (`None` when the receiver is not a pod).
    pub ingress: Option<SideDecision>,
    pub special: Option<Special>,
    /// What may be used: egress ∩ ingress.
    pub allowed: PortSet,
}

impl Connection {
    pub fn verdict_for(&self, protocol: Protocol, port: u16) -> Verdict {
        match self.special {
            Some(Special::Loopback | Special::OwnNode) => return Verdict::Allow,
            Some(Special::HostNetwork) => return Verdict::Depends,
            None => {}
        }
        if self.allowed.contains(protocol, port) {
            return Verdict::Allow;
        }
        let uncertain = [&self.egress, &self.ingress]
            .into_iter()
            .flatten()
            .any(|s| s.uncertain);
        if uncertain {
            Verdict::Depends
        } else {
            Verdict::Deny
        }
    }

    /// The rules (or isolating policies, when denied) behind the verdict on one port.
    pub fn decided_by(
        &self,
        evaluator: &Evaluator<'_>,
        protocol: Protocol,
        port: u16,
    ) -> Vec<Decision> {
        let mut out = Vec::new();
        // An allowed connection is explained by the allowing rules of both sides; a denied one
        // only by the side(s) that deny it.
        let allowed = self.allowed.contains(protocol, port);
        for (direction, side) in [
            (Direction::Egress, &self.egress),
            (Direction::Ingress, &self.ingress),
        ] {
            let Some(side) = side else { continue };
            if !side.is_isolated() || (!allowed && side.allowed.contains(protocol, port)) {
                continue;
            }
            let allowing: Vec<&(usize, usize, PortSet)> = side
                .matching
                .iter()
                .filter(|(_, _, ports)| ports.contains(protocol, port))
                .collect();
            if allowing.is_empty() {
                for &p in &side.isolating {
                    out.push(Decision {
                        policy: evaluator.model.policies[p].path(),
                        direction,
                        rule: None,
                        effect: "isolates, no rule matches".into(),
                    });
                }
            } else {
                for (p, r, _) in allowing {
                    out.push(Decision {
                        policy: evaluator.model.policies[*p].path(),
                        direction,
                        rule: Some(*r),
                        effect: "allows".into(),
                    });
                }
            }
        }
        out
    }
}

/// One policy's part in a verdict (the contract's `decidedBy` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub policy: String,
    pub direction: Direction,
    pub rule: Option<usize>,
    pub effect: String,
}

pub struct Evaluator<'m> {
    pub model: &'m Model,
    /// Pods of each namespace (by model index).
    pods_by_namespace: Vec<Vec<usize>>,
    /// Per direction (Ingress = 0, Egress = 1), per pod: policies isolating it.
    isolating: [Vec<Vec<u32>>; 2],
    /// Per policy, per direction: its compiled rules (`None` when the direction is absent).
    rules: Vec<[Option<Vec<CompiledRule>>; 2]>,
    pod_sets: Vec<FixedBitSet>,
    /// Per policy: how many pods it selects.
    pub selected_counts: Vec<usize>,
    /// Per peer set: how many namespaces its namespace part matched.
    pub namespace_matches: Vec<usize>,
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'m> Evaluator<'m> {
    pub fn new(model: &'m Model) -> Evaluator<'m> {
        let n = model.pods.len();
        let mut pods_by_namespace = vec![Vec::new(); model.namespaces.len()];
        for (i, p) in model.pods.iter().enumerate() {
            if let Some(ns) = model.namespace_index(&p.namespace) {
                pods_by_namespace[ns].push(i);
            }
        }
        let mut ev = Evaluator {
            model,
            pods_by_namespace,
            isolating: [vec![Vec::new(); n], vec![Vec::new(); n]],
            rules: Vec::with_capacity(model.policies.len()),
            pod_sets: Vec::new(),
            selected_counts: Vec::with_capacity(model.policies.len()),
            namespace_matches: Vec::new(),
        };
        let mut cache: HashMap<String, usize> = HashMap::new();
        for (pi, policy) in model.policies.iter().enumerate() {
            // An invalid selector was refused when the policy was read; empty = all pods.
            let reqs = selector::compile(&policy.pod_selector).unwrap_or_default();
            let mut count = 0;
            if let Some(ns) = model.namespace_index(&policy.namespace) {
                for &pod in &ev.pods_by_namespace[ns] {
                    if all_hold(&reqs, &model.pods[pod].labels) {
                        count += 1;
                        for d in [Direction::Ingress, Direction::Egress] {
                            if policy.rules(d).is_some() {
                                ev.isolating[dir_index(d)][pod].push(pi as u32);
                            }
                        }
                    }
                }
            }
            ev.selected_counts.push(count);
            let mut compiled: [Option<Vec<CompiledRule>>; 2] = [None, None];
            for d in [Direction::Ingress, Direction::Egress] {
                if let Some(rules) = policy.rules(d) {
                    let list = rules
                        .iter()
                        .map(|r| ev.compile_rule(r, &policy.namespace, &mut cache))
                        .collect();
                    compiled[dir_index(d)] = Some(list);
                }
            }
            ev.rules.push(compiled);
        }
        ev
    }

    fn compile_rule(
        &mut self,
        rule: &Rule,
        policy_namespace: &str,
        cache: &mut HashMap<String, usize>,
    ) -> CompiledRule {
        let peers = rule
            .peers
            .iter()
            .map(|peer| match peer {
                Peer::IpBlock { .. } => PeerMatch::Block(peer.clone()),
                Peer::Pods { namespaces, pods } => {
                    let key = format!(
                        "{}|{}",
                        match namespaces {
                            NamespaceScope::Own => format!("own:{policy_namespace}"),
                            NamespaceScope::Selected(s) => format!("{s:?}"),
                        },
                        pods.as_ref().map(|s| format!("{s:?}")).unwrap_or_default()
                    );
                    if let Some(&i) = cache.get(&key) {
                        return PeerMatch::Pods(i);
                    }
                    let i = self.pod_set(namespaces, pods.as_ref(), policy_namespace);
                    cache.insert(key, i);
                    PeerMatch::Pods(i)
                }
            })
            .collect();
        let fixed_ports = (!rule
            .ports
            .iter()
            .any(|p| matches!(p.port, PortRef::Named(_))))
        .then(|| resolve_ports(&rule.ports, None));
        CompiledRule {
            ports: rule.ports.clone(),
            peers,
            fixed_ports,
        }
    }

    fn pod_set(
        &mut self,
        namespaces: &NamespaceScope,
        pods: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
        policy_namespace: &str,
    ) -> usize {
        let model = self.model;
        let mut set = FixedBitSet::with_capacity(model.pods.len());
        let ns_list: Vec<usize> = match namespaces {
            NamespaceScope::Own => model
                .namespace_index(policy_namespace)
                .into_iter()
                .collect(),
            NamespaceScope::Selected(sel) => {
                let reqs = selector::compile(sel).unwrap_or_default();
                model
                    .namespaces
                    .iter()
                    .enumerate()
                    .filter(|(_, ns)| all_hold(&reqs, &ns.labels))
                    .map(|(i, _)| i)
                    .collect()
            }
        };
        let pod_reqs = pods.map(|s| selector::compile(s).unwrap_or_default());
        for &ns in &ns_list {
            for &pod in &self.pods_by_namespace[ns] {
                let ok = pod_reqs
                    .as_ref()
                    .is_none_or(|r| all_hold(r, &model.pods[pod].labels));
                if ok {
                    set.insert(pod);
                }
            }
        }
        self.pod_sets.push(set);
        self.namespace_matches.push(ns_list.len());
        self.pod_sets.len() - 1
    }

    /// Policies isolating `pod` in `direction`.
    pub fn isolating(&self, pod: usize, direction: Direction) -> impl Iterator<Item = usize> + '_ {
        self.isolating[dir_index(direction)][pod]
            .iter()
            .map(|&p| p as usize)
    }

    /// Per peer of a policy's rules in one direction: (rule index, peer index, pods matched,
    /// namespaces matched) — for the "peer matches nothing" check.
    pub fn peer_matches(
        &self,
        policy: usize,
        direction: Direction,
    ) -> Vec<(usize, usize, usize, usize)> {
        let mut out = Vec::new();
        if let Some(rules) = &self.rules[policy][dir_index(direction)] {
            for (ri, r) in rules.iter().enumerate() {
                for (pi, peer) in r.peers.iter().enumerate() {
                    if let PeerMatch::Pods(set) = peer {
                        out.push((
                            ri,
                            pi,
                            self.pod_sets[*set].count_ones(..),
                            self.namespace_matches[*set],
                        ));
                    }
                }
            }
        }
        out
    }

    fn peer_matches_endpoint(&self, peer: &PeerMatch, who: &Endpoint) -> Match {
        match (peer, who) {
            (PeerMatch::Pods(set), Endpoint::Pod(p)) => {
                Match::from(self.pod_sets[*set].contains(*p))
            }
            (PeerMatch::Pods(_), _) => Match::No,
            (PeerMatch::Block(block), Endpoint::Pod(p)) => match self.model.pods[*p].ip {
                // Upstream e2e: an ipBlock holding a pod's IP allows that pod.
                Some(ip) => Match::from(block.matches_ip(ip)),
                None => Match::No,
            },
            (PeerMatch::Block(Peer::IpBlock { cidr, except }), Endpoint::Address(net)) => {
                Match::from(
                    cidr.contains(net)
                        && !except.iter().any(|e| e.contains(net) || net.contains(e)),
                )
            }
            (PeerMatch::Block(_), Endpoint::Address(_)) => Match::No,
            // A node's address is not known here.
            (PeerMatch::Block(_), Endpoint::Node(_)) => Match::Unknown,
        }
    }

    /// One direction of a connection: `subject` is the pod whose policies apply, `peer` the
    /// other end, `destination` the pod whose named ports resolve (the receiver).
    fn side(
        &self,
        subject: usize,
        direction: Direction,
        peer: &Endpoint,
        destination: Option<usize>,
    ) -> SideDecision {
        let isolating: Vec<usize> = self.isolating(subject, direction).collect();
        if isolating.is_empty() {
            return SideDecision::open();
        }
        let dest_ports = destination.map(|d| self.model.ports_of(&self.model.pods[d]));
        let mut decision = SideDecision {
            isolating,
            ..SideDecision::default()
        };
        for &policy in &decision.isolating.clone() {
            let Some(rules) = &self.rules[policy][dir_index(direction)] else {
                continue;
            };
            for (ri, rule) in rules.iter().enumerate() {
                let mut matched = rule.peers.is_empty();
                for peer_match in &rule.peers {
                    match self.peer_matches_endpoint(peer_match, peer) {
                        Match::Yes => {
                            matched = true;
                            break;
                        }
                        Match::Unknown => decision.uncertain = true,
                        Match::No => {}
                    }
                }
                if !matched {
                    continue;
                }
                let ports = match &rule.fixed_ports {
                    Some(p) => p.clone(),
                    None => resolve_ports(&rule.ports, dest_ports),
                };
                decision.allowed.union_with(&ports);
                decision.matching.push((policy, ri, ports));
            }
        }
        decision
    }

    /// Why a pair is decided regardless of policies, if it is.
    pub fn special(&self, from: &Endpoint, to: &Endpoint) -> Option<Special> {
        let pods = &self.model.pods;
        match (from, to) {
            (Endpoint::Pod(a), Endpoint::Pod(b)) if a == b => Some(Special::Loopback),
            (Endpoint::Node(node), Endpoint::Pod(d)) if pods[*d].node.as_deref() == Some(node) => {
                Some(Special::OwnNode)
            }
            (Endpoint::Pod(a), Endpoint::Pod(b))
                if pods[*a].host_network
                    && pods[*a].node.is_some()
                    && pods[*a].node == pods[*b].node =>
            {
                // A hostNetwork pod's traffic comes from its node's address.
                Some(Special::OwnNode)
            }
            _ => {
                let host = |e: &Endpoint| matches!(e, Endpoint::Pod(p) if pods[*p].host_network);
                (host(from) || host(to)).then_some(Special::HostNetwork)
            }
        }
    }

    /// What `src` may open to `dst` (pods, no explanation): the matrix's fast path, which
    /// allocates only when a rule matches. `None` = every port (neither side restricts).
    pub fn allowed_between(&self, src: usize, dst: usize) -> Option<PortSet> {
        let egress = self.side_ports(src, Direction::Egress, dst, dst);
        if egress.as_ref().is_some_and(PortSet::is_empty) {
            return Some(PortSet::empty());
        }
        let ingress = self.side_ports(dst, Direction::Ingress, src, dst);
        match (egress, ingress) {
            (None, None) => None,
            (Some(p), None) | (None, Some(p)) => Some(p),
            (Some(a), Some(b)) => Some(a.intersect(&b)),
        }
    }

    /// `None`: not isolated; else what the rules allow toward `peer` (possibly nothing).
    fn side_ports(
        &self,
        subject: usize,
        direction: Direction,
        peer: usize,
        destination: usize,
    ) -> Option<PortSet> {
        let policies = &self.isolating[dir_index(direction)][subject];
        if policies.is_empty() {
            return None;
        }
        let mut allowed = PortSet::empty();
        let peer_endpoint = Endpoint::Pod(peer);
        for &policy in policies {
            let Some(rules) = &self.rules[policy as usize][dir_index(direction)] else {
                continue;
            };
            for rule in rules {
                let matched = rule.peers.is_empty()
                    || rule.peers.iter().any(|m| match m {
                        PeerMatch::Pods(set) => self.pod_sets[*set].contains(peer),
                        PeerMatch::Block(_) => {
                            self.peer_matches_endpoint(m, &peer_endpoint) == Match::Yes
                        }
                    });
                if !matched {
                    continue;
                }
                match &rule.fixed_ports {
                    Some(p) => allowed.union_with(p),
                    None => allowed.union_with(&resolve_ports(
                        &rule.ports,
                        Some(self.model.ports_of(&self.model.pods[destination])),
                    )),
                }
                if allowed.is_all() {
                    return Some(allowed);
                }
            }
        }
        Some(allowed)
    }

    /// Everything about a connection attempt from `from` to `to`.
    pub fn connection(&self, from: &Endpoint, to: &Endpoint) -> Connection {
        let egress = match from {
            Endpoint::Pod(src) => {
                let dest = match to {
                    Endpoint::Pod(d) => Some(*d),
                    _ => None,
                };
                Some(self.side(*src, Direction::Egress, to, dest))
            }
            _ => None,
        };
        let ingress = match to {
            Endpoint::Pod(dst) => Some(self.side(*dst, Direction::Ingress, from, Some(*dst))),
            _ => None,
        };
        let special = self.special(from, to);
        let mut allowed = PortSet::all();
        for side in [&egress, &ingress].into_iter().flatten() {
            allowed = allowed.intersect(&side.allowed);
        }
        Connection {
            egress,
            ingress,
            special,
            allowed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    Unknown,
}

impl From<bool> for Match {
    fn from(b: bool) -> Match {
        if b { Match::Yes } else { Match::No }
    }
}

/// The ports a rule allows toward a destination with `dest_ports` (`None`: not a pod, so a
/// named port matches nothing). No port entries = every port of every protocol.
pub fn resolve_ports(rules: &[PortRule], dest_ports: Option<&[ContainerPort]>) -> PortSet {
    if rules.is_empty() {
        return PortSet::all();
    }
    let mut set = PortSet::empty();
    for r in rules {
        match &r.port {
            PortRef::Any => set.add(r.protocol, 1, 65535),
            PortRef::Range(a, b) => set.add(r.protocol, *a, *b),
            PortRef::Named(name) => {
                for c in dest_ports.unwrap_or_default() {
                    if c.name.as_deref() == Some(name.as_str()) && c.protocol == r.protocol {
                        set.add(r.protocol, c.number, c.number);
                    }
                }
            }
        }
    }
    set
}

/// Parses an address or CIDR endpoint.
pub fn parse_address(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}
