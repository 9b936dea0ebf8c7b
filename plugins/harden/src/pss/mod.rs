//! The Pod Security Standards, evaluated exactly as the upstream `k8s.io/pod-security-admission`
//! library does (the code behind the API server's `PodSecurity` admission plugin): the same
//! checks per level and policy version, the same overrides, the same check order and the same
//! "reason (detail)" strings the API server prints.
//!
//! Modelled on upstream as of Kubernetes 1.36 (newest policy version v1.35). Versions newer than
//! that, and `latest`, evaluate as v1.35 — like upstream, which caps a requested version at the
//! newest one any check defines.

mod checks;
pub(crate) use checks::CAPABILITIES_ALLOWED_BASELINE;
pub use checks::sysctl_allowed;
pub mod containers;

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The newest policy version any check defines (`latest` evaluates as this).
pub const MAX_MINOR: u32 = 35;

/// A Pod Security Standards level (`privileged` has no checks, so it is not modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(format!("unknown level {s:?} (baseline, restricted)")),
        }
    }
}

/// A policy version: `latest` or `v1.N` (upstream's `pod-security.kubernetes.io/*-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Minor(u32),
    Latest,
}

impl Version {
    /// The policy version the checks run at (requests above the newest are capped).
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::Latest => MAX_MINOR,
            Version::Minor(n) => n.min(MAX_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(n) => write!(f, "v1.{n}"),
        }
    }
}

impl FromStr for Version {
    type Err = String;
    /// Upstream's grammar: `latest`, or `v1.` followed by a number without leading zeros.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let bad = || format!("invalid policy version {s:?} (latest or v1.N, e.g. v1.29)");
        let minor = s.strip_prefix("v1.").ok_or_else(bad)?;
        let leading_zero = minor.len() > 1 && minor.starts_with('0');
        if minor.is_empty() || leading_zero || !minor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        minor.parse().map(Version::Minor).map_err(|_| bad())
    }
}

/// `restricted:latest`, `baseline:v1.29` — how the API server names a policy in its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// One check a pod fails: upstream's `ForbiddenReason` and `ForbiddenDetail`, plus the
/// containers involved (empty when the violation is pod-level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Upstream's check ID, e.g. `capabilities_restricted`.
    pub check: &'static str,
    pub reason: String,
    pub detail: String,
    pub containers: Vec<String>,
}

impl Violation {
    /// `reason (detail)`, one segment of the API server's message.
    pub fn segment(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// A check of the standard: its upstream ID, level, first policy version, and the baseline check
/// it replaces at the restricted level.
pub struct CheckInfo {
    pub id: &'static str,
    pub level: Level,
    pub since: u32,
    pub overrides: Option<&'static str>,
    run: fn(&Pod<'_>, u32) -> Option<Violation>,
}

/// What a check reads: the pod's (or template's) metadata and spec.
pub struct Pod<'a> {
    pub metadata: &'a ObjectMeta,
    pub spec: &'a PodSpec,
}

/// Every check, in the order upstream runs them: baseline IDs sorted, then restricted IDs sorted
/// (byte order, as Go sorts), which is the order of the API server's message.
pub static CHECKS: &[CheckInfo] = &checks::ALL;

/// The checks a pod fails at `policy`, in the API server's order. Empty means allowed.
pub fn evaluate(policy: LevelVersion, metadata: &ObjectMeta, spec: &PodSpec) -> Vec<Violation> {
    evaluate_up_to(policy, MAX_MINOR, metadata, spec)
}

/// [`evaluate`] as an API server whose newest policy version is `newest` does it: a requested
/// version above that (and `latest`) is evaluated at `newest` (e.g. 24 for a 1.24 server).
pub fn evaluate_up_to(
    policy: LevelVersion,
    newest: u32,
    metadata: &ObjectMeta,
    spec: &PodSpec,
) -> Vec<Violation> {
    let minor = policy.version.effective_minor().min(newest);
    let pod = Pod { metadata, spec };
    let mut violations = Vec::new();
    for check in registry(policy.level, minor) {
        if let Some(v) = (check.run)(&pod, minor) {
            violations.push(v);
        }
    }
    violations
}

/// The active checks per level and policy version, computed once (upstream precomputes the
/// same table in its registry).
fn registry(level: Level, minor: u32) -> &'static [&'static CheckInfo] {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<Vec<&'static CheckInfo>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        [Level::Baseline, Level::Restricted]
            .into_iter()
            .flat_map(|l| (0..=MAX_MINOR).map(move |m| active_checks(l, m).collect()))
            .collect()
    });
    let row = match level {
        Level::Baseline => 0,
        Level::Restricted => 1,
    } * (MAX_MINOR as usize + 1)
        + minor.min(MAX_MINOR) as usize;
    &table[row]
}

/// The checks that run at a level and policy version (overridden baseline checks removed).
pub fn active_checks(level: Level, minor: u32) -> impl Iterator<Item = &'static CheckInfo> {
    CHECKS.iter().filter(move |check| {
        if check.since > minor || check.level > level {
            return false;
        }
        let overridden = level == Level::Restricted
            && CHECKS.iter().any(|r| {
                r.level == Level::Restricted && r.since <= minor && r.overrides == Some(check.id)
            });
        !overridden
    })
}

/// The API server's warning for a pod that fails `policy`:
/// `would violate PodSecurity "restricted:latest": reason (detail), …`.
pub fn warning(policy: LevelVersion, violations: &[Violation]) -> String {
    let segments: Vec<String> = violations.iter().map(Violation::segment).collect();
    format!(
        "would violate PodSecurity \"{policy}\": {}",
        segments.join(", ")
    )
}

#[cfg(test)]
mod tests;
