//! Uniform pod-spec access across every workload kind, and controller ownership, so a finding
//! about what a Pod runs lands once on the controller that created it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::finding::ObjectRef;
use crate::inventory::{Inventory, ResourceKind, invalid_object, object_ref};

/// A pod-creating object: a controller, or a Pod that no known controller owns. Its pod spec
/// is decoded (`Spec` = `Cow<PodSpec>`), or, for a [`PendingWorkload`], possibly still text.
#[derive(Debug, Clone)]
pub struct Workload<'a, Spec = Cow<'a, PodSpec>> {
    pub object: ObjectRef,
    pub metadata: &'a ObjectMeta,
    /// Labels of the pods it creates (the template's; a Pod's own).
    pub pod_labels: Option<&'a BTreeMap<String, String>>,
    /// Metadata of the pods it creates (the template's; a Pod's own): annotations that
    /// admission reads, e.g. AppArmor and seccomp.
    pub pod_metadata: Option<&'a ObjectMeta>,
    pub pod_spec: Spec,
    /// How many pods belong to it (through ReplicaSets and Jobs; the Pod itself for a Pod).
    pub pod_count: usize,
    /// Ephemeral containers (`kubectl debug`) added to its controller-owned pods: they run
    /// under the workload but are in no template. (A Pod's own are in its spec.)
    pub added_ephemeral_containers: Vec<&'a k8s_openapi::api::core::v1::EphemeralContainer>,
    /// The nodes of those pods (live; unscheduled pods have none).
    nodes: Vec<&'a str>,
    /// The pods themselves (their own labels, node and IP; the spec is `pod_spec`).
    pub pods: Vec<PodInstance<'a>>,
}

/// One existing pod of a workload: what differs between the pods of one template.
#[derive(Debug, Clone, Copy)]
pub struct PodInstance<'a> {
    pub name: &'a str,
    pub labels: PodLabels<'a>,
    pub node_name: Option<&'a str>,
    pub pod_ip: Option<&'a str>,
    /// The digests its containers actually run (live).
    pub image_ids: ImageIds<'a>,
}

/// (container name, `imageID`) of each container and init container of a pod that has
/// started, init containers first: what a moved tag can make differ between pods.
#[derive(Debug, Clone, Copy)]
pub enum ImageIds<'a> {
    /// A controller-owned pod's, kept when it was read (see `OwnedPod::image_ids`).
    Pairs(&'a [(String, String)]),
    /// A bare Pod's status.
    Status(Option<&'a PodStatus>),
}

impl<'a> ImageIds<'a> {
    pub fn iter(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let (pairs, status) = match self {
            ImageIds::Pairs(pairs) => (pairs, None),
            ImageIds::Status(status) => (&[][..], status),
        };
        let started = status.into_iter().flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
                .filter(|c| !c.image_id.is_empty())
                .map(|c| (c.name.as_str(), c.image_id.as_str()))
        });
        pairs
            .iter()
            .map(|(name, id)| (name.as_str(), id.as_str()))
            .chain(started)
    }
}

/// A pod's own labels: a bare Pod's map, or a controller-owned pod's sorted pairs.
#[derive(Debug, Clone, Copy)]
pub enum PodLabels<'a> {
    Map(Option<&'a BTreeMap<String, String>>),
    Pairs(&'a [(String, String)]),
}

impl PodLabels<'_> {
    pub fn to_map(self) -> BTreeMap<String, String> {
        match self {
            PodLabels::Map(map) => map.cloned().unwrap_or_default(),
            PodLabels::Pairs(pairs) => pairs.iter().cloned().collect(),
        }
    }
}

/// A workload as the inventory holds it, before its pod spec is decoded: the spec of a
/// template read from a JSON manifest is still text (see `Inventory::spec_texts`), so that an
/// analysis can decode one workload's spec at a time ([`PendingWorkload::resolve`]).
pub type PendingWorkload<'a> = Workload<'a, PendingSpec<'a>>;

/// A pod spec as the inventory holds it.
#[derive(Debug, Clone, Copy)]
pub enum PendingSpec<'a> {
    Decoded(&'a PodSpec),
    Text(&'a RawValue),
}

impl<Spec> Workload<'_, Spec> {
    pub fn namespace(&self) -> &str {
        self.object.namespace.as_deref().unwrap_or("default")
    }

    /// Nodes its pods run on (live mode; empty offline or while Pending).
    pub fn node_names(&self) -> Vec<&str> {
        let mut nodes = self.nodes.clone();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }
}

impl Workload<'_> {
    /// The ServiceAccount its pods run as (`default` when unset).
    /// (`serviceAccount` is the deprecated spelling the API server still honours.)
    pub fn service_account_name(&self) -> &str {
        let spec = &self.pod_spec;
        [&spec.service_account_name, &spec.service_account]
            .into_iter()
            .find_map(|name| name.as_deref().filter(|s| !s.is_empty()))
            .unwrap_or("default")
    }
}

impl<'a> PendingWorkload<'a> {
    /// The workload with its pod spec decoded. A spec that does not decode is an input error
    /// naming the file and line of its object, as when the file was read.
    pub fn resolve(self, inventory: &Inventory) -> Result<Workload<'a>> {
        let pod_spec = match self.pod_spec {
            PendingSpec::Decoded(spec) => Cow::Borrowed(spec),
            PendingSpec::Text(text) => match serde_json::from_str(text.get()) {
                Ok(spec) => Cow::Owned(spec),
                Err(e) => {
                    let place = inventory
                        .location_of(&self.object)
                        .map_or_else(|| self.object.display_path(), |at| at.to_string());
                    // serde's position is within the spec's text: the field path says more.
                    let text = e.to_string();
                    let position = format!(" at line {} column {}", e.line(), e.column());
                    let field = pod_spec_path(&self.object.kind)
                        .unwrap_or_default()
                        .join(".");
                    let reason = text.strip_suffix(&position).unwrap_or(&text);
                    return Err(invalid_object(
                        place,
                        &self.object.kind,
                        &self.object.name,
                        format!("{reason} in {field}"),
                    ));
                }
            },
        };
        let Workload {
            object,
            metadata,
            pod_labels,
            pod_metadata,
            pod_spec: _,
            pod_count,
            added_ephemeral_containers,
            nodes,
            pods,
        } = self;
        Ok(Workload {
            object,
            metadata,
            pod_labels,
            pod_metadata,
            pod_spec,
            pod_count,
            added_ephemeral_containers,
            nodes,
            pods,
        })
    }
}

type Present<'m> = HashMap<(&'m str, &'m str, &'m str), (ObjectRef, &'m ObjectMeta)>;

/// The outermost collected controller above `controller` (kind, name) in `ns`.
fn outermost_owner<'m>(
    present: &Present<'m>,
    ns: &str,
    controller: (&str, &str),
) -> Option<ObjectRef> {
    let (mut kind, mut name) = controller;
    let mut found = None;
    for _ in 0..4 {
        let Some((owner, owner_meta)) = present.get(&(ns, kind, name)) else {
            break;
        };
        found = Some(owner.clone());
        match controller_of(owner_meta) {
            Some(next) => (kind, name) = next,
            None => break,
        }
    }
    found
}

fn controller_of(meta: &ObjectMeta) -> Option<(&str, &str)> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.as_str(), o.name.as_str()))
}

impl Inventory {
    /// Frees the pod templates of ReplicaSets whose Deployment, and Jobs whose CronJob, is in
    /// the inventory: [`Inventory::workloads`] folds them into that owner, whose template is
    /// what gets examined, and a Deployment keeps up to ten old ReplicaSets, each with a full
    /// pod spec. Their metadata stays (ownership chains run through it).
    pub(crate) fn drop_folded_templates(&mut self) {
        fn names<'a>(metas: impl Iterator<Item = &'a ObjectMeta>) -> HashSet<(&'a str, &'a str)> {
            metas
                .filter_map(|m| Some((m.namespace.as_deref()?, m.name.as_deref()?)))
                .collect()
        }
        fn folded(meta: &ObjectMeta, owner_kind: &str, owners: &HashSet<(&str, &str)>) -> bool {
            match (meta.namespace.as_deref(), controller_of(meta)) {
                (Some(ns), Some((kind, name))) => {
                    kind == owner_kind && owners.contains(&(ns, name))
                }
                _ => false,
            }
        }
        if !self.replica_sets.is_empty() {
            let deployments = names(self.deployments.iter().map(|d| &d.metadata));
            for (i, rs) in self.replica_sets.iter_mut().enumerate() {
                if folded(&rs.metadata, "Deployment", &deployments) {
                    rs.template = None;
                    self.spec_texts
                        .remove(&(ResourceKind::ReplicaSet, i as u32));
                }
            }
        }
        if !self.jobs.is_empty() {
            let cron_jobs = names(self.cron_jobs.iter().map(|c| &c.metadata));
            for (i, job) in self.jobs.iter_mut().enumerate() {
                if folded(&job.metadata, "CronJob", &cron_jobs) {
                    job.template = None;
                    self.spec_texts.remove(&(ResourceKind::Job, i as u32));
                }
            }
        }
    }

    /// Every top-level workload with its pod spec decoded (see [`Inventory::pending_workloads`];
    /// large inputs are decoded on every core).
    pub fn workloads(&self) -> Result<Vec<Workload<'_>>> {
        let pending = self.pending_workloads();
        let mut workloads = Vec::with_capacity(pending.len());
        crate::parallel::map_in_order(
            crate::parallel::into_chunks(pending, 1024),
            |chunk| {
                chunk
                    .into_iter()
                    .map(|w| w.resolve(self))
                    .collect::<Result<Vec<_>>>()
            },
            |chunk| {
                workloads.extend(chunk?);
                Ok::<(), Error>(())
            },
        )?;
        Ok(workloads)
    }

    /// Every top-level workload, its pod spec possibly still text. An object owned by a
    /// controller that is in the inventory is folded into that controller; its pods are
    /// attached to it.
    pub fn pending_workloads(&self) -> Vec<PendingWorkload<'_>> {
        // (namespace, kind, name) of every object that can own pods or pod owners.
        let mut present: Present<'_> = HashMap::new();
        fn add<'m>(present: &mut Present<'m>, meta: &'m ObjectMeta, r: ObjectRef, kind: &'m str) {
            if let (Some(ns), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref()) {
                present.insert((ns, kind, name), (r, meta));
            }
        }
        for o in &self.deployments {
            add(&mut present, &o.metadata, object_ref(o), "Deployment");
        }
        for o in &self.replica_sets {
            add(&mut present, &o.metadata, object_ref(o), "ReplicaSet");
        }
        for o in &self.stateful_sets {
            add(&mut present, &o.metadata, object_ref(o), "StatefulSet");
        }
        for o in &self.daemon_sets {
            add(&mut present, &o.metadata, object_ref(o), "DaemonSet");
        }
        for o in &self.jobs {
            add(&mut present, &o.metadata, object_ref(o), "Job");
        }
        for o in &self.cron_jobs {
            add(&mut present, &o.metadata, object_ref(o), "CronJob");
        }
        for o in &self.replication_controllers {
            add(
                &mut present,
                &o.metadata,
                object_ref(o),
                "ReplicationController",
            );
        }

        let top_owner = |meta: &ObjectMeta| -> Option<ObjectRef> {
            outermost_owner(&present, meta.namespace.as_deref()?, controller_of(meta)?)
        };

        let mut workloads: Vec<PendingWorkload<'_>> = Vec::new();
        macro_rules! templated {
            ($($kind:ident: $list:expr),*) => {$(
                for (i, o) in $list.iter().enumerate() {
                    if top_owner(&o.metadata).is_some() {
                        continue;
                    }
                    let Some(template) = &o.template else { continue };
                    let text = || self.spec_texts.get(&(ResourceKind::$kind, i as u32));
                    let Some(pod_spec) = template
                        .spec
                        .as_deref()
                        .map(PendingSpec::Decoded)
                        .or_else(|| text().map(|t| PendingSpec::Text(t)))
                    else {
                        continue;
                    };
                    workloads.push(Workload {
                        object: object_ref(o),
                        metadata: &o.metadata,
                        pod_labels: template.metadata.as_ref().and_then(|m| m.labels.as_ref()),
                        pod_metadata: template.metadata.as_ref(),
                        pod_spec,
                        pod_count: 0,
                        added_ephemeral_containers: Vec::new(),
                        nodes: Vec::new(),
                        pods: Vec::new(),
                    });
                }
            )*};
        }
        templated!(
            Deployment: self.deployments,
            StatefulSet: self.stateful_sets,
            DaemonSet: self.daemon_sets,
            ReplicaSet: self.replica_sets,
            ReplicationController: self.replication_controllers,
            Job: self.jobs,
            CronJob: self.cron_jobs
        );

        let index: HashMap<ObjectRef, usize> = workloads
            .iter()
            .enumerate()
            .map(|(i, w)| (w.object.clone(), i))
            .collect();
        // Controller-owned pods only add a count and a node to their workload.
        for pod in &self.owned_pods {
            let owner = pod.namespace.as_deref().and_then(|ns| {
                outermost_owner(&present, ns, (pod.controller.0.kind(), &pod.controller.1))
            });
            if let Some(&i) = owner.as_ref().and_then(|owner| index.get(owner)) {
                workloads[i].pod_count += 1;
                workloads[i].nodes.extend(pod.node_name.as_deref());
                workloads[i]
                    .added_ephemeral_containers
                    .extend(pod.ephemeral_containers.iter());
                workloads[i].pods.push(PodInstance {
                    name: &pod.name,
                    labels: PodLabels::Pairs(&pod.labels),
                    node_name: pod.node_name.as_deref(),
                    pod_ip: pod.pod_ip.as_deref(),
                    image_ids: ImageIds::Pairs(&pod.image_ids),
                });
            }
        }
        for (i, pod) in self.pods.iter().enumerate() {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
            let instance = PodInstance {
                name: pod.metadata.name.as_deref().unwrap_or_default(),
                labels: PodLabels::Map(pod.metadata.labels.as_ref()),
                node_name: node,
                pod_ip: pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()),
                image_ids: ImageIds::Status(pod.status.as_ref()),
            };
            match top_owner(&pod.metadata) {
                Some(owner) => {
                    if let Some(&i) = index.get(&owner) {
                        workloads[i].pod_count += 1;
                        workloads[i].nodes.extend(node);
                        let added = pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.ephemeral_containers.as_ref());
                        workloads[i]
                            .added_ephemeral_containers
                            .extend(added.into_iter().flatten());
                        workloads[i].pods.push(instance);
                    }
                }
                None => {
                    // A bare Pod read from JSON keeps only its node name decoded.
                    let text = self.spec_texts.get(&(ResourceKind::Pod, i as u32));
                    let Some(pod_spec) = text
                        .map(|t| PendingSpec::Text(t))
                        .or_else(|| pod.spec.as_ref().map(PendingSpec::Decoded))
                    else {
                        continue;
                    };
                    let w = Workload {
                        object: object_ref(pod),
                        metadata: &pod.metadata,
                        pod_labels: pod.metadata.labels.as_ref(),
                        pod_metadata: Some(&pod.metadata),
                        pod_spec,
                        pod_count: 1,
                        added_ephemeral_containers: Vec::new(),
                        nodes: node.into_iter().collect(),
                        pods: vec![instance],
                    };
                    workloads.push(w);
                }
            }
        }
        workloads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ResourceKind;

    fn inventory(yaml: &str) -> Inventory {
        Inventory::from_text("w.yaml", yaml, ResourceKind::ALL).expect("inventory")
    }

    const CHAIN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {serviceAccountName: web, containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-123
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-123-abc
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-123, uid: u2, controller: true}]
spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: shop}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
"#;

    /// JSON manifests keep controllers' pod specs as text until the workloads are read: the
    /// same workloads come out, a folded ReplicaSet's text is dropped, and a spec that does
    /// not decode is still an input error naming the file, line and object.
    #[test]
    fn pod_specs_kept_as_json_text_decode_when_workloads_are_read() {
        let json = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},"spec":{"selector":{},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"serviceAccountName":"web","containers":[{"name":"c","image":"nginx"}]}}}}
{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","namespace":"shop","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u","controller":true}]},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#;
        let bare = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"lone","namespace":"shop"},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"busybox"}]}}"#;
        let inv = Inventory::from_text("w.json", &format!("{json}\n{bare}"), ResourceKind::ALL)
            .expect("inventory");
        assert_eq!(
            inv.spec_texts.len(),
            2,
            "the Deployment's and the bare Pod's, not the folded ReplicaSet's"
        );
        let pending = inv.pending_workloads();
        assert!(
            pending
                .iter()
                .all(|w| matches!(w.pod_spec, PendingSpec::Text(_)))
        );
        // The bare Pod's node is known before its spec is decoded.
        assert_eq!(pending[1].node_names(), ["node-1"]);
        let mut workloads = inv.workloads().expect("workloads");
        let pod = workloads.pop().expect("the bare Pod");
        assert_eq!(pod.pod_spec.node_name.as_deref(), Some("node-1"));
        assert_eq!(pod.pod_spec.containers[0].image.as_deref(), Some("busybox"));
        assert_eq!(workloads.len(), 1);
        assert_eq!(workloads[0].service_account_name(), "web");
        assert_eq!(
            workloads[0].pod_spec.containers[0].image.as_deref(),
            Some("nginx")
        );
        let from_yaml = inventory(CHAIN);
        assert_eq!(
            from_yaml.workloads().expect("workloads")[0]
                .pod_spec
                .containers,
            workloads[0].pod_spec.containers
        );

        let broken = json.replace(r#""serviceAccountName":"web""#, r#""serviceAccountName":5"#);
        let inv = Inventory::from_text("w.json", &broken, ResourceKind::ALL).expect("inventory");
        let err = inv.workloads().expect_err("invalid spec");
        assert!(
            err.to_string()
                == "w.json:1: invalid Deployment \"web\": invalid type: integer `5`, expected a string in spec.template.spec",
            "{err}"
        );
    }

    #[test]
    fn pods_fold_into_their_top_controller() {
        let inv = inventory(CHAIN);
        let workloads = inv.workloads().expect("workloads");
        let names: Vec<String> = workloads.iter().map(|w| w.object.display_path()).collect();
        assert_eq!(
            names,
            [
                "Deployment/shop/web",
                "CronJob/shop/nightly",
                "Pod/shop/lonely"
            ]
        );
        assert_eq!(workloads[0].pod_count, 1);
        assert_eq!(inv.owned_pods.len(), 1, "the ReplicaSet's pod is kept lean");
        assert_eq!(workloads[0].node_names(), ["node-1"]);
        assert_eq!(workloads[0].service_account_name(), "web");
        assert_eq!(workloads[2].service_account_name(), "default");
    }

    #[test]
    fn debug_containers_of_owned_pods_reach_the_controller() {
        let text = CHAIN.replace(
            "spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}",
            "spec: {nodeName: node-1, containers: [{name: c, image: nginx}], ephemeralContainers: [{name: dbg, image: busybox}]}",
        );
        let inv = inventory(&text);
        let workloads = inv.workloads().expect("workloads");
        let names: Vec<&str> = workloads[0]
            .added_ephemeral_containers
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["dbg"]);
        assert!(workloads[1].added_ephemeral_containers.is_empty());
    }

    /// A ReplicaSet folded into its Deployment gives up its template (the Deployment's is the
    /// one examined); one whose Deployment is not in the input keeps it and is a workload.
    #[test]
    fn folded_replica_sets_drop_their_templates() {
        let inv = inventory(CHAIN);
        assert!(inv.replica_sets[0].template.is_none());
        assert_eq!(
            inv.workloads().expect("workloads")[0].object.display_path(),
            "Deployment/shop/web"
        );

        let orphan = CHAIN.replacen("kind: Deployment\n", "kind: ConfigMap\n", 1);
        let inv = inventory(&orphan);
        assert!(inv.replica_sets[0].template.is_some());
        let workloads = inv.workloads().expect("workloads");
        assert_eq!(
            workloads[0].object.display_path(),
            "ReplicaSet/shop/web-123"
        );
        assert_eq!(workloads[0].pod_count, 1);
    }

    /// A controller-owned pod is kept lean, but its own name and labels (which can differ
    /// from the template's) still reach its workload; a bare Pod's come from its metadata.
    #[test]
    fn pods_keep_their_own_names_and_labels() {
        let text = CHAIN.replace(
            "  name: web-123-abc\n",
            "  name: web-123-abc\n  labels: {app: web, pod-template-hash: '123', zone: b}\n",
        );
        let inv = inventory(&text);
        let workloads = inv.workloads().expect("workloads");
        let pod = workloads[0].pods[0];
        assert_eq!(pod.name, "web-123-abc");
        let labels = pod.labels.to_map();
        assert_eq!(
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["app=web", "pod-template-hash=123", "zone=b"]
        );
        assert_eq!(workloads[2].pods[0].name, "lonely");
        assert!(workloads[2].pods[0].labels.to_map().is_empty());
    }
}

/// Whether a workload's pods get a ServiceAccount token, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TokenMount {
    /// Automounted: the pod's setting, else the ServiceAccount's, else the default (true).
    Automounted {
        decided_by: TokenDecision,
    },
    /// Automount is off but a projected volume requests a token anyway.
    ProjectedVolume,
    NotMounted {
        decided_by: TokenDecision,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenDecision {
    Pod,
    ServiceAccount,
    Default,
}

impl TokenMount {
    pub fn is_mounted(self) -> bool {
        !matches!(self, TokenMount::NotMounted { .. })
    }
}

/// Resolves token mounting as the ServiceAccount admission plugin does: the pod spec's
/// `automountServiceAccountToken` wins over the ServiceAccount's; unset means true. A
/// projected `serviceAccountToken` volume mounts a token regardless.
pub fn token_mount(
    pod_spec: &PodSpec,
    service_account: Option<&k8s_openapi::api::core::v1::ServiceAccount>,
) -> TokenMount {
    let (automount, decided_by) = match (
        pod_spec.automount_service_account_token,
        service_account.and_then(|sa| sa.automount_service_account_token),
    ) {
        (Some(pod), _) => (pod, TokenDecision::Pod),
        (None, Some(sa)) => (sa, TokenDecision::ServiceAccount),
        (None, None) => (true, TokenDecision::Default),
    };
    if automount {
        return TokenMount::Automounted { decided_by };
    }
    let explicit_token = pod_spec.volumes.iter().flatten().any(|v| {
        v.projected
            .as_ref()
            .and_then(|p| p.sources.as_ref())
            .is_some_and(|sources| sources.iter().any(|s| s.service_account_token.is_some()))
    });
    if explicit_token {
        TokenMount::ProjectedVolume
    } else {
        TokenMount::NotMounted { decided_by }
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceAccount;

    fn spec(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).expect("pod spec")
    }

    #[test]
    fn pod_setting_wins_over_service_account() {
        let sa_off: ServiceAccount =
            serde_json::from_value(serde_json::json!({"automountServiceAccountToken": false}))
                .expect("sa");
        let pod_on =
            spec(serde_json::json!({"containers": [], "automountServiceAccountToken": true}));
        assert_eq!(
            token_mount(&pod_on, Some(&sa_off)),
            TokenMount::Automounted {
                decided_by: TokenDecision::Pod
            }
        );
        let pod_unset = spec(serde_json::json!({"containers": []}));
        assert_eq!(
            token_mount(&pod_unset, Some(&sa_off)),
            TokenMount::NotMounted {
                decided_by: TokenDecision::ServiceAccount
            }
        );
        assert_eq!(
            token_mount(&pod_unset, None),
            TokenMount::Automounted {
                decided_by: TokenDecision::Default
            }
        );
    }

    #[test]
    fn projected_token_volume_counts_as_mounted() {
        let pod = spec(serde_json::json!({
            "containers": [], "automountServiceAccountToken": false,
            "volumes": [{"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
        }));
        assert_eq!(token_mount(&pod, None), TokenMount::ProjectedVolume);
    }
}

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum ContainerList {
    #[serde(rename = "containers")]
    Containers,
    #[serde(rename = "initContainers")]
    InitContainers,
    #[serde(rename = "ephemeralContainers")]
    EphemeralContainers,
}

impl ContainerList {
    /// The pod-spec field name (also the path segment for edits).
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::InitContainers => "initContainers",
            ContainerList::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// One container's image, from any of the three container lists.
#[derive(Debug, Clone, Copy)]
pub struct ContainerImage<'a> {
    pub list: ContainerList,
    /// Position in its list (the edit path `<list>[index].image`).
    pub index: usize,
    pub name: &'a str,
    /// `None` when unset (valid in a controller template only if something else fills it).
    pub image: Option<&'a str>,
    pub pull_policy: Option<&'a str>,
}

/// Every container, init container and ephemeral container of a pod spec, in spec order.
pub fn container_images(spec: &PodSpec) -> Vec<ContainerImage<'_>> {
    let mut out = Vec::new();
    for (index, c) in spec.init_containers.iter().flatten().enumerate() {
        out.push(ContainerImage {
            list: ContainerList::InitContainers,
            index,
            name: &c.name,
            image: c.image.as_deref(),
            pull_policy: c.image_pull_policy.as_deref(),
        });
    }
    for (index, c) in spec.containers.iter().enumerate() {
        out.push(ContainerImage {
            list: ContainerList::Containers,
            index,
            name: &c.name,
            image: c.image.as_deref(),
            pull_policy: c.image_pull_policy.as_deref(),
        });
    }
    for (index, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
        out.push(ContainerImage {
            list: ContainerList::EphemeralContainers,
            index,
            name: &c.name,
            image: c.image.as_deref(),
            pull_policy: c.image_pull_policy.as_deref(),
        });
    }
    out
}

/// Where the pod spec sits in an object of `kind` (mapping keys from the document root), for
/// edits of manifests: `spec.template.spec` for most controllers.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}
