//! NetworkPolicy benchmark (run with `cargo bench -p guardrails-e2e --bench netpol`; needs GNU
//! time at /usr/bin/time). Builds the release `kubectl-netpol_scaffold`, generates a synthetic
//! cluster of 5,000 pods and 1,000 NetworkPolicies twice — Deployments of 5 replicas, and every
//! pod distinct (25 million pairs) — (`BENCH_DIVISOR=N` shrinks the namespace count N-fold),
//! and reports wall time and peak RSS of the connectivity matrix and coverage.
//! Targets: matrix under 5 s and 500 MB.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use guardrails_e2e::harness;
use guardrails_e2e::synthetic_netpol::{NetpolScale, netpol_cluster};

fn release_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "kubectl-netpol-scaffold"])
        .status()
        .expect("cargo build runs");
    assert!(status.success(), "release build failed");
    let target = harness::profile_dir()
        .parent()
        .expect("target dir")
        .join("release")
        .join("kubectl-netpol_scaffold");
    assert!(target.is_file(), "{} missing", target.display());
    target
}

/// (seconds, peak RSS in MiB, stdout bytes) of one run, measured by GNU time.
fn timed(binary: &Path, args: &[&str]) -> (f64, f64, usize) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GUARDRAILS_DEBUG_PHASES", "1")
        .stdin(Stdio::null())
        .output()
        .expect("/usr/bin/time runs (apt-get install time)");
    let err = String::from_utf8_lossy(&out.stderr);
    for line in err.lines().filter(|l| l.starts_with("phase ")) {
        println!("    {line}");
    }
    let last = err.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let secs: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("time output: {err}"));
    let kib: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (secs, kib / 1024.0, out.stdout.len())
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
    let binary = release_binary();
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
