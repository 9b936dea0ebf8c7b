//! `kubectl rbac-audit` flags: the suite's common flags plus this plugin's subcommands.

use clap::{Parser, Subcommand};
use guardrails::cli::CommonArgs;

#[derive(Parser, Debug)]
#[command(
    name = "rbac-audit",
    bin_name = "kubectl rbac-audit",
    version,
    about = "Who can do what: risky RBAC bindings and rules, who-can / what-can, and the blast radius of each ServiceAccount.",
    long_about = None,
    after_help = help_text::TEXT,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Also report Kubernetes' own bootstrap RBAC (objects labelled kubernetes.io/bootstrapping=rbac-defaults)
    #[arg(long, global = true, help_heading = "Analysis")]
    pub include_system: bool,
    /// Offline: do not assume the API server's bootstrap ClusterRoles (cluster-admin, view, …) exist
    #[arg(long, global = true, help_heading = "Analysis")]
    pub no_bootstrap_roles: bool,
}

/// Examples, then the suite's exit codes.
mod help_text {
    pub const TEXT: &str = concat!(
        "Examples:\n",
        "  # Audit the current cluster (all namespaces) and fail CI on high or critical findings\n",
        "  kubectl rbac-audit -A --fail-on high\n\n",
        "  # Audit manifests offline, as SARIF for GitHub code scanning\n",
        "  kubectl rbac-audit -f deploy/ -R -o sarif > rbac.sarif\n\n",
        "  # Who may read Secrets in namespace shop, and through which binding and role?\n",
        "  kubectl rbac-audit who-can get secrets -n shop\n\n",
        "  # Everything a ServiceAccount may do, including rights it gets through its groups\n",
        "  kubectl rbac-audit what-can system:serviceaccount:shop:checkout -A\n\n",
        "  # Which ServiceAccounts would hurt most if one of their pods were compromised?\n",
        "  kubectl rbac-audit blast-radius -A\n\n",
        guardrails::exit_code_help!(),
    );
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report risky RBAC (the default command)
    Scan,
    /// Every subject that may perform VERB on RESOURCE, with the binding, role and rule behind it
    #[command(name = "who-can")]
    WhoCan {
        /// The verb: get, list, create, delete, impersonate, bind, escalate, … or '*'
        verb: String,
        /// The resource: secrets, pods/exec, deployments.apps, deployments.apps/scale, or a URL like /metrics
        resource: String,
        /// Only grants that cover this object name
        name: Option<String>,
    },
    /// The effective rules of a subject, with where each one comes from
    #[command(name = "what-can")]
    WhatCan {
        /// system:serviceaccount:NS:NAME, serviceaccount:NS/NAME, user:NAME or group:NAME
        subject: String,
        /// Groups the subject belongs to (repeatable); RBAC cannot know a user's groups itself
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Per ServiceAccount: what an attacker gains by compromising a pod that runs with it
    #[command(name = "blast-radius")]
    BlastRadius {
        /// ServiceAccounts as NS/NAME or system:serviceaccount:NS:NAME (default: all in scope)
        service_accounts: Vec<String>,
    },
    /// Fold the plugins' JSON reports into the dated score report (Markdown + JSON) and what changed since the last one
    Scorecard(guardrails::scorecard::ScorecardArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent_and_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kubectl-rbac_audit",
            "who-can",
            "get",
            "secrets",
            "-n",
            "shop",
            "--fail-on",
            "never",
            "-o",
            "json",
        ])
        .expect("parse");
        assert!(matches!(cli.command, Some(Command::WhoCan { .. })));
        assert_eq!(cli.common.gate.fail_on.0, None);
        assert_eq!(cli.common.scope.namespace.as_deref(), Some("shop"));
        assert!(Cli::try_parse_from(["kubectl-rbac_audit", "-o", "csv"]).is_err());
    }

    #[test]
    fn help_carries_the_suite_exit_codes() {
        assert!(help_text::TEXT.ends_with(guardrails::exit_code::HELP));
    }
}
