//! Running kubectl and the built plugins from tests: PATH with the cargo profile directory
//! first, an isolated HOME (no real `~/.kube/config`, a private discovery cache), no colours.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cargo profile directory holding the built plugin binaries (`target/debug`): the parent
/// of the `deps` folder the test binary runs from, else `$CARGO_TARGET_DIR/debug`, else
/// `<workspace>/target/debug`.
pub fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.file_name().is_some_and(|n| n == "deps")
                && let Some(profile) = dir.parent()
            {
                return profile.to_path_buf();
            }
        }
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("debug");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|ws| ws.join("target").join("debug"))
        .unwrap_or_else(|| PathBuf::from("target/debug"))
}

/// A built binary in [`profile_dir`] (e.g. `kubectl-rbac_audit`), if it exists.
pub fn plugin_binary(name: &str) -> Option<PathBuf> {
    let p = profile_dir().join(name);
    p.is_file().then_some(p)
}

/// A directory holding only the built plugin executables (symlinks into [`profile_dir`]),
/// the way an install puts them on PATH: cargo's `kubectl-*.d` dep-info files next to the
/// binaries would otherwise make `kubectl plugin list` report them as broken plugins.
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir()
            .join("guardrails-e2e-plugins")
            .join(format!("pid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        if let Ok(entries) = std::fs::read_dir(profile_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let is_plugin = (name.starts_with("kubectl-")
                    || name.starts_with("kubectl_complete-"))
                    && !name.contains('.')
                    && entry.path().is_file();
                if is_plugin {
                    let _ = std::os::unix::fs::symlink(entry.path(), dir.join(name));
                }
            }
        }
        dir
    })
    .clone()
}

/// PATH with [`plugin_dir`] first, then the existing PATH.
pub fn plugin_path_env() -> OsString {
    let mut dirs = vec![plugin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| plugin_dir().into_os_string())
}

/// The kubectl binary: `$GUARDRAILS_E2E_KUBECTL` if set, else `/usr/bin/kubectl` when
/// present, else `kubectl` from PATH.
///
/// On this machine `/usr/bin/kubectl` is the Google Cloud SDK kubectl-dispatcher: every run
/// first GETs `/version` (User-Agent `kubectl-dispatcher/v1.0`, `?timeout=5s`) to pick a
/// version-matched kubectl; for the recorded server (v1.24) it runs its default, v1.32.
pub fn kubectl_binary() -> PathBuf {
    if let Some(custom) = std::env::var_os("GUARDRAILS_E2E_KUBECTL") {
        return PathBuf::from(custom);
    }
    let usr = PathBuf::from("/usr/bin/kubectl");
    if usr.is_file() {
        usr
    } else {
        PathBuf::from("kubectl")
    }
}

/// A new, empty HOME directory for one command, under
/// `$TMPDIR/guardrails-e2e-homes/pid-<this process>/`. Statics are never dropped, so the
/// folders of test processes that have ended are removed the first time this runs.
pub fn fresh_home() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join("guardrails-e2e-homes");
        remove_stale_homes(&base);
        base.join(format!("pid-{}", std::process::id()))
    });
    let dir = root.join(format!("home-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Removes `pid-N` folders of processes that no longer run (only where `/proc` tells).
fn remove_stale_homes(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("pid-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// kubectl with [`plugin_path_env`], `NO_COLOR=1`, a fresh HOME and no `KUBECONFIG`: pass
/// `--kubeconfig` (or set `KUBECONFIG` on the returned command).
pub fn kubectl(args: &[&str]) -> Command {
    kubectl_in_home(&fresh_home(), args)
}

/// Like [`kubectl`] with a given HOME.
pub fn kubectl_in_home(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(kubectl_binary());
    cmd.args(args)
        .env("PATH", plugin_path_env())
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("KUBECTL_KUBERC");
    cmd
}
