//! An offline RBAC evaluator with the Kubernetes RBAC authorizer's exact semantics
//! (`pkg/registry/rbac/validation`, `plugin/pkg/auth/authorizer/rbac`, and the
//! clusterrole-aggregation controller): pure functions over k8s-openapi types, no I/O.
//!
//! Only RBAC is modelled: other authorizers (Node, webhooks, the `system:masters`
//! short-circuit) can allow more than [`RbacModel::allowed`] reports.

mod aggregation;
mod model;
mod request;
mod rule_match;
mod subject;

#[cfg(test)]
mod recordings_tests;

pub use aggregation::{EffectiveRule, same_rule};
pub use model::{
    BindingKind, BindingRef, DEFAULT_NAMESPACE, DanglingRef, Grant, IneffectiveSubject, RbacInput,
    RbacModel, RoleRefResolved, Scope, SubjectGrants,
};
pub use request::Request;
pub use rule_match::{
    api_group_matches, ineffective_resource_patterns, non_resource_url_matches, resource_matches,
    resource_name_matches, rule_allows, rule_covers, verb_matches,
    verbs_unrestrictable_by_resource_names,
};
pub(crate) use subject::SubjectKey;
pub use subject::{
    ALL_SERVICE_ACCOUNTS_GROUP, ANONYMOUS_USER, AUTHENTICATED_GROUP, Identity,
    SERVICE_ACCOUNT_USER_PREFIX, UNAUTHENTICATED_GROUP, service_account_username,
    split_service_account_username, subject_applies,
};
