//! The krew packaging: `krew/release.sh` archives the built binaries and renders the index
//! manifest; the manifest must pass krew's validation rules and install the way krew installs
//! it (extract, apply `files`, link `kubectl-<name with _>` to `bin`), after which kubectl runs
//! the plugin.

use std::path::{Path, PathBuf};
use std::process::Command;

use guardrails_e2e::harness;
use serde_json::Value;

const SUPPORTED: &[(&str, &str)] = &[
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// krew's `ValidatePlugin` and `validate-krew-manifest` rules that do not need a network.
/// `archive_of` finds the archive a platform's `uri` points at, when it is at hand, so its
/// sha256 is checked too.
fn validate(manifest: &Value, file_stem: &str, archive_of: &dyn Fn(&str) -> Option<PathBuf>) {
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    let name = manifest["metadata"]["name"].as_str().expect("name");
    assert_eq!(name, file_stem, "metadata.name must equal the file name");
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let reserved = ["con", "prn", "aux", "nul"]
        .map(String::from)
        .into_iter()
        .chain((1..=9).flat_map(|n| [format!("com{n}"), format!("lpt{n}")]));
    for word in reserved {
        assert!(
            !name.eq_ignore_ascii_case(&word),
            "{name} is reserved on Windows"
        );
    }
    let spec = &manifest["spec"];
    let short = spec["shortDescription"].as_str().expect("shortDescription");
    assert!(
        !short.is_empty() && !short.contains('\n') && short.len() <= 70,
        "{short:?}"
    );
    for text in ["description", "caveats"] {
        assert!(
            spec[text]
                .as_str()
                .is_some_and(|d| d.lines().all(|l| l.chars().count() <= 80)),
            "{text}: present, lines of at most 80 characters"
        );
    }
    let version = spec["version"].as_str().expect("version");
    let semver = version.strip_prefix('v').expect("leading v");
    assert_eq!(
        semver
            .split('.')
            .filter(|p| p.parse::<u64>().is_ok())
            .count(),
        3,
        "{version}"
    );
    let platforms = spec["platforms"].as_array().expect("platforms");
    assert!(!platforms.is_empty());
    let mut matched: Vec<(&str, &str)> = Vec::new();
    for p in platforms {
        let labels = p["selector"]["matchLabels"]
            .as_object()
            .expect("matchLabels selector");
        assert!(
            labels.keys().all(|k| k == "os" || k == "arch"),
            "selector keys: {labels:?}"
        );
        let hits: Vec<_> = SUPPORTED
            .iter()
            .filter(|(os, arch)| {
                labels.get("os").is_none_or(|v| v == os)
                    && labels.get("arch").is_none_or(|v| v == arch)
            })
            .collect();
        assert!(!hits.is_empty(), "selector matches no supported platform");
        for hit in hits {
            assert!(!matched.contains(hit), "overlapping selectors for {hit:?}");
            matched.push(*hit);
        }
        let sha = p["sha256"].as_str().expect("sha256");
        assert!(
            sha.len() == 64
                && sha
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{sha}"
        );
        let uri = p["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with("https://") && (uri.ends_with(".tar.gz") || uri.ends_with(".zip")),
            "{uri}"
        );
        if let Some(archive) = archive_of(uri) {
            assert_eq!(sha, sha256(&archive), "sha256 of {}", archive.display());
        }
        assert!(
            p["bin"]
                .as_str()
                .is_some_and(|b| !b.is_empty() && !b.contains("..") && !b.starts_with('/')),
            "bin inside the plugin's directory"
        );
        for op in p["files"].as_array().expect("files") {
            assert!(
                op["from"].as_str().is_some_and(|s| !s.is_empty())
                    && op["to"].as_str().is_some_and(|s| !s.is_empty())
            );
        }
    }
}

#[test]
fn release_archive_and_manifest_install_like_krew() {
    let dir = tempfile::tempdir().expect("tmp");
    let (dist, index) = (dir.path().join("dist"), dir.path().join("plugins"));
    let bin_dir = stripped_binaries(dir.path());
    let status = Command::new("bash")
        .arg(repo().join("krew/release.sh"))
        .arg(format!("v{}", env!("CARGO_PKG_VERSION")))
        .env("BIN_DIR", &bin_dir)
        .env("DIST_DIR", &dist)
        .env("KREW_OUT", &index)
        .current_dir(repo())
        .status()
        .expect("release.sh runs");
    assert!(status.success());

    let archive = std::fs::read_dir(&dist)
        .expect("dist")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("archive");
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .expect("tar");
    let listing = String::from_utf8_lossy(&listing.stdout);
    // Archive: flat, regular files only.
    assert!(
        listing
            .lines()
            .all(|l| l.starts_with('-') || l.starts_with('d')),
        "regular files only:\n{listing}"
    );
    assert!(listing.contains("LICENSE"));
    // krew refuses "suspicious" entries: `..` anywhere, or an absolute path.
    let names = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .expect("tar");
    for entry in String::from_utf8_lossy(&names.stdout).lines() {
        assert!(
            !entry.split('/').any(|part| part == "..")
                && !entry.starts_with('/')
                && !entry.starts_with('\\'),
            "suspicious archive entry {entry}"
        );
    }
    let plugins = packaged_plugins();
    assert!(plugins.contains(&"rbac-audit".to_string()), "{plugins:?}");
    for plugin in &plugins {
        install_and_run(dir.path(), &index, &archive, &listing, plugin);
    }
    let list = Command::new(harness::kubectl_binary())
        .args(["plugin", "list"])
        .env(
            "PATH",
            std::env::join_paths([dir.path().join("bin"), "/usr/bin".into(), "/bin".into()])
                .expect("path"),
        )
        .env("HOME", dir.path())
        .output()
        .expect("kubectl plugin list");
    let list = String::from_utf8_lossy(&list.stdout);
    for plugin in &plugins {
        let exe = format!("kubectl-{}", plugin.replace('-', "_"));
        assert!(
            list.lines().any(|l| l.ends_with(&format!("/bin/{exe}"))),
            "kubectl plugin list shows {exe}:\n{list}"
        );
    }
}

/// The platform krew picks on this machine: the one whose selector matches its os/arch.
fn host_platform(manifest: &Value) -> &Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let os = std::env::consts::OS;
    manifest["spec"]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .find(|p| {
            let labels = &p["selector"]["matchLabels"];
            labels["os"].as_str().is_none_or(|v| v == os)
                && labels["arch"].as_str().is_none_or(|v| v == arch)
        })
        .unwrap_or_else(|| panic!("no platform for {os}/{arch}"))
}

/// The published index (`krew/plugins/`, the root of the index repository): one valid manifest
/// per plugin, for this version, rendered from the templates (not edited by hand). With
/// `KREW_DIST` set (the release workflow), every archive's sha256 is checked too.
#[test]
fn the_committed_index_is_valid_and_matches_the_templates() {
    let index = repo().join("krew/plugins");
    let dist = std::env::var_os("KREW_DIST").map(PathBuf::from);
    let archive_of = |uri: &str| -> Option<PathBuf> {
        let dist = dist.as_ref()?;
        Some(dist.join(uri.rsplit('/').next()?))
    };
    let plugins = packaged_plugins();
    assert_eq!(plugins.len(), 4, "{plugins:?}");
    for plugin in &plugins {
        let path = index.join(format!("{plugin}.yaml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let manifest: Value = serde_yaml_ng::from_str(&text).expect("yaml");
        validate(&manifest, plugin, &archive_of);
        assert_eq!(
            manifest["spec"]["version"],
            format!("v{}", env!("CARGO_PKG_VERSION")),
            "{plugin}: the index is for this version"
        );
        // Everything but the platforms list comes verbatim from the template.
        let template =
            std::fs::read_to_string(repo().join(format!("krew/templates/{plugin}.yaml")))
                .expect("template")
                .replace("{{VERSION}}", &format!("v{}", env!("CARGO_PKG_VERSION")));
        let (before, after) = template.split_once("{{PLATFORMS}}\n").expect("placeholder");
        assert!(
            text.starts_with(before) && text.ends_with(after),
            "{plugin}: krew/plugins differs from its template; re-render with krew/release.sh index"
        );
        let exe = format!("kubectl-{}", plugin.replace('-', "_"));
        for platform in manifest["spec"]["platforms"].as_array().expect("platforms") {
            let files: Vec<&str> = platform["files"]
                .as_array()
                .expect("files")
                .iter()
                .filter_map(|f| f["from"].as_str())
                .collect();
            let bin = platform["bin"].as_str().expect("bin");
            assert!(bin.trim_end_matches(".exe") == exe, "{plugin}: bin {bin}");
            assert!(
                files.contains(&bin) && files.contains(&"LICENSE"),
                "{files:?}"
            );
            assert!(
                files.iter().any(|f| f.starts_with("kubectl_complete-")),
                "{plugin}: the completion helper is installed too"
            );
        }
    }
}

/// The built plugins without their debug information, as release binaries ship (the test
/// binaries are debug builds of ~200 MB each, which would make packaging take minutes).
fn stripped_binaries(root: &Path) -> PathBuf {
    let out = root.join("bin-stripped");
    std::fs::create_dir_all(&out).expect("mkdir");
    for entry in std::fs::read_dir(harness::profile_dir())
        .expect("built binaries")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if !(name.starts_with("kubectl-") || name.starts_with("kubectl_complete-"))
            || name.ends_with(".d")
        {
            continue;
        }
        let stripped = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(out.join(&name))
            .arg(entry.path())
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(entry.path(), out.join(&name)).expect("copy binary");
        }
    }
    out
}

/// Every plugin with a krew template and a crate (what release.sh packages).
fn packaged_plugins() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(repo().join("krew/templates"))
        .expect("krew/templates")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".yaml").map(str::to_string)
        })
        .filter(|p| repo().join("plugins").join(p).is_dir())
        .collect();
    out.sort();
    out
}

/// Validates `plugin`'s manifest, installs it from the archive as krew does for this platform
/// and runs it through kubectl.
fn install_and_run(root: &Path, index: &Path, archive: &Path, listing: &str, plugin: &str) {
    let exe = format!("kubectl-{}", plugin.replace('-', "_"));
    let manifest_path = index.join(format!("{plugin}.yaml"));
    let manifest: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("yaml");
    validate(&manifest, plugin, &|_| Some(archive.to_path_buf()));
    assert!(listing.contains(&exe), "{exe} in the archive");
    assert!(
        listing.contains(&format!("kubectl_complete-{}", plugin.replace('-', "_"))),
        "the completion helper of {plugin} ships too"
    );

    let platform = host_platform(&manifest);
    let extracted = root.join(format!("extract-{plugin}"));
    let store = root.join(format!("store/{plugin}/v{}", env!("CARGO_PKG_VERSION")));
    let bin_dir = root.join("bin");
    for d in [&extracted, &store, &bin_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    assert!(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(&extracted)
            .status()
            .expect("tar")
            .success()
    );
    for op in platform["files"].as_array().expect("files") {
        let from = op["from"].as_str().expect("from");
        std::fs::rename(extracted.join(from), store.join(from)).expect("files op");
    }
    // krew deletes what the files operations did not pick; so does this, to keep the disk free.
    std::fs::remove_dir_all(&extracted).expect("remove the extraction");
    let bin = store.join(platform["bin"].as_str().expect("bin"));
    assert!(bin.is_file());
    let licenses = [
        "license",
        "license.txt",
        "license.md",
        "licenses",
        "licenses.txt",
        "licenses.md",
        "copying",
        "copying.txt",
    ];
    assert!(licenses.iter().any(|l| {
        std::fs::read_dir(&store)
            .expect("store")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(l))
    }));
    std::os::unix::fs::symlink(&bin, bin_dir.join(&exe)).expect("link");

    let out = Command::new(harness::kubectl_binary())
        .args([plugin, "--version"])
        .env(
            "PATH",
            std::env::join_paths([bin_dir.clone(), "/usr/bin".into(), "/bin".into()])
                .expect("path"),
        )
        .env("HOME", root)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{plugin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
