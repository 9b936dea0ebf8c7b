//! The real kube-apiserver exchanges in `tests/fixtures/apiserver-recordings/`, loaded once per
//! process. Everything the test API server answers is taken from (or derived from) these.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// One recorded HTTP exchange (`NNN-*.json`).
#[derive(Debug, Clone)]
pub struct Recording {
    /// File name, e.g. `049-error-401-bad-token.json`.
    pub file: String,
    /// The three-digit number the file name starts with, e.g. `"049"`.
    pub number: String,
    pub method: String,
    pub path: String,
    /// Decoded query parameters of the request.
    pub query: BTreeMap<String, String>,
    /// Request headers kept in the recording (`accept`, `content-type`).
    pub request_headers: BTreeMap<String, String>,
    /// The request body (`Null` when none).
    pub request_body: Value,
    /// Whose credentials were used: `admin`, `alice`, `invalid-token` or `anonymous`.
    pub user: String,
    pub status: u16,
    /// Response headers (`warning` is a list in the file; here every entry is its own pair).
    pub headers: Vec<(String, String)>,
    /// Parsed response body (a JSON string for the one text body, `066`).
    pub body: Value,
}

/// Folder holding the recordings.
pub fn recordings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("apiserver-recordings")
}

/// Every recording, ordered by file name. Loaded (and parsed) once per process.
pub fn all() -> &'static [Recording] {
    static ALL: OnceLock<Vec<Recording>> = OnceLock::new();
    ALL.get_or_init(load_all)
}

/// The recording whose file name starts with `number` (e.g. `"049"`).
///
/// Panics when there is none: the set of recordings is fixed, so this is a programming error.
pub fn get(number: &str) -> &'static Recording {
    all()
        .iter()
        .find(|r| r.number == number)
        .unwrap_or_else(|| panic!("no recording {number} in {}", recordings_dir().display()))
}

/// The response body of recording `number`.
pub fn body(number: &str) -> &'static Value {
    &get(number).body
}

fn load_all() -> Vec<Recording> {
    let dir = recordings_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read recordings folder {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.len() > 4 && n.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                })
        })
        .collect();
    files.sort();
    files.iter().map(|p| parse_file(p)).collect()
}

fn parse_file(path: &std::path::Path) -> Recording {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read recording {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("recording {} is not JSON: {e}", path.display()));
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let str_at = |v: &Value, ptr: &str| {
        v.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // Query and request headers are flat string maps in the recording format.
    let string_map = |ptr: &str| {
        doc.pointer(ptr)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let query = string_map("/request/query");
    let request_headers = string_map("/request/headers");
    let mut headers = Vec::new();
    if let Some(h) = doc.pointer("/response/headers").and_then(Value::as_object) {
        for (name, value) in h {
            match value {
                Value::Array(values) => {
                    for v in values {
                        headers.push((name.clone(), v.as_str().unwrap_or_default().to_string()));
                    }
                }
                other => {
                    headers.push((name.clone(), other.as_str().unwrap_or_default().to_string()))
                }
            }
        }
    }
    Recording {
        number: file[..3].to_string(),
        file,
        method: str_at(&doc, "/request/method"),
        path: str_at(&doc, "/request/path"),
        query,
        request_headers,
        request_body: doc.pointer("/request/body").cloned().unwrap_or(Value::Null),
        user: str_at(&doc, "/request/user"),
        status: doc
            .pointer("/response/status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("recording {} has no response.status", path.display())),
        headers,
        body: doc
            .pointer("/response/body")
            .cloned()
            .unwrap_or(Value::Null),
    }
}
