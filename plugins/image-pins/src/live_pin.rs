//! `pin` for live controllers: the image fields of each controller's pod template (never of
//! its pods) become `name:tag@sha256:…`, sent as guarded JSON patches (a `test` of the old
//! image and of the container's name, then a `replace`) through the shared write path.
//!
//! What is pinned, and why the others are not:
//! - Deployments, StatefulSets, DaemonSets, CronJobs, ReplicationControllers, and ReplicaSets
//!   or Jobs no controller owns: their templates are mutable; the controller rolls the change
//!   out (CronJobs: from the next Job they start).
//! - Jobs are skipped: a Job's `spec.template` is immutable (the API server refuses the patch);
//!   pin the CronJob or the manifest that creates them.
//! - Bare Pods are skipped: their `image` fields are mutable, but changing one restarts the
//!   container in place and nothing recreates the Pod from the pinned spec; pin the manifest.
//! - Objects owned by a controller (a Deployment's ReplicaSet): the owner would revert them.
//! - Ephemeral containers (`kubectl debug`) cannot be changed once added.

use std::collections::{BTreeMap, HashMap};

use crate::scan::ImageUse;
use guardrails::apply::{Action, LiveChange, PatchBuilder};
use guardrails::error::Result;
use guardrails::finding::ObjectRef;
use guardrails::inventory::Inventory;
use guardrails::workload::{ContainerList, Workload, pod_spec_path};
use serde_json::{Map, Value, json};

/// One image field to rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEdit {
    pub container: String,
    /// `/spec/template/spec/containers/0/image`
    pub pointer: String,
    pub from: String,
    pub to: String,
}

/// The live plan: one guarded patch per controller, and what was left alone (with why).
#[derive(Debug, Default)]
pub struct LivePlan {
    pub changes: Vec<LiveChange>,
    pub edits: BTreeMap<ObjectRef, Vec<ImageEdit>>,
    pub skipped: Vec<(ObjectRef, &'static str)>,
}

/// Why a workload's template cannot be pinned live; `None` when it can.
fn not_pinnable(w: &Workload<'_>) -> Option<&'static str> {
    let owned = w
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true));
    if owned {
        return Some("owned by a controller that would revert the change; pin its owner");
    }
    match w.object.kind.as_str() {
        "Pod" => Some(
            "a bare Pod: changing its image restarts the container in place and nothing recreates the Pod from the pinned spec; pin the manifest that creates it",
        ),
        "Job" => Some(
            "a Job's pod template is immutable; pin the CronJob or the manifest that creates it",
        ),
        _ => None,
    }
}

/// Plans the patches. `uses` are the image uses in scope; `pins` maps a normalised reference
/// to its pinned spelling (from the resolution).
pub fn plan(
    inventory: &Inventory,
    uses: &[ImageUse],
    pins: &HashMap<String, String>,
) -> Result<LivePlan> {
    let mut by_workload: BTreeMap<ObjectRef, Vec<&ImageUse>> = BTreeMap::new();
    for u in uses {
        by_workload.entry(u.workload.clone()).or_default().push(u);
    }
    let mut plan = LivePlan::default();
    for w in inventory.pending_workloads() {
        let Some(uses) = by_workload.get(&w.object) else {
            continue;
        };
        let Some(spec_path) = pod_spec_path(&w.object.kind) else {
            continue;
        };
        let edits: Vec<ImageEdit> = uses
            .iter()
            .filter(|u| u.list != ContainerList::EphemeralContainers)
            .filter_map(|u| {
                let written = u.image.as_deref()?;
                let image = crate::image::ImageRef::parse(written).ok()?;
                if !image.is_mutable() {
                    return None;
                }
                let pinned = pins.get(&image.normalized())?;
                (pinned != written).then(|| ImageEdit {
                    container: u.container.clone(),
                    pointer: format!(
                        "/{}/{}/{}/image",
                        spec_path.join("/"),
                        u.list.field(),
                        u.index
                    ),
                    from: written.to_string(),
                    to: pinned.clone(),
                })
            })
            .collect();
        if edits.is_empty() {
            continue;
        }
        let w = w.resolve(inventory)?;
        if let Some(why) = not_pinnable(&w) {
            plan.skipped.push((w.object.clone(), why));
            continue;
        }
        // The patch is built against the pod spec as listed: if the object changed since, the
        // `test`s fail and nothing is overwritten.
        let live = nest(
            spec_path,
            serde_json::to_value(&w.pod_spec).unwrap_or(Value::Null),
        );
        let mut builder = PatchBuilder::new(&live);
        for e in &edits {
            builder.set(&e.pointer, json!(e.to));
        }
        let after = match w.object.kind.as_str() {
            "CronJob" => "the next Jobs it starts use the digests",
            "ReplicaSet" | "ReplicationController" => {
                "pods created from now on use the digests; running pods keep theirs"
            }
            _ => "a rollout follows",
        };
        plan.changes.push(LiveChange {
            target: w.object.clone(),
            action: Action::Patch(builder.build()),
            reason: format!("pin {} image(s) to digests ({after})", edits.len()),
        });
        plan.edits.insert(w.object.clone(), edits);
    }
    Ok(plan)
}

/// `{"spec": {"template": {"spec": value}}}` for the path `spec.template.spec`.
fn nest(path: &[&str], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, key| {
        let mut m = Map::new();
        m.insert((*key).to_string(), inner);
        Value::Object(m)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails::cluster::NamespaceScope;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    fn inventory(text: &str) -> Inventory {
        Inventory::from_text("t.yaml", text, crate::KINDS).expect("parse")
    }

    #[test]
    fn patches_guard_name_and_image_and_skip_what_cannot_change() {
        let inv = inventory(
            "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: [{name: init, image: busybox}]
      containers:
      - {name: web, image: nginx:1.27}
      - {name: side, image: \"nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000002\"}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: shop}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: nginx:1.27}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: shop}
spec: {containers: [{name: c, image: nginx:1.27}]}
",
        );
        let uses = crate::scan::image_uses(&inv, &NamespaceScope::All, None).expect("uses");
        let pins: HashMap<String, String> = [
            ("docker.io/library/nginx:1.27", format!("nginx:1.27@{D}")),
            (
                "docker.io/library/busybox:latest",
                format!("busybox:latest@{D}"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let plan = plan(&inv, &uses, &pins).expect("plan");
        assert_eq!(plan.changes.len(), 1);
        let web = ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web");
        assert_eq!(plan.changes[0].target, web);
        let Action::Patch(patch) = &plan.changes[0].action else {
            panic!("a JSON patch")
        };
        let ops = serde_json::to_value(patch).expect("json");
        assert_eq!(
            ops,
            json!([
                {"op": "test", "path": "/spec/template/spec/initContainers/0/name", "value": "init"},
                {"op": "test", "path": "/spec/template/spec/initContainers/0/image", "value": "busybox"},
                {"op": "replace", "path": "/spec/template/spec/initContainers/0/image", "value": format!("busybox:latest@{D}")},
                {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"},
                {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27"},
                {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": format!("nginx:1.27@{D}")},
            ])
        );
        assert!(plan.changes[0].reason.contains("a rollout follows"));
        let skipped: Vec<&str> = plan.skipped.iter().map(|(o, _)| o.kind.as_str()).collect();
        assert_eq!(skipped, ["Job", "Pod"]);
    }
}
