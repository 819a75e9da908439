//! The stable error kinds. Each kind's name is the Lambda `errorType`, which the state machine's
//! Retry and Catch clauses match on, so renaming a variant is a breaking change of the contract.

use lambda_runtime::Diagnostic;

/// Everything that can go wrong in a task, as the kinds the state machine knows.
/// Messages never carry a secret: validation refers to a bad value by field, and a JDBC URL with
/// credentials is never echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnloadError {
    /// The request is malformed; retrying cannot help.
    #[error("{0}")]
    InvalidRequest(String),
    /// The state handed to a task lacks a part an earlier task should have placed.
    #[error("{0}")]
    InvalidState(String),
    /// A function's environment variable is missing or malformed.
    #[error("{0}")]
    ConfigurationError(String),
    #[error("{0}")]
    GlueScriptMissing(String),
    /// The table's job exists but another stack (or a person) owns it: ensure-job will not touch it.
    #[error("{0}")]
    JobOwnedElsewhere(String),
    #[error("{0}")]
    GlueJobNotFound(String),
    #[error("{0}")]
    GlueRunNotFound(String),
    #[error("{0}")]
    GlueThrottled(String),
    #[error("{0}")]
    ConcurrentRunsExceeded(String),
    #[error("{0}")]
    GlueApiError(String),
    #[error("{0}")]
    StorageError(String),
    #[error("{0}")]
    ManifestMissing(String),
    #[error("{0}")]
    ManifestInvalid(String),
    /// CloudWatch answered PutMetricData with an error: nothing was recorded, a retry is safe.
    #[error("{0}")]
    MetricsPublishFailed(String),
    /// PutMetricData got no answer (timeout, connection lost): the metrics may or may not be
    /// recorded, so the call is not repeated (a repeat could count them twice).
    #[error("{0}")]
    MetricsPublishUncertain(String),
    /// report had too little time left to publish and return before its Lambda timeout: it
    /// published nothing, so the retry Step Functions makes is safe.
    #[error("{0}")]
    ReportOutOfTime(String),
}

impl UnloadError {
    /// Every kind, for documentation and for tests that compare with the state machine.
    pub const KINDS: [&'static str; 16] = [
        "InvalidRequest",
        "InvalidState",
        "ConfigurationError",
        "GlueScriptMissing",
        "JobOwnedElsewhere",
        "GlueJobNotFound",
        "GlueRunNotFound",
        "GlueThrottled",
        "ConcurrentRunsExceeded",
        "GlueApiError",
        "StorageError",
        "ManifestMissing",
        "ManifestInvalid",
        "MetricsPublishFailed",
        "MetricsPublishUncertain",
        "ReportOutOfTime",
    ];

    /// The kind's name: the Lambda `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::InvalidState(_) => "InvalidState",
            Self::ConfigurationError(_) => "ConfigurationError",
            Self::GlueScriptMissing(_) => "GlueScriptMissing",
            Self::JobOwnedElsewhere(_) => "JobOwnedElsewhere",
            Self::GlueJobNotFound(_) => "GlueJobNotFound",
            Self::GlueRunNotFound(_) => "GlueRunNotFound",
            Self::GlueThrottled(_) => "GlueThrottled",
            Self::ConcurrentRunsExceeded(_) => "ConcurrentRunsExceeded",
            Self::GlueApiError(_) => "GlueApiError",
            Self::StorageError(_) => "StorageError",
            Self::ManifestMissing(_) => "ManifestMissing",
            Self::ManifestInvalid(_) => "ManifestInvalid",
            Self::MetricsPublishFailed(_) => "MetricsPublishFailed",
            Self::MetricsPublishUncertain(_) => "MetricsPublishUncertain",
            Self::ReportOutOfTime(_) => "ReportOutOfTime",
        }
    }
}

impl From<UnloadError> for Diagnostic {
    fn from(err: UnloadError) -> Self {
        Diagnostic {
            error_type: err.kind().to_string(),
            error_message: err.to_string(),
        }
    }
}

pub type Result<T, E = UnloadError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_the_kind_as_error_type() {
        let d: Diagnostic = UnloadError::ConcurrentRunsExceeded("job busy".into()).into();
        assert_eq!(d.error_type, "ConcurrentRunsExceeded");
        assert_eq!(d.error_message, "job busy");
    }

    #[test]
    fn kinds_list_matches_variants() {
        let all = [
            UnloadError::InvalidRequest(String::new()),
            UnloadError::InvalidState(String::new()),
            UnloadError::ConfigurationError(String::new()),
            UnloadError::GlueScriptMissing(String::new()),
            UnloadError::JobOwnedElsewhere(String::new()),
            UnloadError::GlueJobNotFound(String::new()),
            UnloadError::GlueRunNotFound(String::new()),
            UnloadError::GlueThrottled(String::new()),
            UnloadError::ConcurrentRunsExceeded(String::new()),
            UnloadError::GlueApiError(String::new()),
            UnloadError::StorageError(String::new()),
            UnloadError::ManifestMissing(String::new()),
            UnloadError::ManifestInvalid(String::new()),
            UnloadError::MetricsPublishFailed(String::new()),
            UnloadError::MetricsPublishUncertain(String::new()),
            UnloadError::ReportOutOfTime(String::new()),
        ];
        let names: Vec<&str> = all.iter().map(UnloadError::kind).collect();
        assert_eq!(names, UnloadError::KINDS);
    }
}
