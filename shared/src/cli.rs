//! Flags shared by every plugin, defined once (the CLI contract). Plugins flatten these
//! structs into their own clap parsers; every flag is `global` so it works after a subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::finding::Severity;

/// The flags every plugin takes, in the contract's order: each plugin's `Cli` flattens this
/// once, and the shared steps (acquiring the inventory, the CI gate, rendering) read it.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Connection flags, spelled and interpreted like kubectl's.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH", help_heading = "Cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME", help_heading = "Cluster")]
    pub context: Option<String>,
    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME", help_heading = "Cluster")]
    pub cluster: Option<String>,
    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME", help_heading = "Cluster")]
    pub user: Option<String>,
    /// Username to impersonate
    #[arg(
        long = "as",
        global = true,
        value_name = "USER",
        help_heading = "Cluster"
    )]
    pub as_user: Option<String>,
    /// Group to impersonate (repeatable)
    #[arg(
        long = "as-group",
        global = true,
        value_name = "GROUP",
        help_heading = "Cluster"
    )]
    pub as_group: Vec<String>,
    /// Timeout of a single request, e.g. 30s, 1m (0 = none)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, help_heading = "Cluster")]
    pub request_timeout: Option<Duration>,
}

/// Which objects to look at: namespace scope and label selector.
#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Namespace scope (default: the context's namespace; offline: all)
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "NS",
        help_heading = "Scope"
    )]
    pub namespace: Option<String>,
    /// All namespaces (overrides --namespace)
    #[arg(short = 'A', long, global = true, help_heading = "Scope")]
    pub all_namespaces: bool,
    /// Label selector on the examined objects (kubectl syntax: a=b,c!=d,e in (f,g),!h)
    #[arg(
        short = 'l',
        long,
        global = true,
        value_name = "SELECTOR",
        help_heading = "Scope"
    )]
    pub selector: Option<String>,
}

impl ScopeArgs {
    /// `-l`, parsed (a bad selector is a usage error, exit 2).
    pub fn label_query(&self) -> crate::error::Result<Option<crate::selector::LabelQuery>> {
        self.selector
            .as_deref()
            .map(crate::selector::LabelQuery::parse)
            .transpose()
            .map_err(|e| crate::error::Error::Usage(e.to_string()))
    }
}

/// Offline mode: manifests instead of a cluster.
#[derive(Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Manifest file or directory ('-' = stdin); repeatable. No cluster is contacted.
    #[arg(
        short = 'f',
        long = "filename",
        global = true,
        value_name = "PATH",
        help_heading = "Input"
    )]
    pub filenames: Vec<PathBuf>,
    /// Recurse into directories given with -f
    #[arg(short = 'R', long, global = true, help_heading = "Input")]
    pub recursive: bool,
}

impl InputArgs {
    pub fn is_offline(&self) -> bool {
        !self.filenames.is_empty()
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
    Sarif,
    /// A Markdown table, e.g. for a pull-request comment
    Markdown,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Output format
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value_t,
        help_heading = "Output"
    )]
    pub format: OutputFormat,
    /// Colour: auto = only on a terminal and never when NO_COLOR is set
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        value_name = "WHEN",
        help_heading = "Output"
    )]
    pub color: ColorChoice,
}

/// `--dry-run`: what a writing command does instead of writing.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Write (after showing the diff and confirming)
    #[default]
    None,
    /// Show the diff computed locally; contact the cluster only to read
    Client,
    /// Send every write with dryRun=All: the diff and warnings come from the API server
    Server,
}

/// Flags of every command that writes to a cluster or a file.
#[derive(Args, Debug, Clone, Default)]
pub struct WriteArgs {
    /// Preview only: 'client' computes the result locally, 'server' asks the API server (dryRun=All)
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "client", value_name = "MODE", help_heading = "Writing")]
    pub dry_run: DryRun,
    /// Apply without asking (needed when there is no terminal to ask on)
    #[arg(short = 'y', long, help_heading = "Writing")]
    pub yes: bool,
}

/// How findings turn into an exit code in CI.
#[derive(Args, Debug, Clone)]
pub struct GateArgs {
    /// Exit 1 when a finding at or above this severity is reported ('never' = always exit 0)
    #[arg(long, global = true, value_name = "SEVERITY", default_value = "high", value_parser = fail_on_parser(), help_heading = "CI gate")]
    pub fail_on: FailOn,
    /// Exit 4 instead of reporting partially when some objects could not be read
    #[arg(long, global = true, help_heading = "CI gate")]
    pub require_complete: bool,
    /// A previous JSON report: findings already in it do not count toward --fail-on
    #[arg(
        long,
        global = true,
        value_name = "REPORT.json",
        help_heading = "CI gate"
    )]
    pub baseline: Option<PathBuf>,
    /// Accepted risks (YAML/JSON list of {rule, object, reason, expires}); expired entries stop suppressing
    #[arg(long, global = true, value_name = "FILE", help_heading = "CI gate")]
    pub exceptions: Option<PathBuf>,
    /// List the rules with their severity and rationale, then exit
    #[arg(long, help_heading = "CI gate")]
    pub list_rules: bool,
}

impl Default for GateArgs {
    fn default() -> Self {
        GateArgs {
            fail_on: FailOn(Some(Severity::High)),
            require_complete: false,
            baseline: None,
            exceptions: None,
            list_rules: false,
        }
    }
}

/// The `--fail-on` threshold; `None` (spelled `never`) never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOn(pub Option<Severity>);

/// Lists the accepted values (for help, errors and completion) and maps them to [`FailOn`].
fn fail_on_parser() -> impl clap::builder::TypedValueParser<Value = FailOn> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["critical", "high", "medium", "low", "info", "never"])
        .try_map(|s: String| parse_fail_on(&s))
}

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(FailOn(None));
    }
    s.parse::<Severity>().map(|sev| FailOn(Some(sev)))
}

/// kubectl-style durations: `30s`, `1m`, `1m30s`, `500ms`, `2h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (examples: 30s, 1m, 1m30s, 500ms)");
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(seconds);
        rest = tail;
    }
    if s.is_empty() { Err(bad()) } else { Ok(total) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn fail_on_accepts_never() {
        assert_eq!(parse_fail_on("never"), Ok(FailOn(None)));
        assert_eq!(parse_fail_on("medium"), Ok(FailOn(Some(Severity::Medium))));
        assert!(parse_fail_on("urgent").is_err());
    }
}
