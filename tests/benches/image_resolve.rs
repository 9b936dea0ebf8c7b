//! Resolve benchmark (run with `cargo bench -p guardrails-e2e --bench image_resolve`; needs
//! docker-registry and skopeo): 500 distinct image references (10 repositories × 50 tags) in a
//! local `docker-registry`, used by 1,000 Deployments (two each). Reports the wall time of
//! `kubectl-image_pins resolve` (release build, run directly), the requests it sent by kind,
//! and the requests the registry answered. `BENCH_CONCURRENCY` sets --concurrency (default 16).

use std::process::Command;
use std::time::Instant;

use guardrails_e2e::benchmark;
use guardrails_e2e::registry::TestRegistry;

const REPOSITORIES: usize = 10;
const TAGS: usize = 50;
const WORKLOADS_PER_REFERENCE: usize = 2;

fn main() {
    let binary = benchmark::release_binary("kubectl-image-pins", "kubectl-image_pins");
    let registry = TestRegistry::start();
    let host = registry.host();
    let setup = Instant::now();
    let mut references = Vec::new();
    for r in 0..REPOSITORIES {
        let repo = format!("bench/app{r}");
        registry.push_image(&repo, "t0", &format!("v{r}"));
        for t in 0..TAGS {
            if t > 0 {
                registry.tag(&repo, "t0", &format!("t{t}"));
            }
            references.push(format!("{host}/{repo}:t{t}"));
        }
    }
    let mut docs = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        for c in 0..WORKLOADS_PER_REFERENCE {
            docs.push(format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w{i}-{c}, namespace: bench}}\nspec:\n  selector: {{matchLabels: {{app: w{i}}}}}\n  template:\n    metadata: {{labels: {{app: w{i}}}}}\n    spec:\n      containers:\n      - name: main\n        image: {reference}\n"
            ));
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("workloads.yaml");
    std::fs::write(&file, docs.join("---\n")).expect("write");
    eprintln!(
        "setup: {} references, {} workloads in {:.1} s",
        references.len(),
        docs.len(),
        setup.elapsed().as_secs_f64()
    );

    let concurrency = std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "16".into());
    for run in 1..=3 {
        let heads_before = registry.plugin_requests("HEAD");
        let gets_before = registry.plugin_requests("GET");
        let start = Instant::now();
        let out = Command::new(&binary)
            .args(["resolve", "-f"])
            .arg(&file)
            .args([
                "-o",
                "json",
                "--insecure-registry",
                &host,
                "--concurrency",
                &concurrency,
            ])
            .env("GUARDRAILS_DEBUG_REQUESTS", "1")
            .output()
            .expect("plugin runs");
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let images = doc["images"].as_array().expect("images");
        assert_eq!(images.len(), references.len());
        assert!(images.iter().all(|i| i["digest"].is_string()));
        let client_counts = String::from_utf8_lossy(&out.stderr).trim().to_string();
        println!(
            "run {run}: {} references / {} workloads resolved in {seconds:.3} s (concurrency {concurrency}); plugin: {client_counts}; registry answered {} HEAD, {} GET",
            references.len(),
            docs.len(),
            registry.plugin_requests("HEAD") - heads_before,
            registry.plugin_requests("GET") - gets_before,
        );
    }
}
