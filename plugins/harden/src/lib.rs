//! `kubectl harden`: the Pod Security Standards exactly as the API server evaluates them
//! (`pss`), plus runtime hardening defaults beyond the standard (`hardening`). Collects workloads
//! (live or from files), checks each controller's pod template once, and reports the two rule
//! families separately.

pub mod catalogue;
pub mod check;
pub mod cli;
pub mod fix;
pub mod fix_apply;
pub mod hardening;
pub mod pss;
pub mod rollout;

use std::collections::HashSet;
use std::io::Write;

use guardrails::cli::OutputFormat;
use guardrails::collect::acquire;
use guardrails::error::{Error, Result};
use guardrails::finding::{Finding, Report};
use guardrails::inventory::ResourceKind;
use guardrails::render::{self, Styles};
use guardrails::selector::LabelQuery;
use guardrails::{exit_code, gate, run};

use crate::check::{CheckOptions, check};
use crate::cli::{Cli, Command};

/// What harden reads: namespaces (their policy version labels), ServiceAccounts (token
/// automount), the RBAC bindings (a ServiceAccount granted rights needs its token) and every
/// pod-creating kind.
pub const KINDS: &[ResourceKind] = guardrails::kinds_with_workloads![
    ResourceKind::Namespace,
    ResourceKind::ServiceAccount,
    ResourceKind::RoleBinding,
    ResourceKind::ClusterRoleBinding,
];

pub async fn run(cli: Cli) -> Result<i32> {
    let rules = catalogue::all_rules();
    let scorecard = match &cli.command {
        Some(Command::Scorecard(args)) => Some(args),
        _ => None,
    };
    if let Some(code) = run::answer_early(&cli.common, scorecard, &rules)? {
        return Ok(code);
    }
    let format = cli.common.output.format;
    let styles = cli.common.output.styles();
    let mut out = run::stdout();
    let disabled: HashSet<String> = cli.analysis.disable.iter().cloned().collect();
    if let Some(unknown) = disabled.iter().find(|d| !rules.iter().any(|r| r.id == *d)) {
        return Err(Error::Usage(format!(
            "--disable: unknown rule {unknown:?} (see --list-rules)"
        )));
    }
    let selector = cli.common.scope.label_query()?;

    run::phase("start");
    let acquired = acquire(&cli.common, KINDS).await?;
    let inventory = &acquired.inventory;
    let server_minor = match &acquired.cluster {
        Some(cluster) => server_minor(cluster).await,
        None => None,
    };
    run::phase("inventory");

    match cli.command.clone().unwrap_or(Command::Check) {
        Command::Fix(args) => {
            fix_command(
                &cli,
                &args,
                inventory,
                &acquired,
                selector.as_ref(),
                server_minor,
            )
            .await
        }
        Command::Rollout {
            stage,
            force,
            write,
        } => {
            let namespace = match (&acquired.scope, cli.common.scope.namespace.as_deref()) {
                (_, Some(ns)) => ns.to_string(),
                (guardrails::cluster::NamespaceScope::One(ns), None) => ns.clone(),
                (guardrails::cluster::NamespaceScope::All, None) => {
                    return Err(Error::Usage(
                        "rollout needs one namespace: -n NAMESPACE".into(),
                    ));
                }
            };
            let args = rollout::RolloutArgs {
                namespace: &namespace,
                level: cli.analysis.level,
                version: cli.analysis.pss_version,
                stage,
                force,
                write: &write,
                server_minor,
                plan_format: matches!(
                    cli.common.output.format,
                    OutputFormat::Json | OutputFormat::Yaml
                )
                .then_some(cli.common.output.format),
            };
            rollout::rollout(&acquired, &args, &mut out, styles).await?;
            out.flush()?;
            Ok(exit_code::OK)
        }
        Command::Undo { object, write } => {
            undo_command(&object, &write, &acquired, cli.common.output.format, styles).await
        }
        // Answered at the top of `run`, before anything is read.
        Command::Scorecard(args) => guardrails::scorecard::run(&args, format, &cli.common.gate),
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
            let outcome = check(inventory, &opts)?;
            run::phase("check");
            for (namespace, label) in &outcome.invalid_version_labels {
                run::warn(&format!(
                    "namespace {namespace}: {} label {label:?} is not a policy version; evaluated as latest",
                    check::ENFORCE_VERSION_LABEL
                ));
            }
            let mut report = inventory.report("harden", outcome.findings, Vec::new());
            let gate_outcome = gate::apply_today(&mut report, &cli.common.gate)?;
            let code = gate::exit_code(&report, &gate_outcome, cli.common.gate.fail_on.0);
            let expired = std::mem::take(&mut report.expired_exceptions);
            match format {
                OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
                    write_sections(&mut out, report, &opts, outcome.workloads, format, styles)?
                }
                _ => {
                    render::write_report(&mut out, &report, format, styles, &rules)?;
                    run::free_at_exit(report);
                }
            }
            out.flush()?;
            run::phase("report");
            gate::announce(&expired, &gate_outcome);
            run::free_at_exit(acquired);
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
    let (pss_findings, hardening_findings) = split_families(std::mem::take(&mut report.findings));
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
        run::free_at_exit(part);
    }
    Ok(())
}

/// Findings split into the `pss` family and the rest: the rest move to a list of their own,
/// the `pss` findings stay where they are (large clusters have hundreds of thousands).
fn split_families(mut findings: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
    let is_hardening = |f: &Finding| !catalogue::is_pss(&f.rule);
    let mut hardening = Vec::with_capacity(findings.iter().filter(|f| is_hardening(f)).count());
    hardening.extend(findings.extract_if(.., |f| is_hardening(f)));
    (findings, hardening)
}

/// `fix`: the plan of every workload in scope (controllers; live, never their pods), filtered by
/// `--only`/`--skip`, written to the files it came from or patched into the cluster.
async fn fix_command(
    cli: &Cli,
    args: &cli::FixArgs,
    inventory: &guardrails::inventory::Inventory,
    acquired: &guardrails::collect::Acquired,
    selector: Option<&LabelQuery>,
    server_minor: Option<u32>,
) -> Result<i32> {
    use std::collections::BTreeMap;
    let styles = cli.common.output.styles();
    let mut out = run::stdout();
    for name in args.only.iter().chain(&args.skip) {
        if !fix::FIXES.contains(&name.as_str()) {
            return Err(Error::Usage(format!(
                "unknown fix {name:?}; fixes: {}",
                fix::FIXES.join(", ")
            )));
        }
    }
    let only: HashSet<String> = args.only.iter().cloned().collect();
    let skip: HashSet<String> = args.skip.iter().cloned().collect();
    let version = match (cli.analysis.pss_version, server_minor) {
        (Some(v), _) => v,
        (None, Some(minor)) => pss::Version::Minor(minor.min(pss::MAX_MINOR)),
        (None, None) => pss::Version::Latest,
    };
    let opts = fix::FixOptions {
        level: cli.analysis.level,
        version,
        ..fix::FixOptions::default()
    };
    // `-o json` prints the plan and writes nothing, so it asks nothing either.
    let plan_only = cli.common.output.format == OutputFormat::Json;
    let interactive = !args.write.yes && !plan_only && {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    };
    let mut listed: Vec<serde_json::Value> = Vec::new();
    // Planned on the controllers' JSON as collected.
    let mut plans: BTreeMap<guardrails::finding::ObjectRef, (serde_json::Value, fix::FixPlan)> =
        BTreeMap::new();
    for w in inventory.pending_workloads() {
        if !acquired.scope.includes(Some(w.namespace()))
            || selector.is_some_and(|q| !w.metadata.labels.as_ref().is_some_and(|l| q.matches(l)))
        {
            continue;
        }
        // A live Pod's security settings cannot be patched; its controller (if any) is fixed.
        if acquired.cluster.is_some() && w.object.kind == "Pod" {
            continue;
        }
        // A Job's pod template is immutable once created: fix its manifest (or CronJob).
        if acquired.cluster.is_some() && w.object.kind == "Job" {
            eprintln!(
                "note: {}: a Job's pod template cannot be changed; fix its manifest or CronJob",
                w.object.display_path()
            );
            continue;
        }
        let w = w.resolve(inventory)?;
        let service_account = w.service_account_name();
        let token_needed = service_account_bound(inventory, w.namespace(), service_account);
        let object = workload_json(&w);
        let plan = fix::plan(&object, &opts)
            .map_err(|e| Error::input(w.object.display_path(), e))?
            .select(&only, &skip);
        // On a terminal without --yes: ask per workload which fixes to apply. Otherwise edits
        // that take something away apply only when asked for by name.
        let chosen = if interactive && !plan.is_empty() {
            Some(choose_fixes(&w.object, &plan)?)
        } else {
            None
        };
        let applies = |e: &fix::Edit| {
            (match &chosen {
                Some(chosen) => chosen.contains(e.fix),
                None => !e.confirm || only.contains(e.fix),
            }) && !(token_needed && e.fix == "automount-token")
        };
        if plan_only {
            // The whole plan, each edit saying whether `fix --yes` with these flags makes it.
            let edits: Vec<serde_json::Value> = plan
                .edits
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or_default();
                    v["applies"] = serde_json::Value::Bool(applies(e));
                    v
                })
                .collect();
            if !edits.is_empty() {
                listed.push(serde_json::json!({"object": w.object, "edits": edits}));
            }
            continue;
        }
        let plan = fix::FixPlan {
            edits: plan.edits.into_iter().filter(|e| applies(e)).collect(),
        };
        if token_needed {
            eprintln!(
                "note: {}: automountServiceAccountToken left as is: ServiceAccount {service_account} is granted RBAC rights the pods may use",
                w.object.display_path()
            );
        }
        if !plan.is_empty() {
            plans.insert(w.object.clone(), (object, plan));
        }
    }
    if plan_only {
        let document = serde_json::json!({
            "apiVersion": "guardrails/v1",
            "kind": "HardenFixPlan",
            "target": if acquired.cluster.is_some() { "cluster" } else { "files" },
            "workloads": listed,
        });
        render::write_json(&mut out, &document)?;
        out.flush()?;
        return Ok(exit_code::OK);
    }
    match &acquired.cluster {
        None => {
            if args.write.dry_run == guardrails::cli::DryRun::Server {
                return Err(Error::Usage(
                    "--dry-run=server needs a cluster; for files use --dry-run=client".into(),
                ));
            }
            let files = guardrails::manifest::expand(
                &cli.common.input.filenames,
                cli.common.input.recursive,
            )?;
            let by_object: BTreeMap<_, _> =
                plans.into_iter().map(|(k, (_, plan))| (k, plan)).collect();
            let mut writes = Vec::new();
            let mut edits = 0;
            for file in &files {
                if file.as_os_str() == "-" {
                    return Err(Error::Usage(
                        "fix rewrites files in place; stdin (-f -) cannot be fixed".into(),
                    ));
                }
                let text = std::fs::read_to_string(file)
                    .map_err(|e| Error::input(file.display().to_string(), e))?;
                if let Some((write, n)) = fix_apply::plan_file(file, &text, &by_object)? {
                    let label = file.display().to_string();
                    write!(
                        out,
                        "{}",
                        guardrails::preview::unified_diff(
                            &write.before,
                            &write.after,
                            &format!("a/{label}"),
                            &format!("b/{label}"),
                            styles
                        )
                    )?;
                    edits += n;
                    writes.push(write);
                }
            }
            if writes.is_empty() {
                writeln!(out, "Nothing to fix.")?;
                out.flush()?;
                return Ok(exit_code::OK);
            }
            out.flush()?;
            if args.write.dry_run != guardrails::cli::DryRun::None {
                eprintln!(
                    "dry run: {edits} edit(s) in {} file(s) not written",
                    writes.len()
                );
                return Ok(exit_code::OK);
            }
            let question = format!("Write {edits} edit(s) to {} file(s)?", writes.len());
            if !guardrails::preview::confirm(&question, args.write.yes)? {
                return Err(Error::NotConfirmed("not writing: declined".into()));
            }
            guardrails::edit::write_all(&writes)?;
            eprintln!("fixed {edits} field(s) in {} file(s)", writes.len());
            Ok(exit_code::OK)
        }
        Some(cluster) => {
            let changes: Vec<_> = plans
                .into_iter()
                .filter_map(|(target, (object, plan))| {
                    fix_apply::live_change(target, &object, &plan.edits)
                })
                .collect();
            let writer = guardrails::apply::LiveWriter::new(cluster, "kubectl-harden");
            guardrails::apply::apply_all(&writer, changes, &args.write, &mut out, styles).await?;
            out.flush()?;
            Ok(exit_code::OK)
        }
    }
}

/// A workload's controller (or Pod) as JSON: what the fix plan and the patch guards read.
fn workload_json(w: &guardrails::workload::Workload<'_>) -> serde_json::Value {
    use serde_json::json;
    let mut object = json!({
        "apiVersion": w.object.api_version,
        "kind": w.object.kind,
        "metadata": w.metadata,
    });
    let spec = serde_json::to_value(&w.pod_spec).unwrap_or_default();
    let pod_meta = serde_json::to_value(w.pod_metadata).unwrap_or_default();
    if let Some(template) = fix::template_path(&w.object.kind) {
        if template.0.is_empty() {
            object["spec"] = spec;
        } else {
            let mut t = json!({ "spec": spec });
            if !pod_meta.is_null() {
                t["metadata"] = pod_meta;
            }
            fix::apply_edit_at(&mut object, &template, Some(t));
        }
    }
    object
}

/// `undo`: the annotation of the last live fix, restored with a guarded patch.
async fn undo_command(
    object: &str,
    write: &guardrails::cli::WriteArgs,
    acquired: &guardrails::collect::Acquired,
    format: OutputFormat,
    styles: Styles,
) -> Result<i32> {
    let Some(cluster) = &acquired.cluster else {
        return Err(Error::Usage(
            "undo restores live controllers; it does not read -f files".into(),
        ));
    };
    let parts: Vec<&str> = object.split('/').collect();
    let (namespace, kind, name) = match parts.as_slice() {
        [kind, name] => (
            match &acquired.scope {
                guardrails::cluster::NamespaceScope::One(ns) => ns.clone(),
                guardrails::cluster::NamespaceScope::All => cluster.default_namespace.clone(),
            },
            *kind,
            *name,
        ),
        [ns, kind, name] => (ns.to_string(), *kind, *name),
        _ => {
            return Err(Error::Usage(format!(
                "{object:?}: expected KIND/NAME or NAMESPACE/KIND/NAME"
            )));
        }
    };
    let kind_lower = kind.to_ascii_lowercase();
    let workloads = acquired.inventory.pending_workloads();
    let Some(w) = workloads.into_iter().find(|w| {
        w.namespace() == namespace
            && w.object.name == name
            && [
                w.object.kind.to_ascii_lowercase(),
                format!("{}s", w.object.kind.to_ascii_lowercase()),
            ]
            .iter()
            .any(|k| *k == kind_lower || kind_lower.starts_with(&format!("{k}.")))
    }) else {
        return Err(Error::input(
            object.to_string(),
            format!("no such controller in namespace {namespace}"),
        ));
    };
    let w = w.resolve(&acquired.inventory)?;
    let live = workload_json(&w);
    let Some(change) = fix_apply::undo_change(w.object.clone(), &live)? else {
        eprintln!(
            "{}: no {} annotation; nothing to undo",
            w.object.display_path(),
            fix_apply::PREVIOUS_ANNOTATION
        );
        return Ok(exit_code::OK);
    };
    let mut out = run::stdout();
    if matches!(format, OutputFormat::Json | OutputFormat::Yaml) {
        // The plan for scripts: what each field is now and goes back to, and the guarded
        // patch that would do it; nothing is written.
        let previous = fix_apply::previous_values(&w.object, &live)?.unwrap_or_default();
        let restores: Vec<serde_json::Value> = previous
            .iter()
            .map(|(at, old)| {
                serde_json::json!({
                    "path": at,
                    "current": live.pointer(at),
                    "previous": old,
                })
            })
            .collect();
        let patch = match &change.action {
            guardrails::apply::Action::Patch(patch) => {
                serde_json::to_value(patch).map_err(|e| Error::input(w.object.display_path(), e))?
            }
            _ => serde_json::Value::Null,
        };
        let document = serde_json::json!({
            "apiVersion": "guardrails/v1",
            "kind": "HardenUndoPlan",
            "object": w.object,
            "restores": restores,
            "patch": patch,
        });
        match format {
            OutputFormat::Yaml => render::write_yaml(&mut out, &document)?,
            _ => render::write_json(&mut out, &document)?,
        }
        out.flush()?;
        return Ok(exit_code::OK);
    }
    let writer = guardrails::apply::LiveWriter::new(cluster, "kubectl-harden");
    guardrails::apply::apply_all(&writer, vec![change], write, &mut out, styles).await?;
    out.flush()?;
    Ok(exit_code::OK)
}

/// Whether a RoleBinding or ClusterRoleBinding grants anything to the ServiceAccount, by name
/// or through the `system:serviceaccounts[:NAMESPACE]` groups.
fn service_account_bound(
    inventory: &guardrails::inventory::Inventory,
    namespace: &str,
    name: &str,
) -> bool {
    let namespace_group = format!("system:serviceaccounts:{namespace}");
    let names = |s: &k8s_openapi::api::rbac::v1::Subject| match s.kind.as_str() {
        "ServiceAccount" => {
            s.name == name && s.namespace.as_deref().unwrap_or(namespace) == namespace
        }
        "Group" => s.name == "system:serviceaccounts" || s.name == namespace_group,
        _ => false,
    };
    let in_namespace = inventory
        .role_bindings
        .iter()
        .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
        .any(|b| b.subjects.iter().flatten().any(names));
    in_namespace
        || inventory
            .cluster_role_bindings
            .iter()
            .any(|b| b.subjects.iter().flatten().any(names))
}

/// The fixes of one workload's plan the user picks (a checklist on the terminal; fixes whose
/// edits take something away start unticked).
fn choose_fixes(
    object: &guardrails::finding::ObjectRef,
    plan: &fix::FixPlan,
) -> Result<HashSet<&'static str>> {
    let mut fixes: Vec<(&'static str, usize, bool)> = Vec::new();
    for e in &plan.edits {
        match fixes.iter_mut().find(|(f, _, _)| *f == e.fix) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 |= e.confirm;
            }
            None => fixes.push((e.fix, 1, e.confirm)),
        }
    }
    let items: Vec<String> = fixes
        .iter()
        .map(|(fix, n, confirm)| {
            let note = if *confirm {
                " (takes something away)"
            } else {
                ""
            };
            format!("{fix}: {n} field(s){note}")
        })
        .collect();
    let defaults: Vec<bool> = fixes.iter().map(|(_, _, confirm)| !confirm).collect();
    let picked = dialoguer::MultiSelect::new()
        .with_prompt(format!("Fixes for {}", object.display_path()))
        .items(&items)
        .defaults(&defaults)
        .interact()
        .map_err(|e| Error::NotConfirmed(format!("not writing: {e}")))?;
    Ok(picked.into_iter().map(|i| fixes[i].0).collect())
}
