//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io`) take
//! precedence over NetworkPolicy: ANP (by priority) → NetworkPolicy → BANP. The evaluator models
//! NetworkPolicy v1 only (landscape §2 point 22), so when either is present, say that verdicts
//! they affect may be wrong instead of silently answering.

use std::collections::BTreeMap;

use guardrails::cluster::Cluster;

const GROUP: &str = "policy.networking.k8s.io";
const KINDS: [&str; 2] = ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"];

/// Offline: how many ANP/BANP objects the files hold (they are counted as ignored kinds).
pub fn count_in_files(ignored: &BTreeMap<String, usize>) -> usize {
    ignored
        .iter()
        .filter(|(key, _)| {
            key.starts_with(&format!("{GROUP}/"))
                && KINDS.iter().any(|kind| key.ends_with(&format!("/{kind}")))
        })
        .map(|(_, n)| n)
        .sum()
}

/// Live: whether the API server serves the admin policy API (discovery; one request).
pub async fn served(cluster: &Cluster) -> bool {
    cluster
        .client
        .list_api_groups()
        .await
        .is_ok_and(|groups| groups.groups.iter().any(|g| g.name == GROUP))
}

/// The warning, naming where the admin policies were found.
pub fn warning(found: &str) -> String {
    format!(
        "{found}: AdminNetworkPolicy/BaselineAdminNetworkPolicy take precedence over NetworkPolicy (ANP → NetworkPolicy → BANP) and are not evaluated; verdicts they affect may be wrong"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_policies_in_files_are_counted() {
        let mut ignored = BTreeMap::new();
        ignored.insert(
            "policy.networking.k8s.io/v1alpha1/AdminNetworkPolicy".to_string(),
            2,
        );
        ignored.insert(
            "policy.networking.k8s.io/v1alpha1/BaselineAdminNetworkPolicy".to_string(),
            1,
        );
        ignored.insert("v1/ConfigMap".to_string(), 5);
        assert_eq!(count_in_files(&ignored), 3);
        assert_eq!(count_in_files(&BTreeMap::new()), 0);
    }
}
