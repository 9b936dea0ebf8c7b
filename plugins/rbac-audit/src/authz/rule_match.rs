//! Matching one `PolicyRule` against one request, as upstream's `rbac.RuleAllows` and the
//! `rbacv1helpers` matchers do.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::Request;

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// The core group is `""`, so `apiGroups: ["apps"]` never matches core resources.
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == "*" || g == group)
}

/// Upstream `ResourceMatches`: `*`, the exact `resource[/subresource]`, or `*/subresource`.
/// `combined` is `resource` or `resource/subresource`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: Option<&str>) -> bool {
    list(&rule.resources).iter().any(|r| {
        r == "*"
            || r == combined
            || subresource.is_some_and(|sub| !sub.is_empty() && r.strip_prefix("*/") == Some(sub))
    })
}

/// An empty `resourceNames` allows any name; otherwise the request must carry one of them.
/// A name-less request is compared as `""`, exactly like upstream.
pub fn resource_name_matches(rule: &PolicyRule, name: Option<&str>) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name.unwrap_or_default())
}

/// `*`, exact, or a prefix match for entries ending in `*` (all trailing `*` are trimmed).
pub fn non_resource_url_matches(rule: &PolicyRule, url: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        u == "*" || u == url || (u.ends_with('*') && url.starts_with(u.trim_end_matches('*')))
    })
}

/// Whether `rule` allows `req` (upstream `RuleAllows`). Scope (namespace, binding kind) is
/// not considered here; see [`super::RbacModel::allowed`].
pub fn rule_allows(rule: &PolicyRule, req: &Request) -> bool {
    if !verb_matches(rule, &req.verb) {
        return false;
    }
    if let Some(url) = &req.non_resource_url {
        return non_resource_url_matches(rule, url);
    }
    let sub = req.subresource.as_deref().filter(|s| !s.is_empty());
    let combined = match sub {
        Some(sub) => format!("{}/{sub}", req.resource),
        None => req.resource.clone(),
    };
    api_group_matches(rule, &req.api_group)
        && resource_matches(rule, &combined, sub)
        && resource_name_matches(rule, req.name.as_deref())
}

/// Whether `rule` grants `verb` on `api_group`/`resource` (`resource` may be `res/sub`) for at
/// least some object names, i.e. ignoring `resourceNames`.
pub fn rule_covers(rule: &PolicyRule, verb: &str, api_group: &str, resource: &str) -> bool {
    let sub = resource.split_once('/').map(|(_, s)| s);
    verb_matches(rule, verb)
        && api_group_matches(rule, api_group)
        && resource_matches(rule, resource, sub)
}

/// Verbs whose requests never carry an object name, so `resourceNames` cannot restrict them:
/// a rule with `resourceNames` simply never grants them.
pub fn verbs_unrestrictable_by_resource_names() -> &'static [&'static str] {
    &["create", "deletecollection"]
}

/// Resource entries that look like wildcards but are matched literally by the authorizer,
/// e.g. `pods/*`, `*/*`, `deploy*`: only `*` and `*/<subresource>` are real wildcards.
pub fn ineffective_resource_patterns(rule: &PolicyRule) -> Vec<String> {
    list(&rule.resources)
        .iter()
        .filter(|r| {
            r.contains('*')
                && r.as_str() != "*"
                && !r
                    .strip_prefix("*/")
                    .is_some_and(|sub| !sub.is_empty() && !sub.contains(['*', '/']))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).expect("valid PolicyRule")
    }

    fn req(verb: &str, group: &str, resource: &str) -> Request {
        Request::resource(verb, group, resource)
    }

    #[test]
    fn verbs_wildcard_or_exact() {
        let r = rule(json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(rule_allows(&r, &req("get", "", "pods")));
        assert!(!rule_allows(&r, &req("delete", "", "pods")));
        assert!(
            !rule_allows(&r, &req("GET", "", "pods")),
            "verbs are case-sensitive"
        );
        let all = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(rule_allows(&all, &req("escalate", "", "pods")));
    }

    #[test]
    fn api_groups_wildcard_exact_and_core() {
        let apps = rule(json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["*"]}));
        assert!(rule_allows(&apps, &req("get", "apps", "deployments")));
        assert!(
            !rule_allows(&apps, &req("get", "", "pods")),
            "apps does not include core"
        );
        let core = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*"]}));
        assert!(rule_allows(&core, &req("get", "", "pods")));
        assert!(!rule_allows(&core, &req("get", "apps", "deployments")));
        let any = rule(json!({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}));
        assert!(rule_allows(&any, &req("get", "", "pods")));
        assert!(rule_allows(&any, &req("get", "example.com", "widgets")));
        let none = rule(json!({"verbs": ["get"], "resources": ["*"]}));
        assert!(
            !rule_allows(&none, &req("get", "", "pods")),
            "missing apiGroups matches nothing"
        );
    }

    #[test]
    fn resources_star_matches_subresources() {
        let r = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["*"]}));
        assert!(rule_allows(&r, &req("get", "", "pods")));
        assert!(rule_allows(
            &r,
            &req("create", "", "pods").with_subresource("exec")
        ));
    }

    #[test]
    fn resources_exact_and_subresource() {
        let r = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods", "pods/log"]}));
        assert!(rule_allows(&r, &req("get", "", "pods")));
        assert!(rule_allows(
            &r,
            &req("get", "", "pods").with_subresource("log")
        ));
        assert!(
            !rule_allows(&r, &req("create", "", "pods").with_subresource("exec")),
            "pods does not cover pods/exec"
        );
        let sub_only = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods/exec"]}));
        assert!(!rule_allows(&sub_only, &req("get", "", "pods")));
        assert!(rule_allows(
            &sub_only,
            &req("create", "", "pods").with_subresource("exec")
        ));
    }

    #[test]
    fn star_slash_subresource_matches_any_resource() {
        let r = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}));
        assert!(rule_allows(
            &r,
            &req("update", "apps", "deployments").with_subresource("scale")
        ));
        assert!(rule_allows(
            &r,
            &req("update", "", "replicationcontrollers").with_subresource("scale")
        ));
        assert!(!rule_allows(&r, &req("update", "apps", "deployments")));
        assert!(!rule_allows(
            &r,
            &req("update", "apps", "deployments").with_subresource("status")
        ));
    }

    #[test]
    fn resource_slash_star_is_literal() {
        let r = rule(
            json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods/*", "*/*", "pod*", "*/status"]}),
        );
        assert!(!rule_allows(
            &r,
            &req("create", "", "pods").with_subresource("exec")
        ));
        assert!(!rule_allows(&r, &req("get", "", "pods")));
        assert!(!rule_allows(
            &r,
            &req("get", "", "pods").with_subresource("log")
        ));
        assert_eq!(ineffective_resource_patterns(&r), ["pods/*", "*/*", "pod*"]);
        let fine =
            rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["*", "pods", "*/exec"]}));
        assert!(ineffective_resource_patterns(&fine).is_empty());
    }

    #[test]
    fn resource_names_restrict_named_requests_only() {
        let r = rule(
            json!({"verbs": ["*"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a", "b"]}),
        );
        assert!(rule_allows(&r, &req("get", "", "secrets").with_name("a")));
        assert!(!rule_allows(&r, &req("get", "", "secrets").with_name("c")));
        for verb in verbs_unrestrictable_by_resource_names() {
            assert!(!rule_allows(&r, &req(verb, "", "secrets")), "{verb}");
        }
        // list/watch are name-less unless the request names an object (fieldSelector metadata.name).
        assert!(!rule_allows(&r, &req("list", "", "secrets")));
        assert!(!rule_allows(&r, &req("watch", "", "secrets")));
        assert!(rule_allows(&r, &req("list", "", "secrets").with_name("b")));
        let open = rule(
            json!({"verbs": ["*"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": []}),
        );
        assert!(rule_allows(&open, &req("list", "", "secrets")));
        assert!(rule_allows(
            &open,
            &req("get", "", "secrets").with_name("x")
        ));
        assert_eq!(
            verbs_unrestrictable_by_resource_names(),
            ["create", "deletecollection"]
        );
    }

    #[test]
    fn non_resource_urls() {
        let r =
            rule(json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*", "/logs**"]}));
        assert!(rule_allows(&r, &Request::non_resource("get", "/healthz")));
        assert!(!rule_allows(
            &r,
            &Request::non_resource("get", "/healthz/etcd")
        ));
        assert!(rule_allows(
            &r,
            &Request::non_resource("get", "/apis/apps/v1")
        ));
        assert!(rule_allows(&r, &Request::non_resource("get", "/apis/")));
        assert!(!rule_allows(&r, &Request::non_resource("get", "/apis")));
        assert!(rule_allows(&r, &Request::non_resource("get", "/logs/x")));
        assert!(!rule_allows(&r, &Request::non_resource("post", "/healthz")));
        let all = rule(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
        assert!(rule_allows(
            &all,
            &Request::non_resource("get", "/anything")
        ));
        // Resource rules never match non-resource requests and vice versa.
        let res = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        assert!(!rule_allows(
            &res,
            &Request::non_resource("get", "/metrics")
        ));
        assert!(!rule_allows(&all, &req("get", "", "pods")));
    }

    #[test]
    fn covers_ignores_resource_names() {
        let r = rule(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets", "pods/exec"], "resourceNames": ["x"]}),
        );
        assert!(rule_covers(&r, "get", "", "secrets"));
        assert!(rule_covers(&r, "get", "", "pods/exec"));
        assert!(!rule_covers(&r, "get", "", "pods"));
        assert!(!rule_covers(&r, "list", "", "secrets"));
        assert!(!rule_covers(&r, "get", "apps", "secrets"));
        let star_sub = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["*/exec"]}));
        assert!(rule_covers(&star_sub, "create", "", "pods/exec"));
    }
}
