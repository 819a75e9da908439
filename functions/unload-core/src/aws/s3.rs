//! S3: does the Glue script exist (HeadObject), read a run manifest (GetObject), and the lake
//! the unload engine's commit lists, writes and deletes in (`S3Lake`).

use super::describe;
use crate::contract::State;
use crate::error::{Result, UnloadError};
use crate::manifest::{self, Manifest};
use crate::unload_commit::{LakeStore, StoredObject};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
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
    read_object_at_most(client, uri, u64::MAX).await
}

/// The object's bytes, or None when it does not exist; an object larger than `max_bytes` is
/// refused (InvalidRequest) from its Content-Length, before its body is read.
pub async fn read_object_at_most(
    client: &Client,
    uri: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>> {
    let (bucket, key) = split_uri(uri)?;
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let size = out.content_length().map_or(0, |n| n.max(0) as u64);
            if size > max_bytes {
                return Err(UnloadError::InvalidRequest(format!(
                    "{uri} is {size} bytes; at most {max_bytes} are read"
                )));
            }
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

/// The lake as the unload engine's commit sees it (unload_commit::LakeStore).
pub struct S3Lake {
    pub client: Client,
}

/// DeleteObjects takes "up to 1,000 keys" per request (S3 API reference).
const DELETE_BATCH: usize = 1000;

fn storage_error<E: std::error::Error>(what: &str, err: &E) -> UnloadError {
    UnloadError::StorageError(describe(what, err))
}

impl LakeStore for S3Lake {
    async fn list(&self, folder: &str, recursive: bool) -> Result<Vec<StoredObject>> {
        let (bucket, prefix) = split_uri(folder)?;
        let mut objects = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter((!recursive).then(|| "/".to_string()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| storage_error(&format!("S3 ListObjectsV2 {folder}"), &e))?;
            for object in page.contents() {
                let Some(path) = object.key().and_then(|k| k.strip_prefix(prefix)) else {
                    continue;
                };
                if path.is_empty() || path.ends_with('/') {
                    continue;
                }
                objects.push(StoredObject {
                    path: path.to_string(),
                    bytes: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                    modified_secs: object.last_modified().map(|t| t.secs()).unwrap_or(0),
                });
            }
        }
        Ok(objects)
    }

    async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>> {
        read_object(&self.client, uri).await
    }

    async fn write(&self, uri: &str, body: Vec<u8>) -> Result<()> {
        let (bucket, key) = split_uri(uri)?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| storage_error(&format!("S3 PutObject {uri}"), &e))?;
        Ok(())
    }

    async fn delete(&self, folder: &str, paths: &[String]) -> Result<()> {
        let (bucket, prefix) = split_uri(folder)?;
        for batch in paths.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|path| {
                    ObjectIdentifier::builder()
                        .key(format!("{prefix}{path}"))
                        .build()
                        .map_err(|e| UnloadError::StorageError(format!("S3 DeleteObjects: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| UnloadError::StorageError(format!("S3 DeleteObjects: {e}")))?;
            let out = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| storage_error(&format!("S3 DeleteObjects in {folder}"), &e))?;
            if let Some(failed) = out.errors().first() {
                return Err(UnloadError::StorageError(format!(
                    "S3 DeleteObjects in {folder}: {} of {} keys not deleted, e.g. {:?}: {}",
                    out.errors().len(),
                    batch.len(),
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }
}
