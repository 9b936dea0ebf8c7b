//! `kubectl_complete-harden`: shell completion of `kubectl harden …` (kubectl ≥ 1.26).

fn main() -> std::process::ExitCode {
    guardrails::complete::main::<harden::cli::Cli>()
}
