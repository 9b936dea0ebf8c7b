//! Changes to live objects, made safely: each change is previewed (a server dry run returns the
//! real result and the admission warnings, such as PodSecurity's), shown as a diff, confirmed,
//! then sent. Patches are RFC 6902 JSON patches that carry only the fields they change, guarded
//! by `test` operations, so a concurrent edit makes the write fail instead of being overwritten
//! (never read-modify-write of whole typed objects, which would drop fields our k8s-openapi
//! version does not know).

use std::io::Write;

use json_patch::{
    AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation, TestOperation,
};
use serde_json::{Map, Value};

use crate::cli::{DryRun, WriteArgs};
use crate::cluster::{Cluster, describe_kube_error};
use crate::error::{Error, Result};
use crate::finding::ObjectRef;
use crate::inventory::ResourceKind;
use crate::preview::{confirm, unified_diff};
use crate::render::Styles;

/// What to do to one object.
#[derive(Debug, Clone)]
pub enum Action {
    /// Apply this JSON patch (see [`PatchBuilder`]).
    Patch(Patch),
    /// Apply this JSON merge patch (RFC 7386): for map-only changes such as labels, where a
    /// guard is not needed (`{"metadata":{"labels":{…}}}`).
    MergePatch(Value),
    /// Create this object (with apiVersion, kind and metadata).
    Create(Value),
    /// Delete the object.
    Delete,
}

/// One planned change to a live object, with why it is made.
#[derive(Debug, Clone)]
pub struct LiveChange {
    pub target: ObjectRef,
    pub action: Action,
    /// One line shown above the diff ("harden: drop all capabilities").
    pub reason: String,
}

/// A change and its effect: the object before and after (`None` = absent), and the warnings
/// the API server returned for the dry run.
#[derive(Debug, Clone)]
pub struct Previewed {
    pub change: LiveChange,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub warnings: Vec<String>,
}

impl Previewed {
    /// Whether applying would change nothing a user sees.
    pub fn is_noop(&self) -> bool {
        self.before.as_ref().map(comparable) == self.after.as_ref().map(comparable)
    }

    /// The YAML diff of before → after (server-managed metadata and status left out).
    pub fn diff(&self, styles: Styles) -> String {
        let text = |v: &Option<Value>| match v {
            Some(v) => serde_yaml_ng::to_string(&comparable(v)).unwrap_or_default(),
            None => String::new(),
        };
        let label = display_ref(&self.change.target);
        unified_diff(
            &text(&self.before),
            &text(&self.after),
            &format!("{label} (live)"),
            &format!("{label} (planned)"),
            styles,
        )
    }
}

/// `deployment.apps/frontend -n shop`, as kubectl names objects.
pub fn display_ref(target: &ObjectRef) -> String {
    let group = target.api_version.split_once('/').map(|(g, _)| g);
    let kind = target.kind.to_ascii_lowercase();
    let qualified = match group {
        Some(g) => format!("{kind}.{g}"),
        None => kind,
    };
    match &target.namespace {
        Some(ns) => format!("{qualified}/{} -n {ns}", target.name),
        None => format!("{qualified}/{}", target.name),
    }
}

/// The object without what the server maintains (so diffs show only intended changes).
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(field);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    v
}

/// Builds a JSON patch against the live object that sets or removes single fields, creating
/// missing parents and guarding every touched value (and every list element addressed by
/// index, by its `name`) with a `test`.
pub struct PatchBuilder<'a> {
    live: &'a Value,
    ops: Vec<PatchOperation>,
}

impl<'a> PatchBuilder<'a> {
    pub fn new(live: &'a Value) -> Self {
        PatchBuilder {
            live,
            ops: Vec::new(),
        }
    }

    /// Sets the field at `pointer` (`/spec/template/spec/securityContext/runAsNonRoot`) to
    /// `value`; nothing when it already has that value.
    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        let segments: Vec<&str> = pointer.split('/').skip(1).collect();
        // The deepest existing ancestor: add the missing rest as one nested value there.
        let mut existing = 0;
        let mut node = self.live;
        for seg in &segments {
            match child(node, seg) {
                Some(next) => {
                    node = next;
                    existing += 1;
                }
                None => break,
            }
        }
        if existing == segments.len() {
            if *node == value {
                return self;
            }
            self.guard_indices(&segments);
            self.push_test(pointer, node.clone());
            self.ops.push(PatchOperation::Replace(ReplaceOperation {
                path: pointer_of(&segments),
                value,
            }));
            return self;
        }
        let mut nested = value;
        for seg in segments[existing + 1..].iter().rev() {
            let mut m = Map::new();
            m.insert(unescape(seg), nested);
            nested = Value::Object(m);
        }
        self.guard_indices(&segments[..existing]);
        self.ops.push(PatchOperation::Add(AddOperation {
            path: pointer_of(&segments[..=existing]),
            value: nested,
        }));
        self
    }

    /// Removes the field at `pointer` if present (guarded by a test of its value).
    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        let segments: Vec<&str> = pointer.split('/').skip(1).collect();
        if let Some(current) = self.live.pointer(pointer) {
            self.guard_indices(&segments);
            self.push_test(pointer, current.clone());
            self.ops.push(PatchOperation::Remove(RemoveOperation {
                path: pointer_of(&segments),
            }));
        }
        self
    }

    /// The patch (empty when nothing changes).
    pub fn build(&self) -> Patch {
        Patch(self.ops.clone())
    }

    /// For each list index on the way (`containers/0`), test that element's `name`, so the
    /// patch cannot land on a different container if the list changed meanwhile.
    fn guard_indices(&mut self, segments: &[&str]) {
        let mut node = self.live;
        for (i, seg) in segments.iter().enumerate() {
            let Some(next) = child(node, seg) else { return };
            if node.is_array()
                && let Some(name) = next.get("name")
            {
                let path = format!("{}/name", pointer_of(&segments[..=i]));
                self.push_test(&path, name.clone());
            }
            node = next;
        }
    }

    fn push_test(&mut self, pointer: &str, value: Value) {
        let already = self.ops.iter().any(|op| match op {
            PatchOperation::Test(t) => t.path.as_str() == pointer,
            _ => false,
        });
        if !already && let Ok(path) = pointer.parse() {
            self.ops
                .push(PatchOperation::Test(TestOperation { path, value }));
        }
    }
}

fn child<'v>(node: &'v Value, segment: &str) -> Option<&'v Value> {
    match node {
        Value::Object(m) => m.get(&unescape(segment)),
        Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn pointer_of(segments: &[&str]) -> json_patch::jsonptr::PointerBuf {
    let text: String = segments.iter().map(|s| format!("/{s}")).collect();
    text.parse().unwrap_or_default()
}

/// Sends changes to one cluster under one field manager.
pub struct LiveWriter<'a> {
    cluster: &'a Cluster,
    field_manager: &'a str,
}

impl<'a> LiveWriter<'a> {
    /// `field_manager` names the plugin in the objects' managedFields (`kubectl-harden`).
    pub fn new(cluster: &'a Cluster, field_manager: &'a str) -> Self {
        LiveWriter {
            cluster,
            field_manager,
        }
    }

    /// The change's effect: the live object, and the result computed locally (`client`) or by
    /// the API server with dryRun=All (`server`, and `none`, which previews the same way
    /// before asking).
    pub async fn preview(&self, change: LiveChange, mode: DryRun) -> Result<Previewed> {
        let target = &change.target;
        let before = match change.action {
            Action::Create(_) => None,
            _ => Some(self.send(target, "GET", None, None, false).await?.0),
        };
        let (after, warnings) = match (&change.action, mode) {
            (Action::Patch(patch), DryRun::Client) => {
                let mut after = before.clone().unwrap_or(Value::Null);
                json_patch::patch(&mut after, patch).map_err(|e| Error::Write {
                    object: display_ref(target),
                    message: format!("the patch does not apply to the live object: {e}"),
                })?;
                (Some(after), Vec::new())
            }
            (Action::MergePatch(patch), DryRun::Client) => {
                let mut after = before.clone().unwrap_or(Value::Null);
                json_patch::merge(&mut after, patch);
                (Some(after), Vec::new())
            }
            (Action::Create(obj), DryRun::Client) => (Some(obj.clone()), Vec::new()),
            (Action::Delete, DryRun::Client) => (None, Vec::new()),
            (action, _) => {
                let (after, warnings) = self.write(target, action, true).await?;
                let after = (!matches!(action, Action::Delete)).then_some(after);
                (after, warnings)
            }
        };
        Ok(Previewed {
            change,
            before,
            after,
            warnings,
        })
    }

    /// Sends the change for real; returns the API server's warnings.
    pub async fn commit(&self, previewed: &Previewed) -> Result<Vec<String>> {
        let (_, warnings) = self
            .write(&previewed.change.target, &previewed.change.action, false)
            .await?;
        Ok(warnings)
    }

    async fn write(
        &self,
        target: &ObjectRef,
        action: &Action,
        dry_run: bool,
    ) -> Result<(Value, Vec<String>)> {
        match action {
            Action::Patch(patch) => {
                let body = serde_json::to_vec(patch).unwrap_or_default();
                self.send(
                    target,
                    "PATCH",
                    Some(("application/json-patch+json", body)),
                    None,
                    dry_run,
                )
                .await
            }
            Action::MergePatch(patch) => {
                let body = serde_json::to_vec(patch).unwrap_or_default();
                self.send(
                    target,
                    "PATCH",
                    Some(("application/merge-patch+json", body)),
                    None,
                    dry_run,
                )
                .await
            }
            Action::Create(obj) => {
                let body = serde_json::to_vec(obj).unwrap_or_default();
                self.send(
                    target,
                    "POST",
                    Some(("application/json", body)),
                    Some(()),
                    dry_run,
                )
                .await
            }
            Action::Delete => {
                let body = br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#;
                self.send(
                    target,
                    "DELETE",
                    Some(("application/json", body.to_vec())),
                    None,
                    dry_run,
                )
                .await
            }
        }
    }

    /// One request; `collection` = to the collection (create) rather than the object.
    async fn send(
        &self,
        target: &ObjectRef,
        method: &str,
        body: Option<(&str, Vec<u8>)>,
        collection: Option<()>,
        dry_run: bool,
    ) -> Result<(Value, Vec<String>)> {
        let object = display_ref(target);
        let mut path = resource_path(target).ok_or_else(|| Error::Write {
            object: object.clone(),
            message: format!(
                "kind {} {} is not one the suite writes",
                target.api_version, target.kind
            ),
        })?;
        if collection.is_none() {
            path.push('/');
            path.push_str(&target.name);
        }
        let mut query = Vec::new();
        if method != "GET" {
            if dry_run {
                query.push("dryRun=All".to_string());
            }
            if method != "DELETE" {
                query.push(format!("fieldManager={}", self.field_manager));
            }
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::ACCEPT, "application/json");
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Vec::new(),
        };
        let request = request
            .body(kube::client::Body::from(bytes))
            .map_err(|e| Error::Write {
                object: object.clone(),
                message: e.to_string(),
            })?;
        let cluster_error = |e: kube::Error| Error::Cluster {
            server: self.cluster.server.clone(),
            message: describe_kube_error(&e),
        };
        let response = self
            .cluster
            .client
            .send(request)
            .await
            .map_err(cluster_error)?;
        let status = response.status();
        let warnings: Vec<String> = response
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(warning_text)
            .collect();
        let bytes = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(cluster_error)?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok((value, warnings));
        }
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        let reason = value
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("Failure");
        let message = format!(
            "{reason} ({}): {}",
            status.as_u16(),
            message.replace('\n', " ")
        );
        if matches!(status.as_u16(), 401) {
            return Err(Error::Cluster {
                server: self.cluster.server.clone(),
                message,
            });
        }
        Err(Error::Write { object, message })
    }
}

/// `/apis/apps/v1/namespaces/shop/deployments` for a target (its collection).
fn resource_path(target: &ObjectRef) -> Option<String> {
    let kind = ResourceKind::from_type(&target.api_version, &target.kind)?;
    let base = if target.api_version.contains('/') {
        format!("/apis/{}", target.api_version)
    } else {
        format!("/api/{}", target.api_version)
    };
    Some(match (&target.namespace, kind.namespaced()) {
        (Some(ns), true) => format!("{base}/namespaces/{ns}/{}", kind.plural()),
        _ => format!("{base}/{}", kind.plural()),
    })
}

/// The text of a `Warning` header (`299 - "text"`), unquoted.
fn warning_text(header: &str) -> String {
    let rest = header.splitn(3, ' ').nth(2).unwrap_or(header).trim();
    match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => rest.to_string(),
    }
}

/// What a batch of changes did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// Changes with an effect (shown as diffs).
    pub changed: usize,
    /// Changes that would change nothing (already in the planned state).
    pub unchanged: usize,
    /// Changes sent for real (0 on a dry run or when declined).
    pub applied: Vec<ObjectRef>,
    /// Every warning the API server returned (dry runs and writes).
    pub warnings: Vec<String>,
}

/// The whole write flow for a batch, in order: preview every change, print the diffs and the
/// server's warnings to `out`, stop there on `--dry-run`, ask once (or `--yes`), then send
/// each change. A failure stops the batch; the error says which changes were already applied.
pub async fn apply_all(
    writer: &LiveWriter<'_>,
    changes: Vec<LiveChange>,
    args: &WriteArgs,
    out: &mut dyn Write,
    styles: Styles,
) -> Result<ApplyOutcome> {
    let mut outcome = ApplyOutcome::default();
    let mut planned = Vec::new();
    for change in changes {
        let p = writer.preview(change, args.dry_run).await?;
        if p.is_noop() {
            outcome.unchanged += 1;
            continue;
        }
        writeln!(
            out,
            "# {}: {}",
            display_ref(&p.change.target),
            p.change.reason
        )?;
        write!(out, "{}", p.diff(styles))?;
        for w in &p.warnings {
            writeln!(
                out,
                "{} {w}",
                styles.paint("Warning:", owo_colors::Style::new().yellow())
            )?;
        }
        outcome.warnings.extend(p.warnings.iter().cloned());
        planned.push(p);
    }
    outcome.changed = planned.len();
    let mode = match args.dry_run {
        DryRun::Client => Some("client"),
        DryRun::Server => Some("server"),
        DryRun::None => None,
    };
    if planned.is_empty() {
        writeln!(
            out,
            "nothing to change ({} already as planned)",
            outcome.unchanged
        )?;
        return Ok(outcome);
    }
    if let Some(mode) = mode {
        writeln!(
            out,
            "{} change(s) previewed (dry run: {mode}); nothing written",
            planned.len()
        )?;
        return Ok(outcome);
    }
    out.flush()?;
    if !confirm(&format!("Apply {} change(s)?", planned.len()), args.yes)? {
        return Err(Error::NotConfirmed("not writing: declined".to_string()));
    }
    for p in &planned {
        match writer.commit(p).await {
            Ok(warnings) => {
                writeln!(
                    out,
                    "{} {}",
                    display_ref(&p.change.target),
                    applied_verb(&p.change.action)
                )?;
                for w in &warnings {
                    writeln!(
                        out,
                        "{} {w}",
                        styles.paint("Warning:", owo_colors::Style::new().yellow())
                    )?;
                }
                outcome.warnings.extend(warnings);
                outcome.applied.push(p.change.target.clone());
            }
            Err(Error::Write { object, message }) if !outcome.applied.is_empty() => {
                let done: Vec<String> = outcome.applied.iter().map(display_ref).collect();
                return Err(Error::Write {
                    object,
                    message: format!("{message}; already applied: {}", done.join(", ")),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

fn applied_verb(action: &Action) -> &'static str {
    match action {
        Action::Patch(_) | Action::MergePatch(_) => "patched",
        Action::Create(_) => "created",
        Action::Delete => "deleted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(live: &Value, patch: &Patch) -> Value {
        let mut v = live.clone();
        json_patch::patch(&mut v, patch).expect("patch applies");
        v
    }

    #[test]
    fn set_creates_missing_parents_and_guards_list_elements() {
        let live = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
        let mut b = PatchBuilder::new(&live);
        b.set(
            "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
            json!(false),
        );
        b.set(
            "/spec/template/spec/containers/0/image",
            json!("nginx:1.27"),
        );
        let patch = b.build();
        let text = serde_json::to_string(&patch).unwrap_or_default();
        assert!(
            text.contains(
                r#"{"op":"test","path":"/spec/template/spec/containers/0/name","value":"nginx"}"#
            ),
            "{text}"
        );
        assert_eq!(
            applied(&live, &patch),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                "securityContext": {"allowPrivilegeEscalation": false}}]}}}})
        );
    }

    #[test]
    fn a_concurrent_change_makes_the_patch_fail() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let patch = PatchBuilder::new(&live)
            .set("/spec/containers/0/image", json!("y"))
            .build();
        let moved = json!({"spec": {"containers": [{"name": "b", "image": "x"}]}});
        let mut v = moved.clone();
        assert!(json_patch::patch(&mut v, &patch).is_err());
        let changed = json!({"spec": {"containers": [{"name": "a", "image": "z"}]}});
        let mut v = changed.clone();
        assert!(json_patch::patch(&mut v, &patch).is_err());
    }

    #[test]
    fn setting_the_current_value_is_no_operation() {
        let live = json!({"spec": {"hostPID": false}});
        assert!(
            PatchBuilder::new(&live)
                .set("/spec/hostPID", json!(false))
                .build()
                .0
                .is_empty()
        );
        let removed = PatchBuilder::new(&live)
            .remove("/spec/hostPID")
            .remove("/spec/absent")
            .build();
        assert_eq!(applied(&live, &removed), json!({"spec": {}}));
    }

    #[test]
    fn warning_headers_are_unquoted() {
        assert_eq!(
            warning_text(r#"299 - "would violate PodSecurity \"restricted:latest\": x""#),
            r#"would violate PodSecurity "restricted:latest": x"#
        );
    }

    #[test]
    fn resource_paths_follow_the_api_layout() {
        let dep = ObjectRef::new("apps/v1", "Deployment", Some("shop"), "frontend");
        assert_eq!(
            resource_path(&dep).as_deref(),
            Some("/apis/apps/v1/namespaces/shop/deployments")
        );
        let ns = ObjectRef::new("v1", "Namespace", None, "shop");
        assert_eq!(resource_path(&ns).as_deref(), Some("/api/v1/namespaces"));
        assert_eq!(display_ref(&dep), "deployment.apps/frontend -n shop");
    }
}
