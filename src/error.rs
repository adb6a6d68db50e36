//! One error type for everything a user can get wrong: each message names what was wrong and,
//! where there is one, the file it came from.

use thiserror::Error;

pub type Result<T, E = LranError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum LranError {
    /// A model or training setting that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Input data that is not what it claims to be (truncated, wrong magic, wrong counts...).
    #[error("{source_name}: {problem}")]
    Data {
        source_name: String,
        problem: String,
    },
    /// Weights or a model description that do not fit together.
    #[error("model {source_name}: {problem}")]
    Model {
        source_name: String,
        problem: String,
    },
    /// Training diverged (NaN or exploding losses).
    #[error("training stopped: {0}")]
    Diverged(String),
}

impl LranError {
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub fn data(source_name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Data {
            source_name: source_name.into(),
            problem: problem.into(),
        }
    }

    pub fn model(source_name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Model {
            source_name: source_name.into(),
            problem: problem.into(),
        }
    }
}
