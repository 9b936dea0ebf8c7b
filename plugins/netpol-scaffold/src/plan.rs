//! `plan`: before a rollout, which connections possible today the proposed policies would deny
//! ("what breaks first"), and the order to apply them in. The candidate flows are the ones a
//! namespace actually uses: to and from Services (every workload to each Service's backends on
//! its target ports), the dependencies workload env values name, and DNS.

use std::collections::BTreeSet;
use std::io::Write;

use guardrails::cli::OutputFormat;
use guardrails::error::Result;
use guardrails::render::{self, Styles, Table};
use serde::Serialize;

use crate::evaluate::{Endpoint, Evaluator, Verdict};
use crate::infra::Dns;
use crate::model::{Model, TargetPort};
use crate::policy::Protocol;
use crate::scaffold::{Edge, PortChoice};

/// One flow that works today and would be denied.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub struct Break {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: String,
    /// Why the flow is expected: `Service shop/checkout`, `DNS`, or the env value.
    pub via: String,
    /// The proposed policies (and rules) that would deny it.
    pub denied_by: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    /// Policy names in the order to create them (allows first, the deny last).
    pub apply_order: Vec<String>,
    pub breaks: Vec<Break>,
}

/// A candidate flow: (from pod, to pod, port, protocol, via).
type Flow = (usize, usize, u16, Protocol, String);

/// One pod per workload: the flows of a workload's replicas are the same.
fn representatives(model: &Model) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    (0..model.pods.len())
        .filter(|&i| seen.insert(model.pods[i].workload.clone()))
        .collect()
}

/// The flows touching `namespace` that its workloads use: Services, inferred edges, DNS.
pub fn candidate_flows(model: &Model, dns: &Dns, edges: &[Edge], namespace: &str) -> Vec<Flow> {
    let reps = representatives(model);
    let mut flows = Vec::new();
    for svc in &model.services {
        let backends = model.service_backends(svc);
        let Some(&to) = backends
            .iter()
            .find(|b| reps.contains(b))
            .or(backends.first())
        else {
            continue;
        };
        for &from in &reps {
            if from == to || model.pods[from].workload == model.pods[to].workload {
                continue;
            }
            if svc.namespace != namespace && model.pods[from].namespace != namespace {
                continue;
            }
            for port in &svc.ports {
                if let Some(p) = model.target_port(port, &model.pods[to]) {
                    let via = format!("Service {}/{}", svc.namespace, svc.name);
                    flows.push((from, to, p, port.protocol, via));
                }
            }
        }
    }
    for edge in edges {
        let matching = |(ns, labels): &(String, std::collections::BTreeMap<String, String>)| {
            reps.iter().copied().find(|&i| {
                let p = &model.pods[i];
                p.namespace == *ns && labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
        };
        if let (Some(from), Some(to)) = (matching(&edge.from), matching(&edge.to)) {
            let port = match &edge.port {
                PortChoice::Number(n) => Some(*n),
                PortChoice::Named(name) => model
                    .ports_of(&model.pods[to])
                    .iter()
                    .find(|c| c.name.as_deref() == Some(name) && c.protocol == edge.protocol)
                    .map(|c| c.number),
            };
            if let Some(port) = port {
                flows.push((from, to, port, edge.protocol, edge.why.clone()));
            }
        }
    }
    if let Some(&dns_pod) = dns.pods.first() {
        for &from in reps
            .iter()
            .filter(|&&i| model.pods[i].namespace == namespace)
        {
            for (protocol, target) in &dns.ports {
                let port = match target {
                    TargetPort::Number(n) => Some(*n),
                    TargetPort::Named(name) => model
                        .ports_of(&model.pods[dns_pod])
                        .iter()
                        .find(|c| c.name.as_deref() == Some(name) && c.protocol == *protocol)
                        .map(|c| c.number),
                };
                if let Some(port) = port {
                    flows.push((from, dns_pod, port, *protocol, "DNS".into()));
                }
            }
        }
    }
    flows.sort_by(|a, b| (a.0, a.1, a.2, &a.4).cmp(&(b.0, b.1, b.2, &b.4)));
    flows.dedup_by(|a, b| (a.0, a.1, a.2, a.3) == (b.0, b.1, b.2, b.3));
    flows
}

/// The flows allowed by `now` and not by `proposed` (the same pods plus the proposals).
pub fn breaks(now: &Evaluator<'_>, proposed: &Evaluator<'_>, flows: &[Flow]) -> Vec<Break> {
    let model = proposed.model;
    let mut out = Vec::new();
    for (from, to, port, protocol, via) in flows {
        let (a, b) = (Endpoint::Pod(*from), Endpoint::Pod(*to));
        if now.connection(&a, &b).verdict_for(*protocol, *port) != Verdict::Allow {
            continue;
        }
        let after = proposed.connection(&a, &b);
        if after.verdict_for(*protocol, *port) != Verdict::Deny {
            continue;
        }
        out.push(Break {
            from: model.pods[*from].workload.display_path(),
            to: model.pods[*to].workload.display_path(),
            port: *port,
            protocol: protocol.as_str().to_string(),
            via: via.clone(),
            denied_by: after
                .decided_by(proposed, *protocol, *port)
                .iter()
                .map(crate::check::decision_text)
                .collect(),
        });
    }
    out.sort();
    out.dedup();
    out
}

pub fn write(
    out: &mut dyn Write,
    doc: &PlanDocument,
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    match format {
        OutputFormat::Json | OutputFormat::Sarif => render::write_json(out, doc),
        OutputFormat::Yaml => render::write_yaml(out, doc),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            let mut table = Table::new(&["FROM", "TO", "PORT", "VIA", "DENIED BY"]);
            for b in &doc.breaks {
                table.row(vec![
                    b.from.clone(),
                    b.to.clone(),
                    format!("{}/{}", b.port, b.protocol),
                    b.via.clone(),
                    b.denied_by.join("; "),
                ]);
            }
            if doc.breaks.is_empty() {
                writeln!(
                    out,
                    "{}: no connection possible today would be denied",
                    doc.namespace
                )?;
            } else {
                writeln!(
                    out,
                    "{}: {} connection(s) possible today would be denied:",
                    doc.namespace,
                    doc.breaks.len()
                )?;
                table.write_as(out, styles, format)?;
            }
            writeln!(out, "apply order: {}", doc.apply_order.join(", "))?;
            Ok(())
        }
    }
}
