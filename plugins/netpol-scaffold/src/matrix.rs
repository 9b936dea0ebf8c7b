//! `matrix`: who can open connections to whom, on which ports. Pods that NetworkPolicy cannot
//! tell apart (same namespace, labels, ports, hostNetwork; plus node for hostNetwork pods and
//! the ipBlocks holding their IP) form one endpoint, so a Deployment's replicas are evaluated once.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use guardrails::error::Result;
use guardrails::finding::ObjectRef;
use guardrails::render::{self, Styles, Table};

use crate::cli::MatrixFormat;
use crate::evaluate::{Endpoint, Evaluator, Special};
use crate::model::Model;
use crate::policy::Peer;
use crate::ports::PortSet;

/// A group of indistinguishable pods.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixEndpoint {
    pub name: String,
    pub namespace: String,
    pub workload: ObjectRef,
    pub pods: Vec<String>,
    #[serde(skip)]
    members: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Cell {
    /// Every port and protocol.
    All,
    /// Some ports.
    Partial,
    /// Nothing.
    None,
    /// hostNetwork involved: the CNI decides.
    Depends,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixConnection {
    pub from: usize,
    pub to: usize,
    pub verdict: Cell,
    /// `["all"]` or `TCP/80`, `UDP/53`, `TCP/1000-2000`, …
    pub allowed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    pub endpoints: Vec<MatrixEndpoint>,
    /// Pairs with anything allowed (or CNI-dependent); a pair not listed is denied.
    pub connections: Vec<MatrixConnection>,
}

/// Groups the pods `include` accepts into endpoints.
pub fn endpoints(model: &Model, include: &dyn Fn(usize) -> bool) -> Vec<MatrixEndpoint> {
    // Two pods are told apart by ipBlocks only if different ipBlocks hold their addresses.
    let blocks: Vec<&Peer> = model
        .policies
        .iter()
        .flat_map(|p| [&p.ingress, &p.egress])
        .flatten()
        .flatten()
        .flat_map(|r| r.peers.iter())
        .filter(|peer| matches!(peer, Peer::IpBlock { .. }))
        .collect();
    type Key<'a> = (
        &'a str,
        &'a std::collections::BTreeMap<String, String>,
        usize,
        bool,
        Option<&'a str>,
        Vec<u32>,
    );
    let mut index: HashMap<Key<'_>, usize> = HashMap::new();
    let mut groups: Vec<MatrixEndpoint> = Vec::new();
    let mut per_workload: HashMap<&ObjectRef, usize> = HashMap::new();
    for (i, pod) in model.pods.iter().enumerate() {
        if !include(i) {
            continue;
        }
        let in_blocks: Vec<u32> = match pod.ip {
            Some(ip) => (0..blocks.len() as u32)
                .filter(|&b| blocks[b as usize].matches_ip(ip))
                .collect(),
            None => Vec::new(),
        };
        let key: Key<'_> = (
            pod.namespace.as_str(),
            &pod.labels,
            pod.ports,
            pod.host_network,
            pod.node.as_deref().filter(|_| pod.host_network),
            in_blocks,
        );
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(MatrixEndpoint {
                name: String::new(),
                namespace: pod.namespace.clone(),
                workload: pod.workload.clone(),
                pods: Vec::new(),
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].pods.push(pod.name.clone());
        groups[g].members.push(i);
        *per_workload.entry(&pod.workload).or_default() += 1;
    }
    for g in &mut groups {
        let whole = per_workload.get(&g.workload) == Some(&g.members.len());
        g.name = if whole {
            format!("{}/{}", g.namespace, g.workload.name)
        } else {
            format!("{}/{}", g.namespace, g.pods[0])
        };
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups
}

pub fn compute(ev: &Evaluator<'_>, endpoints: Vec<MatrixEndpoint>) -> Matrix {
    let mut connections = Vec::new();
    for (i, from) in endpoints.iter().enumerate() {
        let src = from.members[0];
        for (j, to) in endpoints.iter().enumerate() {
            // Within one endpoint: one pod to another of the group (loopback if it is alone).
            let dst = if i == j {
                to.members.get(1).copied().unwrap_or(src)
            } else {
                to.members[0]
            };
            let special = ev.special(&Endpoint::Pod(src), &Endpoint::Pod(dst));
            let ports = || ev.allowed_between(src, dst).unwrap_or_else(PortSet::all);
            let (verdict, allowed) = match special {
                Some(Special::Loopback | Special::OwnNode) => (Cell::All, PortSet::all()),
                Some(Special::HostNetwork) => (Cell::Depends, ports()),
                None => {
                    let allowed = ports();
                    if allowed.is_empty() {
                        continue;
                    }
                    let cell = if allowed.is_all() {
                        Cell::All
                    } else {
                        Cell::Partial
                    };
                    (cell, allowed)
                }
            };
            let allowed = if allowed.is_all() {
                vec!["all".to_string()]
            } else {
                allowed.describe()
            };
            connections.push(MatrixConnection {
                from: i,
                to: j,
                verdict,
                allowed,
            });
        }
    }
    Matrix {
        endpoints,
        connections,
    }
}

#[derive(Serialize)]
struct MatrixDocument<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    matrix: &'a Matrix,
}

pub fn write(out: &mut dyn Write, m: &Matrix, format: MatrixFormat, styles: Styles) -> Result<()> {
    match format {
        MatrixFormat::Json => render::write_json(
            out,
            &MatrixDocument {
                api_version: "guardrails/v1",
                kind: "ConnectivityMatrix",
                matrix: m,
            },
        ),
        MatrixFormat::Yaml => render::write_yaml(
            out,
            &MatrixDocument {
                api_version: "guardrails/v1",
                kind: "ConnectivityMatrix",
                matrix: m,
            },
        ),
        MatrixFormat::Table => write_grid(out, m, styles),
        MatrixFormat::Wide | MatrixFormat::Markdown => {
            let mut table = Table::new(&["FROM", "TO", "ALLOWED"]);
            for c in &m.connections {
                let allowed = match c.verdict {
                    Cell::Depends => {
                        format!("depends on CNI (policies allow {})", c.allowed.join(","))
                    }
                    _ => c.allowed.join(","),
                };
                table.row(vec![
                    m.endpoints[c.from].name.clone(),
                    m.endpoints[c.to].name.clone(),
                    allowed,
                ]);
            }
            if format == MatrixFormat::Markdown {
                table.write_markdown(out)
            } else {
                table.write(out, styles)
            }
        }
        MatrixFormat::Dot => write_dot(out, m),
    }
}

/// The grid, streamed row by row (a 5,000-endpoint grid has 25 million cells: no table of
/// strings), in the shared tables' style: upper-case headers, columns three spaces apart.
fn write_grid(out: &mut dyn Write, m: &Matrix, styles: Styles) -> Result<()> {
    let n = m.endpoints.len();
    let mut cells = vec![b'.'; n * n];
    for c in &m.connections {
        cells[c.from * n + c.to] = match c.verdict {
            Cell::All => b'A',
            Cell::Partial => b'P',
            Cell::Depends => b'?',
            Cell::None => b'.',
        };
    }
    let width = n.to_string().len();
    let index_width = width.max(1);
    let name_width = m
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .chain(std::iter::once("FROM \\ TO".len()))
        .max()
        .unwrap_or(0);
    let mut line = format!("{:<index_width$}   {:<name_width$}", "#", "FROM \\ TO");
    for i in 1..=n {
        line.push_str(&format!("   {i:>width$}"));
    }
    writeln!(out, "{}", line.trim_end())?;
    for (i, e) in m.endpoints.iter().enumerate() {
        let mut line = format!("{:<index_width$}   {:<name_width$}", i + 1, e.name);
        for &c in &cells[i * n..(i + 1) * n] {
            if !styles.color {
                line.extend(std::iter::repeat_n(' ', 3 + width - 1));
                line.push(c as char);
                continue;
            }
            let text = format!("{:>width$}", c as char);
            line.push_str("   ");
            line.push_str(&match c {
                b'A' => styles.paint(&text, owo_colors::Style::new().green()),
                b'?' => styles.paint(&text, owo_colors::Style::new().yellow()),
                b'.' => styles.dim(&text),
                _ => text,
            });
        }
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "\nA = all ports, P = some ports (-o wide lists them), . = nothing, ? = depends on the CNI (hostNetwork)"
    )?;
    Ok(())
}

fn write_dot(out: &mut dyn Write, m: &Matrix) -> Result<()> {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    writeln!(out, "digraph connectivity {{")?;
    writeln!(out, "  rankdir=LR;\n  node [shape=box];")?;
    let mut namespaces: Vec<&str> = m.endpoints.iter().map(|e| e.namespace.as_str()).collect();
    namespaces.dedup();
    for (k, ns) in namespaces.iter().enumerate() {
        writeln!(out, "  subgraph cluster_{k} {{\n    label={};", quote(ns))?;
        for (i, e) in m.endpoints.iter().enumerate() {
            if e.namespace == *ns {
                writeln!(out, "    n{i} [label={}];", quote(&e.name))?;
            }
        }
        writeln!(out, "  }}")?;
    }
    for c in &m.connections {
        if c.from == c.to {
            continue;
        }
        let style = if c.verdict == Cell::Depends {
            ", style=dashed"
        } else {
            ""
        };
        writeln!(
            out,
            "  n{} -> n{} [label={}{style}];",
            c.from,
            c.to,
            quote(&c.allowed.join(","))
        )?;
    }
    writeln!(out, "}}")?;
    Ok(())
}
