//! The `hardening-*` rules: the guides' runtime checklist beyond the Pod Security Standards
//! (read-only root filesystem, resources, token automount, an explicit non-root UID, a dedicated
//! ServiceAccount). Opinionated, so each can be turned off with `--disable`.

use guardrails::finding::{RuleInfo, evidence_text};
use guardrails::inventory::{Inventory, ResourceKind};
use guardrails::workload::{TokenDecision, TokenMount, token_mount};
use k8s_openapi::api::core::v1::{Container, PodSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::Subject;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::catalogue;

/// One hardening gap on a workload: the rule, a message and evidence (JSON text).
pub struct Gap {
    pub rule: &'static RuleInfo,
    pub message: String,
    pub evidence: Box<RawValue>,
}

#[derive(Serialize)]
struct Containers<'a> {
    containers: &'a [&'a str],
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let noun = if names.len() == 1 {
        "container"
    } else {
        "containers"
    };
    format!("{noun} {}", quoted.join(", "))
}

/// Init containers then containers: what runs for the workload's lifetime (ephemeral debug
/// containers are added by hand and have no resources or probes to harden).
fn containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
}

pub fn read_only_root_fs(spec: &PodSpec) -> Option<Gap> {
    let writable: Vec<&str> = containers(spec)
        .filter(|c| {
            c.security_context
                .as_ref()
                .and_then(|s| s.read_only_root_filesystem)
                != Some(true)
        })
        .map(|c| c.name.as_str())
        .collect();
    (!writable.is_empty()).then(|| Gap {
        rule: &catalogue::READ_ONLY_ROOT_FS,
        message: format!(
            "{} must set securityContext.readOnlyRootFilesystem=true",
            containers_phrase(&writable)
        ),
        evidence: evidence_text(&Containers {
            containers: &writable,
        }),
    })
}

pub fn no_resources(spec: &PodSpec) -> Option<Gap> {
    let mut details = Vec::new();
    let mut names = Vec::new();
    for c in containers(spec) {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
        let mut missing = Vec::new();
        if !requests.is_some_and(|r| r.contains_key("cpu")) {
            missing.push("requests.cpu");
        }
        if !requests.is_some_and(|r| r.contains_key("memory")) {
            missing.push("requests.memory");
        }
        if !limits.is_some_and(|l| l.contains_key("memory")) {
            missing.push("limits.memory");
        }
        if !missing.is_empty() {
            details.push(format!(
                "container \"{}\" sets no {}",
                c.name,
                missing.join(", ")
            ));
            names.push(c.name.as_str());
        }
    }
    (!details.is_empty()).then(|| Gap {
        rule: &catalogue::NO_RESOURCES,
        message: details.join("; "),
        evidence: evidence_text(&Containers { containers: &names }),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenEvidence {
    token_mount: TokenMount,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UidEvidence<'a> {
    uid_zero: &'a [&'a str],
    unset: &'a [&'a str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccountEvidence {
    service_account: &'static str,
}

pub fn automount_token(spec: &PodSpec, service_account: Option<&ServiceAccount>) -> Option<Gap> {
    let mount = token_mount(spec, service_account);
    let why = match mount {
        TokenMount::NotMounted { .. } => return None,
        TokenMount::ProjectedVolume => {
            "a projected serviceAccountToken volume mounts a token although automount is off"
        }
        TokenMount::Automounted {
            decided_by: TokenDecision::Pod,
        } => "the pod sets automountServiceAccountToken=true",
        TokenMount::Automounted {
            decided_by: TokenDecision::ServiceAccount,
        } => "its ServiceAccount sets automountServiceAccountToken=true",
        TokenMount::Automounted {
            decided_by: TokenDecision::Default,
        } => {
            "automountServiceAccountToken is unset on the pod and its ServiceAccount (default true)"
        }
    };
    Some(Gap {
        rule: &catalogue::AUTOMOUNT_TOKEN,
        message: format!("the ServiceAccount token is mounted: {why}"),
        evidence: evidence_text(&TokenEvidence { token_mount: mount }),
    })
}

/// Whether a RoleBinding (in `namespace`) or a ClusterRoleBinding names this ServiceAccount as
/// a subject: someone granted it rights on purpose, so its pods are meant to call the API and
/// need the token. Whether those rights are risky is rbac-audit's `automount-token-with-rights`.
/// Group subjects (`system:serviceaccounts…`) do not count: they grant every ServiceAccount,
/// which says nothing about this workload. Unknown (bindings not read) means not granted.
pub fn granted_by_binding(inventory: &Inventory, namespace: &str, name: &str) -> bool {
    if inventory.was_skipped(ResourceKind::RoleBinding)
        || inventory.was_skipped(ResourceKind::ClusterRoleBinding)
    {
        return false;
    }
    let names = |s: &Subject, default_namespace: Option<&str>| {
        s.kind == "ServiceAccount"
            && s.name == name
            && s.namespace.as_deref().or(default_namespace) == Some(namespace)
    };
    inventory
        .role_bindings
        .iter()
        .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
        .any(|b| {
            b.subjects
                .iter()
                .flatten()
                .any(|s| names(s, Some(namespace)))
        })
        || inventory
            .cluster_role_bindings
            .iter()
            .any(|b| b.subjects.iter().flatten().any(|s| names(s, None)))
}

pub fn run_as_uid_zero_or_unset(spec: &PodSpec) -> Option<Gap> {
    let pod_uid = spec.security_context.as_ref().and_then(|s| s.run_as_user);
    let mut unset = Vec::new();
    let mut root = Vec::new();
    for c in containers(spec) {
        let uid = c
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            .or(pod_uid);
        match uid {
            None => unset.push(c.name.as_str()),
            Some(0) => root.push(c.name.as_str()),
            Some(_) => {}
        }
    }
    let mut parts = Vec::new();
    if !root.is_empty() {
        let verb = if root.len() == 1 { "runs" } else { "run" };
        parts.push(format!("{} {verb} as UID 0", containers_phrase(&root)));
    }
    if !unset.is_empty() {
        let verb = if unset.len() == 1 { "sets" } else { "set" };
        parts.push(format!(
            "{} {verb} no runAsUser (the image decides, usually root)",
            containers_phrase(&unset)
        ));
    }
    (!parts.is_empty()).then(|| Gap {
        rule: &catalogue::RUN_AS_UID_ZERO_OR_UNSET,
        message: parts.join("; "),
        evidence: evidence_text(&UidEvidence {
            uid_zero: &root,
            unset: &unset,
        }),
    })
}

pub fn default_service_account(service_account_name: &str) -> Option<Gap> {
    (service_account_name == "default").then(|| Gap {
        rule: &catalogue::DEFAULT_SERVICE_ACCOUNT,
        message: "runs as the namespace's default ServiceAccount".to_string(),
        evidence: evidence_text(&ServiceAccountEvidence {
            service_account: "default",
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn spec(value: Value) -> PodSpec {
        serde_json::from_value(value).expect("pod spec")
    }

    #[test]
    fn hardened_spec_has_no_gaps() {
        let s = spec(json!({
            "automountServiceAccountToken": false,
            "serviceAccountName": "api",
            "securityContext": {"runAsUser": 10001},
            "containers": [{"name": "api", "image": "x",
                "securityContext": {"readOnlyRootFilesystem": true},
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]
        }));
        assert!(read_only_root_fs(&s).is_none());
        assert!(no_resources(&s).is_none());
        assert!(automount_token(&s, None).is_none());
        assert!(run_as_uid_zero_or_unset(&s).is_none());
        assert!(default_service_account("api").is_none());
    }

    #[test]
    fn gaps_name_the_containers() {
        let s = spec(json!({
            "securityContext": {"runAsUser": 0},
            "initContainers": [{"name": "init", "image": "x", "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": true}}],
            "containers": [{"name": "app", "image": "x", "resources": {"requests": {"cpu": "1"}}}]
        }));
        assert_eq!(
            read_only_root_fs(&s).map(|g| g.message).as_deref(),
            Some("container \"app\" must set securityContext.readOnlyRootFilesystem=true")
        );
        assert_eq!(
            no_resources(&s).map(|g| g.message).as_deref(),
            Some(
                "container \"init\" sets no requests.cpu, requests.memory, limits.memory; container \"app\" sets no requests.memory, limits.memory"
            )
        );
        assert_eq!(
            run_as_uid_zero_or_unset(&s).map(|g| g.message).as_deref(),
            Some("container \"app\" runs as UID 0")
        );
        assert!(automount_token(&s, None).is_some_and(|g| g.message.contains("default true")));
    }

    #[test]
    fn a_service_account_bound_by_name_is_granted_but_not_through_groups() {
        let rbac = |subjects: &str| {
            let text = format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: b}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\nsubjects: {subjects}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: r, namespace: shop}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}\nsubjects: [{{kind: ServiceAccount, name: local}}]\n"
            );
            Inventory::from_text("rbac.yaml", &text, ResourceKind::ALL).expect("inventory")
        };
        let inv = rbac("[{kind: ServiceAccount, name: audit, namespace: guardrails}]");
        assert!(granted_by_binding(&inv, "guardrails", "audit"));
        assert!(
            !granted_by_binding(&inv, "other", "audit"),
            "namespace matters"
        );
        assert!(!granted_by_binding(&inv, "guardrails", "default"));
        assert!(
            granted_by_binding(&inv, "shop", "local"),
            "a RoleBinding subject without namespace is the binding's"
        );
        assert!(!granted_by_binding(&inv, "payments", "local"));
        let groups = rbac(
            "[{kind: Group, name: system:serviceaccounts, apiGroup: rbac.authorization.k8s.io}]",
        );
        assert!(!granted_by_binding(&groups, "guardrails", "audit"));
        let mut unknown = rbac("[{kind: ServiceAccount, name: audit, namespace: guardrails}]");
        unknown.skipped.push(guardrails::finding::Skipped {
            resource: "rolebindings".into(),
            namespace: None,
            reason: "forbidden".into(),
        });
        assert!(
            !granted_by_binding(&unknown, "guardrails", "audit"),
            "bindings not read: the token is reported as before"
        );
    }
}
