//! Offline, manifests rarely contain the API server's bootstrap ClusterRoles (cluster-admin,
//! admin, edit, view, system:*), yet bindings refer to them. These are the real ones, as a
//! kube-apiserver serves them; only those missing from the input are added.

use guardrails::inventory::Inventory;
use guardrails::rbac::ClusterRole;

const BOOTSTRAP_CLUSTER_ROLES: &str = include_str!("../data/bootstrap-clusterroles.json");

#[derive(serde::Deserialize)]
struct RoleList {
    items: Vec<ClusterRole>,
}

/// Adds the bootstrap ClusterRoles the inventory lacks; returns how many were added.
pub fn add_missing_cluster_roles(inventory: &mut Inventory) -> usize {
    let Ok(list) = serde_json::from_str::<RoleList>(BOOTSTRAP_CLUSTER_ROLES) else {
        return 0;
    };
    let mut added = 0;
    for role in list.items {
        let exists = inventory
            .cluster_roles
            .iter()
            .any(|r| r.metadata.name == role.metadata.name);
        if !exists {
            inventory.cluster_roles.push(role);
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_roles_parse_and_include_the_usual_suspects() {
        let mut inv = Inventory::default();
        let added = add_missing_cluster_roles(&mut inv);
        assert!(added > 50, "{added}");
        for name in ["cluster-admin", "admin", "edit", "view"] {
            assert!(
                inv.cluster_roles
                    .iter()
                    .any(|r| r.metadata.name.as_deref() == Some(name)),
                "{name}"
            );
        }
        assert_eq!(add_missing_cluster_roles(&mut inv), 0);
    }
}
