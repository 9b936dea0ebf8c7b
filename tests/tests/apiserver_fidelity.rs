//! The test API server is faithful to the recorded kube-apiserver:
//!
//! * replaying recorded requests against the server core gives the recorded status, headers
//!   and body (exactly, or with only the clock-dependent parts masked);
//! * the real kubectl, pointed at a running server, behaves as it does against a real server.

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::Arc;

use guardrails_e2e::apiserver::{Request, Response, ServerCore};
use guardrails_e2e::recordings::{self, Recording};
use guardrails_e2e::{
    ApiServerConfig, Forbid, Inventory, TestApiServer, kubectl, write_kubeconfig,
};
use serde_json::{Value, json};

const TOKEN: &str = guardrails_e2e::DEFAULT_TOKEN;

// ---------------------------------------------------------------------------------------------
// Replaying recordings against the server core
// ---------------------------------------------------------------------------------------------

fn core(cfg: ApiServerConfig) -> ServerCore {
    ServerCore::new(cfg, "127.0.0.1:6443".to_string(), Arc::default())
}

fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The recorded request, with the credentials of its `user` (alice's token is the configured
/// one: run with `user_name: "alice"`).
fn request_of(rec: &Recording) -> Request {
    let query = rec
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&");
    let authorization = match rec.user.as_str() {
        "anonymous" => None,
        "invalid-token" => Some("Bearer not-the-token".to_string()),
        _ => Some(format!("Bearer {TOKEN}")),
    };
    Request {
        method: rec.method.clone(),
        path: rec.path.clone(),
        query,
        accept: rec.request_headers.get("accept").cloned(),
        content_type: rec.request_headers.get("content-type").cloned(),
        authorization,
        user_agent: Some("curl/8.5.0".to_string()),
        body: match &rec.request_body {
            Value::Null => Vec::new(),
            Value::String(raw) => raw.clone().into_bytes(),
            body => serde_json::to_vec(body).expect("serialise recorded request body"),
        },
    }
}

fn replay(core: &ServerCore, number: &str) -> (Response, &'static Recording) {
    let rec = recordings::get(number);
    (core.handle(&request_of(rec)), rec)
}

/// Status, headers and body as recorded.
fn assert_replays(core: &ServerCore, number: &str) {
    let (resp, rec) = replay(core, number);
    assert_eq!(resp.status, rec.status, "{}: status", rec.file);
    assert_eq!(resp.headers, rec.headers, "{}: headers", rec.file);
    match &rec.body {
        Value::String(text) => assert_eq!(
            String::from_utf8_lossy(&resp.body),
            *text,
            "{}: text body",
            rec.file
        ),
        body => assert_eq!(resp.json(), *body, "{}: body", rec.file),
    }
}

fn with_rv(rv: u64) -> ApiServerConfig {
    let mut inventory = Inventory::from_recordings();
    inventory.set_resource_version(rv);
    ApiServerConfig {
        inventory,
        ..ApiServerConfig::default()
    }
}

#[test]
fn discovery_documents_are_the_recorded_ones() {
    let core = core(ApiServerConfig::default());
    for number in ["003", "004", "005", "006", "007", "008", "009", "010"] {
        assert_replays(&core, number);
    }
    let (resp, rec) = replay(&core, "001");
    assert_eq!(resp.json(), rec.body);
    let (resp, rec) = replay(&core, "002");
    let mut expected = rec.body.clone();
    expected["serverAddressByClientCIDRs"][0]["serverAddress"] = json!("127.0.0.1:6443");
    assert_eq!(resp.json(), expected);
}

#[test]
fn unrecorded_discovery_is_derived_from_the_recorded_documents() {
    let core = core(ApiServerConfig::default());
    let get = |path: &str| {
        core.handle(&Request {
            method: "GET".into(),
            path: path.into(),
            authorization: Some(format!("Bearer {TOKEN}")),
            ..Request::default()
        })
    };
    // A group version listed in /apis but not recorded: an APIResourceList like 005, empty.
    let policy = get("/apis/policy/v1");
    assert_eq!(policy.status, 200);
    assert_eq!(
        policy.json(),
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "policy/v1", "resources": []})
    );
    // /apis/<group> for another group: the /apis entry in the shape of 008.
    let batch = get("/apis/batch").json();
    assert_eq!(batch["kind"], "APIGroup");
    assert_eq!(batch["preferredVersion"]["groupVersion"], "batch/v1");
    // Unknown group: the text/plain 404 of 066.
    let unknown = get("/apis/example.com");
    assert_eq!(
        (unknown.status, unknown.body.as_slice()),
        (404, b"404 page not found\n".as_slice())
    );
    // Discovery is open to anonymous requests.
    let anonymous = core.handle(&Request {
        method: "GET".into(),
        path: "/apis".into(),
        ..Request::default()
    });
    assert_eq!(anonymous.status, 200);
}

#[test]
fn recorded_lists_and_objects_are_served_verbatim() {
    let core = core(ApiServerConfig::default());
    for number in [
        "011", "012", "013", "014", "015", "016", "017", "018", "019", "020", "021", "022", "023",
        "024", "025", "026", "027", "028", "029", "030",
    ] {
        assert_replays(&core, number);
    }
}

#[test]
fn pagination_matches_the_recorded_pages() {
    // 071/072 were recorded at resourceVersion 2765, 075-077 at 4273; the objects are the same.
    let core_2765 = core(with_rv(2765));
    assert_replays(&core_2765, "071");
    assert_replays(&core_2765, "072");
    assert_replays(&core_2765, "056");
    let core_4273 = core(with_rv(4273));
    for number in ["075", "076", "077"] {
        assert_replays(&core_4273, number);
    }
}

#[test]
fn an_expired_continue_token_answers_410_then_continues_from_a_new_snapshot() {
    let core = core(ApiServerConfig {
        expire_continue_after_pages: Some(1),
        ..with_rv(2765)
    });
    assert_replays(&core, "071");
    // The first continue request meets a compacted snapshot: exactly 073 ...
    assert_replays(&core, "073");
    // ... and the token inside the 410 gives the rest from a new resourceVersion: exactly 074.
    assert_replays(&core, "074");
    // Page 1's token stays expired.
    let (again, _) = replay(&core, "072");
    assert_eq!(again.status, 410);
}

#[test]
fn error_statuses_are_the_recorded_ones() {
    let admin = core(with_rv(2765));
    for number in [
        "049", "050", "054", "055", "065", "066", "067", "068", "069",
    ] {
        assert_replays(&admin, number);
    }
    let alice = |forbidden: Vec<Forbid>| {
        core(ApiServerConfig {
            user_name: "alice".into(),
            forbidden,
            ..ApiServerConfig::default()
        })
    };
    assert_replays(&alice(vec![Forbid::cluster("", "secrets")]), "051");
    assert_replays(
        &alice(vec![Forbid::namespaced("", "pods", "payments")]),
        "052",
    );
}

#[test]
fn forbidden_rules_follow_scope() {
    let core = core(ApiServerConfig {
        forbidden: vec![Forbid::namespaced("", "pods", "payments")],
        ..ApiServerConfig::default()
    });
    let status = |path: &str| {
        core.handle(&Request {
            method: "GET".into(),
            path: path.into(),
            authorization: Some(format!("Bearer {TOKEN}")),
            ..Request::default()
        })
    };
    assert_eq!(status("/api/v1/namespaces/shop/pods").status, 200);
    assert_eq!(status("/api/v1/namespaces/payments/pods").status, 403);
    // Whoever may not list in one namespace may not list cluster-wide.
    assert_eq!(status("/api/v1/pods").status, 403);
    // A named get: the message names the object (shape of 053).
    let get = status("/api/v1/namespaces/payments/pods/mysql-0");
    assert_eq!(get.status, 403);
    assert_eq!(
        get.json()["message"],
        "pods \"mysql-0\" is forbidden: User \"admin\" cannot get resource \"pods\" in API group \"\" in the namespace \"payments\""
    );
    assert_eq!(
        get.json()["details"],
        json!({"name": "mysql-0", "kind": "pods"})
    );
    assert_eq!(get.header("x-content-type-options"), Some("nosniff"));
}

/// Masks what depends on the clock: managedFields time.
fn mask_time(mut v: Value) -> Value {
    if let Some(fields) = v
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for f in fields {
            f["time"] = json!("<time>");
        }
    }
    v
}

#[test]
fn self_subject_access_reviews_answer_like_045() {
    let core = core(ApiServerConfig {
        user_name: "alice".into(),
        forbidden: vec![Forbid::cluster("", "secrets")],
        ..ApiServerConfig::default()
    });
    let (resp, rec) = replay(&core, "045");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.headers, rec.headers);
    assert_eq!(mask_time(resp.json()), mask_time(rec.body.clone()));

    // Allowed: the spec of 044 echoed with its managedFields, allowed without an RBAC reason
    // (the configured user stands for a system:masters member).
    let (resp, rec) = replay(&core, "044");
    let mut expected = mask_time(rec.body.clone());
    expected["status"] = json!({"allowed": true});
    assert_eq!(mask_time(resp.json()), expected);
}

/// Masks the Age cells (index of the `Age` column) that depend on the clock.
fn mask_age(mut table: Value) -> Value {
    let age = table["columnDefinitions"]
        .as_array()
        .and_then(|cols| cols.iter().position(|c| c["name"] == "Age"));
    if let (Some(age), Some(rows)) = (age, table["rows"].as_array_mut()) {
        for row in rows {
            row["cells"][age] = json!("<age>");
        }
    }
    table
}

#[test]
fn tables_match_the_recorded_tables_but_for_age() {
    let core = core(ApiServerConfig::default());
    for number in ["031", "032", "033"] {
        let (resp, rec) = replay(&core, number);
        assert_eq!(resp.status, 200, "{}", rec.file);
        assert_eq!(resp.headers, rec.headers, "{}", rec.file);
        assert_eq!(
            mask_age(resp.json()),
            mask_age(rec.body.clone()),
            "{}",
            rec.file
        );
    }
}

#[test]
fn inventory_round_trips_through_a_list_document() {
    let inventory = Inventory::from_recordings();
    let doc = inventory.to_list_document();
    assert_eq!(doc["kind"], "List");
    let items = doc["items"].as_array().expect("items");
    assert_eq!(items.len(), inventory.len());
    assert!(
        items
            .iter()
            .all(|i| i["kind"].is_string() && i["apiVersion"].is_string())
    );
    let again = Inventory::from_objects(items.clone());
    assert_eq!(again.to_list_document(), doc);
    // Served from synthetic objects: kind/apiVersion decide the collection.
    let core = core(ApiServerConfig {
        inventory: Inventory::from_objects(vec![json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "ns1", "resourceVersion": "7"}
        })]),
        ..ApiServerConfig::default()
    });
    let list = core
        .handle(&Request {
            method: "GET".into(),
            path: "/apis/apps/v1/namespaces/ns1/deployments".into(),
            authorization: Some(format!("Bearer {TOKEN}")),
            ..Request::default()
        })
        .json();
    assert_eq!(
        list,
        json!({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "7"},
               "items": [{"metadata": {"name": "x", "namespace": "ns1", "resourceVersion": "7"}}]})
    );
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// A server that computes every write (no recorded replay).
fn computing_core() -> ServerCore {
    core(ApiServerConfig {
        replay_recorded_writes: false,
        ..ApiServerConfig::default()
    })
}

/// The object without what a write makes up or a clock decides.
fn mask_write(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
        ] {
            meta.shift_remove(field);
        }
    }
    v
}

#[test]
fn computed_write_errors_are_the_recorded_ones() {
    let core = computing_core();
    for number in [
        "057", "058", "059", "060", "061", "064", "070", "083", "084", "087", "097",
    ] {
        assert_replays(&core, number);
    }
}

#[test]
fn computed_patches_give_the_recorded_objects_and_dry_run_changes_nothing() {
    let core = computing_core();
    // 079: the strategic-merge dry run returns the patched object ...
    let (resp, rec) = replay(&core, "079");
    assert_eq!(resp.status, 200);
    assert_eq!(mask_write(resp.json()), mask_write(rec.body.clone()));
    // ... and (080) the stored object is unchanged.
    let (resp, rec) = replay(&core, "080");
    assert_eq!((resp.status, resp.json()), (rec.status, rec.body.clone()));
    // 081: the same patch for real; a later read shows it with a new resourceVersion.
    let (resp, rec) = replay(&core, "081");
    assert_eq!(resp.status, 200);
    assert_eq!(mask_write(resp.json()), mask_write(rec.body.clone()));
    let (read, _) = replay(&core, "080");
    let read = read.json();
    assert_eq!(
        read.pointer("/spec/template/spec/securityContext"),
        rec.body.pointer("/spec/template/spec/securityContext")
    );
    assert_ne!(
        read.pointer("/metadata/resourceVersion"),
        recordings::body("080").pointer("/metadata/resourceVersion")
    );
    let managers: Vec<&str> = read
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl-harden"), "{managers:?}");
}

#[test]
fn computed_create_dry_run_stores_nothing_and_delete_removes() {
    let core = computing_core();
    let (resp, rec) = replay(&core, "094");
    assert_eq!(resp.status, 201);
    assert_eq!(mask_write(resp.json()), mask_write(rec.body.clone()));
    assert_eq!(
        mask_time(resp.json()).pointer("/metadata/managedFields"),
        mask_time(rec.body.clone()).pointer("/metadata/managedFields")
    );
    assert_replays(&core, "095");
    // 093 for real (computed: no PodSecurity warning without the replay), then 096 deletes it
    // and 097 finds nothing.
    let (created, rec) = replay(&core, "093");
    assert_eq!(created.status, 201);
    assert_eq!(
        mask_write(created.json()).get("spec"),
        mask_write(rec.body.clone()).get("spec")
    );
    let (deleted, rec) = replay(&core, "096");
    assert_eq!(deleted.status, 200);
    let mut expected = rec.body.clone();
    expected["details"]["uid"] = created.json()["metadata"]["uid"].clone();
    assert_eq!(deleted.json(), expected);
    assert_replays(&core, "097");
}

#[test]
fn server_side_apply_conflicts_unless_forced() {
    let core = computing_core();
    let (resp, rec) = replay(&core, "085");
    assert_eq!(resp.status, 409);
    let body = resp.json();
    assert_eq!(body["reason"], rec.body["reason"]);
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.contains("- .spec.template.spec.containers[name=\"checkout\"].image")
        ),
        "{body}"
    );
    let (resp, rec) = replay(&core, "086");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.json()
            .pointer("/spec/template/spec/containers/0/image"),
        rec.body.pointer("/spec/template/spec/containers/0/image")
    );
}

#[test]
fn recorded_writes_are_replayed_with_their_warnings_once() {
    let core = core(ApiServerConfig::default());
    for number in ["078", "082", "088", "089", "090", "091", "092"] {
        assert_replays(&core, number);
    }
    // 081 changes frontend for real; the 078 dry run no longer describes it, so it is computed
    // (without the recorded warning).
    assert_replays(&core, "081");
    let (again, _) = replay(&core, "078");
    assert_eq!(again.status, 200);
    assert_eq!(again.header("warning"), None);
}

// ---------------------------------------------------------------------------------------------
// The real kubectl against a running server
// ---------------------------------------------------------------------------------------------

fn run(server: &TestApiServer, args: &[&str]) -> Output {
    server.kubectl(args).output().expect("run kubectl")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn recorded_names(number: &str) -> Vec<String> {
    recordings::body(number)["items"]
        .as_array()
        .expect("recorded list")
        .iter()
        .map(|i| {
            i["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The resource requests (not discovery) the server received.
fn resource_requests(server: &TestApiServer) -> Vec<guardrails_e2e::RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| {
            let discovery = r.path == "/version"
                || r.path == "/api"
                || r.path == "/apis"
                || r.path == "/api/v1"
                || (r.path.starts_with("/apis/") && r.path.matches('/').count() <= 3);
            !discovery
        })
        .collect()
}

#[test]
fn kubectl_get_clusterroles_prints_every_recorded_clusterrole() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(&server, &["get", "clusterroles"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "CREATED", "AT"]);
    let names: Vec<&str> = lines.filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, recorded_names("011"));
    // kubectl get asks for a Table, in chunks of 500.
    let list = resource_requests(&server);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].param("limit"), Some("500"));
    assert!(
        list[0]
            .accept
            .as_deref()
            .unwrap_or_default()
            .starts_with("application/json;as=Table;v=v1;g=meta.k8s.io")
    );
}

#[test]
fn kubectl_get_pods_all_namespaces_as_json_returns_the_recorded_pods() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(&server, &["get", "pods", "-A", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).expect("kubectl printed JSON");
    let items = list["items"].as_array().expect("items");
    let names: Vec<String> = items
        .iter()
        .map(|i| {
            i["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, recorded_names("017"));
    assert!(
        items
            .iter()
            .all(|i| i["kind"] == "Pod" && i["apiVersion"] == "v1")
    );
}

#[test]
fn kubectl_get_pods_in_namespace_follows_continue_tokens() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(
        &server,
        &["get", "pods", "-n", "shop", "--chunk-size=2", "-o", "name"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    let expected: Vec<String> = recordings::body("017")["items"]
        .as_array()
        .expect("pods")
        .iter()
        .filter(|p| p["metadata"]["namespace"] == "shop")
        .map(|p| format!("pod/{}", p["metadata"]["name"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(names, expected);
    let lists = resource_requests(&server);
    assert_eq!(lists.len(), 3, "5 pods in pages of 2: {lists:#?}");
    assert!(
        lists
            .iter()
            .all(|r| r.path == "/api/v1/namespaces/shop/pods" && r.param("limit") == Some("2"))
    );
    assert_eq!(lists[0].param("continue"), None);
    assert!(lists[1..].iter().all(|r| r.param("continue").is_some()));
}

#[test]
fn kubectl_label_selector_with_chunks_returns_every_match() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(
        &server,
        &[
            "get",
            "namespaces",
            "-l",
            "team",
            "--chunk-size=2",
            "-o",
            "name",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [
            "namespace/ingress-nginx",
            "namespace/monitoring",
            "namespace/payments",
            "namespace/shop"
        ]
    );
    let out = run(
        &server,
        &[
            "get",
            "pods",
            "-A",
            "-l",
            "app in (frontend,checkout),app!=checkout",
            "-o",
            "name",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [
            "pod/frontend-f658d4c69-9kjxq",
            "pod/frontend-f658d4c69-ff6nw"
        ]
    );
}

#[test]
fn kubectl_forbidden_list_prints_the_recorded_message() {
    let server = TestApiServer::start(ApiServerConfig {
        forbidden: vec![Forbid::cluster("", "secrets")],
        ..ApiServerConfig::default()
    });
    let out = run(&server, &["get", "secrets", "-A"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Error from server (Forbidden): secrets is forbidden: User \"admin\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kubectl_auth_can_i_reads_the_access_review() {
    let server = TestApiServer::start(ApiServerConfig {
        forbidden: vec![Forbid::cluster("", "secrets")],
        ..ApiServerConfig::default()
    });
    let out = run(&server, &["auth", "can-i", "list", "secrets"]);
    assert_eq!(stdout(&out).trim(), "no", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(1));
    let out = run(&server, &["auth", "can-i", "list", "pods", "-n", "shop"]);
    assert_eq!(stdout(&out).trim(), "yes", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    // kubectl posts the review as protobuf; the server decodes it.
    let reviews: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/selfsubjectaccessreviews"))
        .collect();
    assert_eq!(reviews.len(), 2);
    assert_eq!(
        reviews[0].content_type.as_deref(),
        Some("application/vnd.kubernetes.protobuf")
    );
    assert_eq!(
        reviews[0].body.as_ref().map(|b| b["spec"].clone()),
        Some(
            json!({"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "secrets"}})
        )
    );
}

#[test]
fn kubectl_get_missing_deployment_prints_the_recorded_not_found() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(
        &server,
        &["get", "deployment", "-n", "shop", "does-not-exist"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Error from server (NotFound): deployments.apps \"does-not-exist\" not found"
        ),
        "{}",
        stderr(&out)
    );
    let out = run(
        &server,
        &["get", "deployment", "-n", "shop", "frontend", "-o", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // kubectl hides managedFields unless --show-managed-fields.
    let mut expected = recordings::body("028").clone();
    expected["metadata"]
        .as_object_mut()
        .map(|m| m.shift_remove("managedFields"));
    assert_eq!(got, expected);
}

#[test]
fn kubectl_with_a_wrong_token_is_unauthorized() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("wrong-token");
    write_kubeconfig(&kubeconfig, &server.url, Some("not-the-token"), None);
    let kc = kubeconfig.to_str().expect("utf-8 path");
    // Discovery reads the raw 401 (client-go's generic text for a 401) ...
    let out = kubectl(&["--kubeconfig", kc, "get", "pods"])
        .output()
        .expect("run kubectl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: You must be logged in to the server (the server has asked for the client to provide credentials)"),
        "{}",
        stderr(&out)
    );
    // ... a plain request decodes the Status of 049: "Unauthorized".
    let out = kubectl(&["--kubeconfig", kc, "get", "--raw", "/api/v1/namespaces"])
        .output()
        .expect("run kubectl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: You must be logged in to the server (Unauthorized)"),
        "{}",
        stderr(&out)
    );
    assert!(server.requests().iter().all(|r| r.status == 401));
}

#[test]
fn kubectl_get_raw_version_is_the_recorded_body() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let out = run(&server, &["get", "--raw", "/version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(got, *recordings::body("001"));
    // The kubectl-dispatcher in front of /usr/bin/kubectl asks for /version first.
    assert_eq!(server.requests()[0].path, "/version");
}

#[test]
fn kubectl_stops_with_the_410_when_a_continue_token_expires() {
    // kubectl does not use the token inside a 410: it prints what it has and fails.
    let server = TestApiServer::start(ApiServerConfig {
        expire_continue_after_pages: Some(1),
        ..ApiServerConfig::default()
    });
    let out = run(
        &server,
        &["get", "clusterroles", "--chunk-size=5", "-o", "name"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Error from server (Expired): The provided continue parameter is too old to display a consistent list result."),
        "{}",
        stderr(&out)
    );
    let first_page: Vec<String> = recorded_names("011")
        .into_iter()
        .take(5)
        .map(|n| format!("clusterrole.rbac.authorization.k8s.io/{n}"))
        .collect();
    let printed: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert!(printed.is_empty() || printed == first_page, "{printed:?}");
    let statuses: Vec<u16> = resource_requests(&server)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 410]);
    // Listing again from the start works (new snapshot).
    let out = run(
        &server,
        &["get", "clusterroles", "--chunk-size=5", "-o", "name"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), recorded_names("011").len());
}

#[test]
fn kubectl_pages_through_a_synthetic_inventory() {
    let pods: Vec<Value> = (0..1200)
        .map(|i| {
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{i:04}"), "namespace": format!("ns-{:02}", i % 40),
                             "labels": {"tier": if i % 2 == 0 { "web" } else { "db" }},
                             "resourceVersion": "100", "creationTimestamp": "2026-11-22T15:08:11Z"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                "status": {"phase": "Pending"}
            })
        })
        .collect();
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(pods),
        ..ApiServerConfig::default()
    });
    let out = run(&server, &["get", "pods", "-A", "-o", "name"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names: BTreeSet<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(names.len(), 1200);
    // kubectl's default chunk size is 500: 3 requests.
    assert_eq!(resource_requests(&server).len(), 3);
    let out = run(
        &server,
        &["get", "pods", "-n", "ns-07", "-l", "tier=db", "-o", "name"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 30);
}

#[test]
fn kubectl_patch_server_dry_run_then_for_real() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let patch = r#"{"spec":{"template":{"spec":{"securityContext":{"runAsNonRoot":true}}}}}"#;
    let args = ["patch", "deployment", "frontend", "-n", "shop", "-p", patch];
    let mut dry = args.to_vec();
    dry.push("--dry-run=server");
    let out = run(&server, &dry);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("deployment.apps/frontend patched"),
        "{}",
        stdout(&out)
    );
    let jsonpath = [
        "get",
        "deployment",
        "frontend",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.template.spec.securityContext.runAsNonRoot}",
    ];
    assert_eq!(stdout(&run(&server, &jsonpath)), "");
    let out = run(&server, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "deployment.apps/frontend patched");
    assert_eq!(stdout(&run(&server, &jsonpath)), "true");
    // Patching again changes nothing, and kubectl says so.
    let out = run(&server, &args);
    assert_eq!(
        stdout(&out).trim(),
        "deployment.apps/frontend patched (no change)"
    );
}

#[test]
fn kubectl_create_invalid_and_delete_print_the_recorded_messages() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&recordings::get("059").request_body).expect("json"),
    )
    .expect("write manifest");
    // The test server serves no OpenAPI documents, which kubectl's client-side validation needs.
    let out = run(
        &server,
        &[
            "create",
            "--validate=false",
            "-f",
            file.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "The NetworkPolicy \"bad-port\" is invalid: spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{}",
        stderr(&out)
    );
    let out = run(&server, &["delete", "deployment", "frontend", "-n", "shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "deployment.apps \"frontend\" deleted");
    let out = run(&server, &["delete", "deployment", "frontend", "-n", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("Error from server (NotFound): deployments.apps \"frontend\" not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kubectl_shows_the_recorded_pod_security_warnings() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let patch = r#"{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}"#;
    let out = run(
        &server,
        &[
            "patch",
            "namespace",
            "shop",
            "--type=merge",
            "-p",
            patch,
            "--dry-run=server",
            "--field-manager=kubectl-harden",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "Warning: existing pods in namespace \"shop\" violate the new PodSecurity enforce level \"restricted:latest\""
        ),
        "{}",
        stderr(&out)
    );
}
