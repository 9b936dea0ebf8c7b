//! `kubectl_complete-image_pins`: shell completion of `kubectl image-pins …` (kubectl ≥ 1.26).

fn main() -> std::process::ExitCode {
    guardrails::complete::main::<image_pins::cli::Cli>()
}
