//! `kubectl rbac-audit` — kubectl runs this as `kubectl-rbac_audit`.

// Large clusters mean hundreds of thousands of small allocations; mimalloc is markedly faster
// and keeps less memory resident than the system allocator for that pattern (see the scale
// benchmark in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guardrails::run::main(rbac_audit::run)
}
