//! A real OCI registry for the tests: Debian's `docker-registry` (CNCF distribution 2.8)
//! started on a free loopback port with its own storage directory and config — without auth,
//! or with htpasswd Basic auth — and small images pushed into it with `skopeo` from OCI
//! layouts written here (a single-arch image, or a multi-arch index of two images).
//!
//! The package's own service (port 5000) is never used; every instance is stopped by its PID
//! when dropped. `docker-registry` and `skopeo` come from `apt-get install docker-registry
//! skopeo` (see `.ci/run`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The registry executable (`$GUARDRAILS_E2E_REGISTRY` overrides).
pub fn registry_binary() -> PathBuf {
    std::env::var_os("GUARDRAILS_E2E_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// A running registry; stopped (by PID) on drop.
pub struct TestRegistry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// Basic-auth user and password, when started with auth.
    pub credentials: Option<(String, String)>,
}

/// `sha256:<hex>` of the bytes.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl TestRegistry {
    /// A registry without authentication.
    pub fn start() -> TestRegistry {
        TestRegistry::launch(None)
    }

    /// A registry answering `401 Basic realm=…` unless the given user and password are sent.
    pub fn start_with_basic_auth(user: &str, password: &str) -> TestRegistry {
        TestRegistry::launch(Some((user.to_string(), password.to_string())))
    }

    fn launch(credentials: Option<(String, String)>) -> TestRegistry {
        let dir = tempfile::tempdir().expect("registry dir");
        let port = free_port();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: guardrails-e2e\n",
            storage.display()
        );
        if let Some((user, password)) = &credentials {
            let hash = bcrypt::hash(password, 5).expect("bcrypt");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: guardrails-e2e\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); install it with apt-get install docker-registry",
                    registry_binary().display()
                )
            });
        let registry = TestRegistry {
            child,
            port,
            dir,
            credentials,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.raw_get("/v2/").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("registry did not start: {}", self.log());
    }

    /// The status line of a plain GET, or `None` when nothing answers.
    fn raw_get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.lines().next().map(str::to_string)
    }

    /// `127.0.0.1:<port>`: the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's log (requests are logged at info level).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Requests from the plugins (user agent `kubectl-guardrails/…`) the registry answered
    /// so far, by HTTP method (from its log; errors included).
    pub fn plugin_requests(&self, method: &str) -> usize {
        let needle = format!("http.request.method={method} ");
        self.log()
            .lines()
            .filter(|l| {
                l.contains("response completed")
                    && l.contains(&needle)
                    && l.contains("http.request.useragent=kubectl-guardrails/")
            })
            .count()
    }

    /// One plain HTTP/1.0 exchange (with Basic auth when configured): (status, body).
    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        use base64::Engine;
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let mut request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host(),
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some((u, p)) = &self.credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        stream.write_all(body).expect("send body");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(answer.len(), |i| i + 4);
        let head = String::from_utf8_lossy(&answer[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer[split..].to_vec())
    }

    /// Tags the manifest `repo:from` also as `repo:to` through the registry API (no copy:
    /// same digest), e.g. to make many distinct references cheaply.
    pub fn tag(&self, repo: &str, from: &str, to: &str) {
        let media_type = "application/vnd.oci.image.manifest.v1+json";
        let (status, manifest) = self.raw(
            "GET",
            &format!("/v2/{repo}/manifests/{from}"),
            &[("Accept", media_type)],
            &[],
        );
        assert_eq!(status, 200, "GET {repo}:{from}");
        let (status, body) = self.raw(
            "PUT",
            &format!("/v2/{repo}/manifests/{to}"),
            &[("Content-Type", media_type)],
            &manifest,
        );
        assert_eq!(
            status,
            201,
            "PUT {repo}:{to}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    fn skopeo(&self) -> Command {
        let mut cmd = Command::new("skopeo");
        cmd.arg("--insecure-policy");
        cmd
    }

    fn creds_args(&self, flag: &str) -> Vec<String> {
        match &self.credentials {
            Some((u, p)) => vec![flag.to_string(), format!("{u}:{p}")],
            None => Vec::new(),
        }
    }

    /// Pushes a single-arch image built from `variant` (different variants, different
    /// digests) as `repo:tag`; returns the manifest digest.
    pub fn push_image(&self, repo: &str, tag: &str, variant: &str) -> String {
        let layout = OciLayout::new(self.dir.path(), &format!("{repo}-{tag}-{variant}"));
        let manifest = layout.image(variant, "amd64");
        layout.finish(tag, &manifest, "application/vnd.oci.image.manifest.v1+json");
        self.copy(&layout.dir, tag, repo, false);
        sha256(&manifest)
    }

    /// Pushes a multi-arch image (an OCI index of amd64 and arm64 images) as `repo:tag`;
    /// returns the index digest.
    pub fn push_multi_arch(&self, repo: &str, tag: &str, variant: &str) -> String {
        let layout = OciLayout::new(self.dir.path(), &format!("{repo}-{tag}-{variant}-multi"));
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let manifest = layout.image(variant, arch);
            entries.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(&manifest),
                "size": manifest.len(),
                "platform": {"architecture": arch, "os": "linux"},
            }));
        }
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }))
        .expect("index json");
        layout.blob(&index);
        layout.finish(tag, &index, "application/vnd.oci.image.index.v1+json");
        self.copy(&layout.dir, tag, repo, true);
        sha256(&index)
    }

    fn copy(&self, layout: &Path, tag: &str, repo: &str, all: bool) {
        let mut cmd = self.skopeo();
        cmd.arg("copy")
            .arg("--dest-tls-verify=false")
            .arg("--preserve-digests");
        if all {
            cmd.arg("--all");
        }
        cmd.args(self.creds_args("--dest-creds"));
        cmd.arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.host()));
        let out = cmd.output().expect("skopeo runs (apt-get install skopeo)");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What skopeo says `repo:tag` is: the sha256 of the raw top-level manifest.
    pub fn skopeo_digest(&self, repo_tag: &str) -> String {
        let mut cmd = self.skopeo();
        cmd.args(["inspect", "--raw", "--tls-verify=false"])
            .args(self.creds_args("--creds"))
            .arg(format!("docker://{}/{repo_tag}", self.host()));
        let out = cmd.output().expect("skopeo runs");
        assert!(
            out.status.success(),
            "skopeo inspect failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sha256(&out.stdout)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OCI image layout directory being written.
struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    fn new(root: &Path, name: &str) -> OciLayout {
        let dir = root.join("layouts").join(name.replace(['/', ':'], "_"));
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        OciLayout { dir }
    }

    fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.dir.join("blobs/sha256").join(hex), bytes).expect("blob");
        digest
    }

    /// A one-layer image; returns its manifest bytes (also stored as a blob).
    fn image(&self, variant: &str, arch: &str) -> Vec<u8> {
        // An empty tar archive (two zero blocks) plus a marker file's worth of zeros per
        // variant keeps layers tiny but distinct.
        let layer = vec![0u8; 1024];
        let layer_digest = self.blob(&layer);
        let config = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"guardrails.test/variant": variant}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }))
        .expect("config json");
        let config_digest = self.blob(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer.len(),
            }],
        }))
        .expect("manifest json");
        self.blob(&manifest);
        manifest
    }

    fn finish(&self, tag: &str, top: &[u8], media_type: &str) {
        let index: Value = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type,
                "digest": sha256(top),
                "size": top.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("index.json"),
        )
        .expect("write index.json");
    }
}
