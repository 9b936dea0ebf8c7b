//! `kubectl netpol-scaffold scaffold -n NS` on a terminal: the interactive wizard, driven
//! through a real pseudo-terminal, end to end through the real kubectl. Prompts are matched by
//! their text (never by screen position) with generous timeouts.

use std::time::Duration;

use guardrails_e2e::e2e::examples;
use guardrails_e2e::{ApiServerConfig, TestApiServer, harness};
use rexpect::session::{PtySession, spawn_command};

/// A workload in shop whose env names payments' MySQL: a second inferred connection, so the
/// run can accept one and decline the other.
const REVIEWS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews}}
    spec:
      containers:
      - name: reviews
        image: example/reviews:1.0
        env:
        - {name: DB_ADDR, value: 'mysql.payments:3306'}
";

/// Sends keys one at a time: dialoguer reads one key per read, leaving raw mode in between.
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

#[test]
fn wizard_offers_each_proposal_and_prints_only_what_was_chosen() {
    let dir = tempfile::tempdir().expect("tmp");
    let reviews = dir.path().join("reviews.yaml");
    std::fs::write(&reviews, REVIEWS).expect("write");
    let ex = examples();
    let r = reviews.display().to_string();
    let mut cmd = harness::kubectl(&[
        "netpol-scaffold",
        "scaffold",
        "-n",
        "shop",
        "-f",
        &ex,
        "-f",
        &r,
    ]);
    cmd.env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn kubectl on a pty");

    expect(&mut p, "(default-deny)?");
    keys(&mut p, "y");
    expect(
        &mut p,
        "reach the cluster DNS (kube-system/k8s-app=kube-dns)",
    );
    keys(&mut p, "y");
    // Items are the workloads behind a Service in shop, sorted: checkout, frontend, web-cache.
    expect(
        &mut p,
        "Which workloads may the ingress controller ingress-nginx",
    );
    expect(&mut p, "web-cache");
    keys(&mut p, "j \r");
    expect(
        &mut p,
        "Allow shop/app=checkout -> payments/app=payments-api on http-api/TCP",
    );
    keys(&mut p, "y");
    expect(
        &mut p,
        "Allow shop/app=reviews -> payments/app=mysql on mysql/TCP",
    );
    keys(&mut p, "n");
    expect(&mut p, "Output");
    expect(&mut p, "write one file per policy into a directory");
    keys(&mut p, "\r");
    let rest = p.exp_eof().expect("the wizard ends");
    let status = p.process.wait().expect("exit status");
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}\n{rest}"
    );

    let yaml = rest.replace('\r', "");
    for name in [
        "name: default-deny\n",
        "name: allow-dns-egress\n",
        "name: allow-ingress-from-ingress-nginx\n",
        "name: allow-checkout-egress-to-payments-api\n",
    ] {
        assert!(yaml.contains(name), "{name:?} missing:\n{yaml}");
    }
    // The declined connection and the workloads not ticked are not opened.
    assert!(
        !yaml.contains("egress-to-mysql"),
        "declined allow printed:\n{yaml}"
    );
    assert!(!yaml.contains("-to-checkout"), "{yaml}");
    assert_eq!(
        yaml.matches("kind: NetworkPolicy").count(),
        4,
        "exactly the four chosen policies:\n{yaml}"
    );
    assert!(
        yaml.find("name: allow-dns-egress").unwrap_or(usize::MAX)
            < yaml.find("name: default-deny").unwrap_or(0),
        "allows first, the deny last:\n{yaml}"
    );
}

#[test]
fn wizard_applies_what_was_chosen_to_the_live_cluster() {
    let server = TestApiServer::start(ApiServerConfig::default());
    let mut cmd = server.kubectl(&["netpol-scaffold", "scaffold", "-n", "shop"]);
    cmd.env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn kubectl on a pty");
    expect(&mut p, "(default-deny)?");
    keys(&mut p, "y");
    expect(&mut p, "reach the cluster DNS");
    keys(&mut p, "y");
    // Nothing exposed to the ingress controller; the inferred connection declined.
    expect(&mut p, "Which workloads may the ingress controller");
    expect(&mut p, "web-cache");
    keys(&mut p, "\r");
    expect(
        &mut p,
        "Allow shop/app=checkout -> payments/app=payments-api",
    );
    keys(&mut p, "n");
    expect(&mut p, "apply to the cluster (preview, then confirm)");
    keys(&mut p, "jj\r");
    // The --apply path: server dry-run previews, then its one confirmation.
    expect(&mut p, "Apply 2 change(s)?");
    keys(&mut p, "y");
    let rest = p.exp_eof().expect("the wizard ends");
    let status = p.process.wait().expect("exit status");
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}\n{rest}"
    );
    let mut created: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| {
            r.method == "POST" && r.param("dryRun").is_none() && r.path.contains("/networkpolicies")
        })
        .map(|r| {
            r.body.as_ref().expect("a body")["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        created.last().map(String::as_str),
        Some("default-deny"),
        "the deny last: {created:?}"
    );
    created.sort();
    assert_eq!(created, ["allow-dns-egress", "default-deny"], "{rest}");
}

#[test]
fn without_a_terminal_the_scaffold_asks_nothing() {
    // Same command, pipes instead of a terminal: today's non-interactive proposals.
    let ex = examples();
    let out = harness::kubectl(&["netpol-scaffold", "scaffold", "-n", "shop", "-f", &ex])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("default-deny)?"), "{stderr}");
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(yaml.matches("kind: NetworkPolicy").count(), 1, "{yaml}");
}
