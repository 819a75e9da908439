//! Glue's completion events: with `--events-endpoint`, every run that ends (SUCCEEDED, FAILED,
//! TIMEOUT, STOPPED) is announced as AWS Glue announces it to EventBridge, a "Glue Job State
//! Change" event (AWS Glue developer guide, "Automating AWS Glue with EventBridge"; EventBridge
//! events reference: delivery "best effort"), POSTed to `<endpoint>/events` — the local bus
//! (local/events_local.py), which matches the stack's rules and invokes the complete function.
//! A bus that does not answer costs the event, as a lost event on AWS does: it is logged, the run
//! is unaffected.

use crate::catalog::Upstream;
use crate::store::RunState;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::Request;
use serde_json::{json, Value};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// The event for a run that ended in `state`.
pub fn job_state_change(
    job_name: &str,
    run_id: &str,
    state: RunState,
    error_message: Option<&str>,
) -> Value {
    let (severity, message) = match state {
        RunState::Succeeded => ("INFO", "Job run succeeded".to_string()),
        RunState::Stopped => ("INFO", "Job run stopped".to_string()),
        RunState::Timeout => (
            "WARN",
            error_message.unwrap_or("Job run timed out").to_string(),
        ),
        _ => (
            "ERROR",
            error_message.unwrap_or("Job run failed").to_string(),
        ),
    };
    json!({
        "version": "0",
        "id": uuid_like(run_id),
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": ACCOUNT,
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [],
        "detail": {
            "jobName": job_name,
            "severity": severity,
            "state": state.as_str(),
            "jobRunId": run_id,
            "message": message,
        }
    })
}

/// Only runs that have ended are announced (the project's rule matches no other state).
pub fn is_final(state: RunState) -> bool {
    matches!(
        state,
        RunState::Succeeded | RunState::Failed | RunState::Timeout | RunState::Stopped
    )
}

/// Puts the event on the bus; a failure is logged, never raised.
pub async fn put(bus: &Upstream, event: Value) {
    let body = Bytes::from(event.to_string());
    let request = Request::post("/events")
        .header(CONTENT_TYPE, "application/json")
        .header(
            HOST,
            HeaderValue::from_str(bus.authority()).unwrap_or(HeaderValue::from_static("localhost")),
        )
        .body(Full::new(body));
    let outcome = match request {
        Ok(request) => match tokio::time::timeout(TIMEOUT, bus.send(request)).await {
            Ok(Ok(response)) if response.status().is_success() => return,
            Ok(Ok(response)) => format!("the bus answered {}", response.status()),
            Ok(Err(err)) => err,
            Err(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
        },
        Err(err) => err.to_string(),
    };
    log!(
        "event for run {} not delivered: {outcome}",
        event["detail"]["jobRunId"]
    );
}

/// An event id in EventBridge's UUID shape, derived from the run id (unique per run).
fn uuid_like(run_id: &str) -> String {
    let hex: String = run_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .chain(std::iter::repeat('0'))
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_run_is_announced_in_glues_shape() {
        let event = job_state_change("local_t", "jr_0123abcd", RunState::Failed, Some("boom"));
        assert_eq!(event["source"], "aws.glue");
        assert_eq!(event["detail-type"], "Glue Job State Change");
        let detail = &event["detail"];
        assert_eq!(detail["jobName"], "local_t");
        assert_eq!(detail["jobRunId"], "jr_0123abcd");
        assert_eq!(detail["state"], "FAILED");
        assert_eq!(detail["severity"], "ERROR");
        assert_eq!(detail["message"], "boom");
        assert_eq!(event["id"].as_str().unwrap().len(), 36);
        let ok = job_state_change("local_t", "jr_1", RunState::Succeeded, None);
        assert_eq!(ok["detail"]["message"], "Job run succeeded");
        assert_eq!(ok["detail"]["severity"], "INFO");
    }

    #[test]
    fn only_final_states_are_announced() {
        assert!(is_final(RunState::Succeeded) && is_final(RunState::Stopped));
        assert!(is_final(RunState::Failed) && is_final(RunState::Timeout));
        assert!(!is_final(RunState::Running) && !is_final(RunState::Starting));
        assert!(!is_final(RunState::Stopping));
    }
}
