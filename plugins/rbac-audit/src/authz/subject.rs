//! Who is asking ([`Identity`]) and whether a binding subject names them (upstream
//! `appliesToUser`).

use k8s_openapi::api::rbac::v1::Subject;
use serde::Serialize;

pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const ANONYMOUS_USER: &str = "system:anonymous";

/// An authenticated (or anonymous) user: the name and groups the authorizer sees.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// Exactly these attributes, no implicit groups (what a SubjectAccessReview spec states).
    pub fn new(user: impl Into<String>, groups: impl IntoIterator<Item = String>) -> Self {
        Identity {
            user: user.into(),
            groups: groups.into_iter().collect(),
        }
    }

    /// A ServiceAccount token's identity, with the groups the token authenticator adds.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Identity {
            user: service_account_username(namespace, name),
            groups: vec![
                ALL_SERVICE_ACCOUNTS_GROUP.into(),
                format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"),
                AUTHENTICATED_GROUP.into(),
            ],
        }
    }

    /// An authenticated user; `system:authenticated` is added as the API server does.
    pub fn user(name: impl Into<String>, groups: impl IntoIterator<Item = String>) -> Self {
        let mut id = Identity::new(name, groups);
        if !id.has_group(AUTHENTICATED_GROUP) {
            id.groups.push(AUTHENTICATED_GROUP.into());
        }
        id
    }

    pub fn anonymous() -> Self {
        Identity {
            user: ANONYMOUS_USER.into(),
            groups: vec![UNAUTHENTICATED_GROUP.into()],
        }
    }

    /// A user name as typed (e.g. `--as`): a ServiceAccount user name gets the ServiceAccount
    /// groups, anything else is a plain authenticated user.
    pub fn from_username(name: &str, extra_groups: impl IntoIterator<Item = String>) -> Self {
        let mut id = match split_service_account_username(name) {
            Some((ns, sa)) => Identity::service_account(ns, sa),
            None => Identity::user(name, []),
        };
        for g in extra_groups {
            if !id.has_group(&g) {
                id.groups.push(g);
            }
        }
        id
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// `(namespace, name)` when the user name is a ServiceAccount's.
    pub fn as_service_account(&self) -> Option<(&str, &str)> {
        split_service_account_username(&self.user)
    }
}

pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}")
}

/// Splits `system:serviceaccount:NS:NAME`; anything else (including extra colons) is `None`.
pub fn split_service_account_username(user: &str) -> Option<(&str, &str)> {
    let (ns, name) = user
        .strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?
        .split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// What a binding subject matches, once resolved against its binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SubjectKey {
    /// A user name; ServiceAccount subjects resolve to their `system:serviceaccount:` name.
    User(String),
    Group(String),
}

/// A subject resolved against its binding (`None` for ClusterRoleBindings).
#[derive(Debug, Clone)]
pub(crate) struct ResolvedSubject {
    pub key: SubjectKey,
    /// The ServiceAccount namespace came from the RoleBinding, not the subject.
    pub namespace_defaulted: bool,
}

/// Upstream `appliesToUser` without the identity: which user or group the subject names.
/// `Err` explains why it can never match anybody.
pub(crate) fn resolve_subject(
    subject: &Subject,
    binding_namespace: Option<&str>,
) -> Result<ResolvedSubject, String> {
    let plain = |key| {
        Ok(ResolvedSubject {
            key,
            namespace_defaulted: false,
        })
    };
    match subject.kind.as_str() {
        "User" => plain(SubjectKey::User(subject.name.clone())),
        "Group" => plain(SubjectKey::Group(subject.name.clone())),
        "ServiceAccount" => {
            let own = subject.namespace.as_deref().filter(|ns| !ns.is_empty());
            // Upstream defaults to the namespace being authorized, i.e. the RoleBinding's.
            let Some(ns) = own.or(binding_namespace.filter(|ns| !ns.is_empty())) else {
                return Err(format!(
                    "ServiceAccount subject {:?} has no namespace, which a ClusterRoleBinding cannot default",
                    subject.name
                ));
            };
            Ok(ResolvedSubject {
                key: SubjectKey::User(service_account_username(ns, &subject.name)),
                namespace_defaulted: own.is_none(),
            })
        }
        other => Err(format!("unsupported subject kind {other:?}")),
    }
}

/// Whether `subject` of a binding in `binding_namespace` (`None` for ClusterRoleBindings)
/// applies to `who`.
pub fn subject_applies(subject: &Subject, binding_namespace: Option<&str>, who: &Identity) -> bool {
    resolve_subject(subject, binding_namespace).is_ok_and(|r| r.key.applies_to(who))
}

impl SubjectKey {
    pub(crate) fn applies_to(&self, who: &Identity) -> bool {
        match self {
            SubjectKey::User(u) => *u == who.user,
            SubjectKey::Group(g) => who.has_group(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(v: serde_json::Value) -> Subject {
        serde_json::from_value(v).expect("valid Subject")
    }

    #[test]
    fn identity_constructors_expand_implicit_groups() {
        let sa = Identity::service_account("shop", "checkout");
        assert_eq!(sa.user, "system:serviceaccount:shop:checkout");
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:shop",
                "system:authenticated"
            ]
        );
        assert_eq!(sa.as_service_account(), Some(("shop", "checkout")));
        let alice = Identity::user("alice", ["dev".to_string()]);
        assert_eq!(alice.groups, ["dev", "system:authenticated"]);
        assert_eq!(
            Identity::user("bob", ["system:authenticated".to_string()]).groups,
            ["system:authenticated"]
        );
        let anon = Identity::anonymous();
        assert_eq!(
            (anon.user.as_str(), anon.groups.as_slice()),
            (
                "system:anonymous",
                &["system:unauthenticated".to_string()][..]
            )
        );
        assert!(Identity::new("x", []).groups.is_empty());
        assert_eq!(
            Identity::from_username("system:serviceaccount:a:b", []),
            Identity::service_account("a", "b")
        );
        assert_eq!(
            Identity::from_username("carol", ["g".to_string()]).groups,
            ["system:authenticated", "g"]
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:a:b:c"),
            None
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:a"),
            None
        );
    }

    #[test]
    fn user_subjects_match_the_exact_name() {
        let s = subject(
            json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}),
        );
        assert!(subject_applies(&s, None, &Identity::user("alice", [])));
        assert!(!subject_applies(&s, None, &Identity::user("Alice", [])));
        assert!(!subject_applies(
            &s,
            None,
            &Identity::user("bob", ["alice".to_string()])
        ));
    }

    #[test]
    fn user_subject_with_service_account_name_is_that_service_account() {
        let s = subject(json!({"kind": "User", "name": "system:serviceaccount:shop:checkout"}));
        assert!(subject_applies(
            &s,
            None,
            &Identity::service_account("shop", "checkout")
        ));
        assert!(!subject_applies(
            &s,
            None,
            &Identity::service_account("shop", "other")
        ));
    }

    #[test]
    fn group_subjects_match_any_group_including_implicit_ones() {
        let s = subject(json!({"kind": "Group", "name": "system:serviceaccounts:shop"}));
        assert!(subject_applies(
            &s,
            None,
            &Identity::service_account("shop", "any")
        ));
        assert!(!subject_applies(
            &s,
            None,
            &Identity::service_account("other", "any")
        ));
        let authn = subject(json!({"kind": "Group", "name": "system:authenticated"}));
        assert!(subject_applies(&authn, None, &Identity::user("alice", [])));
        assert!(!subject_applies(&authn, None, &Identity::anonymous()));
        assert!(!subject_applies(
            &authn,
            None,
            &Identity::new("system:serviceaccount:a:b", [])
        ));
    }

    #[test]
    fn service_account_subjects() {
        let s = subject(json!({"kind": "ServiceAccount", "name": "checkout", "namespace": "shop"}));
        assert!(subject_applies(
            &s,
            None,
            &Identity::service_account("shop", "checkout")
        ));
        assert!(subject_applies(
            &s,
            Some("other"),
            &Identity::service_account("shop", "checkout")
        ));
        assert!(!subject_applies(
            &s,
            None,
            &Identity::service_account("payments", "checkout")
        ));
        assert!(!subject_applies(&s, None, &Identity::user("checkout", [])));
        // Only the user name counts, not the groups.
        assert!(subject_applies(
            &s,
            None,
            &Identity::new("system:serviceaccount:shop:checkout", [])
        ));
    }

    #[test]
    fn service_account_without_namespace_defaults_to_the_role_binding() {
        let s = subject(json!({"kind": "ServiceAccount", "name": "checkout"}));
        let resolved = resolve_subject(&s, Some("shop")).expect("defaulted");
        assert!(resolved.namespace_defaulted);
        assert!(subject_applies(
            &s,
            Some("shop"),
            &Identity::service_account("shop", "checkout")
        ));
        assert!(!subject_applies(
            &s,
            Some("shop"),
            &Identity::service_account("other", "checkout")
        ));
        assert!(
            resolve_subject(&s, None).is_err(),
            "a ClusterRoleBinding cannot default it"
        );
        let unknown = subject(json!({"kind": "Robot", "name": "r2"}));
        assert!(resolve_subject(&unknown, Some("shop")).is_err());
    }
}
