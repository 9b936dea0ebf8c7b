//! Cluster access resolved like kubectl: kubeconfig from `--kubeconfig`, `$KUBECONFIG` (merged
//! list) or `~/.kube/config`, in-cluster as a last resort; context/cluster/user overrides,
//! impersonation and request timeouts; the namespace scope from `-n`/`-A`/the context.

use kube::config::{Config, KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::cli::{ClusterArgs, ScopeArgs};
use crate::error::{Error, Result};

/// A connected client and what it points at.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub context: Option<String>,
    pub server: String,
    /// The context's namespace (`default` when the context names none).
    pub default_namespace: String,
}

/// The namespaces a command looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    All,
    One(String),
}

impl NamespaceScope {
    /// `-A` wins over `-n`; without either, live mode uses the context's namespace and offline
    /// mode (no context) looks at everything in the files.
    pub fn resolve(scope: &ScopeArgs, default_namespace: Option<&str>) -> NamespaceScope {
        if scope.all_namespaces {
            return NamespaceScope::All;
        }
        match (&scope.namespace, default_namespace) {
            (Some(ns), _) => NamespaceScope::One(ns.clone()),
            (None, Some(ns)) => NamespaceScope::One(ns.to_string()),
            (None, None) => NamespaceScope::All,
        }
    }

    pub fn includes(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (NamespaceScope::All, _) => true,
            // Cluster-scoped objects apply to every namespace.
            (NamespaceScope::One(_), None) => true,
            (NamespaceScope::One(want), Some(ns)) => want == ns,
        }
    }

    pub fn as_option(&self) -> Option<&str> {
        match self {
            NamespaceScope::All => None,
            NamespaceScope::One(ns) => Some(ns),
        }
    }
}

fn kubeconfig_error(e: KubeconfigError) -> Error {
    let text = e.to_string();
    Error::Kubeconfig(text.replace('\n', " "))
}

fn read_kubeconfig(args: &ClusterArgs) -> Result<Option<Kubeconfig>> {
    if let Some(path) = &args.kubeconfig {
        if !path.exists() {
            return Err(Error::Kubeconfig(format!(
                "{}: no such file",
                path.display()
            )));
        }
        return Kubeconfig::read_from(path).map(Some).map_err(|e| {
            Error::Kubeconfig(format!(
                "{}: {}",
                path.display(),
                e.to_string().replace('\n', " ")
            ))
        });
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let existing: Vec<_> = std::env::split_paths(&list)
            .filter(|p| p.exists())
            .collect();
        if existing.is_empty() {
            return Err(Error::Kubeconfig(format!(
                "none of the files in KUBECONFIG exist ({})",
                list.to_string_lossy()
            )));
        }
        return Kubeconfig::read().map(Some).map_err(kubeconfig_error);
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    match home
        .map(|h| h.join(".kube").join("config"))
        .filter(|p| p.exists())
    {
        Some(path) => Kubeconfig::read_from(&path)
            .map(Some)
            .map_err(kubeconfig_error),
        None => Ok(None),
    }
}

/// Builds the client. Nothing is contacted yet; the first request reports unreachability.
pub async fn connect(args: &ClusterArgs) -> Result<Cluster> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        cluster: args.cluster.clone(),
        user: args.user.clone(),
    };
    let (mut config, context) = match read_kubeconfig(args)? {
        Some(kubeconfig) => {
            let context = options
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone());
            if let Some(wanted) = &options.context
                && !kubeconfig.contexts.iter().any(|c| &c.name == wanted)
            {
                return Err(Error::Kubeconfig(format!(
                    "context {wanted:?} not found in the kubeconfig"
                )));
            }
            if context.is_none() {
                return Err(Error::Kubeconfig(
                    "no current context set; pass --context".into(),
                ));
            }
            let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(kubeconfig_error)?;
            (config, context)
        }
        None => match Config::incluster() {
            Ok(config) => (config, None),
            Err(_) => {
                return Err(Error::Kubeconfig(
                    "no kubeconfig found (looked at --kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster"
                        .into(),
                ));
            }
        },
    };
    if let Some(user) = &args.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !args.as_group.is_empty() {
        config.auth_info.impersonate_groups = Some(args.as_group.clone());
    }
    if let Some(timeout) = args.request_timeout.filter(|t| !t.is_zero()) {
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.connect_timeout = Some(timeout);
    }
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let default_namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| Error::Cluster {
        server: server.clone(),
        message: describe_kube_error(&e),
    })?;
    Ok(Cluster {
        client,
        context,
        server,
        default_namespace,
    })
}

/// One line for a kube error: the API server's own message where there is one.
pub fn describe_kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", status.reason)
            };
            format!("{}{reason}", status.message)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                msg = s.to_string();
                source = s.source();
            }
            format!("cannot reach the API server: {msg}")
        }
        kube::Error::Auth(inner) => format!("authentication failed: {inner}"),
        other => other.to_string().replace('\n', " "),
    }
}

impl Cluster {
    /// A cluster-level error for this cluster (unreachable, unauthenticated, …).
    pub fn error(&self, e: &kube::Error) -> Error {
        Error::Cluster {
            server: self.server.clone(),
            message: describe_kube_error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_resolution_follows_kubectl() {
        let mut s = ScopeArgs {
            namespace: Some("shop".into()),
            ..Default::default()
        };
        assert_eq!(
            NamespaceScope::resolve(&s, Some("default")),
            NamespaceScope::One("shop".into())
        );
        s.all_namespaces = true;
        assert_eq!(
            NamespaceScope::resolve(&s, Some("default")),
            NamespaceScope::All
        );
        let none = ScopeArgs::default();
        assert_eq!(
            NamespaceScope::resolve(&none, Some("dev")),
            NamespaceScope::One("dev".into())
        );
        assert_eq!(NamespaceScope::resolve(&none, None), NamespaceScope::All);
        assert!(NamespaceScope::One("a".into()).includes(None));
        assert!(!NamespaceScope::One("a".into()).includes(Some("b")));
    }
}
