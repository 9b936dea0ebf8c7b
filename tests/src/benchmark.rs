//! What the benchmarks share: the release binary of a plugin, and one timed run of it under
//! GNU time (wall seconds, peak RSS, and the plugin's own phase lines).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness;

/// Every plugin package. The benchmarks build them all with one and the same command, so that
/// after the first benchmark none of them rebuilds anything.
const PLUGIN_PACKAGES: [&str; 4] = [
    "kubectl-rbac-audit",
    "kubectl-netpol-scaffold",
    "kubectl-image-pins",
    "kubectl-harden",
];

/// Builds the plugins in release mode and returns `package`'s `binary` (e.g. `kubectl-harden`).
/// They are built in a target directory of their own (`target/bench-plugins`): in
/// `target/release`, `cargo bench` (bench profile, the test crate's features) and
/// `cargo build --release -p …` overwrote each other's build of the shared crates, and each
/// benchmark run rebuilt them for 3–4 minutes.
pub fn release_binary(package: &str, binary: &str) -> PathBuf {
    assert!(
        PLUGIN_PACKAGES.contains(&package),
        "{package} is not a plugin package"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = harness::profile_dir()
        .parent()
        .expect("target dir")
        .join("bench-plugins");
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--target-dir"])
        .arg(&target_dir);
    for package in PLUGIN_PACKAGES {
        build.args(["-p", package]);
    }
    let status = build.status().expect("cargo build runs");
    assert!(status.success(), "release build of the plugins failed");
    let target = target_dir.join("release").join(binary);
    assert!(target.is_file(), "{} missing", target.display());
    target
}

/// The CPUs of a [`pin_server_apart`] split.
#[derive(Debug, Clone)]
pub struct CpuSplit {
    pub server: usize,
    pub client: Vec<usize>,
}

/// Puts the test API server's threads (named `test-apiserver…`) on one CPU and every other
/// thread of this process on the others; processes started from here on inherit that, so a
/// plugin run by [`timed`] is a client on the others too. A real cluster's API server runs on
/// machines of its own; on this one it otherwise takes CPU time from the client being
/// measured. `None` (nothing changed) when this process may use fewer than 2 CPUs.
pub fn pin_server_apart() -> Option<CpuSplit> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let allowed = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false))
        .collect();
    let (&server, client) = cpus.split_first()?;
    if client.is_empty() {
        return None;
    }
    let mut server_set = CpuSet::new();
    server_set.set(server).ok()?;
    let mut client_set = CpuSet::new();
    for &c in client {
        client_set.set(c).ok()?;
    }
    for thread in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(tid) = thread.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let name = std::fs::read_to_string(thread.path().join("comm")).unwrap_or_default();
        let set = if name.starts_with("test-apiserver") {
            &server_set
        } else {
            &client_set
        };
        sched_setaffinity(Pid::from_raw(tid), set).ok()?;
    }
    Some(CpuSplit {
        server,
        client: client.to_vec(),
    })
}

/// One run measured by GNU time (`/usr/bin/time -f "%e %M %U %S"`).
#[derive(Debug, Clone)]
pub struct TimedRun {
    pub wall_seconds: f64,
    pub peak_rss_mib: f64,
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    /// `(phase, seconds since start)` printed with `GUARDRAILS_DEBUG_PHASES=1`.
    pub phases: Vec<(String, f64)>,
    /// The `phase …` lines as printed (with resident memory).
    pub phase_lines: Vec<String>,
    pub stdout_bytes: usize,
}

impl TimedRun {
    /// Seconds since start at the end of `name` (NaN when the run printed no such phase).
    pub fn phase(&self, name: &str) -> f64 {
        self.phases
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, t)| *t)
    }
}

/// Runs `binary ARGS` (no colour, phases on, stdin closed) under GNU time, its standard output
/// going to a file as a CI job's `> report.json` does. (Captured through a pipe instead, the
/// benchmark itself would hold the whole report — 210 MB for harden's 50,000 workloads — and
/// copy it on the same cores while the plugin is timed.)
pub fn timed(binary: &Path, args: &[&str]) -> TimedRun {
    let report = tempfile::NamedTempFile::new().expect("report file");
    let stdout = report.reopen().expect("report file");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M %U %S"])
        .arg(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GUARDRAILS_DEBUG_PHASES", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .output()
        .expect("/usr/bin/time runs (apt-get install time)");
    let err = String::from_utf8_lossy(&out.stderr);
    let phase_lines: Vec<String> = err
        .lines()
        .filter(|l| l.starts_with("phase "))
        .map(str::to_string)
        .collect();
    let phases = phase_lines
        .iter()
        .filter_map(|l| {
            let (name, tail) = l.strip_prefix("phase ")?.split_once(": ")?;
            let secs: f64 = tail.split_whitespace().next()?.parse().ok()?;
            Some((name.to_string(), secs))
        })
        .collect();
    let last = err.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let wall_seconds: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("time output: {err}"));
    let kib: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let cpu_seconds: f64 = parts.filter_map(|s| s.parse::<f64>().ok()).sum();
    TimedRun {
        wall_seconds,
        peak_rss_mib: kib / 1024.0,
        cpu_seconds,
        phases,
        phase_lines,
        stdout_bytes: report.as_file().metadata().map_or(0, |m| m.len() as usize),
    }
}

/// The median of some measurements.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Seconds this machine takes to fault in `mib` MiB of fresh memory (one write per 4 KiB
/// page). On the project's VM this costs about 1 ms per MiB and varies several-fold from run to
/// run (the host backs guest memory lazily and takes freed pages back), so a plugin's peak RSS
/// is a large and noisy part of its wall time; the benchmarks print this next to their numbers.
pub fn fresh_memory_seconds(mib: usize) -> f64 {
    let start = std::time::Instant::now();
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&block);
    start.elapsed().as_secs_f64()
}

/// One line for a benchmark's output: what fresh memory costs on this machine right now.
pub fn describe_fresh_memory_cost() -> String {
    const MIB: usize = 512;
    let runs: Vec<f64> = (0..3).map(|_| fresh_memory_seconds(MIB)).collect();
    format!(
        "this machine: faulting in {MIB} MiB of fresh memory took {} s (the plugins' peak RSS costs about as much system time per MiB)",
        runs.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
