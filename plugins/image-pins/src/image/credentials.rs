//! Registry credentials with the kubelet's matching rules (`pkg/credentialprovider/keyring.go`):
//! keys are `host`, `host:port`, `host/path` or `*.host` globs; the scheme and a `/v1/` or
//! `/v2/` suffix are ignored; the key's path must be a prefix of the image's; the most specific
//! key is tried first; Docker Hub images fall back to `index.docker.io` credentials.
//! Sources: Docker config files (`auths`, `credsStore`, `credHelpers`) and the
//! `kubernetes.io/dockerconfigjson` / `kubernetes.io/dockercfg` Secrets of imagePullSecrets.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use serde::Deserialize;

use super::reference::{DOCKER_HUB, ImageRef};

/// A username and password (or registry token used as a password).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    pub username: String,
    pub password: String,
    /// Where it came from (for messages; never the secret itself).
    pub source: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({} from {})", self.username, self.source)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl AuthEntry {
    fn credential(&self, source: &str) -> Option<Credential> {
        let (username, password) = match (&self.username, &self.password, &self.auth) {
            (Some(u), Some(p), _) if !u.is_empty() => (u.clone(), p.clone()),
            (_, _, Some(auth)) if !auth.is_empty() => {
                // Padded or unpadded base64 are both accepted (as the kubelet does).
                let trimmed = auth.trim_end_matches('=');
                let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(trimmed)
                    .ok()?;
                let text = String::from_utf8(bytes).ok()?;
                let (u, p) = text.split_once(':')?;
                (u.to_string(), p.to_string())
            }
            _ => {
                // A registry token or an OAuth2 refresh token: sent as the password.
                let token = self
                    .registrytoken
                    .as_ref()
                    .or(self.identitytoken.as_ref())?;
                ("<token>".to_string(), token.clone())
            }
        };
        Some(Credential {
            username,
            password,
            source: source.to_string(),
        })
    }
}

/// A parsed keyring key: host (possibly with `*` labels and a port) and a path prefix.
#[derive(Debug, Clone)]
struct Key {
    original: String,
    host: String,
    port: Option<String>,
    path: String,
}

impl Key {
    fn parse(key: &str) -> Option<Key> {
        let mut value = key.trim();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = value.strip_prefix(scheme) {
                value = rest;
            }
        }
        let value = value
            .strip_suffix("/v2/")
            .or_else(|| value.strip_suffix("/v1/"))
            .unwrap_or(value)
            .trim_end_matches('/');
        let (hostport, path) = value.split_once('/').unwrap_or((value, ""));
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p.to_string())),
            _ => (hostport, None),
        };
        if host.is_empty() {
            return None;
        }
        Some(Key {
            original: key.to_string(),
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// Glob per DNS label, same label count, exact port, key path a prefix of the image path.
    fn matches(&self, host: &str, port: Option<&str>, path: &str) -> bool {
        if self.port.as_deref() != port {
            return false;
        }
        let pattern: Vec<&str> = self.host.split('.').collect();
        let labels: Vec<&str> = host.split('.').collect();
        if pattern.len() != labels.len() {
            return false;
        }
        let hosts_match = pattern
            .iter()
            .zip(&labels)
            .all(|(p, l)| glob_label(p, &l.to_ascii_lowercase()));
        hosts_match && path.starts_with(&self.path)
    }
}

/// `*` matches any run of characters inside one DNS label.
fn glob_label(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some((prefix, rest)) => {
            let Some(tail) = label.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_label(rest, &tail[i..]))
        }
    }
}

/// Credentials by key, plus credential helpers run on demand.
#[derive(Debug, Default)]
pub struct Keyring {
    entries: Vec<(Key, Credential)>,
    /// `credHelpers`: registry host → helper name.
    helpers: Vec<(Key, String)>,
    /// `credsStore`: the helper for every registry without a more specific one.
    store: Option<String>,
    helper_cache: Mutex<HashMap<(String, String), Option<Credential>>>,
}

/// Where the Docker config is: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

impl Keyring {
    /// The local Docker config; a missing file is an empty keyring, a malformed one an error.
    pub fn from_docker_config(path: Option<&Path>) -> Result<Keyring, String> {
        let mut keyring = Keyring::default();
        let Some(path) = path else {
            return Ok(keyring);
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keyring),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let config: DockerConfig = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a Docker config: {e}", path.display()))?;
        let source = path.display().to_string();
        keyring.add_auths(&config.auths, &source);
        keyring.store = config.creds_store.filter(|s| !s.is_empty());
        for (registry, helper) in &config.cred_helpers {
            if let Some(key) = Key::parse(registry) {
                keyring.helpers.push((key, helper.clone()));
            }
        }
        keyring.sort();
        Ok(keyring)
    }

    /// The data of an imagePullSecret: `.dockerconfigjson` (`{"auths": …}`) or the legacy
    /// `.dockercfg` (a bare map). `source` names the Secret.
    pub fn add_pull_secret(&mut self, data: &[u8], source: &str) -> Result<(), String> {
        #[derive(Deserialize)]
        struct Wrapped {
            auths: BTreeMap<String, AuthEntry>,
        }
        let auths = match serde_json::from_slice::<Wrapped>(data) {
            Ok(w) => w.auths,
            Err(_) => serde_json::from_slice::<BTreeMap<String, AuthEntry>>(data)
                .map_err(|e| format!("{source}: not a Docker config: {e}"))?,
        };
        self.add_auths(&auths, source);
        self.sort();
        Ok(())
    }

    fn add_auths(&mut self, auths: &BTreeMap<String, AuthEntry>, source: &str) {
        for (registry, entry) in auths {
            if let (Some(key), Some(credential)) = (Key::parse(registry), entry.credential(source))
            {
                self.entries.push((key, credential));
            }
        }
    }

    /// Most specific first: reverse order of the keys, as the kubelet sorts them.
    fn sort(&mut self) {
        self.entries.sort_by(|a, b| b.0.original.cmp(&a.0.original));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.helpers.is_empty() && self.store.is_none()
    }

    /// Every credential that applies to `image`, most specific first.
    pub fn lookup(&self, image: &ImageRef) -> Vec<Credential> {
        // `host:port`, with `[v6]:port` brackets: a colon inside the brackets is no port.
        let (host, port) = match image.domain.rsplit_once(':') {
            Some((h, p))
                if !p.contains(']') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (h.to_string(), Some(p.to_string()))
            }
            _ => (image.domain.clone(), None),
        };
        let host = host.to_ascii_lowercase();
        let path = image.path.as_str();
        let hub_hosts: &[&str] = if image.domain == DOCKER_HUB {
            &[DOCKER_HUB, "index.docker.io", "registry-1.docker.io"]
        } else {
            &[]
        };
        let matches = |key: &Key| {
            key.matches(&host, port.as_deref(), path)
                || hub_hosts
                    .iter()
                    .any(|h| key.matches(h, None, path) || key.matches(h, None, ""))
        };
        let mut found: Vec<Credential> = self
            .entries
            .iter()
            .filter(|(key, _)| matches(key))
            .map(|(_, c)| c.clone())
            .collect();
        let helper = self
            .helpers
            .iter()
            .find(|(key, _)| matches(key))
            .map(|(key, helper)| (helper.clone(), key.original.clone()))
            .or_else(|| {
                self.store.clone().map(|store| {
                    let server = if image.domain == DOCKER_HUB {
                        "https://index.docker.io/v1/".to_string()
                    } else {
                        image.domain.clone()
                    };
                    (store, server)
                })
            });
        if let Some((helper, server)) = helper
            && let Some(credential) = self.run_helper(&helper, &server)
        {
            found.push(credential);
        }
        found.dedup();
        found
    }

    /// `docker-credential-<helper> get` with the server on stdin, once per (helper, server).
    fn run_helper(&self, helper: &str, server: &str) -> Option<Credential> {
        let key = (helper.to_string(), server.to_string());
        if let Ok(cache) = self.helper_cache.lock()
            && let Some(hit) = cache.get(&key)
        {
            return hit.clone();
        }
        let result = run_credential_helper(helper, server);
        if let Ok(mut cache) = self.helper_cache.lock() {
            cache.insert(key, result.clone());
        }
        result
    }
}

fn run_credential_helper(helper: &str, server: &str) -> Option<Credential> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HelperAnswer {
        username: String,
        secret: String,
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| guardrails::run::warn(&format!("credential helper {program}: {e}")))
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        // "credentials not found" is the helper's normal answer for an unknown server.
        return None;
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout).ok()?;
    Some(Credential {
        username: answer.username,
        password: answer.secret,
        source: format!("credential helper {program}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(auths: &str) -> Keyring {
        let mut k = Keyring::default();
        k.add_pull_secret(auths.as_bytes(), "test").expect("parse");
        k
    }

    fn users(k: &Keyring, image: &str) -> Vec<String> {
        k.lookup(&ImageRef::parse(image).expect("ref"))
            .into_iter()
            .map(|c| c.username)
            .collect()
    }

    #[test]
    fn most_specific_path_first_then_host() {
        let k = keyring(
            r#"{"auths": {
              "quay.io": {"username": "host", "password": "p"},
              "quay.io/coreos": {"username": "path", "password": "p"},
              "https://other.io/v2/": {"auth": "b3RoZXI6cA=="}}}"#,
        );
        assert_eq!(users(&k, "quay.io/coreos/etcd:v3"), ["path", "host"]);
        assert_eq!(users(&k, "quay.io/prometheus/x"), ["host"]);
        assert_eq!(users(&k, "other.io/a"), ["other"]);
        assert!(users(&k, "ghcr.io/a/b").is_empty());
    }

    #[test]
    fn globs_ports_and_docker_hub() {
        let k = keyring(
            r#"{"*.example.com": {"auth": "Z2xvYjpw"},
               "localhost:5000": {"username": "local", "password": "p"},
               "https://index.docker.io/v1/": {"username": "hub", "password": "p"}}"#,
        );
        assert_eq!(users(&k, "eu.example.com/a"), ["glob"]);
        assert!(
            users(&k, "a.eu.example.com/a").is_empty(),
            "same label count"
        );
        assert_eq!(users(&k, "localhost:5000/app"), ["local"]);
        assert!(
            users(&k, "localhost:5001/app").is_empty(),
            "ports match exactly"
        );
        assert_eq!(users(&k, "nginx"), ["hub"]);
        assert_eq!(users(&k, "docker.io/bitnami/redis"), ["hub"]);
    }

    #[test]
    fn legacy_dockercfg_and_unpadded_auth() {
        // "user:pa" base64 without padding.
        let k = keyring(r#"{"registry.io": {"auth": "dXNlcjpwYQ"}}"#);
        let c = k.lookup(&ImageRef::parse("registry.io/x").expect("ref"));
        assert_eq!(
            (c[0].username.as_str(), c[0].password.as_str()),
            ("user", "pa")
        );
        let mut bad = Keyring::default();
        assert!(bad.add_pull_secret(b"[1,2]", "ns/secret").is_err());
    }

    #[test]
    fn docker_config_file_missing_is_empty_malformed_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.json");
        assert!(
            Keyring::from_docker_config(Some(&path))
                .expect("missing")
                .is_empty()
        );
        std::fs::write(&path, "{not json").expect("write");
        let err = Keyring::from_docker_config(Some(&path)).expect_err("malformed");
        assert!(err.contains("config.json"), "{err}");
    }
}

#[cfg(test)]
mod loopback_tests {
    use super::*;

    #[test]
    fn scheme_and_port_keys_match_loopback_registries() {
        let mut k = Keyring::default();
        k.add_pull_secret(
            br#"{"auths": {"http://127.0.0.1:5000": {"auth": "Y2k6czNjcmV0"}}}"#,
            "t",
        )
        .expect("parse");
        let found = k.lookup(&ImageRef::parse("127.0.0.1:5000/private/app:v1").expect("ref"));
        assert_eq!(found.len(), 1, "{k:?}");
        let mut v6 = Keyring::default();
        v6.add_pull_secret(br#"{"[::1]": {"auth": "Y2k6czNjcmV0"}}"#, "t")
            .expect("parse");
        assert_eq!(
            v6.lookup(&ImageRef::parse("[::1]/app").expect("ref")).len(),
            1
        );
        assert!(
            v6.lookup(&ImageRef::parse("[::1]:5000/app").expect("ref"))
                .is_empty()
        );
    }
}
