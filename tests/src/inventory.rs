//! The objects the test API server serves, per (group, version, resource), in etcd key order.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::discovery::{self, ResourceInfo, api_version, split_api_version};
use crate::recordings;

/// Identifies a collection: `("apps", "v1", "deployments")`, `("", "v1", "pods")`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvr {
    pub group: String,
    pub version: String,
    pub resource: String,
}

impl Gvr {
    pub fn new(group: &str, version: &str, resource: &str) -> Gvr {
        Gvr {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// The stored objects of one resource.
#[derive(Debug, Clone)]
pub struct Collection {
    pub kind: String,
    pub namespaced: bool,
    /// Objects keyed by their etcd key relative to the resource prefix (`ns/name` or `name`),
    /// stored as list items are served: without `kind`/`apiVersion`.
    pub items: BTreeMap<String, Value>,
}

/// Objects served by list/get of the test API server.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    collections: BTreeMap<Gvr, Collection>,
    resource_version: u64,
}

/// The list recordings whose items make up the recorded cluster state.
const STATE_LISTS: [&str; 15] = [
    "011", "012", "013", "014", "015", "016", "017", "018", "019", "020", "021", "022", "023",
    "024", "025",
];

impl Inventory {
    /// The recordings' bootstrap ClusterRoles (`view`, `edit`, …): what a real cluster serves
    /// and offline mode assumes, for live inventories built from anything else.
    pub fn bootstrap_cluster_roles() -> Vec<Value> {
        Inventory::from_recordings()
            .objects()
            .into_iter()
            .filter(|o| {
                o["kind"] == "ClusterRole"
                    && o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
            })
            .collect()
    }

    /// The real cluster state: every item of the list recordings `011`–`025`, served with the
    /// recorded list resourceVersion (`565`).
    pub fn from_recordings() -> Inventory {
        static RECORDED: OnceLock<Inventory> = OnceLock::new();
        RECORDED
            .get_or_init(|| {
                let mut inv = Inventory::default();
                for number in STATE_LISTS {
                    let list = recordings::body(number);
                    let list_kind = list["kind"].as_str().unwrap_or_default();
                    let kind = list_kind.strip_suffix("List").unwrap_or(list_kind);
                    let av = list["apiVersion"].as_str().unwrap_or_default();
                    for item in list["items"].as_array().into_iter().flatten() {
                        inv.insert_typed(av, kind, item.clone());
                    }
                    if let Some(rv) = list
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        inv.resource_version = inv.resource_version.max(rv);
                    }
                }
                inv
            })
            .clone()
    }

    /// Synthetic state: `kind`/`apiVersion` of each object decide its collection (a `*List`
    /// document is unpacked). Namespaced objects without a namespace go to `default`. The list
    /// resourceVersion is the highest item resourceVersion (at least 1).
    pub fn from_objects(objs: Vec<Value>) -> Inventory {
        let mut inv = Inventory::default();
        for obj in objs {
            inv.insert(obj);
        }
        inv.resource_version = inv.resource_version.max(1);
        inv
    }

    /// Adds (or replaces) one object; `kind`/`apiVersion` decide its collection. A `*List`
    /// document is unpacked.
    pub fn insert(&mut self, obj: Value) {
        let av = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        assert!(
            !av.is_empty() && !kind.is_empty(),
            "Inventory::insert needs apiVersion and kind on every object: {obj}"
        );
        if let (Some(item_kind), Some(items)) = (kind.strip_suffix("List"), obj["items"].as_array())
        {
            for item in items {
                let item_av = item["apiVersion"].as_str().unwrap_or(&av).to_string();
                let item_kind = item["kind"].as_str().unwrap_or(item_kind).to_string();
                self.insert_typed(&item_av, &item_kind, item.clone());
            }
            return;
        }
        self.insert_typed(&av, &kind, obj);
    }

    fn insert_typed(&mut self, av: &str, kind: &str, obj: Value) {
        let info = resource_info(av, kind, &obj);
        let mut item = strip_type_meta(obj);
        if info.namespaced
            && item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_none()
            && let Some(meta) = item.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("namespace".into(), json!("default"));
        }
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            !name.is_empty(),
            "Inventory: object without metadata.name: {item}"
        );
        let key = if info.namespaced {
            let ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            format!("{ns}/{name}")
        } else {
            name.to_string()
        };
        if let Some(rv) = item
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
        {
            self.resource_version = self.resource_version.max(rv);
        }
        let gvr = Gvr::new(&info.group, &info.version, &info.resource);
        self.collections
            .entry(gvr)
            .or_insert_with(|| Collection {
                kind: info.kind.clone(),
                namespaced: info.namespaced,
                items: BTreeMap::new(),
            })
            .items
            .insert(key, item);
    }

    /// One `kind: List` (v1) holding every object with apiVersion and kind set, in collection
    /// then etcd key order: what offline `-f` runs consume.
    pub fn to_list_document(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": self.objects(),
        })
    }

    /// Every object with apiVersion and kind set.
    pub fn objects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for (gvr, coll) in &self.collections {
            let av = api_version(&gvr.group, &gvr.version);
            for item in coll.items.values() {
                out.push(with_type_meta(&av, &coll.kind, item));
            }
        }
        out
    }

    /// The stored collection of a resource, if any object of it exists.
    pub fn collection(&self, gvr: &Gvr) -> Option<&Collection> {
        self.collections.get(gvr)
    }

    /// One stored object (list-item form, without kind/apiVersion) by its key.
    pub fn item(&self, gvr: &Gvr, key: &str) -> Option<&Value> {
        self.collections.get(gvr).and_then(|c| c.items.get(key))
    }

    /// Stores an object written through the API (list-item form) under `key`.
    pub fn put(&mut self, gvr: &Gvr, kind: &str, namespaced: bool, key: String, item: Value) {
        self.collections
            .entry(gvr.clone())
            .or_insert_with(|| Collection {
                kind: kind.to_string(),
                namespaced,
                items: BTreeMap::new(),
            })
            .items
            .insert(key, item);
    }

    /// Removes an object deleted through the API.
    pub fn remove(&mut self, gvr: &Gvr, key: &str) -> Option<Value> {
        self.collections.get_mut(gvr)?.items.remove(key)
    }

    /// All collections.
    pub fn collections(&self) -> impl Iterator<Item = (&Gvr, &Collection)> {
        self.collections.iter()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.collections.values().map(|c| c.items.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The resourceVersion lists are served with (the snapshot's etcd revision).
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Overrides the list resourceVersion.
    pub fn set_resource_version(&mut self, rv: u64) {
        self.resource_version = rv;
    }

    /// `namespace/name` (or `name`) of every object of a resource, in key order.
    pub fn keys(&self, group: &str, resource: &str) -> Vec<String> {
        self.collections
            .iter()
            .filter(|(g, _)| g.group == group && g.resource == resource)
            .flat_map(|(_, c)| c.items.keys().cloned())
            .collect()
    }
}

fn resource_info(av: &str, kind: &str, obj: &Value) -> ResourceInfo {
    if let Some(info) = discovery::discovery().resource_for_kind(av, kind) {
        return info.clone();
    }
    // Not served by the recorded server: keep it under the conventional plural so it can still
    // be exported with `to_list_document`.
    let (group, version) = split_api_version(av);
    ResourceInfo {
        group,
        version,
        resource: format!("{}s", kind.to_ascii_lowercase()),
        kind: kind.to_string(),
        namespaced: obj.pointer("/metadata/namespace").is_some(),
    }
}

/// The object without `kind`/`apiVersion` (how the real server serves list items).
pub fn strip_type_meta(obj: Value) -> Value {
    match obj {
        Value::Object(mut m) => {
            m.shift_remove("kind");
            m.shift_remove("apiVersion");
            Value::Object(m)
        }
        other => other,
    }
}

/// The object with `kind` and `apiVersion` first (how the real server serves a single GET).
pub fn with_type_meta(av: &str, kind: &str, item: &Value) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), Value::String(kind.to_string()));
    m.insert("apiVersion".into(), Value::String(av.to_string()));
    if let Some(obj) = item.as_object() {
        for (k, v) in obj {
            if k != "kind" && k != "apiVersion" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(m)
}
