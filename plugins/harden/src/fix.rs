//! The `fix` plan, as a pure function: for one workload (its JSON, as read from a file or the
//! API), the changes that make its pods hardened — the guides' runtime defaults, and a fix for
//! every Pod Security Standards check it fails. Only unset or non-compliant fields change;
//! compliant choices (a Localhost seccomp profile, a non-zero UID, NET_BIND_SERVICE) are kept.
//!
//! A plan is a list of edits (path, old, new) — what a format-preserving file edit or a diff
//! needs — and the same changes as one strategic-merge patch for a live object. Edits that take
//! away something the workload may rely on (privileged, host namespaces, hostPath volumes, …)
//! are marked `confirm`, so an interactive fix can ask and a declined edit leaves its finding.
//! Writing files or patching the cluster is not done here.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::pss::{self, Level, Version};

/// One step into a workload's JSON: an object key, or the element of a list whose merge key
/// (`name`, `mountPath`, `containerPort`) has a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Item {
        list: String,
        key: &'static str,
        value: Value,
    },
}

/// A path such as `spec.template.spec.containers[name=app].securityContext.privileged`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldPath(pub Vec<Step>);

impl FieldPath {
    pub(crate) fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Step::Key(k.to_string()));
        p
    }

    fn item(&self, list: &str, key: &'static str, value: Value) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Step::Item {
            list: list.to_string(),
            key,
            value,
        });
        p
    }

    fn keys(&self, ks: &[&str]) -> FieldPath {
        ks.iter().fold(self.clone(), |p, k| p.key(k))
    }

    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Item { list, key, value } => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let v = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    write!(f, "{list}[{key}={v}]")?;
                }
            }
        }
        Ok(())
    }
}

impl Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// One change: `old` → `new` at `path` (`None` = absent / removed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edit {
    pub path: FieldPath,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// What the edit is for, a `--only`/`--skip` name: e.g. `allow-privilege-escalation`.
    pub fix: &'static str,
    /// Takes away something the workload may rely on: ask before applying.
    pub confirm: bool,
}

/// The names `--only` and `--skip` accept, in the order edits are planned.
pub const FIXES: &[&str] = &[
    "run-as-non-root",
    "run-as-user",
    "seccomp",
    "app-armor",
    "automount-token",
    "host-namespaces",
    "volumes",
    "sysctls",
    "se-linux",
    "host-process",
    "allow-privilege-escalation",
    "capabilities",
    "privileged",
    "proc-mount",
    "host-ports",
    "probe-hosts",
    "read-only-root-fs",
];

#[derive(Debug, Clone)]
pub struct FixOptions {
    pub level: Level,
    /// The policy version whose checks are fixed (sysctls and probe hosts depend on it).
    pub version: Version,
    /// UID, GID and fsGroup set where unset or 0.
    pub id: i64,
    /// Capabilities kept in (or added to) `capabilities.add` next to `drop: [ALL]`.
    pub keep_caps: Vec<String>,
}

impl Default for FixOptions {
    fn default() -> Self {
        FixOptions {
            level: Level::Restricted,
            version: Version::Latest,
            id: 10001,
            keep_caps: Vec::new(),
        }
    }
}

/// The changes for one workload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FixPlan {
    pub edits: Vec<Edit>,
}

/// Where a workload kind keeps its pod template (`None`: not a pod-creating kind).
pub fn template_path(kind: &str) -> Option<FieldPath> {
    let keys: &[&str] = match kind {
        "Pod" => &[],
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &["spec", "template"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template"],
        _ => return None,
    };
    Some(FieldPath::default().keys(keys))
}

fn get<'v>(root: &'v Value, path: &FieldPath) -> Option<&'v Value> {
    let mut cur = root;
    for step in &path.0 {
        cur = match step {
            Step::Key(k) => cur.get(k)?,
            Step::Item { list, key, value } => cur
                .get(list)?
                .as_array()?
                .iter()
                .find(|item| item.get(*key) == Some(value))?,
        };
    }
    Some(cur)
}

struct Planner<'a> {
    root: &'a Value,
    edits: Vec<Edit>,
}

impl Planner<'_> {
    /// Plans `path` := `new` unless it already holds that.
    fn set(&mut self, path: FieldPath, new: Option<Value>, fix: &'static str, confirm: bool) {
        let old = get(self.root, &path).cloned();
        if old.as_ref().filter(|v| !v.is_null()) == new.as_ref() {
            return;
        }
        if old.is_none() && new.is_none() {
            return;
        }
        self.edits.push(Edit {
            path,
            old,
            new,
            fix,
            confirm,
        });
    }
}

fn valid_profile(v: Option<&Value>) -> bool {
    matches!(
        v.and_then(|p| p.get("type")).and_then(Value::as_str),
        Some("RuntimeDefault" | "Localhost")
    )
}

fn is_zero_or_unset(v: Option<&Value>) -> bool {
    v.and_then(Value::as_i64).is_none_or(|n| n == 0)
}

/// The plan for one workload object. Errors name what is wrong with the object.
pub fn plan(object: &Value, opts: &FixOptions) -> Result<FixPlan, String> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("object has no kind")?;
    let template = template_path(kind).ok_or_else(|| format!("{kind} has no pod template"))?;
    let spec_path = template.key("spec");
    let spec = get(object, &spec_path).ok_or_else(|| format!("{kind} has no pod spec"))?;
    if !spec.is_object() {
        return Err(format!("{kind}: {spec_path} is not an object"));
    }
    let minor = opts.version.effective_minor();
    let windows = spec.pointer("/os/name").and_then(Value::as_str) == Some("windows");
    let mut p = Planner {
        root: object,
        edits: Vec::new(),
    };
    let psc = spec_path.key("securityContext");
    let pod_sc = spec.get("securityContext");

    // Pod level.
    p.set(
        psc.key("runAsNonRoot"),
        Some(json!(true)),
        "run-as-non-root",
        false,
    );
    if !windows {
        for field in ["runAsUser", "runAsGroup", "fsGroup"] {
            if is_zero_or_unset(pod_sc.and_then(|s| s.get(field))) {
                p.set(psc.key(field), Some(json!(opts.id)), "run-as-user", false);
            }
        }
        if !valid_profile(pod_sc.and_then(|s| s.get("seccompProfile"))) {
            p.set(
                psc.key("seccompProfile"),
                Some(json!({"type": "RuntimeDefault"})),
                "seccomp",
                false,
            );
        }
    }
    if pod_sc.and_then(|s| s.get("appArmorProfile")).is_some()
        && !valid_profile(pod_sc.and_then(|s| s.get("appArmorProfile")))
    {
        p.set(
            psc.key("appArmorProfile"),
            Some(json!({"type": "RuntimeDefault"})),
            "app-armor",
            false,
        );
    }
    let annotations = template.keys(&["metadata", "annotations"]);
    if let Some(map) = get(object, &annotations).and_then(Value::as_object) {
        for (k, v) in map {
            let value = v.as_str().unwrap_or_default();
            let allowed =
                value.is_empty() || value == "runtime/default" || value.starts_with("localhost/");
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/") && !allowed {
                p.set(
                    annotations.key(k),
                    Some(json!("runtime/default")),
                    "app-armor",
                    false,
                );
            }
        }
    }
    match spec.get("automountServiceAccountToken") {
        Some(Value::Bool(false)) => {}
        // An explicit true is a decision (the pod may call the API): ask.
        Some(Value::Bool(true)) => p.set(
            spec_path.key("automountServiceAccountToken"),
            Some(json!(false)),
            "automount-token",
            true,
        ),
        _ => p.set(
            spec_path.key("automountServiceAccountToken"),
            Some(json!(false)),
            "automount-token",
            false,
        ),
    }
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field) == Some(&json!(true)) {
            p.set(
                spec_path.key(field),
                Some(json!(false)),
                "host-namespaces",
                true,
            );
        }
    }
    plan_volumes(&mut p, spec, &spec_path, opts.level);
    if let Some(sysctls) = pod_sc
        .and_then(|s| s.get("sysctls"))
        .and_then(Value::as_array)
    {
        let safe: Vec<Value> = sysctls
            .iter()
            .filter(|s| {
                s.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| crate::pss::sysctl_allowed(n, minor))
            })
            .cloned()
            .collect();
        if safe.len() != sysctls.len() {
            let new = (!safe.is_empty()).then(|| Value::Array(safe));
            p.set(psc.key("sysctls"), new, "sysctls", true);
        }
    }
    plan_se_linux(&mut p, pod_sc, &psc);
    if pod_sc.and_then(|s| s.pointer("/windowsOptions/hostProcess")) == Some(&json!(true)) {
        p.set(
            psc.keys(&["windowsOptions", "hostProcess"]),
            Some(json!(false)),
            "host-process",
            true,
        );
    }

    // Containers (init containers and containers; ephemeral containers cannot be changed by
    // a patch of the pod template or the pod spec).
    let tmp_volume = tmp_volume_name(spec);
    let mut needs_tmp = false;
    for list in ["initContainers", "containers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            let cp = spec_path.item(list, "name", json!(name));
            let sc = c.get("securityContext");
            let scp = cp.key("securityContext");
            if sc.and_then(|s| s.get("runAsNonRoot")) == Some(&json!(false)) {
                p.set(
                    scp.key("runAsNonRoot"),
                    Some(json!(true)),
                    "run-as-non-root",
                    false,
                );
            }
            if windows {
                continue;
            }
            for field in ["runAsUser", "runAsGroup"] {
                if sc.and_then(|s| s.get(field)).and_then(Value::as_i64) == Some(0) {
                    p.set(scp.key(field), Some(json!(opts.id)), "run-as-user", false);
                }
            }
            if sc.and_then(|s| s.get("seccompProfile")).is_some()
                && !valid_profile(sc.and_then(|s| s.get("seccompProfile")))
            {
                p.set(
                    scp.key("seccompProfile"),
                    Some(json!({"type": "RuntimeDefault"})),
                    "seccomp",
                    false,
                );
            }
            if sc.and_then(|s| s.get("appArmorProfile")).is_some()
                && !valid_profile(sc.and_then(|s| s.get("appArmorProfile")))
            {
                p.set(
                    scp.key("appArmorProfile"),
                    Some(json!({"type": "RuntimeDefault"})),
                    "app-armor",
                    false,
                );
            }
            p.set(
                scp.key("allowPrivilegeEscalation"),
                Some(json!(false)),
                "allow-privilege-escalation",
                false,
            );
            plan_capabilities(&mut p, sc, &scp, opts);
            if sc.and_then(|s| s.get("privileged")) == Some(&json!(true)) {
                p.set(
                    scp.key("privileged"),
                    Some(json!(false)),
                    "privileged",
                    true,
                );
            }
            if sc
                .and_then(|s| s.get("procMount"))
                .is_some_and(|v| v != "Default")
            {
                p.set(
                    scp.key("procMount"),
                    Some(json!("Default")),
                    "proc-mount",
                    false,
                );
            }
            plan_se_linux(&mut p, sc, &scp);
            if sc.and_then(|s| s.pointer("/windowsOptions/hostProcess")) == Some(&json!(true)) {
                p.set(
                    scp.keys(&["windowsOptions", "hostProcess"]),
                    Some(json!(false)),
                    "host-process",
                    true,
                );
            }
            for port in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if port
                    .get("hostPort")
                    .and_then(Value::as_i64)
                    .is_some_and(|n| n != 0)
                    && let Some(container_port) = port.get("containerPort")
                {
                    let pp = cp.item("ports", "containerPort", container_port.clone());
                    p.set(pp.key("hostPort"), None, "host-ports", true);
                }
            }
            if minor >= 34 {
                plan_probe_hosts(&mut p, c, &cp);
            }
            if sc.and_then(|s| s.get("readOnlyRootFilesystem")) != Some(&json!(true)) {
                p.set(
                    scp.key("readOnlyRootFilesystem"),
                    Some(json!(true)),
                    "read-only-root-fs",
                    false,
                );
                let mounts_tmp = c
                    .get("volumeMounts")
                    .and_then(Value::as_array)
                    .is_some_and(|m| m.iter().any(|m| m.get("mountPath") == Some(&json!("/tmp"))));
                if !mounts_tmp {
                    needs_tmp = true;
                    p.set(
                        cp.item("volumeMounts", "mountPath", json!("/tmp")),
                        Some(json!({"name": tmp_volume, "mountPath": "/tmp"})),
                        "read-only-root-fs",
                        false,
                    );
                }
            }
        }
    }
    if needs_tmp {
        p.set(
            spec_path.item("volumes", "name", json!(tmp_volume)),
            Some(json!({"name": tmp_volume, "emptyDir": {}})),
            "read-only-root-fs",
            false,
        );
    }
    Ok(FixPlan { edits: p.edits })
}

/// `tmp`, or a free name when a volume called `tmp` is something other than an emptyDir.
fn tmp_volume_name(spec: &Value) -> String {
    let volumes: Vec<&Value> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let taken = |name: &str| {
        volumes
            .iter()
            .any(|v| v.get("name") == Some(&json!(name)) && v.get("emptyDir").is_none())
    };
    ["tmp", "harden-tmp", "harden-tmp-1"]
        .into_iter()
        .find(|n| !taken(n))
        .unwrap_or("harden-tmp-2")
        .to_string()
}

const RESTRICTED_VOLUME_SOURCES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// hostPath (baseline) or any source outside the restricted set becomes an emptyDir — the
/// data it gave is lost, so this always asks.
fn plan_volumes(p: &mut Planner<'_>, spec: &Value, spec_path: &FieldPath, level: Level) {
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = v.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some(fields) = v.as_object() else {
            continue;
        };
        let bad: Vec<&String> = fields
            .keys()
            .filter(|k| *k != "name")
            .filter(|k| match level {
                Level::Baseline => *k == "hostPath",
                Level::Restricted => !RESTRICTED_VOLUME_SOURCES.contains(&k.as_str()),
            })
            .collect();
        if bad.is_empty() {
            continue;
        }
        let vp = spec_path.item("volumes", "name", json!(name));
        for source in bad {
            p.set(vp.key(source), None, "volumes", true);
        }
        p.set(vp.key("emptyDir"), Some(json!({})), "volumes", true);
    }
}

fn plan_se_linux(p: &mut Planner<'_>, sc: Option<&Value>, sc_path: &FieldPath) {
    let Some(opts) = sc.and_then(|s| s.get("seLinuxOptions")) else {
        return;
    };
    let op = sc_path.key("seLinuxOptions");
    let t = opts.get("type").and_then(Value::as_str).unwrap_or("");
    let allowed = matches!(
        t,
        "" | "container_t" | "container_init_t" | "container_kvm_t" | "container_engine_t"
    );
    if !allowed {
        p.set(op.key("type"), None, "se-linux", true);
    }
    for field in ["user", "role"] {
        if opts
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            p.set(op.key(field), None, "se-linux", true);
        }
    }
}

fn plan_capabilities(p: &mut Planner<'_>, sc: Option<&Value>, scp: &FieldPath, opts: &FixOptions) {
    let caps = sc.and_then(|s| s.get("capabilities"));
    let drop: Vec<&str> = caps
        .and_then(|c| c.get("drop"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !drop.contains(&"ALL") {
        p.set(
            scp.keys(&["capabilities", "drop"]),
            Some(json!(["ALL"])),
            "capabilities",
            false,
        );
    }
    let add: Vec<&str> = caps
        .and_then(|c| c.get("add"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let allowed_by_level = |c: &str| match opts.level {
        Level::Restricted => c == "NET_BIND_SERVICE",
        Level::Baseline => pss::CAPABILITIES_ALLOWED_BASELINE.contains(&c),
    };
    let mut new_add: Vec<String> = add
        .iter()
        .filter(|c| allowed_by_level(c) || opts.keep_caps.iter().any(|k| k == *c))
        .map(|c| c.to_string())
        .collect();
    for keep in &opts.keep_caps {
        if !new_add.contains(keep) {
            new_add.push(keep.clone());
        }
    }
    let unchanged = new_add.len() == add.len() && new_add.iter().zip(&add).all(|(a, b)| a == b);
    if !unchanged {
        // Removing an added capability can break the program that needed it.
        let removes = add.iter().any(|c| !new_add.iter().any(|n| n == c));
        let new = (!new_add.is_empty()).then(|| json!(new_add));
        p.set(
            scp.keys(&["capabilities", "add"]),
            new,
            "capabilities",
            removes,
        );
    }
}

fn plan_probe_hosts(p: &mut Planner<'_>, c: &Value, cp: &FieldPath) {
    let handlers = [
        ("livenessProbe", None),
        ("readinessProbe", None),
        ("startupProbe", None),
        ("lifecycle", Some("postStart")),
        ("lifecycle", Some("preStop")),
    ];
    for (field, hook) in handlers {
        let mut path = cp.key(field);
        let mut node = c.get(field);
        if let Some(h) = hook {
            path = path.key(h);
            node = node.and_then(|n| n.get(h));
        }
        for action in ["httpGet", "tcpSocket"] {
            if node
                .and_then(|n| n.get(action))
                .and_then(|a| a.get("host"))
                .and_then(Value::as_str)
                .is_some_and(|h| !h.is_empty())
            {
                p.set(path.keys(&[action, "host"]), None, "probe-hosts", true);
            }
        }
    }
}

impl FixPlan {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Keeps the edits whose fix is in `only` (when given) and not in `skip`.
    pub fn select(mut self, only: &HashSet<String>, skip: &HashSet<String>) -> FixPlan {
        self.edits
            .retain(|e| (only.is_empty() || only.contains(e.fix)) && !skip.contains(e.fix));
        self
    }

    /// Drops the edits that need confirmation (as if each were declined).
    pub fn without_confirmations(mut self) -> FixPlan {
        self.edits.retain(|e| !e.confirm);
        self
    }

    /// Applies the edits to the object's JSON (what a fixed file will hold).
    pub fn apply_to(&self, object: &mut Value) {
        for edit in &self.edits {
            apply_edit(object, &edit.path, edit.new.clone());
        }
    }

    /// The edits as one strategic-merge patch (`application/strategic-merge-patch+json`):
    /// lists of containers, volumes, mounts and ports merge on their keys; removals are `null`.
    pub fn strategic_merge_patch(&self) -> Value {
        let mut patch = Value::Object(Map::new());
        for edit in &self.edits {
            let value = edit.new.clone().unwrap_or(Value::Null);
            insert_patch(&mut patch, &edit.path.0, value);
        }
        patch
    }
}

/// Sets (or with `None` removes) the value at `path`, creating missing parents.
pub fn apply_edit_at(root: &mut Value, path: &FieldPath, new: Option<Value>) {
    apply_edit(root, path, new)
}

fn apply_edit(root: &mut Value, path: &FieldPath, new: Option<Value>) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    let mut cur = root;
    for step in parents {
        cur = match step {
            Step::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                let Some(map) = cur.as_object_mut() else {
                    return;
                };
                map.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Step::Item { list, key, value } => {
                let Some(items) = cur.get_mut(list).and_then(Value::as_array_mut) else {
                    return;
                };
                let Some(item) = items.iter_mut().find(|i| i.get(*key) == Some(value)) else {
                    return;
                };
                item
            }
        };
    }
    match last {
        Step::Key(k) => {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            if let Some(map) = cur.as_object_mut() {
                match new {
                    Some(v) => {
                        map.insert(k.clone(), v);
                    }
                    None => {
                        map.remove(k);
                    }
                }
            }
        }
        Step::Item { list, key, value } => {
            let Some(map) = cur.as_object_mut() else {
                return;
            };
            let items = map
                .entry(list.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !items.is_array() {
                *items = Value::Array(Vec::new());
            }
            if let Some(items) = items.as_array_mut() {
                items.retain(|i| i.get(*key) != Some(value));
                if let Some(v) = new {
                    items.push(v);
                }
            }
        }
    }
}

fn insert_patch(node: &mut Value, path: &[Step], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Some(map) = node.as_object_mut() else {
        return;
    };
    match first {
        Step::Key(k) => {
            let child = map.entry(k.clone()).or_insert(Value::Null);
            insert_patch(child, rest, value);
        }
        Step::Item {
            list,
            key,
            value: id,
        } => {
            let items = map
                .entry(list.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !items.is_array() {
                *items = Value::Array(Vec::new());
            }
            let Some(items) = items.as_array_mut() else {
                return;
            };
            let position = items.iter().position(|i| i.get(*key) == Some(id));
            let index = match position {
                Some(i) => i,
                None => {
                    items.push(json!({ *key: id }));
                    items.len() - 1
                }
            };
            if rest.is_empty() {
                match value {
                    // Removing a whole element: the strategic-merge `$patch: delete` directive.
                    Value::Null => items[index] = json!({ *key: id, "$patch": "delete" }),
                    Value::Object(fields) => {
                        if let Some(obj) = items[index].as_object_mut() {
                            obj.extend(fields);
                        }
                    }
                    other => items[index] = other,
                }
            } else {
                insert_patch(&mut items[index], rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests;
