//! Pod-creating controllers as the inventory keeps them: their metadata and pod template.
//!
//! Decoded, each of k8s-openapi's controller types carries a whole `PodSpec` inline (1.4 KB
//! even when unset, or kept as text) next to a selector, a strategy and a status that no
//! analysis reads: 2.4–2.9 KB an object before any of its own data, and a label map (about
//! 600 bytes) for the selector alone. Kept as a [`Controller`], one is about 740 bytes; at
//! 50,000 workloads that is roughly 100 MB less memory to fault in.

use std::marker::PhantomData;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ListableResource, Metadata, Resource};
use serde::{Deserialize, Deserializer};

/// A controller of kind `K` (Deployment, StatefulSet, …): what workloads read of it. It
/// decodes from the kind's own JSON, so errors name the same fields as `K` would.
#[derive(Debug, Clone)]
pub struct Controller<K> {
    pub metadata: ObjectMeta,
    /// `None` when the object has none (optional in ReplicaSets and CronJobs), and once the
    /// template is folded into an owner that the inventory holds.
    pub template: Option<PodTemplate>,
    kind: PhantomData<fn() -> K>,
}

/// A controller's pod template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodTemplate {
    /// Labels and annotations of the pods it creates.
    pub metadata: Option<ObjectMeta>,
    /// `None` when absent, or while kept as JSON text (see `Inventory::spec_texts`).
    pub spec: Option<Box<PodSpec>>,
}

/// A controller kind: where its pod template is.
pub trait PodTemplated: Resource {
    /// The object's metadata and pod template.
    fn into_parts(self) -> (ObjectMeta, Option<PodTemplateSpec>);
}

macro_rules! pod_templated {
    ($($ty:ty => |$spec:ident| $template:expr),* $(,)?) => {
        $(impl PodTemplated for $ty {
            fn into_parts(self) -> (ObjectMeta, Option<PodTemplateSpec>) {
                let $spec = self.spec;
                (self.metadata, $template)
            }
        })*
    };
}

pod_templated! {
    Deployment => |spec| spec.map(|s| s.template),
    StatefulSet => |spec| spec.map(|s| s.template),
    DaemonSet => |spec| spec.map(|s| s.template),
    ReplicaSet => |spec| spec.and_then(|s| s.template),
    ReplicationController => |spec| spec.and_then(|s| s.template),
    Job => |spec| spec.map(|s| s.template),
    CronJob => |spec| spec.and_then(|s| s.job_template.spec).map(|s| s.template),
}

impl<K: PodTemplated> From<K> for Controller<K> {
    fn from(object: K) -> Self {
        let (metadata, template) = object.into_parts();
        Controller {
            metadata,
            template: template.map(|t| PodTemplate {
                metadata: t.metadata,
                spec: t.spec.map(Box::new),
            }),
            kind: PhantomData,
        }
    }
}

impl<'de, K: PodTemplated + Deserialize<'de>> Deserialize<'de> for Controller<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        K::deserialize(deserializer).map(Controller::from)
    }
}

impl<K: Resource> Resource for Controller<K> {
    const API_VERSION: &'static str = K::API_VERSION;
    const GROUP: &'static str = K::GROUP;
    const KIND: &'static str = K::KIND;
    const VERSION: &'static str = K::VERSION;
    const URL_PATH_SEGMENT: &'static str = K::URL_PATH_SEGMENT;
    type Scope = K::Scope;
}

impl<K: ListableResource> ListableResource for Controller<K> {
    const LIST_KIND: &'static str = K::LIST_KIND;
}

impl<K: Resource> Metadata for Controller<K> {
    type Ty = ObjectMeta;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_metadata_and_template_of_every_kind() {
        let template = serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"serviceAccountName": "web", "containers": [{"name": "c", "image": "i"}]}
        });
        let meta = serde_json::json!({"name": "x", "namespace": "ns", "labels": {"team": "a"}});
        fn check<K: PodTemplated + serde::de::DeserializeOwned>(object: serde_json::Value) {
            let kept: Controller<K> = serde_json::from_value(object).expect("decodes");
            assert_eq!(kept.metadata.name.as_deref(), Some("x"), "{}", K::KIND);
            let template = kept.template.expect("template kept");
            let labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
            assert_eq!(labels.get("app").map(String::as_str), Some("web"));
            let spec = template.spec.expect("spec kept");
            assert_eq!(spec.service_account_name.as_deref(), Some("web"));
        }
        let selector = serde_json::json!({"matchLabels": {"app": "web"}});
        let spec = serde_json::json!({"selector": selector, "template": template});
        check::<Deployment>(serde_json::json!({"metadata": meta, "spec": spec}));
        check::<StatefulSet>(serde_json::json!({"metadata": meta, "spec": spec}));
        check::<DaemonSet>(serde_json::json!({"metadata": meta, "spec": spec}));
        check::<ReplicaSet>(serde_json::json!({"metadata": meta, "spec": spec}));
        check::<Job>(serde_json::json!({"metadata": meta, "spec": {"template": template}}));
        check::<ReplicationController>(
            serde_json::json!({"metadata": meta, "spec": {"template": template}}),
        );
        check::<CronJob>(serde_json::json!({"metadata": meta, "spec": {
            "schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}));
    }

    #[test]
    fn decode_errors_are_the_kinds_own() {
        let bad = serde_json::json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": 3}}}});
        let ours = serde_json::from_value::<Controller<Deployment>>(bad.clone()).err();
        let theirs = serde_json::from_value::<Deployment>(bad).err();
        assert_eq!(ours.map(|e| e.to_string()), theirs.map(|e| e.to_string()));
    }

    #[test]
    fn is_far_smaller_than_the_kinds_it_keeps() {
        let kept = std::mem::size_of::<Controller<CronJob>>();
        assert!(kept * 3 < std::mem::size_of::<CronJob>(), "{kept} bytes");
        assert!(kept * 3 < std::mem::size_of::<Deployment>(), "{kept} bytes");
    }
}
