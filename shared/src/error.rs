//! One error type for the whole suite, mapped onto the documented exit codes.
//! Messages are single lines that name the file, document or object at fault.

use crate::exit_code;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad flag value discovered after clap parsing (e.g. an unparsable subject).
    #[error("{0}")]
    Usage(String),

    /// A manifest or input file that cannot be read or understood.
    #[error("{location}: {message}")]
    Input { location: String, message: String },

    /// No usable kubeconfig / context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),

    /// The cluster could not be reached or refused our credentials.
    #[error("cluster {server}: {message}")]
    Cluster { server: String, message: String },

    /// Some lists were forbidden and `--require-complete` was given.
    #[error(
        "incomplete read access ({0}); rerun without --require-complete to get a partial report"
    )]
    Incomplete(String),

    /// A write the cluster (or the file system) refused or that failed; what was already
    /// written is named in the message.
    #[error("{object}: {message}")]
    Write { object: String, message: String },

    /// A write not attempted: no confirmation (no terminal to ask on, or the user said no).
    #[error("{0}")]
    NotConfirmed(String),

    /// Writing the report failed (other than a closed pipe, which is handled quietly).
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub fn input(location: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Input {
            location: location.into(),
            message: message.to_string(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit_code::USAGE,
            Error::Input { .. } => exit_code::INPUT,
            Error::Kubeconfig(_) | Error::Cluster { .. } | Error::Incomplete(_) => {
                exit_code::CLUSTER
            }
            Error::Write { .. } | Error::NotConfirmed(_) => exit_code::WRITE,
            Error::Output(_) => exit_code::INPUT,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
