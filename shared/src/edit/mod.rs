//! Changing files safely: format-preserving YAML edits by path ([`yaml`]) and atomic writes
//! (a temporary file in the same directory, renamed over the original, keeping its
//! permissions). The diff and the confirmation question are [`crate::preview`]'s.

pub mod yaml;

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

pub use yaml::{EditError, PathSegment, YamlFile, display_path};

/// A file and its planned new content.
#[derive(Debug, Clone)]
pub struct PlannedWrite {
    pub path: std::path::PathBuf,
    pub before: String,
    pub after: String,
}

/// Replaces `path` with `content` atomically: readers see the old or the new file, never a
/// part, and a failure leaves the old file in place. The file's permissions are kept. A file
/// that has disappeared since it was read is an error, not recreated.
pub fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let permissions = std::fs::metadata(path)
        .map_err(|e| write_error(path, &e))?
        .permissions();
    write_through_temp(path, content, Some(permissions))
}

/// Writes `path` atomically whether or not it exists (reports, generated files): an existing
/// file keeps its permissions, a new one is readable by all (0644).
pub fn create_atomically(path: &Path, content: &str) -> Result<()> {
    let permissions = match std::fs::metadata(path) {
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_file_permissions(),
        Err(e) => return Err(write_error(path, &e)),
    };
    write_through_temp(path, content, permissions)
}

fn write_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Write {
        object: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A temporary file beside `path`, synced, then renamed over it.
fn write_through_temp(
    path: &Path,
    content: &str,
    permissions: Option<std::fs::Permissions>,
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| write_error(path, e);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    temp.write_all(content.as_bytes()).map_err(|e| fail(&e))?;
    temp.as_file().sync_all().map_err(|e| fail(&e))?;
    if let Some(permissions) = permissions {
        std::fs::set_permissions(temp.path(), permissions).map_err(|e| fail(&e))?;
    }
    temp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

/// The temporary file is private (0600); a new file gets the usual 0644 instead (elsewhere
/// than Unix the temporary file's own permissions are the usual ones).
fn new_file_permissions() -> Option<std::fs::Permissions> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(std::fs::Permissions::from_mode(0o644))
    }
    #[cfg(not(unix))]
    {
        None
    }
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
            return Err(Error::Write {
                object: plan.path.display().to_string(),
                message: format!("{e} (already written: {})", done.join(", ")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let report = dir.path().join("report.md");
        create_atomically(&report, "one\n").expect("new file");
        let mode = std::fs::metadata(&report)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "not the temporary file's private 0600");
        create_atomically(&report, "two\n").expect("replaced");
        assert_eq!(std::fs::read_to_string(&report).expect("read"), "two\n");
    }
}
