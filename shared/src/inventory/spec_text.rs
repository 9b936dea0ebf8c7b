//! Controllers' pod templates read from JSON (manifests, and live list pages) keep their spec
//! as JSON text until the workload is examined, and so do Pods that no controller owns, read
//! from JSON manifests. A decoded `PodSpec` with its containers is about ten kilobytes,
//! mostly unset fields (k8s-openapi keeps every optional field inline), against a few hundred
//! bytes of text; an analysis that looks at one workload at a time (`harden check`) then holds
//! one decoded spec per thread instead of all of them. The rest of each object is decoded at
//! once, so its errors are still found when the file is read. ReplicaSets and Jobs folded
//! into their Deployment or CronJob never have their specs decoded at all.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::ResourceKind;
use crate::workload::pod_spec_path;

/// Reads the value at a path of object keys as raw text, skipping everything else; `None`
/// when a key along the path is absent or null.
struct Descend<'p>(&'p [&'p str]);

impl<'de> DeserializeSeed<'de> for Descend<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<Self::Value, D::Error> {
        match self.0.split_first() {
            None => serde::Deserialize::deserialize(value),
            Some((key, rest)) => value.deserialize_any(Object { key, rest }),
        }
    }
}

struct Object<'p> {
    key: &'p str,
    rest: &'p [&'p str],
}

impl<'de> Visitor<'de> for Object<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with {:?}", self.key)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(Key(self.key))? {
            if wanted {
                found = map.next_value_seed(Descend(self.rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a map key is the one wanted, compared without copying it.
struct Key<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, key: D) -> Result<bool, D::Error> {
        key.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// The value at `path` in `text`, as raw text.
fn value_at<'t>(path: &[&str], text: &'t str) -> serde_json::Result<Option<&'t RawValue>> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Descend(path).deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// An object's JSON text split in two: the object with `null` where its pod template's spec
/// was, and that spec's own text. `None` when the kind has no pod template (a Pod: see
/// [`split_bare_pod`]) or this object's template has no spec.
pub(crate) fn split(
    kind: ResourceKind,
    text: &str,
) -> serde_json::Result<Option<(String, &RawValue)>> {
    let path = match kind {
        ResourceKind::Pod => None,
        _ => pod_spec_path(kind.kind()),
    };
    match path {
        Some(path) => cut(text, value_at(path, text)?, "null".into()),
        None => Ok(None),
    }
}

/// A Pod that is a workload in its own right (no controller owns it), split like a
/// template: its spec becomes `{"nodeName": …}`, the one field read with the pod's other
/// pods' facts rather than with its spec.
pub(crate) fn split_bare_pod(text: &str) -> serde_json::Result<Option<(String, &RawValue)>> {
    let Some(spec) = value_at(&["spec"], text)? else {
        return Ok(None);
    };
    let kept = match value_at(&["nodeName"], spec.get())? {
        Some(node) => format!("{{\"nodeName\":{}}}", node.get()),
        None => "null".into(),
    };
    cut(text, Some(spec), kept)
}

/// `text` with `part` (a slice of it) replaced by `with`, and the part.
fn cut<'t>(
    text: &'t str,
    part: Option<&'t RawValue>,
    with: String,
) -> serde_json::Result<Option<(String, &'t RawValue)>> {
    let Some(spec) = part else {
        return Ok(None);
    };
    let spec_text = spec.get();
    // The spec was borrowed from `text`: its offset there is the pointers' distance.
    let start = (spec_text.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    let end = start.wrapping_add(spec_text.len());
    if end > text.len() || start > end {
        return Ok(None);
    }
    let mut shell = String::with_capacity(text.len() - spec_text.len() + with.len());
    shell.push_str(&text[..start]);
    shell.push_str(&with);
    shell.push_str(&text[end..]);
    Ok(Some((shell, spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_spec_is_cut_out_of_each_kind_at_its_place() {
        let cases = [
            (
                ResourceKind::StatefulSet,
                r#"{"kind":"StatefulSet","spec":{"template":{"spec":{"containers":[]}}},"status":{}}"#,
                r#"{"kind":"StatefulSet","spec":{"template":{"spec":null}},"status":{}}"#,
            ),
            (
                ResourceKind::Deployment,
                r#"{"spec":{"replicas":2,"template":{"metadata":{},"spec": {"containers":[{"name":"c"}]} }}}"#,
                r#"{"spec":{"replicas":2,"template":{"metadata":{},"spec": null }}}"#,
            ),
            (
                ResourceKind::CronJob,
                r#"{"spec":{"schedule":"@daily","jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}}"#,
                r#"{"spec":{"schedule":"@daily","jobTemplate":{"spec":{"template":{"spec":null}}}}}"#,
            ),
        ];
        for (kind, text, shell) in cases {
            let (cut, spec) = split(kind, text).expect("valid").expect("has a spec");
            assert_eq!(cut, shell, "{kind:?}");
            assert!(spec.get().starts_with("{\"containers\":["), "{kind:?}");
        }
    }

    #[test]
    fn objects_without_a_pod_spec_are_left_whole() {
        for text in [
            r#"{"kind":"Deployment"}"#,
            r#"{"spec":{"template":{}}}"#,
            r#"{"spec":{"template":{"spec":null}}}"#,
        ] {
            assert!(
                split(ResourceKind::Deployment, text)
                    .expect("valid")
                    .is_none()
            );
        }
        assert!(
            split(ResourceKind::Pod, r#"{"spec":{"containers":[]}}"#)
                .expect("valid")
                .is_none()
        );
        assert!(
            split(ResourceKind::ServiceAccount, r#"{"spec":{}}"#)
                .expect("valid")
                .is_none()
        );
    }

    #[test]
    fn a_bare_pod_keeps_its_node_name() {
        let text = r#"{"kind":"Pod","spec":{"containers":[{"name":"c"}],"nodeName":"node-1"},"status":{"podIP":"10.0.0.1"}}"#;
        let (shell, spec) = split_bare_pod(text).expect("valid").expect("has a spec");
        assert_eq!(
            shell,
            r#"{"kind":"Pod","spec":{"nodeName":"node-1"},"status":{"podIP":"10.0.0.1"}}"#
        );
        assert!(spec.get().starts_with(r#"{"containers":"#));
        let (shell, _) = split_bare_pod(r#"{"spec":{"containers":[]}}"#)
            .expect("valid")
            .expect("has a spec");
        assert_eq!(shell, r#"{"spec":null}"#);
        assert!(
            split_bare_pod(r#"{"kind":"Pod"}"#)
                .expect("valid")
                .is_none()
        );
    }

    #[test]
    fn malformed_surroundings_are_an_error_now() {
        assert!(split(ResourceKind::Deployment, r#"{"spec":5}"#).is_err());
    }
}
