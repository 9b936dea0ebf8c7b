//! The weekly score report: the four plugins' `guardrails/v1` Reports folded into one dated
//! Scorecard — findings by severity and a score per area (RBAC, network, images, runtime), the
//! overall score, the guides' weekly checks answered, and what changed since the previous
//! Scorecard (findings matched by their stable fingerprint).
//!
//! Everything here except [`run`] is a pure function over parsed reports, so the rendering and
//! the comparison are unit-tested without files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cli::{FailOn, GateArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::exit_code;
use crate::finding::{ObjectRef, Report, Severity, Skipped, Summary};
use crate::render::Table;

pub const API_VERSION: &str = "guardrails/v1";
pub const KIND: &str = "Scorecard";
/// `DIR/guardrails-report-<date>.md` and `.json`.
pub const FILE_PREFIX: &str = "guardrails-report-";

/// `kubectl <plugin> scorecard`: defined once here and flattened into every plugin's
/// subcommands, so each plugin answers it identically. `-o` and `--fail-on` are the plugin's
/// global flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ScorecardArgs {
    /// The plugins' JSON reports (`kubectl <plugin> -o json`), at most one per plugin
    #[arg(value_name = "REPORT.json", required = true, value_hint = clap::ValueHint::FilePath)]
    pub reports: Vec<PathBuf>,
    /// Write DIR/guardrails-report-<date>.md and .json (atomically) besides printing the report
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub out: Option<PathBuf>,
    /// The Scorecard JSON to compare with (default: the newest earlier one in --out)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub previous: Option<PathBuf>,
    /// The report's date, YYYY-MM-DD (default: today)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
}

/// The four rollout steps, in the order the reports show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Rbac,
    Network,
    Images,
    Runtime,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Rbac, Area::Network, Area::Images, Area::Runtime];

    pub fn plugin(self) -> &'static str {
        match self {
            Area::Rbac => "rbac-audit",
            Area::Network => "netpol-scaffold",
            Area::Images => "image-pins",
            Area::Runtime => "harden",
        }
    }

    pub fn of_plugin(plugin: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.plugin() == plugin)
    }

    pub fn title(self) -> &'static str {
        match self {
            Area::Rbac => "RBAC",
            Area::Network => "Network",
            Area::Images => "Images",
            Area::Runtime => "Runtime",
        }
    }
}

/// A finding as the Scorecard keeps it: enough to list it and to match it next week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEntry {
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub object: ObjectRef,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AreaCard {
    pub area: Area,
    pub plugin: String,
    /// The report file it was read from, as given.
    pub report: String,
    /// The plugin's own summary: counts per severity and its score.
    pub summary: Summary,
    /// Score now minus score in the previous Scorecard (absent: area not in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_change: Option<i32>,
    pub findings: Vec<FindingEntry>,
    /// What the plugin could not read: its findings are incomplete there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// One of the first guide's weekly audit checks, answered from the findings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeeklyCheck {
    pub check: String,
    pub area: Area,
    pub rules: Vec<String>,
    /// `None`: the area's report was not given, so the check was not made.
    pub count: Option<usize>,
    pub objects: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// The previous Scorecard's date; `None` on the first report.
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall_change: Option<i32>,
    pub new: Vec<ChangedFinding>,
    pub fixed: Vec<ChangedFinding>,
    pub still_open: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFinding {
    pub area: Area,
    #[serde(flatten)]
    pub finding: FindingEntry,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScorecardSource {
    pub context: Option<String>,
    pub files: Vec<String>,
}

/// The stable, versioned `guardrails/v1` Scorecard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scorecard {
    pub api_version: String,
    pub kind: String,
    pub date: String,
    pub source: ScorecardSource,
    pub areas: Vec<AreaCard>,
    /// Areas with no report: not scored (counting them as 100 would flatter the total).
    pub missing: Vec<Area>,
    /// The mean of the areas' scores, rounded; `None` when no area was given.
    pub overall: Option<u8>,
    pub weekly_checks: Vec<WeeklyCheck>,
    pub changes: Changes,
}

/// The RBAC rules that answer "can this identity do something dangerous?" (the guide's
/// `kubectl auth can-i` check), for every identity at once.
const DANGEROUS_GRANT_RULES: &[&str] = &[
    "rbac-escalate",
    "rbac-bind",
    "impersonate",
    "secrets-read",
    "token-create",
    "csr-approve",
    "webhook-config-write",
    "workload-create",
    "pod-exec",
    "nodes-proxy",
    "anonymous-binding",
    "authenticated-group-binding",
    "serviceaccounts-group-binding",
    "default-sa-bound",
];

/// How many findings each area's section lists (the JSON keeps them all).
const TOP_FINDINGS: usize = 5;
/// How many objects a weekly-check answer names before "and N more".
const CHECK_OBJECTS: usize = 8;

/// `apiVersion` and `kind` only: read first so that a file of another kind gets a clear
/// message rather than a serde error about some missing field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
}

/// Parses `text` as a `guardrails/v1` object of `kind` (straight into `T`: reports can hold
/// hundreds of thousands of findings, too many for a `Value` tree first).
fn parse_kind<T: serde::de::DeserializeOwned>(
    location: &str,
    text: &str,
    kind: &str,
    hint: &str,
) -> Result<T> {
    let header = match serde_json::from_str::<Header>(text) {
        Ok(header) => header,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return Err(Error::input(location, format!("not JSON: {e}")));
        }
        // Valid JSON that is not an object.
        Err(_) => Header {
            api_version: None,
            kind: None,
        },
    };
    if header.api_version.as_deref() != Some(API_VERSION) || header.kind.as_deref() != Some(kind) {
        return Err(Error::input(
            location,
            format!(
                "not a {API_VERSION} {kind} (apiVersion {}, kind {}); {hint}",
                header.api_version.as_deref().unwrap_or("missing"),
                header.kind.as_deref().unwrap_or("missing")
            ),
        ));
    }
    serde_json::from_str(text)
        .map_err(|e| Error::input(location, format!("malformed {API_VERSION} {kind}: {e}")))
}

/// Reads a plugin's JSON Report and gives it with its area.
pub fn parse_report(location: &str, text: &str) -> Result<(Area, Report)> {
    let report: Report = parse_kind(
        location,
        text,
        "Report",
        "give the output of `kubectl <plugin> -o json`",
    )?;
    let area = Area::of_plugin(&report.plugin).ok_or_else(|| {
        Error::input(
            location,
            format!(
                "report of unknown plugin {:?} (expected rbac-audit, netpol-scaffold, image-pins or harden)",
                report.plugin
            ),
        )
    })?;
    Ok((area, report))
}

/// Reads the JSON a previous scorecard wrote.
pub fn parse_scorecard(location: &str, text: &str) -> Result<Scorecard> {
    parse_kind(
        location,
        text,
        KIND,
        "give the .json a previous scorecard wrote",
    )
}

/// Folds the reports (with the file each came from) into a Scorecard, compared with
/// `previous` when there is one. Two reports of one plugin are an input error.
pub fn build(
    date: NaiveDate,
    reports: Vec<(String, Area, Report)>,
    previous: Option<&Scorecard>,
) -> Result<Scorecard> {
    let mut by_area: BTreeMap<Area, (String, Report)> = BTreeMap::new();
    for (location, area, report) in reports {
        if let Some((first, _)) = by_area.get(&area) {
            return Err(Error::input(
                &location,
                format!(
                    "a second {} report (the first is {first}); give one report per plugin",
                    area.plugin()
                ),
            ));
        }
        by_area.insert(area, (location, report));
    }

    let mut source = ScorecardSource::default();
    let mut areas = Vec::new();
    for (area, (location, report)) in by_area {
        if source.context.is_none() {
            source.context = report.source.context.clone();
        }
        source.files.extend(report.source.files.iter().cloned());
        let findings = report
            .findings
            .iter()
            .map(|f| FindingEntry {
                id: f.id.clone(),
                rule: f.rule.to_string(),
                severity: f.severity,
                object: ObjectRef::clone(&f.object),
                message: f.message.clone(),
            })
            .collect();
        areas.push(AreaCard {
            area,
            plugin: report.plugin.clone(),
            report: location,
            summary: report.summary.clone(),
            score_change: None,
            findings,
            skipped: report.skipped.clone(),
        });
    }
    source.files.sort();
    source.files.dedup();

    let present: BTreeSet<Area> = areas.iter().map(|a| a.area).collect();
    let missing = Area::ALL
        .into_iter()
        .filter(|a| !present.contains(a))
        .collect();
    let overall = overall_score(&areas);
    let weekly_checks = weekly_checks(&areas);
    let mut card = Scorecard {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        date: date.format("%Y-%m-%d").to_string(),
        source,
        areas,
        missing,
        overall,
        weekly_checks,
        changes: Changes::default(),
    };
    if let Some(previous) = previous {
        compare(&mut card, previous);
    }
    Ok(card)
}

fn overall_score(areas: &[AreaCard]) -> Option<u8> {
    if areas.is_empty() {
        return None;
    }
    let total: f64 = areas.iter().map(|a| f64::from(a.summary.score)).sum();
    Some((total / areas.len() as f64).round() as u8)
}

fn weekly_checks(areas: &[AreaCard]) -> Vec<WeeklyCheck> {
    let checks: [(&str, Area, &[&str]); 4] = [
        (
            "Bindings that grant cluster-admin (or an equivalent */*/* role)",
            Area::Rbac,
            &["cluster-admin-binding"],
        ),
        (
            "RBAC rules using wildcards (*)",
            Area::Rbac,
            &["wildcard-rule"],
        ),
        (
            "Namespaces with zero NetworkPolicies (default-allow)",
            Area::Network,
            &["namespace-without-policy"],
        ),
        (
            "Bindings that let an identity do something dangerous (what `kubectl auth can-i` probes)",
            Area::Rbac,
            DANGEROUS_GRANT_RULES,
        ),
    ];
    checks
        .into_iter()
        .map(|(check, area, rules)| {
            let card = areas.iter().find(|a| a.area == area);
            let mut objects: Vec<String> = card
                .map(|c| {
                    c.findings
                        .iter()
                        .filter(|f| rules.contains(&f.rule.as_str()))
                        .map(|f| f.object.display_path())
                        .collect()
                })
                .unwrap_or_default();
            objects.sort();
            objects.dedup();
            WeeklyCheck {
                check: check.into(),
                area,
                rules: rules.iter().map(|r| r.to_string()).collect(),
                count: card.map(|_| objects.len()),
                objects,
            }
        })
        .collect()
}

/// New = in this run, not in the previous; fixed = in the previous, gone now. Only areas in
/// both are compared: an area left out this week has not been fixed.
fn compare(card: &mut Scorecard, previous: &Scorecard) {
    let mut changes = Changes {
        since: Some(previous.date.clone()),
        overall_change: match (card.overall, previous.overall) {
            (Some(now), Some(then)) => Some(i32::from(now) - i32::from(then)),
            _ => None,
        },
        ..Changes::default()
    };
    for area in &mut card.areas {
        let Some(before) = previous.areas.iter().find(|p| p.area == area.area) else {
            continue;
        };
        area.score_change = Some(i32::from(area.summary.score) - i32::from(before.summary.score));
        let old: BTreeSet<&str> = before.findings.iter().map(|f| f.id.as_str()).collect();
        let now: BTreeSet<&str> = area.findings.iter().map(|f| f.id.as_str()).collect();
        for f in &area.findings {
            if old.contains(f.id.as_str()) {
                changes.still_open += 1;
            } else {
                changes.new.push(ChangedFinding {
                    area: area.area,
                    finding: f.clone(),
                });
            }
        }
        changes.fixed.extend(
            before
                .findings
                .iter()
                .filter(|f| !now.contains(f.id.as_str()))
                .map(|f| ChangedFinding {
                    area: area.area,
                    finding: f.clone(),
                }),
        );
    }
    for list in [&mut changes.new, &mut changes.fixed] {
        list.sort_by(|a, b| {
            b.finding
                .severity
                .cmp(&a.finding.severity)
                .then_with(|| a.area.cmp(&b.area))
                .then_with(|| a.finding.rule.cmp(&b.finding.rule))
                .then_with(|| a.finding.object.cmp(&b.finding.object))
                .then_with(|| a.finding.id.cmp(&b.finding.id))
        });
    }
    card.changes = changes;
}

/// The highest severity reported in any area, for `--fail-on`.
pub fn exit_code_for(card: &Scorecard, fail_on: FailOn) -> i32 {
    let Some(threshold) = fail_on.0 else {
        return exit_code::OK;
    };
    let failing = card
        .areas
        .iter()
        .flat_map(|a| &a.findings)
        .any(|f| f.severity >= threshold);
    if failing {
        exit_code::FINDINGS
    } else {
        exit_code::OK
    }
}

fn signed(change: i32) -> String {
    match change {
        0 => "±0".into(),
        c if c > 0 => format!("+{c}"),
        c => c.to_string(),
    }
}

fn counts(s: &Summary) -> [usize; 5] {
    [s.critical, s.high, s.medium, s.low, s.info]
}

/// The human report: headline, area table, weekly checks, changes, top findings per area.
pub fn to_markdown(card: &Scorecard) -> String {
    let mut out: Vec<u8> = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_markdown(&mut out, card);
    String::from_utf8_lossy(&out).into_owned()
}

fn write_markdown(out: &mut dyn Write, card: &Scorecard) -> Result<()> {
    writeln!(out, "# Guardrails security report — {}\n", card.date)?;
    let scope = match (&card.source.context, card.source.files.is_empty()) {
        (Some(ctx), _) => format!("context `{ctx}`"),
        (None, false) => {
            // Folders, not every file: a manifest tree has hundreds.
            let mut folders: Vec<String> = card
                .source
                .files
                .iter()
                .map(|f| match Path::new(f).parent() {
                    Some(p) if !p.as_os_str().is_empty() => format!("`{}/`", p.display()),
                    _ => format!("`{f}`"),
                })
                .collect();
            folders.dedup();
            format!("manifests in {}", folders.join(", "))
        }
        (None, true) => "unknown source".into(),
    };
    match card.overall {
        Some(score) => {
            let change = match card.changes.overall_change {
                Some(c) => format!(
                    " ({} since {})",
                    signed(c),
                    card.changes.since.as_deref().unwrap_or("")
                ),
                None => String::new(),
            };
            let of: Vec<&str> = card.areas.iter().map(|a| a.area.title()).collect();
            writeln!(
                out,
                "**Overall score: {score}/100**{change} — the mean of {} ({scope}).\n",
                of.join(", ")
            )?;
        }
        None => writeln!(out, "**No area scored** ({scope}).\n")?,
    }

    let mut table = Table::new(&[
        "Area", "Plugin", "Score", "Change", "Critical", "High", "Medium", "Low", "Info",
    ]);
    for a in &card.areas {
        let mut row = vec![
            a.area.title().to_string(),
            format!("`{}`", a.plugin),
            format!("{}/100", a.summary.score),
            match (a.score_change, &card.changes.since) {
                (Some(change), _) => signed(change),
                (None, Some(_)) => "new area".into(),
                (None, None) => "–".into(),
            },
        ];
        row.extend(counts(&a.summary).iter().map(|c| c.to_string()));
        table.row(row);
    }
    for area in &card.missing {
        let mut row = vec![
            area.title().to_string(),
            format!("`{}`", area.plugin()),
            "not scored".into(),
            "".into(),
        ];
        row.extend(std::iter::repeat_n("–".to_string(), 5));
        table.row(row);
    }
    table.write_markdown(out)?;
    if !card.missing.is_empty() {
        let names: Vec<String> = card
            .missing
            .iter()
            .map(|a| format!("{} (no `{}` report)", a.title(), a.plugin()))
            .collect();
        writeln!(
            out,
            "\nNot scored, and not part of the overall score: {}.",
            names.join(", ")
        )?;
    }

    writeln!(out, "\n## Weekly checks\n")?;
    let mut checks = Table::new(&["Check", "Answer"]);
    for c in &card.weekly_checks {
        let answer = match c.count {
            None => format!("not checked: no `{}` report", c.area.plugin()),
            Some(0) => "none".into(),
            Some(n) => {
                let mut named: Vec<String> = c
                    .objects
                    .iter()
                    .take(CHECK_OBJECTS)
                    .map(|o| format!("`{o}`"))
                    .collect();
                if n > CHECK_OBJECTS {
                    named.push(format!("and {} more", n - CHECK_OBJECTS));
                }
                format!("**{n}**: {}", named.join(", "))
            }
        };
        checks.row(vec![c.check.clone(), answer]);
    }
    checks.write_markdown(out)?;

    match &card.changes.since {
        None => writeln!(
            out,
            "\n## Changes\n\nFirst report: no previous report to compare with."
        )?,
        Some(since) => {
            let c = &card.changes;
            writeln!(
                out,
                "\n## Changes since {since}\n\n{} new, {} fixed, {} still open.",
                c.new.len(),
                c.fixed.len(),
                c.still_open
            )?;
            for (title, list) in [("New", &c.new), ("Fixed", &c.fixed)] {
                if list.is_empty() {
                    continue;
                }
                writeln!(out, "\n### {title}\n")?;
                let mut t = Table::new(&["Severity", "Area", "Rule", "Object", "Message"]);
                for f in list.iter() {
                    t.row(vec![
                        f.finding.severity.as_str().to_uppercase(),
                        f.area.title().into(),
                        format!("`{}`", f.finding.rule),
                        format!("`{}`", f.finding.object.display_path()),
                        f.finding.message.clone(),
                    ]);
                }
                t.write_markdown(out)?;
            }
        }
    }

    for a in &card.areas {
        writeln!(
            out,
            "\n## {} (`kubectl {}`): {}/100\n",
            a.area.title(),
            a.plugin,
            a.summary.score
        )?;
        let s = &a.summary;
        writeln!(
            out,
            "{} findings: {} critical, {} high, {} medium, {} low, {} info.",
            a.findings.len(),
            s.critical,
            s.high,
            s.medium,
            s.low,
            s.info
        )?;
        if !a.findings.is_empty() {
            writeln!(out)?;
            crate::render::findings_markdown_table(
                a.findings
                    .iter()
                    .take(TOP_FINDINGS)
                    .map(|f| (f.severity, f.rule.as_str(), &f.object, f.message.as_str())),
            )
            .write_markdown(out)?;
            if a.findings.len() > TOP_FINDINGS {
                writeln!(
                    out,
                    "\n… and {} more in `{}`.",
                    a.findings.len() - TOP_FINDINGS,
                    a.report
                )?;
            }
        }
        if !a.skipped.is_empty() {
            let what: Vec<String> = a
                .skipped
                .iter()
                .map(|s| format!("{} ({})", s.resource, s.reason))
                .collect();
            writeln!(
                out,
                "\nNot evaluated (findings there are unknown): {}.",
                what.join(", ")
            )?;
        }
    }
    Ok(())
}

pub fn to_json(card: &Scorecard) -> String {
    // Serialising plain data cannot fail; an empty object keeps the type total anyway.
    serde_json::to_string_pretty(card).unwrap_or_else(|_| "{}".into()) + "\n"
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::input(path.display().to_string(), e))
}

/// The newest `guardrails-report-<date>.json` in `dir` dated before `date`.
pub fn find_previous(dir: &Path, date: NaiveDate) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let day = name.strip_prefix(FILE_PREFIX)?.strip_suffix(".json")?;
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
            (day < date).then(|| (day, e.path()))
        })
        .max()
        .map(|(_, path)| path)
}

/// `kubectl <plugin> scorecard`: read, compare, print in `format`, write the dated files.
pub fn run(args: &ScorecardArgs, format: OutputFormat, gate: &GateArgs) -> Result<i32> {
    if gate.baseline.is_some() || gate.exceptions.is_some() {
        return Err(Error::Usage(
            "scorecard: --baseline and --exceptions belong to the scans that produce the reports"
                .into(),
        ));
    }
    if matches!(format, OutputFormat::Sarif) {
        return Err(Error::Usage(
            "scorecard: -o markdown (default), json or yaml".into(),
        ));
    }
    let date = args
        .date
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let mut reports = Vec::new();
    for path in &args.reports {
        let location = path.display().to_string();
        let (area, report) = parse_report(&location, &read(path)?)?;
        reports.push((location, area, report));
    }
    let previous_path = args
        .previous
        .clone()
        .or_else(|| args.out.as_deref().and_then(|dir| find_previous(dir, date)));
    let previous = match &previous_path {
        Some(path) => Some(parse_scorecard(&path.display().to_string(), &read(path)?)?),
        None => None,
    };
    let card = build(date, reports, previous.as_ref())?;
    let markdown = to_markdown(&card);
    let json = to_json(&card);

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            object: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let stem = format!("{FILE_PREFIX}{}", card.date);
        crate::edit::create_atomically(&dir.join(format!("{stem}.json")), &json)?;
        crate::edit::create_atomically(&dir.join(format!("{stem}.md")), &markdown)?;
        let compared = previous_path
            .as_ref()
            .map(|p| format!(", compared with {}", p.display()))
            .unwrap_or_default();
        eprintln!(
            "wrote {0}/{stem}.md and {0}/{stem}.json{compared}",
            dir.display()
        );
    }
    let mut out = crate::run::stdout();
    match format {
        OutputFormat::Json => out.write_all(json.as_bytes())?,
        OutputFormat::Yaml => {
            let yaml = serde_yaml_ng::to_string(&card)
                .map_err(|e| Error::Output(std::io::Error::other(e)))?;
            out.write_all(yaml.as_bytes())?
        }
        _ => out.write_all(markdown.as_bytes())?,
    }
    out.flush()?;
    Ok(exit_code_for(&card, gate.fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, ReportSource, RuleInfo};
    use serde_json::Value;

    fn rule(id: &'static str, severity: Severity) -> RuleInfo {
        RuleInfo {
            id,
            severity,
            category: "test",
            title: "t",
            rationale: "r",
            remediation: "fix",
        }
    }

    fn finding(
        id: &'static str,
        sev: Severity,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Finding {
        Finding::new(
            &rule(id, sev),
            ObjectRef::new("v1", kind, ns, name),
            "",
            format!("{id} on {name}"),
            Value::Null,
        )
    }

    fn report(plugin: &str, findings: Vec<Finding>) -> Report {
        Report::new(
            plugin,
            ReportSource {
                context: None,
                files: vec!["examples/cluster".into()],
            },
            findings,
            Vec::new(),
        )
    }

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date")
    }

    fn week_one() -> Vec<(String, Area, Report)> {
        vec![
            (
                "rbac.json".into(),
                Area::Rbac,
                report(
                    "rbac-audit",
                    vec![
                        finding(
                            "cluster-admin-binding",
                            Severity::Critical,
                            "ClusterRoleBinding",
                            None,
                            "ci-admin",
                        ),
                        finding(
                            "wildcard-rule",
                            Severity::Medium,
                            "Role",
                            Some("shop"),
                            "dev",
                        ),
                        finding(
                            "secrets-read",
                            Severity::Critical,
                            "ClusterRoleBinding",
                            None,
                            "ingress",
                        ),
                    ],
                ),
            ),
            (
                "netpol.json".into(),
                Area::Network,
                report(
                    "netpol-scaffold",
                    vec![finding(
                        "namespace-without-policy",
                        Severity::Medium,
                        "Namespace",
                        None,
                        "payments",
                    )],
                ),
            ),
            (
                "harden.json".into(),
                Area::Runtime,
                report("harden", vec![]),
            ),
        ]
    }

    #[test]
    fn areas_keep_the_plugins_scores_and_overall_is_their_mean() {
        let card = build(day("2026-11-18"), week_one(), None).expect("build");
        let scores: Vec<(Area, u8)> = card
            .areas
            .iter()
            .map(|a| (a.area, a.summary.score))
            .collect();
        // 0.8 * 0.97 * 0.8 = 62; 97; 100 → mean 86.3
        assert_eq!(
            scores,
            vec![(Area::Rbac, 62), (Area::Network, 97), (Area::Runtime, 100)]
        );
        assert_eq!(card.overall, Some(86));
        assert_eq!(
            card.missing,
            vec![Area::Images],
            "a missing area is named, not scored 100"
        );
        assert_eq!(card.changes.since, None);
    }

    #[test]
    fn weekly_checks_answer_from_the_rules_and_say_when_not_checked() {
        let mut reports = week_one();
        reports.retain(|(_, area, _)| *area != Area::Network);
        let card = build(day("2026-11-18"), reports, None).expect("build");
        let answers: Vec<(Option<usize>, Vec<String>)> = card
            .weekly_checks
            .iter()
            .map(|c| (c.count, c.objects.clone()))
            .collect();
        assert_eq!(
            answers,
            vec![
                (Some(1), vec!["ClusterRoleBinding/ci-admin".to_string()]),
                (Some(1), vec!["Role/shop/dev".to_string()]),
                (None, vec![]),
                (Some(1), vec!["ClusterRoleBinding/ingress".to_string()]),
            ]
        );
    }

    #[test]
    fn changes_match_findings_by_fingerprint_per_area() {
        let first = build(day("2026-11-18"), week_one(), None).expect("build");
        let mut second = week_one();
        // RBAC: the wildcard role is fixed, a pod-exec grant appears. Runtime is left out
        // this week: its findings are not "fixed".
        second[0].2 = report(
            "rbac-audit",
            vec![
                finding(
                    "cluster-admin-binding",
                    Severity::Critical,
                    "ClusterRoleBinding",
                    None,
                    "ci-admin",
                ),
                finding(
                    "secrets-read",
                    Severity::Critical,
                    "ClusterRoleBinding",
                    None,
                    "ingress",
                ),
                finding(
                    "pod-exec",
                    Severity::High,
                    "RoleBinding",
                    Some("shop"),
                    "debug",
                ),
            ],
        );
        second.pop();
        let card = build(day("2026-11-25"), second, Some(&first)).expect("build");
        let c = &card.changes;
        assert_eq!(c.since.as_deref(), Some("2026-11-18"));
        let names = |l: &[ChangedFinding]| -> Vec<String> {
            l.iter().map(|f| f.finding.rule.clone()).collect()
        };
        assert_eq!(names(&c.new), vec!["pod-exec"]);
        assert_eq!(names(&c.fixed), vec!["wildcard-rule"]);
        assert_eq!(c.still_open, 3);
        let rbac = &card.areas[0];
        // 0.8*0.8*0.9 = 57.6 → 58, was 62.
        assert_eq!((rbac.summary.score, rbac.score_change), (58, Some(-4)));
        assert_eq!(card.areas[1].score_change, Some(0));
        // (58 + 97) / 2 = 77.5 → 78; was 86.
        assert_eq!((card.overall, c.overall_change), (Some(78), Some(-8)));
    }

    #[test]
    fn bad_reports_are_input_errors_naming_the_file() {
        let cases = [
            ("{not json", "not JSON"),
            (
                r#"{"apiVersion":"v1","kind":"List"}"#,
                "not a guardrails/v1 Report",
            ),
            (
                r#"{"apiVersion":"guardrails/v1","kind":"Report","plugin":"x"}"#,
                "malformed",
            ),
        ];
        for (text, needle) in cases {
            let err = parse_report("week.json", text).expect_err(text);
            assert_eq!(err.exit_code(), exit_code::INPUT);
            let msg = err.to_string();
            assert!(
                msg.starts_with("week.json: ") && msg.contains(needle),
                "{msg}"
            );
        }
        let mut other = serde_json::to_value(report("kube-bench", vec![])).expect("json");
        other["plugin"] = "kube-bench".into();
        let err = parse_report("kb.json", &other.to_string()).expect_err("unknown plugin");
        assert!(err.to_string().contains("unknown plugin"), "{err}");
        let twice = vec![week_one().remove(0), week_one().remove(0)];
        let err = build(day("2026-11-18"), twice, None).expect_err("duplicate");
        assert!(
            err.to_string().contains("a second rbac-audit report"),
            "{err}"
        );
        assert!(
            parse_scorecard(
                "r.json",
                &to_json(&build(day("2026-11-18"), week_one(), None).expect("b"))
            )
            .is_ok()
        );
        assert!(
            parse_scorecard(
                "r.json",
                r#"{"apiVersion":"guardrails/v1","kind":"Report"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn fail_on_looks_at_every_area() {
        let card = build(day("2026-11-18"), week_one(), None).expect("build");
        assert_eq!(
            exit_code_for(&card, FailOn(Some(Severity::Critical))),
            exit_code::FINDINGS
        );
        assert_eq!(exit_code_for(&card, FailOn(None)), exit_code::OK);
        let clean = build(day("2026-11-18"), vec![week_one().remove(2)], None).expect("build");
        assert_eq!(
            exit_code_for(&clean, FailOn(Some(Severity::Info))),
            exit_code::OK
        );
    }

    #[test]
    fn previous_is_the_newest_earlier_dated_report() {
        let dir = tempfile::tempdir().expect("tmp");
        for name in [
            "guardrails-report-2026-11-04.json",
            "guardrails-report-2026-11-18.json",
            "guardrails-report-2026-11-25.json",
            "guardrails-report-2026-11-11.md",
            "notes.json",
        ] {
            std::fs::write(dir.path().join(name), "{}").expect("write");
        }
        let found = find_previous(dir.path(), day("2026-11-25")).expect("found");
        assert!(
            found.ends_with("guardrails-report-2026-11-18.json"),
            "{}",
            found.display()
        );
        assert_eq!(find_previous(dir.path(), day("2026-11-04")), None);
    }

    #[test]
    fn markdown_report() {
        let first = build(day("2026-11-18"), week_one(), None).expect("build");
        let mut second = week_one();
        second[1].2 = report("netpol-scaffold", vec![]);
        let card = build(day("2026-11-25"), second, Some(&first)).expect("build");
        insta::assert_snapshot!(to_markdown(&card));
    }
}
