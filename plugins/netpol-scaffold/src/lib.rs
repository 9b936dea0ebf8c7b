//! `kubectl netpol-scaffold`: who can talk to what. Collects namespaces, workloads, Services
//! and NetworkPolicies (live or from files), evaluates them with exact NetworkPolicy semantics
//! (`evaluate`), and reports coverage gaps (`coverage`), answers reachability checks (`check`),
//! or prints the connectivity matrix (`matrix`).

mod admin_policies;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod coverage;
pub mod evaluate;
pub mod infra;
pub mod matrix;
pub mod model;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod rollout;
pub mod scaffold;
pub mod wizard;

use std::io::Write;

use guardrails::cli::OutputFormat;
use guardrails::collect::acquire;
use guardrails::error::{Error, Result};
use guardrails::render::{self, Styles};
use guardrails::{exit_code, gate, run};

use crate::cli::{Cli, Command, MatrixFormat};
use crate::evaluate::Evaluator;
use crate::infra::Enforcement;
use crate::model::Model;

pub async fn run(cli: Cli) -> Result<i32> {
    let scorecard = match &cli.command {
        Some(Command::Scorecard(args)) => Some(args),
        _ => None,
    };
    if let Some(code) = run::answer_early(&cli.common, scorecard, catalogue::RULES)? {
        return Ok(code);
    }
    let format = cli.common.output.format;
    let styles = cli.common.output.styles();
    let mut out = run::stdout();
    let selector = cli.common.scope.label_query()?;
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
    let acquired = acquire(&cli.common, model::KINDS).await?;
    let inventory = acquired.inventory;
    let admin_policies = admin_policies::count_in_files(&inventory.ignored_kinds);
    if admin_policies > 0 {
        run::warn(&admin_policies::warning(&format!(
            "{admin_policies} admin network policies in the files"
        )));
    } else if let Some(cluster) = &acquired.cluster
        && admin_policies::served(cluster).await
    {
        run::warn(&admin_policies::warning(
            "the cluster serves policy.networking.k8s.io",
        ));
    }
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
            let findings = coverage::coverage(&ctx);
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
            let mut report = inventory.report("netpol-scaffold", findings, Vec::new());
            let outcome = gate::apply_today(&mut report, &cli.common.gate)?;
            render::write_report(&mut out, &report, format, styles, catalogue::RULES)?;
            out.flush()?;
            gate::conclude(&report, &outcome, cli.common.gate.fail_on.0)
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
        Command::Scaffold {
            write,
            apply,
            rollback,
            allow_dns,
            ingress_from,
            expose,
            allows,
            infer,
            out_dir,
        } => {
            let namespace = match (&scope, cli.common.scope.all_namespaces) {
                (guardrails::cluster::NamespaceScope::One(ns), false) => ns.clone(),
                _ => {
                    return Err(Error::Usage(
                        "scaffold works on one namespace: pass -n NS".into(),
                    ));
                }
            };
            if !apply && rollback.is_none() && write.dry_run != guardrails::cli::DryRun::None {
                return Err(Error::Usage(
                    "--dry-run previews a write: use it with --apply or --rollback".into(),
                ));
            }
            let live = (apply || rollback.is_some()).then_some(()).map(|()| {
                acquired.cluster.as_ref().ok_or_else(|| {
                    Error::Usage("--apply and --rollback write to a live cluster: drop -f".into())
                })
            });
            let live = live.transpose()?;
            if let (Some(cluster), Some(run)) = (live, &rollback) {
                let code = rollback_command(
                    cluster,
                    &inventory.network_policies,
                    &namespace,
                    run,
                    &write,
                    &mut out,
                    styles,
                )
                .await?;
                out.flush()?;
                return Ok(code);
            }
            let yes = write.yes;
            let found_controller = scaffold::find_ingress_controller(&model).is_some();
            let mut opts = scaffold::ScaffoldOptions {
                namespace: namespace.clone(),
                allow_dns: allow_dns || yes,
                ingress_from: ingress_from.or_else(|| {
                    (yes && found_controller && !expose.is_empty()).then(|| "auto".to_string())
                }),
                expose,
                allows,
                infer: infer || yes,
                declined: Vec::new(),
            };
            let mut default_deny = true;
            let (mut out_dir, mut apply) = (out_dir, apply);
            if wizard::wanted(yes) {
                let answers = wizard::ask(
                    &mut model,
                    opts,
                    out_dir.take(),
                    apply,
                    acquired.cluster.is_some(),
                )?;
                opts = answers.opts;
                default_deny = answers.default_deny;
                match answers.output {
                    wizard::Output::Print => {}
                    wizard::Output::Dir(dir) => out_dir = Some(dir),
                    wizard::Output::Apply => apply = true,
                }
            }
            let live = if apply {
                Some(acquired.cluster.as_ref().ok_or_else(|| {
                    Error::Usage("--apply and --rollback write to a live cluster: drop -f".into())
                })?)
            } else {
                None
            };
            let mut proposals = scaffold_command(&mut model, &opts)?;
            if !default_deny {
                proposals.retain(|p| p.policy.metadata.name.as_deref() != Some("default-deny"));
            }
            match live {
                Some(cluster) => {
                    apply_command(
                        cluster,
                        proposals,
                        &inventory.network_policies,
                        &write,
                        &mut out,
                        styles,
                    )
                    .await?
                }
                None => write_proposals(
                    &rollout::apply_order(proposals),
                    out_dir.as_deref(),
                    &mut out,
                )?,
            }
            out.flush()?;
            exit_code::OK
        }
        Command::Plan { policies } => {
            let namespace = match (&scope, cli.common.scope.all_namespaces) {
                (guardrails::cluster::NamespaceScope::One(ns), false) => ns.clone(),
                _ => {
                    return Err(Error::Usage(
                        "plan works on one namespace: pass -n NS".into(),
                    ));
                }
            };
            let dns = infra::find_dns(&mut model);
            let edges = scaffold::infer_edges(&model, &model.env_values, &namespace);
            let proposals = match &policies {
                Some(path) => {
                    let inv = guardrails::inventory::Inventory::from_files(
                        std::slice::from_ref(path),
                        false,
                        &[guardrails::inventory::ResourceKind::NetworkPolicy],
                    )?;
                    inv.network_policies
                        .into_iter()
                        .map(|policy| scaffold::Proposal {
                            intent: String::new(),
                            policy,
                        })
                        .collect()
                }
                None => {
                    let opts = scaffold::ScaffoldOptions {
                        namespace: namespace.clone(),
                        allow_dns: true,
                        ingress_from: None,
                        expose: Vec::new(),
                        allows: Vec::new(),
                        infer: true,
                        declined: Vec::new(),
                    };
                    scaffold_command(&mut model, &opts)?
                }
            };
            let proposals = rollout::apply_order(proposals);
            let mut proposed = model.clone();
            for p in &proposals {
                let name = p.policy.metadata.name.clone().unwrap_or_default();
                proposed.policies.push(
                    policy::Policy::from_api(&p.policy)
                        .map_err(|e| Error::input(format!("NetworkPolicy {name}"), e))?,
                );
            }
            let flows = plan::candidate_flows(&model, &dns, &edges, &namespace);
            let now = Evaluator::new(&model);
            let after = Evaluator::new(&proposed);
            let doc = plan::PlanDocument {
                api_version: "guardrails/v1",
                kind: "NetpolPlan",
                namespace,
                apply_order: proposals
                    .iter()
                    .map(|p| p.policy.metadata.name.clone().unwrap_or_default())
                    .collect(),
                breaks: plan::breaks(&now, &after, &flows),
            };
            plan::write(&mut out, &doc, format, styles)?;
            exit_code::OK
        }
        Command::Matrix { matrix_format } => {
            let matrix_format = matrix_format.unwrap_or(match format {
                OutputFormat::Json | OutputFormat::Sarif => MatrixFormat::Json,
                OutputFormat::Yaml => MatrixFormat::Yaml,
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
        // Answered at the top of `run`, before anything is read.
        Command::Scorecard(args) => guardrails::scorecard::run(&args, format, &cli.common.gate)?,
    };
    out.flush()?;
    run::phase("report");
    Ok(code)
}

/// Proposes and verifies with the evaluator (warnings and a summary on stderr).
fn scaffold_command(
    model: &mut Model,
    opts: &scaffold::ScaffoldOptions,
) -> Result<Vec<scaffold::Proposal>> {
    let ns = opts.namespace.as_str();
    if model.namespace_index(ns).is_none() {
        return Err(Error::Usage(format!(
            "namespace {ns} not found in the input"
        )));
    }
    let dns = infra::find_dns(model);
    let mut edges = Vec::new();
    for text in &opts.allows {
        edges.push(scaffold::parse_allow(model, text, ns).map_err(Error::Usage)?);
    }
    if opts.infer {
        for edge in scaffold::infer_edges(model, &model.env_values, ns) {
            if opts.declined.contains(&edge) {
                continue;
            }
            if !edges
                .iter()
                .any(|e| e.from == edge.from && e.to == edge.to && e.port == edge.port)
            {
                edges.push(edge);
            }
        }
    }
    let proposals = scaffold::propose(model, &dns, opts, &edges).map_err(Error::Usage)?;

    // Self-check: the proposals together with the policies already there.
    let mut proposed = model.clone();
    for p in &proposals {
        proposed
            .policies
            .push(policy::Policy::from_api(&p.policy).map_err(|e| {
                Error::Usage(format!("internal: generated an invalid policy: {e}"))
            })?);
    }
    let ev = Evaluator::new(&proposed);
    let pods_in = |labels: &std::collections::BTreeMap<String, String>,
                   namespace: &str|
     -> Vec<usize> {
        proposed
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.namespace == namespace && labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut problems = Vec::new();
    if opts.allow_dns {
        for (i, pod) in proposed
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.namespace == ns)
        {
            for &dns_pod in &dns.pods {
                let c = ev.connection(
                    &evaluate::Endpoint::Pod(i),
                    &evaluate::Endpoint::Pod(dns_pod),
                );
                let ok = dns.ports.iter().all(|(protocol, target)| {
                    let port = match target {
                        model::TargetPort::Number(n) => Some(*n),
                        model::TargetPort::Named(name) => proposed
                            .ports_of(&proposed.pods[dns_pod])
                            .iter()
                            .find(|c| c.name.as_deref() == Some(name) && c.protocol == *protocol)
                            .map(|c| c.number),
                    };
                    port.is_some_and(|p| {
                        c.egress
                            .as_ref()
                            .is_some_and(|e| e.allowed.contains(*protocol, p))
                    })
                });
                if !ok {
                    problems.push(format!(
                        "{} still cannot reach the cluster DNS",
                        pod.workload.display_path()
                    ));
                }
            }
        }
    } else {
        problems.push(format!(
            "without --allow-dns, pods in {ns} cannot resolve names once default-deny is applied"
        ));
    }
    for edge in &edges {
        for from in pods_in(&edge.from.1, &edge.from.0).into_iter().take(1) {
            for to in pods_in(&edge.to.1, &edge.to.0).into_iter().take(1) {
                let port = match &edge.port {
                    scaffold::PortChoice::Number(n) => Some(*n),
                    scaffold::PortChoice::Named(name) => proposed
                        .ports_of(&proposed.pods[to])
                        .iter()
                        .find(|c| c.name.as_deref() == Some(name) && c.protocol == edge.protocol)
                        .map(|c| c.number),
                };
                let c = ev.connection(&evaluate::Endpoint::Pod(from), &evaluate::Endpoint::Pod(to));
                let verdict = port.map(|p| c.verdict_for(edge.protocol, p));
                if verdict != Some(evaluate::Verdict::Allow) {
                    let by: Vec<String> = port
                        .map(|p| {
                            c.decided_by(&ev, edge.protocol, p)
                                .iter()
                                .map(|d| d.policy.clone())
                                .collect()
                        })
                        .unwrap_or_default();
                    problems.push(format!(
                        "{} -> {} ({}) is still denied{}",
                        proposed.pods[from].workload.display_path(),
                        proposed.pods[to].workload.display_path(),
                        edge.why,
                        if by.is_empty() {
                            String::new()
                        } else {
                            format!(" by {}", by.join(", "))
                        }
                    ));
                }
            }
        }
    }
    for p in &problems {
        run::warn(p);
    }
    eprintln!(
        "{} NetworkPolicies for {ns}; checked with the evaluator: {}",
        proposals.len(),
        if problems.is_empty() {
            "DNS and every requested connection allowed".to_string()
        } else {
            format!("{} problem(s) above", problems.len())
        }
    );
    Ok(proposals)
}

/// The proposals as YAML on `out`, or one file per policy in `out_dir` (numbered, so that
/// `kubectl apply -f DIR` creates them in the given order).
fn write_proposals(
    proposals: &[scaffold::Proposal],
    out_dir: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> Result<()> {
    match out_dir {
        None => {
            out.write_all(
                scaffold::to_yaml(proposals)
                    .map_err(Error::Usage)?
                    .as_bytes(),
            )?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::input(dir.display().to_string(), e))?;
            for (i, p) in proposals.iter().enumerate() {
                let name = p.policy.metadata.name.clone().unwrap_or_default();
                let file = dir.join(format!("{:02}-{name}.yaml", i + 1));
                let text = scaffold::to_yaml(std::slice::from_ref(p)).map_err(Error::Usage)?;
                // Written next to the target, then renamed: never a half-written file.
                let tmp = dir.join(format!(".{:02}-{name}.yaml.tmp", i + 1));
                std::fs::write(&tmp, text)
                    .map_err(|e| Error::input(tmp.display().to_string(), e))?;
                std::fs::rename(&tmp, &file)
                    .map_err(|e| Error::input(file.display().to_string(), e))?;
                writeln!(out, "wrote {}", file.display())?;
            }
        }
    }
    Ok(())
}

/// `scaffold --apply`: creates the proposals missing from the cluster (allows first, the
/// default-deny last) through the shared preview/confirm/apply flow, labelled with a new run.
async fn apply_command(
    cluster: &guardrails::cluster::Cluster,
    proposals: Vec<scaffold::Proposal>,
    existing: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    write: &guardrails::cli::WriteArgs,
    out: &mut dyn Write,
    styles: Styles,
) -> Result<()> {
    let run_id = rollout::run_id(chrono::Utc::now());
    let proposals = rollout::apply_order(proposals);
    let plan = rollout::plan_apply(&proposals, existing, &run_id);
    for name in &plan.unchanged {
        writeln!(
            out,
            "{name} already exists with the proposed spec: unchanged"
        )?;
    }
    for name in &plan.conflicting {
        writeln!(
            out,
            "{name} already exists with a different spec: skipped (compare it with `scaffold` output)"
        )?;
    }
    if plan.changes.is_empty() {
        writeln!(out, "nothing to create")?;
        return Ok(());
    }
    let writer = guardrails::apply::LiveWriter::new(cluster, rollout::FIELD_MANAGER);
    let outcome = guardrails::apply::apply_all(&writer, plan.changes, write, out, styles).await?;
    if let Some(first) = outcome.applied.first() {
        let ns = first.namespace.as_deref().unwrap_or_default();
        writeln!(
            out,
            "run {run_id}: created {} NetworkPolicies in {ns}; undo with: kubectl netpol-scaffold scaffold -n {ns} --rollback {run_id}",
            outcome.applied.len()
        )?;
    }
    Ok(())
}

/// `scaffold --rollback [RUN]`: deletes what one `--apply` run created in `namespace` (the
/// latest by default), the default-deny first, through the shared flow.
async fn rollback_command(
    cluster: &guardrails::cluster::Cluster,
    existing: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    namespace: &str,
    run: &str,
    write: &guardrails::cli::WriteArgs,
    out: &mut dyn Write,
    styles: Styles,
) -> Result<i32> {
    let runs = rollout::runs_in(existing, namespace);
    let run = if run == "latest" {
        match runs.last() {
            Some(latest) => latest.clone(),
            None => {
                writeln!(
                    out,
                    "nothing to roll back: no NetworkPolicies created by netpol-scaffold --apply in {namespace}"
                )?;
                return Ok(exit_code::OK);
            }
        }
    } else if runs.contains(run) {
        run.to_string()
    } else {
        let known: Vec<&str> = runs.iter().map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "--rollback {run}: no such run in {namespace} (runs: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    let changes = rollout::plan_rollback(existing, namespace, &run);
    let writer = guardrails::apply::LiveWriter::new(cluster, rollout::FIELD_MANAGER);
    let outcome = guardrails::apply::apply_all(&writer, changes, write, out, styles).await?;
    if !outcome.applied.is_empty() {
        writeln!(
            out,
            "run {run}: deleted {} NetworkPolicies in {namespace}",
            outcome.applied.len()
        )?;
    }
    Ok(exit_code::OK)
}

#[cfg(test)]
mod evaluate_tests;
