//! `kubectl image-pins`: which images can change under a running workload. Collects every
//! workload (live or from files), reports mutable or disallowed image references (`scan`),
//! resolves tags to digests against the registries (`resolve`), and rewrites manifests to
//! `name:tag@sha256:…` without disturbing anything else in them (`pin`).

pub mod catalogue;
pub mod cli;
pub mod drift;
pub mod image;
pub mod live_pin;
pub mod pin;
pub mod resolve;
pub mod scan;
pub mod vulnerabilities;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use crate::image::{Keyring, Resolver, ResolverOptions, credentials::docker_config_path};
use guardrails::apply::{LiveWriter, apply_all};
use guardrails::cli::{DryRun, OutputFormat, WriteArgs};
use guardrails::collect::acquire;
use guardrails::error::{Error, Result};
use guardrails::inventory::ResourceKind;
use guardrails::render;
use guardrails::{exit_code, gate, run};

use crate::cli::{Cli, Command};

/// Every pod-creating kind, and ServiceAccounts for their imagePullSecrets.
pub const KINDS: &[ResourceKind] = guardrails::kinds_with_workloads![ResourceKind::ServiceAccount];

pub async fn run(mut cli: Cli) -> Result<i32> {
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
    let policy = scan::RegistryPolicy::new(
        &cli.policy.allow_registry,
        cli.policy.allow_registries_file.as_deref(),
    )?;
    // Read before the inventory: a bad report fails fast.
    let scanned = cli
        .policy
        .scan_report
        .iter()
        .map(|p| vulnerabilities::read(p))
        .collect::<Result<Vec<_>>>()?;
    let command = cli.command.take().unwrap_or(Command::Scan);
    // Checked before anything is read: offline, pin rewrites files (never stdin or templates).
    let pin_files = match &command {
        Command::Pin { write } if cli.common.input.is_offline() => {
            Some(pin_preflight(&cli.common.input, write)?)
        }
        _ => None,
    };

    if matches!(command, Command::Drift) && cli.common.input.is_offline() {
        return Err(Error::Usage(
            "drift compares the digests running pods report: it needs a cluster, not -f files"
                .into(),
        ));
    }
    run::phase("start");
    let acquired = acquire(&cli.common, KINDS).await?;
    let inventory = acquired.inventory;
    let uses = scan::image_uses(&inventory, &acquired.scope, selector.as_ref())?;
    run::phase("inventory");

    let code = match command {
        Command::Scan => {
            let mut findings = scan::scan(&uses, &policy);
            findings.extend(vulnerabilities::findings(&uses, &scanned));
            let mut report = inventory.report("image-pins", findings, Vec::new());
            let outcome = gate::apply_today(&mut report, &cli.common.gate)?;
            match format {
                OutputFormat::Table | OutputFormat::Wide => scan::write_grouped_table(
                    &mut out,
                    &report,
                    format == OutputFormat::Wide,
                    styles,
                )?,
                _ => render::write_report(&mut out, &report, format, styles, catalogue::RULES)?,
            }
            out.flush()?;
            gate::conclude(&report, &outcome, cli.common.gate.fail_on.0)
        }
        Command::Drift => {
            let targets = drift::registry_targets(&resolve::targets(&uses));
            let resolution = resolve_targets(&cli, &targets, acquired.cluster.as_ref()).await?;
            let findings = drift::findings(&inventory, &uses, &resolution);
            let mut report = inventory.report("image-pins", findings, Vec::new());
            let outcome = gate::apply_today(&mut report, &cli.common.gate)?;
            render::write_report(&mut out, &report, format, styles, catalogue::RULES)?;
            out.flush()?;
            // Unreachable or unauthorised registries leave drift unknown: said, exit 4.
            for image in resolution.images.iter().filter(|i| !i.not_found) {
                if let Some(error) = &image.error {
                    eprintln!("error: {error}");
                }
            }
            let code = gate::conclude(&report, &outcome, cli.common.gate.fail_on.0);
            if code == exit_code::OK
                && resolution
                    .images
                    .iter()
                    .any(|i| i.error.is_some() && !i.not_found)
            {
                exit_code::CLUSTER
            } else {
                code
            }
        }
        Command::Resolve => {
            let targets = resolve::targets(&uses);
            let resolution = resolve_targets(&cli, &targets, acquired.cluster.as_ref()).await?;
            resolve::write(&mut out, &resolution, format, styles)?;
            out.flush()?;
            report_resolution_errors(&resolution)
        }
        Command::Pin { write } if pin_files.is_none() => {
            let targets: Vec<resolve::Target> = resolve::targets(&uses)
                .into_iter()
                .filter(|t| t.image.as_ref().is_some_and(|i| i.is_mutable()))
                .collect();
            let resolution = resolve_targets(&cli, &targets, acquired.cluster.as_ref()).await?;
            let Some(cluster) = acquired.cluster.as_ref() else {
                return Err(Error::Usage("pin needs a cluster or -f files".into()));
            };
            let pins = pinned_spellings(&resolution);
            let plan = live_pin::plan(&inventory, &uses, &pins)?;
            for (object, why) in &plan.skipped {
                run::warn(&format!("{} not pinned: {why}", object.display_path()));
            }
            if plan.changes.is_empty() {
                writeln!(out, "Nothing to pin.")?;
            } else {
                let writer = LiveWriter::new(cluster, "kubectl-image-pins");
                let outcome = apply_all(&writer, plan.changes, &write, &mut out, styles).await?;
                if !outcome.applied.is_empty() {
                    let images: usize = plan
                        .edits
                        .iter()
                        .filter(|(o, _)| outcome.applied.contains(o))
                        .map(|(_, e)| e.len())
                        .sum();
                    eprintln!(
                        "pinned {images} image(s) in {} controller(s)",
                        outcome.applied.len()
                    );
                }
            }
            out.flush()?;
            report_resolution_errors(&resolution)
        }
        Command::Pin { write } => {
            let texts = pin_files.unwrap_or_default();
            // Only what can change: digest references are already pinned.
            let targets: Vec<resolve::Target> = resolve::targets(&uses)
                .into_iter()
                .filter(|t| t.image.as_ref().is_some_and(|i| i.is_mutable()))
                .collect();
            let resolution = resolve_targets(&cli, &targets, None).await?;
            let pins = pinned_spellings(&resolution);
            let in_scope: BTreeSet<_> = uses.iter().map(|u| u.workload.clone()).collect();
            let mut plans = Vec::new();
            for (file, text) in &texts {
                if let Some(plan) = pin::plan_file(file, text, &pins, &in_scope)? {
                    plans.push(plan);
                }
            }
            pin::write_plan(&mut out, &plans, format, styles)?;
            out.flush()?;
            let pinned: usize = plans.iter().map(|p| p.changes.len()).sum();
            if !plans.is_empty() && write.dry_run == DryRun::None {
                let question = format!("Pin {pinned} image(s) in {} file(s)?", plans.len());
                if edit_confirmed(&question, write.yes)? {
                    let writes: Vec<_> = plans.iter().map(|p| p.write.clone()).collect();
                    guardrails::edit::write_all(&writes)?;
                    eprintln!("pinned {pinned} image(s) in {} file(s)", plans.len());
                } else {
                    eprintln!("nothing written");
                    return Ok(exit_code::OK);
                }
            }
            report_resolution_errors(&resolution)
        }
        // Answered at the top of `run`, before anything is read.
        Command::Scorecard(args) => guardrails::scorecard::run(&args, format, &cli.common.gate)?,
    };
    out.flush()?;
    Ok(code)
}

/// Normalised reference → its pinned spelling, for every resolved image.
fn pinned_spellings(resolution: &resolve::ImageResolution) -> HashMap<String, String> {
    resolution
        .images
        .iter()
        .filter_map(|i| Some((i.normalized.clone()?, i.pinned.clone()?)))
        .collect()
}

fn edit_confirmed(question: &str, yes: bool) -> Result<bool> {
    guardrails::preview::confirm(question, yes)
}

/// `pin` of files: never stdin, never templates, no server dry run; returns the files' texts.
fn pin_preflight(
    input: &guardrails::cli::InputArgs,
    write: &WriteArgs,
) -> Result<Vec<(std::path::PathBuf, String)>> {
    if write.dry_run == DryRun::Server {
        return Err(Error::Usage(
            "--dry-run=server needs a cluster; for files use --dry-run=client".into(),
        ));
    }
    let files = guardrails::manifest::expand(&input.filenames, input.recursive)?;
    pin::refuse_templates(&files)
}

/// One resolver per run: credentials from the Docker config, plus (live) pull secrets.
async fn resolve_targets(
    cli: &Cli,
    targets: &[resolve::Target],
    cluster: Option<&guardrails::cluster::Cluster>,
) -> Result<resolve::ImageResolution> {
    let config = docker_config_path();
    let keyring = Keyring::from_docker_config(config.as_deref())
        .map_err(|e| Error::input("docker config", e))?;
    let resolver = Resolver::new(
        ResolverOptions {
            insecure_registries: cli.registry.insecure_registry.clone(),
            concurrency: cli.registry.concurrency.into(),
            timeout: cli
                .common
                .cluster
                .request_timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(std::time::Duration::from_secs(30)),
        },
        keyring,
    );
    let pull_secrets = match cluster {
        Some(cluster) => resolve::pull_secret_keyrings(&cluster.client, targets).await,
        None => HashMap::new(),
    };
    let resolution = resolve::resolve(&resolver, targets, &pull_secrets).await;
    run::phase("resolved");
    if std::env::var_os("GUARDRAILS_DEBUG_REQUESTS").is_some() {
        let c = &resolver.counts;
        use std::sync::atomic::Ordering::Relaxed;
        eprintln!(
            "registry requests: {} total ({} ping, {} token, {} HEAD, {} GET)",
            c.total(),
            c.pings.load(Relaxed),
            c.tokens.load(Relaxed),
            c.heads.load(Relaxed),
            c.gets.load(Relaxed)
        );
    }
    Ok(resolution)
}

/// Each failed image on stderr (one line each); exit 4 when any failed.
fn report_resolution_errors(resolution: &resolve::ImageResolution) -> i32 {
    for image in &resolution.images {
        if let Some(error) = &image.error {
            eprintln!("error: {error}");
        }
    }
    if resolution.has_errors() {
        exit_code::CLUSTER
    } else {
        exit_code::OK
    }
}
