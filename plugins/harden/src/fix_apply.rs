//! Carrying out a fix plan: on manifest files as format-preserving edits (only the planned
//! fields are inserted or set; comments, order and indentation stay), and on live controllers
//! as guarded JSON patches that also record the fields' previous values in an annotation, so
//! `undo` can put them back.

use std::collections::BTreeMap;
use std::path::Path;

use guardrails::apply::{Action, LiveChange, PatchBuilder};
use guardrails::edit::{PathSegment, PlannedWrite, YamlFile};
use guardrails::error::{Error, Result};
use guardrails::finding::ObjectRef;
use serde_json::{Map, Value};

use crate::fix::{Edit, FieldPath, FixPlan, Step, apply_edit_at};

/// The controller annotation holding the previous values of the fields the last live fix
/// changed: JSON of pointer → old value (`null`: the field was absent).
pub const PREVIOUS_ANNOTATION: &str = "harden.guardrails.dev/previous";

/// Where an edit lands in an object: the part of its path that exists (as pointer segments:
/// keys, and list indexes found by the element's merge key), and the steps that do not.
struct Resolved {
    existing: Vec<String>,
    missing: Vec<Step>,
    /// The first missing step is a new element of a list that exists (`existing` ends there).
    new_element: bool,
}

fn resolve(root: &Value, path: &FieldPath) -> Resolved {
    let mut existing = Vec::new();
    let mut node = root;
    for (i, step) in path.0.iter().enumerate() {
        let next = match step {
            Step::Key(k) => node.get(k).map(|n| (k.clone(), n)),
            Step::Item { list, key, value } => {
                match node.get(list).and_then(Value::as_array) {
                    Some(items) => match items.iter().position(|it| it.get(*key) == Some(value)) {
                        Some(index) => {
                            existing.push(list.clone());
                            node = &items[index];
                            existing.push(index.to_string());
                            continue;
                        }
                        None => {
                            // The list exists; the element is new.
                            existing.push(list.clone());
                            return Resolved {
                                existing,
                                missing: path.0[i..].to_vec(),
                                new_element: true,
                            };
                        }
                    },
                    None => None,
                }
            }
        };
        match next {
            Some((k, n)) => {
                existing.push(k);
                node = n;
            }
            None => {
                return Resolved {
                    existing,
                    missing: path.0[i..].to_vec(),
                    new_element: false,
                };
            }
        }
    }
    Resolved {
        existing,
        missing: Vec::new(),
        new_element: false,
    }
}

fn pointer(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// New values grouped under the first field that does not exist yet, so edits below one
/// missing parent (a container without a securityContext) become one insertion.
#[derive(Default)]
struct Insertions {
    /// (existing parent segments, key or "-" for a new list element) → value.
    groups: BTreeMap<(Vec<String>, String), Value>,
}

impl Insertions {
    fn add(&mut self, resolved: &Resolved, new: Value) {
        let Some(first) = resolved.missing.first() else {
            return;
        };
        match first {
            Step::Item { .. } if resolved.new_element && resolved.missing.len() == 1 => {
                // A new element of an existing list: appended whole.
                self.groups
                    .insert((resolved.existing.clone(), "-".to_string()), new);
            }
            _ => {
                let key = match first {
                    Step::Key(k) => k.clone(),
                    Step::Item { list, .. } => list.clone(),
                };
                let slot = self
                    .groups
                    .entry((resolved.existing.clone(), key.clone()))
                    .or_insert_with(|| Value::Object(Map::new()));
                let mut map = Map::new();
                map.insert(key.clone(), slot.take());
                let mut wrapper = Value::Object(map);
                apply_edit_at(
                    &mut wrapper,
                    &FieldPath(resolved.missing.clone()),
                    Some(new),
                );
                *slot = wrapper[&key].take();
            }
        }
    }
}

/// The JSON patch of one live controller for `edits` (planned against `live`), with the
/// previous values in [`PREVIOUS_ANNOTATION`] (merged with those of an earlier fix, which
/// keep the original values). `None` when there is nothing to change.
pub fn live_change(target: ObjectRef, live: &Value, edits: &[Edit]) -> Option<LiveChange> {
    if edits.is_empty() {
        return None;
    }
    let mut builder = PatchBuilder::new(live);
    let mut previous: Map<String, Value> = live
        .pointer(&pointer(&[
            "metadata".into(),
            "annotations".into(),
            PREVIOUS_ANNOTATION.into(),
        ]))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut insertions = Insertions::default();
    for edit in edits {
        let resolved = resolve(live, &edit.path);
        if resolved.missing.is_empty() {
            let at = pointer(&resolved.existing);
            previous
                .entry(at.clone())
                .or_insert(edit.old.clone().unwrap_or(Value::Null));
            match &edit.new {
                Some(v) => builder.set(&at, v.clone()),
                None => builder.remove(&at),
            };
        } else if let Some(new) = &edit.new {
            insertions.add(&resolved, new.clone());
        }
    }
    for ((parent, key), value) in insertions.groups {
        let mut at = parent.clone();
        let recorded = if key == "-" {
            let len = live
                .pointer(&pointer(&parent))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let mut r = parent.clone();
            r.push(len.to_string());
            r
        } else {
            let mut r = parent.clone();
            r.push(key.clone());
            r
        };
        at.push(key);
        previous.entry(pointer(&recorded)).or_insert(Value::Null);
        // "-" must not be escaped: it is the JSON-patch append position.
        builder.set(&pointer(&at), value);
    }
    let fixes: Vec<&str> = {
        let mut f: Vec<&str> = edits.iter().map(|e| e.fix).collect();
        f.dedup();
        f
    };
    builder.set(
        &pointer(&[
            "metadata".into(),
            "annotations".into(),
            PREVIOUS_ANNOTATION.into(),
        ]),
        Value::String(Value::Object(previous).to_string()),
    );
    Some(LiveChange {
        target,
        action: Action::Patch(builder.build()),
        reason: format!("harden fix: {}", fixes.join(", ")),
    })
}

/// The guarded patch that restores the values recorded by the last live fix and removes the
/// annotation; `None` when the object has no such annotation.
pub fn undo_change(target: ObjectRef, live: &Value) -> Result<Option<LiveChange>> {
    let Some(previous) = previous_values(&target, live)? else {
        return Ok(None);
    };
    let annotation = previous_annotation_pointer();
    let mut builder = PatchBuilder::new(live);
    // Removals of list elements go from the highest index down, so indexes stay valid.
    let mut entries: Vec<(&String, &Value)> = previous.iter().collect();
    entries.sort_by(|a, b| b.0.cmp(a.0));
    for (at, old) in entries {
        match old {
            Value::Null => builder.remove(at),
            v => builder.set(at, v.clone()),
        };
    }
    builder.remove(&annotation);
    Ok(Some(LiveChange {
        target,
        action: Action::Patch(builder.build()),
        reason: "harden undo: restore the fields the last fix changed".to_string(),
    }))
}

fn previous_annotation_pointer() -> String {
    pointer(&[
        "metadata".into(),
        "annotations".into(),
        PREVIOUS_ANNOTATION.into(),
    ])
}

/// What the last live fix of `live` recorded: pointer → previous value (`null`: the field was
/// absent). `None` when the controller has no record.
pub fn previous_values(target: &ObjectRef, live: &Value) -> Result<Option<Map<String, Value>>> {
    let Some(text) = live
        .pointer(&previous_annotation_pointer())
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        Error::input(
            guardrails::apply::display_ref(target),
            format!("annotation {PREVIOUS_ANNOTATION} is not a JSON object: {e}"),
        )
    })
}

/// The edits of one file: every document holding a workload in `plans` (keyed by object) gets
/// its planned fields set or inserted. Edits a text edit cannot make (removing a field,
/// replacing a list, appending to an existing list) are left out with a warning — and with
/// them the read-only root filesystem, when its /tmp mount cannot be added.
pub fn plan_file(
    file: &Path,
    text: &str,
    plans: &BTreeMap<ObjectRef, FixPlan>,
) -> Result<Option<(PlannedWrite, usize)>> {
    let name = file.display().to_string();
    let mut yaml = YamlFile::parse(text).map_err(|e| Error::input(&name, e))?;
    let documents: Vec<Value> = {
        use serde::Deserialize;
        let mut docs = Vec::new();
        for d in serde_yaml_ng::Deserializer::from_str(text) {
            docs.push(Value::deserialize(d).map_err(|e| Error::input(&name, e))?);
        }
        docs
    };
    let mut applied = 0;
    for (document, object) in documents.iter().enumerate() {
        let text_at = |p: &str| object.pointer(p).and_then(Value::as_str);
        let Some(kind) = text_at("/kind") else {
            continue;
        };
        let target = ObjectRef::new(
            text_at("/apiVersion").unwrap_or_default(),
            kind,
            text_at("/metadata/namespace"),
            text_at("/metadata/name").unwrap_or_default(),
        );
        let Some(plan) = plans.get(&target) else {
            continue;
        };
        let edits = expand_replacements(object, &plan.edits);
        let mut drop_read_only = false;
        let mut feasible = Vec::new();
        for e in &edits {
            match file_edit(object, e) {
                Ok(op) => feasible.push((e, op)),
                Err(why) => {
                    guardrails::run::warn(&format!(
                        "{name}: {} {}: not edited in the file ({why}); change it by hand",
                        target.display_path(),
                        e.path,
                    ));
                    drop_read_only |= e.fix == "read-only-root-fs";
                }
            }
        }
        // The last entry of a mapping may go only when the plan adds another to it (a
        // capabilities mapping losing `add` while gaining `drop`).
        let gaining: Vec<&Vec<String>> = feasible
            .iter()
            .filter_map(|(_, op)| match op {
                FileEdit::Insert(r, _) if matches!(r.missing.first(), Some(Step::Key(_))) => {
                    Some(&r.existing)
                }
                _ => None,
            })
            .collect();
        let mut emptied = Vec::new();
        for (e, op) in &feasible {
            if let FileEdit::RemoveLast(parent, _) = op
                && !gaining.contains(&parent)
            {
                guardrails::run::warn(&format!(
                    "{name}: {} {}: not edited in the file (a removal that would leave its mapping empty); change it by hand",
                    target.display_path(),
                    e.path,
                ));
                drop_read_only |= e.fix == "read-only-root-fs";
                emptied.push(e.path.clone());
            }
        }
        feasible.retain(|(e, op)| {
            !matches!(op, FileEdit::RemoveLast(..)) || !emptied.contains(&e.path)
        });
        // A read-only root filesystem without its /tmp mount would break the program.
        if drop_read_only {
            feasible.retain(|(e, _)| e.fix != "read-only-root-fs");
        }
        let mut insertions = Insertions::default();
        // Removals go last: a mapping's last entry may go once its new entries are planned.
        let mut removals = Vec::new();
        for (_, op) in feasible {
            let result = match op {
                FileEdit::Set(path, Value::String(s)) => {
                    yaml.set_scalar(document, &segments(&path), &s)
                }
                FileEdit::Set(path, other) => {
                    yaml.set_plain_scalar(document, &segments(&path), &other.to_string())
                }
                FileEdit::Insert(r, new) => {
                    insertions.add(&r, new);
                    Ok(())
                }
                FileEdit::Append(list, items) => items
                    .iter()
                    .try_for_each(|item| yaml.append_item(document, &segments(&list), item)),
                FileEdit::RemoveItems(list, indexes) => {
                    yaml.remove_items(document, &segments(&list), &indexes)
                }
                FileEdit::Remove(parent, key) | FileEdit::RemoveLast(parent, key) => {
                    removals.push((parent, key));
                    Ok(())
                }
            };
            result.map_err(|err| Error::input(&name, err))?;
            applied += 1;
        }
        // Deeper mappings first: a container's new entries and its pod spec's can land at the
        // same position (after the container's last line), and must stay in their mapping.
        let mut groups: Vec<_> = insertions.groups.into_iter().collect();
        groups.sort_by_key(|((parent, _), _)| std::cmp::Reverse(parent.len()));
        for ((parent, key), value) in groups {
            let result = if key == "-" {
                yaml.append_item(document, &segments(&parent), &value)
            } else {
                let text = serde_yaml_ng::to_string(&value).map_err(|e| Error::input(&name, e))?;
                yaml.insert_entry(document, &segments(&parent), &key, &text)
            };
            result.map_err(|err| Error::input(&name, err))?;
        }
        for (parent, key) in removals {
            yaml.remove_entry(document, &segments(&parent), &key)
                .map_err(|err| Error::input(&name, err))?;
        }
    }
    if !yaml.has_edits() {
        return Ok(None);
    }
    let after = yaml.edited().map_err(|e| Error::input(&name, e))?;
    Ok(Some((
        PlannedWrite {
            path: file.to_path_buf(),
            before: text.to_string(),
            after,
        },
        applied,
    )))
}

/// How one edit is made in a file's text.
enum FileEdit {
    /// Replace the scalar at this pointer.
    Set(Vec<String>, Value),
    /// Add under the first missing field (or as a new element of an existing list).
    Insert(Resolved, Value),
    /// Append these items to the existing list at this pointer.
    Append(Vec<String>, Vec<Value>),
    /// Remove the key from the mapping at this pointer.
    Remove(Vec<String>, String),
    /// Remove the mapping's only key (possible when the plan adds another to it).
    RemoveLast(Vec<String>, String),
    /// Remove the items at these indexes from the list at this pointer.
    RemoveItems(Vec<String>, Vec<usize>),
}

/// The text edit that makes `e` in `object`, or why none can.
fn file_edit(object: &Value, e: &Edit) -> std::result::Result<FileEdit, &'static str> {
    let r = resolve(object, &e.path);
    let existing = object.pointer(&pointer(&r.existing));
    match (&e.new, r.missing.first()) {
        (None, Some(_)) => Err("already absent"),
        (None, None) => {
            let Some((key, parent)) = r.existing.split_last() else {
                return Err("a removal of the whole object");
            };
            let siblings = object
                .pointer(&pointer(parent))
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            if siblings < 2 {
                // A block mapping would be left holding nothing (null), unless the plan adds
                // to it (decided with the whole plan in view).
                return Ok(FileEdit::RemoveLast(parent.to_vec(), key.clone()));
            }
            Ok(FileEdit::Remove(parent.to_vec(), key.clone()))
        }
        (Some(_), Some(Step::Item { .. })) if r.new_element && r.missing.len() > 1 => {
            Err("adds below a new list element")
        }
        (Some(new), Some(_)) => Ok(FileEdit::Insert(r, new.clone())),
        (Some(new), None) => match (existing, new) {
            (Some(Value::Array(old)), Value::Array(items)) => {
                let missing: Vec<Value> =
                    items.iter().filter(|i| !old.contains(i)).cloned().collect();
                // Adding `ALL` to a drop list drops everything, whatever else it names;
                // otherwise only a list that keeps every old element is made by appending.
                let drops_all = e.path.0.last() == Some(&Step::Key("drop".into()))
                    && items.iter().any(|i| i == "ALL");
                // A list that only loses elements (capabilities a level does not allow) keeps
                // the others, in order, where they are.
                let kept = old.iter().filter(|o| items.contains(o));
                if missing.is_empty() && kept.eq(items.iter()) && old.len() > items.len() {
                    let removed = (0..old.len()).filter(|&i| !items.contains(&old[i]));
                    return Ok(FileEdit::RemoveItems(r.existing, removed.collect()));
                }
                if missing.is_empty() || !(drops_all || old.iter().all(|o| items.contains(o))) {
                    Err("replaces a list")
                } else {
                    Ok(FileEdit::Append(r.existing, missing))
                }
            }
            (Some(old), new)
                if !old.is_object() && !old.is_array() && !new.is_object() && !new.is_array() =>
            {
                Ok(FileEdit::Set(r.existing, new.clone()))
            }
            _ => Err("replaces a mapping or list with another kind of value"),
        },
    }
}

/// Edits that replace a mapping with another mapping become edits of its fields (set the new
/// ones, remove those the new value lacks), which a text edit can make.
fn expand_replacements(object: &Value, edits: &[Edit]) -> Vec<Edit> {
    let mut out = Vec::new();
    for e in edits {
        let r = resolve(object, &e.path);
        let existing = r
            .missing
            .is_empty()
            .then(|| object.pointer(&pointer(&r.existing)))
            .flatten();
        match (existing, &e.new) {
            (Some(Value::Object(old)), Some(Value::Object(new))) => {
                let mut fields: Vec<Edit> = Vec::new();
                for (k, v) in new {
                    if old.get(k) != Some(v) {
                        fields.push(Edit {
                            path: e.path.key(k),
                            old: old.get(k).cloned(),
                            new: Some(v.clone()),
                            ..e.clone()
                        });
                    }
                }
                for (k, v) in old {
                    if !new.contains_key(k) {
                        fields.push(Edit {
                            path: e.path.key(k),
                            old: Some(v.clone()),
                            new: None,
                            ..e.clone()
                        });
                    }
                }
                out.extend(expand_replacements(object, &fields));
            }
            _ => out.push(e.clone()),
        }
    }
    out
}

fn segments(existing: &[String]) -> Vec<PathSegment> {
    // Pointer segments alternate keys and list indexes as the JSON does; an index is a list
    // position only where the parent is a list, which `resolve` guarantees for numeric ones
    // that follow a list key. Keys that look numeric never occur in pod templates.
    existing
        .iter()
        .map(|s| match s.parse::<usize>() {
            Ok(i) => PathSegment::Index(i),
            Err(_) => PathSegment::Key(s.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::{FixOptions, plan};
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"template": {"spec": {
                "containers": [
                    {"name": "a", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                    {"name": "b", "image": "nginx", "securityContext": {"privileged": true}}
                ],
                "volumes": [{"name": "data", "emptyDir": {}}]
            }}}
        })
    }

    #[test]
    fn the_live_patch_gives_the_planned_object_and_undo_gives_the_original_back() {
        let live = deployment();
        let fix_plan = plan(&live, &FixOptions::default())
            .expect("plan")
            .without_confirmations();
        let target = ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web");
        let change = live_change(target.clone(), &live, &fix_plan.edits).expect("change");
        let Action::Patch(patch) = &change.action else {
            panic!("a JSON patch")
        };
        let mut patched = live.clone();
        json_patch::patch(&mut patched, patch).expect("applies to the live object");
        // The same result as the plan applied to the JSON (plus the annotation).
        let mut expected = live.clone();
        fix_plan.apply_to(&mut expected);
        let annotation = patched["metadata"]["annotations"][PREVIOUS_ANNOTATION].clone();
        let mut without = patched.clone();
        without["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("annotations");
        assert_eq!(without, expected);
        // Fields under a missing parent arrive in one insertion, not as overwriting adds.
        let sc = &patched["spec"]["template"]["spec"]["containers"][0]["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], json!(false));
        assert_eq!(sc["readOnlyRootFilesystem"], json!(true));
        let previous: Value =
            serde_json::from_str(annotation.as_str().expect("text")).expect("json");
        assert!(
            previous
                .get("/spec/template/spec/containers/1/securityContext/privileged")
                .is_none(),
            "privileged needs confirmation and was left out: {previous}"
        );
        assert_eq!(
            previous["/spec/template/spec/containers/1/securityContext/allowPrivilegeEscalation"],
            Value::Null,
            "{previous}"
        );
        assert_eq!(
            previous["/spec/template/spec/containers/0/volumeMounts/1"],
            Value::Null,
            "{previous}"
        );

        let undo = undo_change(target, &patched)
            .expect("undo")
            .expect("annotation");
        let Action::Patch(undo_patch) = &undo.action else {
            panic!("a JSON patch")
        };
        let mut restored = patched.clone();
        json_patch::patch(&mut restored, undo_patch).expect("undo applies");
        if restored["metadata"]["annotations"] == json!({}) {
            restored["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("annotations");
        }
        assert_eq!(restored, live);
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::fix::{FixOptions, plan};

    const POD: &str = "\
# a pod with everything in flow style
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  securityContext:
    seccompProfile: {type: Unconfined}   # was needed once
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80, hostPort: 8080}]
    securityContext:
      capabilities: {drop: [NET_RAW], add: [SYS_TIME]}
";

    #[test]
    fn profiles_are_replaced_field_by_field_and_removals_and_appends_are_made_in_place() {
        let object: Value = serde_yaml_ng::from_str(POD).expect("yaml");
        let fix_plan = plan(&object, &FixOptions::default()).expect("plan");
        let target = ObjectRef::new("v1", "Pod", Some("shop"), "web");
        let plans = BTreeMap::from([(target, fix_plan)]);
        let (write, _) = plan_file(Path::new("pod.yaml"), POD, &plans)
            .expect("planned")
            .expect("edits");
        let after = &write.after;
        assert!(
            after.contains("seccompProfile: {type: RuntimeDefault}   # was needed once"),
            "{after}"
        );
        assert!(
            after.contains("ports: [{containerPort: 80}]"),
            "the host port goes, in flow style: {after}"
        );
        assert!(
            after.contains("capabilities: {drop: [NET_RAW, ALL]}"),
            "ALL appended, the added capability removed: {after}"
        );
        assert!(after.starts_with("# a pod with everything in flow style\n"));
        // The file now holds what the plan applied to the JSON holds, as far as PSS sees it.
        let fixed: Value = serde_yaml_ng::from_str(after).expect("reparse");
        let again = plan(&fixed, &FixOptions::default()).expect("plan");
        assert!(again.is_empty(), "{:?}", again.edits);
    }
}
