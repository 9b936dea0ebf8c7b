//! `kubectl harden` scale benchmark (run with `cargo bench -p guardrails-e2e --bench
//! harden_scale`; needs GNU time at /usr/bin/time). Checks 50,000 synthetic workloads
//! (`BENCH_WORKLOADS=N` to change) offline with the release binary and reports the wall time and
//! peak RSS of the whole command, and the plugin's own phase times: reading the files, the
//! check itself (Pod Security Standards + hardening on every workload) and writing the report.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use guardrails_e2e::{harness, synthetic_workloads};

fn release_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "kubectl-harden"])
        .status()
        .expect("cargo build runs");
    assert!(status.success(), "release build failed");
    let target = harness::profile_dir()
        .parent()
        .expect("target dir")
        .join("release")
        .join("kubectl-harden");
    assert!(target.is_file(), "{} missing", target.display());
    target
}

struct Run {
    wall: f64,
    rss_mib: f64,
    /// (phase, seconds since start) from GUARDRAILS_DEBUG_PHASES.
    phases: Vec<(String, f64)>,
}

impl Run {
    fn phase(&self, name: &str) -> f64 {
        self.phases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .unwrap_or(f64::NAN)
    }
}

fn timed(binary: &PathBuf, args: &[&str]) -> Run {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GUARDRAILS_DEBUG_PHASES", "1")
        .stdout(Stdio::null())
        .output()
        .expect("/usr/bin/time runs (apt-get install time)");
    let err = String::from_utf8_lossy(&out.stderr);
    let phases = err
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("phase ")?;
            let (name, tail) = rest.split_once(": ")?;
            let secs: f64 = tail.split_whitespace().next()?.parse().ok()?;
            Some((name.to_string(), secs))
        })
        .collect();
    let last = err.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let wall: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("time output: {err}"));
    let kib: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    Run {
        wall,
        rss_mib: kib / 1024.0,
        phases,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn report(label: &str, runs: &[Run]) {
    let check: Vec<f64> = runs
        .iter()
        .map(|r| r.phase("check") - r.phase("inventory"))
        .collect();
    let read: Vec<f64> = runs.iter().map(|r| r.phase("inventory")).collect();
    let write: Vec<f64> = runs
        .iter()
        .map(|r| r.phase("report") - r.phase("check"))
        .collect();
    println!(
        "{label}: wall median {:.2} s (read files {:.2} s, check {:.3} s, write report {:.2} s), peak RSS {:.0} MiB",
        median(runs.iter().map(|r| r.wall).collect()),
        median(read),
        median(check),
        median(write),
        runs.iter().map(|r| r.rss_mib).fold(0.0, f64::max),
    );
}

fn main() {
    let count: usize = std::env::var("BENCH_WORKLOADS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(50_000);
    let binary = release_binary();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("workloads.json");
    let objects = synthetic_workloads::write_json_stream(count, &file).expect("generate");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    println!("synthetic cluster: {count} workloads, {objects} objects, {size:.0} MiB of JSON");
    let f = file.display().to_string();
    let json: Vec<Run> = (0..3)
        .map(|_| {
            timed(
                &binary,
                &["-f", &f, "-A", "-o", "json", "--fail-on", "never"],
            )
        })
        .collect();
    report("check -o json", &json);
    let table: Vec<Run> = (0..3)
        .map(|_| timed(&binary, &["-f", &f, "-A", "--fail-on", "never"]))
        .collect();
    report("check (table)", &table);
    let pss: Vec<Run> = (0..3)
        .map(|_| {
            timed(
                &binary,
                &[
                    "-f",
                    &f,
                    "-A",
                    "--rules",
                    "pss",
                    "-o",
                    "json",
                    "--fail-on",
                    "never",
                ],
            )
        })
        .collect();
    report("check --rules pss -o json", &pss);
}
