//! The shared collector against the test API server serving the recorded cluster: what every
//! plugin's live mode stands on.

use guardrails::inventory::ResourceKind;
use guardrails::workload::PendingSpec;
use guardrails_e2e::{ApiServerConfig, TestApiServer};
use k8s_openapi::api::apps::v1::Deployment;

/// Listed controllers keep their pod template's spec as text until examined; decoded, it is
/// exactly what kube's own typed list gives, and ReplicaSets folded into their Deployment are
/// not workloads of their own.
#[tokio::test]
async fn listed_pod_templates_are_kept_as_text_and_decode_as_listed() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let args = guardrails::cli::ClusterArgs {
        kubeconfig: Some(server.write_kubeconfig(dir.path(), None)),
        ..Default::default()
    };
    let cluster = guardrails::cluster::connect(&args).await.expect("connect");
    let inventory = guardrails::collect::collect(&cluster, ResourceKind::ALL, false)
        .await
        .expect("collect");

    let pending = inventory.pending_workloads();
    let deployments: Vec<_> = pending
        .iter()
        .filter(|w| w.object.kind == "Deployment")
        .collect();
    assert!(!deployments.is_empty(), "the recording has Deployments");
    assert!(
        deployments
            .iter()
            .all(|w| matches!(w.pod_spec, PendingSpec::Text(_))),
        "every listed Deployment's spec is kept as text"
    );
    assert!(
        !inventory.replica_sets.is_empty() && pending.iter().all(|w| w.object.kind != "ReplicaSet"),
        "the recorded ReplicaSets fold into their Deployments"
    );

    let listed = kube::Api::<Deployment>::all(cluster.client.clone())
        .list(&Default::default())
        .await
        .expect("typed list");
    let workloads = inventory.workloads().expect("workloads");
    for deployment in &listed.items {
        let name = deployment.metadata.name.as_deref();
        let workload = workloads
            .iter()
            .find(|w| w.object.kind == "Deployment" && Some(w.object.name.as_str()) == name)
            .expect("every listed Deployment is a workload");
        let spec = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref());
        assert_eq!(Some(&*workload.pod_spec), spec, "{name:?}");
    }
}
