//! A service's completion event → which run ended, and how (the complete function's domain).
//!
//! The unload workflow waits for a run's end with a callback task that leaves its task token in S3
//! under the run's id. The engines announce a run's end on EventBridge:
//!
//! - Glue: detail-type "Glue Job State Change", source "aws.glue", detail `{"jobName",
//!   "severity", "state", "jobRunId", "message"}`, sent for SUCCEEDED, FAILED, TIMEOUT and STOPPED
//!   (<https://docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-events.html>,
//!   <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-glue.html>).
//! - The Redshift Data API: detail-type "Redshift Data Statement Status Change", source
//!   "aws.redshift-data", detail `{"principal", "statementName", "statementId",
//!   "redshiftQueryId", "state", "rows", "expireAt"}`, state ABORTED, FAILED or FINISHED, sent only
//!   for statements executed WithEvent
//!   (<https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-monitoring-events.html>,
//!   <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-redshift-data.html>).
//!
//! Nothing here decides the run's outcome: a Wake only says "this run ended, look now". Every
//! value that becomes part of an S3 key is checked first: the run must be named by this stack
//! (its job or statement name starts with the stack's run name prefix) and its id must have the
//! engine's exact format, so an event can never make the function read another key.

use crate::contract::EngineKind;
use crate::error::{Result, UnloadError};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

pub const GLUE_SOURCE: &str = "aws.glue";
pub const GLUE_DETAIL_TYPE: &str = "Glue Job State Change";
pub const DATA_API_SOURCE: &str = "aws.redshift-data";
pub const DATA_API_DETAIL_TYPE: &str = "Redshift Data Statement Status Change";

/// The Glue job run states that end a run ("Glue Job State Change" is sent for these).
pub const GLUE_TERMINAL_STATES: [&str; 4] = ["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"];
/// The statement states the Data API's event carries, all of them final.
pub const DATA_API_TERMINAL_STATES: [&str; 3] = ["FINISHED", "FAILED", "ABORTED"];

/// The detail of "Glue Job State Change". The fields the wake depends on are required; the
/// others are read leniently (absent or of another type: None), and unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlueJobStateChange {
    pub job_name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub severity: Option<String>,
    pub state: String,
    pub job_run_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub message: Option<String>,
}

/// The detail of "Redshift Data Statement Status Change" (read like `GlueJobStateChange`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementStatusChange {
    #[serde(default, deserialize_with = "lenient")]
    pub principal: Option<String>,
    pub statement_name: String,
    pub statement_id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub redshift_query_id: Option<i64>,
    pub state: String,
    #[serde(default, deserialize_with = "lenient")]
    pub rows: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub expire_at: Option<i64>,
}

/// A field the function does not depend on: its value when it has the documented type, else None.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> std::result::Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(deserializer)?).ok())
}

/// Which run ended, and how, as an event told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// The Glue job run id or the Data API statement id: the wait token's key under the prefix.
    pub run_id: String,
    pub engine: EngineKind,
    /// The Glue job's or the statement's name (it starts with the stack's run name prefix).
    pub name: String,
    /// The state the event reports (SUCCEEDED, FAILED, ... or FINISHED, FAILED, ABORTED).
    pub state: String,
    pub source: &'static str,
    pub detail_type: &'static str,
    pub event_id: Option<String>,
    /// The event's time, RFC 3339 (UTC, seconds).
    pub event_time: Option<String>,
}

impl Wake {
    /// The task output SendTaskSuccess carries: a record, kept in the execution's history, of
    /// what woke the wait. The workflow reads the run itself next; nothing depends on this.
    pub fn record(&self) -> Value {
        json!({
            "woken_by": "event",
            "source": self.source,
            "detail_type": self.detail_type,
            "state": self.state,
            "run_id": self.run_id,
            "event_id": self.event_id,
            "event_time": self.event_time,
        })
    }
}

/// What the complete function does with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// A run of this stack ended: wake the execution waiting on it, if any.
    Wake(Wake),
    /// Nothing to do (another stack's run, a state that is not an end, a malformed id...).
    Ignore {
        run_id: Option<String>,
        reason: String,
    },
}

impl Completion {
    fn ignore(run_id: Option<&str>, reason: impl Into<String>) -> Self {
        Self::Ignore {
            run_id: run_id.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Reads an EventBridge event. `run_name_prefix` is the stack's (`<StackName>_`): the names
    /// of its Glue jobs and Data API statements start with it. A payload that is not an
    /// EventBridge event at all is an InvalidRequest (the function is wired wrong); an event this
    /// function does not act on is an Ignore.
    pub fn from_event(event: Value, run_name_prefix: &str) -> Result<Self> {
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).map_err(|e| {
            UnloadError::InvalidRequest(format!("complete takes an EventBridge event: {e}"))
        })?;
        let event_id = event.id.clone();
        let event_time = event
            .time
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let (source, detail_type) = (event.source.as_str(), event.detail_type.as_str());
        let ended = match (source, detail_type) {
            (GLUE_SOURCE, GLUE_DETAIL_TYPE) => {
                run_end::<GlueJobStateChange>(event.detail, GLUE_DETAIL_TYPE, &GLUE_TERMINAL_STATES)
            }
            (DATA_API_SOURCE, DATA_API_DETAIL_TYPE) => run_end::<StatementStatusChange>(
                event.detail,
                DATA_API_DETAIL_TYPE,
                &DATA_API_TERMINAL_STATES,
            ),
            _ => {
                return Ok(Self::ignore(
                    None,
                    format!("an event of {source:?} {detail_type:?} is not a run's completion"),
                ))
            }
        };
        let RunEnd {
            engine,
            source,
            detail_type,
            name,
            run_id,
            state,
        } = match ended {
            Ok(ended) => ended,
            Err((run_id, reason)) => return Ok(Self::ignore(run_id.as_deref(), reason)),
        };
        if run_name_prefix.is_empty() || !name.starts_with(run_name_prefix) {
            return Ok(Self::ignore(
                None,
                format!("{name:?} is not a run of this stack (its names start with {run_name_prefix:?})"),
            ));
        }
        let well_formed = match engine {
            EngineKind::Glue => is_glue_run_id(&run_id),
            EngineKind::Unload => is_statement_id(&run_id),
        };
        if !well_formed {
            // Never echo the id into a key, and only a bounded, escaped form into the log.
            let shown: String = run_id.chars().take(80).collect();
            return Ok(Self::ignore(
                None,
                format!("{shown:?} is not a {} run id", kind_name(engine)),
            ));
        }
        Ok(Self::Wake(Wake {
            run_id,
            engine,
            name,
            state,
            source,
            detail_type,
            event_id,
            event_time,
        }))
    }
}

/// A run's end as either service's event detail gives it.
struct RunEnd {
    engine: EngineKind,
    source: &'static str,
    detail_type: &'static str,
    name: String,
    run_id: String,
    state: String,
}

/// The detail of one service's completion event.
trait EndDetail: DeserializeOwned {
    const ENGINE: EngineKind;
    const SOURCE: &'static str;
    /// What the service's run is called, for the log.
    const RUN: &'static str;
    /// (name, run id, state)
    fn parts(self) -> (String, String, String);
}

impl EndDetail for GlueJobStateChange {
    const ENGINE: EngineKind = EngineKind::Glue;
    const SOURCE: &'static str = GLUE_SOURCE;
    const RUN: &'static str = "job run";
    fn parts(self) -> (String, String, String) {
        (self.job_name, self.job_run_id, self.state)
    }
}

impl EndDetail for StatementStatusChange {
    const ENGINE: EngineKind = EngineKind::Unload;
    const SOURCE: &'static str = DATA_API_SOURCE;
    const RUN: &'static str = "statement";
    fn parts(self) -> (String, String, String) {
        (self.statement_name, self.statement_id, self.state)
    }
}

/// The detail read as `D`; a detail that lacks what the wake needs, or a state that ends
/// nothing, is a reason to ignore the event (with the run id when there is one).
fn run_end<D: EndDetail>(
    detail: Value,
    detail_type: &'static str,
    terminal: &[&str],
) -> std::result::Result<RunEnd, (Option<String>, String)> {
    let detail: D =
        serde_json::from_value(detail).map_err(|e| (None, malformed(detail_type, &e)))?;
    let (name, run_id, state) = detail.parts();
    if !terminal.contains(&state.as_str()) {
        let reason = format!("state {state} does not end a {}", D::RUN);
        return Err((Some(run_id), reason));
    }
    Ok(RunEnd {
        engine: D::ENGINE,
        source: D::SOURCE,
        detail_type,
        name,
        run_id,
        state,
    })
}

fn kind_name(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Glue => "Glue job",
        EngineKind::Unload => "Data API statement",
    }
}

fn malformed(detail_type: &str, err: &serde_json::Error) -> String {
    format!("the {detail_type:?} detail lacks a field the wake needs: {err}")
}

fn lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A Glue job run id: `jr_` and 64 lower-case hex digits, with `_attempt_<n>` on a retry's run.
pub fn is_glue_run_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("jr_") else {
        return false;
    };
    let (hex, attempt) = match rest.split_once("_attempt_") {
        Some((hex, n)) => (hex, Some(n)),
        None => (rest, None),
    };
    let attempt_ok =
        attempt.is_none_or(|n| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    hex.len() == 64 && lower_hex(hex) && attempt_ok
}

/// A Data API statement id: a UUID in lower-case hex, 8-4-4-4-12.
pub fn is_statement_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && lower_hex(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "prod_";
    const RUN: &str = "jr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const STATEMENT: &str = "dd2e1ec9-2ee3-49a0-819f-905fa7d75a4a";

    fn glue(name: &str, state: &str, run_id: &str) -> Value {
        json!({
            "version": "0", "id": "abcdef00-1234-5678-9abc-def012345678",
            "detail-type": "Glue Job State Change", "source": "aws.glue",
            "account": "123456789012", "time": "2026-12-01T03:04:05Z", "region": "us-east-1",
            "resources": [],
            "detail": {"jobName": name, "severity": "INFO", "state": state,
                       "jobRunId": run_id, "message": "Job run succeeded"}
        })
    }

    fn statement(name: &str, state: &str, id: &str) -> Value {
        json!({
            "version": "0", "id": "18e7079c-dd4b-dd64-caf9-e2a31640dab0",
            "detail-type": "Redshift Data Statement Status Change", "source": "aws.redshift-data",
            "account": "123456789012", "time": "2026-12-01T03:04:05Z", "region": "us-east-1",
            "resources": ["arn:aws:redshift:us-east-1:123456789012:cluster:warehouse"],
            "detail": {"principal": "arn:aws:iam::123456789012:role/unload",
                       "statementName": name, "statementId": id, "redshiftQueryId": -1,
                       "state": state, "rows": 1, "expireAt": 1_601_673_265}
        })
    }

    fn parse(event: Value) -> Completion {
        Completion::from_event(event, PREFIX).unwrap()
    }

    fn ignored(completion: Completion) -> String {
        match completion {
            Completion::Ignore { reason, .. } => reason,
            Completion::Wake(wake) => panic!("woke {wake:?}"),
        }
    }

    #[test]
    fn a_glue_run_that_ended_wakes_with_its_run_id() {
        for state in GLUE_TERMINAL_STATES {
            let Completion::Wake(wake) = parse(glue("prod_orders", state, RUN)) else {
                panic!("{state} did not wake");
            };
            assert_eq!(
                (wake.run_id.as_str(), wake.engine, wake.state.as_str()),
                (RUN, EngineKind::Glue, state)
            );
            assert_eq!(
                wake.record(),
                json!({"woken_by": "event", "source": "aws.glue",
                       "detail_type": "Glue Job State Change", "state": state, "run_id": RUN,
                       "event_id": "abcdef00-1234-5678-9abc-def012345678",
                       "event_time": "2026-12-01T03:04:05Z"})
            );
        }
        let retry = format!("{RUN}_attempt_2");
        assert!(matches!(parse(glue("prod_orders", "FAILED", &retry)),
            Completion::Wake(w) if w.run_id == retry));
    }

    #[test]
    fn a_statement_that_ended_wakes_with_its_id() {
        for state in DATA_API_TERMINAL_STATES {
            let Completion::Wake(wake) = parse(statement("prod_orders", state, STATEMENT)) else {
                panic!("{state} did not wake");
            };
            assert_eq!(
                (wake.run_id.as_str(), wake.engine, wake.source),
                (STATEMENT, EngineKind::Unload, "aws.redshift-data")
            );
        }
    }

    #[test]
    fn states_that_do_not_end_a_run_are_ignored() {
        assert!(ignored(parse(glue("prod_orders", "RUNNING", RUN))).contains("RUNNING"));
        assert!(ignored(parse(statement("prod_orders", "STARTED", STATEMENT))).contains("STARTED"));
    }

    #[test]
    fn another_stacks_runs_are_ignored() {
        for name in ["staging_orders", "prod", "xprod_orders", ""] {
            assert!(
                ignored(parse(glue(name, "SUCCEEDED", RUN))).contains("not a run of this stack")
            );
        }
        assert!(
            ignored(parse(statement("staging_orders", "FINISHED", STATEMENT)))
                .contains("not a run of this stack")
        );
        // A blank prefix (the function's settings refuse it) would match everything: nothing.
        assert!(matches!(
            Completion::from_event(glue("prod_orders", "SUCCEEDED", RUN), "").unwrap(),
            Completion::Ignore { .. }
        ));
    }

    #[test]
    fn malformed_run_ids_are_ignored_and_not_returned() {
        for id in [
            "../../secrets/token",
            "jr_0123",
            &RUN.to_uppercase().replace("JR_", "jr_"),
            &format!("{RUN}/x"),
            &format!("{RUN}_attempt_"),
            &format!("{RUN}_attempt_1234"),
            &format!("{RUN}_attempt_1/../x"),
            &format!("jr_{}", "g".repeat(64)),
            "",
        ] {
            let completion = parse(glue("prod_orders", "SUCCEEDED", id));
            assert!(
                matches!(&completion, Completion::Ignore { run_id: None, .. }),
                "{id:?}: {completion:?}"
            );
        }
        for id in [
            "DD2E1EC9-2EE3-49A0-819F-905FA7D75A4A",
            "dd2e1ec9-2ee3-49a0-819f-905fa7d75a4a:1",
            "dd2e1ec9-2ee3-49a0-819f-905fa7d75a4",
            "dd2e1ec9/2ee3-49a0-819f-905fa7d75a4a",
            RUN,
        ] {
            assert!(matches!(
                parse(statement("prod_orders", "FINISHED", id)),
                Completion::Ignore { run_id: None, .. }
            ));
        }
    }

    #[test]
    fn other_events_are_ignored_and_a_detail_without_its_ids_too() {
        let mut other = glue("prod_orders", "SUCCEEDED", RUN);
        other["detail-type"] = json!("Glue Job Run Status");
        assert!(ignored(parse(other)).contains("not a run's completion"));
        let mut no_id = glue("prod_orders", "SUCCEEDED", RUN);
        no_id["detail"].as_object_mut().unwrap().remove("jobRunId");
        assert!(ignored(parse(no_id)).contains("jobRunId"));
    }

    #[test]
    fn fields_aws_may_add_or_retype_do_not_break_the_parse() {
        let mut event = statement("prod_orders", "FINISHED", STATEMENT);
        event["detail"]["newField"] = json!({"x": 1});
        event["detail"]["rows"] = json!("many");
        event["detail"].as_object_mut().unwrap().remove("principal");
        event["newTopLevel"] = json!(true);
        assert!(matches!(parse(event), Completion::Wake(_)));
    }

    #[test]
    fn a_payload_that_is_not_an_eventbridge_event_is_an_invalid_request() {
        let err = Completion::from_event(json!({"run": {"id": RUN}}), PREFIX).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
    }

    #[test]
    fn the_sample_events_wake() {
        for (text, engine) in [
            (
                include_str!("../../../events/complete-glue.json"),
                EngineKind::Glue,
            ),
            (
                include_str!("../../../events/complete-unload.json"),
                EngineKind::Unload,
            ),
        ] {
            let event: Value = serde_json::from_str(text).unwrap();
            let Completion::Wake(wake) = Completion::from_event(event, "redshift-unload_").unwrap()
            else {
                panic!("the sample did not wake");
            };
            assert_eq!(wake.engine, engine);
            assert!(wake.name.starts_with("redshift-unload_"));
        }
    }
}
