//! The checks, one function per upstream `check_*.go`, with upstream's version gates and its
//! exact reason and detail strings (including its quirks, e.g. host ports sorted as text).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe, SELinuxOptions};

use super::containers::visit;
use super::{CheckInfo, Level, Pod, Violation};

macro_rules! check {
    ($id:literal, $level:ident, $since:literal, $overrides:expr, $run:path) => {
        CheckInfo {
            id: $id,
            level: Level::$level,
            since: $since,
            overrides: $overrides,
            run: $run,
        }
    };
}

/// Baseline IDs sorted, then restricted IDs sorted (a unit test holds this order).
pub(super) static ALL: [CheckInfo; 19] = [
    check!("appArmorProfile", Baseline, 0, None, app_armor_profile),
    check!(
        "capabilities_baseline",
        Baseline,
        0,
        None,
        capabilities_baseline
    ),
    check!("hostNamespaces", Baseline, 0, None, host_namespaces),
    check!("hostPathVolumes", Baseline, 0, None, host_path_volumes),
    check!("hostPorts", Baseline, 0, None, host_ports),
    check!(
        "hostProbesAndHostLifecycle",
        Baseline,
        34,
        None,
        host_probes_and_lifecycle
    ),
    check!("privileged", Baseline, 0, None, privileged),
    check!("procMount", Baseline, 0, None, proc_mount_baseline),
    check!("seLinuxOptions", Baseline, 0, None, se_linux_options),
    check!(
        "seccompProfile_baseline",
        Baseline,
        0,
        None,
        seccomp_profile_baseline
    ),
    check!("sysctls", Baseline, 0, None, sysctls),
    check!(
        "windowsHostProcess",
        Baseline,
        0,
        None,
        windows_host_process
    ),
    check!(
        "allowPrivilegeEscalation",
        Restricted,
        8,
        None,
        allow_privilege_escalation
    ),
    check!(
        "capabilities_restricted",
        Restricted,
        22,
        Some("capabilities_baseline"),
        capabilities_restricted
    ),
    check!(
        "procMount_restricted",
        Restricted,
        35,
        Some("procMount"),
        proc_mount_restricted
    ),
    check!(
        "restrictedVolumes",
        Restricted,
        0,
        Some("hostPathVolumes"),
        restricted_volumes
    ),
    check!("runAsNonRoot", Restricted, 0, None, run_as_non_root),
    check!("runAsUser", Restricted, 23, None, run_as_user),
    check!(
        "seccompProfile_restricted",
        Restricted,
        19,
        Some("seccompProfile_baseline"),
        seccomp_profile_restricted
    ),
];

fn pluralize<'s>(singular: &'s str, plural: &'s str, count: usize) -> &'s str {
    if count == 1 { singular } else { plural }
}

/// `"a", "b"` (upstream `joinQuote`: plain quotes, no escaping).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    items.join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[&str]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Go's `%q` for the strings these checks quote (annotation values).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn violation(
    check: &'static str,
    reason: impl Into<String>,
    detail: String,
    containers: &[&str],
) -> Option<Violation> {
    Some(Violation {
        check,
        reason: reason.into(),
        detail,
        containers: containers.iter().map(|s| s.to_string()).collect(),
    })
}

fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

/// KEP-127: user-namespaced pods (`hostUsers: false`) are relaxed by some checks from v1.35.
fn user_namespaced(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

// ---- baseline ---------------------------------------------------------------------------

fn app_armor_profile(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<String> = BTreeSet::new();
    if let Some(profile) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref())
        && !allowed_type(&profile.type_)
    {
        setters.push("pod".into());
        bad_values.insert(profile.type_.clone());
    }
    let mut bad_containers: Vec<&str> = Vec::new();
    for c in visit(pod.spec) {
        if let Some(profile) = c
            .security_context
            .and_then(|s| s.app_armor_profile.as_ref())
            && !allowed_type(&profile.type_)
        {
            bad_containers.push(c.name);
            bad_values.insert(profile.type_.clone());
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut annotations: Vec<String> = pod
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, v)| {
            k.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && !(v.is_empty() || *v == "runtime/default" || v.starts_with("localhost/"))
        })
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    annotations.sort();
    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", annotations.len()).into());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "appArmorProfile",
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
        &bad_containers,
    )
}

/// The capabilities the baseline level lets a container add (and `fix` keeps there).
pub(crate) const CAPABILITIES_ALLOWED_BASELINE: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let mut bad: Vec<&str> = Vec::new();
    let mut non_default: BTreeSet<&str> = BTreeSet::new();
    for c in visit(pod.spec) {
        let Some(caps) = c.security_context.and_then(|s| s.capabilities.as_ref()) else {
            continue;
        };
        let mut valid = true;
        for cap in caps.add.iter().flatten() {
            if !CAPABILITIES_ALLOWED_BASELINE.contains(&cap.as_str()) {
                valid = false;
                non_default.insert(cap);
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "capabilities_baseline",
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&non_default)
        ),
        &bad,
    )
}

fn host_namespaces(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let spec = pod.spec;
    let mut set = Vec::new();
    if spec.host_network == Some(true) {
        set.push("hostNetwork=true");
    }
    if spec.host_pid == Some(true) {
        set.push("hostPID=true");
    }
    if spec.host_ipc == Some(true) {
        set.push("hostIPC=true");
    }
    if set.is_empty() {
        return None;
    }
    violation("hostNamespaces", "host namespaces", set.join(", "), &[])
}

fn host_path_volumes(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let names: Vec<&str> = pod
        .spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| v.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    violation(
        "hostPathVolumes",
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
        &[],
    )
}

fn host_ports(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let mut bad: Vec<&str> = Vec::new();
    // Upstream keeps the ports as strings in a sorted set: "10000" sorts before "80".
    let mut ports: BTreeSet<String> = BTreeSet::new();
    for c in visit(pod.spec) {
        let mut valid = true;
        for p in c.ports {
            if let Some(port) = p.host_port.filter(|&n| n != 0) {
                valid = false;
                ports.insert(port.to_string());
            }
        }
        if !valid {
            bad.push(c.name);
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "hostPorts",
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.into_iter().collect::<Vec<_>>().join(", ")
        ),
        &bad,
    )
}

fn probe_hosts(probe: Option<&Probe>) -> impl Iterator<Item = &str> {
    let http = probe
        .and_then(|p| p.http_get.as_ref())
        .and_then(|h| h.host.as_deref());
    let tcp = probe
        .and_then(|p| p.tcp_socket.as_ref())
        .and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

fn handler_hosts(handler: Option<&LifecycleHandler>) -> impl Iterator<Item = &str> {
    let http = handler
        .and_then(|p| p.http_get.as_ref())
        .and_then(|h| h.host.as_deref());
    let tcp = handler
        .and_then(|p| p.tcp_socket.as_ref())
        .and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|h| !h.is_empty())
}

fn host_probes_and_lifecycle(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    // Both are sorted sets upstream (unlike most checks, which keep visiting order).
    let mut bad: BTreeSet<&str> = BTreeSet::new();
    let mut hosts: BTreeSet<&str> = BTreeSet::new();
    for c in visit(pod.spec) {
        let lifecycle = c.lifecycle;
        let found: Vec<&str> = probe_hosts(c.liveness_probe)
            .chain(probe_hosts(c.readiness_probe))
            .chain(probe_hosts(c.startup_probe))
            .chain(handler_hosts(lifecycle.and_then(|l| l.post_start.as_ref())))
            .chain(handler_hosts(lifecycle.and_then(|l| l.pre_stop.as_ref())))
            .collect();
        if !found.is_empty() {
            bad.insert(c.name);
            hosts.extend(found);
        }
    }
    if bad.is_empty() {
        return None;
    }
    let names: Vec<&str> = bad.into_iter().collect();
    violation(
        "hostProbesAndHostLifecycle",
        "probe or lifecycle host",
        format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
        &names,
    )
}

fn privileged(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let bad: Vec<&str> = visit(pod.spec)
        .filter(|c| c.security_context.and_then(|s| s.privileged) == Some(true))
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "privileged",
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        ),
        &bad,
    )
}

/// Upstream `procMount_1_0`: anything but `Default` is forbidden.
fn proc_mount_strict(check: &'static str, spec: &PodSpec) -> Option<Violation> {
    let mut bad: Vec<&str> = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for c in visit(spec) {
        if let Some(pm) = c.security_context.and_then(|s| s.proc_mount.as_deref())
            && pm != "Default"
        {
            bad.push(c.name);
            types.insert(pm);
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        check,
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&types)
        ),
        &bad,
    )
}

fn proc_mount_baseline(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor >= 35 && user_namespaced(pod.spec) {
        return None;
    }
    proc_mount_strict("procMount", pod.spec)
}

fn se_linux_options(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    let allowed = |t: &str| {
        matches!(
            t,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (minor >= 31 && t == "container_engine_t")
    };
    let mut bad_types: BTreeSet<String> = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |opts: &SELinuxOptions| -> bool {
        let mut ok = true;
        let t = opts.type_.as_deref().unwrap_or("");
        if !allowed(t) {
            ok = false;
            bad_types.insert(t.to_string());
        }
        if opts.user.as_deref().is_some_and(|u| !u.is_empty()) {
            ok = false;
            set_user = true;
        }
        if opts.role.as_deref().is_some_and(|r| !r.is_empty()) {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters: Vec<String> = Vec::new();
    if let Some(opts) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.se_linux_options.as_ref())
        && !valid(opts)
    {
        setters.push("pod".into());
    }
    let mut bad: Vec<&str> = Vec::new();
    for c in visit(pod.spec) {
        if let Some(opts) = c.security_context.and_then(|s| s.se_linux_options.as_ref())
            && !valid(opts)
        {
            bad.push(c.name);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    // Upstream only names a forbidden user or role when a forbidden type is also present.
    let mut data: Vec<String> = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&bad_types)
        ));
        if set_user {
            data.push("user may not be set".into());
        }
        if set_role {
            data.push("role may not be set".into());
        }
    }
    violation(
        "seLinuxOptions",
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
        &bad,
    )
}

fn valid_seccomp(t: &str) -> bool {
    t == "Localhost" || t == "RuntimeDefault"
}

fn seccomp_profile_baseline(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor < 19 {
        return seccomp_annotations(pod);
    }
    let mut setters: Vec<String> = Vec::new();
    let mut values: BTreeSet<&str> = BTreeSet::new();
    if let Some(p) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
        && !valid_seccomp(&p.type_)
    {
        setters.push("pod".into());
        values.insert(&p.type_);
    }
    let mut bad: Vec<&str> = Vec::new();
    for c in visit(pod.spec) {
        if let Some(p) = c.security_context.and_then(|s| s.seccomp_profile.as_ref())
            && !valid_seccomp(&p.type_)
        {
            bad.push(c.name);
            values.insert(&p.type_);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "seccompProfile_baseline",
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
        &bad,
    )
}

/// Policy versions before 1.19 read the alpha seccomp annotations instead of the fields.
fn seccomp_annotations(pod: &Pod<'_>) -> Option<Violation> {
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let annotations = pod.metadata.annotations.as_ref();
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    let mut bad: Vec<&str> = Vec::new();
    if let Some(v) = annotations.and_then(|a| a.get(POD_KEY))
        && !valid(v)
    {
        forbidden.insert(format!("{POD_KEY}={}", go_quote(v)));
    }
    for c in visit(pod.spec) {
        let key = format!("{CONTAINER_PREFIX}{}", c.name);
        if let Some(v) = annotations.and_then(|a| a.get(&key))
            && !valid(v)
        {
            forbidden.insert(format!("{key}={}", go_quote(v)));
            bad.push(c.name);
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    violation(
        "seccompProfile_baseline",
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.into_iter().collect::<Vec<_>>().join(", ")
        ),
        &bad,
    )
}

const SYSCTLS_1_0: [&str; 5] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: [&str; 1] = ["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: [&str; 4] = [
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: [&str; 2] = ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

/// Whether a sysctl is in the safe set of a policy version.
pub fn sysctl_allowed(name: &str, minor: u32) -> bool {
    SYSCTLS_1_0.contains(&name)
        || (minor >= 27 && SYSCTLS_1_27.contains(&name))
        || (minor >= 29 && SYSCTLS_1_29.contains(&name))
        || (minor >= 32 && SYSCTLS_1_32.contains(&name))
}

fn sysctls(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    let forbidden: Vec<&str> = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref())
        .into_iter()
        .flatten()
        .map(|s| s.name.as_str())
        .filter(|name| !sysctl_allowed(name, minor))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    violation("sysctls", "forbidden sysctls", forbidden.join(", "), &[])
}

fn windows_host_process(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let host_process = |w: Option<&k8s_openapi::api::core::v1::WindowsSecurityContextOptions>| {
        w.and_then(|w| w.host_process) == Some(true)
    };
    let bad: Vec<&str> = visit(pod.spec)
        .filter(|c| host_process(c.security_context.and_then(|s| s.windows_options.as_ref())))
        .map(|c| c.name)
        .collect();
    let mut setters: Vec<String> = Vec::new();
    if host_process(
        pod.spec
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref()),
    ) {
        setters.push("pod".into());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "windowsHostProcess",
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
        &bad,
    )
}

// ---- restricted -------------------------------------------------------------------------

fn allow_privilege_escalation(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    // From 1.25 Windows pods are exempt (the field does not apply to them).
    if minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let bad: Vec<&str> = visit(pod.spec)
        .filter(|c| {
            c.security_context
                .and_then(|s| s.allow_privilege_escalation)
                != Some(false)
        })
        .map(|c| c.name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "allowPrivilegeEscalation",
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad)
        ),
        &bad,
    )
}

fn capabilities_restricted(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let mut missing_drop_all: Vec<&str> = Vec::new();
    let mut adding_forbidden: Vec<&str> = Vec::new();
    let mut forbidden: BTreeSet<&str> = BTreeSet::new();
    for c in visit(pod.spec) {
        let Some(caps) = c.security_context.and_then(|s| s.capabilities.as_ref()) else {
            missing_drop_all.push(c.name);
            continue;
        };
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            missing_drop_all.push(c.name);
        }
        let mut added_forbidden = false;
        for cap in caps.add.iter().flatten() {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap);
            }
        }
        if added_forbidden {
            adding_forbidden.push(c.name);
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    let mut involved = missing_drop_all;
    for name in adding_forbidden {
        if !involved.contains(&name) {
            involved.push(name);
        }
    }
    violation(
        "capabilities_restricted",
        "unrestricted capabilities",
        details.join("; "),
        &involved,
    )
}

fn proc_mount_restricted(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    proc_mount_strict("procMount_restricted", pod.spec)
}

fn restricted_volumes(pod: &Pod<'_>, _minor: u32) -> Option<Violation> {
    let mut bad: Vec<&str> = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    for v in pod.spec.volumes.iter().flatten() {
        // `image` was added to the allowed list inside the 1.0 check (Kubernetes 1.33), so it is
        // allowed at every policy version.
        let allowed = v.config_map.is_some()
            || v.csi.is_some()
            || v.downward_api.is_some()
            || v.empty_dir.is_some()
            || v.ephemeral.is_some()
            || v.image.is_some()
            || v.persistent_volume_claim.is_some()
            || v.projected.is_some()
            || v.secret.is_some();
        if allowed {
            continue;
        }
        let kind = [
            (v.host_path.is_some(), "hostPath"),
            (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
            (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
            (v.git_repo.is_some(), "gitRepo"),
            (v.nfs.is_some(), "nfs"),
            (v.iscsi.is_some(), "iscsi"),
            (v.glusterfs.is_some(), "glusterfs"),
            (v.rbd.is_some(), "rbd"),
            (v.flex_volume.is_some(), "flexVolume"),
            (v.cinder.is_some(), "cinder"),
            (v.cephfs.is_some(), "cephfs"),
            (v.flocker.is_some(), "flocker"),
            (v.fc.is_some(), "fc"),
            (v.azure_file.is_some(), "azureFile"),
            (v.vsphere_volume.is_some(), "vsphereVolume"),
            (v.quobyte.is_some(), "quobyte"),
            (v.azure_disk.is_some(), "azureDisk"),
            (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
            (v.portworx_volume.is_some(), "portworxVolume"),
            (v.scale_io.is_some(), "scaleIO"),
            (v.storageos.is_some(), "storageos"),
        ]
        .into_iter()
        .find_map(|(present, name)| present.then_some(name));
        // A volume without any source is defaulted to emptyDir by the API server before
        // admission sees it (upstream's fixtures rely on this), so it is allowed.
        let Some(kind) = kind else { continue };
        bad.push(&v.name);
        types.insert(kind);
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "restrictedVolumes",
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        &[],
    )
}

fn run_as_non_root(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor >= 35 && user_namespaced(pod.spec) {
        return None;
    }
    let mut setters: Vec<String> = Vec::new();
    let mut pod_non_root = false;
    match pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root)
    {
        Some(false) => setters.push("pod".into()),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit: Vec<&str> = Vec::new();
    let mut implicit: Vec<&str> = Vec::new();
    for c in visit(pod.spec) {
        match c.security_context.and_then(|s| s.run_as_non_root) {
            Some(false) => explicit.push(c.name),
            Some(true) => {}
            None if !pod_non_root => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return violation(
            "runAsNonRoot",
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
            &explicit,
        );
    }
    if !implicit.is_empty() {
        return violation(
            "runAsNonRoot",
            "runAsNonRoot != true",
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicit)
            ),
            &implicit,
        );
    }
    None
}

fn run_as_user(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor >= 35 && user_namespaced(pod.spec) {
        return None;
    }
    let mut setters: Vec<String> = Vec::new();
    if pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        == Some(0)
    {
        setters.push("pod".into());
    }
    let bad: Vec<&str> = visit(pod.spec)
        .filter(|c| c.security_context.and_then(|s| s.run_as_user) == Some(0))
        .map(|c| c.name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "runAsUser",
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
        &bad,
    )
}

fn seccomp_profile_restricted(pod: &Pod<'_>, minor: u32) -> Option<Violation> {
    if minor >= 25 && is_windows(pod.spec) {
        return None;
    }
    let mut setters: Vec<String> = Vec::new();
    let mut values: BTreeSet<&str> = BTreeSet::new();
    let mut pod_set = false;
    if let Some(p) = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if valid_seccomp(&p.type_) {
            pod_set = true;
        } else {
            setters.push("pod".into());
            values.insert(&p.type_);
        }
    }
    let mut explicit: Vec<&str> = Vec::new();
    let mut implicit: Vec<&str> = Vec::new();
    for c in visit(pod.spec) {
        match c.security_context.and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) if !valid_seccomp(&p.type_) => {
                explicit.push(c.name);
                values.insert(&p.type_);
            }
            Some(_) => {}
            None if !pod_set => implicit.push(c.name),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return violation(
            "seccompProfile_restricted",
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
            &explicit,
        );
    }
    if !implicit.is_empty() {
        return violation(
            "seccompProfile_restricted",
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
            &implicit,
        );
    }
    None
}
