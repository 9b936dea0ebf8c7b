//! Scale benchmark (run with `cargo bench -p guardrails-e2e --bench scale`; needs GNU time
//! at /usr/bin/time). Reports, for a synthetic cluster of 100,000 RBAC objects and 50,000
//! pods (`BENCH_DIVISOR=N` shrinks it N-fold):
//! - offline: wall time and peak RSS of `kubectl-rbac_audit -f cluster.json -A -o json`;
//! - live: the plugin's scan time against the test API server, next to the time of merely
//!   fetching the same lists (same client stack, pages of 500, all kinds concurrently), and
//!   the number of list requests it made. The live round runs twice: once with the API server
//!   and the plugin sharing both CPUs, as they do on this machine, and once with the server's
//!   threads pinned to one CPU and the fetching client and the plugin to the other(s), which is
//!   closer to a real cluster whose API server does not take CPU time from the client.
//!
//! Last, it checks that the live and the offline scan report the same findings.
//!
//! `BENCH_KEEP=PATH` keeps the generated cluster file; `BENCH_SERVE=1` measures nothing and
//! serves the cluster until killed, printing its kubeconfig (for profiling a live scan);
//! `BENCH_FETCH=KUBECONFIG` then only fetches its lists, from a process of its own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use guardrails_e2e::benchmark::{self, median};
use guardrails_e2e::e2e::rbac_findings_either_way;
use guardrails_e2e::synthetic::{self, Scale};
use guardrails_e2e::{ApiServerConfig, Inventory, TestApiServer};

/// (seconds, peak RSS in MiB, CPU seconds) of one run. The plugin's own phase breakdown is printed for the
/// first run of each kind.
fn timed(binary: &Path, args: &[&str]) -> (f64, f64, f64) {
    use std::sync::Mutex;
    static SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let run = benchmark::timed(binary, args);
    let key = args
        .iter()
        .filter(|a| a.starts_with('-'))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    if let Ok(mut shown) = SHOWN.lock()
        && !shown.contains(&key)
    {
        for line in &run.phase_lines {
            println!("  [{key}] {line}");
        }
        shown.push(key);
    }
    (run.wall_seconds, run.peak_rss_mib, run.cpu_seconds)
}

/// Merely fetching every list the scan needs: same kube client, pages of 500, concurrently.
async fn fetch_only(kubeconfig: &Path) -> Duration {
    let args = guardrails::cli::ClusterArgs {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..Default::default()
    };
    let cluster = guardrails::cluster::connect(&args).await.expect("connect");
    #[derive(serde::Deserialize)]
    struct Page {
        metadata: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "continue")]
        next: Option<String>,
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for kind in rbac_audit::KINDS {
        let client = cluster.client.clone();
        tasks.spawn(async move {
            let path = match kind.group() {
                "" => format!("/api/{}/{}", kind.api_version(), kind.plural()),
                _ => format!("/apis/{}/{}", kind.api_version(), kind.plural()),
            };
            let mut token: Option<String> = None;
            loop {
                let mut params = kube::api::ListParams::default().limit(500);
                if let Some(t) = &token {
                    params = params.continue_token(t);
                }
                let req = kube::core::Request::new(&path)
                    .list(&params)
                    .expect("request");
                let text = client.request_text(req).await.expect("list");
                let page: Page = serde_json::from_str(&text).expect("page");
                token = page.metadata.next.filter(|t| !t.is_empty());
                if token.is_none() {
                    break;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    start.elapsed()
}

/// `BENCH_FETCH=KUBECONFIG`: the fetch-only client alone, against a cluster served by another
/// process (`BENCH_SERVE`), for comparing with the plugin or profiling the server under it.
fn fetch_from_another_process(kubeconfig: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for _ in 0..LIVE_RUNS {
        let seconds = runtime.block_on(fetch_only(kubeconfig)).as_secs_f64();
        println!("fetching the lists: {seconds:.3} s");
    }
}

/// Fetching and decoding every list into the typed inventory, exactly as the plugin acquires it
/// (the shared collector), without any analysis: what a live scan costs before its rules run.
async fn fetch_and_decode(kubeconfig: &Path) -> Duration {
    let args = guardrails::cli::ClusterArgs {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..Default::default()
    };
    let cluster = guardrails::cluster::connect(&args).await.expect("connect");
    let start = Instant::now();
    let inventory = guardrails::collect::collect(&cluster, rbac_audit::KINDS, false)
        .await
        .expect("collect");
    let elapsed = start.elapsed();
    assert!(
        inventory.role_bindings.len() > 1000,
        "the lists were decoded"
    );
    elapsed
}

/// CPU time (user + system) this process has used so far: the test API server and the
/// fetch-only client both run in it, so this says how busy fetching keeps the cores.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: f64 = fields.get(11..13).map_or(0.0, |t| {
        t.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn main() {
    let divisor: usize = std::env::var("BENCH_DIVISOR")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(1);
    let scale = if divisor > 1 {
        Scale::LARGE.divided(divisor)
    } else {
        Scale::LARGE
    };
    if let Some(kubeconfig) = std::env::var_os("BENCH_FETCH") {
        fetch_from_another_process(Path::new(&kubeconfig));
        return;
    }
    let binary = benchmark::release_binary("kubectl-rbac-audit", "kubectl-rbac_audit");
    println!("{}", benchmark::describe_fresh_memory_cost());
    let dir = tempfile::tempdir().expect("tmp");
    // BENCH_KEEP=PATH keeps the generated cluster for profiling.
    let file = std::env::var_os("BENCH_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("cluster.json"));
    let objects = synthetic::write_json_stream(&scale, &file).expect("generate");
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    println!(
        "synthetic cluster: {} RBAC objects, {} pods, {objects} objects in all, {size:.0} MiB of JSON",
        scale.rbac_objects(),
        scale.pods()
    );

    let serve_only = std::env::var_os("BENCH_SERVE").is_some();
    if !serve_only {
        let file_arg = file.display().to_string();
        let offline: Vec<(f64, f64, f64)> = (0..3)
            .map(|_| {
                timed(
                    &binary,
                    &["-f", &file_arg, "-A", "-o", "json", "--fail-on", "never"],
                )
            })
            .collect();
        let table: Vec<(f64, f64, f64)> = (0..3)
            .map(|_| timed(&binary, &["-f", &file_arg, "-A", "--fail-on", "never"]))
            .collect();
        println!(
            "offline scan -o json: median {:.2} s, peak RSS {:.0} MiB (runs: {:?})",
            median(offline.iter().map(|r| r.0).collect()),
            offline.iter().map(|r| r.1).fold(0.0, f64::max),
            offline.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        println!(
            "offline scan (table): median {:.2} s, peak RSS {:.0} MiB",
            median(table.iter().map(|r| r.0).collect()),
            table.iter().map(|r| r.1).fold(0.0, f64::max)
        );
    }

    // Live: the same objects served by the test API server.
    let mut all = Vec::with_capacity(objects);
    synthetic::generate(&scale, |o| all.push(o));
    // A real cluster serves the bootstrap ClusterRoles (view, edit, …) that offline mode assumes.
    all.extend(Inventory::bootstrap_cluster_roles());
    let server = TestApiServer::start(ApiServerConfig {
        inventory: Inventory::from_objects(all),
        ..ApiServerConfig::default()
    });
    let kubeconfig = server.write_kubeconfig(dir.path(), None);
    if serve_only {
        println!("serving; kubeconfig: {}", kubeconfig.display());
        loop {
            std::thread::park();
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let live = measure_live(&runtime, &server, &kubeconfig, &binary);
    live.print(&format!(
        "live (API server and client sharing the {cores} CPUs)"
    ));
    // The test API server runs on this machine: its CPU and the plugin's share the cores, so no
    // overlap of listing and analysis can finish before both have had their CPU time.
    let floor = (live.server_cpu + live.plugin_cpu) / cores as f64;
    println!(
        "live floor on this machine: (server {:.2} + plugin {:.2} CPU-seconds) / {cores} cores = {floor:.2} s = {:.2}x of fetching, even with perfect overlap",
        live.server_cpu,
        live.plugin_cpu,
        floor / live.fetch_s
    );
    // As against a real cluster, whose API server does not take the client's CPU.
    match benchmark::pin_server_apart() {
        Some(split) => {
            let live = measure_live(&runtime, &server, &kubeconfig, &binary);
            live.print(&format!(
                "live (API server on CPU {}, fetching client and plugin on CPUs {:?})",
                split.server, split.client
            ));
        }
        None => println!("live with the API server on a CPU of its own: skipped (one CPU)"),
    }
    check_live_matches_offline(&binary, &kubeconfig, &file);
}

/// The live scan and the offline scan of the same cluster must give the same findings, at
/// full scale too (evidence order, aggregation and paging only show differences on large
/// inputs). Not timed.
fn check_live_matches_offline(binary: &Path, kubeconfig: &Path, file: &Path) {
    let report = |source: [&str; 2]| -> serde_json::Value {
        let out = std::process::Command::new(binary)
            .args(source)
            .args(["-A", "-o", "json", "--fail-on", "never"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("plugin runs");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{source:?}: not a JSON report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let live = report(["--kubeconfig", &kubeconfig.display().to_string()]);
    let offline = report(["-f", &file.display().to_string()]);
    let (live, offline) = (
        rbac_findings_either_way(&live),
        rbac_findings_either_way(&offline),
    );
    let differing = live.iter().zip(&offline).filter(|(l, o)| l != o).count();
    assert!(
        live.len() == offline.len() && differing == 0,
        "live and offline reports differ: {} vs {} findings, {differing} differing in place",
        live.len(),
        offline.len()
    );
    println!(
        "live and offline scans agree: the same {} findings",
        live.len()
    );
}

/// Runs of each live measurement. They are interleaved (fetch, decode, scan, fetch, …) so
/// that this VM's host getting slower or faster mid-round moves all three alike.
const LIVE_RUNS: usize = 5;

/// One round of live measurements.
struct LiveRound {
    /// Merely fetching the lists (median seconds, and CPU-seconds of server and client).
    fetch_s: f64,
    fetch_cpu: f64,
    /// Fetching and decoding them into the inventory.
    decode_s: f64,
    decode_cpu: f64,
    /// The plugin's scan: median seconds, its CPU-seconds, the server's, its peak RSS.
    scan_s: f64,
    plugin_cpu: f64,
    server_cpu: f64,
    peak_mib: f64,
    /// The median of each run's scan time over the fetch time just before it.
    paired_ratio: f64,
    lists_per_scan: usize,
    per_namespace_lists: usize,
}

fn measure_live(
    runtime: &tokio::runtime::Runtime,
    server: &TestApiServer,
    kubeconfig: &Path,
    binary: &Path,
) -> LiveRound {
    let kc = kubeconfig.display().to_string();
    let scan_args = [
        "--kubeconfig",
        kc.as_str(),
        "-A",
        "-o",
        "json",
        "--fail-on",
        "never",
    ];
    // (seconds, CPU-seconds of this process: the server, and the client when it is in-process)
    let cpu_timed = |work: &mut dyn FnMut() -> f64| {
        let before = process_cpu_seconds();
        let seconds = work();
        (seconds, process_cpu_seconds() - before)
    };
    let (mut fetch, mut decode, mut scans) = (Vec::new(), Vec::new(), Vec::new());
    // The requests of the plugin's scans only.
    let mut requests = Vec::new();
    for _ in 0..LIVE_RUNS {
        fetch.push(cpu_timed(&mut || {
            runtime.block_on(fetch_only(kubeconfig)).as_secs_f64()
        }));
        decode.push(cpu_timed(&mut || {
            runtime.block_on(fetch_and_decode(kubeconfig)).as_secs_f64()
        }));
        server.clear_requests();
        let mut scan = (0.0, 0.0, 0.0);
        let (_, server_cpu) = cpu_timed(&mut || {
            scan = timed(binary, &scan_args);
            scan.0
        });
        requests.extend(server.requests());
        scans.push((scan, server_cpu));
    }
    let seconds = |runs: &[(f64, f64)]| median(runs.iter().map(|r| r.0).collect());
    let cpu = |runs: &[(f64, f64)]| median(runs.iter().map(|r| r.1).collect());
    LiveRound {
        fetch_s: seconds(&fetch),
        fetch_cpu: cpu(&fetch),
        decode_s: seconds(&decode),
        decode_cpu: cpu(&decode),
        scan_s: median(scans.iter().map(|(s, _)| s.0).collect()),
        plugin_cpu: median(scans.iter().map(|(s, _)| s.2).collect()),
        server_cpu: median(scans.iter().map(|(_, server)| *server).collect()),
        peak_mib: scans.iter().map(|(s, _)| s.1).fold(0.0, f64::max),
        paired_ratio: median(
            scans
                .iter()
                .zip(&fetch)
                .map(|((s, _), f)| s.0 / f.0)
                .collect(),
        ),
        lists_per_scan: requests.iter().filter(|r| r.method == "GET").count() / LIVE_RUNS,
        per_namespace_lists: requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/namespaces/"))
            .count(),
    }
}

impl LiveRound {
    fn print(&self, label: &str) {
        let LiveRound {
            fetch_s,
            fetch_cpu,
            decode_s,
            decode_cpu,
            scan_s,
            plugin_cpu,
            server_cpu,
            peak_mib,
            paired_ratio,
            lists_per_scan,
            per_namespace_lists,
        } = self;
        println!(
            "{label}: fetching the lists {fetch_s:.2} s ({fetch_cpu:.2} CPU-seconds, server and client); fetching and decoding them into the inventory {decode_s:.2} s ({:.2}x; {decode_cpu:.2} CPU-seconds); full scan {scan_s:.2} s ({:.2}x; {paired_ratio:.2}x as the median of each scan over the fetch just before it; {plugin_cpu:.2} CPU-seconds in the plugin, {server_cpu:.2} in the server); {lists_per_scan} list requests per scan, {per_namespace_lists} per-namespace lists; peak RSS {peak_mib:.0} MiB",
            decode_s / fetch_s,
            scan_s / fetch_s,
        );
    }
}
