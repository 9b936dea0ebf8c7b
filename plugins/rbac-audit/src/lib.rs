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

use guardrails::collect::acquire;
use guardrails::error::Result;
use guardrails::finding::Report;
use guardrails::inventory::{Inventory, ResourceKind};
use guardrails::render::{self, Styles};
use guardrails::{exit_code, gate, run};

use crate::authz::{RbacInput, RbacModel};
use crate::cli::{Cli, Command};

/// What rbac-audit reads: RBAC, the identities it binds, and every pod-creating kind.
pub const KINDS: &[ResourceKind] = &[
    ResourceKind::Namespace,
    ResourceKind::ServiceAccount,
    ResourceKind::ClusterRole,
    ResourceKind::ClusterRoleBinding,
    ResourceKind::Role,
    ResourceKind::RoleBinding,
    ResourceKind::Pod,
    ResourceKind::Deployment,
    ResourceKind::ReplicaSet,
    ResourceKind::StatefulSet,
    ResourceKind::DaemonSet,
    ResourceKind::Job,
    ResourceKind::CronJob,
    ResourceKind::ReplicationController,
];

pub fn build_model(inventory: &Inventory) -> RbacModel<'_> {
    RbacModel::build(RbacInput {
        cluster_roles: &inventory.cluster_roles,
        cluster_role_bindings: &inventory.cluster_role_bindings,
        roles: &inventory.roles,
        role_bindings: &inventory.role_bindings,
    })
}

pub async fn run(cli: Cli) -> Result<i32> {
    if let Some(Command::Scorecard(args)) = &cli.command {
        return guardrails::scorecard::run(args, cli.output.format, &cli.gate);
    }
    let format = cli.output.format;
    let styles = Styles::for_output(cli.output.color, format);
    let mut out = run::stdout();
    if cli.gate.list_rules {
        render::write_rules(&mut out, catalogue::RULES, format, styles)?;
        out.flush()?;
        return Ok(exit_code::OK);
    }
    let selector = cli.scope.label_query()?;

    run::phase("start");
    let acquired = acquire(
        &cli.input,
        &cli.cluster,
        &cli.scope,
        KINDS,
        cli.gate.require_complete,
    )
    .await?;
    let mut inventory = acquired.inventory;
    let live = acquired.cluster.is_some();
    if !live && !cli.no_bootstrap_roles {
        bootstrap::add_missing_cluster_roles(&mut inventory);
    }
    run::phase("inventory");
    let model = build_model(&inventory);
    run::phase("model");
    let scope = acquired.scope;

    let code = match cli.command.unwrap_or(Command::Scan) {
        Command::Scan => {
            let ctx = scan::ScanContext {
                inventory: &inventory,
                model: &model,
                scope: &scope,
                selector: selector.as_ref(),
                include_system: cli.include_system,
                live,
            };
            let (mut findings, rule_skips) = scan::scan(&ctx);
            for f in &mut findings {
                f.location = inventory.location_of(&f.object);
            }
            run::phase("scan");
            let mut skipped = inventory.skipped.clone();
            skipped.extend(rule_skips);
            let mut report = Report::new("rbac-audit", inventory.source.clone(), findings, skipped);
            report.ignored = inventory.ignored_kinds.clone();
            let outcome = gate::apply(&mut report, &cli.gate, chrono::Local::now().date_naive())?;
            render::write_report(&mut out, &report, format, styles, catalogue::RULES)?;
            out.flush()?;
            run::phase("report");
            gate::conclude(&report, &outcome, cli.gate.fail_on.0)
        }
        Command::WhoCan {
            verb,
            resource,
            name,
        } => {
            let namespace = if cli.scope.all_namespaces {
                None
            } else {
                scope.as_option()
            };
            query::who_can(&model, &verb, &resource, name.as_deref(), namespace)?
                .write(&mut out, format, styles)?;
            exit_code::OK
        }
        Command::WhatCan { subject, groups } => {
            query::what_can(
                &model,
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
                &model,
                &scope,
                &service_accounts,
                selector.as_ref(),
            )?;
            blast_radius::write(&mut out, &entries, format, styles)?;
            exit_code::OK
        }
        // Answered at the top of `run`, before anything is read.
        Command::Scorecard(args) => guardrails::scorecard::run(&args, format, &cli.gate)?,
    };
    out.flush()?;
    Ok(code)
}
#[cfg(test)]
mod scan_tests;
