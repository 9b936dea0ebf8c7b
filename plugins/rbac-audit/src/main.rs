//! `kubectl rbac-audit` — kubectl runs this as `kubectl-rbac_audit`.

fn main() -> std::process::ExitCode {
    guardrails::run::main(rbac_audit::run)
}
