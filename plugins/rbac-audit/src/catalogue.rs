//! The rule catalogue (landscape note §3, categories A–G): ids, severities, rationale and
//! remediation, plus the "capabilities" — what a grant lets its holder do — that most rules
//! are made of.

use guardrails::finding::{RuleInfo, Severity};
use guardrails::rule;
use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::authz::rule_covers;

rule!(
    CLUSTER_ADMIN_BINDING,
    "cluster-admin-binding",
    Critical,
    "A: admin equivalence",
    "Binding to cluster-admin or an equivalent */*/* role",
    "Full control of the cluster (or, through a RoleBinding, of the namespace), including every Secret.",
    "Bind a role with only the verbs and resources this subject needs; keep cluster-admin for break-glass identities."
);
rule!(
    WILDCARD_RULE,
    "wildcard-rule",
    Medium,
    "A: admin equivalence",
    "Role uses wildcards in verbs, resources or apiGroups",
    "Wildcards silently grant future resources and CRDs (CIS 5.1.3).",
    "List the verbs, API groups and resources explicitly."
);
rule!(
    SECRETS_READ,
    "secrets-read",
    Critical,
    "C: credentials",
    "Can read Secrets (get, list or watch)",
    "Secrets hold ServiceAccount tokens and application credentials; list and watch return their contents too.",
    "Remove get/list/watch on secrets, or restrict get to named Secrets with resourceNames."
);
rule!(
    POD_EXEC,
    "pod-exec",
    High,
    "D: code execution",
    "Can exec or attach into pods",
    "A shell in a running pod yields its ServiceAccount token and data.",
    "Remove create on pods/exec and pods/attach; use ephemeral debug access through a reviewed process."
);
rule!(
    WORKLOAD_CREATE,
    "workload-create",
    High,
    "D: code execution",
    "Can create or modify pods or workload controllers",
    "Creating a pod (directly or via a Deployment, Job, …) lets the holder run as any ServiceAccount of the namespace and mount host paths.",
    "Limit create/update/patch on pods and controllers to deployment pipelines; enforce Pod Security admission."
);
rule!(
    RBAC_ESCALATE,
    "rbac-escalate",
    Critical,
    "B: RBAC self-escalation",
    "Can escalate Roles or ClusterRoles",
    "The escalate verb lets the holder grant itself permissions it does not have.",
    "Remove the escalate verb on roles and clusterroles."
);
rule!(
    RBAC_BIND,
    "rbac-bind",
    Critical,
    "B: RBAC self-escalation",
    "Can bind roles or write RoleBindings/ClusterRoleBindings",
    "The bind verb, or write access to bindings, attaches any subject (itself included) to powerful roles.",
    "Remove bind on roles/clusterroles and create/update/patch on role bindings outside RBAC administrators."
);
rule!(
    IMPERSONATE,
    "impersonate",
    Critical,
    "B: RBAC self-escalation",
    "Can impersonate users, groups or ServiceAccounts",
    "Impersonation lets the holder act as anyone, including members of system:masters.",
    "Remove impersonate, or restrict it with resourceNames to the identities really needed."
);
rule!(
    NODES_PROXY,
    "nodes-proxy",
    High,
    "D: code execution",
    "Can use the nodes/proxy subresource",
    "nodes/proxy reaches the kubelet API, which can exec into every pod on the node, bypassing audit of pods/exec.",
    "Remove get/create on nodes/proxy; scrape metrics through nodes/metrics instead."
);
rule!(
    TOKEN_CREATE,
    "token-create",
    Critical,
    "C: credentials",
    "Can mint ServiceAccount tokens (serviceaccounts/token)",
    "TokenRequest issues a token for any ServiceAccount in scope, including powerful ones.",
    "Remove create on serviceaccounts/token."
);
rule!(
    CSR_APPROVE,
    "csr-approve",
    Critical,
    "C: credentials",
    "Can approve CertificateSigningRequests",
    "Approving CSRs issues client certificates, e.g. for system:masters, that bypass RBAC.",
    "Remove update on certificatesigningrequests/approval and approve on signers."
);
rule!(
    WEBHOOK_CONFIG_WRITE,
    "webhook-config-write",
    Critical,
    "E: control-plane tampering",
    "Can write admission webhook configurations",
    "A mutating or validating webhook sees, and can change or block, every admitted object.",
    "Remove create/update/patch/delete on mutating/validatingwebhookconfigurations."
);
rule!(
    ANONYMOUS_BINDING,
    "anonymous-binding",
    Critical,
    "F: subject hygiene",
    "Binding to system:anonymous or system:unauthenticated",
    "Anyone who can reach the API server gets these rights without credentials.",
    "Remove the subject from the binding."
);
rule!(
    AUTHENTICATED_GROUP_BINDING,
    "authenticated-group-binding",
    High,
    "F: subject hygiene",
    "Binding to system:authenticated",
    "Every identity, including every ServiceAccount in every namespace, gets these rights.",
    "Bind a specific group or ServiceAccount instead."
);
rule!(
    SERVICEACCOUNTS_GROUP_BINDING,
    "serviceaccounts-group-binding",
    High,
    "F: subject hygiene",
    "Binding to system:serviceaccounts or system:serviceaccounts:<ns>",
    "Every ServiceAccount (of the namespace, or of the cluster) gets these rights, including every pod's token.",
    "Bind the ServiceAccounts that need the rights by name."
);
rule!(
    DANGLING_ROLE_REF,
    "dangling-role-ref",
    Medium,
    "F: subject hygiene",
    "Binding refers to a role that does not exist",
    "A latent grant: whoever later creates a role of that name hands its rights to the binding's subjects.",
    "Delete the binding or create the intended role."
);
rule!(
    DANGLING_SUBJECT,
    "dangling-subject",
    Medium,
    "F: subject hygiene",
    "Binding names a ServiceAccount that does not exist",
    "A latent grant: whoever creates a ServiceAccount of that name gets the rights.",
    "Remove the subject from the binding or create the intended ServiceAccount."
);
rule!(
    DEFAULT_SA_BOUND,
    "default-sa-bound",
    Medium,
    "G: workload identity",
    "The namespace's default ServiceAccount has rights",
    "Every pod that does not name a ServiceAccount runs as default and inherits these rights.",
    "Create a dedicated ServiceAccount for the workload that needs the rights and bind that instead."
);
rule!(
    AUTOMOUNT_TOKEN_WITH_RIGHTS,
    "automount-token-with-rights",
    High,
    "G: workload identity",
    "Workload mounts a token of a ServiceAccount with risky rights",
    "Compromising the workload yields the token, so the ServiceAccount's rights are its blast radius.",
    "Set automountServiceAccountToken: false where the API is not needed, or reduce the ServiceAccount's rights."
);
rule!(
    INEFFECTIVE_RESOURCE_PATTERN,
    "ineffective-resource-pattern",
    Low,
    "A: admin equivalence",
    "Rule uses a resource pattern the authorizer does not expand",
    "RBAC matches `*` and `*/subresource`, but `pods/*` is taken literally and grants nothing; the author probably meant something else.",
    "Write the subresources explicitly (pods/log, pods/exec) or use */subresource."
);

/// Every rule, in `--list-rules` order.
pub const RULES: &[RuleInfo] = &[
    CLUSTER_ADMIN_BINDING,
    WILDCARD_RULE,
    INEFFECTIVE_RESOURCE_PATTERN,
    RBAC_ESCALATE,
    RBAC_BIND,
    IMPERSONATE,
    SECRETS_READ,
    TOKEN_CREATE,
    CSR_APPROVE,
    WORKLOAD_CREATE,
    POD_EXEC,
    NODES_PROXY,
    WEBHOOK_CONFIG_WRITE,
    ANONYMOUS_BINDING,
    AUTHENTICATED_GROUP_BINDING,
    SERVICEACCOUNTS_GROUP_BINDING,
    DANGLING_ROLE_REF,
    DANGLING_SUBJECT,
    DEFAULT_SA_BOUND,
    AUTOMOUNT_TOKEN_WITH_RIGHTS,
];

/// One (verbs × apiGroup × resources) pattern a capability looks for.
pub struct Check {
    pub verbs: &'static [&'static str],
    pub group: &'static str,
    pub resources: &'static [&'static str],
}

/// A dangerous thing a grant can allow, tied to the rule that reports it.
pub struct Capability {
    pub rule: &'static RuleInfo,
    /// Completes "SUBJECT can …".
    pub summary: &'static str,
    pub checks: &'static [Check],
    /// Namespaced grants are one severity lower, except in kube-system.
    pub lower_when_namespaced: bool,
}

const WRITE: &[&str] = &["create", "update", "patch"];

pub const CAPABILITIES: &[Capability] = &[
    Capability {
        rule: &RBAC_ESCALATE,
        summary: "escalate roles",
        checks: &[Check {
            verbs: &["escalate"],
            group: "rbac.authorization.k8s.io",
            resources: &["roles", "clusterroles"],
        }],
        lower_when_namespaced: false,
    },
    Capability {
        rule: &RBAC_BIND,
        summary: "bind roles or write role bindings",
        checks: &[
            Check {
                verbs: &["bind"],
                group: "rbac.authorization.k8s.io",
                resources: &["roles", "clusterroles"],
            },
            Check {
                verbs: WRITE,
                group: "rbac.authorization.k8s.io",
                resources: &["rolebindings", "clusterrolebindings"],
            },
        ],
        lower_when_namespaced: false,
    },
    Capability {
        rule: &IMPERSONATE,
        summary: "impersonate other identities",
        checks: &[
            Check {
                verbs: &["impersonate"],
                group: "",
                resources: &["users", "groups", "serviceaccounts"],
            },
            Check {
                verbs: &["impersonate"],
                group: "authentication.k8s.io",
                resources: &["userextras", "uids"],
            },
        ],
        lower_when_namespaced: false,
    },
    Capability {
        rule: &SECRETS_READ,
        summary: "read Secrets",
        checks: &[Check {
            verbs: &["get", "list", "watch"],
            group: "",
            resources: &["secrets"],
        }],
        lower_when_namespaced: true,
    },
    Capability {
        rule: &TOKEN_CREATE,
        summary: "mint ServiceAccount tokens",
        checks: &[Check {
            verbs: &["create"],
            group: "",
            resources: &["serviceaccounts/token"],
        }],
        lower_when_namespaced: true,
    },
    Capability {
        rule: &CSR_APPROVE,
        summary: "approve certificate signing requests",
        checks: &[Check {
            verbs: &["update", "patch"],
            group: "certificates.k8s.io",
            resources: &["certificatesigningrequests/approval"],
        }],
        lower_when_namespaced: false,
    },
    Capability {
        rule: &WORKLOAD_CREATE,
        summary: "create or modify pods and workload controllers",
        checks: &[
            Check {
                verbs: WRITE,
                group: "",
                resources: &["pods", "replicationcontrollers"],
            },
            Check {
                verbs: WRITE,
                group: "apps",
                resources: &["deployments", "daemonsets", "statefulsets", "replicasets"],
            },
            Check {
                verbs: WRITE,
                group: "batch",
                resources: &["jobs", "cronjobs"],
            },
        ],
        lower_when_namespaced: true,
    },
    Capability {
        rule: &POD_EXEC,
        summary: "exec or attach into pods",
        // `get` on pods/exec was enough for websocket exec before Kubernetes 1.31.
        checks: &[Check {
            verbs: &["create", "get"],
            group: "",
            resources: &["pods/exec", "pods/attach"],
        }],
        lower_when_namespaced: true,
    },
    Capability {
        rule: &NODES_PROXY,
        summary: "reach the kubelet API through nodes/proxy",
        checks: &[Check {
            verbs: &["get", "create"],
            group: "",
            resources: &["nodes/proxy"],
        }],
        lower_when_namespaced: false,
    },
    Capability {
        rule: &WEBHOOK_CONFIG_WRITE,
        summary: "write admission webhook configurations",
        checks: &[Check {
            verbs: &["create", "update", "patch", "delete"],
            group: "admissionregistration.k8s.io",
            resources: &[
                "mutatingwebhookconfigurations",
                "validatingwebhookconfigurations",
            ],
        }],
        lower_when_namespaced: false,
    },
];

/// The verbs of `rule` that match `check` (so the finding can say exactly which).
pub fn matching_verbs(rule: &PolicyRule, check: &Check) -> Vec<&'static str> {
    check
        .verbs
        .iter()
        .copied()
        .filter(|verb| {
            check
                .resources
                .iter()
                .any(|res| rule_covers(rule, verb, check.group, res))
        })
        .collect()
}

impl Capability {
    /// The verbs this rule grants towards the capability (empty: none).
    pub fn granted_verbs(&self, rule: &PolicyRule) -> Vec<&'static str> {
        let mut verbs: Vec<&'static str> = self
            .checks
            .iter()
            .flat_map(|c| matching_verbs(rule, c))
            .collect();
        verbs.sort_unstable();
        verbs.dedup();
        verbs
    }
}

/// `verbs: [*]`, `apiGroups: [*]`, `resources: [*]` in one rule: cluster-admin equivalent.
pub fn is_full_wildcard(rule: &PolicyRule) -> bool {
    let has_star = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| v.iter().any(|s| s == "*"));
    rule.verbs.iter().any(|v| v == "*") && has_star(&rule.api_groups) && has_star(&rule.resources)
}

pub fn lower(severity: Severity) -> Severity {
    match severity {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> PolicyRule {
        serde_json::from_value(json).expect("rule")
    }

    #[test]
    fn workload_create_sees_the_apps_group() {
        // rbac-tool misses this one: deployments live in apps, not core.
        let r = rule(
            serde_json::json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}),
        );
        let cap = CAPABILITIES
            .iter()
            .find(|c| c.rule.id == "workload-create")
            .expect("cap");
        assert_eq!(cap.granted_verbs(&r), ["create"]);
        let core_only = rule(
            serde_json::json!({"apiGroups": [""], "resources": ["deployments"], "verbs": ["create"]}),
        );
        assert!(cap.granted_verbs(&core_only).is_empty());
    }

    #[test]
    fn secrets_read_includes_list_and_watch() {
        let r = rule(
            serde_json::json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
        );
        let cap = CAPABILITIES
            .iter()
            .find(|c| c.rule.id == "secrets-read")
            .expect("cap");
        assert_eq!(cap.granted_verbs(&r), ["list"]);
    }

    #[test]
    fn subresource_wildcards_follow_the_authorizer() {
        let cap = CAPABILITIES
            .iter()
            .find(|c| c.rule.id == "pod-exec")
            .expect("cap");
        let star_sub = rule(
            serde_json::json!({"apiGroups": [""], "resources": ["*/exec"], "verbs": ["create"]}),
        );
        assert_eq!(cap.granted_verbs(&star_sub), ["create"]);
        let pods_star = rule(
            serde_json::json!({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["create"]}),
        );
        assert!(
            cap.granted_verbs(&pods_star).is_empty(),
            "pods/* is literal in RBAC"
        );
    }

    #[test]
    fn every_rule_id_is_kebab_case_and_unique() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        assert!(
            ids.iter()
                .all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }
}
