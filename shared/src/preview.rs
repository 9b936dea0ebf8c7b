//! Showing a planned write before it happens: a unified diff, and the confirmation question.
//! Every writing command (files or cluster) goes through these, so a user sees the same diff
//! and the same question whatever the plugin.

use std::io::IsTerminal;

use owo_colors::Style;

use crate::error::{Error, Result};
use crate::render::Styles;

/// A unified diff (3 lines of context) of `old` → `new`, headed `--- old_label` / `+++
/// new_label`; empty when the texts are equal. Removed lines red, added green, hunk headers
/// cyan when `styles` allow colour.
pub fn unified_diff(
    old: &str,
    new: &str,
    old_label: &str,
    new_label: &str,
    styles: Styles,
) -> String {
    if old == new {
        return String::new();
    }
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string();
    if !styles.color {
        return text;
    }
    text.lines()
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
                return format!("{line}\n");
            };
            format!("{}\n", styles.paint(line, style))
        })
        .collect()
}

/// Whether to go ahead with a write described by `question`: `--yes` says yes; otherwise the
/// user is asked on the terminal (default no). Without a terminal and without `--yes` the
/// write is refused (exit 5) rather than guessed.
pub fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !on_terminal() {
        return Err(Error::NotConfirmed(
            "not writing: no terminal to confirm on; rerun with --yes to apply or --dry-run to preview"
                .to_string(),
        ));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| Error::NotConfirmed(format!("not writing: {e}")))
}

/// Whether there is a user to ask: stdin and stderr (where prompts go) are terminals.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_only_changed_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let diff = unified_diff(old, new, "live", "patched", Styles { color: false });
        assert_eq!(
            diff,
            "--- live\n+++ patched\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
        assert_eq!(
            unified_diff(old, old, "a", "b", Styles { color: false }),
            ""
        );
    }

    #[test]
    fn coloured_diff_marks_additions_and_removals() {
        let diff = unified_diff("x\n", "y\n", "a", "b", Styles { color: true });
        assert!(diff.contains("\u{1b}["), "{diff:?}");
        assert!(diff.contains("-x") && diff.contains("+y"));
    }

    #[test]
    fn yes_confirms_without_asking() {
        assert!(matches!(confirm("apply?", true), Ok(true)));
    }
}
