//! `meta.k8s.io/v1` Table responses (what `kubectl get` asks for), shaped like `031`–`033`.
//!
//! Pods and Deployments use the recorded column definitions with cells computed like the
//! server's printers (Age is `HumanDuration` since creation, Up-to-date/Available are JSON
//! numbers while Restarts is a string, as recorded). Every other resource gets the columns of
//! the server's default table convertor: `Name` and `Created At` (type `date`, the
//! creationTimestamp as RFC 3339), with the descriptions taken from `031`.

use serde_json::{Map, Value, json};

use crate::recordings;
use crate::time::{human_duration, now_unix, parse_rfc3339};

/// `?includeObject=`: what `rows[].object` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `null`
    None,
    /// A `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    pub fn from_param(p: Option<&str>) -> IncludeObject {
        match p {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The `PartialObjectMetadata` form of an object.
pub fn partial_object_metadata(item: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": item.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Computes a row's cells from an object and the current Unix time.
type CellsFn = fn(&Value, i64) -> Vec<Value>;

/// A Table for `items` of `resource` (`group` `""` for core). `list_meta` becomes the Table's
/// metadata (resourceVersion, continue, remainingItemCount). `full` turns an item into the
/// whole object (with kind/apiVersion) for `includeObject=Object`.
pub fn table(
    group: &str,
    resource: &str,
    items: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    full: &dyn Fn(&Value) -> Value,
) -> Value {
    let now = now_unix();
    let (columns, cells): (Value, CellsFn) = match (group, resource) {
        ("", "pods") => (
            recordings::body("031")["columnDefinitions"].clone(),
            pod_cells,
        ),
        ("apps", "deployments") => (
            recordings::body("033")["columnDefinitions"].clone(),
            deployment_cells,
        ),
        _ => (default_columns(), default_cells),
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => partial_object_metadata(item),
                IncludeObject::Object => full(item),
            };
            json!({"cells": cells(item, now), "object": object})
        })
        .collect();
    let mut t = Map::new();
    t.insert("kind".into(), json!("Table"));
    t.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    t.insert("metadata".into(), list_meta);
    t.insert("columnDefinitions".into(), columns);
    t.insert("rows".into(), Value::Array(rows));
    Value::Object(t)
}

fn default_columns() -> Value {
    let recorded = &recordings::body("031")["columnDefinitions"];
    let name = recorded[0].clone();
    let created_description = recorded
        .as_array()
        .and_then(|cols| cols.iter().find(|c| c["name"] == "Age"))
        .map(|c| c["description"].clone())
        .unwrap_or(Value::Null);
    json!([
        name,
        {
            "name": "Created At",
            "type": "date",
            "format": "",
            "description": created_description,
            "priority": 0
        }
    ])
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn name_of(item: &Value) -> Value {
    json!(str_at(item, "/metadata/name"))
}

fn age(item: &Value, now: i64) -> Value {
    match parse_rfc3339(str_at(item, "/metadata/creationTimestamp")) {
        Some(created) => json!(human_duration(now - created)),
        None => json!("<unknown>"),
    }
}

fn or_none(s: &str) -> Value {
    if s.is_empty() {
        json!("<none>")
    } else {
        json!(s)
    }
}

fn default_cells(item: &Value, _now: i64) -> Vec<Value> {
    vec![
        name_of(item),
        json!(str_at(item, "/metadata/creationTimestamp")),
    ]
}

fn pod_cells(item: &Value, now: i64) -> Vec<Value> {
    let total = item
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let statuses: Vec<&Value> = item
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .map(|s| s["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let mut reason = str_at(item, "/status/phase").to_string();
    if !str_at(item, "/status/reason").is_empty() {
        reason = str_at(item, "/status/reason").to_string();
    }
    for s in statuses.iter().rev() {
        let waiting = str_at(s, "/state/waiting/reason");
        let terminated = str_at(s, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        }
    }
    if item.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".to_string();
    }
    let gates = item
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .filter(|g| !g.is_empty())
        .map(|g| format!("0/{}", g.len()))
        .unwrap_or_default();
    vec![
        name_of(item),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts.to_string()),
        age(item, now),
        or_none(str_at(item, "/status/podIP")),
        or_none(str_at(item, "/spec/nodeName")),
        or_none(str_at(item, "/status/nominatedNodeName")),
        or_none(&gates),
    ]
}

fn deployment_cells(item: &Value, now: i64) -> Vec<Value> {
    let desired = item
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let containers: Vec<&Value> = item
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "/image")).collect();
    vec![
        name_of(item),
        json!(format!(
            "{}/{desired}",
            int_at(item, "/status/readyReplicas")
        )),
        json!(int_at(item, "/status/updatedReplicas")),
        json!(int_at(item, "/status/availableReplicas")),
        age(item, now),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(format_label_selector(item.pointer("/spec/selector"))),
    ]
}

/// `metav1.FormatLabelSelector`: requirements sorted by key, `<none>` when empty.
fn format_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel["matchLabels"].as_object() {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = str_at(e, "/key").to_string();
        let values: Vec<&str> = e["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let text = match str_at(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        };
        reqs.push((key, text));
    }
    if reqs.is_empty() {
        return "<none>".into();
    }
    reqs.sort();
    reqs.into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}
