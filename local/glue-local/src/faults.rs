//! Fault injection: make chosen calls fail the way Glue fails under load, so tests can prove the
//! callers' retry paths against the real protocol.
//!
//! A fault is armed for one operation with a count; the next `count` calls of that operation
//! answer the error instead of running (the call has no effect, as when Glue refuses it):
//!
//! - `ThrottlingException`: HTTP 400, message "Rate exceeded" — what Glue answers when the
//!   account's request rate is exceeded ("Rate exceeded (Service: AWSGlue; Status Code: 400;
//!   Error Code: ThrottlingException ...)",
//!   https://repost.aws/knowledge-center/glue-throttling-rate-exceeded).
//! - `InternalServiceException`: HTTP 500, Glue's modeled 5xx ("An internal service error
//!   occurred", HTTP Status Code: 500, https://docs.aws.amazon.com/glue/latest/webapi/API_GetTags.html).
//!
//! Faults are armed by `--fault` at start or through the admin endpoint (see `admin`).

use crate::store::ApiError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The errors a fault can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    Throttling,
    InternalService,
}

impl FaultError {
    pub const ALL: [FaultError; 2] = [Self::Throttling, Self::InternalService];

    pub fn code(self) -> &'static str {
        match self {
            Self::Throttling => "ThrottlingException",
            Self::InternalService => "InternalServiceException",
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            Self::Throttling => "Rate exceeded",
            Self::InternalService => "An internal service error occurred",
        }
    }

    fn parse(code: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|e| e.code() == code)
            .ok_or_else(|| {
                format!(
                    "error must be ThrottlingException or InternalServiceException, not {code:?}"
                )
            })
    }
}

/// One armed fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub operation: String,
    pub error: FaultError,
    /// How many more calls it fails.
    pub count: u64,
    pub message: String,
}

impl Fault {
    /// `--fault OPERATION:ERROR[:COUNT]`, COUNT defaulting to 1.
    pub fn from_flag(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(':');
        let (Some(operation), Some(error)) = (parts.next(), parts.next()) else {
            return Err(format!("{spec:?} is not OPERATION:ERROR[:COUNT]"));
        };
        let count = match parts.next() {
            None => 1,
            Some(n) => n
                .parse()
                .map_err(|_| format!("{spec:?}: COUNT must be a positive integer"))?,
        };
        if parts.next().is_some() {
            return Err(format!("{spec:?} is not OPERATION:ERROR[:COUNT]"));
        }
        Self::new(operation, error, count, None)
    }

    /// `{"operation": "StartJobRun", "error": "ThrottlingException", "count": 2, "message": "..."}`;
    /// count defaults to 1, message to the error's usual one.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, String> {
        let text = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(format!("{key} must be a string, not {v}")),
        };
        let operation = text("operation")?.ok_or("operation is required")?;
        let error = text("error")?.ok_or("error is required")?;
        let count = match body.get("count") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| format!("count must be a positive integer, not {v}"))?,
        };
        Self::new(operation, error, count, text("message")?)
    }

    fn new(
        operation: &str,
        error: &str,
        count: u64,
        message: Option<&str>,
    ) -> Result<Self, String> {
        // A catalog operation can fail here too, before it is forwarded.
        if !crate::protocol::OPERATIONS.contains(&operation)
            && !crate::catalog::OPERATIONS.contains(&operation)
        {
            return Err(format!(
                "operation must be one glue-local serves ({}) or a Data Catalog operation, not {operation:?}",
                crate::protocol::OPERATIONS.join(", ")
            ));
        }
        let error = FaultError::parse(error)?;
        if count == 0 {
            return Err("count must be at least 1".into());
        }
        Ok(Self {
            operation: operation.to_string(),
            error,
            count,
            message: message.unwrap_or(error.default_message()).to_string(),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "operation": self.operation,
            "error": self.error.code(),
            "count": self.count,
            "message": self.message,
        })
    }
}

/// The armed faults, one per operation at most (arming an operation again replaces its fault).
#[derive(Default)]
pub struct Faults {
    armed: Mutex<BTreeMap<String, Fault>>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Fault>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn arm(&self, fault: Fault) {
        log!(
            "fault armed: the next {} {} call(s) answer {}",
            fault.count,
            fault.operation,
            fault.error.code()
        );
        self.lock().insert(fault.operation.clone(), fault);
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.lock().clear();
        log!("faults cleared");
    }

    /// The error this call of `operation` must answer, if a fault is armed for it (using it up).
    pub fn take(&self, operation: &str) -> Option<ApiError> {
        let mut armed = self.lock();
        let fault = armed.get_mut(operation)?;
        fault.count -= 1;
        let err = ApiError {
            code: fault.error.code(),
            message: fault.message.clone(),
        };
        if fault.count == 0 {
            armed.remove(operation);
        }
        Some(err)
    }

    /// `[{"operation": ..., "error": ..., "count": <calls left>, "message": ...}, ...]`
    pub fn to_json(&self) -> Value {
        Value::Array(self.lock().values().map(Fault::to_json).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fails_exactly_count_calls_of_its_operation() {
        let faults = Faults::default();
        faults.arm(Fault::from_flag("StartJobRun:ThrottlingException:2").unwrap());
        assert!(faults.take("GetJobRun").is_none());
        for _ in 0..2 {
            let err = faults.take("StartJobRun").unwrap();
            assert_eq!(err.code, "ThrottlingException");
            assert_eq!(err.message, "Rate exceeded");
        }
        assert!(faults.take("StartJobRun").is_none());
        assert_eq!(faults.to_json(), json!([]));
    }

    #[test]
    fn clear_disarms_everything() {
        let faults = Faults::default();
        faults.arm(Fault::from_flag("GetJobRun:InternalServiceException:5").unwrap());
        faults.clear();
        assert!(faults.take("GetJobRun").is_none());
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in [
            "StartJobRun",
            "StartJobRun:Boom",
            "Nope:ThrottlingException",
            "StartJobRun:ThrottlingException:0",
            "StartJobRun:ThrottlingException:x",
            "StartJobRun:ThrottlingException:1:2",
        ] {
            assert!(Fault::from_flag(bad).is_err(), "{bad}");
        }
        let body = json!({"operation": "GetJobRun", "error": "InternalServiceException"});
        let fault = Fault::from_json(body.as_object().unwrap()).unwrap();
        assert_eq!((fault.count, fault.error), (1, FaultError::InternalService));
        for bad in [
            json!({"error": "ThrottlingException"}),
            json!({"operation": "StartJobRun", "error": "ThrottlingException", "count": -1}),
            json!({"operation": "StartJobRun", "error": 1}),
        ] {
            assert!(Fault::from_json(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
