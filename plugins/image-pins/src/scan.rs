//! Where images are used (every container, init container and ephemeral container of every
//! workload) and the findings about each use.

use std::collections::BTreeMap;
use std::io::Write;

use crate::image::ImageRef;
use guardrails::cluster::NamespaceScope;
use guardrails::error::{Error, Result};
use guardrails::finding::{Finding, ObjectRef, Report, RuleInfo, Severity};
use guardrails::inventory::Inventory;
use guardrails::render::{Styles, Table};
use guardrails::selector::LabelQuery;
use guardrails::workload::{ContainerList, container_images};
use serde_json::json;

use crate::catalogue;

/// One container's image in one workload.
#[derive(Debug, Clone)]
pub struct ImageUse {
    pub workload: ObjectRef,
    pub list: ContainerList,
    pub index: usize,
    pub container: String,
    /// As written; `None` when the container names no image.
    pub image: Option<String>,
    pub pull_policy: Option<String>,
    /// imagePullSecrets of the pod spec, then of its ServiceAccount (namespace-local names).
    pub pull_secrets: Vec<String>,
}

impl ImageUse {
    pub fn namespace(&self) -> &str {
        self.workload.namespace.as_deref().unwrap_or("default")
    }
}

/// Every image use of the workloads in scope (controllers once; their pods fold into them).
pub fn image_uses(
    inventory: &Inventory,
    scope: &NamespaceScope,
    selector: Option<&LabelQuery>,
) -> Result<Vec<ImageUse>> {
    let empty = BTreeMap::new();
    let mut uses = Vec::new();
    for w in inventory.pending_workloads() {
        if !scope.includes(w.object.namespace.as_deref()) {
            continue;
        }
        if let Some(selector) = selector
            && !selector.matches(w.metadata.labels.as_ref().unwrap_or(&empty))
        {
            continue;
        }
        let w = w.resolve(inventory)?;
        let mut pull_secrets: Vec<String> = w
            .pod_spec
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|s| s.name.clone())
            .collect();
        if let Some(sa) = inventory.service_account(w.namespace(), w.service_account_name()) {
            pull_secrets.extend(
                sa.image_pull_secrets
                    .iter()
                    .flatten()
                    .map(|s| s.name.clone()),
            );
        }
        pull_secrets.dedup();
        // `kubectl debug` containers added to the controller's pods run under it too.
        let added = w
            .added_ephemeral_containers
            .iter()
            .enumerate()
            .map(|(index, c)| guardrails::workload::ContainerImage {
                list: ContainerList::EphemeralContainers,
                index,
                name: &c.name,
                image: c.image.as_deref(),
                pull_policy: c.image_pull_policy.as_deref(),
            });
        for c in container_images(&w.pod_spec).into_iter().chain(added) {
            uses.push(ImageUse {
                workload: w.object.clone(),
                list: c.list,
                index: c.index,
                container: c.name.to_string(),
                image: c.image.map(str::to_string),
                pull_policy: c.pull_policy.map(str::to_string),
                pull_secrets: pull_secrets.clone(),
            });
        }
    }
    Ok(uses)
}

/// Allowed registries / repository prefixes (`--allow-registry`, `--allow-registries-file`).
#[derive(Debug, Clone, Default)]
pub struct RegistryPolicy {
    prefixes: Vec<String>,
}

impl RegistryPolicy {
    pub fn new(flags: &[String], file: Option<&std::path::Path>) -> Result<RegistryPolicy> {
        let mut prefixes: Vec<String> = flags.to_vec();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::input(path.display().to_string(), e))?;
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    prefixes.push(line.to_string());
                }
            }
        }
        let prefixes = prefixes
            .iter()
            .map(|p| normalize_prefix(p))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(Error::Usage)?;
        Ok(RegistryPolicy { prefixes })
    }

    /// Whether a policy was given at all (no policy: every registry is fine).
    pub fn is_active(&self) -> bool {
        !self.prefixes.is_empty()
    }

    /// The image's repository equals a prefix or lies below it (whole path components).
    pub fn allows(&self, image: &ImageRef) -> bool {
        let repository = format!("{}/{}", image.domain.to_ascii_lowercase(), image.path);
        self.prefixes.iter().any(|p| {
            repository == *p
                || repository
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// `index.docker.io` and `docker.io` are one registry; hosts compare case-insensitively.
fn normalize_prefix(prefix: &str) -> std::result::Result<String, String> {
    let trimmed = prefix
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if trimmed.is_empty() || trimmed.contains(['@', ' ']) {
        return Err(format!(
            "--allow-registry {prefix:?}: expected a registry host or repository prefix"
        ));
    }
    let (host, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let host = match host.to_ascii_lowercase().as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    };
    Ok(if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    })
}

/// The findings about every image use.
pub fn scan(uses: &[ImageUse], policy: &RegistryPolicy) -> Vec<Finding> {
    let mut findings = Vec::new();
    for u in uses {
        let distinguishing = format!("{}/{}", u.list.field(), u.container);
        let mut evidence = json!({
            "container": u.container,
            "containerList": u.list,
            "image": u.image,
        });
        let mut add = |rule: &RuleInfo, message: String, evidence: &serde_json::Value| {
            findings.push(Finding::new(
                rule,
                u.workload.clone(),
                &distinguishing,
                message,
                evidence.clone(),
            ));
        };
        let Some(written) = &u.image else {
            add(
                &catalogue::INVALID_REFERENCE,
                format!("container {} has no image", u.container),
                &evidence,
            );
            continue;
        };
        let image = match ImageRef::parse(written) {
            Ok(image) => image,
            Err(e) => {
                add(
                    &catalogue::INVALID_REFERENCE,
                    format!("container {}: {e}", u.container),
                    &evidence,
                );
                continue;
            }
        };
        evidence["normalized"] = json!(image.normalized());
        if let Some(policy) = &u.pull_policy {
            evidence["imagePullPolicy"] = json!(policy);
        }
        let c = &u.container;
        if image.is_mutable() {
            match image.tag.as_deref() {
                None => add(
                    &catalogue::NO_TAG,
                    format!("container {c} runs {written} (no tag: latest)"),
                    &evidence,
                ),
                Some("latest") => add(
                    &catalogue::LATEST_TAG,
                    format!("container {c} runs {written}"),
                    &evidence,
                ),
                Some(tag) => add(
                    &catalogue::NOT_PINNED,
                    format!("container {c} runs {written}: tag {tag} without digest"),
                    &evidence,
                ),
            }
            let moving = image.effective_tag() == Some("latest");
            if moving && let Some(policy @ ("IfNotPresent" | "Never")) = u.pull_policy.as_deref() {
                add(
                    &catalogue::PULL_POLICY_MISMATCH,
                    format!("container {c} runs {written} with imagePullPolicy {policy}"),
                    &evidence,
                );
            }
        }
        if policy.is_active() && !policy.allows(&image) {
            add(
                &catalogue::REGISTRY_NOT_ALLOWED,
                format!("container {c} pulls from {} (not allowed)", image.domain),
                &evidence,
            );
        }
    }
    findings
}

/// An image's rules (most severe first) and the `workload (container)` entries under each.
type RulesOfImage = BTreeMap<(std::cmp::Reverse<Severity>, String), Vec<String>>;

/// The human table, one row per image and rule: which workloads (and containers) use it.
pub fn write_grouped_table(
    out: &mut dyn Write,
    report: &Report,
    wide: bool,
    styles: Styles,
) -> Result<()> {
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
    } else {
        // image → rule → (severity, users)
        let mut groups: BTreeMap<String, RulesOfImage> = BTreeMap::new();
        for f in &report.findings {
            let evidence = f.evidence_value();
            let image = evidence["normalized"]
                .as_str()
                .or(evidence["image"].as_str())
                .unwrap_or("<none>")
                .to_string();
            let user = format!(
                "{} ({})",
                f.object.display_path(),
                evidence["container"].as_str().unwrap_or("?")
            );
            // A vulnerability finding shows its counts: "image-vulnerable (1 critical, 2 high)".
            let rule = match evidence.get("vulnerabilities").and_then(|v| v.as_object()) {
                Some(counts) => {
                    let listed: Vec<String> = ["critical", "high", "medium", "low", "unknown"]
                        .iter()
                        .filter_map(|k| {
                            let n = counts.get(*k)?.as_u64().filter(|n| *n > 0)?;
                            Some(format!("{n} {k}"))
                        })
                        .collect();
                    format!("{} ({})", f.rule, listed.join(", "))
                }
                None => f.rule.to_string(),
            };
            groups
                .entry(image)
                .or_default()
                .entry((std::cmp::Reverse(f.severity), rule))
                .or_default()
                .push(user);
        }
        let headers: &[&str] = if wide {
            &["IMAGE", "SEVERITY", "RULE", "CONTAINERS", "USED BY"]
        } else {
            &["IMAGE", "SEVERITY", "RULE", "USED BY"]
        };
        let mut table = Table::new(headers);
        for (image, rules) in &groups {
            for ((severity, rule), users) in rules {
                let mut users = users.clone();
                users.sort();
                users.dedup();
                let used_by = if wide {
                    users.join(", ")
                } else {
                    let workloads: std::collections::BTreeSet<&str> = users
                        .iter()
                        .map(|u| u.split(" (").next().unwrap_or(u))
                        .collect();
                    let first: Vec<&str> = workloads.iter().take(2).copied().collect();
                    match workloads.len() {
                        n if n > 2 => format!("{} +{} more", first.join(", "), n - 2),
                        _ => first.join(", "),
                    }
                };
                let mut row = vec![image.clone(), styles.severity(severity.0), rule.clone()];
                if wide {
                    row.push(users.len().to_string());
                }
                row.push(used_by);
                table.row(row);
            }
        }
        table.write(out, styles)?;
    }
    guardrails::render::write_report_footer(out, report, styles)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
