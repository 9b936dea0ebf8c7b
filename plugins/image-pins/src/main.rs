//! `kubectl image-pins` — kubectl runs this as `kubectl-image_pins`.

// Many small allocations on large clusters; mimalloc is faster and keeps less resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    guardrails::run::main(image_pins::run)
}
