//! Just enough Kubernetes protobuf to read what kubectl sends for access reviews: typed
//! clientsets in kubectl post `application/vnd.kubernetes.protobuf` bodies (the `k8s\0`
//! envelope around a `runtime.Unknown`).

use serde_json::{Map, Value, json};

/// The magic prefix of Kubernetes protobuf bodies.
pub const MAGIC: &[u8] = b"k8s\x00";

#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(buf, &mut pos)?),
            1 => {
                pos = pos.checked_add(8)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let bytes = buf.get(pos..end)?;
                pos = end;
                Field::Bytes(bytes)
            }
            5 => {
                pos = pos.checked_add(4)?;
                Field::Fixed
            }
            _ => return None,
        };
        out.push((key >> 3, field));
    }
    (pos == buf.len()).then_some(out)
}

fn message(buf: &[u8], number: u64) -> Option<&[u8]> {
    fields(buf)?.into_iter().find_map(|(n, f)| match f {
        Field::Bytes(b) if n == number => Some(b),
        _ => None,
    })
}

fn strings(buf: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let mut out = Map::new();
    for (n, f) in fields(buf)? {
        if let (Some((_, name)), Field::Bytes(b)) = (names.iter().find(|(num, _)| *num == n), f) {
            // gogo-protobuf writes empty optional strings; their JSON form omits them.
            if b.is_empty() {
                continue;
            }
            out.insert((*name).to_string(), json!(String::from_utf8_lossy(b)));
        }
    }
    Some(Value::Object(out))
}

/// Decodes a protobuf `SelfSubjectAccessReview` body into its JSON form (kind, apiVersion and
/// `spec.resourceAttributes` / `spec.nonResourceAttributes`). `None` if it is not one.
pub fn decode_self_subject_access_review(body: &[u8]) -> Option<Value> {
    let unknown = body.strip_prefix(MAGIC)?;
    let type_meta = message(unknown, 1)?;
    let tm = strings(type_meta, &[(1, "apiVersion"), (2, "kind")])?;
    if tm["kind"] != "SelfSubjectAccessReview" {
        return None;
    }
    let raw = message(unknown, 2)?;
    let mut spec = Map::new();
    if let Some(spec_buf) = message(raw, 2) {
        if let Some(ra) = message(spec_buf, 1) {
            let names = [
                (1, "namespace"),
                (2, "verb"),
                (3, "group"),
                (4, "version"),
                (5, "resource"),
                (6, "subresource"),
                (7, "name"),
            ];
            spec.insert("resourceAttributes".into(), strings(ra, &names)?);
        }
        if let Some(nra) = message(spec_buf, 2) {
            spec.insert(
                "nonResourceAttributes".into(),
                strings(nra, &[(1, "path"), (2, "verb")])?,
            );
        }
    }
    Some(json!({
        "kind": tm["kind"],
        "apiVersion": tm["apiVersion"],
        "spec": Value::Object(spec),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![
            (field << 3) | 2,
            u8::try_from(payload.len()).expect("short"),
        ];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_a_self_subject_access_review() {
        let ra = [ld(1, b"shop"), ld(2, b"list"), ld(5, b"pods")].concat();
        let spec = ld(1, &ra);
        let raw = [ld(1, &[]), ld(2, &spec), ld(3, &[])].concat();
        let tm = [
            ld(1, b"authorization.k8s.io/v1"),
            ld(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [
            MAGIC.to_vec(),
            ld(1, &tm),
            ld(2, &raw),
            ld(3, b""),
            ld(4, b""),
        ]
        .concat();
        let decoded = decode_self_subject_access_review(&body).expect("decodes");
        assert_eq!(
            decoded,
            json!({
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "spec": {"resourceAttributes": {"namespace": "shop", "verb": "list", "resource": "pods"}}
            })
        );
    }
}
