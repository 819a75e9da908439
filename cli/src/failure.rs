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

/// The CLI meets an `UnloadError` only from its local checks (the request, the UNLOAD_* and
/// POLL_* environment), so it is always input the tool refuses; the kind leads, as in the
/// workflow's errors.
impl From<unload_core::UnloadError> for Failure {
    fn from(err: unload_core::UnloadError) -> Self {
        Self::refused(format!("{}: {err}", err.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unload_core::UnloadError;

    #[test]
    fn an_unload_error_is_refused_with_its_kind_first() {
        let failure = Failure::from(UnloadError::ConfigurationError(
            "POLL_MIN_SECONDS: bad".into(),
        ));
        assert_eq!(failure.message, "ConfigurationError: POLL_MIN_SECONDS: bad");
        assert_eq!(failure.exit_code, REFUSED);
    }
}
