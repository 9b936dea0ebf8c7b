//! `kubectl harden` — kubectl runs this as `kubectl-harden`.

// Large clusters mean hundreds of thousands of small allocations; mimalloc is markedly faster
// for that pattern than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guardrails::run::main(harden::run)
}
