//! The coverage rules: ids, severities, rationale and remediation (`--list-rules`, SARIF).

use guardrails::finding::RuleInfo;
use guardrails::rule;

rule!(
    NAMESPACE_WITHOUT_POLICY,
    "namespace-without-policy",
    Medium,
    "coverage",
    "Namespace with workloads and no NetworkPolicy",
    "Without any NetworkPolicy every pod accepts connections from, and opens connections to, anything in the cluster; one compromised pod reaches them all.",
    "Add a default-deny policy (podSelector: {}, policyTypes: [Ingress, Egress]) together with the allows the workloads need, DNS egress first (kubectl netpol-scaffold scaffold -n NS)."
);
rule!(
    POD_INGRESS_NOT_ISOLATED,
    "pod-ingress-not-isolated",
    Medium,
    "coverage",
    "Workload accepts connections from anywhere (no policy isolates its ingress)",
    "Policies exist in the namespace but none selects these pods with Ingress in its policyTypes, so every source may connect.",
    "Select the pods with a policy whose policyTypes include Ingress (a namespace-wide default deny covers new workloads too)."
);
rule!(
    POD_EGRESS_NOT_ISOLATED,
    "pod-egress-not-isolated",
    Low,
    "coverage",
    "Workload may connect anywhere (no policy isolates its egress)",
    "Egress isolation needs Egress in policyTypes; a policy without it (or with only ingress rules and no policyTypes) leaves egress open, which eases exfiltration and lateral movement.",
    "Add Egress to a default-deny policy's policyTypes and allow DNS plus the destinations the workload needs."
);
rule!(
    POLICY_SELECTS_NOTHING,
    "policy-selects-nothing",
    Low,
    "correctness",
    "NetworkPolicy whose podSelector matches no pod",
    "The policy protects nothing: usually a label typo or a renamed workload, and the pods it was meant for are unprotected.",
    "Fix spec.podSelector to the labels the pods carry (kubectl get pods --show-labels), or delete the policy."
);
rule!(
    EGRESS_DENY_WITHOUT_DNS,
    "egress-deny-without-dns",
    High,
    "breakage",
    "Egress-isolated workload cannot reach the cluster DNS",
    "The most common NetworkPolicy breakage: with egress isolated and no allow to the DNS pods on UDP and TCP 53 (the Service's target port), every name lookup times out.",
    "Allow egress to the DNS pods in ONE peer: namespaceSelector kubernetes.io/metadata.name=<dns namespace> AND podSelector <DNS Service selector>, ports UDP and TCP on the target port."
);
rule!(
    PEER_MATCHES_NOTHING,
    "peer-matches-nothing",
    Low,
    "correctness",
    "A rule's peer selects no namespace or no pod",
    "An allow that references namespaces or labels that do not exist allows nothing; the traffic it was written for is denied (or the labels will match something unintended later).",
    "Check the peer's namespaceSelector and podSelector against the labels that exist (kubectl get ns --show-labels)."
);
rule!(
    CNI_ENFORCEMENT_UNKNOWN,
    "cni-enforcement-unknown",
    Medium,
    "enforcement",
    "No NetworkPolicy-enforcing network plugin found",
    "NetworkPolicies have no effect unless the network plugin enforces them; none of the kube-system workloads is a plugin known to (Calico, Cilium, Antrea, Weave Net, kube-router, …), or the one found (flannel alone) does not.",
    "Verify the CNI enforces NetworkPolicy (e.g. install Calico or Cilium, or the cloud provider's policy engine) before relying on these policies."
);

pub const RULES: &[RuleInfo] = &[
    NAMESPACE_WITHOUT_POLICY,
    POD_INGRESS_NOT_ISOLATED,
    POD_EGRESS_NOT_ISOLATED,
    POLICY_SELECTS_NOTHING,
    EGRESS_DENY_WITHOUT_DNS,
    PEER_MATCHES_NOTHING,
    CNI_ENFORCEMENT_UNKNOWN,
];
