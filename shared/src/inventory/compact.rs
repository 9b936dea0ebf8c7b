//! Gives back the room that vector growth leaves in decoded objects. serde builds each list by
//! pushing, so a one-element list keeps room for four: a RoleBinding's single subject holds
//! 384 bytes, a Pod's single owner reference 416. Large inventories hold hundreds of thousands
//! of such lists, and only ever read them.

use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, Namespace, Pod, PodSpec, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Controller;
use crate::rbac::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};

pub(crate) trait Compact {
    fn compact(&mut self);
}

fn shrink<T>(list: &mut Vec<T>) {
    list.shrink_to_fit();
}

fn shrink_opt<T>(list: &mut Option<Vec<T>>) {
    if let Some(list) = list {
        list.shrink_to_fit();
    }
}

impl<T: Compact> Compact for Option<T> {
    fn compact(&mut self) {
        if let Some(inner) = self {
            inner.compact();
        }
    }
}

/// Types whose optional lists are shrunk in place (`verbs` and `containers` are required lists,
/// shrunk where their types are handled).
macro_rules! optional_lists {
    ($($ty:ty => $($field:ident),+;)*) => {
        $(impl Compact for $ty {
            fn compact(&mut self) {
                $(shrink_opt(&mut self.$field);)+
            }
        })*
    };
}

optional_lists! {
    ObjectMeta => owner_references, finalizers;
    RoleBinding => subjects;
    ClusterRoleBinding => subjects;
    Container => args, command, env, env_from, ports, volume_mounts;
    EphemeralContainer => args, command, env, env_from, ports, volume_mounts;
}

impl Compact for PolicyRule {
    fn compact(&mut self) {
        shrink_opt(&mut self.api_groups);
        shrink_opt(&mut self.non_resource_urls);
        shrink_opt(&mut self.resource_names);
        shrink_opt(&mut self.resources);
        shrink(&mut self.verbs);
    }
}

/// Roles of either scope: their rules and each rule's lists.
macro_rules! rule_lists {
    ($($ty:ty),*) => {
        $(impl Compact for $ty {
            fn compact(&mut self) {
                if let Some(rules) = &mut self.rules {
                    rules.shrink_to_fit();
                    rules.iter_mut().for_each(PolicyRule::compact);
                }
            }
        })*
    };
}

rule_lists!(Role, ClusterRole);

impl Compact for PodSpec {
    fn compact(&mut self) {
        shrink(&mut self.containers);
        self.containers.iter_mut().for_each(Container::compact);
        if let Some(init) = &mut self.init_containers {
            init.shrink_to_fit();
            init.iter_mut().for_each(Container::compact);
        }
        if let Some(ephemeral) = &mut self.ephemeral_containers {
            ephemeral.shrink_to_fit();
            ephemeral.iter_mut().for_each(EphemeralContainer::compact);
        }
        shrink_opt(&mut self.volumes);
        shrink_opt(&mut self.tolerations);
        shrink_opt(&mut self.image_pull_secrets);
    }
}

impl Compact for Pod {
    fn compact(&mut self) {
        self.metadata.compact();
        self.spec.compact();
    }
}

/// Kinds whose lists are few per object or not worth the walk: only their metadata.
macro_rules! metadata_only {
    ($($ty:ty),*) => {
        $(impl Compact for $ty {
            fn compact(&mut self) {
                self.metadata.compact();
            }
        })*
    };
}

metadata_only!(Namespace, ServiceAccount, Service, NetworkPolicy);

/// Controllers: their metadata and pod template.
impl<K> Compact for Controller<K> {
    fn compact(&mut self) {
        self.metadata.compact();
        if let Some(template) = &mut self.template {
            template.metadata.compact();
            if let Some(spec) = &mut template.spec {
                spec.compact();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_every_element_and_frees_the_spare_room() {
        let mut binding: RoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"b"},
                "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},
                "subjects":[{"kind":"User","name":"alice"}]}"#,
        )
        .expect("binding");
        let before = binding.clone();
        binding.compact();
        assert_eq!(binding, before);
        assert_eq!(binding.subjects.as_ref().map(Vec::capacity), Some(1));

        let mut pod: Pod = serde_json::from_str(
            r#"{"metadata":{"name":"p","ownerReferences":[{"apiVersion":"v1","kind":"X","name":"x","uid":"u"}]},
                "spec":{"containers":[{"name":"c","ports":[{"containerPort":80}]}]}}"#,
        )
        .expect("pod");
        let before = pod.clone();
        pod.compact();
        assert_eq!(pod, before);
        assert_eq!(
            pod.metadata.owner_references.as_ref().map(Vec::capacity),
            Some(1)
        );
        let ports = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers[0].ports.as_ref());
        assert_eq!(ports.map(Vec::capacity), Some(1));
    }
}
