//! Offline input: files, directories (`-R`), stdin; multi-document YAML and JSON; `kind: List`.
//! Every document keeps the file and line it started at, so errors and SARIF can point there.
//! Documents are handed to a callback one at a time, and JSON is never materialised as a
//! `Value` tree, so memory stays close to the typed objects kept.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::finding::SourceLocation;

/// A document's content: JSON text borrowed from the file, or a value parsed from YAML.
#[derive(Debug)]
pub enum Body<'a> {
    Json(&'a RawValue),
    Yaml(Value),
}

/// One Kubernetes object read from a manifest.
#[derive(Debug)]
pub struct Document<'a> {
    pub body: Body<'a>,
    pub location: SourceLocation,
    /// `kind`, `apiVersion` and `metadata.name`, read when the document was split off (every
    /// document has kind and apiVersion by then), so nothing parses its head twice.
    pub kind: Cow<'a, str>,
    pub api_version: Cow<'a, str>,
    pub name: Option<Cow<'a, str>>,
}

/// The fields every object has, read without decoding the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Head<'a> {
    #[serde(borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub metadata: Option<HeadMeta<'a>>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HeadMeta<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

impl Document<'_> {
    /// Decodes the document into a typed object.
    pub fn decode<T: DeserializeOwned>(self) -> std::result::Result<T, serde_json::Error> {
        match self.body {
            Body::Json(raw) => serde_json::from_str(raw.get()),
            Body::Yaml(value) => serde_json::from_value(value),
        }
    }

    /// Decodes a view of the document, keeping it for a fuller decode afterwards.
    pub fn decode_borrowed<T: DeserializeOwned>(
        &self,
    ) -> std::result::Result<T, serde_json::Error> {
        match &self.body {
            Body::Json(raw) => serde_json::from_str(raw.get()),
            Body::Yaml(value) => T::deserialize(value),
        }
    }
}

/// Receives the documents of one file (or of stdin) at a time, in order; returning an error
/// stops loading. A file's documents come together so that they can be decoded in parallel.
pub type Sink<'s> = dyn FnMut(Vec<Document<'_>>) -> Result<()> + 's;

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every path given with `-f` (kubectl rules: directories list their manifest files,
/// recursing only with `-R`; `-` is stdin). Returns the files read, in order.
pub fn load(paths: &[PathBuf], recursive: bool, sink: &mut Sink<'_>) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::input("<stdin>", format!("cannot read: {e}")))?;
            parse_text("-", &text, sink)?;
            files.push("-".into());
            continue;
        }
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::input(path.display().to_string(), io_reason(&e)))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect_dir(path, recursive, &mut found)?;
            if found.is_empty() {
                return Err(Error::input(
                    path.display().to_string(),
                    "no manifest files (.yaml, .yml, .json) in this directory (use -R to recurse)",
                ));
            }
            for file in found {
                read_file(&file, sink)?;
                files.push(file.display().to_string());
            }
        } else {
            read_file(path, sink)?;
            files.push(path.display().to_string());
        }
    }
    Ok(files)
}

/// The files `-f` paths name (directories listed as [`load`] lists them; `-` kept as is),
/// without reading them: for commands that rewrite files.
pub fn expand(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() != "-"
            && std::fs::metadata(path)
                .map_err(|e| Error::input(path.display().to_string(), io_reason(&e)))?
                .is_dir()
        {
            collect_dir(path, recursive, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn collect_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::input(dir.display().to_string(), io_reason(&e)))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if recursive {
                collect_dir(&p, recursive, out)?;
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn read_file(path: &Path, sink: &mut Sink<'_>) -> Result<()> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::input(&name, io_reason(&e)))?;
    if bytes.contains(&0) {
        return Err(Error::input(
            &name,
            "binary data, not a YAML or JSON manifest",
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::input(&name, "not UTF-8 text, not a YAML or JSON manifest"))?;
    parse_text(&name, &text, sink)
}

/// Parses one file's text. JSON (one or more concatenated values) takes the fast path;
/// everything else is YAML split at `---` lines so each document knows its line.
pub fn parse_text(name: &str, text: &str, sink: &mut Sink<'_>) -> Result<()> {
    let mut documents = Vec::new();
    // One name shared by every document's location (large files hold hundreds of thousands).
    let file: Arc<str> = name.into();
    split_documents(&file, text, &mut documents)?;
    sink(documents)
}

fn split_documents<'t>(name: &Arc<str>, text: &'t str, sink: &mut Vec<Document<'t>>) -> Result<()> {
    let trimmed = text.trim_start_matches('\u{feff}');
    let first = trimmed.trim_start();
    // Not valid JSON falls through: YAML flow syntax is a superset, so the YAML parser reports it.
    if (first.starts_with('{') || first.starts_with('['))
        && let Ok(raws) = serde_json::Deserializer::from_str(trimmed)
            .into_iter::<&RawValue>()
            .collect::<std::result::Result<Vec<_>, _>>()
    {
        // Sized once: large files hold hundreds of thousands of documents.
        sink.reserve(raws.len());
        // Lines are counted incrementally: one pass over the text in all.
        let (mut line, mut counted_to) = (1, 0);
        for (index, raw) in raws.into_iter().enumerate() {
            let offset = offset_in(trimmed, raw.get());
            line += trimmed[counted_to..offset].matches('\n').count();
            counted_to = offset;
            push_json(name, line, index, raw, sink)?;
        }
        return Ok(());
    }
    for (index, (start_line, segment)) in yaml_segments(text).into_iter().enumerate() {
        if segment.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#')
        }) {
            continue;
        }
        let value = serde_yaml_ng::Deserializer::from_str(segment)
            .next()
            .map(|document| crate::yaml_value::StrictValue::deserialize(document).map(|v| v.0))
            .transpose()
            .map_err(|e| {
                let loc = e
                    .location()
                    .map(|l| format!(":{}:{}", start_line + l.line() - 1, l.column()))
                    .unwrap_or_default();
                let msg = e.to_string();
                // serde_yaml appends " at line X column Y" relative to the segment; we print our own.
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                Error::input(
                    format!("{name}{loc}"),
                    format!("malformed YAML in document {}: {msg}", index + 1),
                )
            })?;
        if let Some(value) = value {
            push_yaml(name, start_line, index, value, sink)?;
        }
    }
    Ok(())
}

/// Byte offset of `part` (a slice of `whole`) inside `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len())
}

/// Splits YAML text at document separators, returning (1-based first line, text).
fn yaml_segments(text: &str) -> Vec<(usize, &str)> {
    let mut segments = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let is_separator =
            content == "---" || content.starts_with("--- ") || content.starts_with("---\t");
        if is_separator {
            segments.push((start_line, &text[start_byte..offset]));
            start_byte = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    segments.push((start_line, &text[start_byte..]));
    segments
}

fn not_an_object(
    name: &str,
    line: usize,
    index: usize,
    kind: Option<&str>,
    api_version: Option<&str>,
) -> Error {
    let what = match (kind, api_version) {
        (None, _) => "has no \"kind\"",
        (_, None) => "has no \"apiVersion\"",
        _ => "is not a Kubernetes object",
    };
    Error::input(
        format!("{name}:{line}"),
        format!("document {} {what}", index + 1),
    )
}

fn push_json<'t>(
    name: &Arc<str>,
    line: usize,
    index: usize,
    raw: &'t RawValue,
    sink: &mut Vec<Document<'t>>,
) -> Result<()> {
    let text = raw.get();
    if text == "null" {
        return Ok(());
    }
    if text.starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(text).map_err(|e| Error::input(format!("{name}:{line}"), e))?;
        for item in items {
            push_json(name, line, index, item, sink)?;
        }
        return Ok(());
    }
    let head: Head<'t> = serde_json::from_str(text)
        .map_err(|_| not_an_object(name, line, index, Some(""), Some("")))?;
    match (head.kind, head.api_version, head.items) {
        (Some(kind), Some(_), Some(items)) if kind.ends_with("List") => {
            for item in items {
                push_json(name, line, index, item, sink)?;
            }
            Ok(())
        }
        (Some(kind), Some(api_version), _) => {
            sink.push(Document {
                body: Body::Json(raw),
                location: SourceLocation {
                    file: Arc::clone(name),
                    line,
                },
                kind,
                api_version,
                name: head.metadata.and_then(|m| m.name),
            });
            Ok(())
        }
        (kind, api_version, _) => Err(not_an_object(
            name,
            line,
            index,
            kind.as_deref(),
            api_version.as_deref(),
        )),
    }
}

fn push_yaml(
    name: &Arc<str>,
    line: usize,
    index: usize,
    value: Value,
    sink: &mut Vec<Document<'_>>,
) -> Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                push_yaml(name, line, index, item, sink)?;
            }
            Ok(())
        }
        Value::Object(mut map) => {
            let kind = map.get("kind").and_then(Value::as_str).map(str::to_string);
            let api_version = map
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            match (kind.as_deref(), api_version.as_deref()) {
                (Some(kind), Some(_))
                    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) =>
                {
                    if let Some(Value::Array(items)) = map.remove("items") {
                        for item in items {
                            push_yaml(name, line, index, item, sink)?;
                        }
                    }
                    Ok(())
                }
                (Some(kind), Some(api_version)) => {
                    let (kind, api_version) = (
                        Cow::Owned(kind.to_string()),
                        Cow::Owned(api_version.to_string()),
                    );
                    let name_field = map
                        .get("metadata")
                        .and_then(|m| m.get("name"))
                        .and_then(Value::as_str)
                        .map(|n| Cow::Owned(n.to_string()));
                    sink.push(Document {
                        body: Body::Yaml(Value::Object(map)),
                        location: SourceLocation {
                            file: Arc::clone(name),
                            line,
                        },
                        kind,
                        api_version,
                        name: name_field,
                    });
                    Ok(())
                }
                (kind, api_version) => Err(not_an_object(name, line, index, kind, api_version)),
            }
        }
        _ => Err(not_an_object(name, line, index, Some(""), Some(""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(Value, usize)>> {
        let mut out = Vec::new();
        parse_text("t.yaml", text, &mut |docs: Vec<Document<'_>>| {
            for d in docs {
                let line = d.location.line;
                out.push((d.decode::<Value>().expect("value"), line));
            }
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn multi_document_yaml_keeps_lines() {
        let docs = parse("# c\napiVersion: v1\nkind: A\n---\n---\napiVersion: v1\nkind: B\n")
            .expect("parse");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].1, 1);
        assert_eq!(docs[1].1, 6);
    }

    #[test]
    fn lists_and_json_streams_expand() {
        let docs = parse(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"A"},{"apiVersion":"v1","kind":"B"}]} {"apiVersion":"v1","kind":"C"}"#)
            .expect("parse");
        let kinds: Vec<_> = docs
            .iter()
            .map(|d| d.0["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["A", "B", "C"]);
    }

    #[test]
    fn malformed_yaml_names_file_and_line() {
        let err = parse("apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: [B\n")
            .expect_err("must fail");
        let msg = err.to_string();
        // The parser notices the unclosed flow sequence at the end of the document.
        assert!(msg.starts_with("t.yaml:6:"), "{msg}");
        assert!(msg.contains("document 2"), "{msg}");
        assert_eq!(err.exit_code(), crate::exit_code::INPUT);
    }

    #[test]
    fn missing_kind_is_an_input_error() {
        let err = parse("apiVersion: v1\nmetadata: {}\n").expect_err("must fail");
        assert!(err.to_string().contains("has no \"kind\""));
    }

    #[test]
    fn directories_need_manifests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load(&[dir.path().to_path_buf()], false, &mut |_| Ok(())).expect_err("empty dir");
        assert!(err.to_string().contains("no manifest files"));
        std::fs::write(dir.path().join("bin.yaml"), [0u8, 1, 2]).expect("write");
        let err = load(&[dir.path().to_path_buf()], false, &mut |_| Ok(())).expect_err("binary");
        assert!(err.to_string().contains("binary data"));
    }
}
