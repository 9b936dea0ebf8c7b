//! `coverage`: per namespace and per workload, whether ingress and egress are isolated, plus
//! policies that do not do what they seem (select nothing, allow nothing, starve DNS).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use guardrails::cluster::NamespaceScope;
use guardrails::finding::{Finding, ObjectRef};
use guardrails::selector::LabelQuery;

use crate::catalogue::*;
use crate::evaluate::{Endpoint, Evaluator};
use crate::infra::{Dns, Enforcement, NODE_LOCAL_DNS_ADDRESS};
use crate::model::{Model, TargetPort};
use crate::policy::{Direction, Protocol};

pub const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

pub struct CoverageContext<'a> {
    pub evaluator: &'a Evaluator<'a>,
    pub scope: &'a NamespaceScope,
    pub selector: Option<&'a LabelQuery>,
    pub include_system: bool,
    pub dns: &'a Dns,
    pub enforcement: &'a Enforcement,
}

impl CoverageContext<'_> {
    fn in_scope(&self, namespace: &str) -> bool {
        self.scope.includes(Some(namespace))
            && (self.include_system || !SYSTEM_NAMESPACES.contains(&namespace))
    }
}

fn policy_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(namespace),
        name,
    )
}

pub fn coverage(ctx: &CoverageContext<'_>) -> Vec<Finding> {
    let ev = ctx.evaluator;
    let model: &Model = ev.model;
    let mut findings = Vec::new();

    // Workloads in scope, with the model indexes of their pods (the assumed DNS pod is not one).
    let mut workloads: BTreeMap<&ObjectRef, Vec<usize>> = BTreeMap::new();
    for (i, pod) in model.pods.iter().enumerate() {
        if ctx.dns.assumed && ctx.dns.pods.contains(&i) {
            continue;
        }
        if !ctx.in_scope(&pod.namespace) || ctx.selector.is_some_and(|s| !s.matches(&pod.labels)) {
            continue;
        }
        workloads.entry(&pod.workload).or_default().push(i);
    }
    let with_policy: BTreeSet<&str> = model
        .policies
        .iter()
        .map(|p| p.namespace.as_str())
        .collect();

    // namespace-without-policy: from the one NetworkPolicy list, never a call per namespace.
    let mut bare: BTreeMap<&str, Vec<&ObjectRef>> = BTreeMap::new();
    for w in workloads.keys() {
        let ns = w.namespace.as_deref().unwrap_or("default");
        if !with_policy.contains(ns) {
            bare.entry(ns).or_default().push(w);
        }
    }
    for (ns, members) in &bare {
        let names: Vec<String> = members
            .iter()
            .map(|w| format!("{}/{}", w.kind, w.name))
            .collect();
        findings.push(Finding::new(
            &NAMESPACE_WITHOUT_POLICY,
            ObjectRef::new("v1", "Namespace", None, ns),
            "",
            format!(
                "no NetworkPolicy in namespace {ns}: its {} workload(s) accept and open connections to anything",
                members.len()
            ),
            json!({ "workloads": names }),
        ));
    }

    for (workload, pods) in &workloads {
        let ns = workload.namespace.as_deref().unwrap_or("default");
        if !with_policy.contains(ns) {
            continue;
        }
        for (direction, rule) in [
            (Direction::Ingress, &POD_INGRESS_NOT_ISOLATED),
            (Direction::Egress, &POD_EGRESS_NOT_ISOLATED),
        ] {
            let open: Vec<&str> = pods
                .iter()
                .filter(|&&p| ev.isolating(p, direction).next().is_none())
                .map(|&p| model.pods[p].name.as_str())
                .collect();
            if open.is_empty() {
                continue;
            }
            let what = match direction {
                Direction::Ingress => "accepts connections from anywhere",
                Direction::Egress => "may connect anywhere",
            };
            findings.push(Finding::new(
                rule,
                (*workload).clone(),
                "",
                format!(
                    "{} {}: no NetworkPolicy in {ns} selects its pods with {} in policyTypes",
                    workload.display_path(),
                    what,
                    direction.as_str()
                ),
                json!({ "pods": open, "direction": direction.as_str() }),
            ));
        }
        dns_finding(ctx, workload, pods, &mut findings);
    }

    for (pi, policy) in model.policies.iter().enumerate() {
        if !ctx.in_scope(&policy.namespace) {
            continue;
        }
        let object = policy_ref(&policy.namespace, &policy.name);
        if ev.selected_counts[pi] == 0 {
            findings.push(Finding::new(
                &POLICY_SELECTS_NOTHING,
                object.clone(),
                "",
                format!(
                    "NetworkPolicy {} selects no pod in {} (podSelector {})",
                    policy.path(),
                    policy.namespace,
                    selector_text(&policy.pod_selector)
                ),
                json!({ "podSelector": policy.pod_selector }),
            ));
        }
        for direction in [Direction::Ingress, Direction::Egress] {
            let field = match direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            let peer_field = match direction {
                Direction::Ingress => "from",
                Direction::Egress => "to",
            };
            for (rule, peer, pods, namespaces) in ev.peer_matches(pi, direction) {
                if pods > 0 {
                    continue;
                }
                let at = format!("spec.{field}[{rule}].{peer_field}[{peer}]");
                let why = if namespaces == 0 {
                    "its namespaceSelector matches no namespace".to_string()
                } else {
                    format!(
                        "its podSelector matches no pod in the {namespaces} namespace(s) selected"
                    )
                };
                findings.push(Finding::new(
                    &PEER_MATCHES_NOTHING,
                    object.clone(),
                    &at,
                    format!("{} {at} allows nothing: {why}", policy.path()),
                    json!({ "peer": at, "namespacesMatched": namespaces }),
                ));
            }
        }
    }

    match ctx.enforcement {
        Enforcement::Unknown | Enforcement::NotEnforcing(_) => {
            let message = match ctx.enforcement {
                Enforcement::NotEnforcing(name) => format!(
                    "the network plugin found ({name}) does not enforce NetworkPolicy: none of these policies has any effect"
                ),
                _ => "no network plugin known to enforce NetworkPolicy runs in kube-system: these policies may have no effect".to_string(),
            };
            findings.push(Finding::new(
                &CNI_ENFORCEMENT_UNKNOWN,
                ObjectRef::new("v1", "Namespace", None, "kube-system"),
                "",
                message,
                json!({ "workloads": model.system_workloads.iter().map(|(n, _)| n).collect::<Vec<_>>() }),
            ));
        }
        Enforcement::Enforcing(_) | Enforcement::NoData => {}
    }
    findings
}

/// egress-deny-without-dns: the workload's first pod must be able to send to a DNS pod on the
/// DNS Service's target ports, UDP and TCP (or to NodeLocal DNSCache's address).
fn dns_finding(
    ctx: &CoverageContext<'_>,
    workload: &ObjectRef,
    pods: &[usize],
    findings: &mut Vec<Finding>,
) {
    let ev = ctx.evaluator;
    let model = ev.model;
    let Some(&pod) = pods.first() else { return };
    if ev.isolating(pod, Direction::Egress).next().is_none() || ctx.dns.pods.contains(&pod) {
        return;
    }
    let source = Endpoint::Pod(pod);
    let mut blocked: Vec<Protocol> = Vec::new();
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let reachable = ctx.dns.pods.iter().any(|&dns_pod| {
            let target = ctx
                .dns
                .ports
                .iter()
                .find(|(p, _)| *p == protocol)
                .and_then(|(_, t)| match t {
                    TargetPort::Number(n) => Some(*n),
                    TargetPort::Named(name) => model
                        .ports_of(&model.pods[dns_pod])
                        .iter()
                        .find(|c| c.name.as_deref() == Some(name) && c.protocol == protocol)
                        .map(|c| c.number),
                })
                .unwrap_or(53);
            let c = ev.connection(&source, &Endpoint::Pod(dns_pod));
            c.egress
                .as_ref()
                .is_some_and(|e| e.allowed.contains(protocol, target))
        });
        let node_local = ctx.dns.node_local
            && crate::evaluate::parse_address(NODE_LOCAL_DNS_ADDRESS).is_some_and(|addr| {
                ev.connection(&source, &Endpoint::Address(addr))
                    .egress
                    .is_some_and(|e| e.allowed.contains(protocol, 53))
            });
        if !reachable && !node_local {
            blocked.push(protocol);
        }
    }
    if blocked.is_empty() {
        return;
    }
    let policies: Vec<String> = ev
        .isolating(pod, Direction::Egress)
        .map(|p| model.policies[p].path())
        .collect();
    let blocked_text: Vec<&str> = blocked.iter().map(|p| p.as_str()).collect();
    let mut finding = Finding::new(
        &EGRESS_DENY_WITHOUT_DNS,
        workload.clone(),
        "",
        format!(
            "{} cannot reach the cluster DNS ({}) over {}: egress is isolated by {}",
            workload.display_path(),
            ctx.dns.describe(),
            blocked_text.join(" and "),
            policies.join(", ")
        ),
        json!({ "blocked": blocked_text, "dns": ctx.dns.describe(), "isolatedBy": policies }),
    );
    // UDP works and only TCP (large answers, retries) fails: less urgent.
    if !blocked.contains(&Protocol::Udp) {
        finding = finding.with_severity(guardrails::finding::Severity::Medium);
    }
    findings.push(finding);
}

fn selector_text(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(format!("{} {} ({values})", e.key, e.operator));
    }
    if parts.is_empty() {
        "{}".into()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails::inventory::Inventory;

    use crate::infra;
    use crate::model::KINDS;

    const NP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n";

    fn findings(yaml: &str) -> Vec<(String, String, String)> {
        let inv = Inventory::from_text("c.yaml", yaml, KINDS).expect("inventory");
        let mut model = Model::from_inventory(&inv).expect("model");
        let dns = infra::find_dns(&mut model);
        let enforcement = infra::enforcement(&model);
        let ev = Evaluator::new(&model);
        let ctx = CoverageContext {
            evaluator: &ev,
            scope: &NamespaceScope::All,
            selector: None,
            include_system: false,
            dns: &dns,
            enforcement: &enforcement,
        };
        coverage(&ctx)
            .into_iter()
            .map(|f| (f.rule.into_owned(), f.object.name.clone(), f.message))
            .collect()
    }

    fn deployment(ns: &str, app: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {app}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: {app}}}}}\n  template:\n    metadata: {{labels: {{app: {app}}}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n---\n"
        )
    }

    fn rules(found: &[(String, String, String)]) -> Vec<(&str, &str)> {
        found
            .iter()
            .map(|(r, o, _)| (r.as_str(), o.as_str()))
            .collect()
    }

    #[test]
    fn namespaces_without_any_policy_are_reported_once() {
        let yaml = format!(
            "{}{}{}",
            deployment("a", "web"),
            deployment("a", "api"),
            deployment("b", "db")
        ) + &format!(
            "{NP}metadata: {{name: deny, namespace: b}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"
        );
        let found = findings(&yaml);
        let r = rules(&found);
        assert!(r.contains(&("namespace-without-policy", "a")), "{r:?}");
        assert!(!r.contains(&("namespace-without-policy", "b")));
        // Per-workload findings only where policies exist (the namespace finding covers the rest).
        assert!(
            !r.iter()
                .any(|(rule, o)| rule.starts_with("pod-") && (*o == "web" || *o == "api"))
        );
        assert!(
            r.contains(&("pod-egress-not-isolated", "db")),
            "ingress-only policy leaves egress open"
        );
        assert!(!r.contains(&("pod-ingress-not-isolated", "db")));
    }

    #[test]
    fn an_egress_policy_without_policy_types_also_isolates_ingress() {
        let yaml = deployment("a", "web")
            + &format!(
                "{NP}metadata: {{name: out, namespace: a}}\nspec:\n  podSelector: {{}}\n  egress: [{{to: [{{namespaceSelector: {{}}}}]}}]\n"
            );
        let r = findings(&yaml);
        let r = rules(&r);
        assert!(!r.contains(&("pod-ingress-not-isolated", "web")), "{r:?}");
        assert!(!r.contains(&("pod-egress-not-isolated", "web")), "{r:?}");
    }

    #[test]
    fn default_deny_egress_without_dns_is_the_classic_breakage() {
        let deny = format!(
            "{NP}metadata: {{name: deny-all, namespace: a}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n---\n"
        );
        let found = findings(&(deployment("a", "web") + &deny));
        let dns: Vec<_> = found
            .iter()
            .filter(|f| f.0 == "egress-deny-without-dns")
            .collect();
        assert_eq!(dns.len(), 1, "{found:?}");
        assert!(
            dns[0].2.contains("UDP and TCP") && dns[0].2.contains("a/deny-all"),
            "{}",
            dns[0].2
        );

        // The usual allow, but selecting the DNS pods by a label they do not carry (IG #5338).
        let coredns = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: coredns, namespace: kube-system}\nspec:\n  selector: {matchLabels: {k8s-app: kube-dns}}\n  template:\n    metadata: {labels: {k8s-app: kube-dns}}\n    spec: {containers: [{name: coredns, image: coredns, ports: [{name: dns, containerPort: 5353, protocol: UDP}, {name: dns-tcp, containerPort: 5353}]}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system, labels: {app: coredns}}\nspec: {selector: {k8s-app: kube-dns}, ports: [{name: dns, port: 53, protocol: UDP, targetPort: dns}, {name: dns-tcp, port: 53, targetPort: dns-tcp}]}\n---\n";
        let allow = |labels: &str, port: u16| {
            format!(
                "{NP}metadata: {{name: dns, namespace: a}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: kube-system}}}}, podSelector: {{matchLabels: {{{labels}}}}}}}]\n    ports: [{{protocol: UDP, port: {port}}}, {{protocol: TCP, port: {port}}}]\n---\n"
            )
        };
        let base = deployment("a", "web") + &deny + coredns;
        let found = findings(&(base.clone() + &allow("app: coredns", 5353)));
        assert!(
            found.iter().any(|f| f.0 == "egress-deny-without-dns"),
            "Service labels are not pod labels"
        );
        // Port 53 is the Service port; CoreDNS listens on 5353 here, so 53 does not help.
        let found = findings(&(base.clone() + &allow("k8s-app: kube-dns", 53)));
        assert!(
            found.iter().any(|f| f.0 == "egress-deny-without-dns"),
            "{found:?}"
        );
        let found = findings(&(base + &allow("k8s-app: kube-dns", 5353)));
        assert!(
            !found.iter().any(|f| f.0 == "egress-deny-without-dns"),
            "{found:?}"
        );
    }

    #[test]
    fn selectors_that_match_nothing_are_reported() {
        let yaml = deployment("a", "web")
            + &format!(
                "{NP}metadata: {{name: typo, namespace: a}}\nspec: {{podSelector: {{matchLabels: {{app: wbe}}}}}}\n---\n"
            )
            + &format!(
                "{NP}metadata: {{name: peers, namespace: a}}\nspec:\n  podSelector: {{}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{team: nobody}}}}\n    - podSelector: {{matchLabels: {{app: ghost}}}}\n    - podSelector: {{matchLabels: {{app: web}}}}\n"
            );
        let found = findings(&yaml);
        let r = rules(&found);
        assert!(r.contains(&("policy-selects-nothing", "typo")), "{r:?}");
        assert!(!r.contains(&("policy-selects-nothing", "peers")));
        let peers: Vec<&String> = found
            .iter()
            .filter(|f| f.0 == "peer-matches-nothing")
            .map(|f| &f.2)
            .collect();
        assert_eq!(peers.len(), 2, "{peers:?}");
        assert!(peers[0].contains("from[0]") && peers[0].contains("matches no namespace"));
        assert!(peers[1].contains("from[1]") && peers[1].contains("no pod"));
    }

    #[test]
    fn the_network_plugin_is_detected_from_kube_system() {
        let ds = |name: &str, image: &str| {
            format!(
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}, namespace: kube-system}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{hostNetwork: true, containers: [{{name: c, image: {image}}}]}}\n---\n"
            )
        };
        let cni = |yaml: &str| {
            let inv = Inventory::from_text("c.yaml", yaml, KINDS).expect("inventory");
            infra::enforcement(&Model::from_inventory(&inv).expect("model"))
        };
        assert_eq!(
            cni(&ds("calico-node", "docker.io/calico/node:v3.28.0")),
            Enforcement::Enforcing("Calico".into())
        );
        assert_eq!(
            cni(&ds("kube-flannel-ds", "flannel/flannel:v0.25")),
            Enforcement::NotEnforcing("flannel".into())
        );
        assert_eq!(
            cni(&ds("kube-proxy", "registry.k8s.io/kube-proxy:v1.30.0")),
            Enforcement::Unknown
        );
        assert_eq!(cni(&deployment("a", "web")), Enforcement::NoData);
        let found = findings(&ds("kube-flannel-ds", "flannel/flannel:v0.25"));
        assert!(
            found
                .iter()
                .any(|f| f.0 == "cni-enforcement-unknown" && f.2.contains("flannel"))
        );
    }
}
