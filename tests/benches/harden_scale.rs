//! `kubectl harden` scale benchmark (run with `cargo bench -p guardrails-e2e --bench
//! harden_scale`; needs GNU time at /usr/bin/time). Checks 50,000 synthetic workloads
//! (`BENCH_WORKLOADS=N` to change) offline with the release binary and reports the wall time and
//! peak RSS of the whole command, and the plugin's own phase times: reading the files, the
//! check itself (Pod Security Standards + hardening on every workload) and writing the report.

use guardrails_e2e::benchmark::{self, TimedRun, median, timed};
use guardrails_e2e::synthetic_workloads;

fn report(label: &str, runs: &[TimedRun]) {
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
        median(runs.iter().map(|r| r.wall_seconds).collect()),
        median(read),
        median(check),
        median(write),
        runs.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max),
    );
}

fn main() {
    let count: usize = std::env::var("BENCH_WORKLOADS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(50_000);
    let binary = benchmark::release_binary("kubectl-harden", "kubectl-harden");
    println!("{}", benchmark::describe_fresh_memory_cost());
    let dir = tempfile::tempdir().expect("tmp");
    // BENCH_KEEP=PATH keeps the generated workloads for profiling.
    let file = std::env::var_os("BENCH_KEEP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("workloads.json"));
    let objects = synthetic_workloads::write_json_stream(count, &file).expect("generate");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    println!("synthetic cluster: {count} workloads, {objects} objects, {size:.0} MiB of JSON");
    let f = file.display().to_string();
    // The first run after a pause pays for faulting its memory in anew (this VM's host takes
    // freed memory back): shown apart, so the medians below are of warm runs.
    let cold = timed(
        &binary,
        &["-f", &f, "-A", "-o", "json", "--fail-on", "never"],
    );
    println!(
        "first (cold) run, -o json: {:.2} s, {:.2} CPU-seconds, peak RSS {:.0} MiB",
        cold.wall_seconds, cold.cpu_seconds, cold.peak_rss_mib
    );
    let json: Vec<TimedRun> = (0..3)
        .map(|_| {
            timed(
                &binary,
                &["-f", &f, "-A", "-o", "json", "--fail-on", "never"],
            )
        })
        .collect();
    report("check -o json", &json);
    let table: Vec<TimedRun> = (0..3)
        .map(|_| timed(&binary, &["-f", &f, "-A", "--fail-on", "never"]))
        .collect();
    report("check (table)", &table);
    let pss: Vec<TimedRun> = (0..3)
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
