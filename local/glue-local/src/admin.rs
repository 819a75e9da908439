//! glue-local's own endpoints, on the same port but outside AWS's namespace (Glue is only ever
//! `POST /`), for tests and operators:
//!
//!     POST   /_twin/faults  {"operation": "StartJobRun", "error": "ThrottlingException", "count": 2}
//!     GET    /_twin/faults
//!     DELETE /_twin/faults
//!
//! Each answers 200 with `{"faults": [<armed fault>, ...]}` (the faults armed after the call,
//! each `{"operation", "error", "count" (calls left), "message"}`), or an error status with
//! `{"error": "<why>"}`.

use crate::faults::{Fault, Faults};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

/// Paths under this prefix are glue-local's, not Glue's.
pub const PREFIX: &str = "/_twin/";
const FAULTS: &str = "/_twin/faults";

pub fn handle(faults: &Faults, method: &Method, path: &str, body: &[u8]) -> (StatusCode, Value) {
    if path != FAULTS {
        return error(
            StatusCode::NOT_FOUND,
            format!("no such endpoint {path} (only {FAULTS})"),
        );
    }
    match *method {
        Method::GET => {}
        Method::DELETE => faults.clear(),
        Method::POST => {
            let fault = serde_json::from_slice::<Value>(body)
                .map_err(|e| format!("the body is not JSON: {e}"))
                .and_then(|v| match v {
                    Value::Object(map) => Fault::from_json(&map),
                    _ => Err("the body must be a JSON object".into()),
                });
            match fault {
                Ok(fault) => faults.arm(fault),
                Err(why) => return error(StatusCode::BAD_REQUEST, why),
            }
        }
        _ => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{FAULTS} takes GET, POST or DELETE, not {method}"),
            )
        }
    }
    (StatusCode::OK, json!({"faults": faults.to_json()}))
}

fn error(status: StatusCode, why: String) -> (StatusCode, Value) {
    log!("admin: {status}: {why}");
    (status, json!({"error": why}))
}
