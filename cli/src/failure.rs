//! A failure to print on one line, and the process exit code.

/// What went wrong, as one line for stderr (never a stack trace, never a secret).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

/// The execution (or a call) failed.
pub const FAILED: u8 = 1;
/// Input the tool refuses (a bad request or argument).
pub const REFUSED: u8 = 2;

impl Failure {
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: REFUSED,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: FAILED,
        }
    }
}
