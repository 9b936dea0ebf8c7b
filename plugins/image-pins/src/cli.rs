//! `kubectl image-pins` flags: the suite's common flags plus this plugin's subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use guardrails::cli::{CommonArgs, WriteArgs};

#[derive(Parser, Debug)]
#[command(
    name = "image-pins",
    bin_name = "kubectl image-pins",
    version,
    about = "Find mutable container images (latest, no tag, tag without digest, registries not allowed), resolve their tags to digests against the registry, and pin them.",
    long_about = None,
    after_help = help_text::TEXT,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Which registries images may come from.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Allowed registry or repository prefix (repeatable): ghcr.io, docker.io/library, registry.example.com:5000/team
    #[arg(
        long = "allow-registry",
        global = true,
        value_name = "PREFIX",
        help_heading = "Policy"
    )]
    pub allow_registry: Vec<String>,
    /// A file of allowed prefixes, one per line (# comments); adds to --allow-registry
    #[arg(
        long = "allow-registries-file",
        global = true,
        value_name = "FILE",
        help_heading = "Policy"
    )]
    pub allow_registries_file: Option<PathBuf>,
    /// A Trivy or Grype JSON image report (repeatable): image-vulnerable findings for the images it scanned
    #[arg(
        long = "scan-report",
        global = true,
        value_name = "FILE",
        help_heading = "Policy"
    )]
    pub scan_report: Vec<PathBuf>,
}

/// How registries are contacted (resolve, pin).
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Registry (host[:port]) spoken to over plain HTTP (repeatable); all others use HTTPS
    #[arg(
        long = "insecure-registry",
        global = true,
        value_name = "HOST[:PORT]",
        help_heading = "Registry"
    )]
    pub insecure_registry: Vec<String>,
    /// Registry requests in flight at once
    #[arg(long, global = true, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Registry")]
    pub concurrency: u16,
}

/// Examples, then the suite's exit codes.
mod help_text {
    pub const TEXT: &str = concat!(
        "Examples:\n",
        "  # Mutable images in every namespace, grouped by image\n",
        "  kubectl image-pins -A\n\n",
        "  # Manifests offline; only images from ghcr.io and the Docker Hub library are allowed\n",
        "  kubectl image-pins -f deploy/ -R --allow-registry ghcr.io --allow-registry docker.io/library\n\n",
        "  # The digest each tag points at now, using the workloads' imagePullSecrets\n",
        "  kubectl image-pins resolve -A -o json\n\n",
        "  # Rewrite the manifests to name:tag@sha256:… (comments and layout kept); diff first\n",
        "  kubectl image-pins pin -f deploy/ -R --dry-run=client\n",
        "  kubectl image-pins pin -f deploy/ -R --yes\n\n",
        "  # Pin the live controllers of a namespace (never their pods; a rollout follows)\n",
        "  kubectl image-pins pin -n shop --dry-run=server\n",
        "  kubectl image-pins pin -n shop --yes\n\n",
        "Credentials: the workloads' imagePullSecrets (live), then $DOCKER_CONFIG/config.json or\n",
        "~/.docker/config.json (auths, credHelpers, credsStore), then anonymous access.\n",
        "resolve and pin exit 4 when an image cannot be resolved (the others still are).\n\n",
        guardrails::exit_code_help!(),
    );
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report mutable or disallowed images (the default command)
    Scan,
    /// Resolve every image's tag to the digest the registry serves now
    Resolve,
    /// Live: compare each workload's pinned digest, the digests its pods run and the digest its tag points to now
    Drift,
    /// Pin mutable images to name:tag@digest: in manifest files (-f, format-preserving) or in live controllers' pod templates (guarded patches)
    Pin {
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Fold the plugins' JSON reports into the dated score report (Markdown + JSON) and what changed since the last one
    Scorecard(guardrails::scorecard::ScorecardArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent_and_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kubectl-image_pins",
            "pin",
            "-f",
            "x.yaml",
            "--dry-run=client",
            "--allow-registry",
            "ghcr.io",
            "--insecure-registry",
            "127.0.0.1:5000",
        ])
        .expect("parse");
        match cli.command {
            Some(Command::Pin { write }) => {
                assert_eq!(write.dry_run, guardrails::cli::DryRun::Client);
                assert!(!write.yes);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(cli.policy.allow_registry, ["ghcr.io"]);
        assert_eq!(cli.registry.concurrency, 16);
        assert!(Cli::try_parse_from(["kubectl-image_pins", "--concurrency", "0"]).is_err());
    }

    #[test]
    fn help_carries_the_suite_exit_codes() {
        assert!(help_text::TEXT.ends_with(guardrails::exit_code::HELP));
    }
}
