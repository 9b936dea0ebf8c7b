//! The users' CI gate, `examples/ci/guardrails.yml`, run as written: the plugin commands are
//! taken from the workflow's own `run:` steps (GitHub's `shell: bash` is `bash -eo pipefail`),
//! the render command is replaced by `cat` of the example cluster's manifests, and the
//! plugins run through the real kubectl. Every SARIF file must validate against the official
//! SARIF 2.1.0 schema and meet GitHub code scanning's own requirements, and the final gate
//! step must fail exactly when a plugin's gate did.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guardrails_e2e::e2e::{json_of, repo, run, stderr, stdout};
use guardrails_e2e::harness;
use serde_json::Value;

const PLUGINS: [&str; 4] = ["rbac-audit", "netpol-scaffold", "image-pins", "harden"];

fn workflow() -> Value {
    let path = repo().join("examples/ci/guardrails.yml");
    let text = std::fs::read_to_string(&path).expect("read the workflow");
    serde_yaml_ng::from_str(&text).expect("the workflow is YAML")
}

fn steps(workflow: &Value) -> Vec<Value> {
    workflow["jobs"]["guardrails"]["steps"]
        .as_array()
        .expect("jobs.guardrails.steps")
        .clone()
}

/// The example cluster's manifest files, sorted, as the render step's replacement prints them.
fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("examples/cluster"))
        .expect("examples/cluster")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// A `run:` script the way GitHub runs it with `shell: bash`, in `dir`, with the built plugins
/// and kubectl on PATH and `RENDER` printing the example manifests.
fn run_step(script: &str, dir: &Path) -> Output {
    // `cat` of each file behind a document separator, as kustomize and helm print them
    // (the example files do not all end a document with `---`).
    let files: Vec<String> = example_files()
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect();
    let render = format!(
        "for f in {}; do echo ---; cat \"$f\"; done",
        files.join(" ")
    );
    let kubectl_dir = harness::kubectl_binary()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut path = vec![harness::plugin_dir(), kubectl_dir];
    path.extend(std::env::split_paths(&harness::plugin_path_env()));
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("RENDER", render)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env("HOME", harness::fresh_home())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("bash runs")
}

fn sarif_schema() -> jsonschema::Validator {
    let path = repo().join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read the schema"))
            .expect("the schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, sarif: &Value) -> Vec<String> {
    validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// What GitHub code scanning requires beyond the schema
/// (docs: "SARIF support for code scanning"): one run with a named driver whose rules carry a
/// numeric `security-severity`; each result a known `ruleId`, `message.text`, a location with
/// a repository-relative `artifactLocation.uri`, and `partialFingerprints`.
fn code_scanning_problems(sarif: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let runs = sarif["runs"].as_array().cloned().unwrap_or_default();
    if runs.len() != 1 {
        problems.push(format!("{} runs", runs.len()));
    }
    for run in &runs {
        let driver = &run["tool"]["driver"];
        if driver["name"].as_str().is_none_or(str::is_empty) {
            problems.push("tool.driver.name missing".into());
        }
        let rules: BTreeSet<&str> = driver["rules"]
            .as_array()
            .map(|rules| {
                for r in rules {
                    let severity = r["properties"]["security-severity"].as_str();
                    if severity.and_then(|s| s.parse::<f64>().ok()).is_none() {
                        problems.push(format!("rule {} has no security-severity", r["id"]));
                    }
                }
                rules.iter().filter_map(|r| r["id"].as_str()).collect()
            })
            .unwrap_or_default();
        for result in run["results"].as_array().into_iter().flatten() {
            let rule = result["ruleId"].as_str().unwrap_or_default();
            if !rules.contains(rule) {
                problems.push(format!("ruleId {rule:?} not among the driver's rules"));
            }
            if result["message"]["text"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{rule}: no message.text"));
            }
            let uris: Vec<&str> = result["locations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["physicalLocation"]["artifactLocation"]["uri"].as_str())
                .collect();
            if uris.is_empty() {
                problems.push(format!("{rule}: no location with artifactLocation.uri"));
            }
            for uri in uris {
                if uri.starts_with('/') || uri.contains("://") || uri == "-" {
                    problems.push(format!("{rule}: uri {uri:?} is not repository-relative"));
                }
            }
            if result["partialFingerprints"]
                .as_object()
                .is_none_or(|f| f.is_empty())
            {
                problems.push(format!("{rule}: no partialFingerprints"));
            }
        }
    }
    problems
}

/// The gate steps: `(step id, plugin, run script, SARIF file)`.
fn gate_steps(steps: &[Value]) -> Vec<(String, String, String, String)> {
    let mut gates = Vec::new();
    for step in steps {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let Some(plugin) = PLUGINS
            .iter()
            .find(|p| script.contains(&format!("kubectl {p} ")))
        else {
            continue;
        };
        let sarif = script
            .rsplit_once('>')
            .map(|(_, file)| file.trim().to_string())
            .expect("the gate writes its SARIF to a file");
        assert!(
            script.contains("-o sarif") && script.contains("--fail-on high"),
            "{script}"
        );
        assert!(
            script.contains("\"$RENDER\" |"),
            "rendered on stdin: {script}"
        );
        assert_eq!(
            step["continue-on-error"], true,
            "{plugin}: later uploads must still run"
        );
        let id = step["id"]
            .as_str()
            .expect("gate steps have ids")
            .to_string();
        gates.push((id, plugin.to_string(), script.to_string(), sarif));
    }
    gates
}

#[test]
fn the_workflow_gates_uploads_and_fails_as_documented() {
    let workflow = workflow();
    assert_eq!(
        workflow["defaults"]["run"]["shell"], "bash",
        "bash -eo pipefail, so a failing render fails the step"
    );
    assert_eq!(workflow["permissions"]["security-events"], "write");
    assert!(workflow["env"]["RENDER"].as_str().is_some());
    let steps = steps(&workflow);
    let gates = gate_steps(&steps);
    let plugins: BTreeSet<&str> = gates.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(
        plugins,
        PLUGINS.into_iter().collect(),
        "one gate per plugin"
    );

    // Every SARIF file is uploaded under its own category, even after a gate failed.
    let mut categories = BTreeSet::new();
    for (_, plugin, _, sarif) in &gates {
        let upload = steps
            .iter()
            .find(|s| s["with"]["sarif_file"] == sarif.as_str())
            .unwrap_or_else(|| panic!("no upload of {sarif}"));
        assert!(
            upload["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@")),
            "{upload}"
        );
        assert!(
            upload["if"]
                .as_str()
                .is_some_and(|c| c.contains("always()")),
            "{plugin}: uploaded even when a gate failed"
        );
        let category = upload["with"]["category"].as_str().expect("category");
        assert!(categories.insert(category.to_string()), "{category} twice");
    }

    // The gates, run as the workflow runs them, on the example cluster.
    let validator = sarif_schema();
    let dir = tempfile::tempdir().expect("tmp");
    let mut outcomes = BTreeMap::new();
    for (id, plugin, script, sarif) in &gates {
        let out = run_step(script, dir.path());
        // The same manifests as files: the gate's verdict and findings must match.
        let files: Vec<String> = example_files()
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let mut args = vec![plugin.as_str(), "-o", "json", "--fail-on", "never"];
        for f in &files {
            args.extend(["-f", f.as_str()]);
        }
        let report = json_of(&run(&args));
        let findings = report["findings"].as_array().expect("findings").clone();
        let high = findings
            .iter()
            .filter(|f| f["severity"] == "high" || f["severity"] == "critical")
            .count();
        let expected = if high > 0 { 1 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{plugin}: {high} high/critical findings; stderr: {}",
            stderr(&out)
        );
        outcomes.insert(
            id.clone(),
            if expected == 0 { "success" } else { "failure" },
        );

        let text = std::fs::read_to_string(dir.path().join(sarif)).expect("SARIF written");
        let log: Value = serde_json::from_str(&text).expect("SARIF is JSON");
        let errors = schema_errors(&validator, &log);
        assert!(errors.is_empty(), "{plugin}: {errors:#?}");
        let problems = code_scanning_problems(&log);
        assert!(problems.is_empty(), "{plugin}: {problems:#?}");
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(
            results.len(),
            findings.len(),
            "{plugin}: one SARIF result per finding"
        );
        let ids: BTreeSet<&str> = findings.iter().filter_map(|f| f["id"].as_str()).collect();
        let fingerprints: BTreeSet<&str> = results
            .iter()
            .filter_map(|r| r["partialFingerprints"]["guardrails/v1"].as_str())
            .collect();
        assert_eq!(
            ids, fingerprints,
            "{plugin}: fingerprints are the report's stable ids (stdin = files)"
        );
    }
    assert!(
        outcomes.values().any(|o| *o == "failure"),
        "the examples have high findings: the gate must fail somewhere ({outcomes:?})"
    );

    // The final step, with GitHub's expressions replaced by the outcomes seen above.
    let gate = steps
        .iter()
        .find(|s| s["name"] == "Gate")
        .expect("the Gate step");
    assert!(gate["if"].as_str().is_some_and(|c| c.contains("always()")));
    let script = gate["run"].as_str().expect("run");
    let with = |outcome: &dyn Fn(&str) -> &'static str| {
        let mut s = script.to_string();
        for (id, _, _, _) in &gates {
            s = s.replace(&format!("${{{{ steps.{id}.outcome }}}}"), outcome(id));
        }
        assert!(!s.contains("${{"), "every expression substituted: {s}");
        s
    };
    let failing = run_step(&with(&|id| outcomes[id]), dir.path());
    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
    for (_, plugin, _, _) in gates.iter().filter(|g| outcomes[&g.0] == "failure") {
        assert!(stdout(&failing).contains(plugin.as_str()), "names {plugin}");
    }
    let passing = run_step(&with(&|_| "success"), dir.path());
    assert_eq!(passing.status.code(), Some(0), "{}", stdout(&passing));
    let skipped = run_step(&with(&|_| "skipped"), dir.path());
    assert_eq!(
        skipped.status.code(),
        Some(1),
        "a broken render skips the gates: the job fails"
    );
}

#[test]
fn a_failing_render_fails_the_step() {
    let workflow = workflow();
    let steps = steps(&workflow);
    let (_, _, script, _) = gate_steps(&steps).into_iter().next().expect("a gate");
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("RENDER", "echo 'kustomize: no such overlay' >&2; exit 7")
        .env("PATH", harness::plugin_path_env())
        .env("HOME", harness::fresh_home())
        .output()
        .expect("bash");
    assert_ne!(out.status.code(), Some(0), "pipefail: {}", stderr(&out));
}

#[test]
fn the_schema_check_rejects_what_code_scanning_would() {
    // The validator is not vacuous: a result without a message breaks the schema, an absolute
    // path breaks code scanning's rule.
    let validator = sarif_schema();
    let log = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x", "rules": [{"id": "r", "properties": {"security-severity": "8.0"}}]}},
                  "results": [{"ruleId": "r"}]}]
    });
    assert!(!schema_errors(&validator, &log).is_empty());
    let log = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x", "rules": [{"id": "r", "properties": {"security-severity": "8.0"}}]}},
                  "results": [{"ruleId": "r", "message": {"text": "m"},
                               "locations": [{"physicalLocation": {"artifactLocation": {"uri": "/abs/k8s.yaml"}}}],
                               "partialFingerprints": {"guardrails/v1": "abc"}}]}]
    });
    assert!(schema_errors(&validator, &log).is_empty());
    assert_eq!(code_scanning_problems(&log).len(), 1);
    let bad_uri = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}},
                  "results": [{"message": {"text": "m"},
                               "locations": [{"physicalLocation": {"artifactLocation": {"uri": "k8s/a b.yaml"}}}]}]}]
    });
    assert!(
        !schema_errors(&validator, &bad_uri).is_empty(),
        "format uri-reference is checked"
    );
}

#[test]
fn files_joined_without_a_separator_are_refused_not_half_read() {
    // `cat a.yaml b.yaml` where a.yaml does not end with `---` joins two objects into one
    // mapping with repeated keys; reading it as the last object would pass the gate on
    // manifests never examined.
    let workflow = workflow();
    let steps = steps(&workflow);
    let dir = tempfile::tempdir().expect("tmp");
    let files: Vec<String> = example_files()
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect();
    for (_, plugin, script, _) in gate_steps(&steps) {
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(dir.path())
            .env("RENDER", format!("cat {}", files.join(" ")))
            .env("PATH", harness::plugin_path_env())
            .env("HOME", harness::fresh_home())
            .env("NO_COLOR", "1")
            .output()
            .expect("bash");
        assert_eq!(out.status.code(), Some(3), "{plugin}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("already defined"),
            "{plugin}: {}",
            stderr(&out)
        );
    }
}
