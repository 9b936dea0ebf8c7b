//! `rollout`: moving a namespace to a Pod Security level one stage at a time (warn → audit →
//! enforce). Shows which workloads would violate the level (this plugin's own evaluation) and,
//! live, the API server's answer to a server dry run of the namespace label — the PodSecurity
//! admission's own list of violating pods — then sets the label after a diff and confirmation.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::sync::Arc;

use clap::ValueEnum;
use guardrails::apply::{Action, LiveChange, LiveWriter, apply_all};
use guardrails::cli::OutputFormat;
use guardrails::cli::WriteArgs;
use guardrails::collect::Acquired;
use guardrails::error::{Error, Result};
use guardrails::finding::ObjectRef;
use guardrails::render::{self, Styles};
use serde_json::json;

use crate::check::{CheckOptions, check};
use crate::cli::Families;
use crate::pss::{Level, Version};

/// The PodSecurity admission's label stages, in the order a rollout takes them.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Admit violating pods with a warning to the client
    Warn,
    /// Admit violating pods, with an audit log annotation
    Audit,
    /// Reject violating pods
    Enforce,
}

impl Stage {
    pub fn label(self) -> String {
        let name = match self {
            Stage::Warn => "warn",
            Stage::Audit => "audit",
            Stage::Enforce => "enforce",
        };
        format!("pod-security.kubernetes.io/{name}")
    }
}

/// Whether a namespace label value is the level or a stricter one.
fn covers(value: Option<&String>, level: Level) -> bool {
    match value.map(String::as_str) {
        Some("restricted") => true,
        Some("baseline") => level == Level::Baseline,
        _ => false,
    }
}

pub struct RolloutArgs<'a> {
    pub namespace: &'a str,
    pub level: Level,
    pub version: Option<Version>,
    pub stage: Option<Stage>,
    pub force: bool,
    pub write: &'a WriteArgs,
    pub server_minor: Option<u32>,
    /// `-o json|yaml`: print the evaluation as a `HardenRollout` object and change nothing.
    pub plan_format: Option<OutputFormat>,
}

pub async fn rollout(
    acquired: &Acquired,
    args: &RolloutArgs<'_>,
    out: &mut dyn Write,
    styles: Styles,
) -> Result<()> {
    let inventory = &acquired.inventory;
    let labels = inventory
        .namespace(args.namespace)
        .and_then(|ns| ns.metadata.labels.clone())
        .unwrap_or_default();
    if acquired.cluster.is_some() && inventory.namespace(args.namespace).is_none() {
        return Err(Error::input(
            format!("namespace/{}", args.namespace),
            "no such namespace",
        ));
    }
    // Without --stage: the first stage not yet at the level.
    let stage = args.stage.unwrap_or_else(|| {
        [Stage::Warn, Stage::Audit, Stage::Enforce]
            .into_iter()
            .find(|s| !covers(labels.get(&s.label()), args.level))
            .unwrap_or(Stage::Enforce)
    });

    // Our own evaluation: the workloads (controllers, and pods no controller owns) that the
    // level would reject.
    let scope = guardrails::cluster::NamespaceScope::One(args.namespace.to_string());
    let opts = CheckOptions {
        level: args.level,
        version: args.version,
        families: Families::Pss,
        disabled: HashSet::new(),
        scope: &scope,
        selector: None,
        server_minor: args.server_minor,
    };
    let outcome = check(inventory, &opts)?;
    let mut violations: BTreeMap<ObjectRef, BTreeSet<String>> = BTreeMap::new();
    for f in outcome.findings {
        violations
            .entry(Arc::unwrap_or_clone(f.object))
            .or_default()
            .insert(f.rule.into_owned());
    }
    if let Some(format) = args.plan_format {
        let document = json!({
            "apiVersion": "guardrails/v1",
            "kind": "HardenRollout",
            "namespace": args.namespace,
            "level": args.level.as_str(),
            "stage": stage.label(),
            "currentLabels": labels
                .iter()
                .filter(|(k, _)| k.starts_with("pod-security.kubernetes.io/"))
                .collect::<BTreeMap<_, _>>(),
            "workloads": outcome.workloads,
            "violations": violations
                .iter()
                .map(|(object, rules)| json!({"object": object, "rules": rules}))
                .collect::<Vec<_>>(),
        });
        return match format {
            OutputFormat::Yaml => render::write_yaml(out, &document),
            _ => render::write_json(out, &document),
        };
    }
    writeln!(
        out,
        "{}",
        styles.bold(&format!(
            "Namespace {}: {} {} — {} of {} workload(s) would violate it",
            args.namespace,
            stage.label(),
            args.level,
            violations.len(),
            outcome.workloads
        ))
    )?;
    for (object, rules) in &violations {
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        writeln!(
            out,
            "  {}  {}",
            guardrails::apply::display_ref(object),
            rules.join(", ")
        )?;
    }
    writeln!(out)?;

    let Some(cluster) = &acquired.cluster else {
        writeln!(
            out,
            "(offline: the namespace label is set only on a live cluster)"
        )?;
        return Ok(());
    };
    if stage == Stage::Enforce && !args.force {
        let missing: Vec<String> = [Stage::Warn, Stage::Audit]
            .into_iter()
            .filter(|s| !covers(labels.get(&s.label()), args.level))
            .map(|s| s.label())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage(format!(
                "namespace {}: set {} to {} before enforcing (or --force)",
                args.namespace,
                missing.join(" and "),
                args.level
            )));
        }
    }
    let change = LiveChange {
        target: ObjectRef::new("v1", "Namespace", None, args.namespace),
        action: Action::MergePatch(
            json!({"metadata": {"labels": {stage.label(): args.level.as_str()}}}),
        ),
        reason: format!("Pod Security {} {}", stage.label(), args.level),
    };
    let writer = LiveWriter::new(cluster, "kubectl-harden");
    apply_all(&writer, vec![change], args.write, out, styles).await?;
    Ok(())
}
