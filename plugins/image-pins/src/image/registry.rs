//! Tag → digest against the registry itself (OCI distribution API): one ping per registry to
//! learn its auth scheme, then `HEAD /v2/<name>/manifests/<ref>` with all four manifest media
//! types accepted, reading `Docker-Content-Digest`; a `GET` hashed with sha256 only when the
//! header is missing. Multi-arch images resolve to the index digest. One HTTP connection pool
//! per registry, bounded concurrency, Basic and Bearer (token) challenges, plain HTTP only for
//! registries the user names as insecure.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OnceCell};

use super::credentials::{Credential, Keyring};
use super::reference::ImageRef;

/// The Accept list: OCI index, Docker manifest list, OCI manifest, Docker v2 manifest. Without
/// the first two a registry may answer 404 (distribution 2.8 for OCI content) or down-convert.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Schema 1 manifests: their digest is not what containerd pulls (kbld#19, #21).
const SCHEMA1_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// How a tag failed to resolve; each names what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", content = "message", rename_all = "kebab-case")]
pub enum ResolveError {
    #[error("repository {0} not found in the registry")]
    UnknownRepository(String),
    #[error("tag or digest {0} not found in the repository")]
    UnknownTag(String),
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    #[error("registry unreachable: {0}")]
    Unreachable(String),
    #[error("registry answered {0}")]
    Registry(String),
    #[error("the registry serves a schema 1 manifest ({0}); its digest cannot be pinned reliably")]
    Unpinnable(String),
}

/// A resolved reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    pub digest: String,
    pub media_type: Option<String>,
}

/// Requests sent, by kind (the benchmark reports them; tests assert on them).
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub pings: AtomicUsize,
    pub tokens: AtomicUsize,
    pub heads: AtomicUsize,
    pub gets: AtomicUsize,
}

impl RequestCounts {
    pub fn total(&self) -> usize {
        [&self.pings, &self.tokens, &self.heads, &self.gets]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Requests in flight at once, over all registries.
    pub concurrency: usize,
    pub timeout: Duration,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            insecure_registries: Vec::new(),
            concurrency: 16,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the registry's `/v2/` said about authentication.
#[derive(Debug, Clone)]
enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// A bearer token fetched once and shared by every request needing it.
type TokenCell = Arc<OnceCell<Result<String, ResolveError>>>;

/// One registry: its connection pool and what its ping said.
struct Registry {
    base: String,
    http: reqwest::Client,
    challenge: OnceCell<Result<Challenge, ResolveError>>,
    /// Bearer tokens by (scope, username).
    tokens: Mutex<HashMap<(String, String), TokenCell>>,
}

/// Resolves references; cheap to share (`Arc`), one per run.
pub struct Resolver {
    options: ResolverOptions,
    keyring: Keyring,
    registries: std::sync::Mutex<HashMap<String, Arc<Registry>>>,
    pub counts: RequestCounts,
}

impl Resolver {
    pub fn new(options: ResolverOptions, keyring: Keyring) -> Resolver {
        Resolver {
            options,
            keyring,
            registries: std::sync::Mutex::new(HashMap::new()),
            counts: RequestCounts::default(),
        }
    }

    /// Resolves every request at most `concurrency` at a time; results in input order. Each
    /// request carries extra credentials (the pull secrets of the workloads using it).
    pub async fn resolve_all(
        &self,
        requests: &[(ImageRef, Vec<Credential>)],
    ) -> Vec<Result<Resolved, ResolveError>> {
        futures::stream::iter(requests.iter())
            .map(|(image, extra)| self.resolve(image, extra))
            .buffered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    /// Tries the given credentials, then the keyring's, then anonymous access; the first
    /// answer that is not an authentication failure wins.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        extra: &[Credential],
    ) -> Result<Resolved, ResolveError> {
        let registry = self.registry(image.api_host())?;
        let mut candidates: Vec<Option<&Credential>> = extra.iter().map(Some).collect();
        let from_keyring = self.keyring.lookup(image);
        candidates.extend(from_keyring.iter().map(Some));
        candidates.push(None);
        let mut last_auth_error = None;
        for (i, credential) in candidates.iter().enumerate() {
            if credential.is_some() && candidates[..i].contains(credential) {
                continue;
            }
            match self.resolve_with(&registry, image, *credential).await {
                Err(ResolveError::Unauthorized(message)) => {
                    let who = credential
                        .map(|c| format!("as {} ({})", c.username, c.source))
                        .unwrap_or_else(|| "anonymously".into());
                    // The first refusal is the telling one (the most specific credential).
                    last_auth_error
                        .get_or_insert(ResolveError::Unauthorized(format!("{message} {who}")));
                }
                other => return other,
            }
        }
        Err(last_auth_error.unwrap_or_else(|| ResolveError::Unauthorized("no credentials".into())))
    }

    fn registry(&self, host: &str) -> Result<Arc<Registry>, ResolveError> {
        let mut registries = self
            .registries
            .lock()
            .map_err(|_| ResolveError::Registry("internal lock poisoned".into()))?;
        if let Some(r) = registries.get(host) {
            return Ok(Arc::clone(r));
        }
        let scheme = if self.options.insecure_registries.iter().any(|r| r == host) {
            "http"
        } else {
            "https"
        };
        let http = reqwest::Client::builder()
            .timeout(self.options.timeout)
            .pool_max_idle_per_host(self.options.concurrency.max(1))
            .user_agent(concat!("kubectl-guardrails/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ResolveError::Unreachable(format!("{host}: {e}")))?;
        let registry = Arc::new(Registry {
            base: format!("{scheme}://{host}"),
            http,
            challenge: OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
        });
        registries.insert(host.to_string(), Arc::clone(&registry));
        Ok(registry)
    }

    async fn challenge(&self, registry: &Registry) -> Result<Challenge, ResolveError> {
        registry
            .challenge
            .get_or_init(|| async {
                self.counts.pings.fetch_add(1, Ordering::Relaxed);
                let response = registry
                    .http
                    .get(format!("{}/v2/", registry.base))
                    .send()
                    .await
                    .map_err(|e| unreachable(&registry.base, &e))?;
                match response.status().as_u16() {
                    401 => Ok(parse_challenge(
                        response
                            .headers()
                            .get(reqwest::header::WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or(""),
                    )),
                    s if (200..300).contains(&s) => Ok(Challenge::None),
                    // Some registries answer 404 on /v2/ yet serve manifests: assume open.
                    404 => Ok(Challenge::None),
                    s => Err(ResolveError::Registry(format!("HTTP {s} on /v2/"))),
                }
            })
            .await
            .clone()
    }

    async fn authorization(
        &self,
        registry: &Registry,
        image: &ImageRef,
        credential: Option<&Credential>,
    ) -> Result<Option<String>, ResolveError> {
        use base64::Engine;
        let basic = |c: &Credential| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password))
            )
        };
        match self.challenge(registry).await? {
            Challenge::None => Ok(None),
            Challenge::Basic => match credential {
                Some(c) => Ok(Some(basic(c))),
                None => Err(ResolveError::Unauthorized(
                    "the registry requires credentials".into(),
                )),
            },
            Challenge::Bearer { realm, service } => {
                let scope = format!("repository:{}:pull", image.path);
                let user = credential.map(|c| c.username.clone()).unwrap_or_default();
                let cell = {
                    let mut tokens = registry.tokens.lock().await;
                    Arc::clone(tokens.entry((scope.clone(), user)).or_default())
                };
                let token = cell
                    .get_or_init(|| async {
                        self.counts.tokens.fetch_add(1, Ordering::Relaxed);
                        let mut request = registry.http.get(&realm).query(&[("scope", &scope)]);
                        if let Some(service) = &service {
                            request = request.query(&[("service", service)]);
                        }
                        if let Some(c) = credential {
                            request = request.header(reqwest::header::AUTHORIZATION, basic(c));
                        }
                        let response = request.send().await.map_err(|e| unreachable(&realm, &e))?;
                        match response.status().as_u16() {
                            200 => {}
                            401 | 403 => {
                                return Err(ResolveError::Unauthorized(format!(
                                    "token service {realm} refused"
                                )));
                            }
                            s => {
                                return Err(ResolveError::Registry(format!(
                                    "HTTP {s} from token service {realm}"
                                )));
                            }
                        }
                        #[derive(serde::Deserialize)]
                        struct TokenAnswer {
                            token: Option<String>,
                            access_token: Option<String>,
                        }
                        let answer: TokenAnswer = response.json().await.map_err(|e| {
                            ResolveError::Registry(format!("token service {realm}: {e}"))
                        })?;
                        answer.token.or(answer.access_token).ok_or_else(|| {
                            ResolveError::Registry(format!("token service {realm}: no token"))
                        })
                    })
                    .await
                    .clone()?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn resolve_with(
        &self,
        registry: &Registry,
        image: &ImageRef,
        credential: Option<&Credential>,
    ) -> Result<Resolved, ResolveError> {
        let authorization = self.authorization(registry, image, credential).await?;
        let reference = image.manifest_reference();
        let url = format!("{}/v2/{}/manifests/{reference}", registry.base, image.path);
        let request = |method: reqwest::Method| {
            let mut r = registry
                .http
                .request(method, &url)
                .header(reqwest::header::ACCEPT, MANIFEST_MEDIA_TYPES.join(", "));
            if let Some(a) = &authorization {
                r = r.header(reqwest::header::AUTHORIZATION, a);
            }
            r
        };
        self.counts.heads.fetch_add(1, Ordering::Relaxed);
        let head = request(reqwest::Method::HEAD)
            .send()
            .await
            .map_err(|e| unreachable(&registry.base, &e))?;
        let status = head.status().as_u16();
        let media_type = header(&head, "content-type");
        match status {
            200 => {}
            401 | 403 => {
                return Err(ResolveError::Unauthorized(format!(
                    "HTTP {status} for {}",
                    image.repository()
                )));
            }
            404 => {
                // HEAD has no body: GET tells an unknown repository from an unknown tag.
                self.counts.gets.fetch_add(1, Ordering::Relaxed);
                let body = request(reqwest::Method::GET)
                    .send()
                    .await
                    .map_err(|e| unreachable(&registry.base, &e))?
                    .text()
                    .await
                    .unwrap_or_default();
                return Err(if body.contains("NAME_UNKNOWN") {
                    ResolveError::UnknownRepository(image.repository())
                } else {
                    ResolveError::UnknownTag(reference.to_string())
                });
            }
            429 => return Err(ResolveError::Registry("HTTP 429 (rate limited)".into())),
            s => return Err(ResolveError::Registry(format!("HTTP {s}"))),
        }
        if let Some(media_type) = &media_type
            && SCHEMA1_MEDIA_TYPES
                .iter()
                .any(|t| media_type.starts_with(t))
        {
            return Err(ResolveError::Unpinnable(media_type.clone()));
        }
        if let Some(digest) = header(&head, "docker-content-digest").filter(|d| valid_sha256(d)) {
            return Ok(Resolved { digest, media_type });
        }
        // No digest header (it is only a SHOULD): hash the exact bytes of the manifest.
        self.counts.gets.fetch_add(1, Ordering::Relaxed);
        let get = request(reqwest::Method::GET)
            .send()
            .await
            .map_err(|e| unreachable(&registry.base, &e))?;
        if get.status().as_u16() != 200 {
            return Err(ResolveError::Registry(format!(
                "HTTP {} on GET",
                get.status()
            )));
        }
        let media_type = header(&get, "content-type").or(media_type);
        let body = get
            .bytes()
            .await
            .map_err(|e| unreachable(&registry.base, &e))?;
        let digest = sha256_digest(&body);
        if let Some(wanted) = &image.digest
            && wanted.starts_with("sha256:")
            && *wanted != digest
        {
            return Err(ResolveError::Registry(format!(
                "manifest content hashes to {digest}, not the requested {wanted}"
            )));
        }
        Ok(Resolved { digest, media_type })
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// `sha256:<hex>` of exactly these bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn valid_sha256(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn unreachable(base: &str, e: &reqwest::Error) -> ResolveError {
    // The innermost cause is the useful part ("Connection refused", "dns error", …).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else {
        cause.to_string()
    };
    ResolveError::Unreachable(format!("{base}: {what}"))
}

/// `Bearer realm="…",service="…"` or `Basic realm="…"`.
fn parse_challenge(header: &str) -> Challenge {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let mut realm = None;
    let mut service = None;
    for part in split_params(params) {
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "service" => service = Some(v),
                _ => {}
            }
        }
    }
    match realm {
        Some(realm) => Challenge::Bearer { realm, service },
        None => Challenge::Basic,
    }
}

/// Splits `a="x,y",b=z` on commas outside quotes.
fn split_params(params: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in params.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                parts.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&params[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        match parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a,b:pull""#,
        ) {
            Challenge::Bearer { realm, service } => {
                assert_eq!(realm, "https://auth.docker.io/token");
                assert_eq!(service.as_deref(), Some("registry.docker.io"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Challenge::Basic
        ));
    }

    #[test]
    fn unreachable_registry_is_a_clear_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // Port 9 (discard) on loopback: nothing listens in a test environment.
        let resolver = Resolver::new(
            ResolverOptions {
                insecure_registries: vec!["127.0.0.1:9".into()],
                ..Default::default()
            },
            Keyring::default(),
        );
        let image = ImageRef::parse("127.0.0.1:9/app:1").expect("ref");
        let err = runtime
            .block_on(resolver.resolve(&image, &[]))
            .expect_err("nothing listens");
        assert!(
            matches!(&err, ResolveError::Unreachable(m) if m.starts_with("http://127.0.0.1:9")),
            "{err}"
        );
    }
}
