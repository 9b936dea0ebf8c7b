//! Offline input: files, directories (`-R`), stdin; multi-document YAML and JSON; `kind: List`.
//! Every document keeps the file and line it started at, so errors and SARIF can point there.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::finding::SourceLocation;

/// One Kubernetes object read from a manifest.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub location: SourceLocation,
}

#[derive(Debug, Default)]
pub struct ManifestSet {
    pub documents: Vec<Document>,
    /// The files read, in order ("-" for stdin).
    pub files: Vec<String>,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every path given with `-f` (kubectl rules: directories list their manifest files,
/// recursing only with `-R`; `-` is stdin).
pub fn load(paths: &[PathBuf], recursive: bool) -> Result<ManifestSet> {
    let mut set = ManifestSet::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::input("<stdin>", format!("cannot read: {e}")))?;
            parse_text("-", &text, &mut set.documents)?;
            set.files.push("-".into());
            continue;
        }
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::input(path.display().to_string(), io_reason(&e)))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_dir(path, recursive, &mut files)?;
            if files.is_empty() {
                return Err(Error::input(
                    path.display().to_string(),
                    "no manifest files (.yaml, .yml, .json) in this directory (use -R to recurse)",
                ));
            }
            for file in files {
                read_file(&file, &mut set)?;
            }
        } else {
            read_file(path, &mut set)?;
        }
    }
    Ok(set)
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

fn read_file(path: &Path, set: &mut ManifestSet) -> Result<()> {
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
    parse_text(&name, &text, &mut set.documents)?;
    set.files.push(name);
    Ok(())
}

/// Parses one file's text into documents. JSON (one or more concatenated values) takes the
/// fast path; everything else is YAML split at `---` lines so each document knows its line.
pub fn parse_text(name: &str, text: &str, out: &mut Vec<Document>) -> Result<()> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    // Not valid JSON falls through: YAML flow syntax is a superset, so the YAML parser reports it.
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(values) = parse_json_stream(trimmed)
    {
        for (index, value) in values.into_iter().enumerate() {
            push_document(name, 1, index, value, out)?;
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
            .map(Value::deserialize)
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
            push_document(name, start_line, index, value, out)?;
        }
    }
    Ok(())
}

fn parse_json_stream(text: &str) -> std::result::Result<Vec<Value>, serde_json::Error> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect()
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

fn push_document(
    name: &str,
    line: usize,
    index: usize,
    value: Value,
    out: &mut Vec<Document>,
) -> Result<()> {
    let location = SourceLocation {
        file: name.to_string(),
        line,
    };
    let where_ = || format!("{name}:{line}");
    match value {
        Value::Null => Ok(()),
        Value::Object(ref map) => {
            let kind = map.get("kind").and_then(Value::as_str);
            let api_version = map.get("apiVersion").and_then(Value::as_str);
            match (kind, api_version) {
                (Some(kind), Some(_))
                    if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) =>
                {
                    let Some(Value::Array(items)) = value.get("items").cloned() else {
                        return Ok(());
                    };
                    for item in items {
                        push_document(name, line, index, item, out)?;
                    }
                    Ok(())
                }
                (Some(_), Some(_)) => {
                    out.push(Document { value, location });
                    Ok(())
                }
                (None, _) => Err(Error::input(
                    where_(),
                    format!("document {} has no \"kind\"", index + 1),
                )),
                (_, None) => Err(Error::input(
                    where_(),
                    format!("document {} has no \"apiVersion\"", index + 1),
                )),
            }
        }
        Value::Array(items) => {
            for item in items {
                push_document(name, line, index, item, out)?;
            }
            Ok(())
        }
        _ => Err(Error::input(
            where_(),
            format!("document {} is not a Kubernetes object", index + 1),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Document>> {
        let mut out = Vec::new();
        parse_text("t.yaml", text, &mut out)?;
        Ok(out)
    }

    #[test]
    fn multi_document_yaml_keeps_lines() {
        let docs = parse("# c\napiVersion: v1\nkind: A\n---\n---\napiVersion: v1\nkind: B\n")
            .expect("parse");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].location.line, 1);
        assert_eq!(docs[1].location.line, 6);
    }

    #[test]
    fn lists_and_json_streams_expand() {
        let docs = parse(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"A"},{"apiVersion":"v1","kind":"B"}]} {"apiVersion":"v1","kind":"C"}"#)
            .expect("parse");
        let kinds: Vec<_> = docs
            .iter()
            .map(|d| d.value["kind"].as_str().unwrap_or(""))
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
        let err = load(&[dir.path().to_path_buf()], false).expect_err("empty dir");
        assert!(err.to_string().contains("no manifest files"));
        std::fs::write(dir.path().join("bin.yaml"), [0u8, 1, 2]).expect("write");
        let err = load(&[dir.path().to_path_buf()], false).expect_err("binary");
        assert!(err.to_string().contains("binary data"));
    }
}
