//! `check`: can A reach B on PORT/PROTO? Endpoints in the contract's notation, one query from
//! flags or many from a case file with expectations (PASS/FAIL, exit 1 on any FAIL).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use ipnet::IpNet;
use serde::Serialize;
use serde_json::Value;

use guardrails::cli::OutputFormat;
use guardrails::error::{Error, Result};
use guardrails::render::{self, Styles, Table};
use guardrails::selector::{LabelQuery, Operator};

use crate::evaluate::{Decision, Endpoint, Evaluator, Special, Verdict, parse_address};
use crate::model::{Model, ServicePort};
use crate::policy::Protocol;

/// A parsed endpoint, before pods are looked up.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointSpec {
    Pod { namespace: String, name: String },
    Labels { namespace: String, query: String },
    Service { namespace: String, name: String },
    Node(String),
    Address(IpNet),
}

impl EndpointSpec {
    pub fn parse(s: &str) -> std::result::Result<EndpointSpec, String> {
        let s = s.trim();
        if let Some(addr) = parse_address(s) {
            return Ok(EndpointSpec::Address(addr));
        }
        // Label keys may carry a prefix with a slash (`app.kubernetes.io/name=x`): anything
        // after the namespace that holds `=` is a selector (names never contain `=`).
        let parts: Vec<&str> = match s.split_once('/') {
            Some((ns, rest)) if rest.contains('=') => vec![ns, rest],
            _ => s.splitn(3, '/').collect(),
        };
        match parts.as_slice() {
            ["node", name] if !name.is_empty() => Ok(EndpointSpec::Node(name.to_string())),
            [ns, "svc" | "service", name] if !ns.is_empty() && !name.is_empty() => {
                Ok(EndpointSpec::Service {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                })
            }
            [ns, rest] if !ns.is_empty() && rest.contains('=') => {
                LabelQuery::parse(rest).map_err(|e| e.to_string())?;
                Ok(EndpointSpec::Labels {
                    namespace: ns.to_string(),
                    query: rest.to_string(),
                })
            }
            [ns, name] if !ns.is_empty() && !name.is_empty() => Ok(EndpointSpec::Pod {
                namespace: ns.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!(
                "endpoint {s:?}: expected NS/POD, NS/key=value, NS/svc/NAME, node/NAME or an IP/CIDR"
            )),
        }
    }
}

/// `3306`, `3306/TCP`, `http/TCP`, `53/udp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub port: PortValue,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortValue {
    Number(u16),
    Named(String),
}

impl std::fmt::Display for PortValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortValue::Number(n) => write!(f, "{n}"),
            PortValue::Named(s) => f.write_str(s),
        }
    }
}

impl PortSpec {
    pub fn parse(port: &str, protocol: Option<&str>) -> std::result::Result<PortSpec, String> {
        let (port_text, proto_text) = match port.split_once('/') {
            Some((p, proto)) => (p, Some(proto)),
            None => (port, protocol),
        };
        let protocol = match proto_text {
            None => Protocol::Tcp,
            Some(p) => Protocol::parse(&p.to_ascii_uppercase())
                .ok_or_else(|| format!("protocol {p:?} is not TCP, UDP or SCTP"))?,
        };
        let port = match port_text.parse::<u32>() {
            Ok(n) => PortValue::Number(
                u16::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("port {n} is not between 1 and 65535"))?,
            ),
            Err(_) if crate::policy::is_iana_svc_name(port_text) => {
                PortValue::Named(port_text.to_string())
            }
            Err(_) => return Err(format!("port {port_text:?} is not a number or a port name")),
        };
        Ok(PortSpec { port, protocol })
    }
}

/// One query.
#[derive(Debug, Clone)]
pub struct Case {
    pub from: String,
    pub to: String,
    pub port: PortSpec,
    pub expected: Option<Verdict>,
}

/// Reads a case file: a YAML/JSON list, or `{cases: [...]}`, of `{from, to, port, protocol,
/// expected}`.
pub fn load_cases(path: &Path) -> Result<Vec<Case>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e))?;
    let doc: Value = serde_yaml_ng::from_str(&text).map_err(|e| Error::input(&name, e))?;
    let list = match &doc {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("cases") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(Error::input(
                    &name,
                    "expected a list of cases or {cases: [...]}",
                ));
            }
        },
        _ => {
            return Err(Error::input(
                &name,
                "expected a list of cases or {cases: [...]}",
            ));
        }
    };
    let mut cases = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{name}: case {}", i + 1);
        let field = |key: &str| -> std::result::Result<Option<String>, Error> {
            match item.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(Error::input(
                    &at,
                    format!("{key} must be a string, not {other}"),
                )),
            }
        };
        let need = |key: &str| -> std::result::Result<String, Error> {
            field(key)?.ok_or_else(|| Error::input(&at, format!("missing {key}")))
        };
        let (from, to, port) = (need("from")?, need("to")?, need("port")?);
        for endpoint in [&from, &to] {
            EndpointSpec::parse(endpoint).map_err(|e| Error::input(&at, e))?;
        }
        let port = PortSpec::parse(&port, field("protocol")?.as_deref())
            .map_err(|e| Error::input(&at, e))?;
        let expected = match field("expected")?
            .map(|s| s.to_ascii_uppercase())
            .as_deref()
        {
            None => None,
            Some("ALLOW") => Some(Verdict::Allow),
            Some("DENY") => Some(Verdict::Deny),
            Some("DEPENDS") => Some(Verdict::Depends),
            Some(other) => {
                return Err(Error::input(
                    &at,
                    format!("expected {other:?} is not ALLOW, DENY or DEPENDS"),
                ));
            }
        };
        cases.push(Case {
            from,
            to,
            port,
            expected,
        });
    }
    Ok(cases)
}

/// An endpoint with its pods (or address) found.
#[derive(Debug, Clone)]
pub struct ResolvedEndpoint {
    pub endpoints: Vec<Endpoint>,
    /// For `NS/svc/NAME`: the Service port addressed (resolved once the port is known).
    pub service: Option<(String, String)>,
}

/// Looks the endpoint up, adding a pod for `NS/key=value` labels nothing matches (the
/// contract's "synthesised from the labels").
pub fn resolve(model: &mut Model, text: &str) -> std::result::Result<ResolvedEndpoint, String> {
    let spec = EndpointSpec::parse(text)?;
    let pods_where = |model: &Model, f: &dyn Fn(&crate::model::PodInfo) -> bool| -> Vec<Endpoint> {
        model
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| f(p))
            .map(|(i, _)| Endpoint::Pod(i))
            .collect()
    };
    let (endpoints, service) = match &spec {
        EndpointSpec::Address(a) => (vec![Endpoint::Address(*a)], None),
        EndpointSpec::Node(n) => (vec![Endpoint::Node(n.clone())], None),
        EndpointSpec::Pod { namespace, name } => {
            let mut found = pods_where(model, &|p| &p.namespace == namespace && &p.name == name);
            if found.is_empty() {
                found = pods_where(model, &|p| {
                    &p.namespace == namespace && &p.workload.name == name
                });
            }
            if found.is_empty() {
                return Err(format!("no pod or workload {namespace}/{name}"));
            }
            (found, None)
        }
        EndpointSpec::Labels { namespace, query } => {
            let q = LabelQuery::parse(query).map_err(|e| e.to_string())?;
            let found = pods_where(model, &|p| {
                &p.namespace == namespace && q.matches(&p.labels)
            });
            if found.is_empty() {
                let mut labels = BTreeMap::new();
                for r in q.requirements() {
                    match (r.operator, r.values.as_slice()) {
                        (Operator::Equals | Operator::DoubleEquals | Operator::In, [v, ..]) => {
                            labels.insert(r.key.clone(), v.clone());
                        }
                        (Operator::Exists, _) => {
                            labels.insert(r.key.clone(), String::new());
                        }
                        _ => {}
                    }
                }
                if !q.matches(&labels) {
                    return Err(format!(
                        "no pod in {namespace} matches {query}, and no pod can be assumed from it"
                    ));
                }
                let i = model.add_synthetic_pod(namespace, query, labels, Vec::new());
                (vec![Endpoint::Pod(i)], None)
            } else {
                (found, None)
            }
        }
        EndpointSpec::Service { namespace, name } => {
            let svc = model
                .service(namespace, name)
                .ok_or_else(|| format!("no Service {namespace}/{name}"))?;
            let backends = model.service_backends(svc);
            (
                backends.into_iter().map(Endpoint::Pod).collect(),
                Some((namespace.clone(), name.clone())),
            )
        }
    };
    Ok(ResolvedEndpoint { endpoints, service })
}

/// The answer to one case.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub from: String,
    pub to: String,
    pub port: String,
    pub protocol: Protocol,
    pub expected: Option<Verdict>,
    pub verdict: Verdict,
    pub pass: Option<bool>,
    pub decided_by: Vec<Decision>,
    /// Why, in words (pairs denied, target ports not declared, special cases).
    pub notes: Vec<String>,
}

fn display_endpoint(model: &Model, e: &Endpoint) -> String {
    match e {
        Endpoint::Pod(p) => format!("{}/{}", model.pods[*p].namespace, model.pods[*p].name),
        Endpoint::Address(a) => a.to_string(),
        Endpoint::Node(n) => format!("node/{n}"),
    }
}

/// Evaluates a case whose endpoints were resolved before the evaluator was built.
pub fn evaluate(
    ev: &Evaluator<'_>,
    case: &Case,
    from: &ResolvedEndpoint,
    to: &ResolvedEndpoint,
) -> std::result::Result<CheckResult, String> {
    let model = ev.model;
    if from.service.is_some() && from.endpoints.is_empty() {
        return Err(format!("{} has no backend pods", case.from));
    }
    let service_port: Option<&ServicePort> = match &to.service {
        None => None,
        Some((ns, name)) => {
            let svc = model
                .service(ns, name)
                .ok_or_else(|| format!("no Service {ns}/{name}"))?;
            let found = svc.ports.iter().find(|p| {
                p.protocol == case.port.protocol
                    && match &case.port.port {
                        PortValue::Number(n) => p.port == *n,
                        PortValue::Named(s) => p.name.as_deref() == Some(s.as_str()),
                    }
            });
            Some(found.ok_or_else(|| {
                format!(
                    "Service {ns}/{name} has no port {}/{}",
                    case.port.port, case.port.protocol
                )
            })?)
        }
    };
    if !from
        .endpoints
        .iter()
        .chain(&to.endpoints)
        .any(|e| matches!(e, Endpoint::Pod(_)))
    {
        return Err("one end of a check must be a pod".into());
    }
    let mut verdicts = Vec::new();
    let mut decided_by: Vec<Decision> = Vec::new();
    let mut notes = Vec::new();
    if to.endpoints.is_empty() {
        notes.push(format!("{} has no backend pods", case.to));
        verdicts.push(Verdict::Deny);
    }
    for dst in &to.endpoints {
        // The port the receiver sees: a Service port maps to its target port, per pod.
        let port = match (service_port, dst, &case.port.port) {
            (Some(sp), Endpoint::Pod(d), _) => model.target_port(sp, &model.pods[*d]),
            (None, _, PortValue::Number(n)) => Some(*n),
            (None, Endpoint::Pod(d), PortValue::Named(name)) => model
                .ports_of(&model.pods[*d])
                .iter()
                .find(|c| {
                    c.name.as_deref() == Some(name.as_str()) && c.protocol == case.port.protocol
                })
                .map(|c| c.number),
            _ => None,
        };
        let Some(port) = port else {
            notes.push(format!(
                "{} declares no container port {} for {}",
                display_endpoint(model, dst),
                case.port.protocol,
                match service_port {
                    Some(sp) => format!("target port {:?}", sp.target),
                    None => format!("{:?}", case.port.port.to_string()),
                }
            ));
            verdicts.push(Verdict::Deny);
            continue;
        };
        if service_port.is_some() {
            notes.push(format!(
                "{} receives on {}/{port}",
                display_endpoint(model, dst),
                case.port.protocol
            ));
        }
        for src in &from.endpoints {
            let c = ev.connection(src, dst);
            let v = c.verdict_for(case.port.protocol, port);
            match c.special {
                Some(Special::Loopback) => notes.push("a pod can always reach itself".into()),
                Some(Special::OwnNode) => notes.push("traffic from a pod's own node is always allowed in".into()),
                Some(Special::HostNetwork) => notes.push(
                    "a hostNetwork pod is involved: whether policies apply to it depends on the CNI".into(),
                ),
                None => {}
            }
            if c.special.is_none() {
                for d in c.decided_by(ev, case.port.protocol, port) {
                    if !decided_by.contains(&d) {
                        decided_by.push(d);
                    }
                }
            }
            if v == Verdict::Deny && from.endpoints.len() * to.endpoints.len() > 1 {
                notes.push(format!(
                    "{} -> {} denied",
                    display_endpoint(model, src),
                    display_endpoint(model, dst)
                ));
            }
            verdicts.push(v);
        }
    }
    let verdict = if verdicts.contains(&Verdict::Deny) {
        Verdict::Deny
    } else if verdicts.contains(&Verdict::Depends) {
        Verdict::Depends
    } else {
        Verdict::Allow
    };
    if decided_by.is_empty() && notes.is_empty() {
        notes.push("no policy isolates either end".into());
    }
    notes.dedup();
    Ok(CheckResult {
        from: case.from.clone(),
        to: case.to.clone(),
        port: case.port.port.to_string(),
        protocol: case.port.protocol,
        expected: case.expected,
        verdict,
        pass: case.expected.map(|e| e == verdict),
        decided_by,
        notes,
    })
}

#[derive(Serialize)]
struct CheckDocument<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    results: &'a [CheckResult],
}

pub fn decision_text(d: &Decision) -> String {
    let dir = d.direction.as_str().to_ascii_lowercase();
    match d.rule {
        Some(r) => format!("{} {dir}[{r}]", d.policy),
        None => format!("{} ({dir} isolated, no rule matches)", d.policy),
    }
}

pub fn write(
    out: &mut dyn Write,
    results: &[CheckResult],
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    match format {
        OutputFormat::Json | OutputFormat::Sarif => render::write_json(
            out,
            &CheckDocument {
                api_version: "guardrails/v1",
                kind: "ConnectivityCheck",
                results,
            },
        ),
        OutputFormat::Yaml => render::write_yaml(
            out,
            &CheckDocument {
                api_version: "guardrails/v1",
                kind: "ConnectivityCheck",
                results,
            },
        ),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            let with_expectations = results.iter().any(|r| r.expected.is_some());
            let mut headers = vec!["FROM", "TO", "PORT", "VERDICT"];
            if with_expectations {
                headers.extend(["EXPECTED", "RESULT"]);
            }
            headers.push("DECIDED BY");
            if format == OutputFormat::Wide {
                headers.push("NOTES");
            }
            let mut table = Table::new(&headers);
            for r in results {
                let paint = |v: Verdict| {
                    let style = match v {
                        Verdict::Allow => owo_style::GREEN,
                        Verdict::Deny => owo_style::RED,
                        Verdict::Depends => owo_style::YELLOW,
                    };
                    styles.paint(v.as_str(), style)
                };
                let mut row = vec![
                    r.from.clone(),
                    r.to.clone(),
                    format!("{}/{}", r.port, r.protocol),
                    paint(r.verdict),
                ];
                if with_expectations {
                    row.push(
                        r.expected
                            .map(|e| e.as_str().to_string())
                            .unwrap_or_else(|| "-".into()),
                    );
                    row.push(match r.pass {
                        Some(true) => styles.paint("PASS", owo_style::GREEN),
                        Some(false) => styles.paint("FAIL", owo_style::RED),
                        None => "-".into(),
                    });
                }
                let decided: Vec<String> = r.decided_by.iter().map(decision_text).collect();
                row.push(if decided.is_empty() {
                    r.notes.first().cloned().unwrap_or_else(|| "-".into())
                } else {
                    decided.join("; ")
                });
                if format == OutputFormat::Wide {
                    row.push(r.notes.join("; "));
                }
                table.row(row);
            }
            table.write_as(out, styles, format)
        }
    }
}

/// Colours for verdicts and results (applied only when the run is coloured).
mod owo_style {
    use owo_colors::Style;
    pub const GREEN: Style = Style::new().green();
    pub const RED: Style = Style::new().red();
    pub const YELLOW: Style = Style::new().yellow();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_in_the_contract_notation() {
        let ep = |s: &str| EndpointSpec::parse(s);
        assert_eq!(
            ep("shop/frontend-abc"),
            Ok(EndpointSpec::Pod {
                namespace: "shop".into(),
                name: "frontend-abc".into()
            })
        );
        assert_eq!(
            ep("shop/app=frontend,tier!=db"),
            Ok(EndpointSpec::Labels {
                namespace: "shop".into(),
                query: "app=frontend,tier!=db".into()
            })
        );
        assert_eq!(
            ep("guardrails/app.kubernetes.io/name=audit,tier=ops"),
            Ok(EndpointSpec::Labels {
                namespace: "guardrails".into(),
                query: "app.kubernetes.io/name=audit,tier=ops".into()
            }),
            "prefixed label keys hold a slash"
        );
        assert_eq!(
            ep("payments/svc/mysql"),
            Ok(EndpointSpec::Service {
                namespace: "payments".into(),
                name: "mysql".into()
            })
        );
        assert_eq!(
            ep("node/worker-1"),
            Ok(EndpointSpec::Node("worker-1".into()))
        );
        assert!(matches!(ep("10.0.0.0/8"), Ok(EndpointSpec::Address(_))));
        assert!(matches!(ep("2001:db8::1"), Ok(EndpointSpec::Address(_))));
        for bad in ["shop", "/x", "shop/", "shop/=x", ""] {
            assert!(ep(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ports_parse_with_an_optional_protocol() {
        let p = |s: &str| PortSpec::parse(s, None);
        assert_eq!(
            p("3306"),
            Ok(PortSpec {
                port: PortValue::Number(3306),
                protocol: Protocol::Tcp
            })
        );
        assert_eq!(
            p("53/udp"),
            Ok(PortSpec {
                port: PortValue::Number(53),
                protocol: Protocol::Udp
            })
        );
        assert_eq!(
            p("http/TCP"),
            Ok(PortSpec {
                port: PortValue::Named("http".into()),
                protocol: Protocol::Tcp
            })
        );
        assert_eq!(
            PortSpec::parse("53", Some("UDP")),
            Ok(PortSpec {
                port: PortValue::Number(53),
                protocol: Protocol::Udp
            })
        );
        for bad in ["0", "65536", "80/ICMP", "Not_A_Name"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
