//! CI gating: accepted-risk exceptions (with expiry), a baseline of known findings, and the
//! `--fail-on` threshold that turns what is left into an exit code.

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::cli::GateArgs;
use crate::error::{Error, Result};
use crate::exit_code;
use crate::finding::{ObjectRef, Report, Severity, Suppressed};

/// One accepted risk. `object` is `Kind/name` or `Kind/namespace/name` as printed in tables.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub rule: String,
    #[serde(default)]
    pub object: Option<String>,
    /// A finding fingerprint, as an alternative to rule + object.
    #[serde(default)]
    pub id: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub expires: Option<NaiveDate>,
}

impl Exception {
    fn covers(&self, finding: &crate::finding::Finding) -> bool {
        (self.rule == "*" || self.rule == finding.rule)
            && self.id.as_ref().is_none_or(|id| *id == finding.id)
            && self
                .object
                .as_ref()
                .is_none_or(|o| *o == finding.object.display_path())
    }
}

pub fn load_exceptions(path: &Path) -> Result<Vec<Exception>> {
    let set = manifest_values(path)?;
    let mut out = Vec::new();
    for (index, value) in set.into_iter().enumerate() {
        let exception: Exception = serde_json::from_value(value).map_err(|e| {
            Error::input(
                path.display().to_string(),
                format!("exception {}: {e}", index + 1),
            )
        })?;
        if exception.object.is_none() && exception.id.is_none() {
            return Err(Error::input(
                path.display().to_string(),
                format!("exception {} needs an object or an id", index + 1),
            ));
        }
        out.push(exception);
    }
    Ok(out)
}

/// Exceptions are a bare list or `{exceptions: [...]}`, in YAML or JSON.
fn manifest_values(path: &Path) -> Result<Vec<Value>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e))?;
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| Error::input(&name, format!("malformed YAML/JSON: {e}")))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove("exceptions") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(Error::input(
                &name,
                "expected a list of exceptions or {exceptions: [...]}",
            )),
        },
        Value::Null => Ok(Vec::new()),
        _ => Err(Error::input(
            &name,
            "expected a list of exceptions or {exceptions: [...]}",
        )),
    }
}

pub fn load_baseline(path: &Path) -> Result<HashSet<String>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        Error::input(
            &name,
            format!("not a JSON report (produce one with -o json): {e}"),
        )
    })?;
    let findings = value
        .get("findings")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::input(&name, "not a guardrails report: no \"findings\" list"))?;
    Ok(findings
        .iter()
        .filter_map(|f| f.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .collect())
}

/// What gating decided, for the exit code and the stderr notes.
#[derive(Debug, Default)]
pub struct GateOutcome {
    /// Fingerprints of findings already present in the baseline.
    pub in_baseline: HashSet<String>,
}

/// [`apply`] as of today (local time).
pub fn apply_today(report: &mut Report, args: &GateArgs) -> Result<GateOutcome> {
    apply(report, args, chrono::Local::now().date_naive())
}

/// Applies exceptions (removing covered findings) and reads the baseline.
pub fn apply(report: &mut Report, args: &GateArgs, today: NaiveDate) -> Result<GateOutcome> {
    if let Some(path) = &args.exceptions {
        let exceptions = load_exceptions(path)?;
        let (active, expired): (Vec<_>, Vec<_>) = exceptions
            .into_iter()
            .partition(|e| e.expires.is_none_or(|d| d >= today));
        report.expired_exceptions = expired
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        let mut kept = Vec::with_capacity(report.findings.len());
        for finding in report.findings.drain(..) {
            match active.iter().find(|e| e.covers(&finding)) {
                Some(e) => report.suppressed.push(Suppressed {
                    id: finding.id.clone(),
                    rule: finding.rule.to_string(),
                    object: ObjectRef::clone(&finding.object),
                    by: format!("exception: {}", e.reason),
                }),
                None => kept.push(finding),
            }
        }
        report.findings = kept;
        report.recompute_summary();
    }
    let mut outcome = GateOutcome::default();
    if let Some(path) = &args.baseline {
        let known = load_baseline(path)?;
        outcome.in_baseline = report
            .findings
            .iter()
            .filter(|f| known.contains(&f.id))
            .map(|f| f.id.clone())
            .collect();
    }
    Ok(outcome)
}

/// 1 when a finding not in the baseline is at or above the threshold, else 0.
pub fn exit_code(report: &Report, outcome: &GateOutcome, fail_on: Option<Severity>) -> i32 {
    let Some(threshold) = fail_on else {
        return exit_code::OK;
    };
    let failing = report
        .findings
        .iter()
        .any(|f| f.severity >= threshold && !outcome.in_baseline.contains(&f.id));
    if failing {
        exit_code::FINDINGS
    } else {
        exit_code::OK
    }
}

/// After the report is written: warns (stderr) about exceptions that expired and says how many
/// findings the baseline discounted, then gives the exit code (see [`exit_code`]).
pub fn conclude(report: &Report, outcome: &GateOutcome, fail_on: Option<Severity>) -> i32 {
    announce(&report.expired_exceptions, outcome);
    exit_code(report, outcome, fail_on)
}

/// The stderr part of [`conclude`], for plugins that hand the report on before they finish.
pub fn announce(expired_exceptions: &[Value], outcome: &GateOutcome) {
    for expired in expired_exceptions {
        crate::run::warn(&format!(
            "exception for {} on {} expired on {}; it no longer suppresses anything",
            expired["rule"].as_str().unwrap_or("?"),
            expired["object"]
                .as_str()
                .or(expired["id"].as_str())
                .unwrap_or("?"),
            expired["expires"].as_str().unwrap_or("?"),
        ));
    }
    if !outcome.in_baseline.is_empty() {
        eprintln!(
            "note: {} finding(s) are already in the baseline and do not count toward --fail-on",
            outcome.in_baseline.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, ObjectRef, ReportSource, RuleInfo};

    const RULE: RuleInfo = RuleInfo {
        id: "r",
        severity: Severity::High,
        category: "c",
        title: "t",
        rationale: "r",
        remediation: "x",
    };

    fn report() -> Report {
        let f1 = Finding::new(
            &RULE,
            ObjectRef::new("v1", "ServiceAccount", Some("a"), "one"),
            "",
            "m".into(),
            Value::Null,
        );
        let f2 = Finding::new(
            &RULE,
            ObjectRef::new("v1", "ServiceAccount", Some("a"), "two"),
            "",
            "m".into(),
            Value::Null,
        );
        Report::new("test", ReportSource::default(), vec![f1, f2], vec![])
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
    }

    #[test]
    fn exceptions_suppress_until_they_expire() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ex.yaml");
        std::fs::write(
            &path,
            "- {rule: r, object: ServiceAccount/a/one, reason: accepted, expires: 2027-01-01}\n- {rule: r, object: ServiceAccount/a/two, reason: old, expires: 2026-01-01}\n",
        )
        .expect("write");
        let mut r = report();
        let args = GateArgs {
            exceptions: Some(path),
            ..GateArgs::default()
        };
        let outcome = apply(&mut r, &args, today()).expect("apply");
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].object.name, "two");
        assert_eq!(r.suppressed.len(), 1);
        assert_eq!(r.expired_exceptions.len(), 1);
        assert_eq!(exit_code(&r, &outcome, Some(Severity::High)), 1);
        assert_eq!(exit_code(&r, &outcome, Some(Severity::Critical)), 0);
        assert_eq!(exit_code(&r, &outcome, None), 0);
    }

    #[test]
    fn baseline_findings_do_not_fail_the_gate() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("base.json");
        let r = report();
        std::fs::write(&path, serde_json::to_string(&r).expect("json")).expect("write");
        let mut r2 = report();
        let args = GateArgs {
            baseline: Some(path),
            ..GateArgs::default()
        };
        let outcome = apply(&mut r2, &args, today()).expect("apply");
        assert_eq!(outcome.in_baseline.len(), 2);
        assert_eq!(exit_code(&r2, &outcome, Some(Severity::Low)), 0);
    }

    #[test]
    fn malformed_exceptions_are_input_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ex.yaml");
        std::fs::write(&path, "- {rule: r, reason: x}\n").expect("write");
        let err = load_exceptions(&path).expect_err("needs object");
        assert_eq!(err.exit_code(), exit_code::INPUT);
    }
}
