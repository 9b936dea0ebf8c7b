//! `kubectl harden`: the Pod Security Standards exactly as the API server evaluates them
//! (`pss`), plus runtime hardening defaults beyond the standard (`hardening`). Collects workloads
//! (live or from files), checks each controller's pod template once, and reports the two rule
//! families separately.

pub mod catalogue;
pub mod check;
pub mod cli;
pub mod fix;
pub mod hardening;
pub mod pss;

use std::collections::HashSet;
use std::io::Write;

use guardrails::cli::OutputFormat;
use guardrails::collect::acquire;
use guardrails::error::{Error, Result};
use guardrails::finding::Report;
use guardrails::inventory::ResourceKind;
use guardrails::render::{self, Styles};
use guardrails::selector::LabelQuery;
use guardrails::{exit_code, gate, run};

use crate::check::{CheckOptions, check};
use crate::cli::{Cli, Command};

/// What harden reads: namespaces (their policy version labels), ServiceAccounts (token
/// automount) and every pod-creating kind.
pub const KINDS: &[ResourceKind] = &[
    ResourceKind::Namespace,
    ResourceKind::ServiceAccount,
    ResourceKind::Pod,
    ResourceKind::Deployment,
    ResourceKind::ReplicaSet,
    ResourceKind::StatefulSet,
    ResourceKind::DaemonSet,
    ResourceKind::Job,
    ResourceKind::CronJob,
    ResourceKind::ReplicationController,
];

pub async fn run(cli: Cli) -> Result<i32> {
    let format = cli.output.format;
    let styles = Styles::for_output(cli.output.color, format);
    let mut out = run::stdout();
    let rules = catalogue::all_rules();
    if cli.gate.list_rules {
        render::write_rules(&mut out, &rules, format, styles)?;
        out.flush()?;
        return Ok(exit_code::OK);
    }
    let disabled: HashSet<String> = cli.analysis.disable.iter().cloned().collect();
    if let Some(unknown) = disabled.iter().find(|d| !rules.iter().any(|r| r.id == *d)) {
        return Err(Error::Usage(format!(
            "--disable: unknown rule {unknown:?} (see --list-rules)"
        )));
    }
    let selector = cli
        .scope
        .selector
        .as_deref()
        .map(LabelQuery::parse)
        .transpose()
        .map_err(|e| Error::Usage(e.to_string()))?;

    run::phase("start");
    let acquired = acquire(
        &cli.input,
        &cli.cluster,
        &cli.scope,
        KINDS,
        cli.gate.require_complete,
    )
    .await?;
    let inventory = acquired.inventory;
    let server_minor = match &acquired.cluster {
        Some(cluster) => server_minor(cluster).await,
        None => None,
    };
    run::phase("inventory");

    match cli.command.unwrap_or(Command::Check) {
        Command::Check => {
            let opts = CheckOptions {
                level: cli.analysis.level,
                version: cli.analysis.pss_version,
                families: cli.analysis.rules,
                disabled,
                scope: &acquired.scope,
                selector: selector.as_ref(),
                server_minor,
            };
            let outcome = check(&inventory, &opts);
            run::phase("check");
            for (namespace, label) in &outcome.invalid_version_labels {
                run::warn(&format!(
                    "namespace {namespace}: {} label {label:?} is not a policy version; evaluated as latest",
                    check::ENFORCE_VERSION_LABEL
                ));
            }
            let mut report = Report::new(
                "harden",
                inventory.source.clone(),
                outcome.findings,
                inventory.skipped.clone(),
            );
            report.ignored = inventory.ignored_kinds.clone();
            let gate_outcome =
                gate::apply(&mut report, &cli.gate, chrono::Local::now().date_naive())?;
            let code = gate::exit_code(&report, &gate_outcome, cli.gate.fail_on.0);
            let expired = std::mem::take(&mut report.expired_exceptions);
            match format {
                OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
                    write_sections(&mut out, report, &opts, outcome.workloads, format, styles)?
                }
                _ => render::write_report(&mut out, &report, format, styles, &rules)?,
            }
            out.flush()?;
            run::phase("report");
            for expired in &expired {
                run::warn(&format!(
                    "exception for {} on {} expired on {}; it no longer suppresses anything",
                    expired["rule"].as_str().unwrap_or("?"),
                    expired["object"]
                        .as_str()
                        .or(expired["id"].as_str())
                        .unwrap_or("?"),
                    expired["expires"].as_str().unwrap_or("?"),
                ));
            }
            if !gate_outcome.in_baseline.is_empty() {
                eprintln!(
                    "note: {} finding(s) are already in the baseline and do not count toward --fail-on",
                    gate_outcome.in_baseline.len()
                );
            }
            Ok(code)
        }
    }
}

/// The API server's minor version (`/version`; "24+" style suffixes ignored). Unknown means
/// no cap: the evaluator's newest policy version is used, with a warning.
async fn server_minor(cluster: &guardrails::cluster::Cluster) -> Option<u32> {
    let info = match cluster.client.apiserver_version().await {
        Ok(info) => info,
        Err(e) => {
            run::warn(&format!(
                "cannot read the API server version ({e}); evaluating latest as v1.{}",
                pss::MAX_MINOR
            ));
            return None;
        }
    };
    let digits: String = info
        .minor
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Human output: the Pod Security Standards and the hardening rules as two separate reports,
/// each with its own heading and summary.
fn write_sections(
    out: &mut dyn Write,
    mut report: Report,
    opts: &CheckOptions<'_>,
    workloads: usize,
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    let version = match opts.version {
        Some(v) => v.to_string(),
        None => "each namespace's enforce-version, else latest".to_string(),
    };
    let sections = [
        (
            cli::Families::Pss,
            format!(
                "Pod Security Standards: {} ({version}), {workloads} workloads",
                opts.level
            ),
        ),
        (
            cli::Families::Hardening,
            "Hardening beyond the standard".to_string(),
        ),
    ];
    // Split without copying: large clusters have hundreds of thousands of findings.
    let (pss_findings, hardening_findings): (Vec<_>, Vec<_>) = std::mem::take(&mut report.findings)
        .into_iter()
        .partition(|f| catalogue::is_pss(&f.rule));
    let (pss_suppressed, hardening_suppressed): (Vec<_>, Vec<_>) =
        std::mem::take(&mut report.suppressed)
            .into_iter()
            .partition(|f| catalogue::is_pss(&f.rule));
    let parts = [
        (pss_findings, pss_suppressed),
        (hardening_findings, hardening_suppressed),
    ];
    let mut first = true;
    for ((family, title), (findings, suppressed)) in sections.into_iter().zip(parts) {
        if opts.families != cli::Families::All && opts.families != family {
            continue;
        }
        // The rest of the report (sources, notes) is small once the findings are moved out.
        let mut part = Report {
            findings,
            suppressed,
            ..report.clone()
        };
        part.recompute_summary();
        if !first {
            writeln!(out)?;
            // Notes about the whole input are printed once, after the first section.
            part.ignored.clear();
            part.skipped.clear();
        }
        first = false;
        match format {
            OutputFormat::Markdown => writeln!(out, "## {title}\n")?,
            _ => writeln!(out, "{}\n", styles.bold(&title))?,
        }
        render::write_report(out, &part, format, styles, &[])?;
    }
    Ok(())
}
