//! A loopback Kubernetes API server for end-to-end tests, answering like the recorded
//! kube-apiserver v1.24 (`tests/fixtures/apiserver-recordings/`).
//!
//! Every body is either a recorded body served verbatim (discovery, the 401, 405, 410, text 404
//! ...) or built from the inventory in the recorded shapes (lists, single objects, Tables), and
//! every error Status is a recorded one with names substituted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

use serde_json::{Map, Value, json};

use crate::discovery::{self, Discovery, qualified_resource};
use crate::inventory::{Gvr, Inventory, strip_type_meta, with_type_meta};
use crate::pagination::ContinueToken;
use crate::recordings;
use crate::selector::{FieldSelector, LabelSelector};
use crate::table::{self, IncludeObject, partial_object_metadata};
use crate::writes::{self, PatchFailure, PatchType};

/// How a test API server behaves.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// The bearer token accepted (as user `user_name`). Any other token gets the 401 of `049`;
    /// no token at all is user `system:anonymous`, refused (403 like `050`) everywhere except
    /// discovery.
    pub token: String,
    /// Reads (get/list/watch) to refuse with 403 like `051`/`052`; also answered `allowed:
    /// false` by SelfSubjectAccessReviews.
    pub forbidden: Vec<Forbid>,
    /// The authenticated user's name, as it appears in 403 messages. Default `admin`.
    pub user_name: String,
    /// Answer the Nth request carrying a (consistent) continue token with the 410 Expired of
    /// `073` — as if etcd had been compacted — and serve the token inside the 410 from a new
    /// snapshot (`074`). Counted over the server's life; happens once.
    pub expire_continue_after_pages: Option<usize>,
    /// Answer a write that repeats a recorded one exactly (on an object not written since) with
    /// the recording — how PodSecurity warnings and admission 403s are served. Off, every write
    /// is computed (to test that the computed answers match the recordings).
    pub replay_recorded_writes: bool,
    /// The objects served by list/get at start; writes (create, patch, update, delete) change
    /// the server's copy.
    pub inventory: Inventory,
}

/// The default token of [`ApiServerConfig::default`].
pub const DEFAULT_TOKEN: &str = "guardrails-e2e-admin-token";

impl Default for ApiServerConfig {
    /// User `admin` with token [`DEFAULT_TOKEN`], nothing forbidden, the recorded cluster state.
    fn default() -> Self {
        ApiServerConfig {
            token: DEFAULT_TOKEN.to_string(),
            forbidden: Vec::new(),
            user_name: "admin".to_string(),
            expire_continue_after_pages: None,
            replay_recorded_writes: true,
            inventory: Inventory::from_recordings(),
        }
    }
}

/// A read the user may not do: `resource` in `group` (`""` for core), everywhere
/// (`namespace: None`) or in one namespace.
///
/// A namespace-only Forbid also refuses the cluster-wide request of that resource (whoever may
/// list cluster-wide may list in every namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbid {
    pub group: String,
    /// Plural resource name; `*` for every resource of the group.
    pub resource: String,
    pub namespace: Option<String>,
}

impl Forbid {
    /// Refused everywhere.
    pub fn cluster(group: &str, resource: &str) -> Forbid {
        Forbid {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: None,
        }
    }

    /// Refused in `namespace` (and cluster-wide).
    pub fn namespaced(group: &str, resource: &str, namespace: &str) -> Forbid {
        Forbid {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: Some(namespace.to_string()),
        }
    }

    /// Whether this entry refuses a read of `group`/`resource` in `namespace` (`None` = cluster
    /// scope).
    pub fn denies(&self, group: &str, resource: &str, namespace: Option<&str>) -> bool {
        if self.group != group || (self.resource != resource && self.resource != "*") {
            return false;
        }
        match (&self.namespace, namespace) {
            (None, _) | (Some(_), None) => true,
            (Some(f), Some(n)) => f == n,
        }
    }
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string (`""` when none).
    pub query: String,
    /// Decoded query parameters, in order.
    pub params: Vec<(String, String)>,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    /// The request body as JSON: parsed JSON, or the JSON form of a protobuf
    /// SelfSubjectAccessReview (what kubectl sends); `None` otherwise.
    pub body: Option<Value>,
    /// The request body as sent.
    pub raw_body: Vec<u8>,
    /// The status code answered.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running test API server; stops when dropped.
pub struct TestApiServer {
    /// `https://127.0.0.1:PORT` (TLS: client-go sends bearer tokens only over https; the
    /// certificate is signed by [`crate::tls::CA_CERT_PEM`], which generated kubeconfigs trust).
    pub url: String,
    /// Every request received, in arrival order.
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
    token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestApiServer {
    /// Binds 127.0.0.1 on a free port and serves on its own thread and tokio runtime, so
    /// synchronous tests can use it. Panics if it cannot start (test setup).
    pub fn start(cfg: ApiServerConfig) -> TestApiServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind 127.0.0.1:0 for the test API server");
        listener
            .set_nonblocking(true)
            .expect("set the test API server's socket non-blocking");
        let addr = listener
            .local_addr()
            .expect("local address of the test API server");
        let hostport = addr.to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let token = cfg.token.clone();
        let core = Arc::new(ServerCore::new(
            cfg,
            hostport.clone(),
            Arc::clone(&requests),
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("test-apiserver-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    // Named so that a benchmark can find the server's threads (see
                    // `benchmark::pin_server_apart`).
                    .thread_name("test-apiserver")
                    .enable_all()
                    .build()
                    .expect("tokio runtime for the test API server");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("tokio listener for the test API server");
                    let listener = crate::tls::TlsListener::new(listener)
                        .expect("TLS listener for the test API server");
                    let app = axum::Router::new().fallback(axum_handler).with_state(core);
                    let _ = ready_tx.send(());
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(e) = result {
                                eprintln!("test API server stopped: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels connection tasks still open (keep-alive).
                runtime.shutdown_background();
            })
            .expect("spawn the test API server thread");
        ready_rx
            .recv()
            .expect("the test API server thread died while starting");
        TestApiServer {
            url: format!("https://{hostport}"),
            requests,
            token,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host_port(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    /// Writes a kubeconfig (context `test`, this server, the accepted token, optional
    /// namespace) into `dir` and returns its path: `dir/kubeconfig`, or
    /// `dir/kubeconfig-<namespace>` when a namespace is given.
    pub fn write_kubeconfig(&self, dir: &Path, namespace: Option<&str>) -> PathBuf {
        let file = match namespace {
            Some(ns) => dir.join(format!("kubeconfig-{ns}")),
            None => dir.join("kubeconfig"),
        };
        crate::kubeconfig::write_kubeconfig(&file, &self.url, Some(&self.token), namespace);
        file
    }

    /// `kubectl` (see [`crate::harness::kubectl`]) with `KUBECONFIG` pointing at a fresh
    /// kubeconfig for this server (no namespace: `default`) inside the command's private HOME.
    pub fn kubectl(&self, args: &[&str]) -> std::process::Command {
        let home = crate::harness::fresh_home();
        let kubeconfig = self.write_kubeconfig(&home, None);
        let mut cmd = crate::harness::kubectl_in_home(&home, args);
        cmd.env("KUBECONFIG", kubeconfig);
        cmd
    }

    /// The bearer token the server accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A copy of the requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn axum_handler(
    axum::extract::State(core): axum::extract::State<Arc<ServerCore>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let req = Request {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        accept: header("accept"),
        content_type: header("content-type"),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        body: body.to_vec(),
    };
    let resp = core.handle(&req);
    let mut builder = axum::http::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(axum::body::Body::from(resp.body))
        .unwrap_or_else(|_| axum::http::Response::new(axum::body::Body::empty()))
}

/// A request as the server core sees it (transport-independent, for unit tests too).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub body: Vec<u8>,
}

/// A response of the server core.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request-handling core of the server (no sockets): usable directly from unit tests.
pub struct ServerCore {
    cfg: ApiServerConfig,
    hostport: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    state: Mutex<Dynamic>,
    /// The current objects. Readers take the `Arc` (a consistent snapshot for a whole list);
    /// a write copies only when a reader still holds the old one.
    store: RwLock<Arc<Inventory>>,
    /// Objects written since start (`<group>/<resource>/<key>`): a recorded write is replayed
    /// only on an object still in its recorded state.
    written: Mutex<HashSet<String>>,
}

#[derive(Debug)]
struct Dynamic {
    /// Requests seen with a consistent (rv != -1) continue token.
    continue_requests: usize,
    expired_once: bool,
    /// The resourceVersion of the current snapshot.
    current_rv: u64,
    /// Tokens with an rv below this are expired (etcd compaction).
    compacted_rv: u64,
}

enum Identity {
    User(String),
    Anonymous,
}

impl Identity {
    fn name(&self) -> &str {
        match self {
            Identity::User(n) => n,
            Identity::Anonymous => "system:anonymous",
        }
    }
}

/// What kube-apiserver's RequestInfo resolver makes of a resource path.
#[derive(Debug, Clone, Default)]
struct ResourceRequest {
    group: String,
    version: String,
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    subresource: Option<String>,
    verb: String,
}

enum Route {
    Version,
    ApiVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    Resource(ResourceRequest),
    NotFound,
}

/// The collection a write goes to.
struct Target<'a> {
    gvr: &'a Gvr,
    kind: &'a str,
    namespaced: bool,
}

/// Media types of an Accept header that the server can answer specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    Plain,
    Table,
    PartialObjectMetadata,
}

impl ServerCore {
    /// A core for `cfg`; `hostport` is what `/api` reports as the server address.
    pub fn new(
        mut cfg: ApiServerConfig,
        hostport: String,
        requests: Arc<Mutex<Vec<RecordedRequest>>>,
    ) -> ServerCore {
        let rv = cfg.inventory.resource_version();
        let store = RwLock::new(Arc::new(std::mem::take(&mut cfg.inventory)));
        ServerCore {
            store,
            written: Mutex::new(HashSet::new()),
            cfg,
            hostport,
            requests,
            state: Mutex::new(Dynamic {
                continue_requests: 0,
                expired_once: false,
                current_rv: rv,
                compacted_rv: 0,
            }),
        }
    }

    /// Answers one request and records it.
    pub fn handle(&self, req: &Request) -> Response {
        let params = parse_query(&req.query);
        let resp = self.answer(req, &params);
        lock(&self.requests).push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            params,
            accept: req.accept.clone(),
            content_type: req.content_type.clone(),
            user_agent: req.user_agent.clone(),
            body: request_json(&req.body),
            raw_body: req.body.clone(),
            status: resp.status,
        });
        resp
    }

    fn answer(&self, req: &Request, params: &[(String, String)]) -> Response {
        let identity = match req.authorization.as_deref() {
            None => Identity::Anonymous,
            Some(h) => match h.strip_prefix("Bearer ") {
                Some(t) if t.trim() == self.cfg.token => Identity::User(self.cfg.user_name.clone()),
                _ => return recorded_response("049"),
            },
        };
        let disc = discovery::discovery();
        let route = parse_route(&req.method, &req.path, params);
        let is_read = matches!(req.method.as_str(), "GET" | "HEAD");
        match route {
            Route::Version if is_read => {
                // kube-apiserver writes /version with json.MarshalIndent.
                let body = serde_json::to_vec_pretty(recordings::body("001")).unwrap_or_default();
                Response {
                    status: 200,
                    headers: recorded_headers("001"),
                    body,
                }
            }
            Route::ApiVersions if is_read => {
                json_response(200, "002", &disc.api_versions(&self.hostport))
            }
            Route::GroupList if is_read => json_response(200, "004", disc.api_group_list()),
            Route::Group(g) if is_read => match disc.api_group(&g) {
                Some(doc) => json_response(200, "008", &doc),
                None => recorded_response("066"),
            },
            Route::ResourceList(g, v) if is_read => match disc.api_resource_list(&g, &v) {
                Some(doc) => json_response(200, "005", &doc),
                None => recorded_response("066"),
            },
            Route::Version
            | Route::ApiVersions
            | Route::GroupList
            | Route::Group(_)
            | Route::ResourceList(..) => recorded_response("068"),
            Route::NotFound => recorded_response("066"),
            Route::Resource(rr) => self.resource_request(req, params, &identity, rr, disc),
        }
    }

    fn resource_request(
        &self,
        req: &Request,
        params: &[(String, String)],
        identity: &Identity,
        rr: ResourceRequest,
        disc: &Discovery,
    ) -> Response {
        // Authorization comes before any handler (so a forbidden GET of a missing object is 403).
        let refused = match identity {
            Identity::Anonymous => true,
            Identity::User(_) => {
                matches!(rr.verb.as_str(), "get" | "list" | "watch")
                    && self
                        .cfg
                        .forbidden
                        .iter()
                        .any(|f| f.denies(&rr.group, &rr.resource, rr.namespace.as_deref()))
            }
        };
        if refused {
            return forbidden(identity.name(), &rr);
        }
        if !disc.serves(&rr.group, &rr.version) {
            return recorded_response("066");
        }
        let gvr = Gvr::new(&rr.group, &rr.version, &rr.resource);
        let (kind, namespaced) = match disc.resource(&rr.group, &rr.version, &rr.resource) {
            Some(info) => (info.kind.clone(), info.namespaced),
            None => match self.inventory().collection(&gvr) {
                Some(c) => (c.kind.clone(), c.namespaced),
                None => return recorded_response("065"),
            },
        };
        // Routes that kube-apiserver does not register: a namespaced resource's object at
        // cluster scope, a cluster-scoped resource inside a namespace.
        let namespace_route_ok = match (&rr.namespace, namespaced) {
            (Some(_), false) => rr.resource == "namespaces" && rr.name.is_some(),
            (None, true) => rr.name.is_none(),
            _ => true,
        };
        if !namespace_route_ok {
            return recorded_response("065");
        }
        if rr.group == "authorization.k8s.io" && rr.resource == "selfsubjectaccessreviews" {
            return match (req.method.as_str(), &rr.name) {
                ("POST", None) => self.self_subject_access_review(req),
                _ => recorded_response("068"),
            };
        }
        if let Some(sub) = &rr.subresource {
            if !disc.has_subresource(&rr.group, &rr.version, &rr.resource, sub) {
                return recorded_response("065");
            }
            if sub != "status" || rr.verb != "get" {
                // Only `status` reads are served; other subresources are not part of this fake.
                return recorded_response("068");
            }
        }
        match (rr.verb.as_str(), rr.name.is_some()) {
            ("get", true) => self.get(req, params, &rr, &gvr, &kind, namespaced),
            ("list" | "watch", false) => self.list(req, params, &rr, &gvr, &kind, namespaced),
            ("create", false) | ("patch" | "update" | "delete", true) => {
                let target = Target {
                    gvr: &gvr,
                    kind: &kind,
                    namespaced,
                };
                self.write(req, params, &rr, &target)
            }
            // 405 like `068` (POST to an object) and `069` (PUT on a collection).
            (_, true) => recorded_response("068"),
            (_, false) => recorded_response("069"),
        }
    }

    fn get(
        &self,
        req: &Request,
        params: &[(String, String)],
        rr: &ResourceRequest,
        gvr: &Gvr,
        kind: &str,
        namespaced: bool,
    ) -> Response {
        let name = rr.name.clone().unwrap_or_default();
        let key = match (&rr.namespace, namespaced) {
            (Some(ns), true) => format!("{ns}/{name}"),
            _ => name.clone(),
        };
        let inventory = self.inventory();
        let Some(item) = inventory.item(gvr, &key) else {
            return not_found(&rr.group, &rr.resource, &name);
        };
        let av = discovery::api_version(&rr.group, &rr.version);
        let full = with_type_meta(&av, kind, item);
        match representation(req.accept.as_deref(), false) {
            Representation::Plain => json_response(200, "028", &full),
            Representation::PartialObjectMetadata => {
                json_response(200, "028", &partial_object_metadata(item))
            }
            Representation::Table => {
                let rv = item
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                let include = IncludeObject::from_param(param(params, "includeObject"));
                let t = table::table(
                    &rr.group,
                    &rr.resource,
                    &[item],
                    json!({"resourceVersion": rv}),
                    include,
                    &|i| with_type_meta(&av, kind, i),
                );
                json_response(200, "031", &t)
            }
        }
    }

    fn list(
        &self,
        req: &Request,
        params: &[(String, String)],
        rr: &ResourceRequest,
        gvr: &Gvr,
        kind: &str,
        namespaced: bool,
    ) -> Response {
        let labels = match LabelSelector::parse(param(params, "labelSelector").unwrap_or_default())
        {
            Ok(s) => s,
            Err(e) => return bad_request(&e.to_string()),
        };
        let fields = match FieldSelector::parse(param(params, "fieldSelector").unwrap_or_default())
        {
            Ok(s) => s,
            Err(e) => return bad_request(&e),
        };
        let limit = match param(params, "limit").filter(|l| !l.is_empty()) {
            None => 0usize,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                Ok(_) => 0,
                Err(_) => {
                    return bad_request(&format!(
                        "limit: Invalid value: {l:?}: must be an integer"
                    ));
                }
            },
        };

        // Which snapshot and where to start.
        let (rv, start) = match param(params, "continue").filter(|c| !c.is_empty()) {
            None => (lock(&self.state).current_rv, None),
            Some(token) => {
                let token = match ContinueToken::decode(token) {
                    Ok(t) => t,
                    Err(e) => return bad_request(&format!("invalid continue token: {e}")),
                };
                let mut st = lock(&self.state);
                if token.rv == -1 {
                    (st.current_rv, Some(token.start))
                } else {
                    st.continue_requests += 1;
                    let trigger = !st.expired_once
                        && self.cfg.expire_continue_after_pages == Some(st.continue_requests);
                    if trigger {
                        // Like the recording: writes happened (6 revisions) and etcd was compacted.
                        st.expired_once = true;
                        st.current_rv += 6;
                        st.compacted_rv = st.current_rv;
                    }
                    let token_rv = u64::try_from(token.rv).unwrap_or(0);
                    if token_rv < st.compacted_rv {
                        return expired(&token.start);
                    }
                    (token_rv, Some(token.start))
                }
            }
        };

        let prefix = match (&rr.namespace, namespaced) {
            (Some(ns), true) => Some(format!("{ns}/")),
            _ => None,
        };
        let empty = std::collections::BTreeMap::new();
        let inventory = self.inventory();
        let items = inventory.collection(gvr).map_or(&empty, |c| &c.items);
        let candidates: Vec<(&str, &Value)> = items
            .iter()
            .filter_map(|(k, v)| match &prefix {
                Some(p) => k.strip_prefix(p.as_str()).map(|rel| (rel, v)),
                None => Some((k.as_str(), v)),
            })
            .filter(|(rel, _)| start.as_deref().is_none_or(|s| *rel >= s))
            .collect();

        let mut page: Vec<&Value> = Vec::new();
        let mut last_key: Option<&str> = None;
        let mut has_more = false;
        for (rel, item) in &candidates {
            if limit > 0 && page.len() >= limit {
                has_more = true;
                break;
            }
            last_key = Some(rel);
            if labels.matches(&crate::selector::labels_of(item)) && fields.matches_object(item) {
                page.push(item);
            }
        }
        let mut meta = Map::new();
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if has_more && let Some(last) = last_key {
            let rv_i = i64::try_from(rv).unwrap_or(i64::MAX);
            meta.insert(
                "continue".into(),
                json!(ContinueToken::after(rv_i, last).encode()),
            );
            // Only an unfiltered list knows how many items remain (`077` has none).
            if labels.is_empty() && fields.is_empty() {
                meta.insert(
                    "remainingItemCount".into(),
                    json!(candidates.len().saturating_sub(limit)),
                );
            }
        }
        let meta = Value::Object(meta);
        let av = discovery::api_version(&rr.group, &rr.version);
        match representation(req.accept.as_deref(), true) {
            Representation::Plain => {
                let mut list = Map::new();
                list.insert("kind".into(), json!(format!("{kind}List")));
                list.insert("apiVersion".into(), json!(av));
                list.insert("metadata".into(), meta);
                list.insert(
                    "items".into(),
                    Value::Array(page.into_iter().cloned().collect()),
                );
                json_response(200, "017", &Value::Object(list))
            }
            Representation::PartialObjectMetadata => {
                let list = json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": page.iter().map(|i| partial_object_metadata(i)).collect::<Vec<_>>(),
                });
                json_response(200, "017", &list)
            }
            Representation::Table => {
                let include = IncludeObject::from_param(param(params, "includeObject"));
                let t = table::table(&rr.group, &rr.resource, &page, meta, include, &|i| {
                    with_type_meta(&av, kind, i)
                });
                json_response(200, "031", &t)
            }
        }
    }

    /// `POST selfsubjectaccessreviews`: 201 with the spec echoed (as the server re-encodes it)
    /// and `{"allowed": false}` (exactly as `045`) when a [`Forbid`] matches a read, else
    /// `{"allowed": true}`. The user is taken to be in `system:masters` (the recorded `admin`),
    /// whose requests kube-apiserver allows through its privileged-group authorizer, which
    /// gives no reason (reasons like `044`'s come from RBAC bindings). The body may be JSON or
    /// protobuf (kubectl's typed client sends protobuf); the answer is JSON, which kubectl's
    /// Accept header (`application/vnd.kubernetes.protobuf,application/json`) allows.
    /// managedFields name the User-Agent's product (`curl` in `045`) and the current time.
    fn self_subject_access_review(&self, req: &Request) -> Response {
        let parsed = match crate::proto::decode_self_subject_access_review(&req.body) {
            Some(v) => Ok(v),
            None => serde_json::from_slice::<Value>(&req.body),
        };
        let body = match parsed {
            Ok(v) => v,
            Err(e) => {
                let head: String = String::from_utf8_lossy(&req.body)
                    .chars()
                    .take(20)
                    .collect();
                return bad_request(&format!(
                    "the object provided is unrecognized (must be of type SelfSubjectAccessReview): couldn't get version/kind; json parse error: {e} ({head} ...)"
                ));
            }
        };
        let mut spec = Map::new();
        let mut field_set = Map::new();
        if let Some(ra) = body
            .pointer("/spec/resourceAttributes")
            .and_then(Value::as_object)
        {
            let (attrs, fields) = canonical(
                ra,
                &[
                    "namespace",
                    "verb",
                    "group",
                    "version",
                    "resource",
                    "subresource",
                    "name",
                ],
            );
            spec.insert("resourceAttributes".into(), attrs);
            field_set.insert("f:resourceAttributes".into(), fields);
        }
        if let Some(nra) = body
            .pointer("/spec/nonResourceAttributes")
            .and_then(Value::as_object)
        {
            let (attrs, fields) = canonical(nra, &["path", "verb"]);
            spec.insert("nonResourceAttributes".into(), attrs);
            field_set.insert("f:nonResourceAttributes".into(), fields);
        }
        let ra = spec
            .get("resourceAttributes")
            .cloned()
            .unwrap_or(Value::Null);
        let s = |k: &str| {
            ra.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let ns = s("namespace");
        let denied = matches!(s("verb").as_str(), "get" | "list" | "watch" | "*")
            && self.cfg.forbidden.iter().any(|f| {
                f.denies(
                    &s("group"),
                    &s("resource"),
                    Some(ns.as_str()).filter(|n| !n.is_empty()),
                )
            });
        let mut metadata = Map::new();
        metadata.insert("creationTimestamp".into(), Value::Null);
        if let Some(manager) = req
            .user_agent
            .as_deref()
            .map(|ua| ua.split('/').next().unwrap_or_default())
            .filter(|m| !m.is_empty())
        {
            let mut entry = recordings::body("045")["metadata"]["managedFields"][0].clone();
            entry["manager"] = json!(manager);
            entry["time"] = json!(crate::time::format_rfc3339(crate::time::now_unix()));
            entry["fieldsV1"] = json!({"f:spec": Value::Object(field_set)});
            metadata.insert("managedFields".into(), json!([entry]));
        }
        let mut out = Map::new();
        out.insert("kind".into(), json!("SelfSubjectAccessReview"));
        out.insert("apiVersion".into(), json!("authorization.k8s.io/v1"));
        out.insert("metadata".into(), Value::Object(metadata));
        out.insert("spec".into(), Value::Object(spec));
        out.insert("status".into(), json!({"allowed": !denied}));
        json_response(201, "045", &Value::Object(out))
    }
}

/// The attributes in Go struct order without empty strings (what the server re-encodes), and
/// their managedFields field set.
fn canonical(attrs: &Map<String, Value>, order: &[&str]) -> (Value, Value) {
    let mut out = Map::new();
    let mut names: Vec<&str> = Vec::new();
    for key in order {
        if let Some(v) = attrs
            .get(*key)
            .filter(|v| v.as_str().is_none_or(|s| !s.is_empty()))
        {
            out.insert((*key).to_string(), v.clone());
            names.push(key);
        }
    }
    names.sort_unstable();
    let mut fields = Map::new();
    fields.insert(".".into(), json!({}));
    for n in names {
        fields.insert(format!("f:{n}"), json!({}));
    }
    (Value::Object(out), Value::Object(fields))
}

/// A request body as JSON: JSON itself, or a protobuf SelfSubjectAccessReview decoded.
fn request_json(body: &[u8]) -> Option<Value> {
    crate::proto::decode_self_subject_access_review(body)
        .or_else(|| serde_json::from_slice(body).ok())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes `a=b&c=d` (percent-escapes and `+`).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_route(method: &str, path: &str, params: &[(String, String)]) -> Route {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::ApiVersions,
        ["api", v] => return Route::ResourceList(String::new(), (*v).to_string()),
        ["api", v, rest @ ..] => (String::new(), (*v).to_string(), rest),
        ["apis"] => return Route::GroupList,
        ["apis", g] => return Route::Group((*g).to_string()),
        ["apis", g, v] => return Route::ResourceList((*g).to_string(), (*v).to_string()),
        ["apis", g, v, rest @ ..] => ((*g).to_string(), (*v).to_string(), rest),
        _ => return Route::NotFound,
    };
    if rest.iter().any(|s| s.is_empty()) {
        return Route::NotFound;
    }
    let mut rr = ResourceRequest {
        group,
        version,
        ..ResourceRequest::default()
    };
    let mut parts: &[&str] = rest;
    if parts[0] == "namespaces" && parts.len() > 1 {
        rr.namespace = Some(parts[1].to_string());
        if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
            parts = &parts[2..];
        }
    }
    rr.resource = parts[0].to_string();
    if parts.len() >= 2 {
        rr.name = Some(parts[1].to_string());
    }
    if parts.len() >= 3 {
        rr.subresource = Some(parts[2..].join("/"));
    }
    let watch = param(params, "watch").is_some_and(|w| w == "true" || w == "1");
    rr.verb = match (method, rr.name.is_some()) {
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) if watch => "watch",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
    .to_string();
    Route::Resource(rr)
}

fn representation(accept: Option<&str>, list: bool) -> Representation {
    let Some(accept) = accept else {
        return Representation::Plain;
    };
    for media in accept.split(',') {
        let mut pieces = media.split(';').map(str::trim);
        let base = pieces.next().unwrap_or_default();
        let (mut as_, mut g, mut v) = ("", "", "");
        for p in pieces {
            match p.split_once('=') {
                Some(("as", x)) => as_ = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        if base != "application/json" && base != "*/*" && base != "application/*" {
            continue;
        }
        match (as_, g, v) {
            ("", _, _) => return Representation::Plain,
            ("Table", "meta.k8s.io", "v1") => return Representation::Table,
            ("PartialObjectMetadataList", "meta.k8s.io", "v1") if list => {
                return Representation::PartialObjectMetadata;
            }
            ("PartialObjectMetadata", "meta.k8s.io", "v1") if !list => {
                return Representation::PartialObjectMetadata;
            }
            _ => continue,
        }
    }
    Representation::Plain
}

fn recorded_headers(number: &str) -> Vec<(String, String)> {
    recordings::get(number).headers.clone()
}

/// A JSON body with the (content-type, cache-control) headers of recording `headers_of`.
fn json_response(status: u16, headers_of: &str, body: &Value) -> Response {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    Response {
        status,
        headers: recorded_headers(headers_of),
        body: bytes,
    }
}

/// Recording `number` served verbatim (status, headers, body).
fn recorded_response(number: &str) -> Response {
    let rec = recordings::get(number);
    match &rec.body {
        Value::String(text) => Response {
            status: rec.status,
            headers: rec.headers.clone(),
            body: text.clone().into_bytes(),
        },
        body => json_response(rec.status, number, body),
    }
}

/// 403 like `050`–`053`/`043`: `<resource>[.<group>] ["<name>"] is forbidden: User "<user>"
/// cannot <verb> resource "<resource>[/<sub>]" in API group "<group>" (at the cluster scope |
/// in the namespace "<ns>")`, details {name?, group?, kind}.
fn forbidden(user: &str, rr: &ResourceRequest) -> Response {
    let qualified = qualified_resource(&rr.group, &rr.resource);
    let subject = match &rr.name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let resource = match &rr.subresource {
        Some(s) => format!("{}/{s}", rr.resource),
        None => rr.resource.clone(),
    };
    let scope = match &rr.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut body = recordings::body("051").clone();
    body["message"] = json!(format!(
        "{subject} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        rr.verb, rr.group
    ));
    body["details"] = details(&rr.group, &rr.resource, rr.name.as_deref());
    json_response(403, "051", &body)
}

/// 404 like `054`/`055`: `<resource>[.<group>] "<name>" not found`.
fn not_found(group: &str, resource: &str, name: &str) -> Response {
    let mut body = recordings::body("054").clone();
    body["message"] = json!(format!(
        "{} \"{name}\" not found",
        qualified_resource(group, resource)
    ));
    body["details"] = details(group, resource, Some(name));
    json_response(404, "054", &body)
}

fn details(group: &str, resource: &str, name: Option<&str>) -> Value {
    let mut d = Map::new();
    if let Some(n) = name {
        d.insert("name".into(), json!(n));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(resource));
    Value::Object(d)
}

/// 400 BadRequest shaped like `064`.
fn bad_request(message: &str) -> Response {
    let mut body = recordings::body("064").clone();
    body["message"] = json!(message);
    json_response(400, "064", &body)
}

/// 410 Expired exactly like `073`, with a fresh inconsistent-continuation token (rv -1).
fn expired(start: &str) -> Response {
    let mut body = recordings::body("073").clone();
    let token = ContinueToken {
        v: crate::pagination::TOKEN_VERSION.to_string(),
        rv: -1,
        start: start.to_string(),
    };
    body["metadata"]["continue"] = json!(token.encode());
    json_response(410, "073", &body)
}

/// Writes: create, patch (the four types), update and delete, with dryRun, validation and
/// the recorded answers (see [`crate::writes`]).
impl ServerCore {
    /// The current objects (a snapshot).
    fn inventory(&self) -> Arc<Inventory> {
        Arc::clone(
            &self
                .store
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn write(
        &self,
        req: &Request,
        params: &[(String, String)],
        rr: &ResourceRequest,
        target: &Target<'_>,
    ) -> Response {
        let dry_run = param(params, "dryRun").is_some_and(|v| !v.is_empty());
        // The object's key: from the path, or (create) from the body.
        let body_name = serde_json::from_slice::<Value>(&req.body)
            .ok()
            .and_then(|b| {
                b.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let name = rr.name.clone().or(body_name).unwrap_or_default();
        let key = match (&rr.namespace, target.namespaced) {
            (Some(ns), true) => format!("{ns}/{name}"),
            _ => name.clone(),
        };
        let written_key = format!("{}/{}/{key}", rr.group, rr.resource);
        if self.cfg.replay_recorded_writes
            && !lock(&self.written).contains(&written_key)
            && let Some(rec) = writes::recorded_write(
                &req.method,
                &req.path,
                params,
                req.content_type.as_deref(),
                &req.body,
            )
        {
            if !dry_run && (200..300).contains(&rec.status) {
                self.commit(
                    target,
                    &key,
                    &written_key,
                    match req.method.as_str() {
                        "DELETE" => None,
                        _ => Some(strip_type_meta(rec.body.clone())),
                    },
                );
            }
            return recorded_response(&rec.number);
        }
        match req.method.as_str() {
            "POST" => self.create(req, params, rr, target, dry_run),
            "PATCH" => self.patch(req, params, rr, target, &key, dry_run),
            "PUT" => self.update(req, rr, target, &key, dry_run),
            _ => self.delete(rr, target, &key, dry_run),
        }
        .unwrap_or_else(WriteOutcome::answer)
        .finish(self, target, &key, &written_key)
    }

    /// Stores (or with `None` removes) an object and bumps the revision.
    fn commit(&self, target: &Target<'_>, key: &str, written_key: &str, item: Option<Value>) {
        let mut store = self
            .store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let inventory = Arc::make_mut(&mut store);
        match item {
            Some(item) => inventory.put(
                target.gvr,
                target.kind,
                target.namespaced,
                key.to_string(),
                item,
            ),
            None => {
                inventory.remove(target.gvr, key);
            }
        }
        lock(&self.written).insert(written_key.to_string());
    }

    /// The next resourceVersion (writes advance the snapshot lists are served from).
    fn next_resource_version(&self) -> String {
        let mut st = lock(&self.state);
        st.current_rv += 1;
        st.current_rv.to_string()
    }

    fn create(
        &self,
        req: &Request,
        params: &[(String, String)],
        rr: &ResourceRequest,
        target: &Target<'_>,
        dry_run: bool,
    ) -> Result<WriteOutcome, Response> {
        let mut obj: Value = serde_json::from_slice(&req.body).map_err(|e| {
            let head: String = String::from_utf8_lossy(&req.body).chars().take(30).collect();
            bad_request(&format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {e} ({head} ...)",
                target.kind
            ))
        })?;
        let body_ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        if target.namespaced && body_ns.is_some() && body_ns != rr.namespace.as_deref() {
            return Err(recorded_response("064"));
        }
        let inventory = self.inventory();
        if target.namespaced
            && let Some(ns) = &rr.namespace
            && inventory
                .item(&Gvr::new("", "v1", "namespaces"), ns)
                .is_none()
        {
            return Err(not_found("", "namespaces", ns));
        }
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = match (&rr.namespace, target.namespaced) {
            (Some(ns), true) => format!("{ns}/{name}"),
            _ => name.clone(),
        };
        if inventory.item(target.gvr, &key).is_some() {
            let mut body = recordings::body("058").clone();
            body["message"] = json!(format!(
                "{} \"{name}\" already exists",
                qualified_resource(&rr.group, &rr.resource)
            ));
            body["details"] = details(&rr.group, &rr.resource, Some(&name));
            return Err(json_response(409, "058", &body));
        }
        valid(target.kind, &rr.group, &name, &obj)?;
        let set = obj.clone();
        writes::apply_defaults(target.kind, &mut obj);
        let manager = field_manager(params, req);
        let now = crate::time::format_rfc3339(crate::time::now_unix());
        let av = discovery::api_version(&rr.group, &rr.version);
        let entry = writes::managed_fields_entry(&manager, &av, &now, &set);
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            if target.namespaced
                && let Some(ns) = &rr.namespace
            {
                meta.insert("namespace".into(), json!(ns));
            }
            meta.insert("uid".into(), json!(new_uid(&key)));
            if !dry_run {
                meta.insert(
                    "resourceVersion".into(),
                    json!(self.next_resource_version()),
                );
            }
            if obj_has_spec(target.kind) {
                meta.insert("generation".into(), json!(1));
            }
            meta.insert("creationTimestamp".into(), json!(now));
            meta.insert("managedFields".into(), json!([entry]));
        }
        let full = with_type_meta(&av, target.kind, &strip_type_meta(obj));
        Ok(WriteOutcome {
            response: json_response(201, "094", &full),
            store: (!dry_run).then(|| Some(strip_type_meta(full.clone()))),
        })
    }

    fn patch(
        &self,
        req: &Request,
        params: &[(String, String)],
        rr: &ResourceRequest,
        target: &Target<'_>,
        key: &str,
        dry_run: bool,
    ) -> Result<WriteOutcome, Response> {
        let Some(ty) = PatchType::from_content_type(req.content_type.as_deref()) else {
            return Err(recorded_response("070"));
        };
        if ty == PatchType::Apply && param(params, "fieldManager").is_none_or(str::is_empty) {
            return Err(recorded_response("087"));
        }
        let name = rr.name.clone().unwrap_or_default();
        let inventory = self.inventory();
        let Some(live) = inventory.item(target.gvr, key) else {
            return Err(not_found(&rr.group, &rr.resource, &name));
        };
        let av = discovery::api_version(&rr.group, &rr.version);
        let live = with_type_meta(&av, target.kind, live);
        let force = param(params, "force") == Some("true");
        let mut after =
            writes::apply_patch(&live, ty, &req.body, force).map_err(|failure| match failure {
                PatchFailure::Malformed(message) => bad_request(&message),
                PatchFailure::Rejected => recorded_response("083"),
                PatchFailure::Conflicts { manager, fields } => {
                    conflict_status(&manager, &av, &fields)
                }
            })?;
        // Identity fields cannot change through a patch.
        for field in ["name", "namespace", "uid", "creationTimestamp"] {
            if let (Some(meta), Some(value)) = (
                after.get_mut("metadata").and_then(Value::as_object_mut),
                live.pointer(&format!("/metadata/{field}")),
            ) {
                meta.insert(field.into(), value.clone());
            }
        }
        valid(target.kind, &rr.group, &name, &after)?;
        writes::apply_defaults(target.kind, &mut after);
        if after == live {
            return Ok(WriteOutcome::answer(json_response(200, "081", &live)));
        }
        let manager = field_manager(params, req);
        let now = crate::time::format_rfc3339(crate::time::now_unix());
        let set = match ty {
            PatchType::Json => Value::Null,
            _ => serde_json::from_slice(&req.body).unwrap_or(Value::Null),
        };
        let spec_changed = after.get("spec") != live.get("spec");
        if let Some(meta) = after.get_mut("metadata").and_then(Value::as_object_mut) {
            if spec_changed && let Some(generation) = meta.get("generation").and_then(Value::as_i64)
            {
                meta.insert("generation".into(), json!(generation + 1));
            }
            if !dry_run {
                meta.insert(
                    "resourceVersion".into(),
                    json!(self.next_resource_version()),
                );
            }
            let entry = writes::managed_fields_entry(&manager, &av, &now, &set);
            let managed = meta.entry("managedFields").or_insert_with(|| json!([]));
            if let Some(list) = managed.as_array_mut() {
                list.retain(|m| m.get("manager").and_then(Value::as_str) != Some(&manager));
                list.push(entry);
            }
        }
        Ok(WriteOutcome {
            response: json_response(200, "081", &after),
            store: (!dry_run).then(|| Some(strip_type_meta(after.clone()))),
        })
    }

    fn update(
        &self,
        req: &Request,
        rr: &ResourceRequest,
        target: &Target<'_>,
        key: &str,
        dry_run: bool,
    ) -> Result<WriteOutcome, Response> {
        let name = rr.name.clone().unwrap_or_default();
        let mut obj: Value =
            serde_json::from_slice(&req.body).map_err(|e| bad_request(&e.to_string()))?;
        if obj.pointer("/metadata/name").and_then(Value::as_str) != Some(name.as_str()) {
            return Err(bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let inventory = self.inventory();
        let Some(live) = inventory.item(target.gvr, key) else {
            return Err(not_found(&rr.group, &rr.resource, &name));
        };
        let sent_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let live_rv = live
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if sent_rv.is_some() && sent_rv != live_rv {
            let mut body = recordings::body("058").clone();
            body["reason"] = json!("Conflict");
            body["message"] = json!(format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified_resource(&rr.group, &rr.resource)
            ));
            body["details"] = details(&rr.group, &rr.resource, Some(&name));
            return Err(json_response(409, "058", &body));
        }
        valid(target.kind, &rr.group, &name, &obj)?;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "managedFields",
            ] {
                if let Some(v) = live.pointer(&format!("/metadata/{field}")) {
                    meta.entry(field).or_insert_with(|| v.clone());
                }
            }
            if !dry_run {
                meta.insert(
                    "resourceVersion".into(),
                    json!(self.next_resource_version()),
                );
            }
        }
        let av = discovery::api_version(&rr.group, &rr.version);
        let full = with_type_meta(&av, target.kind, &strip_type_meta(obj));
        Ok(WriteOutcome {
            response: json_response(200, "081", &full),
            store: (!dry_run).then(|| Some(strip_type_meta(full.clone()))),
        })
    }

    fn delete(
        &self,
        rr: &ResourceRequest,
        target: &Target<'_>,
        key: &str,
        dry_run: bool,
    ) -> Result<WriteOutcome, Response> {
        let name = rr.name.clone().unwrap_or_default();
        let inventory = self.inventory();
        let Some(live) = inventory.item(target.gvr, key) else {
            return Err(not_found(&rr.group, &rr.resource, &name));
        };
        let mut body = recordings::body("096").clone();
        let mut d = details(&rr.group, &rr.resource, Some(&name));
        if let (Some(map), Some(uid)) = (d.as_object_mut(), live.pointer("/metadata/uid")) {
            map.insert("uid".into(), uid.clone());
        }
        body["details"] = d;
        Ok(WriteOutcome {
            response: json_response(200, "096", &body),
            store: (!dry_run).then_some(None),
        })
    }
}

/// What a write answers and, when it changes the store, the new object (`Some(None)`: removed).
struct WriteOutcome {
    response: Response,
    store: Option<Option<Value>>,
}

impl WriteOutcome {
    fn answer(response: Response) -> WriteOutcome {
        WriteOutcome {
            response,
            store: None,
        }
    }

    fn finish(
        self,
        core: &ServerCore,
        target: &Target<'_>,
        key: &str,
        written_key: &str,
    ) -> Response {
        if let Some(item) = self.store {
            core.commit(target, key, written_key, item);
        }
        self.response
    }
}

/// The 422 of `059`–`061` when `obj` fails the validation the recordings show.
fn valid(kind: &str, group: &str, name: &str, obj: &Value) -> Result<(), Response> {
    let causes = writes::validate(kind, obj);
    if causes.is_empty() {
        return Ok(());
    }
    let body = writes::invalid_status(kind, group, name, &causes);
    Err(json_response(422, "059", &body))
}

/// The manager a write is recorded under: `fieldManager`, else the User-Agent's product name
/// (`kubectl-create`, `curl`), as kube-apiserver derives it.
fn field_manager(params: &[(String, String)], req: &Request) -> String {
    if let Some(m) = param(params, "fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    req.user_agent
        .as_deref()
        .and_then(|ua| ua.split('/').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Kinds whose objects carry `metadata.generation` (those with a spec).
fn obj_has_spec(kind: &str) -> bool {
    !matches!(
        kind,
        "ServiceAccount"
            | "ConfigMap"
            | "Secret"
            | "ClusterRole"
            | "Role"
            | "ClusterRoleBinding"
            | "RoleBinding"
            | "Namespace"
    )
}

/// A well-formed uid for a created object.
fn new_uid(key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let half = |salt: &str| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (key, salt, crate::time::now_unix()).hash(&mut h);
        format!("{:016x}", h.finish())
    };
    let hex = format!("{}{}", half("a"), half("b"));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// 409 like `085`: `Apply failed with N conflicts: conflicts with "<manager>" using <av>:` and
/// one `- <field>` line per conflict.
fn conflict_status(manager: &str, api_version: &str, fields: &[String]) -> Response {
    let mut body = recordings::body("085").clone();
    let noun = if fields.len() == 1 {
        "conflict"
    } else {
        "conflicts"
    };
    let mut message = format!(
        "Apply failed with {} {noun}: conflicts with \"{manager}\" using {api_version}:",
        fields.len()
    );
    for f in fields {
        message.push_str(&format!("\n- {f}"));
    }
    body["message"] = json!(message);
    body["details"] = json!({"causes": fields.iter().map(|f| json!({
        "reason": "FieldManagerConflict",
        "message": format!("conflict with \"{manager}\" using {api_version}"),
        "field": f,
    })).collect::<Vec<_>>()});
    json_response(409, "085", &body)
}
