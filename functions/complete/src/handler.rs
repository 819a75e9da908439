//! complete: a Glue or Data API completion event → the task token the run's waiting execution
//! left in S3 (`<WAIT_TOKEN_URI>/<run id>`) → SendTaskSuccess with a wake record.
//!
//! This is only the fast path of the wait: the execution always reads the run itself next
//! (CheckStatus), so nothing here decides an outcome, and every event it cannot use is a logged
//! no-op (the wait's timeout makes the workflow poll anyway). Errors are returned only when a
//! retry can help (S3 or Step Functions throttled, 5xx, network): EventBridge invokes the
//! function asynchronously, and Lambda retries a failed asynchronous invocation.
//!
//! The token is a credential for the waiting task: it is never logged nor returned.

use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;
use unload_core::aws::s3;
use unload_core::aws::sfn::{self, TaskAnswer};
use unload_core::checks::{self, S3Location};
use unload_core::completion::{Completion, Wake};
use unload_core::config::{self, Vars};
use unload_core::{Result, UnloadError};

/// `s3://bucket/prefix`: where the unload workflow leaves its wait tokens (`prefix/<run id>`).
pub const WAIT_TOKEN_URI_ENV: &str = "WAIT_TOKEN_URI";
/// The stack's run name prefix (`<StackName>_`): its Glue jobs and statements are named so.
pub const RUN_NAME_PREFIX_ENV: &str = "RUN_NAME_PREFIX";

/// The token object is read at most this many times, `LOOKUP_PAUSE` apart: a run may end just
/// before its execution has stored the token, or between a wait's timeout and the next wait (the
/// token found is then spent, and the next wait's comes a moment later).
pub const TOKEN_LOOKUPS: u32 = 3;
pub const LOOKUP_PAUSE: Duration = Duration::from_secs(1);
/// SendTaskSuccess takes a taskToken of 1 to 2048 characters (Step Functions API reference,
/// SendTaskSuccess, "Length Constraints").
pub const MAX_TOKEN_BYTES: u64 = 2048;

pub struct Settings {
    pub wait: S3Location,
    pub run_name_prefix: String,
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(config::process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let vars = Vars::new(lookup);
        let uri = vars.text(WAIT_TOKEN_URI_ENV).ok_or_else(|| {
            config::error(
                WAIT_TOKEN_URI_ENV,
                "is not set (s3://bucket/prefix, where the unload workflow leaves its wait tokens)",
            )
        })?;
        // s3_location's message names the variable already.
        let wait = checks::s3_location(WAIT_TOKEN_URI_ENV, &uri)
            .map_err(|e| UnloadError::ConfigurationError(e.to_string()))?;
        if wait.prefix.is_empty() {
            return Err(config::error(
                WAIT_TOKEN_URI_ENV,
                format!("{uri:?} must name a prefix: s3://bucket/prefix"),
            ));
        }
        let run_name_prefix = vars.text(RUN_NAME_PREFIX_ENV).ok_or_else(|| {
            config::error(
                RUN_NAME_PREFIX_ENV,
                "is not set (the stack's run name prefix, <StackName>_)",
            )
        })?;
        Ok(Self {
            wait,
            run_name_prefix,
        })
    }

    /// The token object of a run (its id was checked by `Completion::from_event`).
    pub fn token_uri(&self, run_id: &str) -> String {
        format!("s3://{}/{}/{run_id}", self.wait.bucket, self.wait.prefix)
    }
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
}

/// The function's answer, for the logs and the tests: `{"action": "woke"|"ignored", "run_id",
/// "reason"}` (reason is null when the execution was woken).
fn answer(action: &str, run_id: Option<&str>, reason: Option<&str>) -> Value {
    json!({"action": action, "run_id": run_id, "reason": reason})
}

fn ignored(run_id: Option<&str>, reason: &str) -> Value {
    tracing::info!(run_id, reason, "ignored");
    answer("ignored", run_id, Some(reason))
}

/// Handles one event. `pause` waits between token lookups (`tokio::time::sleep` in the function;
/// the tests record the pauses instead).
pub async fn handle<P, F>(
    event: Value,
    settings: &Settings,
    clients: &Clients,
    pause: P,
) -> Result<Value>
where
    P: Fn(Duration) -> F,
    F: Future<Output = ()>,
{
    let wake = match Completion::from_event(event, &settings.run_name_prefix)? {
        Completion::Ignore { run_id, reason } => return Ok(ignored(run_id.as_deref(), &reason)),
        Completion::Wake(wake) => wake,
    };
    let run_id = wake.run_id.as_str();
    let uri = settings.token_uri(run_id);
    let record = wake.record().to_string();
    // The last token Step Functions answered as closed, and how.
    let mut spent: Option<(String, String)> = None;
    for look in 1..=TOKEN_LOOKUPS {
        if look > 1 {
            pause(LOOKUP_PAUSE).await;
        }
        let Some(token) = read_token(&clients.s3, &uri).await? else {
            continue;
        };
        if spent.as_ref().is_some_and(|(old, _)| *old == token) {
            continue; // the next wait has not stored its token yet
        }
        match sfn::send_task_success(&clients.sfn, &token, &record).await? {
            TaskAnswer::Delivered => {
                log_woke(&wake);
                return Ok(answer("woke", Some(run_id), None));
            }
            TaskAnswer::Closed(code) => spent = Some((token, code.to_string())),
        }
    }
    let reason = match spent {
        Some((_, code)) => format!(
            "the wait on run {run_id} had already ended ({code}) and no later wait appeared: a repeated or late event, or the poll came first"
        ),
        None => format!(
            "no execution waits on run {run_id} (no token at {uri} after {TOKEN_LOOKUPS} looks); the poll will see its end"
        ),
    };
    Ok(ignored(Some(run_id), &reason))
}

fn log_woke(wake: &Wake) {
    tracing::info!(
        run_id = %wake.run_id,
        name = %wake.name,
        state = %wake.state,
        source = wake.source,
        event_id = wake.event_id.as_deref(),
        "woke the execution waiting on the run"
    );
}

/// The token at `uri`; None when there is no object.
async fn read_token(client: &aws_sdk_s3::Client, uri: &str) -> Result<Option<String>> {
    match s3::read_object_at_most(client, uri, MAX_TOKEN_BYTES).await? {
        Some(bytes) => token_from(bytes, uri).map(Some),
        None => Ok(None),
    }
}

/// The object's text, the token only (surrounding white space dropped). Anything else is not a
/// token the workflow stored: refused, without echoing it.
fn token_from(bytes: Vec<u8>, uri: &str) -> Result<String> {
    let refused = |why: &str| UnloadError::InvalidRequest(format!("{uri} {why}"));
    if bytes.len() as u64 > MAX_TOKEN_BYTES {
        return Err(refused(&format!(
            "is {} bytes; a task token is at most {MAX_TOKEN_BYTES}",
            bytes.len()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| refused("is not UTF-8 text"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(refused("is empty, not a task token"));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
    use aws_sdk_sfn::types::error::{InvalidToken, TaskDoesNotExist, TaskTimedOut};
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use std::sync::Mutex;

    const BUCKET: &str = "unload-wait";
    const PREFIX: &str = "redshift-unload/wait";
    const TOKEN: &str = "AQB8AAAAKgAAAAMAAAAAAAAAAe8SECRETtoken+/=";
    const GLUE_RUN: &str = "jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const STATEMENT: &str = "d9b6c0c9-0747-4bf4-b142-e8883122f766";

    fn settings() -> Settings {
        Settings::from_lookup(|name| match name {
            WAIT_TOKEN_URI_ENV => Some(format!("s3://{BUCKET}/{PREFIX}/")),
            RUN_NAME_PREFIX_ENV => Some("redshift-unload_".into()),
            _ => None,
        })
        .unwrap()
    }

    fn sample(name: &str) -> Value {
        let text = match name {
            "glue" => include_str!("../../../events/complete-glue.json"),
            _ => include_str!("../../../events/complete-unload.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn glue_event(state: &str) -> Value {
        let mut event = sample("glue");
        event["detail"]["state"] = json!(state);
        event
    }

    /// GetObject of `key` answers the token; any other key does not exist.
    fn token_at(key: &'static str) -> (Rule, Rule) {
        let found = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(move |r| r.bucket() == Some(BUCKET) && r.key() == Some(key))
            .then_output(|| {
                GetObjectOutput::builder()
                    .content_length(TOKEN.len() as i64)
                    .body(ByteStream::from_static(TOKEN.as_bytes()))
                    .build()
            });
        (found, no_object())
    }

    fn no_object() -> Rule {
        mock!(aws_sdk_s3::Client::get_object).then_error(|| {
            GetObjectError::NoSuchKey(
                NoSuchKey::builder()
                    .message("The specified key does not exist.")
                    .build(),
            )
        })
    }

    /// SendTaskSuccess with the token succeeds; it records the outputs it was given.
    fn delivered(outputs: &'static Mutex<Vec<Value>>) -> Rule {
        mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(move |r| {
                if r.task_token() != Some(TOKEN) {
                    return false;
                }
                outputs
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(r.output().unwrap()).unwrap());
                true
            })
            .then_output(|| SendTaskSuccessOutput::builder().build())
    }

    fn clients(s3: &[&Rule], sfn: &[&Rule]) -> Clients {
        Clients {
            s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3.iter().copied()),
            sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, sfn.iter().copied()),
        }
    }

    /// Runs the handler, recording the pauses it asks for instead of sleeping.
    async fn run(event: Value, clients: &Clients) -> (Result<Value>, Vec<Duration>) {
        let pauses = Mutex::new(Vec::new());
        let out = handle(event, &settings(), clients, |d| {
            pauses.lock().unwrap().push(d);
            async {}
        })
        .await;
        (out, pauses.into_inner().unwrap())
    }

    fn assert_no_token(out: &Value) {
        assert!(!out.to_string().contains(TOKEN), "the token leaked: {out}");
    }

    #[tokio::test]
    async fn a_glue_run_that_succeeded_wakes_its_execution_with_the_token_from_its_key() {
        static OUTPUTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let (found, missing) = token_at(
            "redshift-unload/wait/jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        );
        let send = delivered(&OUTPUTS);
        let clients = clients(&[&found, &missing], &[&send]);
        let (out, pauses) = run(sample("glue"), &clients).await;
        let out = out.unwrap();
        assert_eq!(
            out,
            json!({"action": "woke", "run_id": GLUE_RUN, "reason": null})
        );
        assert_no_token(&out);
        assert_eq!(
            (found.num_calls(), missing.num_calls(), send.num_calls()),
            (1, 0, 1)
        );
        assert!(pauses.is_empty());
        assert_eq!(
            OUTPUTS.lock().unwrap().as_slice(),
            [json!({"woken_by": "event", "source": "aws.glue",
                    "detail_type": "Glue Job State Change", "state": "SUCCEEDED",
                    "run_id": GLUE_RUN, "event_id": "abcdef00-1234-5678-9abc-def012345678",
                    "event_time": "2026-12-01T03:12:44Z"})]
        );
    }

    #[tokio::test]
    async fn a_finished_statement_wakes_its_execution() {
        static OUTPUTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let (found, missing) =
            token_at("redshift-unload/wait/d9b6c0c9-0747-4bf4-b142-e8883122f766");
        let send = delivered(&OUTPUTS);
        let clients = clients(&[&found, &missing], &[&send]);
        let (out, _) = run(sample("unload"), &clients).await;
        assert_eq!(
            out.unwrap(),
            json!({"action": "woke", "run_id": STATEMENT, "reason": null})
        );
        assert_eq!((found.num_calls(), send.num_calls()), (1, 1));
        let record = &OUTPUTS.lock().unwrap()[0];
        assert_eq!(
            (&record["source"], &record["detail_type"], &record["state"]),
            (
                &json!("aws.redshift-data"),
                &json!("Redshift Data Statement Status Change"),
                &json!("FINISHED")
            )
        );
    }

    #[tokio::test]
    async fn a_failed_run_wakes_its_execution_too() {
        static OUTPUTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let (found, missing) = token_at(
            "redshift-unload/wait/jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        );
        let send = delivered(&OUTPUTS);
        let clients = clients(&[&found, &missing], &[&send]);
        let (out, _) = run(glue_event("FAILED"), &clients).await;
        assert_eq!(out.unwrap()["action"], "woke");
        assert_eq!(send.num_calls(), 1);
        assert_eq!(OUTPUTS.lock().unwrap()[0]["state"], "FAILED");
    }

    #[tokio::test]
    async fn events_that_are_not_this_stacks_ends_never_reach_s3() {
        let mut other_stack = sample("glue");
        other_stack["detail"]["jobName"] = json!("staging_demo_master.orders_ExtractToDataLake");
        let mut traversal = sample("glue");
        traversal["detail"]["jobRunId"] = json!("../../other-prefix/jr_x");
        let mut bad_statement = sample("unload");
        bad_statement["detail"]["statementId"] = json!("d9b6c0c9-0747-4bf4-b142-e8883122f766/../x");
        for (event, fragment) in [
            (glue_event("RUNNING"), "RUNNING"),
            (other_stack, "not a run of this stack"),
            (traversal, "is not a Glue job run id"),
            (bad_statement, "is not a Data API statement run id"),
        ] {
            let get = no_object();
            let send = mock!(aws_sdk_sfn::Client::send_task_success)
                .then_output(|| SendTaskSuccessOutput::builder().build());
            let clients = clients(&[&get], &[&send]);
            let (out, pauses) = run(event, &clients).await;
            let out = out.unwrap();
            assert_eq!(out["action"], "ignored", "{out}");
            assert!(out["reason"].as_str().unwrap().contains(fragment), "{out}");
            assert_eq!((get.num_calls(), send.num_calls()), (0, 0), "{out}");
            assert!(pauses.is_empty());
        }
    }

    #[tokio::test]
    async fn a_missing_token_is_looked_for_three_times_then_ignored() {
        let missing = no_object();
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let clients = clients(&[&missing], &[&send]);
        let (out, pauses) = run(sample("glue"), &clients).await;
        let out = out.unwrap();
        assert_eq!(
            (out["action"].as_str(), out["run_id"].as_str()),
            (Some("ignored"), Some(GLUE_RUN))
        );
        assert!(
            out["reason"]
                .as_str()
                .unwrap()
                .contains("no execution waits on run"),
            "{out}"
        );
        assert_eq!((missing.num_calls(), send.num_calls()), (3, 0));
        assert_eq!(pauses, [LOOKUP_PAUSE, LOOKUP_PAUSE]);
    }

    #[tokio::test]
    async fn a_token_stored_just_after_the_event_is_found_on_a_later_look() {
        static OUTPUTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let late = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()))
            .output(|| {
                GetObjectOutput::builder()
                    .content_length(TOKEN.len() as i64)
                    .body(ByteStream::from_static(TOKEN.as_bytes()))
                    .build()
            })
            .build();
        let send = delivered(&OUTPUTS);
        let clients = clients(&[&late], &[&send]);
        let (out, pauses) = run(sample("unload"), &clients).await;
        assert_eq!(out.unwrap()["action"], "woke");
        assert_eq!(
            (late.num_calls(), send.num_calls(), pauses.len()),
            (2, 1, 1)
        );
    }

    #[tokio::test]
    async fn a_spent_token_is_a_quiet_success() {
        type SpentError = fn() -> SendTaskSuccessError;
        let errors: [(&str, SpentError); 3] = [
            ("TaskTimedOut", || {
                SendTaskSuccessError::TaskTimedOut(
                    TaskTimedOut::builder().message("Task Timed Out").build(),
                )
            }),
            ("TaskDoesNotExist", || {
                SendTaskSuccessError::TaskDoesNotExist(TaskDoesNotExist::builder().build())
            }),
            ("InvalidToken", || {
                SendTaskSuccessError::InvalidToken(
                    InvalidToken::builder()
                        .message(format!("Invalid Token: '{TOKEN}'"))
                        .build(),
                )
            }),
        ];
        for (code, error) in errors {
            let (found, missing) = token_at(
                "redshift-unload/wait/jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            );
            let spent = mock!(aws_sdk_sfn::Client::send_task_success).then_error(error);
            let clients = clients(&[&found, &missing], &[&spent]);
            let (out, pauses) = run(sample("glue"), &clients).await;
            let out = out.unwrap();
            assert_eq!(out["action"], "ignored", "{code}");
            assert!(out["reason"].as_str().unwrap().contains(code), "{out}");
            assert_no_token(&out);
            // Looked again for a later wait's token; the same spent one is not sent twice.
            assert_eq!((found.num_calls(), spent.num_calls()), (3, 1));
            assert_eq!(pauses, [LOOKUP_PAUSE, LOOKUP_PAUSE]);
        }
    }

    #[tokio::test]
    async fn a_run_that_ends_between_two_waits_wakes_the_next_one() {
        // The token read first belongs to a wait that has just timed out; the next wait stores
        // its own a moment later, and that one is woken.
        const NEXT: &str = "AQB8AAAAKgAAAAMAAAAAAAAAAe8SECRETnext+/=";
        let tokens = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(TOKEN.as_bytes()))
                    .build()
            })
            .output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(NEXT.as_bytes()))
                    .build()
            })
            .build();
        let closed = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|r| r.task_token() == Some(TOKEN))
            .then_error(|| SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()));
        let woken = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|r| r.task_token() == Some(NEXT))
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let clients = clients(&[&tokens], &[&closed, &woken]);
        let (out, pauses) = run(sample("glue"), &clients).await;
        assert_eq!(out.unwrap()["action"], "woke");
        assert_eq!(
            (tokens.num_calls(), closed.num_calls(), woken.num_calls()),
            (2, 1, 1)
        );
        assert_eq!(pauses, [LOOKUP_PAUSE]);
    }

    #[tokio::test]
    async fn a_throttled_wake_is_an_error_so_lambda_retries_it() {
        let (found, missing) =
            token_at("redshift-unload/wait/d9b6c0c9-0747-4bf4-b142-e8883122f766");
        let throttled = mock!(aws_sdk_sfn::Client::send_task_success).then_error(|| {
            SendTaskSuccessError::generic(
                aws_sdk_sfn::error::ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message(format!("Rate exceeded for {TOKEN}"))
                    .build(),
            )
        });
        let clients = clients(&[&found, &missing], &[&throttled]);
        let (out, _) = run(sample("unload"), &clients).await;
        let err = out.unwrap_err();
        assert_eq!(err.kind(), "StepFunctionsError");
        assert!(err.to_string().contains("Rate exceeded"), "{err}");
        assert!(!err.to_string().contains(TOKEN), "the token leaked: {err}");
    }

    #[tokio::test]
    async fn a_refused_s3_read_is_a_storage_error() {
        let denied = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
            GetObjectError::generic(
                aws_sdk_s3::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
        });
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let clients = clients(&[&denied], &[&send]);
        let (out, _) = run(sample("glue"), &clients).await;
        assert_eq!(out.unwrap_err().kind(), "StorageError");
        assert_eq!((denied.num_calls(), send.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn an_object_too_big_for_a_token_is_refused_unread() {
        let big = mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .content_length(4096)
                .body(ByteStream::from_static(&[b'x'; 4096]))
                .build()
        });
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let clients = clients(&[&big], &[&send]);
        let (out, _) = run(sample("glue"), &clients).await;
        assert_eq!(out.unwrap_err().kind(), "InvalidRequest");
        assert_eq!(send.num_calls(), 0);
    }

    #[test]
    fn settings_need_a_token_prefix_and_a_run_name_prefix() {
        let s = settings();
        assert_eq!(
            s.token_uri(GLUE_RUN),
            format!("s3://{BUCKET}/{PREFIX}/{GLUE_RUN}")
        );
        let with = |uri: &'static str, prefix: &'static str| {
            Settings::from_lookup(move |name| match name {
                WAIT_TOKEN_URI_ENV => Some(uri.to_string()),
                RUN_NAME_PREFIX_ENV => Some(prefix.to_string()),
                _ => None,
            })
        };
        for (uri, prefix, variable) in [
            ("", "s_", WAIT_TOKEN_URI_ENV),
            ("s3://unload-wait", "s_", WAIT_TOKEN_URI_ENV),
            ("s3://unload-wait/", "s_", WAIT_TOKEN_URI_ENV),
            ("unload-wait/wait", "s_", WAIT_TOKEN_URI_ENV),
            ("s3://unload-wait/a/../b", "s_", WAIT_TOKEN_URI_ENV),
            ("s3://Unload_Wait/wait", "s_", WAIT_TOKEN_URI_ENV),
            ("s3://unload-wait/wait", " ", RUN_NAME_PREFIX_ENV),
        ] {
            let err = with(uri, prefix).err().unwrap();
            assert_eq!(err.kind(), "ConfigurationError", "{uri} {prefix}");
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }

    #[tokio::test]
    async fn a_payload_that_is_not_an_event_is_an_invalid_request() {
        let clients = clients(&[], &[]);
        let (out, _) = run(json!({"run": {"id": GLUE_RUN}}), &clients).await;
        assert_eq!(out.unwrap_err().kind(), "InvalidRequest");
    }
}
