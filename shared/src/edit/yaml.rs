//! Format-preserving YAML edits. The file is parsed once with a parser that reports exact
//! source positions (saphyr-parser); an edit replaces or inserts a few bytes at those positions
//! and leaves every other byte — comments, key order, indentation, quoting, blank lines, line
//! endings, anchors, other documents — exactly as it was. Nothing is ever re-serialised.
//! Every edited text is parsed again and checked to hold the intended values before it is
//! offered for writing.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// One step of a path from a document's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        PathSegment::Key(key.to_string())
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        PathSegment::Index(index)
    }
}

/// `spec.template.spec.containers[0].image`, for messages.
pub fn display_path(path: &[PathSegment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSegment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSegment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("line {line}: not valid YAML: {message}")]
    Parse { line: usize, message: String },
    #[error("document {document}: no {path}")]
    NotFound { document: usize, path: String },
    #[error("document {document}: {path} is {what}; not edited")]
    Unsupported {
        document: usize,
        path: String,
        what: &'static str,
    },
    #[error("the edited text does not read back as intended ({0}); nothing written")]
    Verification(String),
}

impl EditError {
    /// The node at `path` of `document` is of a form this editor does not change.
    fn unsupported(document: usize, path: &[PathSegment], what: &'static str) -> EditError {
        EditError::Unsupported {
            document,
            path: display_path(path),
            what,
        }
    }
}

/// A node with its source position (byte offsets into the text).
#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        value: String,
        style: ScalarStyle,
        /// The scalar's own text, quotes included, anchor and tag excluded.
        span: (usize, usize),
    },
    Mapping {
        entries: Vec<(String, Node)>,
        flow: bool,
        /// Block: the first key's column; flow: the byte offset of the closing `}`.
        indent: usize,
        close: usize,
        /// The byte offset of each entry's key (parallel to `entries`).
        key_starts: Vec<usize>,
    },
    Sequence {
        items: Vec<Node>,
        flow: bool,
        /// Flow: the byte offset of the closing `]`.
        close: usize,
        /// The byte offset of each item's text (parallel to `items`).
        starts: Vec<usize>,
    },
    Alias(usize),
}

impl Node {
    /// The end of the node's text (the last byte of its deepest last child).
    fn end(&self) -> Option<usize> {
        match self {
            Node::Scalar { span, .. } => Some(span.1),
            Node::Mapping {
                entries,
                flow,
                close,
                ..
            } => {
                if *flow {
                    Some(close + 1)
                } else {
                    entries.last().and_then(|(_, v)| v.end())
                }
            }
            Node::Sequence {
                items, flow, close, ..
            } => {
                if *flow {
                    Some(close + 1)
                } else {
                    items.last().and_then(Node::end)
                }
            }
            Node::Alias(_) => None,
        }
    }

    /// Where a block collection's text starts (its first key or item); `None` for the rest,
    /// whose parser position is exact.
    fn start(&self) -> Option<usize> {
        match self {
            Node::Mapping {
                flow: false,
                key_starts,
                ..
            } => key_starts.first().copied(),
            Node::Sequence {
                flow: false,
                starts,
                ..
            } => starts.first().copied(),
            Node::Scalar { span, .. } => Some(span.0),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// A planned change: replace `range` with `text`.
#[derive(Debug, Clone)]
struct Splice {
    range: (usize, usize),
    text: String,
}

/// What each edit should read back as (checked after applying).
#[derive(Debug, Clone)]
struct Expectation {
    document: usize,
    path: Vec<PathSegment>,
    value: Option<String>,
    /// The path must not exist any more (a removed entry).
    absent: bool,
    /// The sequence at the path must hold this many items (items were removed).
    length: Option<usize>,
}

/// A YAML file (one or more documents) and the edits planned on it.
#[derive(Debug)]
pub struct YamlFile {
    text: String,
    documents: Vec<Node>,
    anchors: HashMap<usize, Node>,
    splices: Vec<Splice>,
    expectations: Vec<Expectation>,
    line_ending: &'static str,
    /// Items appended so far per sequence (document, path): later appends land after them.
    appended: HashMap<(usize, Vec<PathSegment>), usize>,
    /// Sequences items were removed from (appending to them too would shift indexes).
    shrunk: std::collections::HashSet<(usize, Vec<PathSegment>)>,
    /// Mappings that get new entries: their last old entry may then be removed.
    gaining: std::collections::HashSet<(usize, Vec<PathSegment>)>,
}

impl YamlFile {
    pub fn parse(text: &str) -> Result<YamlFile, EditError> {
        // The parser reports character positions; edits need byte offsets.
        let mut byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        byte_at.push(text.len());
        let mut builder = Builder {
            text,
            byte_at,
            anchors: HashMap::new(),
        };
        let mut parser = Parser::new_from_str(text);
        let mut documents = Vec::new();
        loop {
            let (event, _span) = next(&mut parser)?;
            match event {
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    let (event, span) = next(&mut parser)?;
                    if matches!(event, Event::DocumentEnd) {
                        documents.push(Node::Scalar {
                            value: String::new(),
                            style: ScalarStyle::Plain,
                            span: (
                                builder.byte(span.start.index()),
                                builder.byte(span.start.index()),
                            ),
                        });
                        continue;
                    }
                    let node = builder.node(&mut parser, event, span)?;
                    documents.push(node);
                }
                _ => {}
            }
        }
        let line_ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Ok(YamlFile {
            text: text.to_string(),
            documents,
            anchors: builder.anchors,
            splices: Vec::new(),
            expectations: Vec::new(),
            line_ending,
            appended: HashMap::new(),
            shrunk: Default::default(),
            gaining: Default::default(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn document_count(&self) -> usize {
        self.documents.len()
    }

    /// The node at `path` in document `document`, following aliases.
    pub fn get(&self, document: usize, path: &[PathSegment]) -> Option<&Node> {
        let mut node = self.resolve(self.documents.get(document)?);
        for seg in path {
            node = match (node, seg) {
                (Node::Mapping { entries, .. }, PathSegment::Key(k)) => entries
                    .iter()
                    .rev()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v)?,
                (Node::Sequence { items, .. }, PathSegment::Index(i)) => items.get(*i)?,
                _ => return None,
            };
            node = self.resolve(node);
        }
        Some(node)
    }

    /// The node at `path`, or the error naming what is missing.
    fn node_at(&self, document: usize, path: &[PathSegment]) -> Result<&Node, EditError> {
        self.get(document, path).ok_or_else(|| EditError::NotFound {
            document,
            path: display_path(path),
        })
    }

    fn resolve<'a>(&'a self, node: &'a Node) -> &'a Node {
        match node {
            Node::Alias(id) => self.anchors.get(id).unwrap_or(node),
            other => other,
        }
    }

    /// Plans replacing the scalar at `path` with `value`, keeping its quoting style. A value
    /// reached through an alias is changed where its anchor is defined (every alias of it
    /// changes too — they are one value).
    pub fn set_scalar(
        &mut self,
        document: usize,
        path: &[PathSegment],
        value: &str,
    ) -> Result<(), EditError> {
        let not_found = || EditError::NotFound {
            document,
            path: display_path(path),
        };
        let unsupported = |what| EditError::unsupported(document, path, what);
        let (style, span) = match self.get(document, path).ok_or_else(not_found)? {
            Node::Scalar { style, span, .. } => (*style, *span),
            _ => return Err(unsupported("not a scalar")),
        };
        let text = match style {
            ScalarStyle::Plain if plain_safe(value) => value.to_string(),
            ScalarStyle::Plain | ScalarStyle::DoubleQuoted => {
                format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
            }
            ScalarStyle::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
            _ => return Err(unsupported("a block scalar (| or >)")),
        };
        self.splices.push(Splice { range: span, text });
        self.expectations.push(Expectation {
            document,
            path: path.to_vec(),
            value: Some(value.to_string()),
            absent: false,
            length: None,
        });
        Ok(())
    }

    /// Plans replacing the scalar at `path` with a plain (unquoted) `true`, `false` or number,
    /// so it reads back as a boolean or number rather than a string; other text is refused.
    pub fn set_plain_scalar(
        &mut self,
        document: usize,
        path: &[PathSegment],
        value: &str,
    ) -> Result<(), EditError> {
        let unsupported = |what| EditError::unsupported(document, path, what);
        if !(matches!(value, "true" | "false") || value.parse::<i64>().is_ok()) {
            return Err(unsupported("not given a boolean or integer"));
        }
        let span = match self.get(document, path) {
            Some(Node::Scalar { span, .. }) => *span,
            Some(_) => return Err(unsupported("not a scalar")),
            None => {
                return Err(EditError::NotFound {
                    document,
                    path: display_path(path),
                });
            }
        };
        self.splices.push(Splice {
            range: span,
            text: value.to_string(),
        });
        self.expectations.push(Expectation {
            document,
            path: path.to_vec(),
            value: Some(value.to_string()),
            absent: false,
            length: None,
        });
        Ok(())
    }

    /// Plans adding `key: value` to the mapping at `path`. `value` is YAML text: a scalar, a
    /// flow collection, or several lines of block YAML (indented below the key). Block
    /// mappings get the new entry after their last entry at the same indentation; flow
    /// mappings get `, key: value` before their `}`.
    pub fn insert_entry(
        &mut self,
        document: usize,
        path: &[PathSegment],
        key: &str,
        value: &str,
    ) -> Result<(), EditError> {
        let node = self.node_at(document, path)?;
        let Node::Mapping {
            entries,
            flow,
            indent,
            close,
            ..
        } = node
        else {
            return Err(EditError::unsupported(document, path, "not a mapping"));
        };
        if entries.iter().any(|(k, _)| k == key) {
            return Err(EditError::unsupported(
                document,
                path,
                "already holding that key",
            ));
        }
        // A block collection (`- ALL`, `a: 1`) fits neither after `key: ` on one line nor in
        // a flow mapping: it goes on lines of its own, or is rewritten as flow YAML.
        let block_collection = YamlFile::parse(value).ok().is_some_and(|v| {
            matches!(
                v.documents.first(),
                Some(Node::Mapping { flow: false, .. } | Node::Sequence { flow: false, .. })
            )
        });
        let splice = if *flow {
            let separator = if entries.is_empty() { "" } else { ", " };
            // Keep any space before `}` where it is.
            let at = self.text[..*close].trim_end().len();
            let value = if block_collection {
                let parsed: serde_json::Value = serde_yaml_ng::from_str(value).map_err(|_| {
                    EditError::unsupported(document, path, "given a value that is not plain data")
                })?;
                flow_text(&parsed)
            } else {
                value.trim().to_string()
            };
            Splice {
                range: (at, at),
                text: format!("{separator}{key}: {value}"),
            }
        } else {
            let Some(last_end) = entries.last().and_then(|(_, v)| v.end()) else {
                return Err(EditError::unsupported(
                    document,
                    path,
                    "an empty block mapping",
                ));
            };
            // After the last entry's line (its trailing comment stays with it).
            let at = self.text[last_end..]
                .find(['\n', '\r'])
                .map_or(self.text.len(), |i| last_end + i);
            let pad = " ".repeat(*indent);
            let nl = self.line_ending;
            let lines: Vec<&str> = value.trim_end().lines().collect();
            let text = if lines.len() <= 1 && !block_collection {
                format!("{nl}{pad}{key}: {}", value.trim())
            } else {
                let body: Vec<String> = lines
                    .iter()
                    .map(|l| format!("{pad}  {}", l.trim_end()))
                    .collect();
                format!("{nl}{pad}{key}:{nl}{}", body.join(nl))
            };
            Splice {
                range: (at, at),
                text,
            }
        };
        self.splices.push(splice);
        self.gaining.insert((document, path.to_vec()));
        let mut full = path.to_vec();
        full.push(PathSegment::Key(key.to_string()));
        self.expectations.push(Expectation {
            document,
            path: full,
            value: None,
            absent: false,
            length: None,
        });
        Ok(())
    }

    /// Plans appending `value` to the sequence at `path`. Block sequences get a new `- ` item
    /// after their last item, at the dash column and content indentation of their first item
    /// (a mapping as block YAML); flow sequences get `, value` (flow YAML) before their `]`.
    pub fn append_item(
        &mut self,
        document: usize,
        path: &[PathSegment],
        value: &serde_json::Value,
    ) -> Result<(), EditError> {
        let unsupported = |what| EditError::unsupported(document, path, what);
        let node = self.node_at(document, path)?;
        let Node::Sequence {
            items,
            flow,
            close,
            starts,
        } = node
        else {
            return Err(unsupported("not a sequence"));
        };
        if self.shrunk.contains(&(document, path.to_vec())) {
            return Err(unsupported("a sequence items are also removed from"));
        }
        let item_count = items.len();
        let splice = if *flow {
            let separator = if items.is_empty() { "" } else { ", " };
            let at = self.text[..*close].trim_end().len();
            Splice {
                range: (at, at),
                text: format!("{separator}{}", flow_text(value)),
            }
        } else {
            let (Some(first), Some(last_end)) = (starts.first(), items.last().and_then(Node::end))
            else {
                return Err(unsupported("an empty block sequence"));
            };
            // The first item's line gives the style: `- ` at some column, content after it.
            let line_start = self.text[..*first].rfind('\n').map_or(0, |i| i + 1);
            let prefix = &self.text[line_start..*first];
            let dash = prefix.trim_end();
            if !dash.ends_with('-') || !dash[..dash.len() - 1].trim().is_empty() {
                return Err(unsupported(
                    "a sequence whose items do not start after `- `",
                ));
            }
            let dash_pad = &dash[..dash.len() - 1];
            let content_pad = " ".repeat(prefix.chars().count());
            let at = self.text[last_end..]
                .find(['\n', '\r'])
                .map_or(self.text.len(), |i| last_end + i);
            let nl = self.line_ending;
            let after_dash = &prefix[dash.len()..];
            let block = serde_yaml_ng::to_string(value)
                .map_err(|_| unsupported("a value that cannot be written as YAML"))?;
            let mut text = String::new();
            for (i, line) in block.trim_end().lines().enumerate() {
                if i == 0 {
                    text.push_str(&format!("{nl}{dash_pad}-{after_dash}{line}"));
                } else {
                    text.push_str(&format!("{nl}{content_pad}{}", line.trim_end()));
                }
            }
            Splice {
                range: (at, at),
                text,
            }
        };
        let pending = self
            .appended
            .entry((document, path.to_vec()))
            .or_insert(item_count);
        let index = *pending;
        *pending += 1;
        self.splices.push(splice);
        let mut full = path.to_vec();
        full.push(PathSegment::Index(index));
        self.expectations.push(Expectation {
            document,
            path: full,
            value: value.as_str().map(str::to_string),
            absent: false,
            length: None,
        });
        Ok(())
    }

    /// Plans removing the entry `key` from the mapping at `path`: in block style its lines
    /// (the key's line through the value's last line; comments on their own lines stay), in
    /// flow style `key: value` and one separating comma. The only entry of a block mapping is
    /// refused (the mapping would become null) unless new entries were planned into it first:
    /// otherwise remove the parent instead.
    pub fn remove_entry(
        &mut self,
        document: usize,
        path: &[PathSegment],
        key: &str,
    ) -> Result<(), EditError> {
        let mut full = path.to_vec();
        full.push(PathSegment::Key(key.to_string()));
        let unsupported = |what| EditError::unsupported(document, &full, what);
        let node = self.node_at(document, path)?;
        let Node::Mapping {
            entries,
            flow,
            key_starts,
            ..
        } = node
        else {
            return Err(unsupported("not in a mapping"));
        };
        let Some(i) = entries.iter().rposition(|(k, _)| k == key) else {
            return Err(EditError::NotFound {
                document,
                path: display_path(&full),
            });
        };
        if entries.iter().filter(|(k, _)| k == key).count() > 1 {
            return Err(unsupported("a duplicated key"));
        }
        let value_end = entries[i]
            .1
            .end()
            .ok_or_else(|| unsupported("an alias (remove it where it is defined)"))?;
        let key_start = key_starts[i];
        let range = if *flow {
            match (key_starts.get(i + 1), i.checked_sub(1)) {
                // `a: 1, b: 2` → `b: 2`: up to the next key.
                (Some(next), _) => (key_start, *next),
                // `a: 1, b: 2` → `a: 1`: from the end of the previous value.
                (None, Some(prev)) => (
                    entries[prev]
                        .1
                        .end()
                        .ok_or_else(|| unsupported("after an alias"))?,
                    value_end,
                ),
                (None, None) => (key_start, value_end),
            }
        } else {
            if entries.len() == 1 && !self.gaining.contains(&(document, path.to_vec())) {
                return Err(unsupported("the only entry of a block mapping"));
            }
            let line_start = self.text[..key_start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = self.text[value_end..]
                .find(['\n', '\r'])
                .map_or(self.text.len(), |i| value_end + i);
            if !self.text[line_start..key_start].trim().is_empty() {
                // `- key: v` (first entry of a sequence item): the next key moves up after
                // the dash.
                let Some(next) = key_starts.get(i + 1) else {
                    return Err(unsupported("on a line it shares with other text"));
                };
                (key_start, *next)
            } else {
                // The key's lines with the line break before them, so an entry inserted after
                // this one's line still has its position.
                let before = self.text[..line_start]
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t).len());
                match before {
                    Some(start) => (start, line_end),
                    None => (
                        line_start,
                        (line_end + self.line_ending.len()).min(self.text.len()),
                    ),
                }
            }
        };
        self.splices.push(Splice {
            range,
            text: String::new(),
        });
        self.expectations.push(Expectation {
            document,
            path: full,
            value: None,
            absent: true,
            length: None,
        });
        Ok(())
    }

    /// Plans removing the items at `indexes` from the sequence at `path` (once per sequence).
    /// Block style loses each item's lines (the `- ` line through the item's last line;
    /// comments on their own lines stay); flow style loses the items and their separating
    /// commas, down to `[]`. Removing every item of a block sequence is refused (it would
    /// become null): remove the entry holding it instead.
    pub fn remove_items(
        &mut self,
        document: usize,
        path: &[PathSegment],
        indexes: &[usize],
    ) -> Result<(), EditError> {
        let unsupported = |what| EditError::unsupported(document, path, what);
        let node = self.node_at(document, path)?;
        let Node::Sequence {
            items,
            flow,
            starts,
            ..
        } = node
        else {
            return Err(unsupported("not a sequence"));
        };
        let key = (document, path.to_vec());
        if self.shrunk.contains(&key) || self.appended.contains_key(&key) {
            return Err(unsupported("a sequence already edited"));
        }
        let mut removed: Vec<usize> = indexes
            .iter()
            .copied()
            .filter(|&i| i < items.len())
            .collect();
        removed.sort_unstable();
        removed.dedup();
        if removed.len() != indexes.len() {
            return Err(unsupported("not holding every item to remove"));
        }
        if removed.is_empty() {
            return Ok(());
        }
        let ends: Vec<usize> = items
            .iter()
            .map(Node::end)
            .collect::<Option<_>>()
            .ok_or_else(|| unsupported("holding an alias"))?;
        let mut splices = Vec::new();
        if *flow {
            if removed.len() == items.len() {
                splices.push((starts[0], ends[items.len() - 1]));
            } else {
                // Each run of removed items goes with the comma after it, or the one before
                // it when the run ends the list.
                let mut i = 0;
                while i < removed.len() {
                    let mut j = i;
                    while j + 1 < removed.len() && removed[j + 1] == removed[j] + 1 {
                        j += 1;
                    }
                    let (first, last) = (removed[i], removed[j]);
                    splices.push(match starts.get(last + 1) {
                        Some(&next) => (starts[first], next),
                        None => (ends[first - 1], ends[last]),
                    });
                    i = j + 1;
                }
            }
        } else {
            if removed.len() == items.len() {
                return Err(unsupported("losing every item of a block sequence"));
            }
            for &i in &removed {
                let line_start = self.text[..starts[i]].rfind('\n').map_or(0, |n| n + 1);
                let dash = self.text[line_start..starts[i]].trim_end();
                if !dash.ends_with('-') || !dash[..dash.len() - 1].trim().is_empty() {
                    return Err(unsupported(
                        "a sequence whose items do not start after `- `",
                    ));
                }
                let line_end = self.text[ends[i]..]
                    .find(['\n', '\r'])
                    .map_or(self.text.len(), |n| ends[i] + n);
                // With the line break before the item, as `remove_entry` does.
                let before = self.text[..line_start]
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t).len());
                splices.push(match before {
                    Some(start) => (start, line_end),
                    None => (
                        line_start,
                        (line_end + self.line_ending.len()).min(self.text.len()),
                    ),
                });
            }
        }
        let remaining = items.len() - removed.len();
        self.splices.extend(splices.into_iter().map(|range| Splice {
            range,
            text: String::new(),
        }));
        self.shrunk.insert(key);
        self.expectations.push(Expectation {
            document,
            path: path.to_vec(),
            value: None,
            absent: false,
            length: Some(remaining),
        });
        Ok(())
    }

    pub fn has_edits(&self) -> bool {
        !self.splices.is_empty()
    }

    /// The text with every planned edit applied, checked by parsing it again.
    pub fn edited(&self) -> Result<String, EditError> {
        let mut splices = self.splices.clone();
        splices.sort_by_key(|s| s.range);
        splices.dedup_by(|a, b| a.range == b.range && a.text == b.text);
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut cursor = 0;
        for s in &splices {
            if s.range.0 < cursor {
                return Err(EditError::Verification("overlapping edits".into()));
            }
            out.push_str(&self.text[cursor..s.range.0]);
            out.push_str(&s.text);
            cursor = s.range.1;
        }
        out.push_str(&self.text[cursor..]);
        let reread = YamlFile::parse(&out).map_err(|e| EditError::Verification(e.to_string()))?;
        if reread.document_count() != self.document_count() {
            return Err(EditError::Verification("document count changed".into()));
        }
        for e in &self.expectations {
            let found = reread.get(e.document, &e.path);
            let ok = match (&e.value, found) {
                _ if e.absent => found.is_none(),
                _ if e.length.is_some() => {
                    matches!(found, Some(Node::Sequence { items, .. }) if Some(items.len()) == e.length)
                }
                (Some(want), Some(node)) => node.as_str() == Some(want.as_str()),
                (None, Some(_)) => true,
                (_, None) => false,
            };
            if !ok {
                return Err(EditError::Verification(format!(
                    "document {}: {}",
                    e.document,
                    display_path(&e.path)
                )));
            }
        }
        Ok(out)
    }
}

/// `value` as one line of flow YAML: `{name: tmp, emptyDir: {}}`, `[a, b]`, plain scalars
/// where they read back as the same string, JSON quoting otherwise.
fn flow_text(value: &serde_json::Value) -> String {
    use serde_json::Value;
    let text = |s: &str| {
        if plain_safe(s) {
            s.to_string()
        } else {
            Value::String(s.to_string()).to_string()
        }
    };
    match value {
        Value::String(s) => text(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flow_text).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", text(k), flow_text(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// Whether `value` can be written as a plain scalar and read back as the same string.
fn plain_safe(value: &str) -> bool {
    let first = value.chars().next();
    !value.is_empty()
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.contains(['\n', '\r', '\t'])
        && !first.is_some_and(|c| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        && !matches!(
            value,
            "true" | "false" | "null" | "~" | "yes" | "no" | "on" | "off"
        )
        && value.parse::<f64>().is_err()
}

fn next<'i>(
    parser: &mut Parser<'i, saphyr_parser::StrInput<'i>>,
) -> Result<(Event<'i>, saphyr_parser::Span), EditError> {
    match parser.next() {
        Some(Ok(x)) => Ok(x),
        Some(Err(e)) => Err(EditError::Parse {
            line: e.marker().line(),
            message: e.info().to_string(),
        }),
        None => Ok((Event::StreamEnd, saphyr_parser::Span::default())),
    }
}

struct Builder<'t> {
    text: &'t str,
    byte_at: Vec<usize>,
    anchors: HashMap<usize, Node>,
}

impl Builder<'_> {
    fn byte(&self, char_index: usize) -> usize {
        self.byte_at
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn node<'i>(
        &mut self,
        parser: &mut Parser<'i, saphyr_parser::StrInput<'i>>,
        event: Event<'i>,
        span: saphyr_parser::Span,
    ) -> Result<Node, EditError> {
        let line = span.start.line();
        let bad = |message: &str| EditError::Parse {
            line,
            message: message.to_string(),
        };
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, _) => {
                let start = self.scalar_start(self.byte(span.start.index()));
                let end = self.scalar_end(start, style, &value, self.byte(span.end.index()));
                (
                    Node::Scalar {
                        value: value.into_owned(),
                        style,
                        span: (start, end),
                    },
                    anchor,
                )
            }
            Event::Alias(id) => (Node::Alias(id), 0),
            Event::SequenceStart(anchor, _) => {
                let flow = self.text[self.byte(span.start.index())..].starts_with('[');
                let mut items = Vec::new();
                let mut starts = Vec::new();
                let close;
                loop {
                    let (event, span) = next(parser)?;
                    if matches!(event, Event::SequenceEnd) {
                        close = self.byte(span.start.index());
                        break;
                    }
                    if matches!(event, Event::StreamEnd) {
                        return Err(bad("unterminated sequence"));
                    }
                    let event_start = self.scalar_start(self.byte(span.start.index()));
                    let item = self.node(parser, event, span)?;
                    starts.push(item.start().unwrap_or(event_start));
                    items.push(item);
                }
                (
                    Node::Sequence {
                        items,
                        flow,
                        close,
                        starts,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.text[self.byte(span.start.index())..].starts_with('{');
                let mut entries = Vec::new();
                let mut key_starts = Vec::new();
                let mut indent = 0;
                let close;
                loop {
                    let (event, key_span) = next(parser)?;
                    if matches!(event, Event::MappingEnd) {
                        close = self.byte(key_span.start.index());
                        break;
                    }
                    let key = match &event {
                        Event::Scalar(k, ..) => Cow::Owned(k.to_string()),
                        Event::StreamEnd => return Err(bad("unterminated mapping")),
                        // Complex keys cannot be addressed by a path; keep the shape.
                        _ => Cow::Borrowed(""),
                    };
                    if entries.is_empty() {
                        indent = key_span.start.col();
                    }
                    key_starts.push(self.scalar_start(self.byte(key_span.start.index())));
                    if !matches!(event, Event::Scalar(..)) {
                        self.node(parser, event, key_span)?;
                    }
                    let (value_event, value_span) = next(parser)?;
                    let value = self.node(parser, value_event, value_span)?;
                    entries.push((key.into_owned(), value));
                }
                (
                    Node::Mapping {
                        entries,
                        flow,
                        indent,
                        close,
                        key_starts,
                    },
                    anchor,
                )
            }
            _ => return Err(bad("unexpected event")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    /// The span the parser reports starts at an anchor (`&a`) or tag (`!t`) when there is
    /// one; the scalar itself starts after them.
    fn scalar_start(&self, mut at: usize) -> usize {
        let bytes = self.text.as_bytes();
        while at < bytes.len() && (bytes[at] == b'&' || bytes[at] == b'!') {
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
        }
        at
    }

    /// The end of a scalar's text, found from its start: the parser's end positions include
    /// trailing text for some styles.
    fn scalar_end(
        &self,
        start: usize,
        style: ScalarStyle,
        value: &str,
        parsed_end: usize,
    ) -> usize {
        let bytes = self.text.as_bytes();
        match style {
            ScalarStyle::SingleQuoted => {
                let mut i = start + 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        return i + 1;
                    }
                    i += 1;
                }
                parsed_end
            }
            ScalarStyle::DoubleQuoted => {
                let mut i = start + 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => return i + 1,
                        _ => i += 1,
                    }
                }
                parsed_end
            }
            ScalarStyle::Plain => {
                if self.text[start..].starts_with(value) {
                    start + value.len()
                } else {
                    parsed_end
                }
            }
            _ => parsed_end,
        }
    }
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;
