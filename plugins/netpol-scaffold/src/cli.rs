//! `kubectl netpol-scaffold` flags: the suite's common flags plus this plugin's subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use guardrails::cli::{CommonArgs, WriteArgs};

#[derive(Parser, Debug)]
#[command(
    name = "netpol-scaffold",
    bin_name = "kubectl netpol-scaffold",
    version,
    about = "Who can talk to what: NetworkPolicy coverage gaps, a static reachability check with exact semantics, the connectivity matrix, and default-deny scaffolding.",
    long_about = None,
    after_help = help_text::TEXT,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Also report kube-system, kube-public and kube-node-lease
    #[arg(long, global = true, help_heading = "Analysis")]
    pub include_system: bool,
}

/// Examples, then the suite's exit codes.
mod help_text {
    pub const TEXT: &str = concat!(
        "Examples:\n",
        "  # Which namespaces and workloads have no NetworkPolicy protection? (the default command)\n",
        "  kubectl netpol-scaffold -A\n\n",
        "  # The same on manifests, failing CI on medium findings\n",
        "  kubectl netpol-scaffold -f deploy/ -R --fail-on medium\n\n",
        "  # Can the shop frontend reach MySQL in payments on 3306/TCP, and which policy decides?\n",
        "  kubectl netpol-scaffold check --from shop/app=frontend --to payments/svc/mysql --port 3306/TCP\n\n",
        "  # Check the expectations of a case file (exit 1 on any FAIL)\n",
        "  kubectl netpol-scaffold check --cases connectivity.yaml -f deploy/\n\n",
        "  # Who can talk to whom, as a graph\n",
        "  kubectl netpol-scaffold matrix -A --format dot | dot -Tsvg > netpol.svg\n\n",
        "  # Create the proposed policies in shop (preview first), and undo them\n",
        "  kubectl netpol-scaffold scaffold -n shop --allow-dns --apply --dry-run=server\n",
        "  kubectl netpol-scaffold scaffold -n shop --rollback\n\n",
        "  # What would a default-deny in shop break first?\n",
        "  kubectl netpol-scaffold plan -n shop\n\n",
        guardrails::exit_code_help!(),
    );
}

/// Output formats of `matrix` (beyond the common -o ones).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixFormat {
    /// A grid: A = all ports, P = some ports, . = none, ? = depends on the CNI
    Table,
    /// One line per pair with the allowed ports
    Wide,
    Json,
    Yaml,
    Markdown,
    /// Graphviz: one edge per allowed pair, labelled with the ports
    Dot,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report namespaces and workloads not isolated, and policies that do not do what they seem (the default command)
    Coverage,
    /// Can A reach B on PORT/PROTO? ALLOW / DENY / DEPENDS, and which policies and rules decided it
    Check {
        /// Source: NS/POD, NS/WORKLOAD, NS/key=value[,key=value], NS/svc/NAME, node/NAME, or an IP/CIDR
        #[arg(long, value_name = "ENDPOINT", required_unless_present = "cases")]
        from: Option<String>,
        /// Destination: NS/POD, NS/WORKLOAD, NS/key=value, NS/svc/NAME (Service port → target port), or an IP/CIDR
        #[arg(long, value_name = "ENDPOINT", required_unless_present = "cases")]
        to: Option<String>,
        /// PORT[/PROTOCOL] (TCP by default); a Service port for NS/svc/NAME; a named port is looked up on the destination
        #[arg(long, value_name = "PORT[/PROTO]", required_unless_present = "cases")]
        port: Option<String>,
        /// A case file (YAML/JSON list, or {cases: [...]}) of {from, to, port, protocol, expected}
        #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "to", "port"])]
        cases: Option<PathBuf>,
    },
    /// Propose the policies for a namespace to go default-deny safely (YAML to stdout or --out-dir)
    ///
    /// -y/--yes accepts every suggestion (DNS egress, inferred allows, ingress from the controller
    /// found to the --expose workloads) and, with --apply or --rollback, applies without asking.
    /// On a terminal without --yes, a wizard asks for each proposal and the output (a flag
    /// given answers its question).
    Scaffold {
        #[command(flatten)]
        write: WriteArgs,
        /// Create the proposed policies on the live cluster (allows first, the default-deny last), labelled with a run id
        #[arg(long, conflicts_with_all = ["out_dir", "rollback"])]
        apply: bool,
        /// Delete the policies a previous --apply created in -n NS (the latest run, or RUN), the default-deny first
        #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "latest")]
        rollback: Option<String>,
        /// Allow egress to the cluster DNS found (its namespace, pod labels and target ports; UDP and TCP)
        #[arg(long)]
        allow_dns: bool,
        /// Allow ingress from the ingress controller: 'auto' (the one found) or NS/key=value
        #[arg(long, value_name = "auto|NS/LABELS")]
        ingress_from: Option<String>,
        /// Workloads the ingress controller may reach, on their Services' target ports (repeatable; needed with --ingress-from)
        #[arg(long, value_name = "WORKLOAD")]
        expose: Vec<String>,
        /// An allowed connection FROM->TO:PORT[/PROTO]; FROM/TO: WORKLOAD, NS/WORKLOAD or NS/svc/NAME (repeatable)
        #[arg(long = "allow", value_name = "FROM->TO:PORT")]
        allows: Vec<String>,
        /// Allow the connections workload env values name (e.g. mysql.payments.svc:3306)
        #[arg(long)]
        infer: bool,
        /// Write one file per policy into DIR instead of printing YAML
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Before a rollout in -n NS: which connections possible today the proposed policies would deny, and the apply order
    Plan {
        /// The proposed NetworkPolicies (YAML/JSON); default: what `scaffold -n NS --yes` proposes
        #[arg(long = "policies", value_name = "FILE")]
        policies: Option<PathBuf>,
    },
    /// The connectivity matrix between all workloads in scope
    Matrix {
        /// Overrides -o: table, wide, json, yaml, markdown or dot
        #[arg(long = "format", value_enum, value_name = "FORMAT")]
        matrix_format: Option<MatrixFormat>,
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
            "kubectl-netpol_scaffold",
            "check",
            "--from",
            "shop/app=frontend",
            "--to",
            "payments/svc/mysql",
            "--port",
            "3306/TCP",
            "-f",
            "x.yaml",
        ])
        .expect("parse");
        assert!(matches!(cli.command, Some(Command::Check { .. })));
        assert!(
            Cli::try_parse_from(["kubectl-netpol_scaffold", "check", "--from", "a/b"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["kubectl-netpol_scaffold", "check", "--cases", "c.yaml"]).is_ok()
        );
    }

    #[test]
    fn help_carries_the_suite_exit_codes() {
        assert!(help_text::TEXT.ends_with(guardrails::exit_code::HELP));
    }
}
