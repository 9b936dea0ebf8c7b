//! What every plugin's end-to-end test file needs: the example cluster, running a plugin
//! through kubectl, reading its output, and the contract's error shape.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::harness;

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `examples/cluster`, as a command-line argument.
pub fn examples() -> String {
    repo().join("examples/cluster").display().to_string()
}

/// The recorded cluster (what the test API server serves by default) written as one `List`
/// file in `dir`, for comparing a live run with an offline run of the same inventory.
pub fn recorded_cluster_file(dir: &Path) -> String {
    let file = dir.join("cluster.json");
    std::fs::write(
        &file,
        crate::Inventory::from_recordings()
            .to_list_document()
            .to_string(),
    )
    .expect("write the recorded cluster");
    file.display().to_string()
}

/// Every object of `examples/cluster` (files in name order, documents in file order), for
/// serving the examples from the test API server.
pub fn example_objects() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("examples/cluster"))
        .expect("examples/cluster")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read example");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("example YAML");
            if !value.is_null() {
                objects.push(value);
            }
        }
    }
    objects
}

/// `(rule, object name)` of every finding of a JSON report.
pub fn rule_and_name(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["object"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Whether a JSON report has a finding of `rule` on an object named `name`.
pub fn has(report: &Value, rule: &str, name: &str) -> bool {
    rule_and_name(report)
        .iter()
        .any(|(r, n)| r == rule && n == name)
}

/// `kubectl ARGS` with the built plugins on PATH (see [`harness::kubectl`]).
pub fn run(args: &[&str]) -> Output {
    harness::kubectl(args).output().expect("kubectl runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as JSON; panics with both streams when it is not.
pub fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// rbac-audit's findings as a live scan and an offline scan of the same objects must both give
/// them: only `dangling-subject` words differently where it looked for the missing
/// ServiceAccount ("in the cluster" live, "in the given manifests" offline).
pub fn rbac_findings_either_way(report: &Value) -> Vec<Value> {
    let mut findings = report["findings"].as_array().cloned().unwrap_or_default();
    for f in &mut findings {
        if let Some(message) = f["message"].as_str() {
            f["message"] = Value::from(message.replace(
                "it does not exist in the cluster",
                "it is not in the given manifests",
            ));
        }
    }
    findings
}

/// The contract's error shape: exit `code`, one line on stderr containing `needle`, no panic.
pub fn assert_clean_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
}
