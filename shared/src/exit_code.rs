//! The exit codes every plugin returns (the CLI contract). A CI gate can rely on these numbers;
//! they are echoed in each plugin's `--help` and in the README.

/// Ran to the end; no finding at or above `--fail-on`.
pub const OK: i32 = 0;
/// Findings at or above `--fail-on` (or, for check-style commands, a failed expectation).
pub const FINDINGS: i32 = 1;
/// Usage error: unknown flag, bad value (clap's own code).
pub const USAGE: i32 = 2;
/// Input error: unreadable file, malformed YAML/JSON, invalid object.
pub const INPUT: i32 = 3;
/// Cluster or registry error: no kubeconfig/context, unreachable, unauthenticated,
/// or incomplete read access under `--require-complete`.
pub const CLUSTER: i32 = 4;
/// A write failed or was refused; nothing was partially written.
pub const WRITE: i32 = 5;
/// Interrupted (Ctrl-C).
pub const INTERRUPTED: i32 = 130;

/// The exit-code table as a string literal, so plugins can `concat!` it into their clap
/// `after_help` (which wants one `&'static str`).
#[macro_export]
macro_rules! exit_code_help {
    () => {
        "Exit codes:
  0    no finding at or above --fail-on
  1    findings at or above --fail-on
  2    usage error
  3    input error (unreadable or malformed file, invalid object)
  4    cluster error (no kubeconfig, unreachable, unauthenticated, incomplete with --require-complete)
  5    write failed or refused
  130  interrupted"
    };
}

/// The help-text table, shared by every plugin's `--help`.
pub const HELP: &str = exit_code_help!();
