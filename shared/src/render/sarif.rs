//! SARIF 2.1.0 for GitHub code scanning: one rule descriptor per catalogue entry (with
//! `security-severity`), one result per finding with a stable partial fingerprint.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::finding::{Finding, Report, RuleInfo, Severity};

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// GitHub ranks code-scanning alerts by this CVSS-like number.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn properties(entries: serde_json::Value) -> PropertyBag {
    let additional_properties: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(entries).unwrap_or_default();
    PropertyBag::builder()
        .additional_properties(additional_properties)
        .build()
}

/// What a URI path segment may not hold as is (RFC 3986): encoded, so every `uri` is a valid
/// URI reference. `:` too, which would make a relative path's first segment a scheme.
const NOT_IN_URI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Where code scanning attaches a finding. Offline: the manifest, relative to the working
/// directory (the repository root in CI; code scanning wants repository-relative URIs), or a
/// `file://` URI when outside it. Live, and for stdin (rendered Helm/kustomize output, whose
/// line numbers move with every unrelated change): a stable pseudo-path named after the object.
fn artifact(f: &Finding) -> (String, usize) {
    let encode = |path: &str| utf8_percent_encode(path, NOT_IN_URI_PATH).to_string();
    match &f.location {
        Some(loc) if &*loc.file != "-" => {
            let path = std::path::Path::new(&*loc.file);
            let relative = match std::env::current_dir() {
                Ok(cwd) if path.is_absolute() => path.strip_prefix(&cwd).ok(),
                _ if path.is_absolute() => None,
                _ => Some(path),
            };
            let uri = match relative {
                Some(rel) => encode(rel.to_string_lossy().trim_start_matches("./")),
                None => format!("file://{}", encode(&loc.file)),
            };
            (uri, loc.line)
        }
        _ => (
            encode(&format!(
                "cluster/{}/{}/{}",
                f.object.namespace.as_deref().unwrap_or("_cluster"),
                f.object.kind,
                f.object.name
            )),
            1,
        ),
    }
}

pub fn to_sarif(report: &Report, rules: &[RuleInfo]) -> Sarif {
    let descriptors: Vec<ReportingDescriptor> = rules
        .iter()
        .map(|r| {
            ReportingDescriptor::builder()
                .id(r.id)
                .name(r.title)
                .short_description(MultiformatMessageString::builder().text(r.title).build())
                .full_description(
                    MultiformatMessageString::builder()
                        .text(r.rationale)
                        .build(),
                )
                .help(
                    MultiformatMessageString::builder()
                        .text(r.remediation)
                        .build(),
                )
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(json!(level(r.severity)))
                        .build(),
                )
                .properties(properties(json!({
                    "security-severity": security_severity(r.severity),
                    "tags": ["security", "kubernetes", r.category],
                })))
                .build()
        })
        .collect();

    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .map(|f| {
            let (uri, line) = artifact(f);
            let physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri).build())
                .region(Region::builder().start_line(line as i64).build())
                .build();
            let logical = LogicalLocation::builder()
                .fully_qualified_name(f.object.display_path())
                .kind(f.object.kind.clone())
                .build();
            let location = Location::builder()
                .physical_location(physical)
                .logical_locations(vec![logical])
                .build();
            let mut fingerprints = BTreeMap::new();
            fingerprints.insert("guardrails/v1".to_string(), f.id.clone());
            let mut result = SarifResult::builder()
                .rule_id(f.rule.clone())
                .level(level(f.severity))
                .message(
                    Message::builder()
                        .text(format!("{} Remediation: {}", f.message, f.remediation))
                        .build(),
                )
                .locations(vec![location])
                .partial_fingerprints(fingerprints)
                .properties(properties(
                    json!({ "severity": f.severity, "evidence": f.evidence_value() }),
                ))
                .build();
            if let Some(index) = rules.iter().position(|r| r.id == f.rule) {
                result.rule_index = Some(index as i64);
            }
            result
        })
        .collect();

    let driver = ToolComponent::builder()
        .name(format!("kubectl-{}", report.plugin))
        .version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/kubectl-guardrails/kubectl-guardrails")
        .rules(descriptors)
        .build();
    Sarif::builder()
        .version(json!("2.1.0"))
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .runs(vec![
            Run::builder()
                .tool(Tool::builder().driver(driver).build())
                .results(results)
                .build(),
        ])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{ObjectRef, SourceLocation};

    const RULE: RuleInfo = RuleInfo {
        id: "r",
        severity: Severity::High,
        category: "c",
        title: "t",
        rationale: "why",
        remediation: "fix",
    };

    fn uri_of(file: Option<&str>) -> (String, usize) {
        let object = ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web");
        let mut finding = Finding::new(&RULE, object, "", "m".into(), json!({}));
        finding.location = file.map(|f| SourceLocation {
            file: f.into(),
            line: 7,
        });
        artifact(&finding)
    }

    #[test]
    fn locations_are_repository_relative_uri_references() {
        assert_eq!(uri_of(Some("./k8s/web.yaml")), ("k8s/web.yaml".into(), 7));
        assert_eq!(
            uri_of(Some("k8s/my app:v1.yaml")),
            ("k8s/my%20app%3Av1.yaml".into(), 7),
            "encoded to stay a valid relative reference"
        );
        let cwd = std::env::current_dir().expect("cwd");
        let inside = cwd.join("k8s").join("web.yaml");
        assert_eq!(
            uri_of(Some(&inside.display().to_string())),
            ("k8s/web.yaml".into(), 7)
        );
        if !cwd.starts_with("/elsewhere") {
            assert_eq!(
                uri_of(Some("/elsewhere/web.yaml")),
                ("file:///elsewhere/web.yaml".into(), 7)
            );
        }
        // Live, and stdin (rendered charts): a stable pseudo-path, not "-" line N.
        let pseudo = ("cluster/shop/Deployment/web".to_string(), 1);
        assert_eq!(uri_of(None), pseudo);
        assert_eq!(uri_of(Some("-")), pseudo);
    }
}
