//! Changing files safely: format-preserving YAML edits by path ([`yaml`]), a unified diff of
//! each planned change, a confirmation prompt (or `--yes`; never a silent write without a
//! terminal), and atomic writes (a temporary file in the same directory, renamed over the
//! original, keeping its permissions).

pub mod yaml;

use std::io::{IsTerminal, Write};
use std::path::Path;

use owo_colors::Style;

use crate::error::{Error, Result};
use crate::render::Styles;

pub use yaml::{EditError, PathSegment, YamlFile, display_path};

/// A file and its planned new content.
#[derive(Debug, Clone)]
pub struct PlannedWrite {
    pub path: std::path::PathBuf,
    pub before: String,
    pub after: String,
}

/// A unified diff (`--- a/FILE`, `+++ b/FILE`, three lines of context), coloured when asked.
pub fn unified_diff(label: &str, before: &str, after: &str, styles: Styles) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string();
    if !styles.color {
        return text;
    }
    text.split_inclusive('\n')
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                Style::new().bold()
            } else if line.starts_with('+') {
                Style::new().green()
            } else if line.starts_with('-') {
                Style::new().red()
            } else if line.starts_with("@@") {
                Style::new().cyan()
            } else {
                Style::new()
            };
            styles.paint(line, style)
        })
        .collect()
}

/// Asks before writing. `--yes` skips the question; without a terminal to ask on, the write
/// is refused (exit 5) rather than done silently.
pub fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Write(
            "refusing to write without confirmation: no terminal to ask on (pass --yes, or --dry-run=client to only see the diff)".into(),
        ));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| Error::Write(format!("confirmation prompt: {e}")))
}

/// Replaces `path` with `content` atomically: readers see the old or the new file, never a
/// part, and a failure leaves the old file in place. The file's permissions are kept.
pub fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Write(format!("{}: {e}", path.display()));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path).map_err(|e| fail(&e))?.permissions();
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    temp.write_all(content.as_bytes()).map_err(|e| fail(&e))?;
    temp.as_file().sync_all().map_err(|e| fail(&e))?;
    std::fs::set_permissions(temp.path(), permissions).map_err(|e| fail(&e))?;
    temp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

/// Writes every planned file (after confirmation was obtained). Stops at the first failure
/// and says which files were already written.
pub fn write_all(plans: &[PlannedWrite]) -> Result<()> {
    for (i, plan) in plans.iter().enumerate() {
        if let Err(e) = write_atomically(&plan.path, &plan.after) {
            if i == 0 {
                return Err(e);
            }
            let done: Vec<String> = plans[..i]
                .iter()
                .map(|p| p.path.display().to_string())
                .collect();
            return Err(Error::Write(format!(
                "{e} (already written: {})",
                done.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_is_unified_with_headers() {
        let d = unified_diff(
            "f.yaml",
            "a: 1\nb: 2\n",
            "a: 1\nb: 3\n",
            Styles { color: false },
        );
        assert!(d.starts_with("--- a/f.yaml\n+++ b/f.yaml\n@@"), "{d}");
        assert!(d.contains("-b: 2\n+b: 3\n"), "{d}");
        let colored = unified_diff("f", "a\n", "b\n", Styles { color: true });
        assert!(colored.contains('\u{1b}'));
    }

    #[test]
    fn atomic_write_replaces_content_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, "old\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, "new\n").expect("atomic write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no temp file left"
        );
        let missing = write_atomically(&dir.path().join("nope.yaml"), "x").expect_err("missing");
        assert_eq!(missing.exit_code(), crate::exit_code::WRITE);
    }

    #[test]
    fn confirmation_without_a_terminal_is_refused_unless_yes() {
        assert!(confirm("write?", true).expect("yes"));
        // cargo test runs without a terminal on stdin.
        if !std::io::stdin().is_terminal() {
            let err = confirm("write?", false).expect_err("no tty");
            assert_eq!(err.exit_code(), crate::exit_code::WRITE);
        }
    }
}
