//! `kubectl rbac-audit`: who can do what. Collects RBAC, ServiceAccounts and workloads (live
//! or from files), evaluates them with exact authorizer semantics (`authz`), and reports the
//! rule catalogue's findings, who-can / what-can answers, or each ServiceAccount's blast radius.

pub mod authz;
pub mod blast_radius;
mod bootstrap;
pub mod catalogue;
pub mod cli;
pub mod exposure;
pub mod query;
pub mod scan;

use std::io::Write;

use guardrails::collect::{Arriving, Page, acquire_staged};
use guardrails::error::Result;
use guardrails::inventory::{Inventory, ResourceKind};
use guardrails::rbac::RoleBinding;
use guardrails::render;
use guardrails::{exit_code, gate, run};

use crate::authz::{RbacInput, RbacModel};
use crate::cli::{Cli, Command};

/// What rbac-audit reads: RBAC ([`RBAC_KINDS`]), then the identities it binds and every
/// pod-creating kind.
pub const KINDS: &[ResourceKind] = guardrails::kinds_with_workloads![
    ResourceKind::ClusterRole,
    ResourceKind::ClusterRoleBinding,
    ResourceKind::Role,
    ResourceKind::RoleBinding,
    ResourceKind::Namespace,
    ResourceKind::ServiceAccount,
];

/// The kinds the RBAC model and the rules on roles and bindings read: the head of [`KINDS`].
pub const RBAC_KINDS: &[ResourceKind] = KINDS.split_at(4).0;

/// What a live scan waits for before it starts on the model: every RBAC kind but
/// RoleBindings, which it adds page by page while they arrive, and the identities they bind
/// (short lists, in long before the Pods).
const SCAN_FIRST_KINDS: &[ResourceKind] = &[
    ResourceKind::ClusterRole,
    ResourceKind::ClusterRoleBinding,
    ResourceKind::Role,
    ResourceKind::Namespace,
    ResourceKind::ServiceAccount,
];

pub fn build_model(inventory: &Inventory) -> RbacModel<'_> {
    RbacModel::build(RbacInput {
        cluster_roles: &inventory.cluster_roles,
        cluster_role_bindings: &inventory.cluster_role_bindings,
        roles: &inventory.roles,
        role_bindings: &inventory.role_bindings,
    })
}

/// The scan's report, gated: the rules on roles and bindings run on `ctx.rbac` and on the
/// RoleBindings as they arrive (live: `rest` streams them, and hands over the workloads as
/// soon as they are in, whichever ends first; offline `rest` is `None` and `ctx.rbac` holds
/// everything).
fn scan_report(
    ctx: &scan::ScanContext<'_>,
    mut rest: Option<Arriving>,
    gate_args: &guardrails::cli::GateArgs,
) -> Result<(guardrails::finding::Report, gate::GateOutcome)> {
    // The pages stay put while the model borrows them and the next ones arrive.
    let pages = typed_arena::Arena::new();
    let stream = rest.as_mut().and_then(Arriving::take_stream);
    let objects = rest.as_mut().and_then(Arriving::take_objects);
    let rbac = |mounted: &scan::MountedAccounts| {
        let mut side = scan::RbacSide {
            model: build_model(ctx.rbac),
            role_bindings: vec![&ctx.rbac.role_bindings[..]],
            rules: scan::RbacRules::start(ctx),
        };
        let Some(stream) = stream else {
            run::phase("model");
            return side;
        };
        side.catch_up(ctx, mounted);
        while let Some(page) = stream.next::<RoleBinding>() {
            match page {
                Page::Objects(objects) => {
                    let objects: &[RoleBinding] = pages.alloc(objects);
                    side.model.add_role_bindings(objects);
                    side.role_bindings.push(objects);
                    side.catch_up(ctx, mounted);
                }
                // The pages so far were of an abandoned snapshot.
                Page::Restarted => {
                    side.model = build_model(ctx.rbac);
                    side.role_bindings.truncate(1);
                    side.rules = scan::RbacRules::start(ctx);
                }
            }
        }
        run::phase("model");
        side
    };
    // The workloads are analysed as soon as they are in, RoleBindings or not.
    let (findings, mut skipped, rest, side) = match (rest, objects) {
        (Some(arriving), Some(objects)) => {
            let (findings, skipped, mut rest, side) = scan::scan(ctx, rbac, || objects.wait())?;
            let streamed = arriving.finish(ctx.rbac, &rest)?;
            rest.skipped.extend(streamed);
            (findings, skipped, Some(rest), side)
        }
        _ => {
            let (findings, skipped, _, side) = scan::scan(ctx, rbac, || Ok(ctx.rbac))?;
            (findings, skipped, None, side)
        }
    };
    run::phase("scan");
    // The first part's own are added by `report` (which sorts them all).
    skipped.extend(rest.iter().flat_map(|r| r.skipped.iter().cloned()));
    let mut report = ctx.rbac.report("rbac-audit", findings, skipped);
    let outcome = gate::apply_today(&mut report, gate_args)?;
    // Only the report is left to write.
    run::free_at_exit(side);
    run::free_at_exit((pages, rest));
    Ok((report, outcome))
}

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

    run::phase("start");
    let command = cli.command.unwrap_or(Command::Scan);
    // A live scan analyses roles and bindings while the rest is still being listed, the
    // RoleBindings (the longest list) page by page as they arrive.
    let (first, rest, streamed) = match command {
        Command::Scan => {
            let rest = KINDS.iter().filter(|k| !SCAN_FIRST_KINDS.contains(k));
            (
                SCAN_FIRST_KINDS,
                rest.copied().collect(),
                Some(ResourceKind::RoleBinding),
            )
        }
        _ => (KINDS, Vec::new(), None),
    };
    let staged = acquire_staged(&cli.common, first, &rest, streamed).await?;
    let mut inventory = staged.first.inventory;
    let live = staged.first.cluster.is_some();
    if !live && !cli.no_bootstrap_roles {
        bootstrap::add_missing_cluster_roles(&mut inventory);
    }
    run::phase("inventory");
    let scope = staged.first.scope;
    let model = || {
        let model = build_model(&inventory);
        run::phase("model");
        model
    };

    let code = match command {
        Command::Scan => {
            let ctx = scan::ScanContext {
                rbac: &inventory,
                scope: &scope,
                selector: selector.as_ref(),
                include_system: cli.include_system,
                live,
            };
            let (report, outcome) = scan_report(&ctx, staged.rest, &cli.common.gate)?;
            render::write_report(&mut out, &report, format, styles, catalogue::RULES)?;
            out.flush()?;
            run::phase("report");
            let code = gate::conclude(&report, &outcome, cli.common.gate.fail_on.0);
            run::free_at_exit(report);
            code
        }
        Command::WhoCan {
            verb,
            resource,
            name,
        } => {
            let namespace = if cli.common.scope.all_namespaces {
                None
            } else {
                scope.as_option()
            };
            query::who_can(&model(), &verb, &resource, name.as_deref(), namespace)?
                .write(&mut out, format, styles)?;
            exit_code::OK
        }
        Command::WhatCan { subject, groups } => {
            query::what_can(
                &model(),
                &subject,
                &groups,
                scope.as_option(),
                &mut out,
                format,
                styles,
            )?;
            exit_code::OK
        }
        Command::BlastRadius { service_accounts } => {
            let entries = blast_radius::compute(
                &inventory,
                &model(),
                &scope,
                &service_accounts,
                selector.as_ref(),
            )?;
            blast_radius::write(&mut out, &entries, format, styles)?;
            exit_code::OK
        }
        // Answered at the top of `run`, before anything is read.
        Command::Scorecard(args) => guardrails::scorecard::run(&args, format, &cli.common.gate)?,
    };
    out.flush()?;
    run::free_at_exit(inventory);
    Ok(code)
}
#[cfg(test)]
mod scan_tests;

#[cfg(test)]
mod kinds_tests {
    use super::*;

    /// A live scan builds the model from the first part of the inventory and the streamed
    /// RoleBindings alone: together they must hold every RBAC kind, and the first part no
    /// workload (those are the long lists it does not wait for).
    #[test]
    fn a_live_scan_waits_for_roles_and_identities_not_workloads() {
        for kind in RBAC_KINDS {
            assert!(
                SCAN_FIRST_KINDS.contains(kind) || *kind == ResourceKind::RoleBinding,
                "{kind:?}"
            );
        }
        assert!(!SCAN_FIRST_KINDS.contains(&ResourceKind::RoleBinding));
        assert!(SCAN_FIRST_KINDS.iter().all(|k| KINDS.contains(k)));
        assert!(!SCAN_FIRST_KINDS.contains(&ResourceKind::Pod));
        assert_eq!(
            RBAC_KINDS,
            [
                ResourceKind::ClusterRole,
                ResourceKind::ClusterRoleBinding,
                ResourceKind::Role,
                ResourceKind::RoleBinding
            ]
        );
    }
}
