//! `--scan-report FILE`: the vulnerability counts of a Trivy or Grype JSON image report, matched
//! to the images the workloads use (by normalised reference, or by digest), as
//! `image-vulnerable` findings whose severity is the worst vulnerability's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::catalogue;
use crate::image::ImageRef;
use crate::scan::ImageUse;
use guardrails::error::{Error, Result};
use guardrails::finding::{Finding, Severity};
use serde::Serialize;
use serde_json::{Value, json};

/// Vulnerabilities of one scanned image, by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub unknown: usize,
}

impl Counts {
    fn add(&mut self, severity: &str) {
        match severity.to_ascii_lowercase().as_str() {
            "critical" => self.critical += 1,
            "high" => self.high += 1,
            "medium" => self.medium += 1,
            "low" | "negligible" => self.low += 1,
            _ => self.unknown += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unknown
    }

    /// The worst severity present (unknown ones count as Info).
    pub fn worst(&self) -> Option<Severity> {
        [
            (self.critical, Severity::Critical),
            (self.high, Severity::High),
            (self.medium, Severity::Medium),
            (self.low, Severity::Low),
            (self.unknown, Severity::Info),
        ]
        .into_iter()
        .find(|(n, _)| *n > 0)
        .map(|(_, s)| s)
    }
}

/// One scanned image: the names it was scanned under and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedImage {
    /// Normalised references (the scanned name and its tags).
    pub references: Vec<String>,
    /// Manifest digests (`sha256:…`) from the repo digests.
    pub digests: Vec<String>,
    pub counts: Counts,
    pub scanner: &'static str,
}

/// Reads a Trivy (`ArtifactName`, `Results[].Vulnerabilities[]`) or Grype (`source.target`,
/// `matches[].vulnerability`) JSON report.
pub fn read(path: &Path) -> Result<ScannedImage> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| Error::input(&name, e))?;
    parse(&doc).ok_or_else(|| {
        Error::input(
            &name,
            "neither a Trivy (ArtifactName, Results) nor a Grype (source.target, matches) image report",
        )
    })
}

fn parse(doc: &Value) -> Option<ScannedImage> {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let mut counts = Counts::default();
    let (names, repo_digests, scanner) = if let Some(artifact) = doc.get("ArtifactName") {
        for result in doc.get("Results")?.as_array()? {
            for v in result
                .get("Vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                counts.add(v.get("Severity").and_then(Value::as_str).unwrap_or(""));
            }
        }
        let mut names = vec![artifact.as_str()?.to_string()];
        names.extend(strings(doc.pointer("/Metadata/RepoTags")));
        (
            names,
            strings(doc.pointer("/Metadata/RepoDigests")),
            "trivy",
        )
    } else {
        let target = doc.pointer("/source/target")?;
        for m in doc.get("matches")?.as_array()? {
            counts.add(
                m.pointer("/vulnerability/severity")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
        let mut names: Vec<String> = target
            .get("userInput")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect();
        names.extend(strings(target.get("tags")));
        (names, strings(target.get("repoDigests")), "grype")
    };
    let references = names
        .iter()
        .filter_map(|n| ImageRef::parse(n).ok())
        .map(|i| i.normalized())
        .collect();
    let digests = repo_digests
        .iter()
        .filter_map(|d| d.rsplit_once('@').map(|(_, d)| d.to_string()))
        .collect();
    Some(ScannedImage {
        references,
        digests,
        counts,
        scanner,
    })
}

/// `image-vulnerable` for every use of a scanned image that has vulnerabilities.
pub fn findings(uses: &[ImageUse], scanned: &[ScannedImage]) -> Vec<Finding> {
    let mut by_reference: HashMap<&str, &ScannedImage> = HashMap::new();
    let mut by_digest: HashMap<&str, &ScannedImage> = HashMap::new();
    for s in scanned {
        for r in &s.references {
            by_reference.insert(r, s);
        }
        for d in &s.digests {
            by_digest.insert(d, s);
        }
    }
    let mut findings = Vec::new();
    for u in uses {
        let Some(image) = u.image.as_deref().and_then(|i| ImageRef::parse(i).ok()) else {
            continue;
        };
        let found = image
            .digest
            .as_deref()
            .and_then(|d| by_digest.get(d))
            .or_else(|| by_reference.get(image.normalized().as_str()));
        let Some(s) = found else { continue };
        let Some(worst) = s.counts.worst() else {
            continue;
        };
        let c = &s.counts;
        let summary: BTreeMap<&str, usize> = [
            ("critical", c.critical),
            ("high", c.high),
            ("medium", c.medium),
            ("low", c.low),
            ("unknown", c.unknown),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
        let listed = ["critical", "high", "medium", "low", "unknown"]
            .iter()
            .filter_map(|k| summary.get(k).map(|n| format!("{n} {k}")))
            .collect::<Vec<_>>()
            .join(", ");
        let mut f = Finding::new(
            &catalogue::VULNERABLE,
            u.workload.clone(),
            &format!("{}/{}", u.list.field(), u.container),
            format!(
                "container {}: {} has {} known vulnerabilities ({listed}; {})",
                u.container,
                u.image.as_deref().unwrap_or_default(),
                c.total(),
                s.scanner
            ),
            json!({
                "container": u.container,
                "containerList": u.list,
                "image": u.image,
                "normalized": image.normalized(),
                "vulnerabilities": c,
                "scanner": s.scanner,
            }),
        );
        f.severity = worst;
        findings.push(f);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use guardrails::finding::ObjectRef;
    use guardrails::workload::ContainerList;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn use_of(image: &str) -> ImageUse {
        ImageUse {
            workload: ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web"),
            list: ContainerList::Containers,
            index: 0,
            container: "web".into(),
            image: Some(image.into()),
            pull_policy: None,
            pull_secrets: Vec::new(),
        }
    }

    #[test]
    fn trivy_and_grype_reports_give_counts_and_the_worst_severity() {
        let dir = tempfile::tempdir().expect("tmp");
        let trivy = write(
            dir.path(),
            "trivy.json",
            r#"{"SchemaVersion": 2, "ArtifactName": "nginx:1.27", "ArtifactType": "container_image",
                "Metadata": {"RepoTags": ["nginx:1.27"], "RepoDigests": ["nginx@sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
                "Results": [
                  {"Target": "nginx:1.27 (debian 12.5)", "Class": "os-pkgs", "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-2024-1", "PkgName": "libc6", "Severity": "HIGH"},
                    {"VulnerabilityID": "CVE-2024-2", "PkgName": "zlib1g", "Severity": "MEDIUM"},
                    {"VulnerabilityID": "CVE-2024-3", "PkgName": "zlib1g", "Severity": "MEDIUM"}]},
                  {"Target": "app/go.sum", "Class": "lang-pkgs"}]}"#,
        );
        let grype = write(
            dir.path(),
            "grype.json",
            &format!(
                r#"{{"matches": [
                  {{"vulnerability": {{"id": "CVE-2023-9", "severity": "Critical"}}, "artifact": {{"name": "openssl"}}}},
                  {{"vulnerability": {{"id": "GHSA-x", "severity": "Negligible"}}, "artifact": {{"name": "tzdata"}}}}],
                  "source": {{"type": "image", "target": {{"userInput": "ghcr.io/acme/api:2.0",
                     "tags": ["ghcr.io/acme/api:2.0"], "repoDigests": ["ghcr.io/acme/api@{D}"]}}}}}}"#
            ),
        );
        let t = read(&trivy).expect("trivy");
        assert_eq!(
            t.counts,
            Counts {
                high: 1,
                medium: 2,
                ..Counts::default()
            }
        );
        assert_eq!(t.references, ["docker.io/library/nginx:1.27"; 2]);
        let g = read(&grype).expect("grype");
        assert_eq!((g.counts.critical, g.counts.low), (1, 1));

        let uses = [
            use_of("nginx:1.27"),
            // Matched by digest, whatever the tag.
            use_of(&format!("ghcr.io/acme/api:2.0-rc@{D}")),
            use_of("redis:7"),
        ];
        let found = findings(&uses, &[t, g]);
        let got: Vec<(Severity, &str)> = found
            .iter()
            .map(|f| (f.severity, f.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Severity::High,
                    "container web: nginx:1.27 has 3 known vulnerabilities (1 high, 2 medium; trivy)"
                ),
                (
                    Severity::Critical,
                    &*format!(
                        "container web: ghcr.io/acme/api:2.0-rc@{D} has 2 known vulnerabilities (1 critical, 1 low; grype)"
                    )
                ),
            ]
        );
        assert!(found.iter().all(|f| f.rule == "image-vulnerable"));
    }

    #[test]
    fn other_json_is_an_input_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = write(dir.path(), "sbom.json", r#"{"bomFormat": "CycloneDX"}"#);
        let err = read(&p).expect_err("not a scan report");
        assert_eq!(err.exit_code(), guardrails::exit_code::INPUT);
        assert!(err.to_string().contains("sbom.json"), "{err}");
        let p = write(dir.path(), "broken.json", "{");
        assert_eq!(
            read(&p).expect_err("broken").exit_code(),
            guardrails::exit_code::INPUT
        );
    }
}
