//! RBAC objects as the suite keeps them: what the authorizer reads (`roleRef`, `subjects`,
//! `rules`, `aggregationRule`) and the metadata findings name (name, namespace, labels). A
//! k8s-openapi `ObjectMeta` is about 400 bytes, nearly all empty fields, and large clusters
//! have 100,000 RBAC objects; these read the same JSON and YAML, and ignore the rest.

use std::collections::BTreeMap;

pub use k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule, RoleRef, Subject};
use serde::{Deserialize, Serialize};

/// The metadata kept of an RBAC object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RbacMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Declares one kept RBAC kind with the k8s-openapi traits the inventory and the live lists
/// rely on (same constants as k8s-openapi's type of that kind).
macro_rules! rbac_kind {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $plural:literal, $scope:ident { $($(#[$field_attr:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[serde(default)]
            pub metadata: RbacMeta,
            $($(#[$field_attr])* pub $field: $ty,)*
        }

        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = "rbac.authorization.k8s.io/v1";
            const GROUP: &'static str = "rbac.authorization.k8s.io";
            const KIND: &'static str = $kind;
            const VERSION: &'static str = "v1";
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = concat!($kind, "List");
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = RbacMeta;
            fn metadata(&self) -> &RbacMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut RbacMeta {
                &mut self.metadata
            }
        }
    };
}

rbac_kind!(
    /// A namespaced set of rules.
    Role, "Role", "roles", NamespaceResourceScope {
        #[serde(default)]
        rules: Option<Vec<PolicyRule>>,
    }
);

rbac_kind!(
    /// A cluster-wide set of rules, possibly aggregated from other ClusterRoles.
    ClusterRole, "ClusterRole", "clusterroles", ClusterResourceScope {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aggregation_rule: Option<AggregationRule>,
        #[serde(default)]
        rules: Option<Vec<PolicyRule>>,
    }
);

rbac_kind!(
    /// Grants a Role or ClusterRole within one namespace.
    RoleBinding, "RoleBinding", "rolebindings", NamespaceResourceScope {
        role_ref: RoleRef,
        #[serde(default)]
        subjects: Option<Vec<Subject>>,
    }
);

rbac_kind!(
    /// Grants a ClusterRole cluster-wide.
    ClusterRoleBinding, "ClusterRoleBinding", "clusterrolebindings", ClusterResourceScope {
        role_ref: RoleRef,
        #[serde(default)]
        subjects: Option<Vec<Subject>>,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::Resource;

    /// The kept form reads what k8s-openapi's reads, ignores what it does not keep, and
    /// declares the same API coordinates.
    #[test]
    fn reads_like_the_full_type() {
        let json = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
            "metadata":{"name":"b","namespace":"ns","labels":{"team":"a"},"uid":"u","annotations":{"x":"y"},
            "managedFields":[{"manager":"kubectl"}]},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},
            "subjects":[{"kind":"User","name":"alice","apiGroup":"rbac.authorization.k8s.io"}]}"#;
        let kept: RoleBinding = serde_json::from_str(json).expect("kept");
        let full: k8s_openapi::api::rbac::v1::RoleBinding =
            serde_json::from_str(json).expect("full");
        assert_eq!(kept.metadata.name, full.metadata.name);
        assert_eq!(kept.metadata.namespace, full.metadata.namespace);
        assert_eq!(kept.metadata.labels, full.metadata.labels);
        assert_eq!(kept.role_ref, full.role_ref);
        assert_eq!(kept.subjects, full.subjects);
        assert_eq!(
            RoleBinding::URL_PATH_SEGMENT,
            k8s_openapi::api::rbac::v1::RoleBinding::URL_PATH_SEGMENT
        );
        assert_eq!(
            <ClusterRole as k8s_openapi::ListableResource>::LIST_KIND,
            <k8s_openapi::api::rbac::v1::ClusterRole as k8s_openapi::ListableResource>::LIST_KIND
        );
        assert!(std::mem::size_of::<RoleBinding>() < std::mem::size_of_val(&full) / 2);

        let missing_role_ref = r#"{"metadata":{"name":"b"},"subjects":[]}"#;
        assert!(serde_json::from_str::<RoleBinding>(missing_role_ref).is_err());
    }
}
