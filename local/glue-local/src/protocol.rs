//! The AWS Glue JSON protocol (awsJson1_1): `POST /` with `X-Amz-Target: AWSGlue.<Operation>`
//! and a JSON body; the answer is 200 with a JSON body, or an error as HTTP 400 with
//! `x-amzn-ErrorType: <Code>` and the body `{"__type": "<Code>", "message": "..."}` (what the
//! AWS SDKs parse into the modeled exceptions; InternalServiceException is HTTP 500, as in
//! Glue). Requests are not authenticated: any signature, or none, is accepted; the signature's
//! region is only read to place ARNs. Paths under `/_twin/` are glue-local's own (see `admin`),
//! an armed fault (see `faults`) answers a call before it runs, and the Data Catalog's operations
//! go to the catalog endpoint when there is one (see `catalog`).

use crate::catalog::{self, Upstream};
use crate::faults::Faults;
use crate::runner::Runner;
use crate::store::{string_map, ApiError, Store};
use crate::{admin, tags};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::sync::Arc;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSGlue.";
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The operations glue-local serves.
pub const OPERATIONS: &[&str] = &[
    "CreateJob",
    "GetJob",
    "UpdateJob",
    "DeleteJob",
    "StartJobRun",
    "GetJobRun",
    "GetJobRuns",
    "BatchStopJobRun",
    "GetTags",
    "TagResource",
    "UntagResource",
];

pub struct Api {
    pub store: Arc<Store>,
    pub runner: Arc<Runner>,
    pub faults: Arc<Faults>,
    /// Where the Data Catalog's operations go; none: they are unknown operations.
    pub catalog: Option<Upstream>,
}

/// One HTTP request → one HTTP response (never a transport error).
pub async fn handle(
    api: Arc<Api>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let region = signing_region(&headers);
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or(&target)
        .to_string();
    let body = Limited::new(req.into_body(), BODY_LIMIT)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|err| format!("could not read the request body: {err}"));
    if path.starts_with(admin::PREFIX) {
        let (status, answer) = match body {
            Ok(body) => admin::handle(&api.faults, &method, &path, &body),
            Err(why) => (StatusCode::BAD_REQUEST, json!({"error": why})),
        };
        return Ok(respond(status, "application/json", &answer, None));
    }
    let result = match body {
        Err(why) => Err(ApiError::invalid_input(why)),
        Ok(body) => match api.faults.take(&operation) {
            Some(err) => {
                log!("{operation}: injected fault");
                Err(err)
            }
            None => match api.catalog_upstream(&operation) {
                Some(upstream) => match upstream.forward(&operation, &headers, body).await {
                    Ok(answer) => return Ok(answer),
                    Err(err) => Err(err),
                },
                None => parse_body(&body)
                    .and_then(|body| api.call(&operation, &body, region.as_deref())),
            },
        },
    };
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(err) => {
            log!("{operation}: {}: {}", err.code, err.message);
            (
                err.status(),
                json!({"__type": err.code, "message": err.message}),
            )
        }
    };
    let error_type = body
        .get("__type")
        .and_then(Value::as_str)
        .filter(|_| !status.is_success());
    Ok(respond(status, CONTENT_TYPE, &body, error_type))
}

/// A JSON response; `error_type` becomes `x-amzn-ErrorType`, which the SDKs read first.
fn respond(
    status: StatusCode,
    content_type: &str,
    body: &Value,
    error_type: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", request_id());
    if let Some(code) = error_type {
        response = response.header("x-amzn-errortype", code);
    }
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    response
        .body(Full::new(bytes))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The region of a SigV4 `Authorization` header
/// (`... Credential=<key>/<date>/<region>/<service>/aws4_request, ...`), if there is one.
fn signing_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let region = credential.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid_input(
            "the request body must be a JSON object",
        )),
        Err(err) => Err(ApiError::invalid_input(format!(
            "the request body is not JSON: {err}"
        ))),
    }
}

fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    let a = h.finish();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        a >> 48,
        a & 0xffff_ffff_ffff
    )
}

/// A required non-empty string field.
fn required_str<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_input(format!("{key} is required")))
}

fn optional_u64(body: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid_input(format!("{key} must be a non-negative integer, not {v}"))
        }),
    }
}

impl Api {
    /// The catalog endpoint, when `operation` is one of the catalog's and there is one.
    fn catalog_upstream(&self, operation: &str) -> Option<&Upstream> {
        self.catalog
            .as_ref()
            .filter(|_| catalog::OPERATIONS.contains(&operation))
    }

    fn call(
        &self,
        operation: &str,
        body: &Map<String, Value>,
        region: Option<&str>,
    ) -> Result<Value, ApiError> {
        match operation {
            "CreateJob" => {
                let name = required_str(body, "Name")?;
                self.store.create_job(name, body.clone())?;
                log!("CreateJob {name}");
                Ok(json!({"Name": name}))
            }
            "GetJob" => {
                let name = required_str(body, "JobName")?;
                let job = self.store.get_job(name)?;
                log!("GetJob {name}");
                Ok(json!({"Job": job}))
            }
            "UpdateJob" => {
                let name = required_str(body, "JobName")?;
                let update = body
                    .get("JobUpdate")
                    .and_then(Value::as_object)
                    .ok_or_else(|| ApiError::invalid_input("JobUpdate is required"))?;
                self.store.update_job(name, update.clone())?;
                log!("UpdateJob {name}");
                Ok(json!({"JobName": name}))
            }
            "DeleteJob" => {
                let name = required_str(body, "JobName")?;
                let existed = self.store.delete_job(name);
                log!(
                    "DeleteJob {name}{}",
                    if existed { "" } else { " (did not exist)" }
                );
                Ok(json!({"JobName": name}))
            }
            "StartJobRun" => {
                let name = required_str(body, "JobName")?;
                let arguments = match body.get("Arguments") {
                    None | Some(Value::Null) => Default::default(),
                    Some(v) => string_map(v, "Arguments")?,
                };
                let launch =
                    self.store
                        .start_run(name, arguments, optional_u64(body, "Timeout")?)?;
                let run_id = launch.run_id.clone();
                log!("StartJobRun {name} -> {run_id}");
                self.runner.launch(launch);
                Ok(json!({"JobRunId": run_id}))
            }
            "GetJobRun" => {
                let name = required_str(body, "JobName")?;
                let run_id = required_str(body, "RunId")?;
                let run = self.store.get_run(name, run_id)?;
                log!(
                    "GetJobRun {name} {run_id}: {}",
                    run["JobRunState"].as_str().unwrap_or_default()
                );
                Ok(json!({"JobRun": run}))
            }
            "GetJobRuns" => {
                let name = required_str(body, "JobName")?;
                let token = body.get("NextToken").and_then(Value::as_str);
                let page = self
                    .store
                    .get_runs(name, optional_u64(body, "MaxResults")?, token)?;
                log!(
                    "GetJobRuns {name}: {} run(s)",
                    page["JobRuns"].as_array().map_or(0, Vec::len)
                );
                Ok(page)
            }
            "BatchStopJobRun" => {
                let name = required_str(body, "JobName")?;
                let ids: Vec<String> = body
                    .get("JobRunIds")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .filter(|ids: &Vec<String>| !ids.is_empty())
                    .ok_or_else(|| ApiError::invalid_input("JobRunIds is required"))?;
                let out = self.store.stop_runs(name, &ids);
                log!("BatchStopJobRun {name} {ids:?}");
                Ok(out)
            }
            "GetTags" => {
                let arn = required_str(body, "ResourceArn")?;
                let name = tags::job_name_from_arn(arn, region)?;
                let tags = self.store.get_tags(name)?;
                log!("GetTags {name}: {} tag(s)", tags.len());
                Ok(json!({"Tags": tags}))
            }
            "TagResource" => {
                let arn = required_str(body, "ResourceArn")?;
                let name = tags::job_name_from_arn(arn, region)?;
                let add = body
                    .get("TagsToAdd")
                    .ok_or_else(|| ApiError::invalid_input("TagsToAdd is required"))
                    .and_then(|v| string_map(v, "TagsToAdd"))?;
                let keys: Vec<String> = add.keys().cloned().collect();
                self.store.tag_job(name, add)?;
                log!("TagResource {name} {keys:?}");
                Ok(json!({}))
            }
            "UntagResource" => {
                let arn = required_str(body, "ResourceArn")?;
                let name = tags::job_name_from_arn(arn, region)?;
                let keys: Vec<String> = body
                    .get("TagsToRemove")
                    .and_then(Value::as_array)
                    .and_then(|keys| {
                        keys.iter()
                            .map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_input("TagsToRemove must be a list of tag keys")
                    })?;
                self.store.untag_job(name, &keys)?;
                log!("UntagResource {name} {keys:?}");
                Ok(json!({}))
            }
            "" => Err(ApiError {
                code: "UnknownOperationException",
                message: "missing X-Amz-Target header (AWSGlue.<Operation>)".into(),
            }),
            other => Err(ApiError {
                code: "UnknownOperationException",
                message: if catalog::OPERATIONS.contains(&other) {
                    format!("{other} is a Data Catalog operation: start glue-local with --catalog-endpoint to forward it")
                } else {
                    format!(
                        "glue-local does not implement {other} (only {})",
                        OPERATIONS.join(", ")
                    )
                },
            }),
        }
    }
}
