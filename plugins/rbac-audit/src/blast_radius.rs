//! `blast-radius`: per ServiceAccount, what an attacker gains by compromising a pod that runs
//! with it — its rights (direct and through groups), the workloads that actually mount its
//! token, and (live) the nodes those pods run on. Ranked worst first.

use std::collections::BTreeMap;

use guardrails::cli::OutputFormat;
use guardrails::cluster::NamespaceScope;
use guardrails::error::{Error, Result};
use guardrails::finding::Severity;
use guardrails::inventory::Inventory;
use guardrails::render::{Styles, Table, write_json, write_yaml};
use guardrails::workload::{TokenMount, token_mount};
use serde::Serialize;
use serde_json::Value;

use crate::authz::{Identity, RbacModel, split_service_account_username};
use crate::exposure::{self, hit_json};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountedWorkload {
    pub object: guardrails::finding::ObjectRef,
    pub token_mount: TokenMount,
    /// Pods running it now (live); the token sits in each.
    pub pods: usize,
    pub nodes: Vec<String>,
    /// A DaemonSet puts the token on every node.
    pub on_every_node: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub namespace: String,
    pub name: String,
    /// The worst capability; `null` when the ServiceAccount holds no risky right.
    pub risk: Option<Severity>,
    pub capabilities: Vec<Value>,
    pub workloads: Vec<MountedWorkload>,
    /// Workloads that use the ServiceAccount without a token mounted.
    pub unmounted_workloads: usize,
    pub nodes: Vec<String>,
    /// False when workloads or bindings name a ServiceAccount that is not in the inventory.
    pub exists: bool,
}

fn parse_selection(arg: &str) -> Result<(String, String)> {
    if let Some((ns, name)) = split_service_account_username(arg) {
        return Ok((ns.into(), name.into()));
    }
    match arg.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => Ok((ns.into(), name.into())),
        _ => Err(Error::Usage(format!(
            "invalid ServiceAccount {arg:?}: use NS/NAME or system:serviceaccount:NS:NAME"
        ))),
    }
}

pub fn compute(
    inventory: &Inventory,
    model: &RbacModel,
    scope: &NamespaceScope,
    selection: &[String],
    selector: Option<&guardrails::selector::LabelQuery>,
) -> Result<Vec<Entry>> {
    let wanted: Vec<(String, String)> = selection
        .iter()
        .map(|s| parse_selection(s))
        .collect::<Result<_>>()?;
    // Every ServiceAccount in scope, plus ones that workloads use but that do not exist.
    let mut accounts: BTreeMap<(String, String), bool> = BTreeMap::new();
    for sa in &inventory.service_accounts {
        let ns = sa.metadata.namespace.clone().unwrap_or_default();
        accounts.insert((ns, sa.metadata.name.clone().unwrap_or_default()), true);
    }
    let workloads = inventory.workloads()?;
    for w in &workloads {
        accounts
            .entry((
                w.namespace().to_string(),
                w.service_account_name().to_string(),
            ))
            .or_insert(false);
    }
    for key in &wanted {
        accounts.entry(key.clone()).or_insert(false);
    }
    // Workloads by the ServiceAccount they run as, so each account's are found at once.
    let mut by_account: BTreeMap<(&str, &str), Vec<&guardrails::workload::Workload<'_>>> =
        BTreeMap::new();
    for w in &workloads {
        by_account
            .entry((w.namespace(), w.service_account_name()))
            .or_default()
            .push(w);
    }
    let mut entries = Vec::new();
    let mut cache = exposure::RuleCapabilities::default();
    let namespaces_known = !inventory.namespaces.is_empty();
    for ((ns, name), mut exists) in accounts {
        // Every namespace has a `default` ServiceAccount, even when the manifests omit it.
        if name == "default" && (!namespaces_known || inventory.namespace(&ns).is_some()) {
            exists = true;
        }
        let selected = if wanted.is_empty() {
            scope.includes(Some(&ns))
        } else {
            wanted.contains(&(ns.clone(), name.clone()))
        };
        // `-l` selects ServiceAccounts by their labels.
        let labelled = selector.is_none_or(|q| {
            let labels = inventory
                .service_account(&ns, &name)
                .and_then(|sa| sa.metadata.labels.clone());
            q.matches(&labels.unwrap_or_default())
        });
        if !selected || !labelled {
            continue;
        }
        let grants = model.rules_for(&Identity::service_account(&ns, &name), None);
        let hits = exposure::capabilities(&grants, &mut cache);
        let sa = inventory.service_account(&ns, &name);
        let mut mounted = Vec::new();
        let mut unmounted = 0;
        for w in by_account
            .get(&(ns.as_str(), name.as_str()))
            .into_iter()
            .flatten()
        {
            let mount = token_mount(&w.pod_spec, sa);
            if mount.is_mounted() {
                mounted.push(MountedWorkload {
                    object: w.object.clone(),
                    token_mount: mount,
                    pods: w.pod_count,
                    nodes: w.node_names().into_iter().map(String::from).collect(),
                    on_every_node: w.object.kind == "DaemonSet",
                });
            } else {
                unmounted += 1;
            }
        }
        let mut nodes: Vec<String> = mounted
            .iter()
            .flat_map(|m| m.nodes.iter().cloned())
            .collect();
        nodes.sort();
        nodes.dedup();
        entries.push(Entry {
            risk: hits.first().map(|h| h.severity),
            capabilities: hits.iter().map(hit_json).collect(),
            namespace: ns,
            name,
            workloads: mounted,
            unmounted_workloads: unmounted,
            nodes,
            exists,
        });
    }
    // Worst rights first; among equals, the one whose token sits in more places.
    entries.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then_with(|| {
                b.workloads
                    .iter()
                    .any(|w| w.on_every_node)
                    .cmp(&a.workloads.iter().any(|w| w.on_every_node))
            })
            .then_with(|| b.workloads.len().cmp(&a.workloads.len()))
            .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    });
    Ok(entries)
}

pub fn write(
    out: &mut dyn std::io::Write,
    entries: &[Entry],
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    let document = serde_json::json!({ "kind": "BlastRadius", "serviceAccounts": entries });
    match format {
        OutputFormat::Json | OutputFormat::Sarif => write_json(out, &document),
        OutputFormat::Yaml => write_yaml(out, &document),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            if entries.is_empty() {
                writeln!(out, "No ServiceAccounts in scope.")?;
                return Ok(());
            }
            let wide = format == OutputFormat::Wide;
            let mut headers = vec![
                "RISK",
                "SERVICEACCOUNT",
                "RIGHTS",
                "TOKEN MOUNTED IN",
                "NODES",
            ];
            if wide {
                headers.push("UNMOUNTED");
            }
            let mut table = Table::new(&headers);
            for e in entries {
                let risk = match e.risk {
                    Some(sev) => styles.severity(sev),
                    None => styles.dim("NONE"),
                };
                let rights: Vec<&str> = e
                    .capabilities
                    .iter()
                    .filter_map(|c| c["rule"].as_str())
                    .collect();
                let mut workloads: Vec<String> = e
                    .workloads
                    .iter()
                    .map(|w| {
                        format!(
                            "{}/{}{}",
                            w.object.kind,
                            w.object.name,
                            if w.on_every_node { " (every node)" } else { "" }
                        )
                    })
                    .collect();
                if !wide && workloads.len() > 3 {
                    let more = workloads.len() - 3;
                    workloads.truncate(3);
                    workloads.push(format!("+{more} more"));
                }
                let nodes = if wide {
                    e.nodes.join(",")
                } else {
                    e.nodes.len().to_string()
                };
                let mut row = vec![
                    risk,
                    format!(
                        "{}/{}{}",
                        e.namespace,
                        e.name,
                        if e.exists { "" } else { " (missing)" }
                    ),
                    if rights.is_empty() {
                        "-".into()
                    } else {
                        rights.join(",")
                    },
                    if workloads.is_empty() {
                        "-".into()
                    } else {
                        workloads.join(", ")
                    },
                    if e.nodes.is_empty() {
                        "-".into()
                    } else {
                        nodes
                    },
                ];
                if wide {
                    row.push(e.unmounted_workloads.to_string());
                }
                table.row(row);
            }
            table.write_as(out, styles, format)
        }
    }
}
