//! `kubectl_complete-netpol_scaffold`: shell completion of `kubectl netpol-scaffold …` (kubectl ≥ 1.26).

fn main() -> std::process::ExitCode {
    guardrails::complete::main::<netpol_scaffold::cli::Cli>()
}
