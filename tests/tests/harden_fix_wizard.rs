//! `kubectl harden fix -f FILE` on a terminal: the per-workload checklist of fixes (dialoguer),
//! driven through a real pseudo-terminal and the real kubectl. One fix of one workload is
//! unticked; the file must then hold every other fix, keep its comments, and `check` must
//! report exactly the declined fix's finding.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use guardrails_e2e::harness;
use rexpect::session::{PtySession, spawn_command};
use serde_json::Value;

const MANIFEST: &str = "\
# the shop's web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}   # keep me
    spec:
      containers:
      - name: web
        image: nginx:1.27   # pinned later
        ports:
        - containerPort: 8080
---
# the API, with a volume already
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: example/api:2
        volumeMounts:
        - name: data   # the data
          mountPath: /data
      volumes:
      - name: data
        emptyDir: {}
";

/// Sends keys one at a time: dialoguer reads one key per read.
fn keys(p: &mut PtySession, keys: &str) {
    for k in keys.chars() {
        p.send(&k.to_string()).expect("send key");
        p.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn expect(p: &mut PtySession, text: &str) -> String {
    p.exp_string(text)
        .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}"))
}

/// The fix names of a checklist as drawn (`name: N field(s)` items), in order.
fn items(screen: &str) -> Vec<String> {
    let plain = strip_escapes(screen);
    let mut names: Vec<String> = Vec::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find(" field(s)") {
        let before = &rest[..at];
        // `… name: 3` → the word before the colon.
        if let Some((head, count)) = before.rsplit_once(": ")
            && count.chars().all(|c| c.is_ascii_digit())
        {
            let name: String = head
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        rest = &rest[at + " field(s)".len()..];
    }
    names
}

fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[test]
fn unticking_one_fix_of_one_workload_leaves_exactly_its_finding() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("shop.yaml");
    std::fs::write(&file, MANIFEST).expect("write");
    let f = file.display().to_string();
    let mut cmd = harness::kubectl(&["harden", "fix", "-f", &f]);
    cmd.env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn kubectl on a pty");

    // One checklist per workload, in an order the test does not assume. Each key redraws the
    // checklist (title included) and Enter leaves a summary line with the same title, so the
    // next checklist is the next title naming another workload.
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..2 {
        let title = loop {
            let (_, title) = p
                .exp_regex(r"Fixes for [A-Za-z]+/[a-z-]+/[a-z-]+")
                .unwrap_or_else(|e| panic!("a checklist: {e}"));
            if !seen.contains(&title) {
                break title;
            }
        };
        seen.push(title.clone());
        // The last item of every plan here: the read-only root filesystem.
        let screen = expect(&mut p, "read-only-root-fs: ");
        let names = items(&format!("{screen}read-only-root-fs: 1 field(s)"));
        assert!(
            names.contains(&"allow-privilege-escalation".to_string()),
            "{names:?}"
        );
        if title.contains("/web") {
            let at = names
                .iter()
                .position(|n| n == "capabilities")
                .unwrap_or_else(|| panic!("capabilities offered: {names:?}\n{screen}"));
            keys(&mut p, &"j".repeat(at));
            keys(&mut p, " ");
        }
        keys(&mut p, "\r");
    }
    expect(&mut p, "to 1 file(s)?");
    keys(&mut p, "y");
    let rest = p.exp_eof().expect("fix ends");
    let status = p.process.wait().expect("exit status");
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}\n{rest}"
    );

    let after = std::fs::read_to_string(&file).expect("read");
    // Comments and untouched lines stay.
    for line in MANIFEST.lines() {
        assert!(after.contains(line), "{line:?} lost:\n{after}");
    }
    let docs: Vec<Value> = after
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).expect("yaml"))
        .collect();
    let container = |d: &Value| d["spec"]["template"]["spec"]["containers"][0].clone();
    let web = container(&docs[0]);
    assert_eq!(web["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(web["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(
        web["securityContext"].get("capabilities").is_none(),
        "{web}"
    );
    let api = container(&docs[1]);
    assert_eq!(api["securityContext"]["capabilities"]["drop"][0], "ALL");
    // Appended to the existing lists: the /tmp mount and its emptyDir.
    assert_eq!(api["volumeMounts"][1]["mountPath"], "/tmp");
    assert_eq!(
        docs[1]["spec"]["template"]["spec"]["volumes"][1]["emptyDir"],
        serde_json::json!({})
    );

    let out = harness::kubectl(&["harden", "-f", &f, "--rules", "pss", "-o", "json"])
        .stdin(Stdio::null())
        .output()
        .expect("check runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let left: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["object"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        left,
        BTreeSet::from([("pss-capabilities-restricted".to_string(), "web".to_string())])
    );
}
