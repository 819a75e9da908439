//! The Glue Data Catalog: GetTable, CreateTable, UpdateTable, BatchGetPartition,
//! BatchCreatePartition and BatchUpdatePartition, in batches of the API's limits. Decisions live
//! in `crate::catalog`; this converts and maps errors (throttling → GlueThrottled, retried by the
//! state machine like every other Glue call).

use super::{describe, error_code, is_throttling};
use crate::catalog::{Column, PartitionSpec, StoredPartition, StoredTable, TableSpec};
use crate::contract::CatalogTable;
use crate::error::{Result, UnloadError};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::{
    BatchUpdatePartitionRequestEntry, Column as GlueColumn, PartitionError, PartitionInput,
    PartitionValueList, SerDeInfo, StorageDescriptor, TableInput,
};
use aws_sdk_glue::Client;
use std::collections::HashMap;

/// BatchGetPartition takes at most 1000 partitions per call (Glue API reference).
pub const GET_BATCH: usize = 1000;
/// BatchCreatePartition and BatchUpdatePartition take at most 100 per call.
pub const WRITE_BATCH: usize = 100;
/// BatchDeletePartition takes at most 25 per call.
pub const DELETE_BATCH: usize = 25;

/// Another execution changed the same table at the same moment.
const CONCURRENT_CHANGE: &str = "ConcurrentModificationException";

/// Throttling, and a concurrent change of the same table (another execution registering), are
/// GlueThrottled: the state machine retries them with backoff. Anything else is GlueApiError.
fn catalog_error<E: ProvideErrorMetadata + std::error::Error>(
    operation: &str,
    err: &E,
) -> UnloadError {
    let text = describe(&format!("Glue {operation}"), err);
    match error_code(err) {
        code if is_throttling(code) || code == CONCURRENT_CHANGE => {
            UnloadError::GlueThrottled(text)
        }
        _ => UnloadError::GlueApiError(text),
    }
}

fn build_error(what: &str, err: impl std::fmt::Display) -> UnloadError {
    UnloadError::GlueApiError(format!("building the Glue {what} request failed: {err}"))
}

fn glue_columns(columns: &[Column]) -> Result<Vec<GlueColumn>> {
    columns
        .iter()
        .map(|c| {
            GlueColumn::builder()
                .name(&c.name)
                .r#type(&c.kind)
                .build()
                .map_err(|e| build_error("Column", e))
        })
        .collect()
}

fn columns_of(columns: &[GlueColumn]) -> Vec<Column> {
    columns
        .iter()
        .map(|c| Column::new(c.name(), c.r#type().unwrap_or_default()))
        .collect()
}

/// The files' description, for the table and each partition (`location` differs).
fn storage(spec: &TableSpec, location: &str) -> Result<StorageDescriptor> {
    let format = crate::catalog::storage_format(spec.format);
    let serde = SerDeInfo::builder()
        .serialization_library(format.serde)
        .set_parameters(Some(spec.serde_parameters().into_iter().collect()))
        .build();
    Ok(StorageDescriptor::builder()
        .set_columns(Some(glue_columns(&spec.columns)?))
        .location(location)
        .input_format(format.input_format)
        .output_format(format.output_format)
        .serde_info(serde)
        .build())
}

fn table_input(spec: &TableSpec) -> Result<TableInput> {
    let format = crate::catalog::storage_format(spec.format);
    let mut parameters: HashMap<String, String> = format
        .table_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parameters.insert("classification".into(), format.classification.into());
    parameters.insert("EXTERNAL".into(), "TRUE".into());
    TableInput::builder()
        .name(&spec.target.table)
        .description(
            "Registered by the redshift-unload catalog function after each successful run.",
        )
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(parameters))
        .set_partition_keys(Some(glue_columns(&spec.partition_keys)?))
        .storage_descriptor(storage(spec, &spec.location)?)
        .build()
        .map_err(|e| build_error("TableInput", e))
}

/// The table as stored, or None when it does not exist.
pub async fn get_table(client: &Client, target: &CatalogTable) -> Result<Option<StoredTable>> {
    match client
        .get_table()
        .database_name(&target.database)
        .name(&target.table)
        .send()
        .await
    {
        Ok(out) => Ok(out.table().map(|t| {
            let sd = t.storage_descriptor();
            StoredTable {
                location: sd.and_then(|s| s.location()).unwrap_or_default().into(),
                columns: columns_of(sd.map(|s| s.columns()).unwrap_or_default()),
                partition_keys: columns_of(t.partition_keys()),
                serde: sd
                    .and_then(|s| s.serde_info())
                    .and_then(|s| s.serialization_library())
                    .unwrap_or_default()
                    .into(),
            }
        })),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            // A missing table (or database): the database is the stack's, so CreateTable says which.
            Ok(None)
        }
        Err(err) => Err(catalog_error("GetTable", &err)),
    }
}

/// What CreateTable did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableCreated {
    Created,
    /// Another execution created it first: read it again and decide again.
    AlreadyExists,
}

pub async fn create_table(client: &Client, spec: &TableSpec) -> Result<TableCreated> {
    match client
        .create_table()
        .database_name(&spec.target.database)
        .table_input(table_input(spec)?)
        .send()
        .await
    {
        Ok(_) => Ok(TableCreated::Created),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(TableCreated::AlreadyExists)
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            Err(UnloadError::ConfigurationError(format!(
                "UNLOAD_CATALOG_DATABASE: the catalog database {} does not exist (the stack creates it; was it deleted?)",
                spec.target.database
            )))
        }
        Err(err) => Err(catalog_error("CreateTable", &err)),
    }
}

/// UpdateTable with the full definition (Glue replaces the table with what it is given).
pub async fn update_table(client: &Client, spec: &TableSpec) -> Result<()> {
    client
        .update_table()
        .database_name(&spec.target.database)
        .table_input(table_input(spec)?)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| catalog_error("UpdateTable", &err))
}

/// The partitions among `values` that exist.
pub async fn get_partitions(
    client: &Client,
    target: &CatalogTable,
    values: &[String],
) -> Result<Vec<StoredPartition>> {
    let mut found = Vec::new();
    for chunk in values.chunks(GET_BATCH) {
        let mut wanted = chunk
            .iter()
            .map(|v| value_list(v))
            .collect::<Result<Vec<_>>>()?;
        // Glue may leave keys unprocessed (throttled inside the batch): ask again for those.
        while !wanted.is_empty() {
            let out = client
                .batch_get_partition()
                .database_name(&target.database)
                .table_name(&target.table)
                .set_partitions_to_get(Some(wanted))
                .send()
                .await
                .map_err(|err| catalog_error("BatchGetPartition", &err))?;
            found.extend(out.partitions().iter().map(|p| {
                let sd = p.storage_descriptor();
                StoredPartition {
                    value: p.values().first().cloned().unwrap_or_default(),
                    location: sd.and_then(|s| s.location()).unwrap_or_default().into(),
                    columns: columns_of(sd.map(|s| s.columns()).unwrap_or_default()),
                }
            }));
            wanted = out.unprocessed_keys().to_vec();
        }
    }
    Ok(found)
}

fn value_list(value: &str) -> Result<PartitionValueList> {
    PartitionValueList::builder()
        .values(value)
        .build()
        .map_err(|e| build_error("PartitionValueList", e))
}

fn partition_input(spec: &TableSpec, partition: &PartitionSpec) -> Result<PartitionInput> {
    Ok(PartitionInput::builder()
        .values(&partition.value)
        .storage_descriptor(storage(spec, &partition.location)?)
        .build())
}

/// Creates the partitions; returns the values Glue says already exist (another execution's).
pub async fn create_partitions(
    client: &Client,
    spec: &TableSpec,
    partitions: &[PartitionSpec],
) -> Result<Vec<String>> {
    let mut existing = Vec::new();
    for chunk in partitions.chunks(WRITE_BATCH) {
        let inputs = chunk
            .iter()
            .map(|p| partition_input(spec, p))
            .collect::<Result<Vec<_>>>()?;
        let out = client
            .batch_create_partition()
            .database_name(&spec.target.database)
            .table_name(&spec.target.table)
            .set_partition_input_list(Some(inputs))
            .send()
            .await
            .map_err(|err| catalog_error("BatchCreatePartition", &err))?;
        existing.extend(tolerated(
            "BatchCreatePartition",
            out.errors(),
            "AlreadyExistsException",
        )?);
    }
    Ok(existing)
}

/// Replaces the partitions' StorageDescriptors with this run's.
pub async fn update_partitions(
    client: &Client,
    spec: &TableSpec,
    partitions: &[PartitionSpec],
) -> Result<()> {
    for chunk in partitions.chunks(WRITE_BATCH) {
        let entries = chunk
            .iter()
            .map(|p| {
                BatchUpdatePartitionRequestEntry::builder()
                    .partition_value_list(&p.value)
                    .partition_input(partition_input(spec, p)?)
                    .build()
                    .map_err(|e| build_error("BatchUpdatePartition entry", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let out = client
            .batch_update_partition()
            .database_name(&spec.target.database)
            .table_name(&spec.target.table)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| catalog_error("BatchUpdatePartition", &err))?;
        if let Some(error) = out.errors().first() {
            let detail = error.error_detail();
            return Err(partition_error(
                "BatchUpdatePartition",
                error
                    .partition_value_list()
                    .first()
                    .map_or("", String::as_str),
                detail.and_then(|d| d.error_code()),
                detail.and_then(|d| d.error_message()),
            ));
        }
    }
    Ok(())
}

/// Deletes the partitions; returns how many existed. One already gone is not an error.
pub async fn delete_partitions(
    client: &Client,
    target: &CatalogTable,
    values: &[String],
) -> Result<u64> {
    let mut deleted = 0;
    for chunk in values.chunks(DELETE_BATCH) {
        let keys = chunk
            .iter()
            .map(|v| value_list(v))
            .collect::<Result<Vec<_>>>()?;
        let out = client
            .batch_delete_partition()
            .database_name(&target.database)
            .table_name(&target.table)
            .set_partitions_to_delete(Some(keys))
            .send()
            .await
            .map_err(|err| catalog_error("BatchDeletePartition", &err))?;
        let missing = tolerated(
            "BatchDeletePartition",
            out.errors(),
            "EntityNotFoundException",
        )?;
        deleted += (chunk.len() - missing.len()) as u64;
    }
    Ok(deleted)
}

/// The partitions a batch call refused with the `tolerated` code; any other refusal fails.
fn tolerated(operation: &str, errors: &[PartitionError], tolerated: &str) -> Result<Vec<String>> {
    let mut values = Vec::new();
    for error in errors {
        let value = error
            .partition_values()
            .first()
            .cloned()
            .unwrap_or_default();
        let detail = error.error_detail();
        match detail.and_then(|d| d.error_code()) {
            Some(code) if code == tolerated => values.push(value),
            code => {
                return Err(partition_error(
                    operation,
                    &value,
                    code,
                    detail.and_then(|d| d.error_message()),
                ))
            }
        }
    }
    Ok(values)
}

/// A per-partition error of a batch call: throttling is retried by the state machine, the rest
/// is an API error naming the partition.
fn partition_error(
    operation: &str,
    value: &str,
    code: Option<&str>,
    message: Option<&str>,
) -> UnloadError {
    let text = format!(
        "Glue {operation} refused partition {value}: {} {}",
        code.unwrap_or("(no code)"),
        message.unwrap_or_default()
    );
    match code {
        Some(code) if is_throttling(code) || code == CONCURRENT_CHANGE => {
            UnloadError::GlueThrottled(text)
        }
        _ => UnloadError::GlueApiError(text),
    }
}
