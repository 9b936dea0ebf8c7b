fn main() -> std::process::ExitCode {
    eprintln!("kubectl rbac-audit: not built yet in this skeleton");
    std::process::ExitCode::from(2)
}
