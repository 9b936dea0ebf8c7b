//! `kubectl harden` flags: the suite's common flags plus this plugin's commands.

use clap::{Parser, Subcommand, ValueEnum};
use guardrails::cli::{CommonArgs, WriteArgs};

use crate::pss::{Level, Version};

#[derive(Parser, Debug)]
#[command(
    name = "harden",
    bin_name = "kubectl harden",
    version,
    about = "Pod Security Standards exactly as the API server evaluates them, plus runtime hardening beyond the standard.",
    long_about = None,
    after_help = help_text::TEXT,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// What `check` evaluates.
#[derive(clap::Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// The Pod Security Standards level to check against
    #[arg(long, global = true, value_name = "LEVEL", default_value = "restricted", value_parser = level_parser(), help_heading = "Analysis")]
    pub level: Level,
    /// Policy version: v1.N or latest (default: each namespace's pod-security.kubernetes.io/enforce-version label, else latest)
    #[arg(long = "pss-version", global = true, value_name = "VERSION", value_parser = parse_version, help_heading = "Analysis")]
    pub pss_version: Option<Version>,
    /// Which rule families to report
    #[arg(long, global = true, value_enum, default_value_t = Families::All, value_name = "FAMILY", help_heading = "Analysis")]
    pub rules: Families,
    /// Turn off rules by id (repeatable or comma-separated), e.g. hardening-no-resources
    #[arg(
        long,
        global = true,
        value_name = "RULE",
        value_delimiter = ',',
        help_heading = "Analysis"
    )]
    pub disable: Vec<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    /// pss-* and hardening-*
    All,
    /// Only the Pod Security Standards (pss-*)
    Pss,
    /// Only the hardening defaults beyond the standard (hardening-*)
    Hardening,
}

fn level_parser() -> impl clap::builder::TypedValueParser<Value = Level> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["baseline", "restricted"])
        .try_map(|s: String| s.parse::<Level>())
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse()
}

/// Examples, then the suite's exit codes.
mod help_text {
    pub const TEXT: &str = concat!(
        "Examples:\n",
        "  # Which workloads in the current namespace would the restricted standard reject?\n",
        "  kubectl harden\n\n",
        "  # Baseline at the policy version the API server of 1.29 enforces, all namespaces\n",
        "  kubectl harden check -A --level baseline --pss-version v1.29\n\n",
        "  # Manifests in CI: Pod Security Standards only, fail on any violation, SARIF\n",
        "  kubectl harden -f deploy/ -R --rules pss -o sarif > harden.sarif\n\n",
        "  # Everything except the resources rule\n",
        "  kubectl harden -A --disable hardening-no-resources\n\n",
        "  # Fix manifests in place (diff first), or preview the fix of live controllers\n",
        "  kubectl harden fix -f deploy/ --yes\n",
        "  kubectl harden fix -n shop --dry-run=server\n\n",
        "  # Roll restricted out to a namespace, one label stage at a time\n",
        "  kubectl harden rollout -n shop --level restricted\n\n",
        guardrails::exit_code_help!(),
    );
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Report Pod Security Standards violations and missing hardening (the default command)
    Check,
    /// Apply the fix plan: edit -f files in place, or patch live controllers (never their pods)
    Fix(FixArgs),
    /// Move a namespace to a Pod Security level one stage at a time (warn, audit, enforce)
    Rollout {
        /// The label stage to set (default: the first one not yet at the level)
        #[arg(long, value_enum)]
        stage: Option<crate::rollout::Stage>,
        /// Enforce even when warn and audit are not yet at the level
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Restore the fields the last live fix changed on a controller (KIND/NAME, or NAMESPACE/KIND/NAME)
    Undo {
        /// The controller, e.g. deployment/frontend or shop/deployment/frontend
        object: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Fold the plugins' JSON reports into the dated score report (Markdown + JSON) and what changed since the last one
    Scorecard(guardrails::scorecard::ScorecardArgs),
}

/// `fix`: which fixes, and how to write.
#[derive(clap::Args, Debug, Clone)]
pub struct FixArgs {
    /// Apply only these fixes (repeatable or comma-separated), e.g. capabilities,seccomp; fixes that take something away (privileged, host namespaces, …) apply only when named here
    #[arg(long, value_delimiter = ',', value_name = "FIX")]
    pub only: Vec<String>,
    /// Leave out these fixes (repeatable or comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "FIX")]
    pub skip: Vec<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent_and_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kubectl-harden",
            "check",
            "--level",
            "baseline",
            "--pss-version",
            "v1.29",
            "--disable",
            "hardening-no-resources,hardening-automount-token",
            "-n",
            "shop",
        ])
        .expect("parse");
        assert_eq!(cli.analysis.level, Level::Baseline);
        assert_eq!(cli.analysis.pss_version, Some(Version::Minor(29)));
        assert_eq!(cli.analysis.disable.len(), 2);
        let default = Cli::try_parse_from(["kubectl-harden"]).expect("parse");
        assert_eq!(default.analysis.level, Level::Restricted);
        assert_eq!(default.analysis.pss_version, None);
        for bad in [
            &["kubectl-harden", "--level", "privileged"][..],
            &["kubectl-harden", "--pss-version", "1.29"][..],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_carries_the_suite_exit_codes() {
        assert!(help_text::TEXT.ends_with(guardrails::exit_code::HELP));
    }
}
