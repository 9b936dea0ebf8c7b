//! Label and field selectors as the API server understands them in `?labelSelector=` and
//! `?fieldSelector=`.

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
    /// `key=value`, `key==value`
    Equals(String, String),
    /// `key!=value` (also matches objects without the label)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also matches objects without the label)
    NotIn(String, Vec<String>),
}

/// A parsed label selector: every requirement must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the `labelSelector` syntax: comma-separated requirements, where commas inside
    /// `( )` belong to an `in`/`notin` value list.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!("found '', expected: identifier in {text:?}"));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
        })
    }

    /// Whether `metadata.labels` of an object satisfies the selector.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(&labels_of(obj))
    }
}

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

fn split_top_level(text: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ')' in {text:?}"))?;
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in {text:?}"));
    }
    parts.push(current);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(valid_key(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            valid_key(k.trim())?,
            valid_value(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once("==") {
        return Ok(Requirement::Equals(
            valid_key(k.trim())?,
            valid_value(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once('=') {
        return Ok(Requirement::Equals(
            valid_key(k.trim())?,
            valid_value(v.trim())?,
        ));
    }
    // `key in (a,b)` / `key notin (a,b)`: the key ends at the first whitespace or '('.
    let key_end = part
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(part.len());
    let (key, rest) = part.split_at(key_end);
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(Requirement::Exists(valid_key(key)?));
    }
    let (op, list) = if let Some(list) = rest.strip_prefix("notin") {
        ("notin", list)
    } else if let Some(list) = rest.strip_prefix("in") {
        ("in", list)
    } else {
        return Err(format!(
            "unable to parse requirement: found '{rest}', expected: in, notin, =, ==, !="
        ));
    };
    let list = list.trim();
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: expected '(' ... ')' after {op}, found '{list}'")
        })?;
    let values = inner
        .split(',')
        .map(|v| valid_value(v.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let key = valid_key(key)?;
    Ok(if op == "in" {
        Requirement::In(key, values)
    } else {
        Requirement::NotIn(key, values)
    })
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?}"
        ))
    }
}

fn valid_value(value: &str) -> Result<String, String> {
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label value {value:?}"
        ))
    }
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
