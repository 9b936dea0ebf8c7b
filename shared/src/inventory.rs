//! The inventory a plugin analyses: typed objects of the kinds it asked for, collected either
//! from a live cluster (see `collect`) or from manifests. Analysis code only ever sees this.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::{Metadata, Resource};

use crate::error::{Error, Result};
use crate::finding::{Finding, ObjectRef, Report, ReportSource, Skipped, SourceLocation};
use crate::manifest::{self, Document};
use crate::rbac::{ClusterRole, ClusterRoleBinding, RbacMeta, Role, RoleBinding};

mod compact;
mod controller;
mod spec_text;
use compact::Compact;
pub use controller::{Controller, PodTemplate, PodTemplated};
use serde_json::value::RawValue;
pub(crate) use spec_text::split as split_pod_spec;

/// Declares the kinds the suite understands once: the enum, the typed storage and the
/// per-kind dispatch all come from this list.
macro_rules! inventory_kinds {
    ($($variant:ident => $field:ident : $ty:ty, $plural:literal;)*) => {
        /// A kind the inventory can hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ResourceKind { $($variant,)* }

        impl ResourceKind {
            pub const ALL: &'static [ResourceKind] = &[$(ResourceKind::$variant,)*];

            pub fn api_version(self) -> &'static str {
                match self { $(ResourceKind::$variant => <$ty as Resource>::API_VERSION,)* }
            }
            pub fn kind(self) -> &'static str {
                match self { $(ResourceKind::$variant => <$ty as Resource>::KIND,)* }
            }
            pub fn group(self) -> &'static str {
                match self { $(ResourceKind::$variant => <$ty as Resource>::GROUP,)* }
            }
            /// The plural resource name used in URLs, RBAC rules and `skipped` entries.
            pub fn plural(self) -> &'static str {
                match self { $(ResourceKind::$variant => $plural,)* }
            }
            pub fn from_type(api_version: &str, kind: &str) -> Option<ResourceKind> {
                ResourceKind::ALL.iter().copied().find(|k| k.api_version() == api_version && k.kind() == kind)
            }

            /// Lists every object of this kind, typed as the inventory stores it.
            pub(crate) async fn fetch_all(
                self,
                lister: &crate::collect::Lister,
            ) -> std::result::Result<Box<dyn std::any::Any + Send>, kube::Error> {
                match self {
                    $(ResourceKind::$variant => lister
                        .list_all::<$ty>(self)
                        .await
                        .map(|v| Box::new(v) as Box<dyn std::any::Any + Send>),)*
                }
            }
        }

        /// One typed object of any kind, between decoding (in parallel) and storing (in order).
        /// Boxed: a batch of decoded documents is a vector of these, and unboxed each slot
        /// would take the largest kind's size (a Deployment's 2.4 KB for a 104-byte Role).
        enum Decoded {
            $($variant(Box<$ty>),)*
            /// A controller-owned Pod, decoded straight into its lean form.
            Owned(OwnedPod),
            /// An object decoded without its pod spec, and that spec's JSON text (see
            /// [`spec_text`]).
            WithSpecText(Box<Decoded>, Box<RawValue>),
        }

        impl Decoded {
            fn of(kind: ResourceKind, source: impl ObjectSource) -> std::result::Result<Decoded, serde_json::Error> {
                Ok(match kind {
                    $(ResourceKind::$variant => {
                        let mut obj: Box<$ty> = source.decode()?;
                        trim(&mut *obj);
                        Decoded::$variant(obj)
                    })*
                })
            }
        }

        /// Typed objects, one vector per kind, plus what the collection could not see.
        /// Controllers are kept as their metadata and pod template ([`Controller`]).
        #[derive(Debug, Default)]
        pub struct Inventory {
            $(pub $field: Vec<$ty>,)*
            /// Pods owned by a controller of a collected kind, kept lean (see [`OwnedPod`]);
            /// `pods` holds the others, which are workloads in their own right.
            pub owned_pods: Vec<OwnedPod>,
            /// Offline only: where each object was read from, compactly (large inputs have
            /// hundreds of thousands of objects and few files): object key → (file, line).
            locations: HashMap<u64, (u32, u32)>,
            location_files: Vec<std::sync::Arc<str>>,
            /// Kinds present in the input that this plugin does not examine, with counts.
            pub ignored_kinds: BTreeMap<String, usize>,
            /// Lists that could not be read (forbidden, not served).
            pub skipped: Vec<Skipped>,
            pub source: ReportSource,
            /// Lookup indexes, built on first use (the inventory is complete by then).
            indexes: std::sync::OnceLock<Indexes>,
            /// Pod specs kept as JSON text (see [`spec_text`]), by the kind and position of
            /// their object, whose own spec field is then unset.
            pub(crate) spec_texts: HashMap<(ResourceKind, u32), Box<RawValue>>,
        }

        impl Inventory {
            /// Room for `additional` more objects of `kind`: exactly for the first file (a
            /// large input is usually one file, stored without doubling growth), amortized for
            /// later ones (many small files must not reallocate once each).
            fn reserve(&mut self, kind: ResourceKind, additional: usize) {
                match kind { $(ResourceKind::$variant => reserve_room(&mut self.$field, additional),)* }
            }

            /// Stores an object decoded by [`Decoded::of`], returning its reference.
            fn insert_decoded(&mut self, decoded: Decoded) -> ObjectRef {
                match decoded {
                    $(Decoded::$variant(obj) => {
                        let reference = object_ref(&*obj);
                        self.$field.push(*obj);
                        reference
                    })*
                    Decoded::Owned(pod) => {
                        let reference = ObjectRef::new(
                            <Pod as Resource>::API_VERSION,
                            <Pod as Resource>::KIND,
                            pod.namespace.as_deref(),
                            &pod.name,
                        );
                        self.owned_pods.push(pod);
                        reference
                    }
                    Decoded::WithSpecText(shell, spec) => {
                        let position = match &*shell {
                            $(Decoded::$variant(_) => (ResourceKind::$variant, self.$field.len()),)*
                            _ => return self.insert_decoded(*shell),
                        };
                        self.spec_texts.insert((position.0, position.1 as u32), spec);
                        self.insert_decoded(*shell)
                    }
                }
            }

            /// Stores a typed batch fetched by `collect` (a `Vec` of the kind's type).
            pub(crate) fn put_batch(&mut self, kind: ResourceKind, batch: Box<dyn std::any::Any + Send>) {
                match kind {
                    $(ResourceKind::$variant => {
                        if let Ok(items) = batch.downcast::<Vec<$ty>>() {
                            let mut items = *items;
                            items.iter_mut().for_each(trim);
                            // Move rather than copy: the batch is usually the whole list.
                            if self.$field.is_empty() {
                                self.$field = items;
                            } else {
                                self.$field.extend(items);
                            }
                        }
                    })*
                }
            }

        }
    };
}

inventory_kinds! {
    Namespace => namespaces: Namespace, "namespaces";
    ServiceAccount => service_accounts: ServiceAccount, "serviceaccounts";
    ClusterRole => cluster_roles: ClusterRole, "clusterroles";
    ClusterRoleBinding => cluster_role_bindings: ClusterRoleBinding, "clusterrolebindings";
    Role => roles: Role, "roles";
    RoleBinding => role_bindings: RoleBinding, "rolebindings";
    Pod => pods: Pod, "pods";
    Deployment => deployments: Controller<Deployment>, "deployments";
    ReplicaSet => replica_sets: Controller<ReplicaSet>, "replicasets";
    StatefulSet => stateful_sets: Controller<StatefulSet>, "statefulsets";
    DaemonSet => daemon_sets: Controller<DaemonSet>, "daemonsets";
    Job => jobs: Controller<Job>, "jobs";
    CronJob => cron_jobs: Controller<CronJob>, "cronjobs";
    ReplicationController => replication_controllers: Controller<ReplicationController>, "replicationcontrollers";
    Service => services: Service, "services";
    NetworkPolicy => network_policies: NetworkPolicy, "networkpolicies";
}

/// A plugin's kinds: those given, then every kind that is or creates a Pod (what
/// [`Inventory::workloads`] reads), so no plugin can miss a controller kind.
#[macro_export]
macro_rules! kinds_with_workloads {
    ($($kind:expr),* $(,)?) => {
        &[
            $($kind,)*
            $crate::inventory::ResourceKind::Pod,
            $crate::inventory::ResourceKind::Deployment,
            $crate::inventory::ResourceKind::ReplicaSet,
            $crate::inventory::ResourceKind::StatefulSet,
            $crate::inventory::ResourceKind::DaemonSet,
            $crate::inventory::ResourceKind::Job,
            $crate::inventory::ResourceKind::CronJob,
            $crate::inventory::ResourceKind::ReplicationController,
        ]
    };
}

/// A Pod created by a controller the inventory collects (ReplicaSet, StatefulSet, DaemonSet,
/// Job, ReplicationController). Findings about what it runs land on that controller, whose
/// template is its spec, so only what the template cannot tell is kept — a full `Pod` is
/// several kilobytes, and large clusters have tens of thousands. A Pod whose controller object
/// is missing (deleted mid-rollout) is therefore not examined on its own.
#[derive(Debug, Clone)]
pub struct OwnedPod {
    pub name: String,
    pub namespace: Option<String>,
    /// Its own labels, sorted by key: they can differ from the template's
    /// (`pod-template-hash`, labels set by hand), and NetworkPolicies select on them.
    pub labels: Box<[(String, String)]>,
    /// The controller that created it.
    pub controller: (ResourceKind, String),
    pub node_name: Option<String>,
    /// Containers added to this pod alone (`kubectl debug`): no template has them.
    pub ephemeral_containers: Vec<k8s_openapi::api::core::v1::EphemeralContainer>,
    /// `status.podIP` (live): NetworkPolicy ipBlocks can match pod addresses.
    pub pod_ip: Option<String>,
    /// (container name, `imageID`) of each container and init container that has started
    /// (live): the digest actually running, which a moved tag can make differ between pods.
    pub image_ids: Vec<(String, String)>,
}

/// See [`Inventory::reserve`].
fn reserve_room<T>(items: &mut Vec<T>, additional: usize) {
    if items.is_empty() {
        items.reserve_exact(additional);
    } else {
        items.reserve(additional);
    }
}

/// Kinds whose Pods are kept as [`OwnedPod`] when that kind is collected.
const POD_OWNER_KINDS: [ResourceKind; 5] = [
    ResourceKind::ReplicaSet,
    ResourceKind::StatefulSet,
    ResourceKind::DaemonSet,
    ResourceKind::Job,
    ResourceKind::ReplicationController,
];

/// The collected controller kind that owns a Pod with these owner references, if any.
fn owning_kind(owners: &[OwnerView], wanted: &[ResourceKind]) -> Option<(ResourceKind, String)> {
    owners
        .iter()
        .filter(|o| o.controller == Some(true))
        .find_map(|o| {
            POD_OWNER_KINDS
                .iter()
                .find(|k| {
                    wanted.contains(k) && k.kind() == o.kind && k.api_version() == o.api_version
                })
                .map(|&k| (k, o.name.clone()))
        })
}

/// What an [`OwnedPod`] keeps, read straight from a Pod's JSON: its containers, volumes and
/// the rest of its spec and status (most of a Pod's size) are skipped rather than decoded.
#[derive(serde::Deserialize)]
pub(crate) struct OwnedPodView {
    #[serde(default)]
    metadata: PodMetadataView,
    #[serde(default)]
    spec: Option<OwnedPodSpecView>,
    #[serde(default)]
    status: Option<OwnedPodStatusView>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodMetadataView {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    owner_references: Option<Vec<OwnerView>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerView {
    api_version: String,
    kind: String,
    name: String,
    controller: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnedPodSpecView {
    node_name: Option<String>,
    ephemeral_containers: Option<Vec<k8s_openapi::api::core::v1::EphemeralContainer>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnedPodStatusView {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    init_container_statuses: Option<Vec<ContainerImageView>>,
    container_statuses: Option<Vec<ContainerImageView>>,
}

#[derive(serde::Deserialize)]
struct ContainerImageView {
    name: String,
    #[serde(rename = "imageID", default)]
    image_id: String,
}

impl OwnedPodView {
    /// Whether some controller owns it (collected or not).
    fn has_controller(&self) -> bool {
        self.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true))
    }

    /// The lean Pod when a collected controller owns it; `None` when it is a workload in its
    /// own right (then the full Pod is decoded).
    pub(crate) fn into_owned(self, wanted: &[ResourceKind]) -> Option<OwnedPod> {
        let metadata = self.metadata;
        let controller = owning_kind(metadata.owner_references.as_deref()?, wanted)?;
        let (node_name, mut ephemeral_containers) = match self.spec {
            Some(spec) => (
                spec.node_name,
                spec.ephemeral_containers.unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        ephemeral_containers.shrink_to_fit();
        ephemeral_containers.iter_mut().for_each(Compact::compact);
        let (pod_ip, image_ids) = match self.status {
            Some(status) => (
                status.pod_ip,
                status
                    .init_container_statuses
                    .into_iter()
                    .flatten()
                    .chain(status.container_statuses.into_iter().flatten())
                    .filter(|c| !c.image_id.is_empty())
                    .map(|c| (c.name, c.image_id))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        Some(OwnedPod {
            name: metadata.name.unwrap_or_default(),
            namespace: metadata.namespace,
            labels: metadata.labels.unwrap_or_default().into_iter().collect(),
            controller,
            node_name,
            ephemeral_containers,
            pod_ip,
            image_ids,
        })
    }
}

/// Whether a Pod document may be read lean: some collected kind can own Pods.
pub(crate) fn pods_may_be_owned(wanted: &[ResourceKind]) -> bool {
    POD_OWNER_KINDS.iter().any(|k| wanted.contains(k))
}

fn location_key(object: &ObjectRef) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    object.hash(&mut hasher);
    hasher.finish()
}

#[derive(Debug, Default)]
struct Indexes {
    namespaces: HashMap<String, usize>,
    service_accounts: HashMap<(String, String), usize>,
}

impl ResourceKind {
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            ResourceKind::Namespace | ResourceKind::ClusterRole | ResourceKind::ClusterRoleBinding
        )
    }
}

/// The metadata the inventory reads of a kept object: k8s-openapi's `ObjectMeta`, or the
/// lean [`RbacMeta`] of RBAC objects.
pub trait KeptMeta {
    fn name(&self) -> Option<&str>;
    fn namespace(&self) -> Option<&str>;
    /// Drops what no analysis reads but large clusters pay for in memory.
    fn trim(&mut self);
}

impl KeptMeta for k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
    /// Managed fields and the last-applied annotation.
    fn trim(&mut self) {
        self.managed_fields = None;
        if let Some(annotations) = self.annotations.as_mut() {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
}

impl KeptMeta for RbacMeta {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
    /// Nothing to drop: only what is read was kept.
    fn trim(&mut self) {}
}

/// Drops what no analysis reads but large clusters pay for in memory: see [`KeptMeta::trim`],
/// and the spare room of decoded lists.
fn trim<K: Compact + Metadata<Ty: KeptMeta>>(obj: &mut K) {
    obj.metadata_mut().trim();
    obj.compact();
}

/// The reference of any kept object (apiVersion/kind from its type).
pub fn object_ref<K: Resource + Metadata<Ty: KeptMeta>>(obj: &K) -> ObjectRef {
    let meta = obj.metadata();
    ObjectRef {
        api_version: K::API_VERSION.to_string(),
        kind: K::KIND.to_string(),
        namespace: meta.namespace().map(str::to_string),
        name: meta.name().unwrap_or_default().to_string(),
    }
}

/// A decoded object (or why it did not decode) and where it was read.
type Outcome = (std::result::Result<Decoded, Error>, SourceLocation);

/// One document as the kind's typed object (a controller-owned Pod as its lean form).
fn decode(
    kind: ResourceKind,
    doc: Document<'_>,
    wanted: &[ResourceKind],
) -> std::result::Result<Decoded, serde_json::Error> {
    // Most Pods belong to a collected controller: read only what is kept of them.
    let mut bare_pod = false;
    if kind == ResourceKind::Pod && pods_may_be_owned(wanted) {
        let view: OwnedPodView = doc.decode_borrowed()?;
        bare_pod = !view.has_controller();
        if let Some(owned) = view.into_owned(wanted) {
            return Ok(Decoded::Owned(owned));
        }
    }
    let split = |text| match bare_pod {
        true => spec_text::split_bare_pod(text),
        false => spec_text::split(kind, text),
    };
    if let manifest::Body::Json(raw) = &doc.body
        && let Some((shell, spec)) = split(raw.get())?
    {
        return Ok(Decoded::WithSpecText(
            Box::new(Decoded::of(kind, shell.as_str())?),
            spec.to_owned(),
        ));
    }
    Decoded::of(kind, doc)
}

/// What a typed object is decoded from: a manifest's document, or the text of a JSON object
/// (the shell left when its pod spec is kept as text, decoded straight from that text).
trait ObjectSource {
    fn decode<T: serde::de::DeserializeOwned>(self) -> std::result::Result<T, serde_json::Error>;
}

impl ObjectSource for Document<'_> {
    fn decode<T: serde::de::DeserializeOwned>(self) -> std::result::Result<T, serde_json::Error> {
        Document::decode(self)
    }
}

impl ObjectSource for &str {
    fn decode<T: serde::de::DeserializeOwned>(self) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_str(self)
    }
}

/// The input error of an object that does not decode: `PLACE: invalid KIND "NAME": REASON`.
pub(crate) fn invalid_object(
    place: String,
    kind: &str,
    name: &str,
    reason: impl std::fmt::Display,
) -> Error {
    Error::input(place, format!("invalid {kind} {name:?}: {reason}"))
}

/// A batch of documents decoded in order, each error naming the file and line.
fn decode_batch(part: Vec<(ResourceKind, Document<'_>)>, wanted: &[ResourceKind]) -> Vec<Outcome> {
    part.into_iter()
        .map(|(kind, doc)| {
            let location = doc.location.clone();
            // Borrowed from the file's text for JSON: cloning costs nothing.
            let (kind_name, name) = (doc.kind.clone(), doc.name.clone());
            let decoded = decode(kind, doc, wanted).map_err(|e| {
                invalid_object(
                    location.to_string(),
                    &kind_name,
                    name.as_deref().unwrap_or("<unnamed>"),
                    e,
                )
            });
            (decoded, location)
        })
        .collect()
}

impl Inventory {
    /// Builds an inventory from `-f` paths, keeping the kinds asked for. Objects of other
    /// kinds are counted in `ignored_kinds`; a known kind that does not decode is an input error.
    pub fn from_files(
        paths: &[std::path::PathBuf],
        recursive: bool,
        wanted: &[ResourceKind],
    ) -> Result<Inventory> {
        let mut inv = Inventory::default();
        let files = manifest::load(paths, recursive, &mut |docs| {
            inv.add_documents(docs, wanted)
        })?;
        inv.source = ReportSource {
            context: None,
            files,
        };
        inv.drop_folded_templates();
        Ok(inv)
    }

    /// The same from one text (tests, stdin-like sources).
    pub fn from_text(name: &str, text: &str, wanted: &[ResourceKind]) -> Result<Inventory> {
        let mut inv = Inventory::default();
        manifest::parse_text(name, text, &mut |docs| inv.add_documents(docs, wanted))?;
        inv.source = ReportSource {
            context: None,
            files: vec![name.to_string()],
        };
        inv.drop_folded_templates();
        Ok(inv)
    }

    /// Stores one file's documents: the kinds not wanted are counted, the others decoded in
    /// parallel a batch at a time (decoding is most of an offline run's time) and stored in
    /// file order. The first invalid document in file order is the error.
    fn add_documents(
        &mut self,
        documents: Vec<Document<'_>>,
        wanted: &[ResourceKind],
    ) -> Result<()> {
        const BATCH: usize = 1024;
        let kind_of = |doc: &Document<'_>| {
            ResourceKind::from_type(&doc.api_version, &doc.kind).filter(|k| wanted.contains(k))
        };
        // Room first, from this file's own counts (no separate counting pass over the files).
        let mut counts = [0usize; ResourceKind::ALL.len()];
        for kind in documents.iter().filter_map(kind_of) {
            counts[kind as usize] += 1;
        }
        for (&kind, &count) in ResourceKind::ALL.iter().zip(&counts) {
            // Pods owned by a collected controller are stored as lean `OwnedPod`s, and those
            // are most pods: room for full `Pod`s would stay empty.
            if kind == ResourceKind::Pod && POD_OWNER_KINDS.iter().any(|k| wanted.contains(k)) {
                reserve_room(&mut self.owned_pods, count);
            } else if count > 0 {
                self.reserve(kind, count);
            }
        }
        let mut batches = Vec::new();
        let mut batch = Vec::with_capacity(documents.len().min(BATCH));
        for doc in documents {
            match kind_of(&doc) {
                Some(kind) => batch.push((kind, doc)),
                None => {
                    *self
                        .ignored_kinds
                        .entry(format!("{}/{}", doc.api_version, doc.kind))
                        .or_default() += 1;
                }
            }
            if batch.len() == BATCH {
                batches.push(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        // One set of workers for the whole file, each decoding every other batch while this
        // thread stores the finished ones in file order.
        crate::parallel::map_in_order(
            batches,
            |batch| decode_batch(batch, wanted),
            |outcomes| self.store_outcomes(outcomes),
        )
    }

    fn store_outcomes(&mut self, outcomes: Vec<Outcome>) -> Result<()> {
        for (decoded, location) in outcomes {
            let decoded = decoded?;
            let reference = self.insert_decoded(decoded);
            self.record(reference, location);
        }
        Ok(())
    }

    /// Remembers where an object was read.
    fn record(&mut self, reference: ObjectRef, location: SourceLocation) {
        if self.location_files.last() != Some(&location.file) {
            self.location_files.push(location.file);
        }
        let file = (self.location_files.len() - 1) as u32;
        self.locations
            .insert(location_key(&reference), (file, location.line as u32));
    }

    /// A plugin's report of `findings` about this inventory: its sources, the kinds it could
    /// not list (plus `more_skipped`: rules or lists the plugin could not evaluate) and the
    /// kinds it ignored; offline, each finding points at the file and line of its object.
    pub fn report(
        &self,
        plugin: &str,
        mut findings: Vec<Finding>,
        more_skipped: Vec<Skipped>,
    ) -> Report {
        if !self.locations.is_empty() {
            for f in findings.iter_mut().filter(|f| f.location.is_none()) {
                f.location = self.location_of(&f.object);
            }
        }
        let mut skipped = self.skipped.clone();
        skipped.extend(more_skipped);
        let mut report = Report::new(plugin, self.source.clone(), findings, skipped);
        report.ignored = self.ignored_kinds.clone();
        report
    }

    pub fn location_of(&self, object: &ObjectRef) -> Option<SourceLocation> {
        let (file, line) = *self.locations.get(&location_key(object))?;
        Some(SourceLocation {
            file: self.location_files.get(file as usize)?.clone(),
            line: line as usize,
        })
    }

    fn indexes(&self) -> &Indexes {
        self.indexes.get_or_init(|| Indexes {
            namespaces: self
                .namespaces
                .iter()
                .enumerate()
                .map(|(i, n)| (n.metadata.name.clone().unwrap_or_default(), i))
                .collect(),
            service_accounts: self
                .service_accounts
                .iter()
                .enumerate()
                .map(|(i, sa)| {
                    let m = &sa.metadata;
                    (
                        (
                            m.namespace.clone().unwrap_or_default(),
                            m.name.clone().unwrap_or_default(),
                        ),
                        i,
                    )
                })
                .collect(),
        })
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        let i = *self.indexes().namespaces.get(name)?;
        self.namespaces.get(i)
    }

    pub fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        let i = *self
            .indexes()
            .service_accounts
            .get(&(namespace.to_string(), name.to_string()))?;
        self.service_accounts.get(i)
    }

    /// Whether a list of this kind was refused (then absence proves nothing).
    pub fn was_skipped(&self, kind: ResourceKind) -> bool {
        self.skipped.iter().any(|s| s.resource == kind.plural())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_become_typed_objects_and_unknown_kinds_are_counted() {
        let inv = Inventory::from_text(
            "m.yaml",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: x}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
            ResourceKind::ALL,
        )
        .expect("inventory");
        assert_eq!(inv.service_accounts.len(), 1);
        assert_eq!(inv.ignored_kinds.get("example.com/v1/Widget"), Some(&1));
        let sa = ObjectRef::new("v1", "ServiceAccount", Some("x"), "a");
        assert_eq!(inv.location_of(&sa).map(|l| l.line), Some(1));
        assert!(inv.service_account("x", "a").is_some());
        assert!(inv.service_account("x", "b").is_none());
    }

    #[test]
    fn json_lists_decode_without_a_value_tree() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}]}"#;
        let inv = Inventory::from_text("l.json", text, ResourceKind::ALL).expect("inventory");
        assert_eq!(inv.namespaces.len(), 2);
        assert!(inv.namespace("b").is_some());
    }

    #[test]
    fn invalid_known_kind_is_an_input_error() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 5}\n";
        let json = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": 5}}"#;
        let err = Inventory::from_text("m.yaml", yaml, ResourceKind::ALL).expect_err("bad pod");
        assert!(
            err.to_string().starts_with("m.yaml:1: invalid Pod \"p\""),
            "{err}"
        );
        // From JSON, a bare Pod's spec is decoded when its workload is read: the same error.
        let inv = Inventory::from_text("m.json", json, ResourceKind::ALL).expect("read");
        let err = inv.workloads().map(|_| ()).expect_err("bad pod");
        assert!(
            err.to_string()
                .starts_with("m.json:1: invalid Pod \"p\": invalid type: integer `5`"),
            "{err}"
        );
        let metadata = json.replace(r#""name": "p""#, r#""name": "p", "labels": 5"#);
        let err = Inventory::from_text("m.json", &metadata, ResourceKind::ALL).expect_err("bad");
        assert!(
            err.to_string().starts_with("m.json:1: invalid Pod"),
            "{err}"
        );
    }

    /// Large inputs are decoded in parallel batches: file order is kept, and the error is the
    /// first invalid document in the file, whichever thread met it.
    #[test]
    fn parallel_decoding_keeps_file_order_and_the_first_error() {
        let account = |i: usize| {
            format!(
                r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"sa-{i}","namespace":"ns"}}}}"#
            )
        };
        let broken = |i: usize| {
            format!(
                r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"sa-{i}","namespace":5}}}}"#
            )
        };
        let ok: Vec<String> = (0..9000).map(account).collect();
        let inv =
            Inventory::from_text("big.json", &ok.join("\n"), ResourceKind::ALL).expect("valid");
        let names: Vec<&str> = inv
            .service_accounts
            .iter()
            .filter_map(|a| a.metadata.name.as_deref())
            .collect();
        assert_eq!(names.len(), 9000);
        assert!(
            names
                .iter()
                .enumerate()
                .all(|(i, n)| *n == format!("sa-{i}"))
        );
        assert_eq!(
            inv.location_of(&object_ref(&inv.service_accounts[8999]))
                .map(|l| l.line),
            Some(9000)
        );

        let mut bad = ok.clone();
        bad[6000] = broken(6000);
        bad[7000] = broken(7000);
        let err = Inventory::from_text("big.json", &bad.join("\n"), ResourceKind::ALL)
            .expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with("big.json:6001: invalid ServiceAccount \"sa-6000\""),
            "{err}"
        );
    }
}
