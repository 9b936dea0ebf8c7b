//! The attributes of one API request, as the RBAC authorizer sees them.

use serde::Serialize;

/// A resource request (`non_resource_url` is `None`) or a non-resource request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Request {
    pub verb: String,
    /// `""` is the core group.
    pub api_group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub name: Option<String>,
    /// `None` = cluster scope (cluster-scoped resources, or all namespaces).
    pub namespace: Option<String>,
    pub non_resource_url: Option<String>,
}

impl Request {
    pub fn resource(verb: &str, api_group: &str, resource: &str) -> Self {
        Request {
            verb: verb.into(),
            api_group: api_group.into(),
            resource: resource.into(),
            ..Default::default()
        }
    }

    pub fn non_resource(verb: &str, url: &str) -> Self {
        Request {
            verb: verb.into(),
            non_resource_url: Some(url.into()),
            ..Default::default()
        }
    }

    pub fn with_subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.into());
        self
    }

    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn is_resource_request(&self) -> bool {
        self.non_resource_url.is_none()
    }

    /// The namespace RoleBindings are looked up in: none for non-resource requests, which
    /// only ClusterRoleBindings can grant.
    pub fn scope_namespace(&self) -> Option<&str> {
        self.namespace
            .as_deref()
            .filter(|ns| !ns.is_empty() && self.is_resource_request())
    }

    /// Parses a kubectl-style resource argument: `secrets`, `pods/exec`, `deployments.apps`,
    /// `deployments.v1.apps`, `deployments.apps/scale`, or a non-resource URL such as `/metrics`.
    /// Short names (`po`) need discovery and are not resolved here.
    pub fn parse_resource(
        verb: &str,
        resource_arg: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Request, String> {
        let verb = verb.trim();
        let arg = resource_arg.trim();
        let name = name.filter(|n| !n.is_empty());
        let namespace = namespace.filter(|n| !n.is_empty());
        if verb.is_empty() {
            return Err("the verb must not be empty".into());
        }
        if arg.starts_with('/') {
            if name.is_some() {
                return Err(format!(
                    "a non-resource URL ({arg}) cannot have a resource name"
                ));
            }
            return Ok(Request::non_resource(verb, arg));
        }
        let (res_group, subresource) = match arg.split_once('/') {
            None => (arg, None),
            Some((_, sub)) if sub.is_empty() || sub.contains('/') => {
                return Err(format!(
                    "invalid resource {arg:?}: expected RESOURCE[.GROUP][/SUBRESOURCE]"
                ));
            }
            Some((rg, sub)) => (rg, Some(sub)),
        };
        let (resource, group) = res_group.split_once('.').unwrap_or((res_group, ""));
        if resource.is_empty() || res_group.ends_with('.') {
            return Err(format!(
                "invalid resource {arg:?}: expected RESOURCE[.GROUP][/SUBRESOURCE]"
            ));
        }
        // `deployments.v1.apps` names a version too; RBAC only cares about the group.
        let group = match group.split_once('.') {
            Some((version, rest)) if is_version(version) => rest,
            _ => group,
        };
        let mut req = Request::resource(verb, group, resource);
        req.subresource = subresource.map(Into::into);
        req.name = name.map(Into::into);
        req.namespace = namespace.map(Into::into);
        // The API server files `GET /api/v1/namespaces/NAME` under namespace NAME, so a
        // RoleBinding in that namespace can grant it.
        if req.namespace.is_none() && group.is_empty() && resource == "namespaces" {
            req.namespace = req.name.clone();
        }
        Ok(req)
    }
}

/// `v1`, `v2beta1`, `v1alpha3`, …
fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.len() == rest.len() {
        return false;
    }
    match digits
        .strip_prefix("alpha")
        .or_else(|| digits.strip_prefix("beta"))
    {
        Some(n) => !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()),
        None => digits.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arg: &str) -> Request {
        Request::parse_resource("get", arg, None, Some("shop")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_resource_forms() {
        assert_eq!(
            parse("secrets"),
            Request::resource("get", "", "secrets").in_namespace("shop")
        );
        assert_eq!(
            parse("pods/exec"),
            Request::resource("get", "", "pods")
                .with_subresource("exec")
                .in_namespace("shop")
        );
        assert_eq!(
            parse("deployments.apps"),
            Request::resource("get", "apps", "deployments").in_namespace("shop")
        );
        assert_eq!(
            parse("deployments.apps/scale"),
            Request::resource("get", "apps", "deployments")
                .with_subresource("scale")
                .in_namespace("shop")
        );
        assert_eq!(parse("deployments.v1.apps").api_group, "apps");
        assert_eq!(
            parse("ingresses.networking.k8s.io").api_group,
            "networking.k8s.io"
        );
        assert_eq!(parse("hpa.v2beta2.autoscaling").api_group, "autoscaling");
        assert_eq!(
            parse("widgets.v1").api_group,
            "v1",
            "a lone version-like suffix is a group"
        );
    }

    #[test]
    fn parses_non_resource_urls_and_names() {
        let r = Request::parse_resource("get", "/metrics", None, Some("shop")).expect("url");
        assert_eq!(r, Request::non_resource("get", "/metrics"));
        assert!(!r.is_resource_request());
        assert_eq!(r.scope_namespace(), None);
        assert!(Request::parse_resource("get", "/metrics", Some("x"), None).is_err());
        let named = Request::parse_resource("get", "secrets", Some("tls"), None).expect("named");
        assert_eq!(named.name.as_deref(), Some("tls"));
        assert_eq!(named.namespace, None);
        let ns = Request::parse_resource("get", "namespaces", Some("shop"), None).expect("ns");
        assert_eq!(ns.scope_namespace(), Some("shop"));
    }

    #[test]
    fn rejects_malformed_arguments() {
        for bad in ["", "pods/", "pods/a/b", ".apps", "deployments."] {
            let res = Request::parse_resource("get", bad, None, None);
            assert!(res.is_err(), "{bad:?} -> {res:?}");
        }
        assert!(Request::parse_resource(" ", "pods", None, None).is_err());
    }
}
