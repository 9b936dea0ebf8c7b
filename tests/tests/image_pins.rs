//! `kubectl image-pins` end to end: the built plugin found by the real kubectl on PATH, offline
//! on the bundled examples and live against the test API server, resolving against real
//! `docker-registry` instances (one open, one with htpasswd Basic auth) with images pushed by
//! skopeo, and pinning files in place.

use std::path::{Path, PathBuf};
use std::process::Output;

use guardrails_e2e::e2e::{
    assert_clean_error, example_objects, examples, json_of, run, stderr, stdout,
};
use guardrails_e2e::registry::TestRegistry;
use guardrails_e2e::{ApiServerConfig, Inventory, TestApiServer, harness};
use serde_json::{Value, json};

/// (rule, object name, container) of every finding, sorted.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["object"]["name"].as_str().unwrap_or("").to_string(),
                f["evidence"]["container"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The example cluster's objects, for the test API server.
#[test]
fn kubectl_discovers_the_plugin_and_its_help() {
    let list = run(&["plugin", "list"]);
    assert!(
        stdout(&list).contains("kubectl-image_pins"),
        "{}",
        stdout(&list)
    );
    let help = run(&["image-pins", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    assert!(text.contains("Usage: kubectl image-pins"), "{text}");
    assert!(text.contains("Exit codes:") && text.contains("resolve") && text.contains("pin"));
    let version = run(&["image-pins", "--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn offline_examples_report_mutable_images_grouped_by_image() {
    let out = run(&["image-pins", "-f", &examples(), "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "latest tags are high: {}",
        stderr(&out)
    );
    let report = json_of(&out);
    assert_eq!(report["plugin"], "image-pins");
    let found = findings(&report);
    for expected in [
        ("image-latest-tag", "frontend", "nginx"),
        ("image-latest-tag", "ingress-nginx-controller", "controller"),
        ("image-no-tag", "payments-cache", "redis"),
        ("image-not-pinned", "checkout", "checkout"),
        ("image-not-pinned", "mysql", "mysql"),
    ] {
        let e = (expected.0.into(), expected.1.into(), expected.2.into());
        assert!(found.contains(&e), "{expected:?} missing from {found:?}");
    }
    assert!(
        !found.iter().any(|(_, name, _)| name == "payments-api"),
        "the digest-pinned image is fine"
    );

    let table = run(&["image-pins", "-f", &examples(), "--fail-on", "never"]);
    assert_eq!(table.status.code(), Some(0));
    let text = stdout(&table);
    let nginx_rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("docker.io/library/nginx:latest"))
        .collect();
    assert_eq!(nginx_rows.len(), 1, "one row per image and rule: {text}");
    assert!(nginx_rows[0].contains("+3 more"), "{text}");

    let allow = run(&[
        "image-pins",
        "-f",
        &examples(),
        "-o",
        "json",
        "--allow-registry",
        "docker.io",
        "--allow-registry",
        "ghcr.io/example-shop",
        "--allow-registry",
        "registry.k8s.io",
    ]);
    let not_allowed: Vec<String> = findings(&json_of(&allow))
        .into_iter()
        .filter(|(r, _, _)| r == "image-registry-not-allowed")
        .map(|(_, n, _)| n)
        .collect();
    assert_eq!(
        not_allowed,
        ["node-exporter"],
        "only quay.io is outside the allow-list"
    );
}

#[test]
fn live_and_offline_give_identical_findings() {
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(example_objects()),
        ..ApiServerConfig::default()
    });
    let live = server
        .kubectl(&["image-pins", "-A", "-o", "json"])
        .output()
        .expect("run");
    assert_eq!(live.status.code(), Some(1), "{}", stderr(&live));
    let live = json_of(&live);
    let offline = json_of(&run(&["image-pins", "-f", &examples(), "-A", "-o", "json"]));
    assert!(!live["findings"].as_array().expect("findings").is_empty());
    assert_eq!(live["findings"], offline["findings"], "ids included");
    assert_eq!(live["summary"], offline["summary"]);
    // -n scopes live mode like kubectl.
    let shop = json_of(
        &server
            .kubectl(&["image-pins", "-n", "shop", "-o", "json"])
            .output()
            .expect("run"),
    );
    assert!(findings(&shop).iter().all(|(_, n, _)| n != "mysql"));
}

#[test]
fn bad_input_is_one_line_with_the_contract_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Pod\nspec: [unclosed\n").expect("write");
    let out = run(&["image-pins", "-f", &bad.display().to_string()]);
    assert_clean_error(&out, 3, "bad.yaml");

    let out = run(&["image-pins", "-f", &examples(), "--allow-registry", "a@b"]);
    assert_clean_error(&out, 2, "--allow-registry");

    let out = run(&["image-pins", "pin", "-f", &examples(), "--dry-run=server"]);
    assert_clean_error(&out, 2, "--dry-run=server needs a cluster");

    let invalid = dir.path().join("invalid.yaml");
    std::fs::write(
        &invalid,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: [{name: c, image: 'Nginx:1'}]}\n",
    )
    .expect("write");
    let report = json_of(&run(&[
        "image-pins",
        "-f",
        &invalid.display().to_string(),
        "-o",
        "json",
    ]));
    assert_eq!(
        findings(&report),
        [("image-invalid-reference".into(), "p".into(), "c".into())]
    );
}

/// A manifest with one Deployment per image (and `copies` Deployments sharing each).
fn deployments(images: &[&str], copies: usize) -> String {
    let mut docs = Vec::new();
    for (i, image) in images.iter().enumerate() {
        for c in 0..copies {
            docs.push(format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{i}-{c}, namespace: apps}}\nspec:\n  selector: {{matchLabels: {{app: d{i}}}}}\n  template:\n    metadata: {{labels: {{app: d{i}}}}}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
            ));
        }
    }
    docs.join("---\n")
}

fn resolutions(o: &Output) -> Vec<Value> {
    let doc = json_of(o);
    assert_eq!(doc["kind"], "ImageResolution");
    doc["images"].as_array().expect("images").clone()
}

fn entry<'a>(images: &'a [Value], reference: &str) -> &'a Value {
    images
        .iter()
        .find(|i| i["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} not in {images:?}"))
}

#[test]
fn resolve_matches_skopeo_for_single_and_multi_arch_and_reports_each_error() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let single = registry.push_image("team/app", "v1", "a");
    let multi = registry.push_multi_arch("team/multi", "v1", "a");
    assert_eq!(single, registry.skopeo_digest("team/app:v1"));
    assert_eq!(multi, registry.skopeo_digest("team/multi:v1"));

    // Nothing listens on this one: "registry down".
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let app = format!("{host}/team/app:v1");
    let multi_ref = format!("{host}/team/multi:v1");
    let no_tag = format!("{host}/team/app:v9");
    let no_repo = format!("{host}/team/nothing:v1");
    let down_ref = format!("127.0.0.1:{down}/team/app:v1");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("apps.yaml");
    std::fs::write(
        &file,
        deployments(&[&app, &multi_ref, &no_tag, &no_repo, &down_ref], 3),
    )
    .expect("write");
    let out = run(&[
        "image-pins",
        "resolve",
        "-f",
        &file.display().to_string(),
        "-o",
        "json",
        "--insecure-registry",
        &host,
        "--insecure-registry",
        &format!("127.0.0.1:{down}"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "errors exit 4: {}",
        stderr(&out)
    );
    let images = resolutions(&out);
    assert_eq!(images.len(), 5, "each distinct reference once");
    assert_eq!(entry(&images, &app)["digest"], single.as_str());
    assert_eq!(
        entry(&images, &app)["usedBy"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        entry(&images, &app)["pinned"],
        format!("{app}@{single}").as_str()
    );
    let m = entry(&images, &multi_ref);
    assert_eq!(
        m["digest"],
        multi.as_str(),
        "the index digest, not a platform's"
    );
    assert_eq!(m["mediaType"], "application/vnd.oci.image.index.v1+json");
    let err = |r: &str| {
        entry(&images, r)["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        err(&no_tag).contains("tag or digest v9 not found"),
        "{}",
        err(&no_tag)
    );
    assert!(
        err(&no_repo).contains("repository") && err(&no_repo).contains("not found"),
        "{}",
        err(&no_repo)
    );
    assert!(
        err(&down_ref).contains("registry unreachable"),
        "{}",
        err(&down_ref)
    );
    // One line per failed image on stderr, nothing else.
    let e = stderr(&out);
    assert_eq!(
        e.lines().filter(|l| l.starts_with("error: ")).count(),
        3,
        "{e}"
    );

    // 15 workloads, 5 distinct references: one HEAD per reference that exists.
    assert_eq!(registry.plugin_requests("HEAD"), 4, "{}", registry.log());
    assert_eq!(
        registry.plugin_requests("GET"),
        3,
        "one ping, and a GET for each 404 to tell repository from tag"
    );

    // Plain HTTP only for registries named insecure.
    let https = run(&[
        "image-pins",
        "resolve",
        "-f",
        &file.display().to_string(),
        "-o",
        "json",
    ]);
    assert_eq!(https.status.code(), Some(4));
    assert!(entry(&resolutions(&https), &app)["digest"].is_null());
}

#[test]
fn tag_moves_are_seen_on_the_next_resolve() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let first = registry.push_image("team/app", "stable", "one");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("app.yaml");
    let reference = format!("{host}/team/app:stable");
    std::fs::write(&file, deployments(&[&reference], 1)).expect("write");
    let resolve = || {
        let out = run(&[
            "image-pins",
            "resolve",
            "-f",
            &file.display().to_string(),
            "-o",
            "json",
            "--insecure-registry",
            &host,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        entry(&resolutions(&out), &reference)["digest"]
            .as_str()
            .expect("digest")
            .to_string()
    };
    assert_eq!(resolve(), first);
    let second = registry.push_image("team/app", "stable", "two");
    assert_ne!(first, second);
    assert_eq!(resolve(), second);
    assert_eq!(second, registry.skopeo_digest("team/app:stable"));
}

fn docker_config(dir: &Path, host: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config_dir = dir.join(format!("docker-{user}-{}", password.len()));
    std::fs::create_dir_all(&config_dir).expect("dir");
    std::fs::write(
        config_dir.join("config.json"),
        json!({"auths": {format!("http://{host}"): {"auth": auth}}}).to_string(),
    )
    .expect("config");
    config_dir
}

#[test]
fn basic_auth_registry_with_docker_config_credentials() {
    let registry = TestRegistry::start_with_basic_auth("ci", "s3cret");
    let host = registry.host();
    let digest = registry.push_image("private/app", "v1", "a");
    assert_eq!(digest, registry.skopeo_digest("private/app:v1"));
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("app.yaml");
    let reference = format!("{host}/private/app:v1");
    std::fs::write(&file, deployments(&[&reference], 2)).expect("write");
    let resolve_with = |config: Option<&Path>| {
        let mut cmd = harness::kubectl(&[
            "image-pins",
            "resolve",
            "-f",
            &file.display().to_string(),
            "-o",
            "json",
            "--insecure-registry",
            &host,
        ]);
        if let Some(c) = config {
            cmd.env("DOCKER_CONFIG", c);
        }
        cmd.output().expect("run")
    };
    let good = resolve_with(Some(&docker_config(dir.path(), &host, "ci", "s3cret")));
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert_eq!(
        entry(&resolutions(&good), &reference)["digest"],
        digest.as_str()
    );

    let anonymous = resolve_with(None);
    assert_eq!(anonymous.status.code(), Some(4));
    let error = entry(&resolutions(&anonymous), &reference)["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(error.contains("authentication failed"), "{error}");

    let wrong = resolve_with(Some(&docker_config(dir.path(), &host, "ci", "wrong")));
    assert_eq!(wrong.status.code(), Some(4));
    let error = entry(&resolutions(&wrong), &reference)["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        error.contains("authentication failed") && error.contains("as ci"),
        "{error}"
    );
    assert!(
        !error.contains("wrong"),
        "never print the password: {error}"
    );
}

#[test]
fn live_resolve_uses_the_workloads_image_pull_secret() {
    use base64::Engine;
    let registry = TestRegistry::start_with_basic_auth("puller", "pw");
    let host = registry.host();
    let digest = registry.push_image("private/api", "v3", "a");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let dockerconfig =
        json!({"auths": {host.clone(): {"username": "puller", "password": "pw"}}}).to_string();
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
               "metadata": {"name": "regcred", "namespace": "apps"},
               "data": {".dockerconfigjson": b64(&dockerconfig)}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "apps"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "api", "namespace": "apps"},
               "spec": {"selector": {"matchLabels": {"app": "api"}},
                        "template": {"metadata": {"labels": {"app": "api"}},
                                     "spec": {"imagePullSecrets": [{"name": "regcred"}],
                                              "containers": [{"name": "api", "image": format!("{host}/private/api:v3")}]}}}}),
    ];
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let out = server
        .kubectl(&[
            "image-pins",
            "resolve",
            "-n",
            "apps",
            "-o",
            "json",
            "--insecure-registry",
            &host,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let images = resolutions(&out);
    assert_eq!(images[0]["digest"], digest.as_str());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/apps/secrets/regcred"),
        "the pull secret is read by name, never listed"
    );
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/secrets"))
    );
}

const PIN_FILE: &str = "\
# Web tier — reviewed by the platform team
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
        - name: init
          image: 'HOST/team/multi:v1'   # init image
      containers:
        - name: web
          # the main image
          image: HOST/team/app:v1
          imagePullPolicy: IfNotPresent
---
apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data: {image: HOST/team/app:v1}
";

#[test]
fn pin_rewrites_files_in_place_keeping_everything_else() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let single = registry.push_image("team/app", "v1", "a");
    let multi = registry.push_multi_arch("team/multi", "v1", "a");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("web.yaml");
    let original = PIN_FILE.replace("HOST", &host).replace('\n', "\r\n");
    std::fs::write(&file, &original).expect("write");
    let f = file.display().to_string();
    let pin = |extra: &[&str]| {
        let mut args = vec!["image-pins", "pin", "-f", &f, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        run(&args)
    };

    let preview = pin(&["--dry-run=client"]);
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let diff = stdout(&preview);
    assert!(diff.contains("--- a/") && diff.contains("+++ b/"), "{diff}");
    assert!(
        diff.contains(&format!("+          image: {host}/team/app:v1@{single}")),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        original,
        "dry run writes nothing"
    );

    let refused = pin(&[]);
    assert_eq!(
        refused.status.code(),
        Some(5),
        "no terminal, no --yes: {}",
        stderr(&refused)
    );
    assert!(stderr(&refused).contains("--yes"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), original);

    let written = pin(&["--yes"]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let expected = original
        .replace(
            &format!("'{host}/team/multi:v1'"),
            &format!("'{host}/team/multi:v1@{multi}'"),
        )
        .replacen(
            &format!("image: {host}/team/app:v1\r\n          imagePull"),
            &format!("image: {host}/team/app:v1@{single}\r\n          imagePull"),
            1,
        );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        expected,
        "only the two image values changed"
    );

    // Pinned now: nothing left to pin, and scan no longer reports them.
    let again = pin(&["--yes"]);
    assert!(
        stdout(&again).contains("Nothing to pin."),
        "{}",
        stdout(&again)
    );
    let scan = json_of(&run(&["image-pins", "-f", &f, "-o", "json"]));
    assert!(findings(&scan).is_empty(), "{scan}");
}

#[test]
fn pin_refuses_helm_templates_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let chart = dir.path().join("deployment.yaml");
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - image: \"{{ .Values.image }}\"\n";
    std::fs::write(&chart, text).expect("write");
    let out = run(&[
        "image-pins",
        "pin",
        "-f",
        &chart.display().to_string(),
        "--yes",
    ]);
    assert_clean_error(&out, 3, "deployment.yaml:8: Helm/Go template");
    assert_eq!(std::fs::read_to_string(&chart).expect("read"), text);
}

/// A registry speaking the token protocol (as Docker Hub, GHCR and Quay do), which
/// docker-registry's htpasswd mode does not: `/v2/` answers `401 Bearer realm=…`, the realm
/// hands out a token for anonymous pulls, manifests need it. Repository `plain` answers without
/// `Docker-Content-Digest`, so the digest must come from hashing the GET body.
struct TokenRegistry {
    host: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

impl TokenRegistry {
    fn start() -> TokenRegistry {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let host = listener.local_addr().expect("addr").to_string();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&requests);
        let realm = format!("http://{host}/token");
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
                    let log = std::sync::Arc::clone(&log);
                    let realm = realm.clone();
                    async move {
                        let path = uri.path().to_string();
                        if let Ok(mut l) = log.lock() {
                            l.push(format!("{method} {uri}"));
                        }
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        // hub/private needs the token issued to ci:pw; the rest an anonymous one.
                        let authorized = if path.starts_with("/v2/hub/private/") {
                            auth == "Bearer user-token"
                        } else {
                            auth == "Bearer anon-token" || auth == "Bearer user-token"
                        };
                        let challenge =
                            format!(r#"Bearer realm="{realm}",service="test-registry""#);
                        if path == "/token" {
                            let query = uri.query().unwrap_or("");
                            let token =
                                |body: &str| (StatusCode::OK, HeaderMap::new(), body.to_string());
                            return match (query.contains("private"), auth.as_str()) {
                                (_, "Basic Y2k6cHc=") => token(r#"{"token":"user-token"}"#),
                                (false, "") => token(r#"{"access_token":"anon-token"}"#),
                                _ => (StatusCode::UNAUTHORIZED, HeaderMap::new(), String::new()),
                            };
                        }
                        let mut h = HeaderMap::new();
                        if !authorized {
                            h.insert("www-authenticate", challenge.parse().expect("header"));
                            return (StatusCode::UNAUTHORIZED, h, String::new());
                        }
                        h.insert(
                            "content-type",
                            "application/vnd.oci.image.manifest.v1+json"
                                .parse()
                                .expect("ct"),
                        );
                        match path.as_str() {
                            "/v2/" => (StatusCode::OK, HeaderMap::new(), "{}".into()),
                            "/v2/hub/app/manifests/v1" | "/v2/hub/private/manifests/v1" => {
                                h.insert(
                                    "docker-content-digest",
                                    guardrails_e2e::registry::sha256(MANIFEST.as_bytes())
                                        .parse()
                                        .expect("d"),
                                );
                                (
                                    StatusCode::OK,
                                    h,
                                    if method == Method::HEAD {
                                        String::new()
                                    } else {
                                        MANIFEST.into()
                                    },
                                )
                            }
                            "/v2/hub/plain/manifests/v1" => (
                                StatusCode::OK,
                                h,
                                if method == Method::HEAD {
                                    String::new()
                                } else {
                                    MANIFEST.into()
                                },
                            ),
                            _ => (
                                StatusCode::NOT_FOUND,
                                HeaderMap::new(),
                                r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.into(),
                            ),
                        }
                    }
                };
                let app = axum::Router::new().fallback(handler);
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app).await;
            });
        });
        TokenRegistry {
            host,
            requests,
            _thread: thread,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[test]
fn anonymous_bearer_tokens_and_the_get_fallback_without_digest_header() {
    let registry = TokenRegistry::start();
    let host = registry.host.clone();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("apps.yaml");
    let app = format!("{host}/hub/app:v1");
    let plain = format!("{host}/hub/plain:v1");
    std::fs::write(&file, deployments(&[&app, &plain], 2)).expect("write");
    let out = run(&[
        "image-pins",
        "resolve",
        "-f",
        &file.display().to_string(),
        "-o",
        "json",
        "--insecure-registry",
        &host,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let images = resolutions(&out);
    let expected = guardrails_e2e::registry::sha256(MANIFEST.as_bytes());
    assert_eq!(entry(&images, &app)["digest"], expected.as_str());
    assert_eq!(
        entry(&images, &plain)["digest"],
        expected.as_str(),
        "sha256 of the GET body"
    );
    let requests = registry.requests();
    let count = |prefix: &str| requests.iter().filter(|r| r.starts_with(prefix)).count();
    assert_eq!(
        count("GET /v2/"),
        2,
        "one ping, one GET for the repository without digest header: {requests:?}"
    );
    assert_eq!(
        requests.iter().filter(|r| *r == "GET /v2/").count(),
        1,
        "one ping for the registry: {requests:?}"
    );
    assert_eq!(count("HEAD /v2/hub/"), 2, "{requests:?}");
    assert_eq!(
        count("GET /token?"),
        2,
        "one token per repository scope: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("scope=repository%3Ahub%2Fapp%3Apull")
                && r.contains("service=test-registry")),
        "{requests:?}"
    );
}

#[test]
fn kubectl_completes_plugin_arguments() {
    let subcommands = stdout(&run(&["__complete", "image-pins", "re"]));
    assert!(
        subcommands.lines().any(|l| l.starts_with("resolve\t")),
        "{subcommands}"
    );
    let dry_run = stdout(&run(&["__complete", "image-pins", "pin", "--dry"]));
    assert!(
        dry_run.lines().any(|l| l.starts_with("--dry-run")),
        "{dry_run}"
    );
    let flags = stdout(&run(&["__complete", "image-pins", "resolve", "--insecure"]));
    assert!(
        flags
            .lines()
            .any(|l| l.starts_with("--insecure-registry\t")),
        "{flags}"
    );
}

#[test]
fn bearer_tokens_with_docker_config_credentials() {
    let registry = TokenRegistry::start();
    let host = registry.host.clone();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("private.yaml");
    let private = format!("{host}/hub/private:v1");
    std::fs::write(&file, deployments(&[&private], 1)).expect("write");
    let resolve_with = |config: Option<&Path>| {
        let mut cmd = harness::kubectl(&[
            "image-pins",
            "resolve",
            "-f",
            &file.display().to_string(),
            "-o",
            "json",
            "--insecure-registry",
            &host,
        ]);
        if let Some(c) = config {
            cmd.env("DOCKER_CONFIG", c);
        }
        cmd.output().expect("run")
    };
    let anonymous = resolve_with(None);
    assert_eq!(anonymous.status.code(), Some(4));
    let error = entry(&resolutions(&anonymous), &private)["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        error.contains("authentication failed") && error.contains("token service"),
        "{error}"
    );

    let config = docker_config(dir.path(), &host, "ci", "pw");
    let out = resolve_with(Some(&config));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected = guardrails_e2e::registry::sha256(MANIFEST.as_bytes());
    assert_eq!(
        entry(&resolutions(&out), &private)["digest"],
        expected.as_str()
    );
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /token?") && r.contains("hub%2Fprivate")),
        "{:?}",
        registry.requests()
    );
}

#[test]
fn examples_table() {
    let out = run(&[
        "image-pins",
        "-f",
        &examples(),
        "-o",
        "wide",
        "--fail-on",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn credential_helpers_from_the_docker_config_are_run() {
    use std::os::unix::fs::PermissionsExt;
    let registry = TestRegistry::start_with_basic_auth("helper-user", "helper-pw");
    let host = registry.host();
    let digest = registry.push_image("private/app", "v1", "a");
    let dir = tempfile::tempdir().expect("tmp");
    // A credential helper as docker runs it: `get`, the server on stdin, JSON on stdout.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" >> {log}\necho '{{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"helper-user\",\"Secret\":\"helper-pw\"}}'\n",
            log = dir.path().join("asked").display()
        ),
    )
    .expect("helper");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = dir.path().join("docker");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(
        config.join("config.json"),
        json!({"credHelpers": {host.clone(): "fake"}}).to_string(),
    )
    .expect("config");
    let file = dir.path().join("app.yaml");
    let reference = format!("{host}/private/app:v1");
    std::fs::write(&file, deployments(&[&reference], 3)).expect("write");
    let mut path = std::ffi::OsString::from(bin.as_os_str());
    path.push(":");
    path.push(guardrails_e2e::plugin_path_env());
    let out = harness::kubectl(&[
        "image-pins",
        "resolve",
        "-f",
        &file.display().to_string(),
        "-o",
        "json",
        "--insecure-registry",
        &host,
    ])
    .env("PATH", path)
    .env("DOCKER_CONFIG", &config)
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        entry(&resolutions(&out), &reference)["digest"],
        digest.as_str()
    );
    let asked = std::fs::read_to_string(dir.path().join("asked")).expect("helper ran");
    assert_eq!(asked.trim(), host, "asked once, for this registry");
}

/// Non-dry-run writes the test API server received (access reviews are questions, not writes).
fn writes_sent(server: &TestApiServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| {
            r.method != "GET" && r.param("dryRun").is_none() && !r.path.contains("selfsubject")
        })
        .count()
}

fn get_json(server: &TestApiServer, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-n", "apps", "-o", "json"]);
    let out = server.kubectl(&all).output().expect("kubectl get");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json_of(&out)
}

/// The object without what the server maintains (to compare before/after a write).
fn user_fields(mut obj: Value) -> Value {
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for f in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(f);
        }
    }
    obj
}

/// Every leaf value of a JSON document by its JSON pointer.
fn leaves(v: &Value) -> std::collections::BTreeMap<String, Value> {
    fn walk(v: &Value, at: String, out: &mut std::collections::BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, c)| walk(c, format!("{at}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, c)| walk(c, format!("{at}/{i}"), out)),
            leaf => {
                out.insert(at, leaf.clone());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

#[test]
fn live_pin_patches_only_the_controllers_image_fields() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let app = registry.push_image("team/app", "v1", "a");
    let init = registry.push_multi_arch("team/init", "v1", "a");
    let app_ref = format!("{host}/team/app:v1");
    let init_ref = format!("{host}/team/init:v1");
    let owner = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api",
                        "uid": "d-1", "controller": true}]);
    let rs_owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5d",
                           "uid": "rs-1", "controller": true}]);
    let template = json!({"metadata": {"labels": {"app": "api"}},
                          "spec": {"initContainers": [{"name": "init", "image": init_ref}],
                                   "containers": [{"name": "api", "image": app_ref,
                                                   "imagePullPolicy": "IfNotPresent"}]}});
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "api", "namespace": "apps", "uid": "d-1"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}}, "template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "api-5d", "namespace": "apps", "uid": "rs-1", "ownerReferences": owner},
               "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": template}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "api-5d-x", "namespace": "apps", "labels": {"app": "api"}, "ownerReferences": rs_owner},
               "spec": {"containers": [{"name": "api", "image": app_ref}]}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob",
               "metadata": {"name": "report", "namespace": "apps"},
               "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never", "containers": [{"name": "report", "image": app_ref}]}}}}}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "bare", "namespace": "apps"},
               "spec": {"containers": [{"name": "c", "image": app_ref}]}}),
    ];
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let pin = |extra: &[&str]| {
        let mut args = vec![
            "image-pins",
            "pin",
            "-n",
            "apps",
            "--insecure-registry",
            &host,
        ];
        args.extend_from_slice(extra);
        server.kubectl(&args).output().expect("run")
    };
    let kinds = [
        "deployment/api",
        "replicaset/api-5d",
        "pod/api-5d-x",
        "cronjob/report",
        "pod/bare",
    ];
    let before: Vec<Value> = kinds.iter().map(|k| get_json(&server, &[k])).collect();

    let preview = pin(&["--dry-run=server"]);
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let diff = stdout(&preview);
    assert!(
        diff.contains(
            "# deployment.apps/api -n apps: pin 2 image(s) to digests (a rollout follows)"
        ),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("+        image: {app_ref}@{app}")),
        "{diff}"
    );
    assert!(diff.contains(&format!("{init_ref}@{init}")), "{diff}");
    assert!(diff.contains("# cronjob.batch/report -n apps"), "{diff}");
    assert!(
        !diff.contains("replicaset") && !diff.contains("pod/"),
        "{diff}"
    );
    assert!(
        stderr(&preview).contains("Pod/apps/bare not pinned") || stderr(&preview).contains("bare"),
        "{}",
        stderr(&preview)
    );
    assert_eq!(writes_sent(&server), 0, "a server dry run writes nothing");

    let refused = pin(&[]);
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert_eq!(
        writes_sent(&server),
        0,
        "no terminal, no --yes: nothing written"
    );

    let written = pin(&["--yes"]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert!(
        stderr(&written).contains("pinned 3 image(s) in 2 controller(s)"),
        "{}",
        stderr(&written)
    );
    assert_eq!(writes_sent(&server), 2, "one patch per controller");
    for r in server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.param("dryRun").is_none())
    {
        assert_eq!(r.param("fieldManager"), Some("kubectl-image-pins"));
    }
    // The patches carry tests and replaces of image fields only.
    for r in server
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.param("dryRun").is_none())
    {
        let ops = r.body.clone().expect("JSON patch");
        for op in ops.as_array().expect("ops") {
            let path = op["path"].as_str().expect("path");
            match op["op"].as_str() {
                Some("replace") => assert!(path.ends_with("/image"), "{op}"),
                Some("test") => {
                    assert!(path.ends_with("/image") || path.ends_with("/name"), "{op}")
                }
                _ => panic!("unexpected op {op}"),
            }
        }
    }
    let after: Vec<Value> = kinds.iter().map(|k| get_json(&server, &[k])).collect();
    let changed = |before: &Value, after: &Value| {
        let (b, a) = (
            leaves(&user_fields(before.clone())),
            leaves(&user_fields(after.clone())),
        );
        let mut paths: Vec<String> = b
            .iter()
            .filter(|(path, value)| a.get(*path) != Some(value))
            .map(|(path, _)| path.clone())
            .collect();
        paths.sort();
        (paths, a)
    };
    let (paths, deploy) = changed(&before[0], &after[0]);
    assert_eq!(
        paths,
        [
            "/spec/template/spec/containers/0/image",
            "/spec/template/spec/initContainers/0/image"
        ],
        "exactly the two image fields change"
    );
    assert_eq!(
        deploy["/spec/template/spec/containers/0/image"],
        format!("{app_ref}@{app}")
    );
    assert_eq!(
        deploy["/spec/template/spec/initContainers/0/image"],
        format!("{init_ref}@{init}")
    );
    let (paths, cron) = changed(&before[3], &after[3]);
    let cron_image = "/spec/jobTemplate/spec/template/spec/containers/0/image";
    assert_eq!(paths, [cron_image]);
    assert_eq!(cron[cron_image], format!("{app_ref}@{app}"));
    for i in [1, 2, 4] {
        assert_eq!(after[i], before[i], "{} untouched", kinds[i]);
    }

    let again = pin(&["--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Nothing to pin."),
        "{}",
        stdout(&again)
    );
    assert_eq!(writes_sent(&server), 2, "a second pin changes nothing");
}

/// A Deployment with its ReplicaSet and one pod per running digest (`imageID` in its status).
fn deployment_with_pods(name: &str, image: &str, running: &[&str]) -> Vec<Value> {
    let mut objects = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "apps", "uid": format!("d-{name}")},
               "spec": {"selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"containers": [{"name": "main", "image": image}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": format!("{name}-1"), "namespace": "apps", "uid": format!("rs-{name}"),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                 "uid": format!("d-{name}"), "controller": true}]},
               "spec": {"selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"containers": [{"name": "main", "image": image}]}}}}),
    ];
    for (i, digest) in running.iter().enumerate() {
        let repo = image
            .split('@')
            .next()
            .unwrap_or(image)
            .rsplit_once(':')
            .map_or(image, |(r, _)| r);
        objects.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{name}-1-{i}"), "namespace": "apps", "labels": {"app": name},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-1"),
                                              "uid": format!("rs-{name}"), "controller": true}]},
            "spec": {"containers": [{"name": "main", "image": image}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "main", "image": image, "imageID": format!("{repo}@{digest}"),
                "ready": true, "restartCount": 0}]}}));
    }
    objects
}

#[test]
fn drift_finds_moved_tags_mixed_replicas_and_vanished_digests() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let first = registry.push_image("team/app", "v1", "a");
    let second = registry.push_image("team/app", "v1", "b");
    assert_ne!(first, second, "the tag moved");
    let old = registry.push_image("team/old", "v1", "c");
    let never_pushed = format!("sha256:{}", "ab".repeat(32));
    let app = format!("{host}/team/app:v1");
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})];
    objects.extend(deployment_with_pods("moved", &app, &[&first, &first]));
    objects.extend(deployment_with_pods("mixed", &app, &[&first, &second]));
    objects.extend(deployment_with_pods(
        "steady",
        &format!("{app}@{second}"),
        &[&second],
    ));
    objects.extend(deployment_with_pods(
        "gone",
        &format!("{host}/team/old:v1@{never_pushed}"),
        &[&never_pushed],
    ));
    // A bare Pod: its own status says what runs, init containers included.
    objects.push(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "solo", "namespace": "apps"},
        "spec": {"initContainers": [{"name": "setup", "image": app}],
                 "containers": [{"name": "main", "image": app}]},
        "status": {"phase": "Running",
            "initContainerStatuses": [{"name": "setup", "image": app,
                "imageID": format!("{host}/team/app@{first}"), "ready": false, "restartCount": 0}],
            "containerStatuses": [{"name": "main", "image": app,
                "imageID": format!("{host}/team/app@{first}"), "ready": true, "restartCount": 0}]}}));
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(objects),
        ..ApiServerConfig::default()
    });
    let drift = |extra: &[&str]| {
        let mut args = vec![
            "image-pins",
            "drift",
            "-n",
            "apps",
            "--insecure-registry",
            &host,
        ];
        args.extend_from_slice(extra);
        server.kubectl(&args).output().expect("run")
    };
    let out = drift(&["-o", "json", "--fail-on", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(
        findings(&report),
        [
            (
                "image-digest-gone".to_string(),
                "gone".to_string(),
                "main".to_string()
            ),
            (
                "image-replicas-differ".into(),
                "mixed".into(),
                "main".into()
            ),
            ("image-tag-moved".into(), "gone".into(), "main".into()),
            ("image-tag-moved".into(), "moved".into(), "main".into()),
            ("image-tag-moved".into(), "solo".into(), "main".into()),
            ("image-tag-moved".into(), "solo".into(), "setup".into()),
        ],
        "{report}"
    );
    let moved = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "image-tag-moved" && f["object"]["name"] == "moved")
        .expect("moved");
    assert_eq!(moved["evidence"]["tagNow"], second.as_str());
    assert_eq!(moved["evidence"]["running"], json!([first]));
    let gone = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "image-tag-moved" && f["object"]["name"] == "gone")
        .expect("gone");
    assert_eq!(gone["evidence"]["tagNow"], old.as_str());

    // The high findings gate by default; drift needs a cluster.
    assert_eq!(drift(&[]).status.code(), Some(1));
    let offline = run(&["image-pins", "drift", "-f", &examples()]);
    assert_clean_error(&offline, 2, "needs a cluster");
}

#[test]
fn scan_reports_add_vulnerability_findings_that_gate_live_and_offline() {
    let dir = tempfile::tempdir().expect("tmp");
    let trivy = dir.path().join("mysql.trivy.json");
    std::fs::write(
        &trivy,
        r#"{"ArtifactName": "mysql:8.0", "ArtifactType": "container_image", "Results": [
             {"Target": "mysql:8.0 (oracle 8.9)", "Vulnerabilities": [
               {"VulnerabilityID": "CVE-2024-0001", "Severity": "CRITICAL"},
               {"VulnerabilityID": "CVE-2024-0002", "Severity": "LOW"}]}]}"#,
    )
    .expect("write");
    let grype = dir.path().join("redis.grype.json");
    std::fs::write(
        &grype,
        r#"{"matches": [{"vulnerability": {"id": "CVE-2023-1", "severity": "Medium"}}],
            "source": {"type": "image", "target": {"userInput": "redis:latest"}}}"#,
    )
    .expect("write");
    let (t, g) = (trivy.display().to_string(), grype.display().to_string());
    let vulnerable = |report: &Value| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["rule"] == "image-vulnerable")
            .map(|f| {
                (
                    f["object"]["name"].as_str().unwrap_or("").to_string(),
                    f["severity"].as_str().unwrap_or("").to_string(),
                    f["evidence"]["vulnerabilities"].to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let args = [
        "--scan-report",
        &t,
        "--scan-report",
        &g,
        "-o",
        "json",
        "--fail-on",
        "never",
    ];
    let examples = examples();
    let mut offline = vec!["image-pins", "-f", &examples];
    offline.extend_from_slice(&args);
    let offline = json_of(&run(&offline));
    assert_eq!(
        vulnerable(&offline),
        [
            (
                "mysql".to_string(),
                "critical".to_string(),
                r#"{"critical":1,"high":0,"medium":0,"low":1,"unknown":0}"#.to_string()
            ),
            (
                "payments-cache".into(),
                "medium".into(),
                r#"{"critical":0,"high":0,"medium":1,"low":0,"unknown":0}"#.into()
            ),
        ]
    );
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(example_objects()),
        ..ApiServerConfig::default()
    });
    let mut live = vec!["image-pins", "-A"];
    live.extend_from_slice(&args);
    let live = server.kubectl(&live).output().expect("run");
    assert_eq!(findings(&json_of(&live)), findings(&offline));

    let gated = run(&[
        "image-pins",
        "-f",
        &examples,
        "--scan-report",
        &t,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(gated.status.code(), Some(1), "{}", stderr(&gated));
    assert!(
        stdout(&gated).contains("image-vulnerable (1 critical, 1 low)"),
        "{}",
        stdout(&gated)
    );
    let without = run(&["image-pins", "-f", &examples, "--fail-on", "critical"]);
    assert_eq!(without.status.code(), Some(0), "{}", stderr(&without));
}
