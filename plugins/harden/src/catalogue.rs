//! The rule catalogue: one `pss-*` rule per Pod Security Standards check (exact, versioned,
//! oracle-tested) and the `hardening-*` rules (the guides' runtime defaults beyond the standard,
//! opinionated and configurable). The two families never mix.

use guardrails::finding::{RuleInfo, Severity};

macro_rules! rule {
    ($id:literal, $sev:ident, $cat:expr, $title:literal, $why:literal, $fix:literal) => {
        RuleInfo {
            id: $id,
            severity: Severity::$sev,
            category: $cat,
            title: $title,
            rationale: $why,
            remediation: $fix,
        }
    };
}

const PSS_BASELINE: &str = "pss: baseline";
const PSS_RESTRICTED: &str = "pss: restricted";
const HARDENING: &str = "hardening";

/// Upstream check ID → rule, in the evaluator's order.
pub static PSS_RULES: [(&str, RuleInfo); 19] = [
    (
        "appArmorProfile",
        rule!(
            "pss-app-armor-profile",
            High,
            PSS_BASELINE,
            "AppArmor profile overridden or disabled",
            "An Unconfined AppArmor profile removes a mandatory access control layer.",
            "Remove the Unconfined AppArmor profile (field or annotation), or use RuntimeDefault / a Localhost profile."
        ),
    ),
    (
        "capabilities_baseline",
        rule!(
            "pss-capabilities-baseline",
            High,
            PSS_BASELINE,
            "Capabilities beyond the default set added",
            "Capabilities such as NET_RAW or SYS_ADMIN widen what a compromised container can do to the node and its neighbours.",
            "Remove the added capabilities outside the default set from securityContext.capabilities.add."
        ),
    ),
    (
        "hostNamespaces",
        rule!(
            "pss-host-namespaces",
            Critical,
            PSS_BASELINE,
            "Host network, PID or IPC namespace shared",
            "Sharing the host's namespaces breaks container isolation: node traffic, processes and IPC become reachable.",
            "Remove hostNetwork, hostPID and hostIPC (or set them to false)."
        ),
    ),
    (
        "hostPathVolumes",
        rule!(
            "pss-host-path-volumes",
            Critical,
            PSS_BASELINE,
            "hostPath volume mounted",
            "A hostPath volume exposes the node's filesystem; writable ones are a direct container escape.",
            "Replace hostPath volumes with emptyDir, configMap, secret or a PersistentVolumeClaim."
        ),
    ),
    (
        "hostPorts",
        rule!(
            "pss-host-ports",
            High,
            PSS_BASELINE,
            "Host port used",
            "A hostPort binds the node's network interface, bypassing NetworkPolicy-aware Services.",
            "Remove ports[*].hostPort; expose the container through a Service."
        ),
    ),
    (
        "hostProbesAndHostLifecycle",
        rule!(
            "pss-host-probes-and-host-lifecycle",
            High,
            PSS_BASELINE,
            "Probe or lifecycle hook targets another host",
            "A probe or hook with a host lets the kubelet be used to reach arbitrary addresses (SSRF) from the node (policy v1.34+).",
            "Remove the host field from probes and lifecycle hooks; they then target the pod itself."
        ),
    ),
    (
        "privileged",
        rule!(
            "pss-privileged",
            Critical,
            PSS_BASELINE,
            "Privileged container",
            "A privileged container has every capability and all host devices: it is root on the node.",
            "Remove securityContext.privileged (or set it to false); add only the specific capabilities needed."
        ),
    ),
    (
        "procMount",
        rule!(
            "pss-proc-mount",
            High,
            PSS_BASELINE,
            "Unmasked /proc mount",
            "The default /proc masks hide kernel interfaces from containers; Unmasked exposes them.",
            "Remove securityContext.procMount or set it to Default."
        ),
    ),
    (
        "seLinuxOptions",
        rule!(
            "pss-se-linux-options",
            High,
            PSS_BASELINE,
            "Custom SELinux type, user or role",
            "A custom SELinux type, user or role can lift the container out of its confinement.",
            "Use only the container_t family of types and no SELinux user or role."
        ),
    ),
    (
        "seccompProfile_baseline",
        rule!(
            "pss-seccomp-profile-baseline",
            High,
            PSS_BASELINE,
            "Seccomp disabled (Unconfined)",
            "Unconfined seccomp gives the container the full kernel syscall surface.",
            "Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost), never Unconfined."
        ),
    ),
    (
        "sysctls",
        rule!(
            "pss-sysctls",
            High,
            PSS_BASELINE,
            "Unsafe sysctl set",
            "Sysctls outside the namespaced safe set change kernel behaviour for every pod on the node.",
            "Remove the unsafe sysctls from spec.securityContext.sysctls."
        ),
    ),
    (
        "windowsHostProcess",
        rule!(
            "pss-windows-host-process",
            Critical,
            PSS_BASELINE,
            "Windows HostProcess container",
            "A HostProcess container runs directly on the Windows host with its privileges.",
            "Remove windowsOptions.hostProcess (or set it to false)."
        ),
    ),
    (
        "allowPrivilegeEscalation",
        rule!(
            "pss-allow-privilege-escalation",
            High,
            PSS_RESTRICTED,
            "Privilege escalation not disabled",
            "Without allowPrivilegeEscalation=false a process can gain privileges through setuid binaries.",
            "Set securityContext.allowPrivilegeEscalation: false on every container."
        ),
    ),
    (
        "capabilities_restricted",
        rule!(
            "pss-capabilities-restricted",
            High,
            PSS_RESTRICTED,
            "Capabilities not dropped",
            "The restricted standard requires dropping ALL capabilities and adding back at most NET_BIND_SERVICE.",
            "Set securityContext.capabilities.drop: [ALL]; add back only NET_BIND_SERVICE if the container listens below 1024."
        ),
    ),
    (
        "procMount_restricted",
        rule!(
            "pss-proc-mount-restricted",
            High,
            PSS_RESTRICTED,
            "Unmasked /proc mount (even in a user namespace)",
            "Restricted forbids an Unmasked /proc even for user-namespaced pods (policy v1.35+).",
            "Remove securityContext.procMount or set it to Default."
        ),
    ),
    (
        "restrictedVolumes",
        rule!(
            "pss-restricted-volumes",
            High,
            PSS_RESTRICTED,
            "Volume type outside the restricted set",
            "Restricted allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes.",
            "Replace the volume with one of the allowed types (e.g. a PersistentVolumeClaim)."
        ),
    ),
    (
        "runAsNonRoot",
        rule!(
            "pss-run-as-non-root",
            High,
            PSS_RESTRICTED,
            "Not required to run as non-root",
            "Without runAsNonRoot=true the container may run as root, which turns any escape into root on the node.",
            "Set spec.securityContext.runAsNonRoot: true (and a non-zero runAsUser if the image's user is root)."
        ),
    ),
    (
        "runAsUser",
        rule!(
            "pss-run-as-user",
            High,
            PSS_RESTRICTED,
            "Runs as UID 0",
            "runAsUser: 0 explicitly runs the container as root.",
            "Set runAsUser to a non-zero UID, e.g. 10001."
        ),
    ),
    (
        "seccompProfile_restricted",
        rule!(
            "pss-seccomp-profile-restricted",
            High,
            PSS_RESTRICTED,
            "Seccomp profile not set",
            "Restricted requires a RuntimeDefault or Localhost seccomp profile on the pod or every container.",
            "Set spec.securityContext.seccompProfile.type: RuntimeDefault."
        ),
    ),
];

pub const READ_ONLY_ROOT_FS: RuleInfo = rule!(
    "hardening-read-only-root-fs",
    Medium,
    HARDENING,
    "Root filesystem is writable",
    "A writable root filesystem lets an attacker drop tools and persist changes inside the container.",
    "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir at /tmp (and other paths the app writes)."
);
pub const NO_RESOURCES: RuleInfo = rule!(
    "hardening-no-resources",
    Low,
    HARDENING,
    "CPU/memory requests or memory limit missing",
    "Without requests and a memory limit, one pod can starve its neighbours (noisy neighbour, DoS).",
    "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory."
);
pub const AUTOMOUNT_TOKEN: RuleInfo = rule!(
    "hardening-automount-token",
    Medium,
    HARDENING,
    "ServiceAccount token mounted",
    "A mounted token lets anyone who compromises the pod call the API server as its ServiceAccount. Not reported when a RoleBinding or ClusterRoleBinding names the ServiceAccount: the pod is meant to call the API (rbac-audit's automount-token-with-rights judges whether those rights are risky).",
    "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API."
);
pub const RUN_AS_UID_ZERO_OR_UNSET: RuleInfo = rule!(
    "hardening-run-as-uid-zero-or-unset",
    Medium,
    HARDENING,
    "No non-zero runAsUser",
    "Without an explicit non-zero UID the image's user decides, which is root for most images; runAsNonRoot then refuses to start it.",
    "Set spec.securityContext.runAsUser (and runAsGroup, fsGroup) to a non-zero ID such as 10001."
);
pub const DEFAULT_SERVICE_ACCOUNT: RuleInfo = rule!(
    "hardening-default-service-account",
    Low,
    HARDENING,
    "Runs as the namespace's default ServiceAccount",
    "Every pod of the namespace shares the default ServiceAccount, so a grant meant for one is given to all.",
    "Create a dedicated ServiceAccount and set serviceAccountName."
);

pub const HARDENING_RULES: [RuleInfo; 5] = [
    READ_ONLY_ROOT_FS,
    NO_RESOURCES,
    AUTOMOUNT_TOKEN,
    RUN_AS_UID_ZERO_OR_UNSET,
    DEFAULT_SERVICE_ACCOUNT,
];

/// Every rule, for `--list-rules` and SARIF.
pub fn all_rules() -> Vec<RuleInfo> {
    PSS_RULES
        .iter()
        .map(|(_, r)| *r)
        .chain(HARDENING_RULES)
        .collect()
}

/// The rule of an upstream check ID.
pub fn pss_rule(check: &str) -> Option<&'static RuleInfo> {
    PSS_RULES
        .iter()
        .find(|(id, _)| *id == check)
        .map(|(_, r)| r)
}

pub fn is_pss(rule: &str) -> bool {
    rule.starts_with("pss-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_rule_in_its_family() {
        for check in crate::pss::CHECKS {
            let rule = pss_rule(check.id).expect("rule for check");
            let family = match check.level {
                crate::pss::Level::Baseline => PSS_BASELINE,
                crate::pss::Level::Restricted => PSS_RESTRICTED,
            };
            assert_eq!(rule.category, family, "{}", check.id);
        }
        for r in HARDENING_RULES {
            assert_eq!(r.category, HARDENING);
            assert!(r.id.starts_with("hardening-"));
        }
        let mut ids: Vec<&str> = all_rules().iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 24, "rule ids are unique");
    }
}
