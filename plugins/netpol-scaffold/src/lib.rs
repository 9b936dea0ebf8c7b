//! `kubectl netpol-scaffold`: who can talk to what. Collects namespaces, workloads, Services
//! and NetworkPolicies (live or from files), evaluates them with exact NetworkPolicy semantics
//! (`evaluate`), and reports coverage gaps (`coverage`), answers reachability checks (`check`),
//! or prints the connectivity matrix (`matrix`).

pub mod catalogue;
pub mod check;
pub mod cli;
pub mod coverage;
pub mod evaluate;
pub mod infra;
pub mod matrix;
pub mod model;
pub mod policy;
pub mod ports;

use std::io::Write;

use guardrails::cli::OutputFormat;
use guardrails::collect::acquire;
use guardrails::error::{Error, Result};
use guardrails::finding::Report;
use guardrails::render::{self, Styles};
use guardrails::selector::LabelQuery;
use guardrails::{exit_code, gate, run};

use crate::cli::{Cli, Command, MatrixFormat};
use crate::evaluate::Evaluator;
use crate::infra::Enforcement;
use crate::model::Model;

pub async fn run(cli: Cli) -> Result<i32> {
    let format = cli.output.format;
    let styles = Styles::for_output(cli.output.color, format);
    let mut out = run::stdout();
    if cli.gate.list_rules {
        render::write_rules(&mut out, catalogue::RULES, format, styles)?;
        out.flush()?;
        return Ok(exit_code::OK);
    }
    let selector = cli
        .scope
        .selector
        .as_deref()
        .map(LabelQuery::parse)
        .transpose()
        .map_err(|e| Error::Usage(e.to_string()))?;
    // Flags and case files are checked before the cluster is contacted.
    let cases = match &cli.command {
        Some(Command::Check {
            from,
            to,
            port,
            cases,
        }) => Some(match cases {
            Some(path) => check::load_cases(path)?,
            None => {
                let (Some(from), Some(to), Some(port)) = (from, to, port) else {
                    return Err(Error::Usage(
                        "check needs --from, --to and --port, or --cases".into(),
                    ));
                };
                for endpoint in [from, to] {
                    check::EndpointSpec::parse(endpoint).map_err(Error::Usage)?;
                }
                vec![check::Case {
                    from: from.clone(),
                    to: to.clone(),
                    port: check::PortSpec::parse(port, None)
                        .map_err(|e| Error::Usage(format!("--port: {e}")))?,
                    expected: None,
                }]
            }
        }),
        _ => None,
    };

    run::phase("start");
    let acquired = acquire(
        &cli.input,
        &cli.cluster,
        &cli.scope,
        model::KINDS,
        cli.gate.require_complete,
    )
    .await?;
    let inventory = acquired.inventory;
    let scope = acquired.scope;
    let mut model = Model::from_inventory(&inventory)?;
    run::phase("model");

    let code = match cli.command.unwrap_or(Command::Coverage) {
        Command::Coverage => {
            let dns = infra::find_dns(&mut model);
            let enforcement = infra::enforcement(&model);
            let evaluator = Evaluator::new(&model);
            run::phase("evaluator");
            let ctx = coverage::CoverageContext {
                evaluator: &evaluator,
                scope: &scope,
                selector: selector.as_ref(),
                include_system: cli.include_system,
                dns: &dns,
                enforcement: &enforcement,
            };
            let mut findings = coverage::coverage(&ctx);
            for f in &mut findings {
                f.location = inventory.location_of(&f.object);
            }
            run::phase("coverage");
            match &enforcement {
                Enforcement::NoData => run::warn(
                    "cannot tell whether the network plugin enforces NetworkPolicy (no kube-system workloads in the input)",
                ),
                Enforcement::Unknown | Enforcement::NotEnforcing(_) => run::warn(
                    "the network plugin may not enforce NetworkPolicy; see the cni-enforcement-unknown finding",
                ),
                Enforcement::Enforcing(_) => {}
            }
            let mut report = Report::new(
                "netpol-scaffold",
                inventory.source.clone(),
                findings,
                inventory.skipped.clone(),
            );
            report.ignored = inventory.ignored_kinds.clone();
            let outcome = gate::apply(&mut report, &cli.gate, chrono::Local::now().date_naive())?;
            render::write_report(&mut out, &report, format, styles, catalogue::RULES)?;
            out.flush()?;
            if !outcome.in_baseline.is_empty() {
                eprintln!(
                    "note: {} finding(s) are already in the baseline and do not count toward --fail-on",
                    outcome.in_baseline.len()
                );
            }
            gate::exit_code(&report, &outcome, cli.gate.fail_on.0)
        }
        Command::Check { cases: file, .. } => {
            let cases = cases.unwrap_or_default();
            let from_file = file.is_some();
            let problem = |i: usize, e: String| -> Error {
                match &file {
                    Some(path) => Error::input(format!("{}: case {}", path.display(), i + 1), e),
                    None => Error::Usage(e),
                }
            };
            // Endpoints may add query-only pods, so they are resolved before the evaluator exists.
            let mut resolved = Vec::with_capacity(cases.len());
            for (i, case) in cases.iter().enumerate() {
                let from = check::resolve(&mut model, &case.from).map_err(|e| problem(i, e))?;
                let to = check::resolve(&mut model, &case.to).map_err(|e| problem(i, e))?;
                resolved.push((from, to));
            }
            let evaluator = Evaluator::new(&model);
            let mut results = Vec::with_capacity(cases.len());
            for (i, (case, (from, to))) in cases.iter().zip(&resolved).enumerate() {
                results
                    .push(check::evaluate(&evaluator, case, from, to).map_err(|e| problem(i, e))?);
            }
            check::write(&mut out, &results, format, styles)?;
            let failed = results.iter().filter(|r| r.pass == Some(false)).count();
            if from_file && failed > 0 {
                out.flush()?;
                eprintln!("{failed} of {} case(s) failed", results.len());
                exit_code::FINDINGS
            } else {
                exit_code::OK
            }
        }
        Command::Matrix { matrix_format } => {
            let matrix_format = matrix_format.unwrap_or(match format {
                OutputFormat::Json | OutputFormat::Yaml | OutputFormat::Sarif => MatrixFormat::Json,
                OutputFormat::Wide => MatrixFormat::Wide,
                OutputFormat::Markdown => MatrixFormat::Markdown,
                OutputFormat::Table => MatrixFormat::Table,
            });
            let evaluator = Evaluator::new(&model);
            run::phase("evaluator");
            let include = |i: usize| {
                let pod = &model.pods[i];
                scope.includes(Some(&pod.namespace))
                    && selector.as_ref().is_none_or(|s| s.matches(&pod.labels))
            };
            let endpoints = matrix::endpoints(&model, &include);
            let matrix = matrix::compute(&evaluator, endpoints);
            run::phase("matrix");
            matrix::write(&mut out, &matrix, matrix_format, styles)?;
            exit_code::OK
        }
    };
    out.flush()?;
    run::phase("report");
    Ok(code)
}

#[cfg(test)]
mod evaluate_tests;
