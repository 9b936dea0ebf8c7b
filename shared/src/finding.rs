//! The finding model every plugin reports: rule, severity, object, message, remediation,
//! evidence and a stable fingerprint, gathered into the versioned `guardrails/v1` Report.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL_DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL_DESCENDING
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity {s:?} (critical, high, medium, low, info, never)")
            })
    }
}

/// The Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// `Kind/name` or `Kind/namespace/name`, as shown in tables.
    pub fn display_path(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Where an object came from in offline mode (for SARIF locations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// Shared by every object of the file.
    pub file: Arc<str>,
    /// 1-based line where the object's document starts.
    pub line: usize,
}

/// `FILE:LINE`, as errors name the place.
impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Stable fingerprint of rule + object + distinguishing evidence.
    pub id: String,
    /// The catalogue's own text when made by a scan (shared, not copied per finding); owned
    /// when read back from a report.
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    /// Shared by the object's findings (a workload often has several).
    pub object: Arc<ObjectRef>,
    pub message: String,
    pub remediation: Cow<'static, str>,
    /// Kept as compact JSON text: large clusters produce tens of thousands of findings, and a
    /// `Value` tree costs several times the text. [`Finding::evidence_value`] parses it.
    pub evidence: Box<RawValue>,
    /// Offline only; kept out of the JSON so live and offline reports compare equal.
    #[serde(skip)]
    pub location: Option<SourceLocation>,
}

impl Finding {
    /// `distinguishing` is what separates two findings of one rule on one object (e.g. the
    /// subject of a binding); it goes into the fingerprint, nothing run-specific does.
    pub fn new(
        rule: &RuleInfo,
        object: impl Into<Arc<ObjectRef>>,
        distinguishing: &str,
        message: String,
        evidence: impl Serialize,
    ) -> Finding {
        let object = object.into();
        Finding {
            id: fingerprint(rule.id, &object, distinguishing),
            rule: Cow::Borrowed(rule.id),
            severity: rule.severity,
            object,
            message,
            remediation: Cow::Borrowed(rule.remediation),
            evidence: evidence_text(&evidence),
            location: None,
        }
    }

    pub fn evidence_value(&self) -> Value {
        serde_json::from_str(self.evidence.get()).unwrap_or(Value::Null)
    }

    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }
}

/// Evidence as compact JSON text, serialised straight from `evidence` (a struct needs no
/// `Value` tree on the way: large scans make hundreds of thousands of findings). Serialising
/// plain data cannot fail; `null` keeps it total anyway.
pub fn evidence_text<T: Serialize + ?Sized>(evidence: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(evidence)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default())
}

pub fn fingerprint(rule: &str, object: &ObjectRef, distinguishing: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        rule,
        &object.api_version,
        &object.kind,
        object.namespace.as_deref().unwrap_or(""),
        &object.name,
        distinguishing,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    // Hex without an allocation per byte: large scans fingerprint hundreds of thousands.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(16);
    for b in digest.iter().take(8) {
        id.push(HEX[usize::from(b >> 4)] as char);
        id.push(HEX[usize::from(b & 0xf)] as char);
    }
    id
}

/// Declares a catalogue entry as a `pub const RuleInfo`:
/// `rule!(NAME, "rule-id", High, "category", "title", "rationale", "remediation");`
#[macro_export]
macro_rules! rule {
    ($name:ident, $id:literal, $sev:ident, $cat:literal, $title:literal, $why:literal, $fix:literal) => {
        pub const $name: $crate::finding::RuleInfo = $crate::finding::RuleInfo {
            id: $id,
            severity: $crate::finding::Severity::$sev,
            category: $cat,
            title: $title,
            rationale: $why,
            remediation: $fix,
        };
    };
}

/// A rule's catalogue entry, listed by `--list-rules` and used by SARIF.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub category: &'static str,
    pub title: &'static str,
    pub rationale: &'static str,
    pub remediation: &'static str,
}

/// Something the scan could not look at, so its absence from the findings means nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub resource: String,
    pub namespace: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    /// 100 = nothing found; each finding multiplies the score down by its severity's weight.
    pub score: u8,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        let mut score = 100.0_f64;
        for f in findings {
            let (count, factor) = match f.severity {
                Severity::Critical => (&mut s.critical, 0.80),
                Severity::High => (&mut s.high, 0.90),
                Severity::Medium => (&mut s.medium, 0.97),
                Severity::Low => (&mut s.low, 0.99),
                Severity::Info => (&mut s.info, 1.0),
            };
            *count += 1;
            score *= factor;
        }
        s.score = score.round().clamp(0.0, 100.0) as u8;
        s
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReportSource {
    pub context: Option<String>,
    pub files: Vec<String>,
}

/// The stable, versioned report every scan-like command prints with `-o json|yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: String,
    pub kind: String,
    pub plugin: String,
    pub source: ReportSource,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
    /// Findings not shown because an exception or the baseline covers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// Exceptions whose expiry date has passed (they no longer suppress anything).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_exceptions: Vec<Value>,
    /// Offline: objects of kinds this plugin does not examine, counted by `apiVersion/kind`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ignored: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suppressed {
    pub id: String,
    pub rule: String,
    pub object: ObjectRef,
    pub by: String,
}

impl Report {
    /// Findings are sorted (severity desc, rule, object, id) so output is deterministic.
    pub fn new(
        plugin: &str,
        source: ReportSource,
        mut findings: Vec<Finding>,
        mut skipped: Vec<Skipped>,
    ) -> Report {
        sort_findings(&mut findings);
        skipped.sort();
        skipped.dedup();
        let summary = Summary::of(&findings);
        Report {
            api_version: "guardrails/v1".into(),
            kind: "Report".into(),
            plugin: plugin.into(),
            source,
            findings,
            skipped,
            summary,
            suppressed: Vec::new(),
            expired_exceptions: Vec::new(),
            ignored: Default::default(),
        }
    }

    pub fn recompute_summary(&mut self) {
        self.summary = Summary::of(&self.findings);
    }
}

/// Most severe first, then by rule, object and id: [`report_order`].
///
/// Comparing findings themselves reads strings behind two pointers per finding, and sorting
/// moves large structs. So each finding gets a small key instead, the ranks of its rule,
/// apiVersion, kind and namespace among the few distinct ones; the keys are sorted (names and
/// ids break ties) and the findings moved once. On tens of thousands of findings that is
/// several times faster, and the order is exactly [`report_order`]'s. Findings already in
/// order are left as they are after one pass.
pub fn sort_findings(findings: &mut [Finding]) {
    // Plugins that produce their findings in order (harden) pay one pass, as with a plain sort.
    if findings.is_sorted_by(|a, b| report_order(a, b).is_le()) {
        return;
    }
    let rule = ranks(findings.iter().map(|f| Some(f.rule.as_ref())));
    let api_version = ranks(findings.iter().map(|f| Some(f.object.api_version.as_str())));
    let kind = ranks(findings.iter().map(|f| Some(f.object.kind.as_str())));
    let namespace = ranks(findings.iter().map(|f| f.object.namespace.as_deref()));
    let mut keys: Vec<(SortKey, u32)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let key = SortKey {
                severity: std::cmp::Reverse(f.severity),
                rule: rule[i],
                api_version: api_version[i],
                kind: kind[i],
                namespace: namespace[i],
                name: name_prefix(&f.object.name),
            };
            (key, i as u32)
        })
        .collect();
    // Unstable is deterministic here: the id breaks every tie (and equal ids are the same
    // finding).
    keys.sort_unstable_by(|(a, i), (b, j)| {
        a.cmp(b).then_with(|| {
            let (x, y) = (&findings[*i as usize], &findings[*j as usize]);
            x.object
                .name
                .cmp(&y.object.name)
                .then_with(|| x.id.cmp(&y.id))
        })
    });
    let order: Vec<u32> = keys.into_iter().map(|(_, index)| index).collect();
    permute(findings, order);
}

/// The order of findings in a report (what [`sort_findings`] sorts by).
pub fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.object.cmp(&b.object))
        .then_with(|| a.id.cmp(&b.id))
}

/// A finding's place in [`report_order`], up to the rest of the object's name.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    severity: std::cmp::Reverse<Severity>,
    rule: u32,
    api_version: u32,
    kind: u32,
    namespace: u32,
    name: u64,
}

/// The first eight bytes of a name, zero-padded, as a number that orders as the names do
/// (equal for names that only differ further on).
fn name_prefix(name: &str) -> u64 {
    let mut prefix = [0u8; 8];
    let head = &name.as_bytes()[..name.len().min(8)];
    prefix[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(prefix)
}

/// Each value's rank among the distinct values, in their sorted order (`None` first, as
/// `Option` sorts). Runs of one value, the usual case, are hashed once.
fn ranks<'f>(values: impl Iterator<Item = Option<&'f str>> + Clone) -> Vec<u32> {
    let mut distinct = std::collections::HashSet::new();
    let mut last = None;
    for value in values.clone() {
        if last != Some(value) {
            distinct.insert(value);
            last = Some(value);
        }
    }
    let mut sorted: Vec<Option<&str>> = distinct.into_iter().collect();
    sorted.sort_unstable();
    let rank: std::collections::HashMap<Option<&str>, u32> = sorted.into_iter().zip(0..).collect();
    let mut last = None;
    values
        .map(|value| match last {
            Some((seen, known)) if seen == value => known,
            _ => {
                let known = rank.get(&value).copied().unwrap_or(u32::MAX);
                last = Some((value, known));
                known
            }
        })
        .collect()
}

/// Puts `items[order[k]]` at position `k`, for every `k`, by following each cycle of the
/// permutation with swaps.
fn permute<T>(items: &mut [T], mut order: Vec<u32>) {
    for start in 0..items.len() {
        let mut current = start;
        loop {
            let next = order[current] as usize;
            // Marks the position as placed.
            order[current] = current as u32;
            if next == start || next == current {
                break;
            }
            items.swap(current, next);
            current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: RuleInfo = RuleInfo {
        id: "demo",
        severity: Severity::High,
        category: "test",
        title: "t",
        rationale: "r",
        remediation: "fix",
    };

    #[test]
    fn fingerprint_is_stable_and_distinguishes() {
        let obj = ObjectRef::new("v1", "ServiceAccount", Some("shop"), "default");
        let a = Finding::new(&RULE, obj.clone(), "x", "m".into(), Value::Null);
        let b = Finding::new(&RULE, obj.clone(), "x", "other message".into(), Value::Null);
        let c = Finding::new(&RULE, obj, "y", "m".into(), Value::Null);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 16);
    }

    /// The keyed sort gives exactly the comparator's order, across every part of the key:
    /// severities, rules, apiVersions, kinds, cluster-scoped and namespaced objects, names
    /// and fingerprints.
    #[test]
    fn findings_sort_in_report_order() {
        let mut findings = Vec::new();
        let rules = ["b-rule", "a-rule", "ab-rule"];
        let severities = [Severity::Low, Severity::Critical, Severity::High];
        let objects = [
            ("v1", "Pod", Some("shop"), "web"),
            ("v1", "Pod", Some("shop"), "api"),
            ("v1", "Pod", None, "api"),
            ("apps/v1", "Deployment", Some("a"), "web"),
            ("apps/v1", "DaemonSet", Some("shop"), "web"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole", None, "edit"),
            ("v1", "Pod", Some(""), "web"),
            // Names alike in their first eight bytes, and one that is those bytes alone.
            ("v1", "Pod", Some("shop"), "web-frontend-10"),
            ("v1", "Pod", Some("shop"), "web-frontend-9"),
            ("v1", "Pod", Some("shop"), "web-fron"),
        ];
        // A deterministic scramble, so that no input order happens to be sorted already.
        for i in 0..200usize {
            let (api_version, kind, namespace, name) = objects[(i * 5 + i / 9) % objects.len()];
            let rule = RuleInfo {
                id: rules[i % rules.len()],
                severity: severities[(i / 3) % severities.len()],
                ..RULE
            };
            let object = ObjectRef::new(api_version, kind, namespace, name);
            findings.push(Finding::new(
                &rule,
                object,
                &(i % 4).to_string(),
                "m".into(),
                Value::Null,
            ));
        }
        let mut expected = findings.clone();
        expected.sort_by(report_order);
        sort_findings(&mut findings);
        let ids = |f: &[Finding]| {
            f.iter()
                .map(|f| (f.id.clone(), f.rule.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&findings), ids(&expected));
        assert_eq!(findings[0].severity, Severity::Critical);
    }

    #[test]
    fn permutations_put_each_item_where_the_order_says() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        // Two cycles (0 2 4) and (1 5), and a fixed point 3.
        permute(&mut items, vec![2, 5, 4, 3, 0, 1]);
        assert_eq!(items, vec!['c', 'f', 'e', 'd', 'a', 'b']);
    }

    #[test]
    fn summary_counts_and_scores() {
        let obj = ObjectRef::new("v1", "Pod", None, "p");
        let f = Finding::new(&RULE, obj, "", "m".into(), Value::Null);
        let s = Summary::of(&[f.clone(), f.clone().with_severity(Severity::Critical)]);
        assert_eq!((s.high, s.critical), (1, 1));
        assert_eq!(s.score, 72);
        assert_eq!(Summary::of(&[]).score, 100);
    }

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
    }
}
