//! SARIF 2.1.0 for GitHub code scanning: one rule descriptor per catalogue entry (with
//! `security-severity`), one result per finding with a stable partial fingerprint.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::finding::{Report, RuleInfo, Severity};

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
            // Offline findings point at the manifest; live ones at a stable pseudo-path so
            // code scanning still has a location to attach the alert to.
            let (uri, line) = match &f.location {
                Some(loc) => (loc.file.trim_start_matches("./").to_string(), loc.line),
                None => (
                    format!(
                        "cluster/{}/{}/{}",
                        f.object.namespace.as_deref().unwrap_or("_cluster"),
                        f.object.kind,
                        f.object.name
                    ),
                    1,
                ),
            };
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
