//! `who-can` and `what-can`: RBAC questions answered for everyone at once, each answer with
//! the binding → role → rule (← aggregated-from) that grants it.

use std::collections::BTreeSet;

use guardrails::cli::OutputFormat;
use guardrails::error::{Error, Result};
use guardrails::render::{Styles, Table, write_json, write_yaml};
use k8s_openapi::api::rbac::v1::Subject;
use serde_json::{Value, json};

use crate::authz::{Grant, Identity, RbacModel, Request, Scope, split_service_account_username};
use crate::exposure::{chain_text, grant_json, rule_json, subject_json};

/// Resources that exist only at cluster scope: RoleBindings can never grant them, so a
/// namespace given with `-n` does not apply.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "storageclasses",
    "customresourcedefinitions",
    "certificatesigningrequests",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "priorityclasses",
    "csidrivers",
    "csinodes",
    "volumeattachments",
    "runtimeclasses",
    "ingressclasses",
    "apiservices",
    "tokenreviews",
    "subjectaccessreviews",
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "componentstatuses",
    "flowschemas",
    "prioritylevelconfigurations",
];

const NOTE_MASTERS: &str = "members of group system:masters can do anything without RBAC; other authorizers (Node, webhooks) are not modelled";

/// The answer to `who-can`: each subject with the grants that allow the request.
pub struct WhoCan<'m> {
    pub request: Request,
    pub name: Option<String>,
    /// `None` for cluster-scoped resources, URLs, and `-A`.
    pub namespace: Option<String>,
    pub subjects: Vec<(Subject, Vec<&'m Grant<'m>>)>,
}

/// `who-can VERB RESOURCE [NAME]` in a namespace, at cluster scope, or (`namespace: None`)
/// in any namespace.
pub fn who_can<'m>(
    model: &'m RbacModel,
    verb: &str,
    resource: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<WhoCan<'m>> {
    let base = Request::parse_resource(verb, resource, name, None).map_err(Error::Usage)?;
    let cluster_scoped =
        CLUSTER_SCOPED.contains(&base.resource.as_str()) || !base.is_resource_request();
    // The namespaces to ask about: one, or every namespace some RoleBinding covers.
    let namespaces: Vec<Option<String>> = match (namespace, cluster_scoped) {
        (_, true) => vec![None],
        (Some(ns), false) => vec![Some(ns.to_string())],
        (None, false) => {
            let mut set: BTreeSet<Option<String>> = BTreeSet::from([None]);
            for g in model.grants() {
                if let Scope::Namespace(ns) = &g.scope {
                    set.insert(Some(ns.clone()));
                }
            }
            set.into_iter().collect()
        }
    };
    let mut subjects: Vec<(Subject, Vec<&Grant>)> = Vec::new();
    for ns in &namespaces {
        let mut req = base.clone();
        if let Some(ns) = ns {
            req = req.in_namespace(ns);
        }
        for found in model.who_can(&req) {
            match subjects.iter_mut().find(|(s, _)| *s == found.subject) {
                Some((_, grants)) => {
                    for g in found.grants {
                        if !grants.iter().any(|x| std::ptr::eq(*x, g)) {
                            grants.push(g);
                        }
                    }
                }
                None => subjects.push((found.subject, found.grants)),
            }
        }
    }
    subjects.sort_by(|(a, _), (b, _)| {
        (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name))
    });
    Ok(WhoCan {
        request: base,
        name: name.map(Into::into),
        namespace: if cluster_scoped {
            None
        } else {
            namespace.map(Into::into)
        },
        subjects,
    })
}

impl WhoCan<'_> {
    /// The contract's `WhoCan` document.
    pub fn to_json(&self) -> Value {
        let req = &self.request;
        json!({
            "kind": "WhoCan",
            "verb": req.verb,
            "resource": if req.is_resource_request() { json!(req.resource) } else { json!(req.non_resource_url) },
            "apiGroup": req.api_group,
            "subresource": req.subresource,
            "name": self.name,
            "namespace": self.namespace,
            "subjects": self.subjects.iter().map(|(s, grants)| {
                let mut v = subject_json(s, s.namespace.as_deref());
                v["grants"] = grants.iter().map(|g| grant_json(g)).collect();
                v
            }).collect::<Vec<_>>(),
            "notes": [NOTE_MASTERS],
        })
    }

    pub fn write(
        &self,
        out: &mut dyn std::io::Write,
        format: OutputFormat,
        styles: Styles,
    ) -> Result<()> {
        match format {
            OutputFormat::Json | OutputFormat::Sarif => return write_json(out, &self.to_json()),
            OutputFormat::Yaml => return write_yaml(out, &self.to_json()),
            OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {}
        }
        if self.subjects.is_empty() {
            writeln!(out, "No subject is allowed to do this by RBAC.")?;
        } else {
            let wide = format == OutputFormat::Wide;
            let mut headers = vec!["KIND", "SUBJECT", "SCOPE", "VIA"];
            if wide {
                headers.push("RULE");
            }
            let mut table = Table::new(&headers);
            for (subject, grants) in &self.subjects {
                for g in grants {
                    let name = match &subject.namespace {
                        Some(ns) => format!("{ns}/{}", subject.name),
                        None => subject.name.clone(),
                    };
                    let mut row = vec![
                        subject.kind.clone(),
                        name,
                        scope_cell(&g.scope),
                        chain_text(g),
                    ];
                    if wide {
                        row.push(rule_json(g).to_string());
                    }
                    table.row(row);
                }
            }
            table.write_as(out, styles, format)?;
        }
        writeln!(out, "{}", styles.dim(&format!("\nNote: {NOTE_MASTERS}.")))?;
        Ok(())
    }
}

fn scope_cell(scope: &Scope) -> String {
    match scope {
        Scope::Cluster => "cluster".into(),
        Scope::Namespace(ns) => ns.clone(),
    }
}

/// The identity behind a `what-can` SUBJECT argument.
pub fn parse_subject(arg: &str) -> Result<(Identity, Subject)> {
    let usage = || {
        Error::Usage(format!(
            "invalid subject {arg:?}: use system:serviceaccount:NS:NAME, serviceaccount:NS/NAME, user:NAME or group:NAME"
        ))
    };
    let subject = |kind: &str, name: &str, ns: Option<&str>| Subject {
        kind: kind.into(),
        name: name.into(),
        namespace: ns.map(Into::into),
        api_group: None,
    };
    if let Some((ns, name)) = split_service_account_username(arg) {
        return Ok((
            Identity::service_account(ns, name),
            subject("ServiceAccount", name, Some(ns)),
        ));
    }
    let (prefix, rest) = arg.split_once(':').ok_or_else(usage)?;
    match prefix.to_ascii_lowercase().as_str() {
        "serviceaccount" | "sa" => {
            let (ns, name) = rest
                .split_once('/')
                .or_else(|| rest.split_once(':'))
                .ok_or_else(usage)?;
            if ns.is_empty() || name.is_empty() {
                return Err(usage());
            }
            Ok((
                Identity::service_account(ns, name),
                subject("ServiceAccount", name, Some(ns)),
            ))
        }
        "user" if !rest.is_empty() => match split_service_account_username(rest) {
            Some((ns, name)) => Ok((
                Identity::service_account(ns, name),
                subject("ServiceAccount", name, Some(ns)),
            )),
            None if rest == crate::authz::ANONYMOUS_USER => {
                Ok((Identity::anonymous(), subject("User", rest, None)))
            }
            None => Ok((
                Identity::user(rest, Vec::new()),
                subject("User", rest, None),
            )),
        },
        // A group's own grants: what membership in it adds.
        "group" if !rest.is_empty() => Ok((
            Identity::new("", vec![rest.to_string()]),
            subject("Group", rest, None),
        )),
        _ => Err(usage()),
    }
}

/// `what-can SUBJECT`: the subject's effective rules (direct and through its groups).
pub fn what_can(
    model: &RbacModel,
    subject_arg: &str,
    extra_groups: &[String],
    namespace: Option<&str>,
    out: &mut dyn std::io::Write,
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    let (mut identity, subject) = parse_subject(subject_arg)?;
    for group in extra_groups {
        if !identity.groups.contains(group) {
            identity.groups.push(group.clone());
        }
    }
    let grants = model.rules_for(&identity, namespace);
    // One entry per distinct (scope, rule); several bindings may grant the same rule.
    let mut rules: Vec<(
        Option<String>,
        &k8s_openapi::api::rbac::v1::PolicyRule,
        Vec<&Grant>,
    )> = Vec::new();
    for g in &grants {
        let ns = match &g.scope {
            Scope::Cluster => None,
            Scope::Namespace(ns) => Some(ns.clone()),
        };
        match rules
            .iter_mut()
            .find(|(n, r, _)| *n == ns && **r == *g.rule)
        {
            Some((_, _, list)) => list.push(g),
            None => rules.push((ns, g.rule, vec![g])),
        }
    }
    let document = json!({
        "kind": "WhatCan",
        "subject": subject_json(&subject, subject.namespace.as_deref()),
        "groups": identity.groups,
        "namespace": namespace,
        "rules": rules.iter().map(|(ns, rule, grants)| json!({
            "namespace": ns,
            "apiGroups": rule.api_groups.clone().unwrap_or_default(),
            "resources": rule.resources.clone().unwrap_or_default(),
            "verbs": rule.verbs,
            "resourceNames": rule.resource_names.clone().unwrap_or_default(),
            "nonResourceURLs": rule.non_resource_urls.clone().unwrap_or_default(),
            "grants": grants.iter().map(|g| grant_json(g)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "notes": [NOTE_MASTERS],
    });
    match format {
        OutputFormat::Json | OutputFormat::Sarif => write_json(out, &document),
        OutputFormat::Yaml => write_yaml(out, &document),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            if rules.is_empty() {
                writeln!(
                    out,
                    "{} {} has no RBAC rights in this scope.",
                    subject.kind, subject.name
                )?;
                if subject.kind == "User" && extra_groups.is_empty() {
                    // RBAC never sees group membership: it comes from the authenticator.
                    writeln!(
                        out,
                        "A user's groups are not known to RBAC; name them with --group."
                    )?;
                }
                return Ok(());
            }
            let mut table = Table::new(&[
                "SCOPE",
                "VERBS",
                "API GROUPS",
                "RESOURCES",
                "NAMES/URLS",
                "VIA",
            ]);
            for (ns, rule, grants) in &rules {
                let list = |v: &Option<Vec<String>>| {
                    v.as_ref()
                        .filter(|v| !v.is_empty())
                        .map(|v| {
                            v.iter()
                                .map(|s| {
                                    if s.is_empty() {
                                        "\"\"".to_string()
                                    } else {
                                        s.clone()
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_else(|| "-".into())
                };
                let names = match (&rule.resource_names, &rule.non_resource_urls) {
                    (Some(n), _) if !n.is_empty() => n.join(","),
                    (_, Some(u)) if !u.is_empty() => u.join(","),
                    _ => "-".into(),
                };
                let via: Vec<String> = grants.iter().map(|g| chain_text(g)).collect();
                let row = vec![
                    ns.clone().unwrap_or_else(|| "cluster".into()),
                    rule.verbs.join(","),
                    list(&rule.api_groups),
                    list(&rule.resources),
                    names,
                    via.join("; "),
                ];
                table.row(row);
            }
            table.write_as(out, styles, format)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_in_every_spelling() {
        let (id, s) = parse_subject("system:serviceaccount:shop:checkout").expect("sa");
        assert_eq!(id.user, "system:serviceaccount:shop:checkout");
        assert!(
            id.groups
                .contains(&"system:serviceaccounts:shop".to_string())
        );
        assert_eq!(
            (s.kind.as_str(), s.namespace.as_deref()),
            ("ServiceAccount", Some("shop"))
        );
        assert_eq!(parse_subject("sa:shop/checkout").expect("sa").0, id);
        assert_eq!(parse_subject("user:alice").expect("user").0.user, "alice");
        assert_eq!(
            parse_subject("group:developers").expect("group").0.groups,
            ["developers"]
        );
        assert!(parse_subject("alice").is_err());
        assert!(parse_subject("sa:shop").is_err());
    }
}
