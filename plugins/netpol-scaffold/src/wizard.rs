//! `scaffold -n NS` on a terminal without `--yes`: the same proposals, offered one question at
//! a time, each with a safe default. The answers fill in the [`ScaffoldOptions`] the flags
//! would; a flag given on the command line answers its question, so that question is skipped.
//! Prompts go to stderr (dialoguer's terminal), so stdout carries only the YAML.

use std::collections::BTreeMap;
use std::path::PathBuf;

use guardrails::error::{Error, Result};

use crate::infra;
use crate::model::Model;
use crate::scaffold::{self, Edge, PortChoice, ScaffoldOptions};

/// Where the proposals go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// YAML on stdout.
    Print,
    /// One file per policy in a directory.
    Dir(PathBuf),
    /// Created on the live cluster through `--apply`'s preview/confirm flow.
    Apply,
}

/// The choices of one run: the options, whether to keep the default deny, and the output.
#[derive(Debug, Clone)]
pub struct Answers {
    pub opts: ScaffoldOptions,
    pub default_deny: bool,
    pub output: Output,
}

/// Whether the wizard runs: not with `--yes`, and only with a terminal to ask on (the
/// convention of `guardrails::preview::confirm`).
pub fn wanted(yes: bool) -> bool {
    !yes && guardrails::preview::on_terminal()
}

fn aborted(e: dialoguer::Error) -> Error {
    Error::NotConfirmed(format!("scaffold wizard stopped: {e}"))
}

fn confirm(prompt: &str, default: bool) -> Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .interact()
        .map_err(aborted)
}

fn labels(l: &BTreeMap<String, String>) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `shop/app=checkout -> payments/app=payments-api on http-api/TCP`.
pub fn describe_edge(edge: &Edge) -> String {
    let port = match &edge.port {
        PortChoice::Number(n) => n.to_string(),
        PortChoice::Named(n) => n.clone(),
    };
    format!(
        "{}/{} -> {}/{} on {port}/{}",
        edge.from.0,
        labels(&edge.from.1),
        edge.to.0,
        labels(&edge.to.1),
        edge.protocol.as_str()
    )
}

/// Asks what the flags in `given` leave open. `live`: a cluster to apply to (not `-f`).
pub fn ask(
    model: &mut Model,
    given: ScaffoldOptions,
    out_dir: Option<PathBuf>,
    apply: bool,
    live: bool,
) -> Result<Answers> {
    let mut opts = given;
    let ns = opts.namespace.clone();
    eprintln!(
        "Scaffolding NetworkPolicies for namespace {ns} (answer each question; Enter keeps the default)."
    );

    let default_deny = confirm(
        &format!(
            "Deny all ingress and egress in {ns} not allowed by another policy (default-deny)?"
        ),
        true,
    )?;

    if !opts.allow_dns {
        let dns = infra::find_dns(model);
        opts.allow_dns = confirm(
            &format!(
                "Allow every pod in {ns} to reach the cluster DNS ({}) on UDP and TCP?",
                dns.describe()
            ),
            true,
        )?;
    }

    if opts.ingress_from.is_none() {
        match scaffold::find_ingress_controller(model) {
            Some((ctrl_ns, _, name)) => {
                let workloads = scaffold::exposable_workloads(model, &ns);
                if !workloads.is_empty() {
                    // Nothing checked by default: only what is meant to face the internet.
                    let checked: Vec<bool> =
                        workloads.iter().map(|w| opts.expose.contains(w)).collect();
                    let chosen = dialoguer::MultiSelect::new()
                        .with_prompt(format!(
                            "Which workloads may the ingress controller {name} ({ctrl_ns}) reach? (space toggles, Enter accepts)"
                        ))
                        .items(&workloads)
                        .defaults(&checked)
                        .interact()
                        .map_err(aborted)?;
                    if !chosen.is_empty() {
                        opts.ingress_from = Some("auto".into());
                        opts.expose = chosen.iter().map(|&i| workloads[i].clone()).collect();
                    }
                }
            }
            None => eprintln!("No ingress controller found: no ingress allow to offer."),
        }
    }

    if !opts.infer {
        opts.infer = true;
        for edge in scaffold::infer_edges(model, &model.env_values, &ns) {
            let keep = confirm(
                &format!("Allow {} ({})?", describe_edge(&edge), edge.why),
                true,
            )?;
            if !keep {
                opts.declined.push(edge);
            }
        }
    }

    let output = match (out_dir, apply) {
        (Some(dir), _) => Output::Dir(dir),
        (None, true) => Output::Apply,
        (None, false) => {
            let mut items = vec![
                "print the YAML".to_string(),
                "write one file per policy into a directory".to_string(),
            ];
            if live {
                items.push("apply to the cluster (preview, then confirm)".to_string());
            }
            let pick = dialoguer::Select::new()
                .with_prompt("Output")
                .items(&items)
                .default(0)
                .interact()
                .map_err(aborted)?;
            match pick {
                0 => Output::Print,
                1 => Output::Dir(PathBuf::from(
                    dialoguer::Input::<String>::new()
                        .with_prompt("Directory")
                        .default(format!("netpol-{ns}"))
                        .interact_text()
                        .map_err(aborted)?,
                )),
                _ => Output::Apply,
            }
        }
    };
    Ok(Answers {
        opts,
        default_deny,
        output,
    })
}
