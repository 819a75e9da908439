//! The unload engine: Redshift's UNLOAD issued through the Redshift Data API (ExecuteStatement,
//! DescribeStatement, CancelStatement), and its commit on S3 once the statement has finished.
//!
//! - ExecuteStatement carries a ClientToken derived from the execution ("a unique,
//!   case-sensitive identifier that you provide to ensure the idempotency of the request",
//!   Data API reference), so a retried start returns the statement already running instead of
//!   issuing a second UNLOAD. `recent_runs` therefore has nothing to look up. It also sets
//!   WithEvent, so the statement's end is announced on EventBridge (completion.rs).
//! - DescribeStatement's Status maps onto the run states: SUBMITTED and PICKED → STARTING,
//!   STARTED → RUNNING, FAILED → FAILED, ABORTED → STOPPED, FINISHED → SUCCEEDED once the
//!   commit (unload_commit.rs) has made the files the current version, or ERROR when the commit
//!   refused them.
//! - A FAILED or ABORTED statement's files (a half-done UNLOAD may leave some) are removed
//!   before the failure is reported: the previous data and manifest stay as they were.

use super::describe;
use crate::config::{self, Vars};
use crate::contract::{EngineKind, NormalizedRequest};
use crate::engine::Engine;
use crate::error::{Result, UnloadError};
use crate::run::{RunInfo, RunState};
use crate::unload_commit::{self, CommitOutcome, LakeStore, Statement};
use crate::unload_sql;
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::types::StatusString;
use aws_sdk_redshiftdata::Client;
use std::collections::HashMap;

/// The environment variables of the unload engine (template.yaml sets them from the stack's
/// Redshift parameters).
pub mod env {
    pub const CLUSTER_IDENTIFIER: &str = "REDSHIFT_DATA_CLUSTER_IDENTIFIER";
    pub const WORKGROUP_NAME: &str = "REDSHIFT_DATA_WORKGROUP_NAME";
    pub const DATABASE: &str = "REDSHIFT_DATA_DATABASE";
    pub const SECRET_ARN: &str = "REDSHIFT_DATA_SECRET_ARN";
    pub const DB_USER: &str = "REDSHIFT_DATA_DB_USER";
    pub const MAX_FILE_SIZE_MB: &str = "UNLOAD_MAX_FILE_SIZE_MB";
}

/// Where the Data API runs the statement: a provisioned cluster (with a secret or a database
/// user) or a Redshift Serverless workgroup (Data API reference, ExecuteStatement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warehouse {
    Cluster {
        identifier: String,
        secret_arn: Option<String>,
        db_user: Option<String>,
    },
    Workgroup {
        name: String,
        secret_arn: Option<String>,
    },
}

/// The unload engine's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadSettings {
    pub warehouse: Warehouse,
    pub database: String,
    pub max_file_size_mb: u32,
}

impl UnloadSettings {
    /// Reads the settings; a missing or contradictory one is a ConfigurationError naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars::new(lookup);
        let secret_arn = vars.text(env::SECRET_ARN);
        if let Some(arn) = &secret_arn {
            if !arn.starts_with("arn:aws") || !arn.contains(":secretsmanager:") {
                return Err(config::error(
                    env::SECRET_ARN,
                    "must be a Secrets Manager secret ARN",
                ));
            }
        }
        let warehouse = match (
            vars.text(env::CLUSTER_IDENTIFIER),
            vars.text(env::WORKGROUP_NAME),
        ) {
            (Some(identifier), None) => {
                let db_user = vars.text(env::DB_USER);
                if secret_arn.is_some() == db_user.is_some() {
                    return Err(config::error(
                        env::SECRET_ARN,
                        format!(
                            "a cluster needs exactly one of {} and {}",
                            env::SECRET_ARN,
                            env::DB_USER
                        ),
                    ));
                }
                Warehouse::Cluster {
                    identifier,
                    secret_arn,
                    db_user,
                }
            }
            (None, Some(name)) => Warehouse::Workgroup { name, secret_arn },
            _ => {
                return Err(config::error(
                    env::CLUSTER_IDENTIFIER,
                    format!(
                    "the unload engine needs exactly one of {} (provisioned) and {} (Serverless)",
                    env::CLUSTER_IDENTIFIER,
                    env::WORKGROUP_NAME
                ),
                ))
            }
        };
        let database = vars
            .text(env::DATABASE)
            .ok_or_else(|| config::error(env::DATABASE, "is required by the unload engine"))?;
        let max_file_size_mb =
            vars.number(env::MAX_FILE_SIZE_MB, 256, unload_sql::MAX_FILE_SIZE_MB)?;
        Ok(Self {
            warehouse,
            database,
            max_file_size_mb,
        })
    }
}

/// The unload engine for one execution's request (the commit needs both).
pub struct UnloadEngine<'a, S> {
    client: Client,
    store: S,
    settings: &'a UnloadSettings,
    request: &'a NormalizedRequest,
    execution_id: &'a str,
    /// Commit a FINISHED statement's files (check-status) or only report it (report's look).
    commit: bool,
}

impl<'a, S: LakeStore + Sync> UnloadEngine<'a, S> {
    pub fn new(
        client: Client,
        store: S,
        settings: &'a UnloadSettings,
        request: &'a NormalizedRequest,
        execution_id: &'a str,
    ) -> Self {
        Self {
            client,
            store,
            settings,
            request,
            execution_id,
            commit: true,
        }
    }

    /// Looks without changing anything: a FINISHED statement is reported, not committed, and a
    /// failed one's files are left to check-status.
    pub fn observing(self) -> Self {
        Self {
            commit: false,
            ..self
        }
    }

    /// FINISHED: commit the files; the run succeeded only if the commit did.
    async fn committed(&self, mut run: RunInfo, statement: Statement) -> Result<RunInfo> {
        let outcome = unload_commit::commit(
            &self.store,
            self.request,
            self.execution_id,
            &statement,
            |_| Ok(()),
        )
        .await?;
        match outcome {
            CommitOutcome::Committed {
                rows,
                files,
                replaced,
            } => {
                tracing::info!(statement = %statement.id, rows, files, replaced, "unload committed");
                run.state = RunState::Succeeded;
            }
            CommitOutcome::Refused(reason) => {
                tracing::warn!(statement = %statement.id, %reason, "unload refused; its files were removed");
                run.state = RunState::Error;
                run.error_message = Some(reason);
            }
        }
        Ok(run)
    }
}

/// Maps a Data API error onto the kinds by its code (the modeled errors each call expects are
/// matched where it is made).
fn data_api_error<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &E,
) -> UnloadError {
    let text = describe(&format!("Redshift Data API {operation}"), err);
    match err.code().unwrap_or_default() {
        "ThrottlingException"
        | "ActiveStatementsExceededException"
        | "ActiveSessionsExceededException"
        | "ActiveWaitingRequestsExceededException" => UnloadError::DataApiThrottled(text),
        "ResourceNotFoundException" => UnloadError::StatementNotFound(text),
        // The request itself is wrong (a database or cluster the stack names does not exist, a
        // secret it cannot use): retrying cannot help.
        "ValidationException" => UnloadError::ConfigurationError(text),
        _ => UnloadError::DataApiError(text),
    }
}

impl<S: LakeStore + Sync> Engine for UnloadEngine<'_, S> {
    async fn recent_runs(&self, _job: &str) -> Result<Vec<RunInfo>> {
        Ok(Vec::new())
    }

    async fn start_run(
        &self,
        job: &str,
        request: &NormalizedRequest,
        execution_id: &str,
    ) -> Result<String> {
        let statement =
            unload_sql::statement(request, execution_id, self.settings.max_file_size_mb)?;
        let mut call = self
            .client
            .execute_statement()
            .sql(statement.sql)
            .database(&self.settings.database)
            .statement_name(job)
            // The Data API sends its "Redshift Data Statement Status Change" event only for a
            // statement executed WithEvent: the complete function wakes the wait on it.
            .with_event(true)
            .client_token(unload_sql::client_token(execution_id));
        call = match &self.settings.warehouse {
            Warehouse::Cluster {
                identifier,
                secret_arn,
                db_user,
            } => call
                .cluster_identifier(identifier)
                .set_secret_arn(secret_arn.clone())
                .set_db_user(db_user.clone()),
            Warehouse::Workgroup { name, secret_arn } => {
                call.workgroup_name(name).set_secret_arn(secret_arn.clone())
            }
        };
        let out = call.send().await.map_err(|err| {
            let text = describe("Redshift Data API ExecuteStatement", &err);
            match err.as_service_error() {
                Some(e)
                    if e.is_active_statements_exceeded_exception()
                        || e.is_active_sessions_exceeded_exception() =>
                {
                    UnloadError::DataApiThrottled(text)
                }
                // The stack's warehouse settings are wrong (no such database, cluster or
                // secret): retrying cannot help.
                Some(e) if e.is_validation_exception() => UnloadError::ConfigurationError(text),
                _ => data_api_error("ExecuteStatement", &err),
            }
        })?;
        out.id().map(str::to_string).ok_or_else(|| {
            UnloadError::DataApiError("ExecuteStatement answered without a statement Id".into())
        })
    }

    async fn get_run(&self, _job: &str, run_id: &str) -> Result<RunInfo> {
        let out = self
            .client
            .describe_statement()
            .id(run_id)
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(e) if e.is_resource_not_found_exception() => UnloadError::StatementNotFound(
                    describe("Redshift Data API DescribeStatement", &err),
                ),
                _ => data_api_error("DescribeStatement", &err),
            })?;
        let created = out.created_at().map(|t| t.secs());
        let updated = out.updated_at().map(|t| t.secs());
        let state = match out.status() {
            Some(StatusString::Submitted | StatusString::Picked) => RunState::Starting,
            Some(StatusString::Started) => RunState::Running,
            Some(StatusString::Finished) => RunState::Succeeded,
            Some(StatusString::Failed) => RunState::Failed,
            Some(StatusString::Aborted) => RunState::Stopped,
            other => RunState::Other(other.map(|s| s.as_str().to_string()).unwrap_or_default()),
        };
        // Duration is in nanoseconds once the statement ended (-1 before).
        let execution_seconds = u64::try_from(out.duration() / 1_000_000_000).unwrap_or(0);
        let run = RunInfo {
            engine: EngineKind::Unload,
            id: run_id.to_string(),
            state: state.clone(),
            attempt: 0,
            execution_seconds,
            started_on: created,
            error_message: out.error().map(str::to_string),
            arguments: HashMap::new(),
        };
        match state {
            _ if !self.commit => Ok(run),
            RunState::Succeeded => {
                let statement = Statement {
                    id: run_id.to_string(),
                    created_secs: created.unwrap_or(0),
                    finished_secs: updated.or(created).unwrap_or(0),
                };
                self.committed(run, statement).await
            }
            RunState::Failed | RunState::Stopped => {
                let removed =
                    unload_commit::discard(&self.store, self.request, self.execution_id).await?;
                tracing::info!(
                    statement = run_id,
                    removed,
                    "removed the files of the failed statement"
                );
                Ok(run)
            }
            _ => Ok(run),
        }
    }

    async fn stop_run(&self, _job: &str, run_id: &str) -> Result<bool> {
        match self.client.cancel_statement().id(run_id).send().await {
            Ok(out) => Ok(out.status().unwrap_or(false)),
            // "Could not cancel a query that is already in FINISHED state" and the like.
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_validation_exception() || e.is_resource_not_found_exception()
                }) =>
            {
                Ok(false)
            }
            Err(err) => Err(data_api_error("CancelStatement", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::s3::S3Lake;
    use aws_sdk_redshiftdata::operation::cancel_statement::{
        CancelStatementError, CancelStatementOutput,
    };
    use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
    use aws_sdk_redshiftdata::operation::execute_statement::{
        ExecuteStatementError, ExecuteStatementOutput,
    };
    use aws_sdk_redshiftdata::types::error::{
        ActiveStatementsExceededException, ValidationException,
    };
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:e1";
    const ROLE: &str = "arn:aws:iam::123456789012:role/unload";

    fn cluster() -> UnloadSettings {
        UnloadSettings {
            warehouse: Warehouse::Cluster {
                identifier: "warehouse".into(),
                secret_arn: None,
                db_user: Some("unloader".into()),
            },
            database: "dev".into(),
            max_file_size_mb: 64,
        }
    }

    fn request() -> NormalizedRequest {
        NormalizedRequest {
            engine: EngineKind::Unload,
            redshift_role_arn: Some(ROLE.into()),
            ..crate::fixtures::day_request()
        }
    }

    fn engine<'a>(
        settings: &'a UnloadSettings,
        request: &'a NormalizedRequest,
        data: &[&Rule],
        s3: &[&Rule],
    ) -> UnloadEngine<'a, S3Lake> {
        UnloadEngine::new(
            mock_client!(
                aws_sdk_redshiftdata,
                RuleMode::MatchAny,
                data.iter().copied()
            ),
            S3Lake {
                client: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3.iter().copied()),
            },
            settings,
            request,
            EXEC,
        )
    }

    #[tokio::test]
    async fn a_start_sends_the_statement_with_the_executions_client_token() {
        let expected_sql = unload_sql::statement(&request(), EXEC, 64).unwrap().sql;
        let execute = mock!(Client::execute_statement)
            .match_requests(move |r| {
                r.client_token() == Some(unload_sql::client_token(EXEC).as_str())
                    && r.sql() == Some(expected_sql.as_str())
                    && r.cluster_identifier() == Some("warehouse")
                    && r.db_user() == Some("unloader")
                    && r.secret_arn().is_none()
                    && r.workgroup_name().is_none()
                    && r.database() == Some("dev")
                    && r.statement_name() == Some("job")
                    && r.with_event() == Some(true)
            })
            .then_output(|| ExecuteStatementOutput::builder().id("st-1").build());
        let (settings, request) = (cluster(), request());
        let engine = engine(&settings, &request, &[&execute], &[]);
        let id = engine.start_run("job", &request, EXEC).await.unwrap();
        assert_eq!((id.as_str(), execute.num_calls()), ("st-1", 1));
        assert!(engine.recent_runs("job").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn too_many_statements_is_throttling_and_a_refused_request_is_configuration() {
        let (settings, request) = (cluster(), request());
        let busy = mock!(Client::execute_statement).then_error(|| {
            ExecuteStatementError::ActiveStatementsExceededException(
                ActiveStatementsExceededException::builder()
                    .message("500 active")
                    .build(),
            )
        });
        let err = engine(&settings, &request, &[&busy], &[])
            .start_run("job", &request, EXEC)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DataApiThrottled");
        let refused = mock!(Client::execute_statement).then_error(|| {
            ExecuteStatementError::ValidationException(
                ValidationException::builder()
                    .message("no such database")
                    .build(),
            )
        });
        let err = engine(&settings, &request, &[&refused], &[])
            .start_run("job", &request, EXEC)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "ConfigurationError");
        assert!(err.to_string().contains("no such database"));
    }

    fn described(status: StatusString, error: Option<&'static str>) -> Rule {
        mock!(Client::describe_statement).then_output(move || {
            DescribeStatementOutput::builder()
                .id("st-1")
                .status(status.clone())
                .set_error(error.map(str::to_string))
                .created_at(aws_smithy_types::DateTime::from_secs(1_000))
                .duration(if error.is_some() { 4_000_000_000 } else { -1 })
                .build()
                .unwrap()
        })
    }

    #[tokio::test]
    async fn statement_statuses_map_onto_the_run_states() {
        let (settings, request) = (cluster(), request());
        for (status, state) in [
            (StatusString::Submitted, RunState::Starting),
            (StatusString::Picked, RunState::Starting),
            (StatusString::Started, RunState::Running),
        ] {
            let describe = described(status, None);
            let run = engine(&settings, &request, &[&describe], &[])
                .get_run("job", "st-1")
                .await
                .unwrap();
            assert_eq!((run.state, run.engine), (state, EngineKind::Unload));
            assert_eq!(run.started_on, Some(1_000));
        }
    }

    #[tokio::test]
    async fn a_failed_statement_reports_redshifts_error_after_removing_its_files() {
        let (settings, request) = (cluster(), request());
        let describe = described(StatusString::Failed, Some("ERROR: permission denied"));
        // The target folder holds none of this run's files: nothing to delete.
        let list = mock!(aws_sdk_s3::Client::list_objects_v2)
            .then_output(|| ListObjectsV2Output::builder().build());
        let run = engine(&settings, &request, &[&describe], &[&list])
            .get_run("job", "st-1")
            .await
            .unwrap();
        assert_eq!(run.state, RunState::Failed);
        assert_eq!(run.execution_seconds, 4);
        let status = crate::run::status_of(&run, "job", 1, |_| 30, 1_010);
        let failure = status.failure.unwrap();
        assert_eq!(failure.error, "UnloadStatementFailed");
        assert!(
            failure.cause.contains("ERROR: permission denied"),
            "{}",
            failure.cause
        );
        assert_eq!(list.num_calls(), 1);
        // Observing (report's look) touches nothing.
        let describe = described(StatusString::Aborted, None);
        let quiet = engine(&settings, &request, &[&describe], &[]).observing();
        assert_eq!(
            quiet.get_run("job", "st-1").await.unwrap().state,
            RunState::Stopped
        );
    }

    #[tokio::test]
    async fn cancelling_an_ended_statement_is_not_an_error() {
        let (settings, request) = (cluster(), request());
        let ended = mock!(Client::cancel_statement).then_error(|| {
            CancelStatementError::ValidationException(
                ValidationException::builder()
                    .message("Could not cancel a query that is already in FINISHED state")
                    .build(),
            )
        });
        assert!(!engine(&settings, &request, &[&ended], &[])
            .stop_run("job", "st-1")
            .await
            .unwrap());
        let cancelled = mock!(Client::cancel_statement)
            .then_output(|| CancelStatementOutput::builder().status(true).build());
        assert!(engine(&settings, &request, &[&cancelled], &[])
            .stop_run("job", "st-1")
            .await
            .unwrap());
    }

    fn settings(vars: &[(&str, &str)]) -> Result<UnloadSettings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        UnloadSettings::from_lookup(|name| vars.get(name).cloned())
    }

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-AbCdEf";

    #[test]
    fn a_cluster_needs_a_secret_or_a_user_and_a_workgroup_stands_alone() {
        let cluster = settings(&[
            (env::CLUSTER_IDENTIFIER, "warehouse"),
            (env::SECRET_ARN, SECRET),
            (env::DATABASE, "dev"),
        ])
        .unwrap();
        assert_eq!(cluster.max_file_size_mb, 256);
        assert!(matches!(cluster.warehouse, Warehouse::Cluster { .. }));
        let serverless = settings(&[(env::WORKGROUP_NAME, "wg"), (env::DATABASE, "dev")]).unwrap();
        assert!(matches!(serverless.warehouse, Warehouse::Workgroup { .. }));
        for bad in [
            vec![
                (env::CLUSTER_IDENTIFIER, "warehouse"),
                (env::DATABASE, "dev"),
            ],
            vec![
                (env::CLUSTER_IDENTIFIER, "w"),
                (env::WORKGROUP_NAME, "wg"),
                (env::SECRET_ARN, SECRET),
                (env::DATABASE, "dev"),
            ],
            vec![(env::WORKGROUP_NAME, "wg")],
            vec![
                (env::WORKGROUP_NAME, "wg"),
                (env::DATABASE, "dev"),
                (env::SECRET_ARN, "x"),
            ],
            vec![
                (env::WORKGROUP_NAME, "wg"),
                (env::DATABASE, "dev"),
                (env::MAX_FILE_SIZE_MB, "4"),
            ],
        ] {
            assert_eq!(
                settings(&bad).unwrap_err().kind(),
                "ConfigurationError",
                "{bad:?}"
            );
        }
    }
}
