//! `check`: every workload in scope (controllers, and Pods no controller owns) against the Pod
//! Security Standards at the chosen level and version, and against the hardening rules.
//! Findings land on the controller, never on the pods it created.

use std::collections::HashSet;
use std::sync::Arc;

use guardrails::cluster::NamespaceScope;
use guardrails::error::Result;
use guardrails::finding::{
    Finding, ObjectRef, RuleInfo, SourceLocation, evidence_text, fingerprint,
};
use guardrails::inventory::Inventory;
use guardrails::selector::LabelQuery;
use guardrails::workload::{PendingWorkload, Workload};
use serde_json::value::RawValue;

use crate::cli::Families;
use crate::pss::{self, Level, LevelVersion, Version};
use crate::{catalogue, hardening};

/// The namespace label whose version `check` uses when `--pss-version` is not given.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

pub struct CheckOptions<'a> {
    pub level: Level,
    /// `None`: each namespace's enforce-version label, else latest.
    pub version: Option<Version>,
    pub families: Families,
    pub disabled: HashSet<String>,
    pub scope: &'a NamespaceScope,
    pub selector: Option<&'a LabelQuery>,
    /// Live: the API server's minor version. Its PodSecurity admission knows no newer policy
    /// version, so `latest` (and anything newer) means this one.
    pub server_minor: Option<u32>,
}

impl CheckOptions<'_> {
    fn enabled(&self, rule: &str) -> bool {
        let family = match self.families {
            Families::All => true,
            Families::Pss => catalogue::is_pss(rule),
            Families::Hardening => !catalogue::is_pss(rule),
        };
        family && !self.disabled.contains(rule)
    }
}

/// What a check run found, and the policy versions it evaluated at.
pub struct CheckOutcome {
    pub findings: Vec<Finding>,
    pub workloads: usize,
    /// Namespaces whose enforce-version label was not a valid version (latest was used).
    pub invalid_version_labels: Vec<InvalidLabel>,
}

/// A namespace whose enforce-version label is not a policy version, and the label's value.
pub type InvalidLabel = (String, String);

/// The policy version for a namespace: the flag, else its enforce-version label, else latest.
fn version_for(
    inventory: &Inventory,
    namespace: &str,
    requested: Option<Version>,
    invalid: &mut Vec<InvalidLabel>,
) -> Version {
    if let Some(v) = requested {
        return v;
    }
    let label = inventory
        .namespace(namespace)
        .and_then(|ns| ns.metadata.labels.as_ref())
        .and_then(|l| l.get(ENFORCE_VERSION_LABEL));
    match label.map(|v| v.parse::<Version>()) {
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            // Upstream evaluates an unparsable version label as latest.
            let entry = (namespace.to_string(), label.cloned().unwrap_or_default());
            if !invalid.contains(&entry) {
                invalid.push(entry);
            }
            Version::Latest
        }
        None => Version::Latest,
    }
}

/// Checks every workload in scope. Each one's pod spec is decoded on the thread that checks
/// it, and dropped once checked (see `guardrails::workload::PendingWorkload`); a spec that does
/// not decode is the error.
pub fn check(inventory: &Inventory, opts: &CheckOptions<'_>) -> Result<CheckOutcome> {
    let mut workloads: Vec<PendingWorkload<'_>> = inventory
        .pending_workloads()
        .into_iter()
        .filter(|w| opts.scope.includes(Some(w.namespace())))
        .filter(|w| {
            opts.selector
                .is_none_or(|q| w.metadata.labels.as_ref().is_some_and(|l| q.matches(l)))
        })
        .collect();
    // Checked in object order, each rule's findings come out in report order (severity, rule,
    // object): concatenated rule by rule they need no sorting, so the report's sort finds one
    // sorted run instead of moving hundreds of thousands of findings around.
    workloads.sort_by(|a, b| a.object.cmp(&b.object));
    let buckets = RuleBuckets::new();
    // Workloads are independent: large inputs are checked on every core, in order-preserving
    // chunks.
    let threads = if workloads.len() < PARALLEL_FROM {
        1
    } else {
        guardrails::parallel::worker_threads()
    };
    let total = workloads.len();
    let chunk = total.div_ceil(threads).max(1);
    let parts: Vec<Result<(PartFindings, Vec<InvalidLabel>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = guardrails::parallel::into_chunks(workloads, chunk)
            .into_iter()
            .map(|part| {
                let buckets = &buckets;
                scope.spawn(move || check_part(inventory, opts, part, buckets))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut invalid: Vec<InvalidLabel> = Vec::new();
    let mut per_part = Vec::with_capacity(parts.len());
    // The first part's error is the first in workload order.
    for part in parts {
        let (part_findings, part_invalid) = part?;
        per_part.push(part_findings);
        for entry in part_invalid {
            if !invalid.contains(&entry) {
                invalid.push(entry);
            }
        }
    }
    Ok(CheckOutcome {
        findings: concatenate(per_part),
        workloads: total,
        invalid_version_labels: invalid,
    })
}

/// Below this many workloads one thread is faster than starting more.
const PARALLEL_FROM: usize = 2_000;

/// Every rule's place in report order (severity, most severe first, then rule id).
struct RuleBuckets {
    index: std::collections::HashMap<&'static str, usize>,
}

impl RuleBuckets {
    fn new() -> RuleBuckets {
        let mut rules = catalogue::all_rules();
        rules.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(b.id)));
        RuleBuckets {
            index: rules.iter().enumerate().map(|(i, r)| (r.id, i)).collect(),
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn of(&self, rule: &str) -> usize {
        // Every finding is of a catalogue rule; anything else would go last.
        self.index.get(rule).copied().unwrap_or(self.index.len())
    }
}

/// One chunk's findings in workload order, and their positions per rule.
struct PartFindings {
    slots: Vec<Option<Finding>>,
    by_rule: Vec<Vec<u32>>,
}

/// The findings of consecutive chunks of workloads, rule by rule: each finding moves once.
fn concatenate(mut parts: Vec<PartFindings>) -> Vec<Finding> {
    let total = parts.iter().map(|p| p.slots.len()).sum();
    let mut findings = Vec::with_capacity(total);
    let rules = parts.iter().map(|p| p.by_rule.len()).max().unwrap_or(0);
    for rule in 0..rules {
        for PartFindings { slots, by_rule } in &mut parts {
            for &i in by_rule.get(rule).into_iter().flatten() {
                if let Some(f) = slots.get_mut(i as usize).and_then(Option::take) {
                    findings.push(f);
                }
            }
        }
    }
    findings
}

fn check_part(
    inventory: &Inventory,
    opts: &CheckOptions<'_>,
    workloads: Vec<PendingWorkload<'_>>,
    buckets: &RuleBuckets,
) -> Result<(PartFindings, Vec<InvalidLabel>)> {
    // One list in workload order (most workloads fail a few checks: sized once rather than
    // grown), and per rule (and one for anything unknown) the positions of its findings.
    let mut part = PartFindings {
        slots: Vec::with_capacity(workloads.len() * 7),
        by_rule: vec![Vec::new(); buckets.len() + 1],
    };
    let mut findings = Vec::with_capacity(16);
    let mut invalid = Vec::new();
    for w in workloads {
        let w = w.resolve(inventory)?;
        let version = version_for(inventory, w.namespace(), opts.version, &mut invalid);
        let policy = LevelVersion {
            level: opts.level,
            version,
        };
        let target = Target {
            object: Arc::new(w.object.clone()),
            location: inventory.location_of(&w.object),
        };
        pss_findings(&w, policy, opts, &target, &mut findings);
        hardening_findings(inventory, &w, opts, &target, &mut findings);
        for f in findings.drain(..) {
            part.by_rule[buckets.of(&f.rule)].push(part.slots.len() as u32);
            part.slots.push(Some(f));
        }
    }
    Ok((part, invalid))
}

/// The evidence of a `pss-*` finding (serialised straight to JSON text: large clusters have
/// hundreds of thousands of findings).
#[derive(serde::Serialize)]
struct PssEvidence<'a> {
    policy: &'a str,
    check: &'a str,
    reason: &'a str,
    detail: &'a str,
    containers: &'a [String],
}

/// The workload a finding is about, shared by all of its findings.
struct Target {
    object: Arc<ObjectRef>,
    location: Option<SourceLocation>,
}

/// A finding on a workload (what `Finding::new` builds, without a JSON value tree).
fn finding(rule: &RuleInfo, target: &Target, message: String, evidence: Box<RawValue>) -> Finding {
    Finding {
        id: fingerprint(rule.id, &target.object, ""),
        rule: rule.id.into(),
        severity: rule.severity,
        object: Arc::clone(&target.object),
        message,
        remediation: rule.remediation.into(),
        evidence,
        location: target.location.clone(),
    }
}

fn pss_findings(
    w: &Workload<'_>,
    policy: LevelVersion,
    opts: &CheckOptions<'_>,
    target: &Target,
    out: &mut Vec<Finding>,
) {
    if opts.families == Families::Hardening {
        return;
    }
    let policy_name = policy.to_string();
    let empty = Default::default();
    let metadata = w.pod_metadata.unwrap_or(&empty);
    // Debug containers added to the workload's pods run under it too: check them with the
    // template (once per name; each pod's are usually alike).
    let with_added;
    let spec = if w.added_ephemeral_containers.is_empty() {
        &w.pod_spec
    } else {
        let mut spec = w.pod_spec.clone();
        let list = spec
            .to_mut()
            .ephemeral_containers
            .get_or_insert_with(Vec::new);
        for c in &w.added_ephemeral_containers {
            if !list.iter().any(|e| e.name == c.name) {
                list.push((*c).clone());
            }
        }
        with_added = spec;
        &with_added
    };
    let newest = opts.server_minor.unwrap_or(pss::MAX_MINOR);
    for v in pss::evaluate_up_to(policy, newest, metadata, spec) {
        let Some(rule) = catalogue::pss_rule(v.check) else {
            continue;
        };
        if !opts.enabled(rule.id) {
            continue;
        }
        let evidence = PssEvidence {
            policy: &policy_name,
            check: v.check,
            reason: &v.reason,
            detail: &v.detail,
            containers: &v.containers,
        };
        out.push(finding(rule, target, v.segment(), evidence_text(&evidence)));
    }
}

fn hardening_findings(
    inventory: &Inventory,
    w: &Workload<'_>,
    opts: &CheckOptions<'_>,
    target: &Target,
    out: &mut Vec<Finding>,
) {
    if opts.families == Families::Pss {
        return;
    }
    let spec = &*w.pod_spec;
    let service_account = w.service_account_name();
    // The API rejects Linux-only fields (readOnlyRootFilesystem, runAsUser) on Windows pods.
    let linux = spec.os.as_ref().is_none_or(|os| os.name != "windows");
    let on = |rule: &RuleInfo| opts.enabled(rule.id);
    let gaps = [
        (on(&catalogue::READ_ONLY_ROOT_FS) && linux)
            .then(|| hardening::read_only_root_fs(spec))
            .flatten(),
        on(&catalogue::NO_RESOURCES)
            .then(|| hardening::no_resources(spec))
            .flatten(),
        // A pod whose ServiceAccount was granted rights by name calls the API: the token is
        // its purpose, not a gap (rbac-audit judges those rights).
        (on(&catalogue::AUTOMOUNT_TOKEN)
            && !hardening::granted_by_binding(inventory, w.namespace(), service_account))
        .then(|| {
            let sa = inventory.service_account(w.namespace(), service_account);
            hardening::automount_token(spec, sa)
        })
        .flatten(),
        (on(&catalogue::RUN_AS_UID_ZERO_OR_UNSET) && linux)
            .then(|| hardening::run_as_uid_zero_or_unset(spec))
            .flatten(),
        on(&catalogue::DEFAULT_SERVICE_ACCOUNT)
            .then(|| hardening::default_service_account(service_account))
            .flatten(),
    ];
    for gap in gaps.into_iter().flatten() {
        out.push(finding(gap.rule, target, gap.message, gap.evidence));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: old, labels: {pod-security.kubernetes.io/enforce-version: v1.21}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: old, labels: {tier: front}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - {name: c, image: x, securityContext: {allowPrivilegeEscalation: false}}
---
apiVersion: v1
kind: Pod
metadata: {name: win, namespace: other}
spec: {os: {name: windows}, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone, namespace: other}
spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}
"#;

    fn run(families: Families, disabled: &[&str], version: Option<Version>) -> Vec<String> {
        let inv = Inventory::from_text("c.yaml", CLUSTER, crate::KINDS).expect("inventory");
        let scope = NamespaceScope::All;
        let opts = CheckOptions {
            level: Level::Restricted,
            version,
            families,
            disabled: disabled.iter().map(|s| s.to_string()).collect(),
            scope: &scope,
            selector: None,
            server_minor: None,
        };
        let mut out: Vec<String> = check(&inv, &opts)
            .expect("check")
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule, f.object.display_path()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_namespace_label_decides_the_version_unless_a_version_is_given() {
        // v1.21 predates capabilities_restricted: missing drop ALL is fine there.
        let by_label = run(Families::Pss, &[], None);
        assert!(
            !by_label
                .iter()
                .any(|f| f == "pss-capabilities-restricted Deployment/old/web"),
            "{by_label:?}"
        );
        let latest = run(Families::Pss, &[], Some(Version::Latest));
        assert!(latest.contains(&"pss-capabilities-restricted Deployment/old/web".to_string()));
        assert!(latest.contains(&"pss-privileged Pod/other/lone".to_string()));
    }

    /// Many workloads read from JSON, whose pod specs are decoded by the thread checking them:
    /// the findings are those of one sequential pass, and a spec that does not decode stops
    /// the check with the error of the first such workload.
    #[test]
    fn parallel_chunks_give_the_sequential_findings() {
        let mut text = String::new();
        for i in 0..PARALLEL_FROM + 500 {
            let privileged = i % 3 == 0;
            text.push_str(&format!(
                r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"d{i}","namespace":"ns{}"}},"spec":{{"selector":{{}},"template":{{"spec":{{"containers":[{{"name":"c","image":"x","securityContext":{{"privileged":{privileged}}}}}]}}}}}}}}"#,
                i % 7
            ));
            text.push('\n');
        }
        let inv = Inventory::from_text("many.json", &text, crate::KINDS).expect("inventory");
        let scope = NamespaceScope::All;
        let opts = CheckOptions {
            level: Level::Restricted,
            version: None,
            families: Families::All,
            disabled: HashSet::new(),
            scope: &scope,
            selector: None,
            server_minor: None,
        };
        let ids = |findings: &[Finding]| -> Vec<String> {
            findings.iter().map(|f| f.id.clone()).collect()
        };
        let parallel = check(&inv, &opts).expect("check");
        let mut workloads = inv.pending_workloads();
        workloads.sort_by(|a, b| a.object.cmp(&b.object));
        let (sequential, _) =
            check_part(&inv, &opts, workloads, &RuleBuckets::new()).expect("check");
        assert_eq!(parallel.workloads, PARALLEL_FROM + 500);
        assert_eq!(ids(&parallel.findings), ids(&concatenate(vec![sequential])));
        assert!(parallel.findings.iter().any(|f| f.rule == "pss-privileged"));
        // Already in report order: the report's sort changes nothing.
        let mut sorted = parallel.findings.clone();
        guardrails::finding::sort_findings(&mut sorted);
        assert_eq!(ids(&sorted), ids(&parallel.findings));

        let broken = text
            .replacen(r#""privileged":false"#, r#""privileged":"no""#, 1)
            .replace(r#""name":"d2499","#, r#""name":"d2499","labels":5,"#);
        // Object metadata is decoded when the file is read (before any bad spec is checked).
        let err = Inventory::from_text("many.json", &broken, crate::KINDS).expect_err("labels");
        assert!(
            err.to_string()
                .starts_with("many.json:2500: invalid Deployment"),
            "{err}"
        );
        let broken = text.replacen(r#""privileged":false"#, r#""privileged":"no""#, 1);
        let inv = Inventory::from_text("many.json", &broken, crate::KINDS).expect("inventory");
        let err = check(&inv, &opts).map(|_| ()).expect_err("invalid spec");
        assert!(
            err.to_string()
                .starts_with("many.json:2: invalid Deployment \"d1\": invalid type: string"),
            "{err}"
        );
    }

    #[test]
    fn families_and_disabled_rules_filter() {
        let hardening = run(Families::Hardening, &["hardening-no-resources"], None);
        assert!(!hardening.is_empty());
        assert!(
            hardening
                .iter()
                .all(|f| f.starts_with("hardening-") && !f.starts_with("hardening-no-resources"))
        );
        assert!(!hardening.iter().any(|f| f.ends_with("Pod/other/win")
            && (f.starts_with("hardening-read-only-root-fs")
                || f.starts_with("hardening-run-as-uid"))));
        assert!(hardening.contains(&"hardening-automount-token Pod/other/win".to_string()));
        let pss = run(Families::Pss, &["pss-privileged"], None);
        assert!(
            pss.iter()
                .all(|f| f.starts_with("pss-") && !f.starts_with("pss-privileged "))
        );
    }
}
