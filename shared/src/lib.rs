//! The common library of the kubectl-guardrails plugins. Every plugin follows one path —
//! collect an inventory (live or from files) → analyse with named rules → report findings —
//! and this crate owns each step that is not specific to one plugin.

pub mod apply;
pub mod cli;
pub mod cluster;
pub mod collect;
pub mod complete;
pub mod edit;
pub mod error;
pub mod exit_code;
pub mod finding;
pub mod gate;
pub mod inventory;
pub mod manifest;
pub mod parallel;
pub mod preview;
pub mod rbac;
pub mod render;
pub mod run;
pub mod scorecard;
pub mod selector;
pub mod workload;
pub mod yaml_value;
