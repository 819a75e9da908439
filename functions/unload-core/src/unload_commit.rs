//! The unload engine's commit: the overwrite protocol (docs/ARCHITECTURE.md) for the files an
//! UNLOAD statement wrote. The Glue job runs the protocol inside its run; an UNLOAD cannot, so
//! check-status runs this once the statement has FINISHED, before it calls the run succeeded:
//!
//! 1. read UNLOAD's manifest (`<name-prefix>manifest`, MANIFEST VERBOSE) and list the folder;
//! 2. reconcile: the files under this run's prefix are exactly the manifest's, at its sizes, and
//!    its per-file record counts add up to its total;
//! 3. refuse what the Glue engine refuses (an empty source over archived data, flat files and
//!    day folders in one table folder), removing only this run's files;
//! 4. write `_manifest.json` "committed" naming this run's files (the commit point), delete the
//!    files it replaces, rewrite it "complete", and delete UNLOAD's manifest last.
//!
//! Every step is safe to repeat: a check-status that dies mid-way is retried and finds the
//! protocol where it stopped. Until the commit point the previous files and manifest are as they
//! were; after it the manifest names only files that exist.

use crate::contract::{Named, NormalizedRequest, Scope, WriteMode};
use crate::error::{Result, UnloadError};
use crate::manifest;
use crate::unload_sql::file_prefix;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;

/// An object below a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Relative to the folder listed.
    pub path: String,
    pub bytes: u64,
    /// Last modified, seconds since the epoch.
    pub modified_secs: i64,
}

/// The object store the commit works on (S3 in aws/s3.rs; a map in the tests).
pub trait LakeStore {
    /// The objects below `folder` (an s3:// URI ending in '/'), paths relative to it; with
    /// `recursive` false only those directly in it.
    fn list(
        &self,
        folder: &str,
        recursive: bool,
    ) -> impl Future<Output = Result<Vec<StoredObject>>> + Send;
    fn read(&self, uri: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    fn write(&self, uri: &str, body: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
    /// Deletes `paths` (relative to `folder`); a missing object is not an error, as on S3.
    fn delete(&self, folder: &str, paths: &[String]) -> impl Future<Output = Result<()>> + Send;
}

/// The statement whose files are committed, as the Data API described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub id: String,
    pub created_secs: i64,
    pub finished_secs: i64,
}

/// One file of UNLOAD's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadedFile {
    /// Relative to the target folder.
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
}

/// UNLOAD's manifest (r_UNLOAD, MANIFEST VERBOSE): the files, their record counts, the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadManifest {
    pub files: Vec<UnloadedFile>,
    pub rows: u64,
    /// (name, Spark type name), as the Glue engine's manifest records columns.
    pub columns: Vec<(String, String)>,
}

/// What the commit concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The run's files are the current version.
    Committed {
        rows: u64,
        files: usize,
        replaced: usize,
    },
    /// The run failed (the reason): its files were removed, the previous data and manifest are
    /// as they were.
    Refused(String),
}

/// Where a commit stands: the fault points the crash tests stop it at.
pub const FAULT_POINTS: [&str; 4] = ["reconciled", "committed", "deleted", "completed"];

/// Runs the commit of `statement`'s files (see the module's steps). `fault` is called at each of
/// FAULT_POINTS (a no-op outside the crash tests).
pub async fn commit(
    store: &impl LakeStore,
    request: &NormalizedRequest,
    execution_id: &str,
    statement: &Statement,
    fault: impl Fn(&str) -> Result<()>,
) -> Result<CommitOutcome> {
    let folder = request.target_uri.as_str();
    let prefix = file_prefix(execution_id);
    let unload_manifest_path = format!("{prefix}manifest");
    let manifest_uri = manifest::uri_for(folder);
    let current = store.read(&manifest_uri).await?;
    if let Some(done) = current
        .as_deref()
        .and_then(|b| completed_by(b, execution_id))
    {
        // A repeat after the commit ended: only UNLOAD's manifest may be left to delete.
        store.delete(folder, &[unload_manifest_path]).await?;
        return Ok(done);
    }
    let unload_uri = format!("{folder}{unload_manifest_path}");
    let bytes = store.read(&unload_uri).await?.ok_or_else(|| {
        UnloadError::ManifestMissing(format!(
            "UNLOAD statement {} finished but wrote no manifest at {unload_uri}",
            statement.id
        ))
    })?;
    let unloaded = parse_unload_manifest(&bytes, &unload_uri, folder, &prefix)?;
    let listing = store.list(folder, true).await?;
    let mut problem = reconcile(&unloaded, &listing, &prefix, &unload_manifest_path)
        .or_else(|| layout_problem(request, &listing));
    if problem.is_none() {
        if let Some(table) = table_folder(request) {
            let root = store.list(&table, false).await?;
            problem = flat_files_problem(request, &table, &root);
        }
    }
    let old = previous_files(&listing, &prefix, statement.created_secs);
    if problem.is_none() && unloaded.rows == 0 {
        problem = wipe_problem(request, &old);
    }
    if let Some(reason) = problem {
        let mine = own_files(&listing, &prefix);
        store.delete(folder, &mine).await?;
        return Ok(CommitOutcome::Refused(reason));
    }
    fault("reconciled")?;

    let replaced: Vec<&StoredObject> = match request.write_mode {
        WriteMode::Overwrite => old,
        WriteMode::Append => Vec::new(),
    };
    // Empty objects (UNLOAD "might write empty Amazon S3 objects" for zero rows) hold no data.
    let (kept, empty): (Vec<&UnloadedFile>, Vec<&UnloadedFile>) =
        unloaded.files.iter().partition(|f| f.rows > 0);
    // A repeat after the commit point: the committed manifest counted what is being replaced
    // (some of it may be gone already).
    let resumed = current
        .as_deref()
        .and_then(|b| committed_by(b, execution_id));
    let counts = resumed.unwrap_or_else(|| {
        (
            replaced.len() as u64,
            replaced.iter().map(|o| o.bytes).sum(),
        )
    });
    let document = |state: &str, finished: Option<i64>| {
        run_manifest(
            request,
            execution_id,
            statement,
            &unloaded,
            &kept,
            counts,
            state,
            finished,
        )
    };
    if resumed.is_none() {
        store
            .write(&manifest_uri, document("committed", None))
            .await?;
    }
    fault("committed")?;
    let mut gone: Vec<String> = replaced.iter().map(|o| o.path.clone()).collect();
    gone.extend(empty.iter().map(|f| f.path.clone()));
    store.delete(folder, &gone).await?;
    fault("deleted")?;
    store
        .write(
            &manifest_uri,
            document("complete", Some(statement.finished_secs)),
        )
        .await?;
    fault("completed")?;
    store.delete(folder, &[unload_manifest_path]).await?;
    Ok(CommitOutcome::Committed {
        rows: unloaded.rows,
        files: kept.len(),
        replaced: usize::try_from(counts.0).unwrap_or(usize::MAX),
    })
}

/// Removes the files a failed or aborted statement of this execution left (a half-done UNLOAD
/// may have written some). Returns how many it removed.
pub async fn discard(
    store: &impl LakeStore,
    request: &NormalizedRequest,
    execution_id: &str,
) -> Result<usize> {
    let listing = store.list(&request.target_uri, false).await?;
    let mine = own_files(&listing, &file_prefix(execution_id));
    store.delete(&request.target_uri, &mine).await?;
    Ok(mine.len())
}

/// The outcome recorded by this execution's complete manifest, if that is what `bytes` holds.
fn completed_by(bytes: &[u8], execution_id: &str) -> Option<CommitOutcome> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    if doc["execution_id"] != execution_id || doc["state"] != "complete" {
        return None;
    }
    Some(CommitOutcome::Committed {
        rows: doc["rows"].as_u64()?,
        files: doc["files"].as_array()?.len(),
        replaced: usize::try_from(doc["replaced_files"].as_u64()?).ok()?,
    })
}

/// (replaced files, replaced bytes) of this execution's committed manifest, if `bytes` is one.
fn committed_by(bytes: &[u8], execution_id: &str) -> Option<(u64, u64)> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    if doc["execution_id"] != execution_id || doc["state"] != "committed" {
        return None;
    }
    Some((
        doc["replaced_files"].as_u64()?,
        doc["replaced_bytes"].as_u64()?,
    ))
}

/// Parses UNLOAD's manifest; every file must lie in `folder` under this run's `prefix`.
pub fn parse_unload_manifest(
    bytes: &[u8],
    uri: &str,
    folder: &str,
    prefix: &str,
) -> Result<UnloadManifest> {
    let bad = |why: String| UnloadError::ManifestInvalid(format!("{uri}: {why}"));
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
    let mut files = Vec::new();
    for entry in doc["entries"]
        .as_array()
        .ok_or_else(|| bad("no entries".into()))?
    {
        let url = entry["url"].as_str().unwrap_or_default();
        let path = url
            .strip_prefix(folder)
            .filter(|p| p.starts_with(prefix) && !p.contains('/'))
            .ok_or_else(|| bad(format!("lists {url:?}, outside {folder}{prefix}*")))?;
        let count = |field: &str| {
            entry["meta"][field]
                .as_u64()
                .ok_or_else(|| bad(format!("{url}: no meta.{field} (MANIFEST VERBOSE)")))
        };
        files.push(UnloadedFile {
            path: path.to_string(),
            bytes: count("content_length")?,
            rows: count("record_count")?,
        });
    }
    let rows = doc["meta"]["record_count"]
        .as_u64()
        .ok_or_else(|| bad("no meta.record_count (MANIFEST VERBOSE)".into()))?;
    let columns = doc["schema"]["elements"]
        .as_array()
        .map(|elements| elements.iter().map(column_of).collect())
        .unwrap_or_default();
    Ok(UnloadManifest {
        files,
        rows,
        columns,
    })
}

/// A manifest schema element → (name, Spark type name), the Glue engine's column vocabulary
/// (catalog.rs maps it to the Data Catalog's types).
fn column_of(element: &Value) -> (String, String) {
    let name = element["name"].as_str().unwrap_or_default().to_string();
    let ty = &element["type"];
    let kind = match ty["base"].as_str().unwrap_or_default() {
        "smallint" | "int2" => "smallint".to_string(),
        "integer" | "int" | "int4" => "int".to_string(),
        "bigint" | "int8" => "bigint".to_string(),
        "numeric" | "decimal" => format!(
            "decimal({},{})",
            ty["precision"].as_u64().unwrap_or(18),
            ty["scale"].as_u64().unwrap_or(0)
        ),
        "real" | "float4" => "float".to_string(),
        "double precision" | "float8" | "float" => "double".to_string(),
        "boolean" | "bool" => "boolean".to_string(),
        "character" | "character varying" | "char" | "varchar" | "text" | "bpchar" => {
            "string".to_string()
        }
        "date" => "date".to_string(),
        "timestamp without time zone" | "timestamp" => "timestamp_ntz".to_string(),
        "timestamp with time zone" | "timestamptz" => "timestamp".to_string(),
        other => other.to_string(),
    };
    (name, kind)
}

/// The files under this run's prefix must be exactly the manifest's, at its sizes, and its
/// per-file counts must add up to its total. The reason it does not, if it does not.
fn reconcile(
    unloaded: &UnloadManifest,
    listing: &[StoredObject],
    prefix: &str,
    unload_manifest_path: &str,
) -> Option<String> {
    let listed: BTreeMap<&str, u64> = listing
        .iter()
        .filter(|o| o.path.starts_with(prefix) && o.path != unload_manifest_path)
        .map(|o| (o.path.as_str(), o.bytes))
        .collect();
    let expected: BTreeMap<&str, u64> = unloaded
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.bytes))
        .collect();
    if listed != expected {
        let missing: Vec<&str> = expected
            .iter()
            .filter(|(p, b)| listed.get(*p) != Some(b))
            .map(|(p, _)| *p)
            .collect();
        let extra: Vec<&str> = listed
            .keys()
            .filter(|p| !expected.contains_key(*p))
            .copied()
            .collect();
        return Some(format!(
            "the files under {prefix}* do not match UNLOAD's manifest: missing or of another size {missing:?}, not in the manifest {extra:?}"
        ));
    }
    let sum: u64 = unloaded.files.iter().map(|f| f.rows).sum();
    (sum != unloaded.rows).then(|| {
        format!(
            "UNLOAD's manifest counts {sum} rows in its files but {} in all",
            unloaded.rows
        )
    })
}

/// A flat (whole-table) run never puts its files beside day folders.
fn layout_problem(request: &NormalizedRequest, listing: &[StoredObject]) -> Option<String> {
    if request.scope != Scope::Full {
        return None;
    }
    let day = listing.iter().find(|o| {
        o.path
            .split_once('/')
            .is_some_and(|(first, _)| first.contains('=') && !is_hidden(first))
    })?;
    Some(format!(
        "{} holds day folders ({}) and a flat whole-table run would put its files beside them; refusing to mix flat files and day folders in one table folder",
        request.target_uri, day.path
    ))
}

/// A day run never adds a day folder beside flat files of a whole-table run.
fn flat_files_problem(
    request: &NormalizedRequest,
    table: &str,
    root: &[StoredObject],
) -> Option<String> {
    let flat: Vec<&str> = root
        .iter()
        .map(|o| o.path.as_str())
        .filter(|p| !is_hidden(p))
        .collect();
    let first = flat.first()?;
    Some(format!(
        "{table} holds {} flat data files ({first}, ...) from a whole-table run; refusing to add day folders beside them ({})",
        flat.len(),
        request.target_uri
    ))
}

/// The table folder above a day folder; None for a whole-table run (its target is the table).
fn table_folder(request: &NormalizedRequest) -> Option<String> {
    if request.scope == Scope::Full {
        return None;
    }
    let trimmed = request.target_uri.trim_end_matches('/');
    trimmed.rfind('/').map(|i| format!("{}/", &trimmed[..i]))
}

/// The data files this run replaces: those directly in its folder, not hidden, not its own, and
/// written before its statement started (a file written later belongs to someone else's run).
fn previous_files<'a>(
    listing: &'a [StoredObject],
    prefix: &str,
    started_secs: i64,
) -> Vec<&'a StoredObject> {
    listing
        .iter()
        .filter(|o| !o.path.contains('/') && !is_hidden(&o.path) && !o.path.starts_with(prefix))
        .filter(|o| o.modified_secs <= started_secs)
        .collect()
}

/// An empty source over archived data: only AllowEmptySource lets the data go.
fn wipe_problem(request: &NormalizedRequest, old: &[&StoredObject]) -> Option<String> {
    (request.write_mode == WriteMode::Overwrite && !old.is_empty() && !request.allow_empty_source)
        .then(|| {
            format!(
                "the source returned 0 rows for {} ({}) but {} holds {} data files; refusing to wipe them (set AllowEmptySource to allow it)",
                request.table,
                request.scope.label(),
                request.target_uri,
                old.len()
            )
        })
}

/// This run's objects in a listing (its data files and UNLOAD's manifest).
fn own_files(listing: &[StoredObject], prefix: &str) -> Vec<String> {
    listing
        .iter()
        .filter(|o| o.path.starts_with(prefix) && !o.path.contains('/'))
        .map(|o| o.path.clone())
        .collect()
}

/// Spark's rule for names that are not data: `.x`, and `_x` unless it is a `_k=v` folder.
fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || (name.starts_with('_') && !name.contains('='))
}

/// The project's run manifest (docs/CONTRACT.md "The run manifest"), as the Glue job writes it,
/// plus the engine and the statement.
#[allow(clippy::too_many_arguments)]
fn run_manifest(
    request: &NormalizedRequest,
    execution_id: &str,
    statement: &Statement,
    unloaded: &UnloadManifest,
    kept: &[&UnloadedFile],
    (replaced_files, replaced_bytes): (u64, u64),
    state: &str,
    finished_secs: Option<i64>,
) -> Vec<u8> {
    let bytes: u64 = kept.iter().map(|f| f.bytes).sum();
    let doc = json!({
        "version": 2,
        "engine": "unload",
        "statement_id": statement.id,
        "table": request.table,
        "scope": if request.scope == Scope::Full { "full" } else { "day" },
        "partition_key": request.partition_key,
        "partition_value": request.partition_value(),
        "format": request.file_format.name(),
        "write_mode": request.write_mode.name(),
        "target_uri": request.target_uri,
        "execution_id": execution_id,
        "state": state,
        "source_rows": unloaded.rows,
        "source_rows_at_start": Value::Null,
        "rows": unloaded.rows,
        "files": kept.iter().map(|f| json!({"path": f.path, "bytes": f.bytes})).collect::<Vec<_>>(),
        "bytes": bytes,
        "replaced_files": replaced_files,
        "replaced_bytes": replaced_bytes,
        "removed_days": [],
        "columns": unloaded.columns.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
        "warnings": [],
        "started_at": crate::run::iso_time(statement.created_secs),
        "finished_at": finished_secs.and_then(crate::run::iso_time),
    });
    let mut text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    text.push(b'\n');
    text
}

#[cfg(test)]
mod tests;
