//! `resolve`: each distinct image (by normalised reference, however many workloads use it)
//! is resolved once against its registry; the answer lists who uses it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use crate::image::{Credential, ImageRef, Keyring, ResolveError, Resolver};
use guardrails::cli::OutputFormat;
use guardrails::error::Result;
use guardrails::finding::ObjectRef;
use guardrails::render::{self, Styles, Table};
use serde::Serialize;

use crate::scan::ImageUse;

/// One distinct image to resolve.
#[derive(Debug, Clone)]
pub struct Target {
    /// The first spelling met (sorted), e.g. `nginx`.
    pub reference: String,
    pub image: Option<ImageRef>,
    pub parse_error: Option<String>,
    pub used_by: BTreeSet<ObjectRef>,
    /// (namespace, Secret name) of the pull secrets of the workloads using it.
    pub pull_secrets: BTreeSet<(String, String)>,
}

/// Distinct images of `uses`, keyed by normalised reference (invalid ones by their text).
pub fn targets(uses: &[ImageUse]) -> Vec<Target> {
    let mut by_key: BTreeMap<String, Target> = BTreeMap::new();
    for u in uses {
        let Some(written) = &u.image else { continue };
        let (key, image, parse_error) = match ImageRef::parse(written) {
            Ok(image) => (image.normalized(), Some(image), None),
            Err(e) => (written.clone(), None, Some(e.to_string())),
        };
        let target = by_key.entry(key).or_insert_with(|| Target {
            reference: written.clone(),
            image,
            parse_error,
            used_by: BTreeSet::new(),
            pull_secrets: BTreeSet::new(),
        });
        if *written < target.reference {
            target.reference = written.clone();
        }
        target.used_by.insert(u.workload.clone());
        for secret in &u.pull_secrets {
            target
                .pull_secrets
                .insert((u.namespace().to_string(), secret.clone()));
        }
    }
    by_key.into_values().collect()
}

/// The contract's `ImageResolution` entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    pub reference: String,
    pub normalized: Option<String>,
    pub digest: Option<String>,
    /// `name:tag@digest`, what `pin` writes.
    pub pinned: Option<String>,
    pub media_type: Option<String>,
    pub error: Option<String>,
    pub used_by: Vec<ObjectRef>,
    /// The registry answered that the tag or digest does not exist (not another failure).
    #[serde(skip)]
    pub not_found: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageResolution {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub images: Vec<Resolution>,
}

impl ImageResolution {
    pub fn has_errors(&self) -> bool {
        self.images.iter().any(|i| i.error.is_some())
    }
}

/// The keyrings of the pull secrets, read from the cluster once each. A Secret that cannot
/// be read or parsed is a warning: the other credentials are still tried.
pub async fn pull_secret_keyrings(
    client: &kube::Client,
    targets: &[Target],
) -> HashMap<(String, String), Keyring> {
    use k8s_openapi::api::core::v1::Secret;
    let wanted: BTreeSet<&(String, String)> =
        targets.iter().flat_map(|t| t.pull_secrets.iter()).collect();
    let fetches = wanted.into_iter().map(|key| async move {
        let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), &key.0);
        (key.clone(), api.get(&key.1).await)
    });
    let mut keyrings = HashMap::new();
    for ((namespace, name), result) in futures::future::join_all(fetches).await {
        let source = format!("Secret {namespace}/{name}");
        let secret = match result {
            Ok(secret) => secret,
            Err(e) => {
                guardrails::run::warn(&format!(
                    "imagePullSecret {namespace}/{name} not used: {}",
                    guardrails::cluster::describe_kube_error(&e)
                ));
                continue;
            }
        };
        let data = secret.data.unwrap_or_default();
        let Some(bytes) = data
            .get(".dockerconfigjson")
            .or_else(|| data.get(".dockercfg"))
        else {
            guardrails::run::warn(&format!(
                "imagePullSecret {namespace}/{name} has neither .dockerconfigjson nor .dockercfg"
            ));
            continue;
        };
        let mut keyring = Keyring::default();
        match keyring.add_pull_secret(&bytes.0, &source) {
            Ok(()) => {
                keyrings.insert((namespace, name), keyring);
            }
            Err(e) => guardrails::run::warn(&format!("imagePullSecret {e}")),
        }
    }
    keyrings
}

/// Resolves every target (bounded concurrency inside the resolver), in target order.
pub async fn resolve(
    resolver: &Resolver,
    targets: &[Target],
    pull_secrets: &HashMap<(String, String), Keyring>,
) -> ImageResolution {
    let valid: Vec<(ImageRef, Vec<Credential>)> = targets
        .iter()
        .filter_map(|t| {
            let image = t.image.clone()?;
            let mut credentials: Vec<Credential> = t
                .pull_secrets
                .iter()
                .filter_map(|key| pull_secrets.get(key))
                .flat_map(|k| k.lookup(&image))
                .collect();
            credentials.dedup();
            Some((image, credentials))
        })
        .collect();
    let mut answers = resolver.resolve_all(&valid).await.into_iter();
    let images = targets
        .iter()
        .map(|t| {
            let mut r = Resolution {
                reference: t.reference.clone(),
                normalized: t.image.as_ref().map(ImageRef::normalized),
                digest: None,
                pinned: None,
                media_type: None,
                error: t.parse_error.clone(),
                used_by: t.used_by.iter().cloned().collect(),
                not_found: false,
            };
            if let Some(image) = &t.image {
                match answers.next() {
                    Some(Ok(resolved)) => {
                        r.pinned = Some(image.pinned(&resolved.digest));
                        r.digest = Some(resolved.digest);
                        r.media_type = resolved.media_type;
                    }
                    Some(Err(e)) => {
                        r.not_found = matches!(e, ResolveError::UnknownTag(_));
                        r.error = Some(describe(image, &e));
                    }
                    None => r.error = Some("not resolved".into()),
                }
            }
            r
        })
        .collect();
    ImageResolution {
        api_version: "guardrails/v1",
        kind: "ImageResolution",
        images,
    }
}

fn describe(image: &ImageRef, e: &ResolveError) -> String {
    format!("{}: {e}", image.normalized())
}

pub fn write(
    out: &mut dyn Write,
    resolution: &ImageResolution,
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    match format {
        OutputFormat::Json | OutputFormat::Sarif => render::write_json(out, resolution),
        OutputFormat::Yaml => render::write_yaml(out, resolution),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            let wide = format == OutputFormat::Wide;
            let mut headers = vec!["IMAGE", "DIGEST", "USED BY"];
            if wide {
                headers.push("MEDIA TYPE");
            }
            let mut table = Table::new(&headers);
            for i in &resolution.images {
                let digest = match (&i.digest, &i.error) {
                    (Some(d), _) => d.clone(),
                    (None, Some(e)) => styles.paint(
                        &format!("error: {}", e.split_once(": ").map_or(e.as_str(), |x| x.1)),
                        owo_colors_red(),
                    ),
                    (None, None) => "-".into(),
                };
                let used_by = match i.used_by.len() {
                    0 => "-".into(),
                    1 => i.used_by[0].display_path(),
                    n if !wide => format!("{} +{} more", i.used_by[0].display_path(), n - 1),
                    _ => i
                        .used_by
                        .iter()
                        .map(ObjectRef::display_path)
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let mut row = vec![
                    i.normalized.clone().unwrap_or_else(|| i.reference.clone()),
                    digest,
                    used_by,
                ];
                if wide {
                    row.push(i.media_type.clone().unwrap_or_else(|| "-".into()));
                }
                table.row(row);
            }
            table.write_as(out, styles, format)?;
            let errors = resolution
                .images
                .iter()
                .filter(|i| i.error.is_some())
                .count();
            writeln!(
                out,
                "\n{} images: {} resolved, {} failed",
                resolution.images.len(),
                resolution.images.len() - errors,
                errors
            )?;
            Ok(())
        }
    }
}

fn owo_colors_red() -> owo_colors::Style {
    owo_colors::Style::new().red()
}
