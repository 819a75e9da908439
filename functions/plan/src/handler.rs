//! plan: the batch input → every item validated, named and decided (start, follow, skip), or
//! InvalidRequest for the batch as a whole (its own keys, a list that cannot be read or is too big).

use chrono::{DateTime, Utc};
use serde_json::Value;
use unload_core::aws::sfn::Executions;
use unload_core::batch::{candidates, BatchInput, Plan, TableList, TableSource};
use unload_core::execution_names::decide;
use unload_core::request::RequestDefaults;
use unload_core::{Result, UnloadError};

/// The largest table list read: 200 entries of request keys fit many times over.
pub const MAX_LIST_BYTES: u64 = 1024 * 1024;

/// The unload workflow, whose executions the batch starts.
pub const STATE_MACHINE_ENV: &str = "UNLOAD_STATE_MACHINE_ARN";

pub struct Settings {
    /// validate's own defaults: an entry is checked exactly as its child will check it.
    pub defaults: RequestDefaults,
    pub state_machine_arn: String,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let state_machine_arn = lookup(STATE_MACHINE_ENV)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                UnloadError::ConfigurationError(format!(
                    "{STATE_MACHINE_ENV} is not set (the unload workflow's ARN)"
                ))
            })?;
        Ok(Self {
            defaults: RequestDefaults::from_lookup(&lookup),
            state_machine_arn,
        })
    }

    pub fn executions(&self, client: aws_sdk_sfn::Client) -> Executions {
        Executions::new(client, self.state_machine_arn.clone())
    }
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub executions: Executions,
}

pub async fn handle(
    event: &Value,
    settings: &Settings,
    clients: &Clients,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let result = plan(event, settings, clients, now).await;
    match &result {
        Ok(plan) => {
            tracing::info!(batch = %plan.name, day = %plan.day, counts = ?plan.counts, "batch planned")
        }
        Err(e) => tracing::warn!(error_type = e.kind(), error = %e, "batch refused"),
    }
    result
}

async fn plan(
    event: &Value,
    settings: &Settings,
    clients: &Clients,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let input = BatchInput::parse(event)?;
    let list = match &input.tables {
        TableSource::Inline(tables) => TableList {
            tables: tables.clone(),
            ..TableList::default()
        },
        TableSource::Object(uri) => {
            let bytes = unload_core::aws::s3::read_object_at_most(&clients.s3, uri, MAX_LIST_BYTES)
                .await?
                .ok_or_else(|| {
                    UnloadError::InvalidRequest(format!("the table list {uri} does not exist"))
                })?;
            TableList::parse(&bytes, uri)?
        }
    };
    let day = settings.defaults.default_day(now)?;
    let mut items = Vec::new();
    for candidate in candidates(&input, &list, &settings.defaults, day)? {
        let action = match &candidate.outcome {
            Ok((base, _)) => {
                let attempts = clients.executions.attempts(base).await?;
                Some(decide(&attempts))
            }
            Err(error) => {
                tracing::warn!(item = candidate.index, cause = %error.cause, "entry refused");
                None
            }
        };
        items.push(candidate.into_item(action));
    }
    let plan = Plan::new(input.name, day, items, input.tolerance.or(list.tolerance));
    plan.check_size()?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_sfn::operation::describe_execution::{
        DescribeExecutionError, DescribeExecutionOutput,
    };
    use aws_sdk_sfn::primitives::DateTime as SfnTime;
    use aws_sdk_sfn::types::error::ExecutionDoesNotExist;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::byte_stream::ByteStream;
    use serde_json::json;
    use unload_core::batch::ItemAction;

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:s-unload";

    fn settings() -> Settings {
        Settings::from_lookup(|name| {
            match name {
                STATE_MACHINE_ENV => Some(MACHINE),
                "UNLOAD_DEFAULT_S3_PATH" => Some("s3://lake/x"),
                "UNLOAD_DEFAULT_GLUE_CONNECTION" => Some("conn"),
                "UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/r"),
                "UNLOAD_DEFAULT_DAY_PARTITION_KEY" => Some("o_orderdate"),
                "UNLOAD_DEFAULT_SNAPSHOT_YN" => Some("y"),
                "UNLOAD_DAY_OFFSET_DAYS" => Some("-1"),
                _ => None,
            }
            .map(str::to_string)
        })
        .unwrap()
    }

    fn described(status: ExecutionStatus) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn("x")
            .state_machine_arn(MACHINE)
            .status(status)
            .start_date(SfnTime::from_secs(0))
            .build()
            .unwrap()
    }

    /// Step Functions as an earlier batch left it: `finished` names → status; others do not exist.
    fn executions(finished: &'static [(&'static str, ExecutionStatus)]) -> Executions {
        let rules: Vec<_> = finished
            .iter()
            .map(|(name, status)| {
                let status = status.clone();
                mock!(aws_sdk_sfn::Client::describe_execution)
                    .match_requests(move |r| {
                        r.execution_arn().unwrap().ends_with(&format!(":{name}"))
                    })
                    .then_output(move || described(status.clone()))
            })
            .collect();
        let missing = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().build())
        });
        let mut all: Vec<&aws_smithy_mocks::Rule> = rules.iter().collect();
        all.push(&missing);
        Executions::new(
            mock_client!(aws_sdk_sfn, RuleMode::MatchAny, all),
            MACHINE.into(),
        )
    }

    fn no_s3() -> aws_sdk_s3::Client {
        let never = mock!(aws_sdk_s3::Client::get_object).then_output(|| unreachable!());
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&never])
    }

    fn now() -> DateTime<Utc> {
        "2026-12-02T03:00:00Z".parse().unwrap()
    }

    fn three_tables() -> Value {
        json!({"Name": "nightly", "Tables": [
            {"PrefixedTablename": "demo_master.orders"},
            {"PrefixedTablename": "demo_master.customer"},
            {"PrefixedTablename": "demo_master.missing"}
        ]})
    }

    #[tokio::test]
    async fn a_rerun_skips_what_succeeded_and_starts_the_next_attempt_of_what_failed() {
        let clients = Clients {
            s3: no_s3(),
            executions: executions(&[
                (
                    "demo_master-orders-2026-12-01-nightly",
                    ExecutionStatus::Succeeded,
                ),
                (
                    "demo_master-customer-2026-12-01-nightly",
                    ExecutionStatus::Succeeded,
                ),
                (
                    "demo_master-missing-2026-12-01-nightly",
                    ExecutionStatus::Failed,
                ),
            ]),
        };
        let plan = handle(&three_tables(), &settings(), &clients, now())
            .await
            .unwrap();
        let actions: Vec<_> = plan
            .items
            .iter()
            .map(|i| (i.action, i.name.clone().unwrap()))
            .collect();
        assert_eq!(
            actions,
            [
                (
                    ItemAction::Skip,
                    "demo_master-orders-2026-12-01-nightly".into()
                ),
                (
                    ItemAction::Skip,
                    "demo_master-customer-2026-12-01-nightly".into()
                ),
                (
                    ItemAction::Start,
                    "demo_master-missing-2026-12-01-nightly-a2".into()
                ),
            ]
        );
        assert_eq!((plan.counts.start, plan.counts.skip), (1, 2));
    }

    #[tokio::test]
    async fn a_first_run_starts_everything_and_a_running_child_is_followed() {
        let clients = Clients {
            s3: no_s3(),
            executions: executions(&[(
                "demo_master-customer-2026-12-01-nightly",
                ExecutionStatus::Running,
            )]),
        };
        let plan = handle(&three_tables(), &settings(), &clients, now())
            .await
            .unwrap();
        let actions: Vec<_> = plan.items.iter().map(|i| i.action).collect();
        assert_eq!(
            actions,
            [ItemAction::Start, ItemAction::Follow, ItemAction::Start]
        );
        assert_eq!(plan.day.to_string(), "2026-12-01");
    }

    /// The plan of a batch whose table list is `uri`, read through an S3 client that answers `list`.
    async fn plan_with_list(list: &Rule, uri: &str) -> Result<Plan> {
        let clients = Clients {
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, [list]),
            executions: executions(&[]),
        };
        handle(&json!({ "TablesUri": uri }), &settings(), &clients, now()).await
    }

    #[tokio::test]
    async fn the_schedules_list_is_read_from_s3_and_a_missing_or_huge_one_is_refused() {
        let list = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.bucket() == Some("config") && r.key() == Some("batch/nightly.json"))
            .then_output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(br#"{"Defaults": {"FileFormat": "csv"}, "Tables": [{"PrefixedTablename": "demo_master.orders"}]}"#))
                    .build()
            });
        let plan = plan_with_list(&list, "s3://config/batch/nightly.json")
            .await
            .unwrap();
        assert_eq!(plan.items[0].input.as_ref().unwrap()["FileFormat"], "csv");

        let missing = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
            aws_sdk_s3::operation::get_object::GetObjectError::NoSuchKey(
                aws_sdk_s3::types::error::NoSuchKey::builder().build(),
            )
        });
        let err = plan_with_list(&missing, "s3://config/batch/gone.json")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(
            err.to_string()
                .contains("s3://config/batch/gone.json does not exist"),
            "{err}"
        );

        // A list far larger than any batch could use is refused from its size, unread.
        let huge = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .content_length(50 * 1024 * 1024)
                .body(ByteStream::from_static(b"{}"))
                .build()
        });
        let err = plan_with_list(&huge, "s3://config/batch/huge.json")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(
            err.to_string().contains("52428800 bytes; at most 1048576"),
            "{err}"
        );
    }

    #[test]
    fn without_the_workflows_arn_every_invocation_is_a_configuration_error() {
        let err = Settings::from_lookup(|_| None).err().unwrap();
        assert_eq!(err.kind(), "ConfigurationError");
        assert!(err.to_string().contains(STATE_MACHINE_ENV));
    }
}
