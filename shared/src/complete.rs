//! Shell completion for `kubectl <plugin> …`: kubectl (1.26+) runs `kubectl_complete-<plugin>`
//! with the words after the plugin name, the last one being completed, and expects one
//! candidate per line (`value<TAB>description`) then a Cobra directive line (`:4` = no file
//! completion, `:0` = the shell's default, i.e. files). Subcommands, flags and fixed values come
//! from the plugin's clap definition, so they never drift from the real flags; contexts come
//! from the kubeconfig, and namespaces and ServiceAccounts from the cluster when it answers
//! within a second (a slow or absent cluster just yields no candidates).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, Command, ValueHint};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ListParams};
use kube::config::Kubeconfig;

use crate::cli::ClusterArgs;

const NO_FILE_COMPLETION: &str = ":4";
const DEFAULT_COMPLETION: &str = ":0";
/// Completion runs while the user waits at the prompt.
const LIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Values that are not in the clap definition, found by an argument's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    /// `--context`: the kubeconfig's contexts.
    Contexts,
    /// `--cluster`: the kubeconfig's clusters.
    Clusters,
    /// `--user`: the kubeconfig's users.
    Users,
    /// `-n`: the cluster's namespaces.
    Namespaces,
    /// ServiceAccounts as `NS/NAME`.
    ServiceAccounts,
    /// A subject: `system:serviceaccount:NS:NAME`, or the `user:`/`group:` prefixes.
    Subjects,
    /// An RBAC verb.
    Verbs,
    /// A resource as RBAC names it (`pods/exec`, `deployments.apps`).
    Resources,
}

impl Dynamic {
    fn of(arg: &Arg) -> Option<Dynamic> {
        Some(match arg.get_id().as_str() {
            "context" => Dynamic::Contexts,
            "cluster" => Dynamic::Clusters,
            "user" => Dynamic::Users,
            "namespace" => Dynamic::Namespaces,
            "service_accounts" => Dynamic::ServiceAccounts,
            "subject" => Dynamic::Subjects,
            "verb" => Dynamic::Verbs,
            "resource" => Dynamic::Resources,
            _ => return None,
        })
    }
}

/// Where dynamic values come from (the kubeconfig and the cluster in the real helper).
pub trait ValueSource {
    fn values(&self, kind: Dynamic, words: &[String]) -> Vec<String>;
}

/// Sources nothing: completion from the clap definition alone.
pub struct NoValues;

impl ValueSource for NoValues {
    fn values(&self, _: Dynamic, _: &[String]) -> Vec<String> {
        Vec::new()
    }
}

const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "bind",
    "escalate",
    "approve",
    "use",
    "*",
];

/// The resources the seeds' and our rules ask about most; any other name works too.
const RESOURCES: &[&str] = &[
    "secrets",
    "configmaps",
    "pods",
    "pods/exec",
    "pods/attach",
    "pods/portforward",
    "pods/log",
    "pods/ephemeralcontainers",
    "serviceaccounts",
    "serviceaccounts/token",
    "nodes",
    "nodes/proxy",
    "namespaces",
    "services",
    "persistentvolumes",
    "deployments.apps",
    "daemonsets.apps",
    "statefulsets.apps",
    "jobs.batch",
    "cronjobs.batch",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "networkpolicies.networking.k8s.io",
    "certificatesigningrequests.certificates.k8s.io",
    "certificatesigningrequests.certificates.k8s.io/approval",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "customresourcedefinitions.apiextensions.k8s.io",
];

/// The kubeconfig and the cluster named by the connection flags already typed.
pub struct LiveValues;

impl ValueSource for LiveValues {
    fn values(&self, kind: Dynamic, words: &[String]) -> Vec<String> {
        let args = connection_flags(words);
        match kind {
            Dynamic::Verbs => VERBS.iter().map(|v| v.to_string()).collect(),
            Dynamic::Resources => RESOURCES.iter().map(|v| v.to_string()).collect(),
            Dynamic::Contexts | Dynamic::Clusters | Dynamic::Users => kubeconfig_names(&args, kind),
            Dynamic::Namespaces | Dynamic::ServiceAccounts | Dynamic::Subjects => {
                let namespace = flag_value(words, Some('n'), "namespace");
                let all = words.iter().any(|w| w == "-A" || w == "--all-namespaces");
                let live = live_names(&args, kind, namespace.filter(|_| !all));
                if kind == Dynamic::Subjects {
                    let mut out = live;
                    out.extend(["user:".to_string(), "group:".to_string()]);
                    out
                } else {
                    live
                }
            }
        }
    }
}

/// The value of `--long`/`-s` among `words` (`--long V`, `--long=V`, `-s V`, `-sV`).
fn flag_value(words: &[String], short: Option<char>, long: &str) -> Option<String> {
    let long_flag = format!("--{long}");
    let mut iter = words.iter();
    let mut found = None;
    while let Some(word) = iter.next() {
        if *word == long_flag || short.is_some_and(|s| *word == format!("-{s}")) {
            found = iter.next().cloned();
        } else if let Some(v) = word.strip_prefix(&format!("{long_flag}=")) {
            found = Some(v.to_string());
        } else if let Some(s) = short
            && let Some(v) = word.strip_prefix(&format!("-{s}"))
            && !v.is_empty()
            && !word.starts_with("--")
        {
            found = Some(v.trim_start_matches('=').to_string());
        }
    }
    found
}

fn connection_flags(words: &[String]) -> ClusterArgs {
    ClusterArgs {
        kubeconfig: flag_value(words, None, "kubeconfig").map(Into::into),
        context: flag_value(words, None, "context"),
        cluster: flag_value(words, None, "cluster"),
        user: flag_value(words, None, "user"),
        request_timeout: Some(LIVE_TIMEOUT),
        ..ClusterArgs::default()
    }
}

fn kubeconfig_names(args: &ClusterArgs, kind: Dynamic) -> Vec<String> {
    let read = match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    let Ok(kubeconfig) = read else {
        return Vec::new();
    };
    match kind {
        Dynamic::Contexts => kubeconfig.contexts.into_iter().map(|c| c.name).collect(),
        Dynamic::Clusters => kubeconfig.clusters.into_iter().map(|c| c.name).collect(),
        _ => kubeconfig.auth_infos.into_iter().map(|u| u.name).collect(),
    }
}

fn live_names(args: &ClusterArgs, kind: Dynamic, namespace: Option<String>) -> Vec<String> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let fetch = async {
            let cluster = crate::cluster::connect(args).await.ok()?;
            let params = ListParams::default().limit(500);
            if kind == Dynamic::Namespaces {
                let list = Api::<Namespace>::all(cluster.client)
                    .list_metadata(&params)
                    .await
                    .ok()?;
                return Some(
                    list.items
                        .into_iter()
                        .filter_map(|n| n.metadata.name)
                        .collect(),
                );
            }
            let api = match &namespace {
                Some(ns) => Api::<ServiceAccount>::namespaced(cluster.client, ns),
                None => Api::<ServiceAccount>::all(cluster.client),
            };
            let list = api.list_metadata(&params).await.ok()?;
            Some(
                list.items
                    .into_iter()
                    .filter_map(|sa| {
                        let (ns, name) = (sa.metadata.namespace?, sa.metadata.name?);
                        Some(match kind {
                            Dynamic::Subjects => format!("system:serviceaccount:{ns}:{name}"),
                            _ => format!("{ns}/{name}"),
                        })
                    })
                    .collect(),
            )
        };
        tokio::time::timeout(LIVE_TIMEOUT * 2, fetch)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    })
}

/// The `main` of a `kubectl_complete-*` executable.
pub fn main<C: clap::CommandFactory>() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for line in candidates(C::command(), &args, &LiveValues) {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

fn find_option<'c>(cmd: &'c Command, word: &str) -> Option<&'c Arg> {
    if let Some(long) = word.strip_prefix("--") {
        let long = long.split('=').next().unwrap_or(long);
        return cmd.get_arguments().find(|a| a.get_long() == Some(long));
    }
    let mut chars = word.strip_prefix('-')?.chars();
    let short = chars.next()?;
    cmd.get_arguments().find(|a| a.get_short() == Some(short))
}

/// Completion lines (candidates, then the directive) for `args`.
pub fn candidates(mut root: Command, args: &[String], source: &dyn ValueSource) -> Vec<String> {
    root.build();
    let (current, before) = match args.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let mut cmd = &root;
    let mut pending_value = false;
    let mut last_option: Option<&Arg> = None;
    let mut positionals = 0;
    for word in before {
        if pending_value {
            pending_value = false;
            continue;
        }
        if word.starts_with('-') {
            last_option = find_option(cmd, word);
            pending_value = last_option.is_some_and(|a| takes_value(a) && !word.contains('='));
        } else if let Some(sub) = cmd.find_subcommand(word) {
            cmd = sub;
            positionals = 0;
        } else {
            positionals += 1;
        }
    }
    let mut out: Vec<String> = Vec::new();
    let dynamic = |arg: &Arg| -> Option<Vec<String>> {
        let kind = Dynamic::of(arg)?;
        let mut values: Vec<String> = source
            .values(kind, before)
            .into_iter()
            .filter(|v| v.starts_with(current))
            .collect();
        values.sort();
        values.dedup();
        Some(values)
    };
    if let (true, Some(option)) = (pending_value, last_option) {
        let values = option.get_possible_values();
        if let Some(live) = dynamic(option) {
            out.extend(live);
        } else if values.is_empty() {
            let files = matches!(
                option.get_value_hint(),
                ValueHint::FilePath | ValueHint::AnyPath | ValueHint::DirPath
            ) || option
                .get_long()
                .is_some_and(|l| ["filename", "kubeconfig", "baseline", "exceptions"].contains(&l));
            out.push(
                if files {
                    DEFAULT_COMPLETION
                } else {
                    NO_FILE_COMPLETION
                }
                .to_string(),
            );
            return out;
        }
        for v in values
            .iter()
            .filter(|v| !v.is_hide_set() && v.get_name().starts_with(current))
        {
            out.push(describe(v.get_name(), v.get_help().map(|h| h.to_string())));
        }
    } else if current.starts_with('-') {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .filter(|l| l.starts_with(current))
            {
                out.push(describe(&long, arg.get_help().map(|h| h.to_string())));
            }
        }
    } else {
        let positional = cmd
            .get_positionals()
            .filter(|a| !a.is_hide_set())
            .enumerate()
            .find(|(index, a)| {
                *index == positionals
                    || (*index < positionals
                        && a.get_num_args().is_some_and(|n| n.max_values() > 1))
            })
            .map(|(_, a)| a);
        if let Some(values) = positional.and_then(dynamic) {
            out.extend(values);
        }
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name().starts_with(current))
        {
            if sub.get_name() != "help" {
                out.push(describe(
                    sub.get_name(),
                    sub.get_about().map(|h| h.to_string()),
                ));
            }
        }
        // A file operand (scorecard's REPORT.json…): the shell completes paths.
        if cmd
            .get_positionals()
            .any(|a| matches!(a.get_value_hint(), ValueHint::FilePath | ValueHint::AnyPath))
        {
            out.push(DEFAULT_COMPLETION.to_string());
            return out;
        }
    }
    out.push(NO_FILE_COMPLETION.to_string());
    out
}

fn describe(value: &str, help: Option<String>) -> String {
    match help {
        Some(help) => format!("{value}\t{}", help.lines().next().unwrap_or_default()),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    struct Demo {
        #[command(subcommand)]
        command: Option<Cmd>,
        #[command(flatten)]
        output: crate::cli::OutputArgs,
        #[command(flatten)]
        input: crate::cli::InputArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        scope: crate::cli::ScopeArgs,
    }

    #[derive(Subcommand)]
    enum Cmd {
        /// Who can
        WhoCan {
            verb: String,
            resource: String,
        },
        /// What can
        WhatCan,
        BlastRadius {
            service_accounts: Vec<String>,
        },
    }

    /// Answers each kind with its name, and the namespace flag it was given.
    struct Fixed;

    impl ValueSource for Fixed {
        fn values(&self, kind: Dynamic, words: &[String]) -> Vec<String> {
            let ns = flag_value(words, Some('n'), "namespace").unwrap_or_default();
            vec![format!("{kind:?}-a{ns}"), format!("{kind:?}-b{ns}")]
        }
    }

    fn complete(words: &[&str]) -> Vec<String> {
        candidates(
            <Demo as clap::CommandFactory>::command(),
            &words.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &Fixed,
        )
    }

    #[test]
    fn subcommands_flags_and_values() {
        assert_eq!(
            complete(&["wh"]),
            ["who-can\tWho can", "what-can\tWhat can", ":4"]
        );
        let flags = complete(&["who-can", "--out"]);
        assert!(flags[0].starts_with("--output\t"), "{flags:?}");
        let values = complete(&["-o", ""]);
        assert!(
            values.iter().any(|v| v == "sarif") && values.last().map(String::as_str) == Some(":4"),
            "{values:?}"
        );
        assert_eq!(complete(&["-f", ""]), [":0"], "files complete as files");
    }

    #[test]
    fn dynamic_values_for_flags_and_positionals() {
        assert_eq!(complete(&["--context", "Contexts-b"]), ["Contexts-b", ":4"]);
        assert_eq!(
            complete(&["who-can", "-n", "shop", ""]),
            ["Verbs-ashop", "Verbs-bshop", ":4"],
            "the first positional, after a flag and its value"
        );
        assert_eq!(
            complete(&["who-can", "get", "R"]),
            ["Resources-a", "Resources-b", ":4"]
        );
        assert_eq!(complete(&["who-can", "get", "pods", ""]), [":4"]);
        assert_eq!(
            complete(&["blast-radius", "a/b", "--namespace=x", "S"]),
            ["ServiceAccounts-ax", "ServiceAccounts-bx", ":4"],
            "a repeatable positional keeps completing"
        );
        assert_eq!(
            complete(&["-n", "N"]),
            ["Namespaces-a", "Namespaces-b", ":4"]
        );
    }

    #[test]
    fn flag_values_in_every_spelling() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for typed in [
            &["-n", "shop"][..],
            &["--namespace", "shop"],
            &["--namespace=shop"],
            &["-nshop"],
        ] {
            assert_eq!(
                flag_value(&words(typed), Some('n'), "namespace").as_deref(),
                Some("shop"),
                "{typed:?}"
            );
        }
        assert_eq!(
            flag_value(&words(&["--name", "x"]), Some('n'), "namespace"),
            None
        );
    }
}
