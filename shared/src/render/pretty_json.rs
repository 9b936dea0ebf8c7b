//! JSON laid out exactly as `serde_json::to_writer_pretty` lays it out (two-space indent),
//! with fewer writes: serde_json's pretty formatter writes each line break, then each level of
//! indentation, as writes of their own, so a finding nested three levels deep costs about sixty
//! small copies for its indentation alone. Here a line break and its indentation are one slice
//! of a run of spaces. (Reports of large clusters are hundreds of MB of JSON.)

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// `,` then a line break then the indentation of any depth up to `MAX_DEPTH`.
const BREAK: &[u8] = b",\n                                                                ";
const MAX_DEPTH: usize = (BREAK.len() - 2) / 2;

#[derive(Debug, Default)]
pub(crate) struct PrettyJson {
    depth: usize,
    has_value: bool,
}

impl PrettyJson {
    /// A line break (after a comma unless `first`) and the current indentation.
    fn new_line<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
        let start = usize::from(first);
        if self.depth <= MAX_DEPTH {
            writer.write_all(&BREAK[start..2 + 2 * self.depth])
        } else {
            writer.write_all(&BREAK[start..2])?;
            (0..self.depth).try_for_each(|_| writer.write_all(b"  "))
        }
    }

    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    /// `]` or `}`, on a line of its own unless the array or object is empty.
    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.new_line(writer, true)?;
        }
        writer.write_all(bracket)
    }
}

// The same layout as serde_json's `PrettyFormatter`, method for method.
impl Formatter for PrettyJson {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `value` as pretty JSON into `writer` (what `serde_json::to_writer_pretty` writes).
pub(crate) fn to_writer<W: Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(writer, PrettyJson::default());
    value.serialize(&mut serializer)
}

/// `value` as pretty JSON text (what `serde_json::to_string_pretty` returns).
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut text = Vec::with_capacity(128);
    to_writer(&mut text, value)?;
    String::from_utf8(text).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// One finding of a report's `findings` list, exactly as [`to_writer`] lays it out there
/// (indented four spaces, no separator), with one write per field instead of serde's eight:
/// large reports have hundreds of thousands of findings, and the writes were most of the time.
pub(crate) fn write_report_finding(out: &mut Vec<u8>, finding: &crate::finding::Finding) {
    let object = &finding.object;
    out.extend_from_slice(b"    {\n      \"id\": ");
    string(out, &finding.id);
    out.extend_from_slice(b",\n      \"rule\": ");
    string(out, &finding.rule);
    out.extend_from_slice(b",\n      \"severity\": \"");
    out.extend_from_slice(finding.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\n      \"object\": {\n        \"apiVersion\": ");
    string(out, &object.api_version);
    out.extend_from_slice(b",\n        \"kind\": ");
    string(out, &object.kind);
    out.extend_from_slice(b",\n        \"namespace\": ");
    match &object.namespace {
        Some(namespace) => string(out, namespace),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\n        \"name\": ");
    string(out, &object.name);
    out.extend_from_slice(b"\n      },\n      \"message\": ");
    string(out, &finding.message);
    out.extend_from_slice(b",\n      \"remediation\": ");
    string(out, &finding.remediation);
    out.extend_from_slice(b",\n      \"evidence\": ");
    // Raw JSON goes through as it is (serde_json does the same).
    out.extend_from_slice(finding.evidence.get().as_bytes());
    out.extend_from_slice(b"\n    }");
}

/// A JSON string: quoted as it is when nothing in it needs escaping (nearly always), else
/// escaped by serde_json itself, so the bytes are serde_json's either way.
fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_pretty_writes() {
        let mut deep = serde_json::json!("leaf");
        for i in 0..(MAX_DEPTH + 3) {
            deep = if i % 2 == 0 {
                serde_json::json!([deep, 1, {}])
            } else {
                serde_json::json!({"k": deep, "empty": [], "s": "a \"q\"\n"})
            };
        }
        let samples = [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([[], {}, [[]], {"a": {}}]),
            serde_json::json!({"a": 1, "b": [true, null, 2.5], "c": {"d": "e"}}),
            deep,
        ];
        for sample in samples {
            let ours = to_string(&sample).expect("ours");
            let theirs = serde_json::to_string_pretty(&sample).expect("serde_json");
            assert_eq!(ours, theirs);
        }
        // Raw JSON (findings' evidence) goes through as it is.
        #[derive(Serialize)]
        struct WithRaw {
            evidence: Box<serde_json::value::RawValue>,
        }
        let raw = serde_json::value::RawValue::from_string(r#"{"x":[1,2]}"#.into()).expect("raw");
        let nested = [WithRaw { evidence: raw }];
        assert_eq!(
            to_string(&nested).expect("ours"),
            serde_json::to_string_pretty(&nested).expect("serde_json")
        );
    }
}
