//! The comment-preservation suite: each case edits one value and checks the whole output
//! byte for byte, so any change outside the edited span fails.

use super::*;

fn p(path: &[&str]) -> Vec<PathSegment> {
    path.iter()
        .map(|s| match s.parse::<usize>() {
            Ok(i) => PathSegment::Index(i),
            Err(_) => PathSegment::Key(s.to_string()),
        })
        .collect()
}

fn set(text: &str, doc: usize, path: &[&str], value: &str) -> String {
    let mut f = YamlFile::parse(text).expect("parse");
    f.set_scalar(doc, &p(path), value).expect("set");
    f.edited().expect("edited")
}

const IMAGE: &[&str] = &["spec", "containers", "0", "image"];

#[test]
fn comments_before_after_and_inline_survive() {
    let text = "\
# leading comment
apiVersion: v1   # trailing on apiVersion
kind: Pod
metadata:
  name: web
spec:
  # comment before the list
  containers:
    # comment before the item
    - name: web
      image: nginx:1.27    # keep me
      # comment after image
      ports: [{containerPort: 80}]
# trailing comment at the end
";
    let out = set(text, 0, IMAGE, "nginx:1.27@sha256:abc");
    assert_eq!(
        out,
        text.replace(
            "image: nginx:1.27    #",
            "image: nginx:1.27@sha256:abc    #"
        )
    );
}

#[test]
fn quoting_style_is_kept() {
    let single = "spec:\n  containers:\n  - image: 'nginx:1'\n";
    assert_eq!(
        set(single, 0, IMAGE, "nginx:1@sha256:x"),
        "spec:\n  containers:\n  - image: 'nginx:1@sha256:x'\n"
    );
    let double = "spec:\n  containers:\n  - image: \"nginx:1\" # c\n";
    assert_eq!(
        set(double, 0, IMAGE, "nginx:1@sha256:x"),
        "spec:\n  containers:\n  - image: \"nginx:1@sha256:x\" # c\n"
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let text = "kind: Pod\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: redis # c\r\n";
    let out = set(text, 0, IMAGE, "redis:latest@sha256:x");
    assert_eq!(
        out,
        text.replace("image: redis", "image: redis:latest@sha256:x")
    );
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "no bare LF introduced"
    );
}

#[test]
fn only_the_addressed_document_changes() {
    let text = "\
---
# doc 0
kind: Pod
spec:
  containers:
  - image: nginx
---
# doc 1

kind: Pod
spec:
  containers:
  - image: nginx
...
---
kind: ConfigMap
data: {a: b}
";
    let out = set(text, 1, IMAGE, "nginx:latest@sha256:x");
    let expected = text.replacen(
        "# doc 1\n\nkind: Pod\nspec:\n  containers:\n  - image: nginx",
        "# doc 1\n\nkind: Pod\nspec:\n  containers:\n  - image: nginx:latest@sha256:x",
        1,
    );
    assert_eq!(out, expected);
}

#[test]
fn flow_style_is_edited_in_place() {
    let text = "spec: {containers: [{name: a, image: nginx}, {name: b, image: 'redis:7'}]}\n";
    let out = set(
        text,
        0,
        &["spec", "containers", "1", "image"],
        "redis:7@sha256:x",
    );
    assert_eq!(
        out,
        "spec: {containers: [{name: a, image: nginx}, {name: b, image: 'redis:7@sha256:x'}]}\n"
    );
}

#[test]
fn anchors_and_aliases_change_at_the_anchor() {
    let text = "\
images:
  base: &img nginx:1  # the anchor
spec:
  containers:
  - image: *img
  - image: *img
";
    let out = set(text, 0, IMAGE, "nginx:1@sha256:x");
    assert_eq!(out, text.replace("&img nginx:1 ", "&img nginx:1@sha256:x "));
}

#[test]
fn unicode_before_the_edit_is_handled_in_bytes() {
    let text = "# größe — ünïcode\nspec:\n  containers:\n  - name: ä\n    image: nginx\n";
    let out = set(text, 0, IMAGE, "nginx:latest@sha256:x");
    assert_eq!(
        out,
        text.replace("image: nginx", "image: nginx:latest@sha256:x")
    );
}

#[test]
fn values_that_need_quotes_get_them() {
    let text = "a: x\n";
    assert_eq!(set(text, 0, &["a"], "b: c"), "a: \"b: c\"\n");
    assert_eq!(set(text, 0, &["a"], "true"), "a: \"true\"\n");
}

#[test]
fn block_scalars_missing_paths_and_parse_errors_are_clear() {
    let mut f = YamlFile::parse("a: |\n  x\nb: [1]\n").expect("parse");
    let err = f.set_scalar(0, &p(&["a"]), "y").expect_err("block");
    assert_eq!(
        err.to_string(),
        "document 0: a is a block scalar (| or >); not edited"
    );
    let err = f.set_scalar(0, &p(&["c", "d"]), "y").expect_err("missing");
    assert_eq!(err.to_string(), "document 0: no c.d");
    let err = f.set_scalar(0, &p(&["b"]), "y").expect_err("not scalar");
    assert!(err.to_string().contains("not a scalar"), "{err}");
    let err = YamlFile::parse("a: [1, 2\nb: c\n").expect_err("bad yaml");
    assert!(err.to_string().starts_with("line "), "{err}");
}

#[test]
fn insert_into_block_mapping_keeps_indent_and_trailing_comments() {
    let text = "\
spec:
  containers:
    - name: a
      image: nginx   # c
      # after
    - name: b
";
    let mut f = YamlFile::parse(text).expect("parse");
    f.insert_entry(
        0,
        &p(&["spec", "containers", "0"]),
        "imagePullPolicy",
        "Always",
    )
    .expect("insert");
    f.insert_entry(
        0,
        &p(&["spec", "containers", "1"]),
        "securityContext",
        "runAsNonRoot: true\nreadOnlyRootFilesystem: true",
    )
    .expect("insert block");
    assert_eq!(
        f.edited().expect("edited"),
        "\
spec:
  containers:
    - name: a
      image: nginx   # c
      imagePullPolicy: Always
      # after
    - name: b
      securityContext:
        runAsNonRoot: true
        readOnlyRootFilesystem: true
"
    );
}

#[test]
fn insert_into_flow_mapping_and_crlf() {
    let mut f = YamlFile::parse("a: {x: 1}\r\nb: {}\r\nc:\r\n  d: 1\r\n").expect("parse");
    f.insert_entry(0, &p(&["a"]), "y", "2").expect("flow");
    f.insert_entry(0, &p(&["b"]), "z", "3").expect("empty flow");
    f.insert_entry(0, &p(&["c"]), "e", "{f: 1}").expect("block");
    assert_eq!(
        f.edited().expect("edited"),
        "a: {x: 1, y: 2}\r\nb: {z: 3}\r\nc:\r\n  d: 1\r\n  e: {f: 1}\r\n"
    );
    let err = f.insert_entry(0, &p(&["c"]), "d", "2").expect_err("dup");
    assert!(err.to_string().contains("already"), "{err}");
}

#[test]
fn json_documents_are_edited_as_yaml() {
    let text = "{\n  \"spec\": {\"containers\": [{\"image\": \"nginx\"}]}\n}\n";
    assert_eq!(
        set(text, 0, IMAGE, "nginx:latest@sha256:x"),
        text.replace(
            "\"image\": \"nginx\"",
            "\"image\": \"nginx:latest@sha256:x\""
        )
    );
}

#[test]
fn plain_scalars_are_written_as_booleans_and_numbers() {
    let text = "a: \"true\"  # quoted\nb: 0\nc: x\n";
    let mut f = YamlFile::parse(text).expect("parse");
    f.set_plain_scalar(0, &["a".into()], "false").expect("bool");
    f.set_plain_scalar(0, &["b".into()], "10001").expect("int");
    assert!(f.set_plain_scalar(0, &["c".into()], "x: y").is_err());
    assert_eq!(
        f.edited().expect("edited"),
        "a: false  # quoted\nb: 10001\nc: x\n"
    );
}

fn appended(text: &str, path: &[&str], value: serde_json::Value) -> String {
    let mut f = YamlFile::parse(text).expect("parse");
    f.append_item(0, &p(path), &value).expect("append");
    f.edited().expect("edited")
}

#[test]
fn append_to_block_sequences_keeps_each_indentation_style() {
    // Dashes at the key's column, a mapping item, comments around.
    let text = "\
spec:
  volumes:
  # the data
  - name: data   # keep
    emptyDir: {}
  # after the list
  containers: []
";
    assert_eq!(
        appended(
            text,
            &["spec", "volumes"],
            serde_json::json!({"name": "tmp", "emptyDir": {}})
        ),
        text.replace(
            "    emptyDir: {}\n",
            "    emptyDir: {}\n  - name: tmp\n    emptyDir: {}\n"
        )
    );
    // Dashes indented under the key, wider spacing after the dash, a scalar item, CRLF.
    let text = "drop:\r\n    -   NET_RAW # why\r\nnext: 1\r\n";
    assert_eq!(
        appended(text, &["drop"], serde_json::json!("ALL")),
        "drop:\r\n    -   NET_RAW # why\r\n    -   ALL\r\nnext: 1\r\n"
    );
    // Two appends to one sequence land in order.
    let mut f = YamlFile::parse("l:\n- a\n").expect("parse");
    f.append_item(0, &p(&["l"]), &serde_json::json!("b"))
        .expect("b");
    f.append_item(0, &p(&["l"]), &serde_json::json!("c"))
        .expect("c");
    assert_eq!(f.edited().expect("edited"), "l:\n- a\n- b\n- c\n");
}

#[test]
fn append_to_flow_sequences_and_nested_mappings() {
    let text = "capabilities:\n  drop: [\"NET_RAW\"]   # c\n  add: []\n";
    let mut f = YamlFile::parse(text).expect("parse");
    f.append_item(0, &p(&["capabilities", "drop"]), &serde_json::json!("ALL"))
        .expect("drop");
    f.append_item(
        0,
        &p(&["capabilities", "add"]),
        &serde_json::json!({"name": "x y", "n": 1}),
    )
    .expect("add");
    assert_eq!(
        f.edited().expect("edited"),
        "capabilities:\n  drop: [\"NET_RAW\", ALL]   # c\n  add: [{name: x y, n: 1}]\n"
    );
    // Values that need quotes get them.
    assert_eq!(
        appended("l: [a]\n", &["l"], serde_json::json!("true")),
        "l: [a, \"true\"]\n"
    );
    let err = YamlFile::parse("m: {a: 1}\n")
        .expect("parse")
        .append_item(0, &p(&["m"]), &serde_json::json!(1))
        .expect_err("not a sequence");
    assert!(err.to_string().contains("not a sequence"), "{err}");
}

fn removed(text: &str, path: &[&str], key: &str) -> String {
    let mut f = YamlFile::parse(text).expect("parse");
    f.remove_entry(0, &p(path), key).expect("remove");
    f.edited().expect("edited")
}

#[test]
fn remove_block_entries_with_their_lines_only() {
    let text = "\
volumes:
- name: root   # the host
  hostPath:
    path: /
    type: Directory
# after
other: 1
";
    assert_eq!(
        removed(text, &["volumes", "0"], "hostPath"),
        "volumes:\n- name: root   # the host\n# after\nother: 1\n"
    );
    // The first entry of an item: the next key moves up after the dash.
    assert_eq!(
        removed(
            "ports:\n- hostPort: 80\n  containerPort: 80 # c\n",
            &["ports", "0"],
            "hostPort"
        ),
        "ports:\n- containerPort: 80 # c\n"
    );
    // A middle entry, CRLF.
    assert_eq!(
        removed("a: 1\r\nb: 2 # b\r\nc: 3\r\n", &[], "b"),
        "a: 1\r\nc: 3\r\n"
    );
    // Removing the last entry and inserting after it in one go.
    let mut f = YamlFile::parse("v:\n  name: x\n  hostPath: {path: /}\nw: 1\n").expect("parse");
    f.remove_entry(0, &p(&["v"]), "hostPath").expect("remove");
    f.insert_entry(0, &p(&["v"]), "emptyDir", "{}")
        .expect("insert");
    assert_eq!(
        f.edited().expect("edited"),
        "v:\n  name: x\n  emptyDir: {}\nw: 1\n"
    );
    let err = YamlFile::parse("a:\n  only: 1\n")
        .expect("parse")
        .remove_entry(0, &p(&["a"]), "only")
        .expect_err("only entry");
    assert!(err.to_string().contains("only entry"), "{err}");
}

#[test]
fn remove_flow_entries_and_a_separator() {
    assert_eq!(
        removed("p: {hostPort: 80, containerPort: 80}\n", &["p"], "hostPort"),
        "p: {containerPort: 80}\n"
    );
    assert_eq!(
        removed(
            "p: {containerPort: 80, hostPort: 80} # c\n",
            &["p"],
            "hostPort"
        ),
        "p: {containerPort: 80} # c\n"
    );
    assert_eq!(removed("p: {a: 1}\n", &["p"], "a"), "p: {}\n");
    let err = YamlFile::parse("p: {a: 1}\n")
        .expect("parse")
        .remove_entry(0, &p(&["p"]), "b")
        .expect_err("missing");
    assert!(matches!(err, EditError::NotFound { .. }), "{err}");
}

fn items_removed(text: &str, path: &[&str], indexes: &[usize]) -> String {
    let mut f = YamlFile::parse(text).expect("parse");
    f.remove_items(0, &p(path), indexes).expect("remove");
    f.edited().expect("edited")
}

#[test]
fn remove_block_sequence_items_with_their_lines_only() {
    let text = "\
add:
- SYS_ADMIN   # needed?
# keep this note
- NET_BIND_SERVICE
- NET_RAW
other: 1
";
    assert_eq!(
        items_removed(text, &["add"], &[0, 2]),
        "add:\n# keep this note\n- NET_BIND_SERVICE\nother: 1\n"
    );
    // Indented items holding mappings, CRLF.
    assert_eq!(
        items_removed(
            "v:\r\n  - name: a\r\n    x: 1\r\n  - name: b\r\n",
            &["v"],
            &[0]
        ),
        "v:\r\n  - name: b\r\n"
    );
    let err = YamlFile::parse("add:\n- A\n")
        .expect("parse")
        .remove_items(0, &p(&["add"]), &[0])
        .expect_err("every item");
    assert!(err.to_string().contains("every item"), "{err}");
    let err = YamlFile::parse("add: [A]\n")
        .expect("parse")
        .remove_items(0, &p(&["add"]), &[3])
        .expect_err("no such item");
    assert!(err.to_string().contains("every item to remove"), "{err}");
}

#[test]
fn remove_flow_sequence_items_and_their_commas() {
    let text = "add: [SYS_ADMIN, NET_BIND_SERVICE, NET_RAW] # caps\n";
    assert_eq!(
        items_removed(text, &["add"], &[0]),
        "add: [NET_BIND_SERVICE, NET_RAW] # caps\n"
    );
    assert_eq!(
        items_removed(text, &["add"], &[1, 2]),
        "add: [SYS_ADMIN] # caps\n"
    );
    assert_eq!(
        items_removed(text, &["add"], &[0, 2]),
        "add: [NET_BIND_SERVICE] # caps\n"
    );
    assert_eq!(
        items_removed(text, &["add"], &[0, 1, 2]),
        "add: [] # caps\n"
    );
    // One edit per sequence: a second removal or an append would shift indexes.
    let mut f = YamlFile::parse(text).expect("parse");
    f.remove_items(0, &p(&["add"]), &[0]).expect("first");
    assert!(f.remove_items(0, &p(&["add"]), &[1]).is_err());
    assert!(
        f.append_item(0, &p(&["add"]), &serde_json::json!("X"))
            .is_err()
    );
}

#[test]
fn the_only_entry_goes_when_the_mapping_gains_another() {
    let text = "capabilities:\n  add: [SYS_ADMIN] # why\nname: x\n";
    let mut f = YamlFile::parse(text).expect("parse");
    f.insert_entry(0, &p(&["capabilities"]), "drop", "- ALL\n")
        .expect("insert");
    f.remove_entry(0, &p(&["capabilities"]), "add")
        .expect("remove");
    assert_eq!(
        f.edited().expect("edited"),
        "capabilities:\n  drop:\n    - ALL\nname: x\n"
    );
}

#[test]
fn one_line_block_collections_are_inserted_on_their_own_lines_or_as_flow() {
    let mut f = YamlFile::parse("c:\n  add: [X]\n").expect("parse");
    f.insert_entry(0, &p(&["c"]), "drop", "- ALL\n")
        .expect("insert");
    f.insert_entry(0, &p(&[]), "m", "a: 1\n").expect("insert");
    assert_eq!(
        f.edited().expect("edited"),
        "c:\n  add: [X]\n  drop:\n    - ALL\nm:\n  a: 1\n"
    );
    let mut f = YamlFile::parse("c: {add: [X]}\n").expect("parse");
    f.insert_entry(0, &p(&["c"]), "drop", "- ALL\n")
        .expect("insert");
    assert_eq!(f.edited().expect("edited"), "c: {add: [X], drop: [ALL]}\n");
}
