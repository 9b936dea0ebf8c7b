//! Discovery documents of the recorded server (`001`–`010`) and the resource index derived from
//! them: which (group, version, resource) exists, its kind and whether it is namespaced.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::recordings;

/// A top-level resource served by the recorded server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// Plural resource name, e.g. `deployments`.
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// `deployments.apps`, or `pods` for the core group (the name used in error messages).
    pub fn qualified(&self) -> String {
        qualified_resource(&self.group, &self.resource)
    }
}

/// `group/version`, or just `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `resource.group`, or just `resource` for the core group.
pub fn qualified_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// Splits an `apiVersion` into (group, version).
pub fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// The discovery documents and resource index of the recorded server.
#[derive(Debug)]
pub struct Discovery {
    /// Recorded APIResourceList per groupVersion (`v1`, `apps/v1`, ...).
    resource_lists: BTreeMap<String, Value>,
    /// Every (group, version) listed in `/api` and `/apis`.
    served_versions: Vec<(String, String)>,
    resources: Vec<ResourceInfo>,
}

/// The discovery index, built once per process.
pub fn discovery() -> &'static Discovery {
    static DISCOVERY: OnceLock<Discovery> = OnceLock::new();
    DISCOVERY.get_or_init(build)
}

fn build() -> Discovery {
    let mut resource_lists = BTreeMap::new();
    for number in ["003", "005", "006", "007", "009", "010"] {
        let body = recordings::body(number);
        let gv = body["groupVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        resource_lists.insert(gv, body.clone());
    }
    let mut served_versions = vec![(String::new(), "v1".to_string())];
    for group in recordings::body("004")["groups"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = group["name"].as_str().unwrap_or_default();
        for v in group["versions"].as_array().into_iter().flatten() {
            let version = v["version"].as_str().unwrap_or_default();
            served_versions.push((name.to_string(), version.to_string()));
        }
    }
    let mut resources = Vec::new();
    for (gv, list) in &resource_lists {
        let (group, version) = split_api_version(gv);
        for r in list["resources"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or_default();
            if name.contains('/') {
                continue;
            }
            resources.push(ResourceInfo {
                group: group.clone(),
                version: version.clone(),
                resource: name.to_string(),
                kind: r["kind"].as_str().unwrap_or_default().to_string(),
                namespaced: r["namespaced"].as_bool().unwrap_or(false),
            });
        }
    }
    Discovery {
        resource_lists,
        served_versions,
        resources,
    }
}

impl Discovery {
    /// `GET /api` (`002`), with the server's `host:port` put in.
    pub fn api_versions(&self, server_hostport: &str) -> Value {
        let mut body = recordings::body("002").clone();
        if let Some(list) = body["serverAddressByClientCIDRs"].as_array_mut() {
            for entry in list {
                if entry["serverAddress"] == "{{server_hostport}}" {
                    entry["serverAddress"] = Value::String(server_hostport.to_string());
                }
            }
        }
        body
    }

    /// `GET /apis` (`004`).
    pub fn api_group_list(&self) -> &'static Value {
        recordings::body("004")
    }

    /// `GET /apis/<group>`: `008` for apps; for the other groups the same document built from
    /// the group's entry in `/apis` (008 is exactly that entry plus kind/apiVersion).
    pub fn api_group(&self, group: &str) -> Option<Value> {
        if group == "apps" {
            return Some(recordings::body("008").clone());
        }
        let entry = self.api_group_list()["groups"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == group)?;
        let mut doc = Map::new();
        doc.insert("kind".into(), json!("APIGroup"));
        doc.insert("apiVersion".into(), json!("v1"));
        if let Some(obj) = entry.as_object() {
            for (k, v) in obj {
                doc.insert(k.clone(), v.clone());
            }
        }
        Some(Value::Object(doc))
    }

    /// `GET /api/v1` or `/apis/<group>/<version>`: the recorded APIResourceList, or — for a
    /// version listed in `/apis` that was not recorded — the same document with no resources.
    pub fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let gv = api_version(group, version);
        if let Some(list) = self.resource_lists.get(&gv) {
            return Some(list.clone());
        }
        if self.serves(group, version) {
            return Some(json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [],
            }));
        }
        None
    }

    /// Whether `/api` or `/apis` lists this group version.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.served_versions
            .iter()
            .any(|(g, v)| g == group && v == version)
    }

    /// Whether `/apis` lists this group at all.
    pub fn serves_group(&self, group: &str) -> bool {
        self.served_versions.iter().any(|(g, _)| g == group)
    }

    /// A top-level resource of a served group version.
    pub fn resource(&self, group: &str, version: &str, resource: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.resource == resource)
    }

    /// The resource serving `kind` in `apiVersion`.
    pub fn resource_for_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceInfo> {
        let (group, version) = split_api_version(api_version);
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Whether the APIResourceList of the group version lists `resource/subresource`.
    pub fn has_subresource(&self, group: &str, version: &str, resource: &str, sub: &str) -> bool {
        let wanted = format!("{resource}/{sub}");
        self.resource_lists
            .get(&api_version(group, version))
            .and_then(|l| l["resources"].as_array())
            .is_some_and(|rs| rs.iter().any(|r| r["name"] == wanted.as_str()))
    }

    /// Every top-level resource of the recorded APIResourceLists.
    pub fn resources(&self) -> &[ResourceInfo] {
        &self.resources
    }
}
