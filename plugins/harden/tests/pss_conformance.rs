//! Conformance of the `pss` evaluator.
//!
//! 1. Upstream's own fixtures (`k8s.io/pod-security-admission` test data, every level and policy
//!    version they cover): each pod must get upstream's verdict, and a failing pod must fail the
//!    check its file is named after (or the restricted check that overrides it). The fixtures
//!    are upstream data and are never copied into this repository: they are read from
//!    `<workspace>/../shared/conformance/pod-security` or `$HARDEN_PSS_FIXTURES`.
//! 2. Our fixtures for every check added or changed after v1.23 (tests/pss-fixtures/), run at
//!    every policy version from v1.0 to beyond the newest.

use std::path::{Path, PathBuf};

use harden::pss::{self, CHECKS, Level, LevelVersion, MAX_MINOR, Version};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

fn upstream_fixtures() -> PathBuf {
    match std::env::var_os("HARDEN_PSS_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/pod-security")
        }
    }
}

fn read_pod(path: &Path) -> Pod {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries
}

/// `capabilities_baseline3` → `capabilities_baseline`, compared case-insensitively with check IDs.
fn check_named_by(file_stem: &str) -> String {
    file_stem
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_ascii_lowercase()
}

#[test]
fn upstream_fixtures_get_upstream_verdicts() {
    let root = upstream_fixtures();
    if !root.is_dir() {
        println!(
            "SKIPPED: pod-security conformance fixtures not found at {} (set HARDEN_PSS_FIXTURES)",
            root.display()
        );
        return;
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for level_dir in sorted_dirs(&root).into_iter().filter(|p| p.is_dir()) {
        let level: Level = level_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unknown level dir {}", level_dir.display()));
        for version_dir in sorted_dirs(&level_dir) {
            let version: Version = version_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad version dir {}", version_dir.display()));
            let policy = LevelVersion { level, version };
            for verdict in ["pass", "fail"] {
                let dir = version_dir.join(verdict);
                if !dir.is_dir() {
                    continue;
                }
                for file in sorted_dirs(&dir) {
                    let pod = read_pod(&file);
                    let spec = pod.spec.as_ref().expect("fixture has a spec");
                    let violations = pss::evaluate(policy, &pod.metadata, spec);
                    checked += 1;
                    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    let ok = if verdict == "pass" {
                        violations.is_empty()
                    } else {
                        let named = check_named_by(stem);
                        violations.iter().any(|v| {
                            let overridden = CHECKS
                                .iter()
                                .find(|c| c.id == v.check)
                                .and_then(|c| c.overrides);
                            v.check.to_ascii_lowercase() == named
                                || overridden.is_some_and(|o| o.to_ascii_lowercase() == named)
                        })
                    };
                    if !ok {
                        let got: Vec<String> = violations.iter().map(|v| v.segment()).collect();
                        failures.push(format!(
                            "{policy} {verdict}/{stem}: got [{}]",
                            got.join("; ")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Both levels, v1.0 through v1.23, pass and fail: well over two thousand pods.
    assert!(
        checked > 2000,
        "only {checked} fixtures found under {}",
        root.display()
    );
    println!("{checked} upstream pod-security fixtures agree");
}

/// RFC 7386 merge patch (cases are written as changes to a compliant base pod).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// `v1.8-v1.24` → (8, 24); `latest` as an upper bound means every newer version.
fn parse_range(range: &str) -> (u32, u32) {
    let (from, to) = range.split_once('-').unwrap_or((range, range));
    let minor = |s: &str| match s.parse::<Version>() {
        Ok(Version::Minor(n)) => n,
        Ok(Version::Latest) => u32::MAX,
        Err(e) => panic!("{e}"),
    };
    (minor(from), minor(to))
}

#[test]
fn checks_changed_after_v1_23_at_every_version() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pss-fixtures/after-v1.23.yaml");
    let text = std::fs::read_to_string(&path).expect("our fixtures");
    let doc: Value = serde_yaml_ng::from_str(&text).expect("fixtures yaml");
    let base = &doc["base"];
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut versions: Vec<Version> = (0..=MAX_MINOR + 2).map(Version::Minor).collect();
    versions.push(Version::Latest);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut pod_json = base.clone();
        merge(&mut pod_json, &case["pod"]);
        let pod: Pod = serde_json::from_value(pod_json).unwrap_or_else(|e| panic!("{name}: {e}"));
        let spec = pod.spec.as_ref().expect("spec");
        let levels: Vec<Level> = match case["level"].as_str() {
            Some("both") => vec![Level::Baseline, Level::Restricted],
            Some(l) => vec![l.parse().expect("level")],
            None => panic!("{name}: no level"),
        };
        let ranges: Vec<(u32, u32)> = case["forbidden"]
            .as_array()
            .expect("forbidden ranges")
            .iter()
            .map(|r| parse_range(r.as_str().expect("range")))
            .collect();
        let checks: Vec<&str> = case["checks"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for &level in &levels {
            for &version in &versions {
                let minor = match version {
                    Version::Minor(n) => n,
                    Version::Latest => u32::MAX,
                };
                let expect_forbidden = ranges.iter().any(|&(a, b)| a <= minor && minor <= b);
                let violations =
                    pss::evaluate(LevelVersion { level, version }, &pod.metadata, spec);
                let got: Vec<String> = violations.iter().map(|v| v.segment()).collect();
                let forbidden_by_case_check = violations.iter().any(|v| checks.contains(&v.check));
                let ok = if expect_forbidden {
                    forbidden_by_case_check && violations.len() == 1
                } else {
                    violations.is_empty()
                };
                if !ok {
                    failures.push(format!(
                        "{name} at {level}:{version}: expected {}, got [{}]",
                        if expect_forbidden {
                            "forbidden"
                        } else {
                            "allowed"
                        },
                        got.join("; ")
                    ));
                }
                if version == Version::Latest
                    && let Some(detail) = case["latest"].as_str()
                    && got.first().map(String::as_str) != Some(detail)
                    && level == levels[levels.len() - 1]
                {
                    failures.push(format!(
                        "{name} at {level}:latest: message {got:?}, want {detail:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
