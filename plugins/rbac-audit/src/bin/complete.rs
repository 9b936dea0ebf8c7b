//! `kubectl_complete-rbac_audit`: shell completion of `kubectl rbac-audit …` (kubectl ≥ 1.26).

fn main() -> std::process::ExitCode {
    guardrails::complete::main::<rbac_audit::cli::Cli>()
}
