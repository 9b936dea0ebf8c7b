//! The evaluator against the semantics checklist (design/netpol-landscape.md §2), one test per
//! point, plus hand-written multi-namespace truth tables in the style of the upstream e2e suite.

use guardrails::inventory::Inventory;

use crate::evaluate::{Endpoint, Evaluator, Special, Verdict, parse_address};
use crate::model::{KINDS, Model};
use crate::policy::{Direction, Protocol};

/// Namespaces x, y, z (labelled ns=<name>) with pods a, b, c each (labelled pod=<name>),
/// serving TCP 80 (`serve-80-tcp`), TCP 81 (`serve-81-tcp`) and UDP 80 (`serve-80-udp`), as in
/// the upstream e2e model.
fn e2e_world(policies: &str) -> Model {
    let mut yaml = String::new();
    for ns in ["x", "y", "z"] {
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{ns: {ns}}}}}\n---\n"
        ));
        for pod in ["a", "b", "c"] {
            yaml.push_str(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: {ns}, labels: {{pod: {pod}}}}}\n\
                 spec:\n  containers:\n  - name: c\n    image: agnhost\n    ports:\n\
                 \x20   - {{name: serve-80-tcp, containerPort: 80}}\n\
                 \x20   - {{name: serve-81-tcp, containerPort: 81}}\n\
                 \x20   - {{name: serve-80-udp, containerPort: 80, protocol: UDP}}\n---\n"
            ));
        }
    }
    yaml.push_str(policies);
    model(&yaml)
}

fn model(yaml: &str) -> Model {
    let inv = Inventory::from_text("t.yaml", yaml, KINDS).expect("inventory");
    Model::from_inventory(&inv).expect("model")
}

fn pod(m: &Model, path: &str) -> usize {
    let (ns, name) = path.split_once('/').expect("ns/name");
    m.pods
        .iter()
        .position(|p| p.namespace == ns && p.name == name)
        .unwrap_or_else(|| panic!("no pod {path}"))
}

fn verdict(m: &Model, from: &str, to: &str, protocol: Protocol, port: u16) -> Verdict {
    let ev = Evaluator::new(m);
    ev.connection(&Endpoint::Pod(pod(m, from)), &Endpoint::Pod(pod(m, to)))
        .verdict_for(protocol, port)
}

/// A 9×9 truth table on one port: rows = from, columns = to, in x/a x/b x/c y/a … z/c order;
/// `1` allow, `0` deny, `.` loopback (not checked).
fn assert_table(m: &Model, protocol: Protocol, port: u16, expected: &str) {
    let ev = Evaluator::new(m);
    let names: Vec<String> = ["x", "y", "z"]
        .iter()
        .flat_map(|ns| ["a", "b", "c"].map(|p| format!("{ns}/{p}")))
        .collect();
    let rows: Vec<String> = expected
        .lines()
        .map(|l| l.split_whitespace().collect::<String>())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), 9, "nine rows");
    let mut wrong = Vec::new();
    for (i, from) in names.iter().enumerate() {
        let cells: Vec<char> = rows[i].chars().collect();
        assert_eq!(cells.len(), 9, "row {from}");
        for (j, to) in names.iter().enumerate() {
            let want = match cells[j] {
                '1' => Verdict::Allow,
                '0' => Verdict::Deny,
                _ => continue,
            };
            let got = ev
                .connection(&Endpoint::Pod(pod(m, from)), &Endpoint::Pod(pod(m, to)))
                .verdict_for(protocol, port);
            if got != want {
                wrong.push(format!("{from} -> {to}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{protocol}/{port}:\n{}", wrong.join("\n"));
    assert_fast_path_agrees(m);
}

/// The matrix's allocation-free path gives what the explained path gives, on every pair.
fn assert_fast_path_agrees(m: &Model) {
    let ev = Evaluator::new(m);
    for a in 0..m.pods.len() {
        for b in 0..m.pods.len() {
            if a == b {
                continue;
            }
            let slow = ev.connection(&Endpoint::Pod(a), &Endpoint::Pod(b)).allowed;
            let fast = ev
                .allowed_between(a, b)
                .unwrap_or_else(crate::ports::PortSet::all);
            assert_eq!(slow, fast, "{} -> {}", m.pods[a].name, m.pods[b].name);
        }
    }
}

const NP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n";

// ---- A. Normalisation --------------------------------------------------------------------

#[test]
fn p01_policy_types_default_from_the_rules_present() {
    // No policyTypes, no egress: ingress only, so egress stays open.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: deny-in, namespace: x}}\nspec: {{podSelector: {{}}}}\n"
    ));
    assert!(m.policies[0].ingress.is_some() && m.policies[0].egress.is_none());
    assert!(m.policies[0].types_defaulted);
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Allow);

    // `egress: []` without policyTypes is NOT an egress policy.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec: {{podSelector: {{}}, egress: []}}\n"
    ));
    assert!(m.policies[0].egress.is_none());
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Allow);

    // Egress rules without policyTypes default to [Ingress, Egress]: an accidental ingress deny.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: egress-only, namespace: x}}\nspec:\n  podSelector: {{}}\n  egress: [{{to: [{{namespaceSelector: {{}}}}]}}]\n"
    ));
    assert!(m.policies[0].ingress.is_some() && m.policies[0].egress.is_some());
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Allow);
}

#[test]
fn p01_protocol_defaults_to_tcp() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{port: 80}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Udp, 80), Verdict::Deny);
}

#[test]
fn p02_policy_types_govern_direction_not_rule_presence() {
    // policyTypes [Egress] with ingress rules: the ingress rules are ignored, ingress open.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]}}]\n"
    ));
    assert!(m.policies[0].ingress.is_none());
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p03_invalid_policies_are_refused_like_the_api_server() {
    let cases = [
        ("ingress: [{ports: [{protocol: ICMP}]}]", "ICMP"),
        ("ingress: [{ports: [{port: 0}]}]", "port 0"),
        ("ingress: [{ports: [{port: 70000}]}]", "port 70000"),
        (
            "ingress: [{ports: [{port: Http}]}]",
            "not a valid port name",
        ),
        (
            "ingress: [{ports: [{port: web--x}]}]",
            "not a valid port name",
        ),
        (
            "ingress: [{ports: [{endPort: 90}]}]",
            "endPort requires port",
        ),
        (
            "ingress: [{ports: [{port: 90, endPort: 80}]}]",
            "less than port",
        ),
        (
            "ingress: [{ports: [{port: http, endPort: 80}]}]",
            "numeric port",
        ),
        ("ingress: [{from: [{}]}]", "must set podSelector"),
        (
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]",
            "may not be combined",
        ),
        (
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0/8}}]}]",
            "not a valid CIDR",
        ),
        (
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]",
            "strict subset",
        ),
        (
            "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]",
            "strict subset",
        ),
        ("policyTypes: [Inbound]", "not Ingress or Egress"),
        (
            "ingress: [{from: [{podSelector: {matchExpressions: [{key: a, operator: Near}]}}]}]",
            "not a valid label selector",
        ),
    ];
    for (spec, needle) in cases {
        let yaml = format!(
            "{NP}metadata: {{name: bad, namespace: x}}\nspec:\n  podSelector: {{}}\n  {spec}\n"
        );
        let inv = Inventory::from_text("bad.yaml", &yaml, KINDS).expect("decodes");
        let err = Model::from_inventory(&inv).expect_err(spec).to_string();
        assert!(
            err.starts_with("bad.yaml:1: invalid NetworkPolicy x/bad: ") && err.contains(needle),
            "{spec}: {err}"
        );
    }
}

// ---- B. Selection and isolation ------------------------------------------------------------

#[test]
fn p04_a_policy_selects_only_pods_of_its_own_namespace() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: deny-a, namespace: x}}\nspec: {{podSelector: {{matchLabels: {{pod: a}}}}}}\n"
    ));
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(
        verdict(&m, "x/a", "y/a", Protocol::Tcp, 80),
        Verdict::Allow,
        "y/a is not selected"
    );
    assert_eq!(
        verdict(&m, "x/a", "x/b", Protocol::Tcp, 80),
        Verdict::Allow,
        "x/b is not selected"
    );
}

#[test]
fn p05_isolation_is_tracked_per_direction() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: deny-egress, namespace: x}}\nspec: {{podSelector: {{}}, policyTypes: [Egress]}}\n"
    ));
    let ev = Evaluator::new(&m);
    let a = pod(&m, "x/a");
    assert_eq!(ev.isolating(a, Direction::Egress).count(), 1);
    assert_eq!(ev.isolating(a, Direction::Ingress).count(), 0);
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p06_policies_add_up_and_an_empty_rule_list_allows_nothing() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: deny, namespace: x}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress], ingress: []}}\n---\n\
         {NP}metadata: {{name: allow-b, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}], ports: [{{port: 80}}]}}]\n---\n\
         {NP}metadata: {{name: allow-c, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: c}}}}}}], ports: [{{port: 81}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Tcp, 81), Verdict::Deny);
    assert_eq!(verdict(&m, "x/c", "x/a", Protocol::Tcp, 81), Verdict::Allow);
    assert_eq!(verdict(&m, "x/c", "x/b", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p07_both_the_senders_egress_and_the_receivers_ingress_must_allow() {
    // The server allows everyone; the client denies its own egress.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: allow-all-in, namespace: y}}\nspec: {{podSelector: {{}}, ingress: [{{}}]}}\n---\n\
         {NP}metadata: {{name: deny-out, namespace: x}}\nspec: {{podSelector: {{matchLabels: {{pod: a}}}}, policyTypes: [Egress]}}\n"
    ));
    assert_eq!(verdict(&m, "x/a", "y/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(verdict(&m, "x/b", "y/a", Protocol::Tcp, 80), Verdict::Allow);
    let ev = Evaluator::new(&m);
    let c = ev.connection(
        &Endpoint::Pod(pod(&m, "x/a")),
        &Endpoint::Pod(pod(&m, "y/a")),
    );
    let decided = c.decided_by(&ev, Protocol::Tcp, 80);
    assert!(
        decided.iter().any(|d| d.policy == "x/deny-out"
            && d.direction == Direction::Egress
            && d.rule.is_none())
    );
    // A denied connection is explained by the side that denies it only.
    assert_eq!(decided.len(), 1, "{decided:?}");
    // An allowed one by the allowing rules of both sides.
    let c = ev.connection(
        &Endpoint::Pod(pod(&m, "x/b")),
        &Endpoint::Pod(pod(&m, "y/a")),
    );
    let decided = c.decided_by(&ev, Protocol::Tcp, 80);
    assert_eq!(
        decided.len(),
        1,
        "x/b's egress is not isolated: {decided:?}"
    );
    assert!(decided[0].policy == "y/allow-all-in" && decided[0].rule == Some(0));
}

#[test]
fn p08_verdicts_are_about_who_initiates() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: in-from-b, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]}}]\n---\n\
         {NP}metadata: {{name: deny-b, namespace: x}}\nspec: {{podSelector: {{matchLabels: {{pod: b}}}}}}\n"
    ));
    // b may open connections to a (replies flow back); a may not open connections to b.
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "x/a", "x/b", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p09_own_node_ingress_and_loopback_are_always_allowed() {
    let m = model(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: n, labels: {{app: web}}}}\nspec: {{nodeName: node-1, containers: [{{name: c, image: i}}]}}\n---\n\
         {NP}metadata: {{name: deny-all, namespace: n}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n"
    ));
    let ev = Evaluator::new(&m);
    let web = pod(&m, "n/web");
    let from_node = ev.connection(&Endpoint::Node("node-1".into()), &Endpoint::Pod(web));
    assert_eq!(from_node.special, Some(Special::OwnNode));
    assert_eq!(from_node.verdict_for(Protocol::Tcp, 8080), Verdict::Allow);
    let other_node = ev.connection(&Endpoint::Node("node-2".into()), &Endpoint::Pod(web));
    assert_eq!(other_node.verdict_for(Protocol::Tcp, 8080), Verdict::Deny);
    let itself = ev.connection(&Endpoint::Pod(web), &Endpoint::Pod(web));
    assert_eq!(itself.verdict_for(Protocol::Tcp, 8080), Verdict::Allow);
}

// ---- C. Rules and peers --------------------------------------------------------------------

#[test]
fn p10_empty_rule_parts_mean_everything() {
    // Ports only: from anywhere (including other namespaces and addresses) on that port.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{port: 81}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "z/c", "x/a", Protocol::Tcp, 81), Verdict::Allow);
    assert_eq!(verdict(&m, "z/c", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    let ev = Evaluator::new(&m);
    let outside = parse_address("203.0.113.9").expect("ip");
    assert_eq!(
        ev.connection(&Endpoint::Address(outside), &Endpoint::Pod(pod(&m, "x/a")))
            .verdict_for(Protocol::Tcp, 81),
        Verdict::Allow
    );
    // Peers only: every port and protocol from those peers.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Udp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Sctp, 9), Verdict::Allow);
    assert_eq!(verdict(&m, "x/c", "x/a", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p11_selectors_in_one_peer_are_anded_separate_peers_are_ored() {
    let and = e2e_world(&format!(
        "{NP}metadata: {{name: and, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{ns: y}}}}\n      podSelector: {{matchLabels: {{pod: b}}}}\n"
    ));
    assert_table(
        &and,
        Protocol::Tcp,
        80,
        "
        .11 111 111
        0.1 111 111
        01. 111 111
        011 .11 111
        111 1.1 111
        011 11. 111
        011 111 .11
        011 111 1.1
        011 111 11.",
    );
    let or = e2e_world(&format!(
        "{NP}metadata: {{name: or, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{ns: y}}}}\n    - podSelector: {{matchLabels: {{pod: b}}}}\n"
    ));
    assert_table(
        &or,
        Protocol::Tcp,
        80,
        "
        .11 111 111
        1.1 111 111
        01. 111 111
        111 .11 111
        111 1.1 111
        111 11. 111
        011 111 .11
        011 111 1.1
        011 111 11.",
    );
}

#[test]
fn p11_empty_namespace_selector_means_all_namespaces_absent_means_own() {
    // {namespaceSelector: {}, podSelector: {pod: b}}: b pods of every namespace.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{namespaceSelector: {{}}, podSelector: {{matchLabels: {{pod: b}}}}}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "z/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "z/c", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    // podSelector alone: own namespace only.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "x/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "z/b", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    // namespaceSelector: {} alone: every pod in the cluster, but not outside addresses.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{from: [{{namespaceSelector: {{}}}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "z/c", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    let ev = Evaluator::new(&m);
    let outside = parse_address("198.51.100.7").expect("ip");
    assert_eq!(
        ev.connection(&Endpoint::Address(outside), &Endpoint::Pod(pod(&m, "x/a")))
            .verdict_for(Protocol::Tcp, 80),
        Verdict::Deny
    );
}

#[test]
fn p12_notin_and_doesnotexist_match_objects_without_the_key() {
    let mut m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress:\n  - from:\n    - namespaceSelector: {{matchExpressions: [{{key: env, operator: NotIn, values: [prod]}}]}}\n      podSelector: {{matchExpressions: [{{key: tier, operator: DoesNotExist}}]}}\n"
    ));
    // No namespace or pod has env/tier: all match.
    assert_eq!(verdict(&m, "y/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    // Give y env=prod and z/c tier=db: now those are excluded.
    let y = m.namespace_index("y").expect("y");
    m.namespaces[y].labels.insert("env".into(), "prod".into());
    let zc = pod(&m, "z/c");
    m.pods[zc].labels.insert("tier".into(), "db".into());
    assert_eq!(verdict(&m, "y/b", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(verdict(&m, "z/c", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(verdict(&m, "z/b", "x/a", Protocol::Tcp, 80), Verdict::Allow);
}

#[test]
fn p12_namespaces_can_be_named_through_the_metadata_name_label() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: z}}}}}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "z/a", "x/a", Protocol::Tcp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 80), Verdict::Deny);
}

fn ip_world(policy: &str) -> Model {
    model(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: n, labels: {{app: client}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: 10.1.0.5}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: server, namespace: n, labels: {{app: server}}}}\nspec: {{containers: [{{name: c, image: i, ports: [{{name: http, containerPort: 8080}}]}}]}}\nstatus: {{podIP: 10.1.0.9}}\n---\n{policy}"
    ))
}

#[test]
fn p13_ipblock_except_is_local_to_its_peer() {
    let m = ip_world(&format!(
        "{NP}metadata: {{name: p, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}}}]\n"
    ));
    let ev = Evaluator::new(&m);
    let client = Endpoint::Pod(pod(&m, "n/client"));
    let to = |ip: &str| {
        ev.connection(&client, &Endpoint::Address(parse_address(ip).expect("ip")))
            .verdict_for(Protocol::Tcp, 443)
    };
    assert_eq!(to("192.168.2.1"), Verdict::Allow);
    assert_eq!(to("192.168.1.1"), Verdict::Deny);
    // A second peer allowing the excepted range wins (e2e: "IP overlapping both cidr and except").
    let m = ip_world(&format!(
        "{NP}metadata: {{name: p, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}}}, {{ipBlock: {{cidr: 192.168.1.1/32}}}}]\n"
    ));
    let ev = Evaluator::new(&m);
    let client = Endpoint::Pod(pod(&m, "n/client"));
    let to = |ip: &str| {
        ev.connection(&client, &Endpoint::Address(parse_address(ip).expect("ip")))
            .verdict_for(Protocol::Tcp, 443)
    };
    assert_eq!(to("192.168.1.1"), Verdict::Allow);
    assert_eq!(to("192.168.1.2"), Verdict::Deny);
    // IPv6 too.
    let m = ip_world(&format!(
        "{NP}metadata: {{name: p, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{{ipBlock: {{cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}}}}]\n"
    ));
    let ev = Evaluator::new(&m);
    let client = Endpoint::Pod(pod(&m, "n/client"));
    let to = |ip: &str| {
        ev.connection(&client, &Endpoint::Address(parse_address(ip).expect("ip")))
            .verdict_for(Protocol::Tcp, 443)
    };
    assert_eq!(to("2001:db8:2::1"), Verdict::Allow);
    assert_eq!(to("2001:db8:1::1"), Verdict::Deny);
}

#[test]
fn p14_an_ipblock_holding_a_pod_ip_allows_that_pod() {
    let m = ip_world(&format!(
        "{NP}metadata: {{name: p, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{ipBlock: {{cidr: 10.1.0.9/32}}}}]}}]\n"
    ));
    assert_eq!(
        verdict(&m, "n/client", "n/server", Protocol::Tcp, 8080),
        Verdict::Allow
    );
    let m = ip_world(&format!(
        "{NP}metadata: {{name: p, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{app: client}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{ipBlock: {{cidr: 10.1.0.0/24, except: [10.1.0.8/29]}}}}]}}]\n"
    ));
    assert_eq!(
        verdict(&m, "n/client", "n/server", Protocol::Tcp, 8080),
        Verdict::Deny
    );
    assert_fast_path_agrees(&m);
}

// ---- D. Ports and protocols ----------------------------------------------------------------

#[test]
fn p15_protocols_are_distinct() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: udp-only, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{protocol: UDP, port: 80}}]}}]\n---\n\
         {NP}metadata: {{name: sctp-only, namespace: y}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{protocol: SCTP, port: 80}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "z/a", "x/a", Protocol::Udp, 80), Verdict::Allow);
    assert_eq!(verdict(&m, "z/a", "x/a", Protocol::Tcp, 80), Verdict::Deny);
    assert_eq!(
        verdict(&m, "z/a", "y/a", Protocol::Sctp, 80),
        Verdict::Allow
    );
    assert_eq!(verdict(&m, "z/a", "y/a", Protocol::Tcp, 80), Verdict::Deny);
}

#[test]
fn p16_a_port_entry_without_a_port_means_every_port_of_its_protocol() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{protocol: TCP}}]}}]\n"
    ));
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Tcp, 81), Verdict::Allow);
    assert_eq!(
        verdict(&m, "y/a", "x/a", Protocol::Tcp, 65535),
        Verdict::Allow
    );
    assert_eq!(verdict(&m, "y/a", "x/a", Protocol::Udp, 80), Verdict::Deny);
}

#[test]
fn p17_end_port_is_an_inclusive_range() {
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: p, namespace: x}}\nspec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{port: 32000, endPort: 32768}}]}}]\n"
    ));
    for (port, want) in [
        (31999, Verdict::Deny),
        (32000, Verdict::Allow),
        (32768, Verdict::Allow),
        (32769, Verdict::Deny),
    ] {
        assert_eq!(
            verdict(&m, "y/a", "x/a", Protocol::Tcp, port),
            want,
            "{port}"
        );
    }
}

#[test]
fn p18_named_ports_resolve_per_destination_pod_and_protocol() {
    // Two backends call their port `web`, at different numbers; one declares it as UDP.
    let m = model(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: one, namespace: n, labels: {{tier: web}}}}\nspec: {{containers: [{{name: c, image: i, ports: [{{name: web, containerPort: 8080}}]}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: two, namespace: n, labels: {{tier: web}}}}\nspec: {{containers: [{{name: c, image: i, ports: [{{name: web, containerPort: 9090}}]}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: three, namespace: n, labels: {{tier: web}}}}\nspec: {{containers: [{{name: c, image: i, ports: [{{name: web, containerPort: 7070, protocol: UDP}}]}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: n, labels: {{tier: client}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n---\n\
         {NP}metadata: {{name: in-web, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{tier: web}}}}\n  ingress: [{{ports: [{{port: web}}]}}]\n---\n\
         {NP}metadata: {{name: out-web, namespace: n}}\nspec:\n  podSelector: {{matchLabels: {{tier: client}}}}\n  policyTypes: [Egress]\n  egress: [{{ports: [{{port: web}}]}}]\n"
    ));
    assert_eq!(
        verdict(&m, "n/client", "n/one", Protocol::Tcp, 8080),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&m, "n/client", "n/one", Protocol::Tcp, 9090),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&m, "n/client", "n/two", Protocol::Tcp, 9090),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&m, "n/client", "n/two", Protocol::Tcp, 8080),
        Verdict::Deny
    );
    // `port: web` (TCP by default) does not match a UDP port called web.
    assert_eq!(
        verdict(&m, "n/client", "n/three", Protocol::Tcp, 7070),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&m, "n/client", "n/three", Protocol::Udp, 7070),
        Verdict::Deny
    );
    // A name toward an address resolves to nothing.
    let ev = Evaluator::new(&m);
    let c = ev.connection(
        &Endpoint::Pod(pod(&m, "n/client")),
        &Endpoint::Address(parse_address("203.0.113.1").expect("ip")),
    );
    assert!(c.allowed.is_empty(), "{}", c.allowed);
    assert_fast_path_agrees(&m);
}

#[test]
fn p19_services_reach_backends_on_the_target_port() {
    let m = model(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: n, labels: {app: db}}\nspec: {containers: [{name: c, image: i, ports: [{name: sql, containerPort: 13306}]}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: n, labels: {app: db}}\nspec: {containers: [{name: c, image: i, ports: [{name: sql, containerPort: 23306}]}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: n, labels: {app: not-the-selector}}\nspec: {selector: {app: db}, ports: [{port: 3306, targetPort: sql}]}\n",
    );
    let svc = m.service("n", "db").expect("svc");
    let backends = m.service_backends(svc);
    assert_eq!(backends.len(), 2);
    let targets: Vec<Option<u16>> = backends
        .iter()
        .map(|&b| m.target_port(&svc.ports[0], &m.pods[b]))
        .collect();
    assert_eq!(targets, [Some(13306), Some(23306)]);
}

// ---- E. Special endpoints ------------------------------------------------------------------

#[test]
fn p20_host_network_pods_depend_on_the_cni() {
    let m = model(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: agent, namespace: n, labels: {{app: agent}}}}\nspec: {{hostNetwork: true, nodeName: node-1, containers: [{{name: c, image: i}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: n, labels: {{app: web}}}}\nspec: {{nodeName: node-2, containers: [{{name: c, image: i}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: local, namespace: n, labels: {{app: local}}}}\nspec: {{nodeName: node-1, containers: [{{name: c, image: i}}]}}\n---\n\
         {NP}metadata: {{name: deny, namespace: n}}\nspec: {{podSelector: {{}}}}\n"
    ));
    assert_eq!(
        verdict(&m, "n/agent", "n/web", Protocol::Tcp, 80),
        Verdict::Depends
    );
    assert_eq!(
        verdict(&m, "n/web", "n/agent", Protocol::Tcp, 80),
        Verdict::Depends
    );
    // On its own node a hostNetwork pod is node traffic, always allowed in.
    assert_eq!(
        verdict(&m, "n/agent", "n/local", Protocol::Tcp, 80),
        Verdict::Allow
    );
    assert_fast_path_agrees(&m);
}

// ---- Multi-namespace truth tables ---------------------------------------------------------

#[test]
fn truth_table_default_deny_with_cross_namespace_allows() {
    // x: default deny ingress; x/a accepts y's pods on 80 and x/b on any port; y: deny all
    // egress except to x; z untouched.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: default-deny, namespace: x}}\nspec: {{podSelector: {{}}}}\n---\n\
         {NP}metadata: {{name: a-from-y, namespace: x}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n  - from: [{{namespaceSelector: {{matchLabels: {{ns: y}}}}}}]\n    ports: [{{port: serve-80-tcp}}]\n  - from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]\n---\n\
         {NP}metadata: {{name: egress-to-x, namespace: y}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{namespaceSelector: {{matchLabels: {{ns: x}}}}}}]}}]\n"
    ));
    assert_table(
        &m,
        Protocol::Tcp,
        80,
        "
        .00 111 111
        1.0 111 111
        00. 111 111
        100 .00 000
        100 0.0 000
        100 00. 000
        000 111 .11
        000 111 1.1
        000 111 11.",
    );
    assert_table(
        &m,
        Protocol::Tcp,
        81,
        "
        .00 111 111
        1.0 111 111
        00. 111 111
        000 .00 000
        000 0.0 000
        000 00. 000
        000 111 .11
        000 111 1.1
        000 111 11.",
    );
}

#[test]
fn truth_table_egress_named_port_and_stacked_policies() {
    // Every pod in z may only send to serve-81-tcp anywhere; z/a additionally to x on UDP.
    let m = e2e_world(&format!(
        "{NP}metadata: {{name: only-81, namespace: z}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress: [{{ports: [{{port: serve-81-tcp}}]}}]\n---\n\
         {NP}metadata: {{name: a-udp-to-x, namespace: z}}\nspec:\n  podSelector: {{matchLabels: {{pod: a}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{namespaceSelector: {{matchLabels: {{ns: x}}}}}}], ports: [{{protocol: UDP}}]}}]\n"
    ));
    assert_table(
        &m,
        Protocol::Tcp,
        81,
        "
        .11 111 111
        1.1 111 111
        11. 111 111
        111 .11 111
        111 1.1 111
        111 11. 111
        111 111 .11
        111 111 1.1
        111 111 11.",
    );
    assert_table(
        &m,
        Protocol::Tcp,
        80,
        "
        .11 111 111
        1.1 111 111
        11. 111 111
        111 .11 111
        111 1.1 111
        111 11. 111
        000 000 .00
        000 000 0.0
        000 000 00.",
    );
    assert_table(
        &m,
        Protocol::Udp,
        80,
        "
        .11 111 111
        1.1 111 111
        11. 111 111
        111 .11 111
        111 1.1 111
        111 11. 111
        111 000 .00
        000 000 0.0
        000 000 00.",
    );
}
