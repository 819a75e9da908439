//! S3: does the Glue script exist (HeadObject), and read a run manifest (GetObject).

use super::describe;
use crate::contract::State;
use crate::error::{Result, UnloadError};
use crate::manifest::{self, Manifest};
use aws_sdk_s3::Client;

/// `s3://bucket/key` → (bucket, key). The URIs here were validated upstream or came from Glue.
pub fn split_uri(uri: &str) -> Result<(&str, &str)> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            UnloadError::ConfigurationError(format!("{uri:?} is not an s3://bucket/key URI"))
        })
}

pub async fn object_exists(client: &Client, uri: &str) -> Result<bool> {
    let (bucket, key) = split_uri(uri)?;
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) || is_404(&err) => {
            Ok(false)
        }
        Err(err) => Err(UnloadError::StorageError(describe(
            &format!("S3 HeadObject {uri}"),
            &err,
        ))),
    }
}

/// The object's bytes, or None when it does not exist.
pub async fn read_object(client: &Client, uri: &str) -> Result<Option<Vec<u8>>> {
    let (bucket, key) = split_uri(uri)?;
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let body = out.body.collect().await.map_err(|e| {
                UnloadError::StorageError(format!(
                    "S3 GetObject {uri}: reading the body failed: {e}"
                ))
            })?;
            Ok(Some(body.to_vec()))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) || is_404(&err) => {
            Ok(None)
        }
        Err(err) => Err(UnloadError::StorageError(describe(
            &format!("S3 GetObject {uri}"),
            &err,
        ))),
    }
}

/// The manifest of this execution's successful run, checked (`Manifest::parse`).
pub async fn read_run_manifest(client: &Client, state: &State) -> Result<Manifest> {
    let request = state.request()?;
    let execution = state.execution()?;
    let uri = manifest::uri_for(&request.target_uri);
    let bytes = read_object(client, &uri).await?.ok_or_else(|| {
        UnloadError::ManifestMissing(format!(
            "the Glue run succeeded but wrote no manifest at {uri}"
        ))
    })?;
    Manifest::parse(&bytes, &uri, &execution.id)
}

/// HeadObject's 404 carries no error code (no body), so look at the status.
fn is_404<E>(err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    err.raw_response()
        .is_some_and(|r| r.status().as_u16() == 404)
}
