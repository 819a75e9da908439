//! The stable error kinds. Each kind's name is the Lambda `errorType`, which the state machine's
//! Retry and Catch clauses match on, so renaming a variant is a breaking change of the contract.

use lambda_runtime::Diagnostic;

/// Declares the enum, `KINDS` and `kind()` from one list, so a kind cannot be added to one and
/// missed in another. Every kind carries a message, which is its Display.
macro_rules! error_kinds {
    ($(#[$enum_attr:meta])* pub enum $name:ident { $($(#[$doc:meta])* $kind:ident(String),)* }) => {
        $(#[$enum_attr])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum $name {
            $($(#[$doc])* #[error("{0}")] $kind(String),)*
        }

        impl $name {
            /// Every kind, in declaration order: docs/CONTRACT.md's table is checked against it.
            pub const KINDS: &'static [&'static str] = &[$(stringify!($kind)),*];

            /// The kind's name: the Lambda `errorType`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$kind(_) => stringify!($kind),)*
                }
            }

            /// One error of every kind (empty messages), for tests.
            #[cfg(test)]
            fn every_kind() -> Vec<Self> {
                vec![$(Self::$kind(String::new())),*]
            }
        }
    };
}

error_kinds! {
    /// Everything that can go wrong in a task, as the kinds the state machine knows.
    /// Messages never carry a secret: validation refers to a bad value by field, and a JDBC URL with
    /// credentials is never echoed.
    pub enum UnloadError {
        /// The request is malformed; retrying cannot help.
        InvalidRequest(String),
        /// The state handed to a task lacks a part an earlier task should have placed.
        InvalidState(String),
        /// A function's environment variable is missing or malformed.
        ConfigurationError(String),
        GlueScriptMissing(String),
        /// The table's job exists but another stack (or a person) owns it: ensure-job will not touch it.
        JobOwnedElsewhere(String),
        GlueJobNotFound(String),
        GlueRunNotFound(String),
        GlueThrottled(String),
        ConcurrentRunsExceeded(String),
        GlueApiError(String),
        /// The Redshift Data API throttled a call (ThrottlingException, ActiveStatementsExceeded).
        DataApiThrottled(String),
        /// Any other Data API error the unload engine met (5xx, network, a refused statement).
        DataApiError(String),
        /// DescribeStatement knows no such statement (the Data API keeps them 24 hours).
        StatementNotFound(String),
        StorageError(String),
        /// A Step Functions call of the batch workflow failed (throttled, 5xx, network).
        StepFunctionsError(String),
        ManifestMissing(String),
        ManifestInvalid(String),
        /// The catalog table cannot take this run's data (a column changed type or left the
        /// source, other partition keys, another location): nothing was written to the catalog.
        SchemaDrift(String),
        /// CloudWatch answered PutMetricData with an error: nothing was recorded, a retry is safe.
        MetricsPublishFailed(String),
        /// PutMetricData got no answer (timeout, connection lost): the metrics may or may not be
        /// recorded, so the call is not repeated (a repeat could count them twice).
        MetricsPublishUncertain(String),
        /// report had too little time left to publish and return before its Lambda timeout: it
        /// published nothing, so the retry Step Functions makes is safe.
        ReportOutOfTime(String),
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
        let all = UnloadError::every_kind();
        let names: Vec<&str> = all.iter().map(UnloadError::kind).collect();
        assert_eq!(names, UnloadError::KINDS);
    }

    /// The kind column of docs/CONTRACT.md's "Error kinds" table, which tests/statemachine checks
    /// the ASL's Retry clauses against: so the ASL, the contract and the code name the same kinds.
    fn contract_kinds() -> Vec<&'static str> {
        let contract = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/CONTRACT.md"
        ));
        let table = &contract[contract
            .find("## Error kinds")
            .expect("no Error kinds section")..];
        table
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .skip(2) // the header and the separator
            .filter_map(|line| line.split('|').nth(1).map(str::trim))
            .collect()
    }

    #[test]
    fn the_contracts_error_kinds_table_lists_every_kind_in_order() {
        assert_eq!(contract_kinds(), UnloadError::KINDS);
    }
}
