//! Kubeconfig files pointing clients (kubectl, the plugins) at a test API server.

use std::path::Path;

use serde_json::json;

/// Writes a kubeconfig with one cluster/user/context named `test` (the current context):
/// `server_url`, the bearer `token` (none: anonymous) and an optional namespace. An `https`
/// server is trusted through the test CA ([`crate::tls::CA_CERT_PEM`]).
/// Panics if the file cannot be written (test setup).
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    token: Option<&str>,
    namespace: Option<&str>,
) {
    let mut context = json!({"cluster": "test", "user": "test"});
    if let Some(ns) = namespace {
        context["namespace"] = json!(ns);
    }
    let user = match token {
        Some(t) => json!({"token": t}),
        None => json!({}),
    };
    let mut cluster = json!({"server": server_url});
    if server_url.starts_with("https://") {
        cluster["certificate-authority-data"] = json!(crate::tls::ca_data_base64());
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "test", "user": user}],
        "contexts": [{"name": "test", "context": context}],
        "current-context": "test",
        "preferences": {},
    });
    let text = serde_yaml_ng::to_string(&doc).expect("kubeconfig serialises as YAML");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
    }
    std::fs::write(path, text)
        .unwrap_or_else(|e| panic!("cannot write kubeconfig {}: {e}", path.display()));
}
