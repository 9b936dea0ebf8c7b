//! The driver every plugin's `main` calls: parse flags, run on a tokio runtime, turn the
//! outcome into the documented exit code, print errors as one line, handle Ctrl-C and pipes.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use owo_colors::OwoColorize;

use crate::cli::CommonArgs;
use crate::error::{Error, Result};
use crate::exit_code;
use crate::finding::RuleInfo;
use crate::scorecard::ScorecardArgs;

pub fn main<C, F, Fut>(run: F) -> ExitCode
where
    C: clap::Parser,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<i32>>,
{
    let cli = C::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report_error(&Error::Output(e)),
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(cli) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match outcome {
        None => {
            eprintln!("interrupted");
            ExitCode::from(exit_code::INTERRUPTED as u8)
        }
        Some(Ok(code)) => ExitCode::from(code as u8),
        // `| head` closing the pipe is not an error (ripgrep's convention).
        Some(Err(Error::Output(e))) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Some(Err(e)) => report_error(&e),
    }
}

fn report_error(e: &Error) -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let label = if color {
        "error:".red().bold().to_string()
    } else {
        "error:".to_string()
    };
    let _ = writeln!(std::io::stderr(), "{label} {e}");
    ExitCode::from(e.exit_code() as u8)
}

/// What every plugin answers before reading anything: `scorecard` (the suite's shared command,
/// when it is the one given) and `--list-rules` (the plugin's `rules`). `Some(exit code)` once
/// answered; `None` when the plugin's own work is asked for.
pub fn answer_early(
    common: &CommonArgs,
    scorecard: Option<&ScorecardArgs>,
    rules: &[RuleInfo],
) -> Result<Option<i32>> {
    if let Some(args) = scorecard {
        return crate::scorecard::run(args, common.output.format, &common.gate).map(Some);
    }
    if common.gate.list_rules {
        let mut out = stdout();
        crate::render::write_rules(
            &mut out,
            rules,
            common.output.format,
            common.output.styles(),
        )?;
        out.flush()?;
        return Ok(Some(exit_code::OK));
    }
    Ok(None)
}

/// Buffered stdout for reports; flushed by the caller (errors surface as `Error::Output`).
pub fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// A warning line on stderr (progress bars are cleared before this is called).
pub fn warn(message: &str) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let label = if color {
        "warning:".yellow().bold().to_string()
    } else {
        "warning:".to_string()
    };
    let _ = writeln!(std::io::stderr(), "{label} {message}");
}

/// With `GUARDRAILS_DEBUG_PHASES=1`, prints the time since start and the resident memory at a
/// named phase to stderr (how the scale benchmark's numbers are broken down).
pub fn phase(name: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<(bool, std::time::Instant)> = OnceLock::new();
    let (enabled, start) = *START.get_or_init(|| {
        (
            std::env::var_os("GUARDRAILS_DEBUG_PHASES").is_some(),
            std::time::Instant::now(),
        )
    });
    if !enabled {
        return;
    }
    // statm's second field is resident pages (Linux; elsewhere nothing is printed for it).
    let rss_mib = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| format!(" rss={} MiB", pages * 4096 / 1_048_576))
        .unwrap_or_default();
    eprintln!(
        "phase {name}: {:.3} s{rss_mib}",
        start.elapsed().as_secs_f64()
    );
}

/// Leaves `data` for the process's exit to reclaim instead of freeing it now. A plugin calls
/// this on its inventory, model and report once it no longer needs them and is about to end:
/// freeing a large cluster's hundreds of thousands of objects one by one costs tens of
/// milliseconds, while the kernel takes back the whole heap at once when the process exits.
/// Only for plain data (nothing that flushes or closes anything when dropped).
pub fn free_at_exit<T>(data: T) {
    std::mem::forget(data);
}
