//! Selectors as the API server understands them in `?labelSelector=` (the suite's own
//! [`LabelSelector`], the same syntax as kubectl's `-l`) and `?fieldSelector=`.

pub use guardrails::selector::LabelQuery as LabelSelector;

use std::collections::BTreeMap;

use serde_json::Value;

/// `metadata.labels` of an object.
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A parsed field selector: `path=value`, `path==value`, `path!=value`, comma-separated. Paths
/// are dotted JSON paths (`metadata.name`, `metadata.namespace`, `spec.nodeName`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// (path, value, negated)
    pub terms: Vec<(String, String, bool)>,
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (path, value, negated) = if let Some((p, v)) = part.split_once("!=") {
                (p, v, true)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, v, false)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            terms.push((path.trim().to_string(), value.trim().to_string(), negated));
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether every term holds for the object (a missing field compares as `""`).
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(path, value, negated)| {
            let mut cur = obj;
            for seg in path.split('.') {
                cur = cur.get(seg).unwrap_or(&Value::Null);
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *value) != *negated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .matches(&labels(pairs))
    }

    #[test]
    fn equality_and_inequality() {
        assert!(matches("app=frontend", &[("app", "frontend")]));
        assert!(matches("app==frontend", &[("app", "frontend")]));
        assert!(!matches("app=frontend", &[("app", "checkout")]));
        assert!(!matches("app=frontend", &[]));
        assert!(matches("app!=frontend", &[("app", "checkout")]));
        // `!=` also matches objects without the label.
        assert!(matches("app!=frontend", &[]));
        assert!(!matches("app!=frontend", &[("app", "frontend")]));
    }

    #[test]
    fn set_based_requirements() {
        assert!(matches(
            "app in (frontend, checkout)",
            &[("app", "checkout")]
        ));
        assert!(!matches("app in (frontend,checkout)", &[("app", "mysql")]));
        assert!(!matches("app in (frontend)", &[]));
        assert!(matches("app notin (frontend)", &[("app", "mysql")]));
        assert!(matches("app notin (frontend)", &[]));
        assert!(!matches("app notin (frontend,mysql)", &[("app", "mysql")]));
        assert!(matches("team", &[("team", "platform")]));
        assert!(!matches("team", &[]));
        assert!(matches("!team", &[]));
        assert!(!matches("!team", &[("team", "x")]));
    }

    #[test]
    fn requirements_are_anded() {
        let sel = "app in (frontend,checkout),tier!=db,!legacy,pod-template-hash";
        assert!(matches(
            sel,
            &[("app", "frontend"), ("pod-template-hash", "abc")]
        ));
        assert!(!matches(
            sel,
            &[
                ("app", "frontend"),
                ("pod-template-hash", "abc"),
                ("legacy", "1")
            ]
        ));
        assert!(!matches(
            sel,
            &[
                ("app", "frontend"),
                ("tier", "db"),
                ("pod-template-hash", "abc")
            ]
        ));
        assert!(matches("", &[]));
        assert!(matches(
            "app.kubernetes.io/name=ingress-nginx",
            &[("app.kubernetes.io/name", "ingress-nginx")]
        ));
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in ["app in frontend", "app in (frontend", "a b", "app=x,", "=x"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "web-cache-0", "namespace": "shop"}, "status": {"phase": "Pending"}});
        let m = |s: &str| {
            FieldSelector::parse(s)
                .expect("parses")
                .matches_object(&pod)
        };
        assert!(m("metadata.name=web-cache-0"));
        assert!(m("metadata.namespace==shop,status.phase=Pending"));
        assert!(!m("metadata.namespace!=shop"));
        assert!(m("spec.nodeName="));
    }
}
