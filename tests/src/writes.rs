//! How the test API server changes objects: the four patch types, the validation and
//! admission answers that the recordings show, and the managedFields a write leaves.
//!
//! A write whose request matches a recorded write exactly (method, path, query, content type
//! and body, on an object nothing has changed yet) is answered with the recording itself — that
//! is how PodSecurity warnings and 403s (`078`, `082`, `088`–`093`) are served without a Pod
//! Security evaluator inside the test server. Every other write is computed here.

use serde_json::{Map, Value, json};

use crate::recordings::{self, Recording};

/// The patch types kube-apiserver accepts (anything else is the 415 of `070`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: Option<&str>) -> Option<PatchType> {
        let base = content_type?.split(';').next()?.trim();
        match base {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchFailure {
    /// The body is not JSON (or YAML for apply): 400.
    Malformed(String),
    /// A JSON patch `test` failed or a path is missing: the bare 422 of `083`/`084`.
    Rejected,
    /// Server-side apply without `force` would change fields another manager owns: 409 `085`.
    Conflicts {
        manager: String,
        fields: Vec<String>,
    },
}

/// The object after applying `patch` of type `ty` to `live`.
pub fn apply_patch(
    live: &Value,
    ty: PatchType,
    patch: &[u8],
    force: bool,
) -> Result<Value, PatchFailure> {
    let body: Value = match ty {
        PatchType::Apply => serde_yaml_ng::from_slice(patch)
            .map_err(|e| PatchFailure::Malformed(format!("error decoding YAML: {e}")))?,
        _ => serde_json::from_slice(patch).map_err(|e| PatchFailure::Malformed(e.to_string()))?,
    };
    let mut out = live.clone();
    match ty {
        PatchType::Json => {
            let ops: json_patch::Patch =
                serde_json::from_value(body).map_err(|_| PatchFailure::Rejected)?;
            json_patch::patch(&mut out, &ops).map_err(|_| PatchFailure::Rejected)?;
        }
        PatchType::Merge => json_patch::merge(&mut out, &body),
        PatchType::Strategic => strategic_merge(&mut out, &body),
        PatchType::Apply => {
            if !force {
                let fields = apply_conflicts(live, &body);
                if !fields.is_empty() {
                    return Err(PatchFailure::Conflicts {
                        manager: other_manager(live),
                        fields,
                    });
                }
            }
            let mut intent = body;
            if let Some(o) = intent.as_object_mut() {
                o.remove("apiVersion");
                o.remove("kind");
            }
            strategic_merge(&mut out, &intent);
        }
    }
    Ok(out)
}

/// The key that identifies elements of a list field, as the Kubernetes types declare it
/// (`patchMergeKey`); lists without one are replaced whole.
fn merge_key(field: &str, element: &Value) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "readinessGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "conditions" => Some("type"),
        // Container ports merge on containerPort, Service ports on port.
        "ports" if element.get("containerPort").is_some() => Some("containerPort"),
        "ports" if element.get("port").is_some() => Some("port"),
        _ => None,
    }
}

/// Strategic merge patch: maps merge, `null` deletes, keyed lists merge element by element
/// (with `$patch: delete`), other lists are replaced; `$setElementOrder` and `$retainKeys`
/// directives are accepted and ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else {
        *target = patch.clone();
        return;
    };
    for (key, value) in p {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" || key == "$patch" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(gone)) = (
                t.get_mut(field).and_then(Value::as_array_mut),
                value.as_array(),
            ) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        match value {
            Value::Null => {
                t.remove(key);
            }
            Value::Object(_) => match t.get_mut(key) {
                Some(existing) if existing.is_object() => strategic_merge(existing, value),
                _ => {
                    let mut fresh = Value::Object(Map::new());
                    strategic_merge(&mut fresh, value);
                    t.insert(key.clone(), fresh);
                }
            },
            Value::Array(items) => {
                let keyed = items.first().and_then(|first| merge_key(key, first));
                match (keyed, t.get_mut(key).and_then(Value::as_array_mut)) {
                    (Some(mk), Some(existing)) => merge_keyed_list(existing, items, mk),
                    _ => {
                        let kept: Vec<Value> = items
                            .iter()
                            .filter(|i| i.get("$patch").is_none())
                            .cloned()
                            .collect();
                        t.insert(key.clone(), Value::Array(kept));
                    }
                }
            }
            other => {
                t.insert(key.clone(), other.clone());
            }
        }
    }
}

fn merge_keyed_list(existing: &mut Vec<Value>, patch: &[Value], key: &str) {
    for element in patch {
        let id = element.get(key);
        let position = existing
            .iter()
            .position(|e| id.is_some() && e.get(key) == id);
        let delete = element.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], element),
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, element);
                existing.push(fresh);
            }
        }
    }
}

/// Fields server-side apply would take from another manager: every leaf of the applied
/// intent whose live value differs, as field paths in the `085` syntax
/// (`.spec.template.spec.containers[name="checkout"].image`). The live object's fields are all
/// owned by some other manager in the recorded state (kubectl-client-side-apply), so a changed
/// value is a conflict.
fn apply_conflicts(live: &Value, intent: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(spec) = intent.get("spec") {
        differing_leaves(live.get("spec"), spec, "spec", ".spec", &mut out);
    }
    out
}

fn differing_leaves(
    live: Option<&Value>,
    intent: &Value,
    field: &str,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(live) = live else { return };
    match intent {
        Value::Object(m) => {
            for (k, v) in m {
                differing_leaves(live.get(k), v, k, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            let Some(key) = items.first().and_then(|f| merge_key(field, f)) else {
                if live != intent {
                    out.push(path.to_string());
                }
                return;
            };
            for item in items {
                let Some(id) = item.get(key) else { continue };
                let matching = live
                    .as_array()
                    .and_then(|l| l.iter().find(|e| e.get(key) == Some(id)));
                let id_text = match id {
                    Value::String(s) => format!("{s:?}"),
                    other => other.to_string(),
                };
                differing_leaves(
                    matching,
                    item,
                    field,
                    &format!("{path}[{key}={id_text}]"),
                    out,
                );
            }
        }
        leaf => {
            if live != leaf {
                out.push(path.to_string());
            }
        }
    }
}

/// The first manager (other than the controller manager) recorded on the live object.
fn other_manager(live: &Value) -> String {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("manager").and_then(Value::as_str))
        .find(|m| *m != "kube-controller-manager")
        .unwrap_or("kubectl-client-side-apply")
        .to_string()
}

/// kube-apiserver's defaulting for the kinds the plugins write: pod templates (and Pods),
/// Deployments, and NetworkPolicies (`policyTypes`, port protocols). Applied to created and
/// patched objects alike, as the real server does.
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    let template_path = match kind {
        "Pod" => None,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        "NetworkPolicy" => {
            default_network_policy(obj);
            return;
        }
        _ => return,
    };
    if kind == "Deployment"
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.entry("replicas").or_insert(json!(1));
        spec.entry("strategy").or_insert(json!({
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}
        }));
        spec.entry("revisionHistoryLimit").or_insert(json!(10));
        spec.entry("progressDeadlineSeconds").or_insert(json!(600));
    }
    let pod_spec = match template_path {
        None => obj.get_mut("spec"),
        Some(path) => {
            let Some(template) = obj.pointer_mut(path).and_then(Value::as_object_mut) else {
                return;
            };
            if let Some(meta) = template
                .entry("metadata")
                .or_insert(json!({}))
                .as_object_mut()
            {
                meta.entry("creationTimestamp").or_insert(Value::Null);
            }
            template.get_mut("spec")
        }
    };
    let Some(spec) = pod_spec.and_then(Value::as_object_mut) else {
        return;
    };
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            default_container(c);
        }
    }
    if kind != "Job" && kind != "CronJob" {
        spec.entry("restartPolicy").or_insert(json!("Always"));
    }
    spec.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
}

fn default_container(container: &mut Value) {
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(c) = container.as_object_mut() else {
        return;
    };
    c.entry("resources").or_insert(json!({}));
    c.entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    c.entry("terminationMessagePolicy").or_insert(json!("File"));
    // `:latest` or no tag (and no digest) pulls Always, anything else IfNotPresent.
    let last = image.rsplit('/').next().unwrap_or_default();
    let always = !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"));
    c.entry("imagePullPolicy")
        .or_insert(json!(if always { "Always" } else { "IfNotPresent" }));
    for port in c
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(p) = port.as_object_mut() {
            p.entry("protocol").or_insert(json!("TCP"));
        }
    }
}

fn default_network_policy(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for direction in ["ingress", "egress"] {
        for rule in spec
            .get_mut(direction)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for port in rule
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(p) = port.as_object_mut() {
                    p.entry("protocol").or_insert(json!("TCP"));
                }
            }
        }
    }
    if !spec.contains_key("policyTypes") {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        let mut types = vec![json!("Ingress")];
        if has_egress {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

/// One field error of a 422 Invalid (`059`–`061`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

impl Cause {
    fn invalid(field: String, shown: &Value, why: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {shown}: {why}"),
            field,
        }
    }

    fn not_supported(field: String, shown: &Value, supported: &[&str]) -> Cause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {shown}: supported values: {}",
                list.join(", ")
            ),
            field,
        }
    }
}

/// The validation errors kube-apiserver reports for `obj` among those the recordings show:
/// NetworkPolicy ports and protocols, securityContext user ids and seccomp profile types.
pub fn validate(kind: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match kind {
        "NetworkPolicy" => {
            for direction in ["ingress", "egress"] {
                let rules = obj.pointer(&format!("/spec/{direction}"));
                for (r, rule) in rules
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let ports = rule.get("ports").and_then(Value::as_array);
                    for (p, port) in ports.into_iter().flatten().enumerate() {
                        let at = format!("spec.{direction}[{r}].ports[{p}]");
                        validate_network_policy_port(&at, port, &mut causes);
                    }
                }
            }
        }
        "Pod" => validate_pod_spec("spec", obj.get("spec"), &mut causes),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => validate_pod_spec(
            "spec.template.spec",
            obj.pointer("/spec/template/spec"),
            &mut causes,
        ),
        "CronJob" => validate_pod_spec(
            "spec.jobTemplate.spec.template.spec",
            obj.pointer("/spec/jobTemplate/spec/template/spec"),
            &mut causes,
        ),
        _ => {}
    }
    causes
}

fn validate_network_policy_port(at: &str, port: &Value, causes: &mut Vec<Cause>) {
    if let Some(proto) = port.get("protocol").and_then(Value::as_str)
        && !matches!(proto, "TCP" | "UDP" | "SCTP")
    {
        causes.push(Cause::not_supported(
            format!("{at}.protocol"),
            &json!(proto),
            &["TCP", "UDP", "SCTP"],
        ));
    }
    match port.get("port") {
        Some(Value::Number(n)) => {
            let ok = n.as_i64().is_some_and(|v| (1..=65535).contains(&v));
            if !ok {
                causes.push(Cause::invalid(
                    format!("{at}.port"),
                    &Value::Number(n.clone()),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        Some(Value::String(name)) => {
            let valid_chars = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid_chars {
                causes.push(Cause::invalid(
                    format!("{at}.port"),
                    &json!(name),
                    "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                ));
            }
        }
        _ => {}
    }
}

fn validate_pod_spec(at: &str, spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(spec) = spec else { return };
    validate_security_context(
        &format!("{at}.securityContext"),
        spec.get("securityContext"),
        causes,
    );
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let containers = spec.get(list).and_then(Value::as_array);
        for (i, c) in containers.into_iter().flatten().enumerate() {
            validate_security_context(
                &format!("{at}.{list}[{i}].securityContext"),
                c.get("securityContext"),
                causes,
            );
        }
    }
}

fn validate_security_context(at: &str, sc: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(sc) = sc else { return };
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        if let Some(v) = sc.get(field).and_then(Value::as_i64)
            && !(0..=2_147_483_647).contains(&v)
        {
            causes.push(Cause::invalid(
                format!("{at}.{field}"),
                &json!(v),
                "must be between 0 and 2147483647, inclusive",
            ));
        }
    }
    if let Some(t) = sc.pointer("/seccompProfile/type").and_then(Value::as_str)
        && !matches!(t, "Localhost" | "RuntimeDefault" | "Unconfined")
    {
        causes.push(Cause::not_supported(
            format!("{at}.seccompProfile.type"),
            &json!(t),
            &["Localhost", "RuntimeDefault", "Unconfined"],
        ));
    }
}

/// The 422 Status of `059`–`061`: `<Kind>.<group> "<name>" is invalid: <causes>` (one cause
/// bare, several in brackets), with NetworkPolicy reported under the `extensions` group as
/// v1.24 does.
pub fn invalid_status(kind: &str, group: &str, name: &str, causes: &[Cause]) -> Value {
    let group = if kind == "NetworkPolicy" {
        "extensions"
    } else {
        group
    };
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let texts: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let joined = match texts.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(kind));
    details.insert(
        "causes".into(),
        Value::Array(
            causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        ),
    );
    let mut body = recordings::body("059").clone();
    body["message"] = json!(format!("{qualified} \"{name}\" is invalid: {joined}"));
    body["details"] = Value::Object(details);
    body
}

/// The recorded write this request repeats exactly, if any.
pub fn recorded_write(
    method: &str,
    path: &str,
    params: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
) -> Option<&'static Recording> {
    if matches!(method, "GET" | "HEAD") {
        return None;
    }
    let sent: Value = serde_json::from_slice(body).ok()?;
    let base_type = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim);
    recordings::all().iter().find(|r| {
        r.method == method
            && r.path == path
            && r.request_headers.get("content-type").map(String::as_str) == base_type
            && r.request_body == sent
            && r.query.len() == params.len()
            && params.iter().all(|(k, v)| r.query.get(k) == Some(v))
    })
}

/// The managedFields entry a write by `manager` leaves: the fields its body sets, in
/// FieldsV1 form (`f:<field>`, `k:{<key>}` for keyed list elements, `.` for list elements and
/// string maps). Empty maps own no field (as `094` shows for `podSelector: {}`).
pub fn managed_fields_entry(manager: &str, api_version: &str, time: &str, set: &Value) -> Value {
    let mut fields = Map::new();
    for (k, v) in set.as_object().into_iter().flatten() {
        if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
            continue;
        }
        if k == "metadata" {
            let mut meta = Map::new();
            for (mk, mv) in v.as_object().into_iter().flatten() {
                if matches!(mk.as_str(), "labels" | "annotations")
                    && let Some(owned) = fields_v1(mk, mv, true)
                {
                    meta.insert(format!("f:{mk}"), owned);
                }
            }
            if !meta.is_empty() {
                fields.insert("f:metadata".into(), Value::Object(meta));
            }
            continue;
        }
        if let Some(owned) = fields_v1(k, v, false) {
            fields.insert(format!("f:{k}"), owned);
        }
    }
    json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": Value::Object(fields),
    })
}

fn fields_v1(field: &str, value: &Value, dotted: bool) -> Option<Value> {
    match value {
        Value::Object(m) if m.is_empty() => None,
        Value::Object(m) => {
            let mut out = Map::new();
            if dotted {
                out.insert(".".into(), json!({}));
            }
            let string_map = matches!(
                field,
                "labels" | "annotations" | "matchLabels" | "nodeSelector" | "data"
            );
            for (k, v) in m {
                if let Some(child) = fields_v1(k, v, string_map) {
                    out.insert(format!("f:{k}"), child);
                } else if string_map || !v.is_object() {
                    out.insert(format!("f:{k}"), json!({}));
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let Some(key) = items.first().and_then(|f| merge_key(field, f)) else {
                return Some(json!({}));
            };
            let mut out = Map::new();
            for item in items {
                let Some(id) = item.get(key) else { continue };
                let mut element = fields_v1(field, item, true)
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default();
                element.insert(".".into(), json!({}));
                out.insert(format!("k:{}", json!({ key: id })), Value::Object(element));
            }
            Some(Value::Object(out))
        }
        _ => Some(json!({})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_frontend() -> Value {
        recordings::body("018")["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i.pointer("/metadata/name") == Some(&json!("frontend")))
            })
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[test]
    fn strategic_merge_reproduces_the_recorded_dry_run_result() {
        // 079: the same patch the real server applied; compare the pod template it returned.
        let rec = recordings::get("079");
        let patch = serde_json::to_vec(&rec.request_body).unwrap_or_default();
        let after = apply_patch(&live_frontend(), PatchType::Strategic, &patch, false);
        let after = after.unwrap_or(Value::Null);
        assert_eq!(
            after.pointer("/spec/template/spec"),
            rec.body.pointer("/spec/template/spec"),
        );
    }

    #[test]
    fn strategic_merge_deletes_with_null_and_patch_directive() {
        let mut obj = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}],
            "hostPID": true}});
        strategic_merge(
            &mut obj,
            &json!({"spec": {"hostPID": null, "containers": [{"name": "b", "$patch": "delete"},
                {"name": "a", "image": "y"}]}}),
        );
        assert_eq!(
            obj,
            json!({"spec": {"containers": [{"name": "a", "image": "y"}]}})
        );
    }

    #[test]
    fn defaulting_reproduces_the_recorded_created_deployment() {
        let rec = recordings::get("093");
        let mut obj = rec.request_body.clone();
        apply_defaults("Deployment", &mut obj);
        assert_eq!(obj.get("spec"), rec.body.get("spec"));
    }

    #[test]
    fn network_policy_types_default_from_the_rules() {
        let mut obj = json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        apply_defaults("NetworkPolicy", &mut obj);
        assert_eq!(obj["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(
            obj["spec"]["egress"][0]["ports"][0]["protocol"],
            json!("TCP")
        );
        let mut only_ingress = json!({"spec": {"podSelector": {}}});
        apply_defaults("NetworkPolicy", &mut only_ingress);
        assert_eq!(only_ingress["spec"]["policyTypes"], json!(["Ingress"]));
    }

    #[test]
    fn json_patch_failures_are_the_bare_422() {
        let rec = recordings::get("083");
        let patch = serde_json::to_vec(&rec.request_body).unwrap_or_default();
        let live = json!({"spec": {"template": {"spec": {"containers": [{"image": "other"}]}}}});
        assert_eq!(
            apply_patch(&live, PatchType::Json, &patch, false),
            Err(PatchFailure::Rejected)
        );
    }

    #[test]
    fn validation_messages_match_the_recordings() {
        for number in ["059", "060", "061"] {
            let rec = recordings::get(number);
            let kind = rec.request_body["kind"].as_str().unwrap_or_default();
            let name = rec.request_body["metadata"]["name"]
                .as_str()
                .unwrap_or_default();
            let group = if kind == "Deployment" {
                "apps"
            } else {
                "networking.k8s.io"
            };
            let causes = validate(kind, &rec.request_body);
            assert_eq!(
                invalid_status(kind, group, name, &causes),
                rec.body,
                "recording {number}"
            );
        }
    }

    #[test]
    fn apply_without_force_reports_changed_fields_as_conflicts() {
        let rec = recordings::get("085");
        let checkout = recordings::body("018")["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i.pointer("/metadata/name") == Some(&json!("checkout")))
            })
            .cloned()
            .unwrap_or(Value::Null);
        let patch = serde_json::to_vec(&rec.request_body).unwrap_or_default();
        match apply_patch(&checkout, PatchType::Apply, &patch, false) {
            Err(PatchFailure::Conflicts { manager, fields }) => {
                assert_eq!(manager, "kubectl-client-side-apply");
                assert!(
                    fields.contains(
                        &".spec.template.spec.containers[name=\"checkout\"].image".to_string()
                    ),
                    "{fields:?}"
                );
            }
            other => panic!("expected conflicts, got {other:?}"),
        }
        assert!(apply_patch(&checkout, PatchType::Apply, &patch, true).is_ok());
    }

    #[test]
    fn managed_fields_of_a_create_match_094() {
        let rec = recordings::get("094");
        let entry = managed_fields_entry(
            "kubectl-netpol-scaffold",
            "networking.k8s.io/v1",
            "2026-11-22T15:12:01Z",
            &rec.request_body,
        );
        assert_eq!(Some(&entry), rec.body.pointer("/metadata/managedFields/0"));
    }
}
