//! Shell completion for `kubectl <plugin> …`: kubectl (1.26+) runs `kubectl_complete-<plugin>`
//! with the words after the plugin name, the last one being completed, and expects one
//! candidate per line (`value<TAB>description`) then a Cobra directive line (`:4` = no file
//! completion, `:0` = the shell's default, i.e. files). Candidates come from the plugin's clap
//! definition, so they never drift from the real flags.

use std::process::ExitCode;

use clap::{Arg, Command, ValueHint};

const NO_FILE_COMPLETION: &str = ":4";
const DEFAULT_COMPLETION: &str = ":0";

/// The `main` of a `kubectl_complete-*` executable.
pub fn main<C: clap::CommandFactory>() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for line in candidates(C::command(), &args) {
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
pub fn candidates(mut root: Command, args: &[String]) -> Vec<String> {
    root.build();
    let (current, before) = match args.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };
    let mut cmd = &root;
    let mut pending_value = false;
    let mut last_option: Option<&Arg> = None;
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
        }
    }
    let mut out: Vec<String> = Vec::new();
    if let (true, Some(option)) = (pending_value, last_option) {
        let values = option.get_possible_values();
        if values.is_empty() {
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
    }

    #[derive(Subcommand)]
    enum Cmd {
        /// Who can
        WhoCan { verb: String },
        /// What can
        WhatCan,
    }

    fn complete(words: &[&str]) -> Vec<String> {
        candidates(
            <Demo as clap::CommandFactory>::command(),
            &words.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
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
}
