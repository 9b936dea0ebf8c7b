//! End-to-end test support for the kubectl-guardrails plugins: a test Kubernetes API server
//! that answers like the real kube-apiserver recorded in `fixtures/apiserver-recordings/`,
//! kubeconfig generation and a harness running the real kubectl and the built plugins.
//!
//! ```no_run
//! use guardrails_e2e::{ApiServerConfig, Forbid, TestApiServer};
//!
//! let server = TestApiServer::start(ApiServerConfig {
//!     forbidden: vec![Forbid::cluster("", "secrets")],
//!     ..ApiServerConfig::default() // token, user "admin", the recorded cluster state
//! });
//! // kubectl (or a plugin: `kubectl rbac-audit`) with KUBECONFIG pointing at the server.
//! let out = server.kubectl(&["get", "secrets", "-A"]).output().expect("run kubectl");
//! assert_eq!(out.status.code(), Some(1));
//! // Every request is recorded: method, path, query, Accept, body, answered status.
//! assert!(server.requests().iter().any(|r| r.path == "/api/v1/secrets" && r.status == 403));
//! ```
//!
//! The server speaks https (client-go sends bearer tokens only over TLS) with a certificate
//! signed by the test CA in [`tls`]; generated kubeconfigs trust it.

pub mod apiserver;
pub mod benchmark;
pub mod discovery;
pub mod e2e;
pub mod harness;
pub mod inventory;
pub mod kubeconfig;
pub mod pagination;
pub mod proto;
pub mod recordings;
pub mod registry;
pub mod selector;
pub mod table;
pub mod time;
pub mod tls;
pub mod writes;

pub use apiserver::{ApiServerConfig, DEFAULT_TOKEN, Forbid, RecordedRequest, TestApiServer};
pub use harness::{kubectl, plugin_path_env};
pub use inventory::Inventory;
pub use kubeconfig::write_kubeconfig;
pub mod synthetic;
pub mod synthetic_netpol;
pub mod synthetic_workloads;
