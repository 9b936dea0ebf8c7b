//! A YAML document as a `serde_json::Value`, refusing duplicate mapping keys as the API
//! server's YAML decoding (and kubectl) does. `Value`'s own `Deserialize` keeps the last of two
//! equal keys, so two documents joined by a missing `---` (`cat a.yaml b.yaml`) would silently
//! become one object, the first one lost: a gate would pass on manifests it never saw.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deserializes like `serde_json::Value`, except that a mapping with a repeated key is an
/// error naming the key.
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "mapping key {key:?} already defined (a missing `---` between two documents?)"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, String> {
        serde_yaml_ng::Deserializer::from_str(text)
            .next()
            .map(StrictValue::deserialize)
            .transpose()
            .map(|v| v.map(|v| v.0).unwrap_or(Value::Null))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_those_serde_json_builds() {
        let text = "a: 1\nb: [true, 2.5, null, x]\nc: {d: -3, e: ''}\n";
        let plain: Value = serde_yaml_ng::from_str(text).expect("yaml");
        assert_eq!(parse(text), Ok(plain));
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        let joined = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n";
        let err = parse(joined).expect_err("two documents joined");
        assert!(err.contains("\"apiVersion\" already defined"), "{err}");
        let nested = "metadata:\n  labels: {app: a, app: b}\n";
        assert!(parse(nested).is_err());
    }
}
