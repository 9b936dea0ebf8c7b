//! `kubectl netpol-scaffold` — kubectl runs this as `kubectl-netpol_scaffold`.

// The connectivity matrix of a large cluster makes many small allocations; mimalloc is faster
// and keeps less memory resident than the system allocator for that pattern.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guardrails::run::main(netpol_scaffold::run)
}
