//! NetworkPolicy benchmark (run with `cargo bench -p guardrails-e2e --bench netpol`; needs GNU
//! time at /usr/bin/time). Builds the release `kubectl-netpol_scaffold`, generates a synthetic
//! cluster of 5,000 pods and 1,000 NetworkPolicies twice — Deployments of 5 replicas, and every
//! pod distinct (25 million pairs) — (`BENCH_DIVISOR=N` shrinks the namespace count N-fold),
//! and reports wall time and peak RSS of the connectivity matrix and coverage.
//! Targets: matrix under 5 s and 500 MB.

use std::path::Path;

use guardrails_e2e::benchmark;
use guardrails_e2e::synthetic_netpol::{NetpolScale, netpol_cluster};

/// (seconds, peak RSS in MiB, stdout bytes) of one run; its phase lines printed.
fn timed(binary: &Path, args: &[&str]) -> (f64, f64, usize) {
    let run = benchmark::timed(binary, args);
    for line in &run.phase_lines {
        println!("    {line}");
    }
    (run.wall_seconds, run.peak_rss_mib, run.stdout_bytes)
}

fn main() {
    let divisor: usize = std::env::var("BENCH_DIVISOR")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(1);
    let scale = NetpolScale {
        namespaces: (NetpolScale::TARGET.namespaces / divisor).max(1),
        ..NetpolScale::TARGET
    };
    let binary = benchmark::release_binary("kubectl-netpol-scaffold", "kubectl-netpol_scaffold");
    let dir = tempfile::tempdir().expect("tmp");
    for (shape, distinct_pods) in [
        ("Deployments of 5 replicas", false),
        ("every pod distinct", true),
    ] {
        let scale = NetpolScale {
            distinct_pods,
            ..scale
        };
        let file = dir
            .path()
            .join(format!("netpol-cluster-{distinct_pods}.json"));
        std::fs::write(&file, netpol_cluster(&scale).to_string()).expect("write");
        println!(
            "synthetic cluster ({shape}): {} pods, {} NetworkPolicies, {:.0} MiB of JSON",
            scale.pods(),
            scale.policies(),
            std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0
        );
        let f = file.display().to_string();
        for (label, args) in [
            (
                "matrix -o json",
                vec!["matrix", "-A", "-f", &f, "-o", "json"],
            ),
            ("matrix (grid)", vec!["matrix", "-A", "-f", &f]),
            (
                "coverage -o json",
                vec!["-A", "-f", &f, "-o", "json", "--fail-on", "never"],
            ),
        ] {
            let runs: Vec<(f64, f64, usize)> = (0..3).map(|_| timed(&binary, &args)).collect();
            let mut secs: Vec<f64> = runs.iter().map(|r| r.0).collect();
            secs.sort_by(|a, b| a.total_cmp(b));
            println!(
                "  {label}: median {:.2} s, peak RSS {:.0} MiB, output {:.1} MiB (runs: {:?})",
                secs[1],
                runs.iter().map(|r| r.1).fold(0.0, f64::max),
                runs[0].2 as f64 / 1_048_576.0,
                runs.iter().map(|r| r.0).collect::<Vec<_>>()
            );
        }
    }
}
