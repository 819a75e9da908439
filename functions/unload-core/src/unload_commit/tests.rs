//! The commit on an in-memory store: reconciliation, the refusals, and the crash tests of the
//! overwrite protocol (the commit stopped at every point, then repeated, as a retried
//! check-status repeats it).

use super::*;
use crate::contract::FileFormat;
use crate::fixtures::day_request;
use std::sync::Mutex;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:new";
const DAY: &str = "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/";
const TABLE: &str = "s3://lake-bucket/demo_master/parquet/orders/";
const STARTED: i64 = 1_000;

/// Objects by URI: (body, last modified).
#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, i64)>>,
}

impl MemoryStore {
    fn put(&self, uri: &str, body: &[u8], modified: i64) {
        self.objects
            .lock()
            .unwrap()
            .insert(uri.to_string(), (body.to_vec(), modified));
    }

    fn names(&self, folder: &str) -> Vec<String> {
        let objects = self.objects.lock().unwrap();
        objects
            .keys()
            .filter_map(|k| k.strip_prefix(folder))
            .map(str::to_string)
            .collect()
    }

    fn text(&self, uri: &str) -> Option<Value> {
        let objects = self.objects.lock().unwrap();
        objects
            .get(uri)
            .map(|(b, _)| serde_json::from_slice(b).unwrap())
    }
}

impl LakeStore for MemoryStore {
    async fn list(&self, folder: &str, recursive: bool) -> Result<Vec<StoredObject>> {
        let objects = self.objects.lock().unwrap();
        Ok(objects
            .iter()
            .filter_map(|(k, (b, m))| {
                let path = k.strip_prefix(folder)?;
                (recursive || !path.contains('/')).then(|| StoredObject {
                    path: path.to_string(),
                    bytes: b.len() as u64,
                    modified_secs: *m,
                })
            })
            .collect())
    }

    async fn read(&self, uri: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(uri)
            .map(|(b, _)| b.clone()))
    }

    async fn write(&self, uri: &str, body: Vec<u8>) -> Result<()> {
        self.put(uri, &body, STARTED + 60);
        Ok(())
    }

    async fn delete(&self, folder: &str, paths: &[String]) -> Result<()> {
        let mut objects = self.objects.lock().unwrap();
        for path in paths {
            objects.remove(&format!("{folder}{path}"));
        }
        Ok(())
    }
}

fn statement() -> Statement {
    Statement {
        id: "st-1".into(),
        created_secs: STARTED,
        finished_secs: STARTED + 30,
    }
}

fn prefix() -> String {
    file_prefix(EXEC)
}

/// What UNLOAD leaves: data files (name, rows, bytes) under the run's prefix and its manifest.
fn unload(store: &MemoryStore, folder: &str, files: &[(&str, u64, usize)]) {
    let p = prefix();
    let mut entries = Vec::new();
    for (name, rows, size) in files {
        store.put(
            &format!("{folder}{p}{name}"),
            &vec![b'x'; *size],
            STARTED + 20,
        );
        entries.push(json!({"url": format!("{folder}{p}{name}"),
                            "meta": {"content_length": size, "record_count": rows}}));
    }
    let total: u64 = files.iter().map(|f| f.1).sum();
    let manifest = json!({
        "entries": entries,
        "schema": {"elements": [
            {"name": "o_orderkey", "type": {"base": "bigint"}},
            {"name": "o_totalprice", "type": {"base": "numeric", "precision": 15, "scale": 2}},
            {"name": "o_orderdate", "type": {"base": "date"}},
            {"name": "o_comment", "type": {"base": "character varying", "length": 79}}]},
        "meta": {"content_length": 0, "record_count": total},
        "author": {"name": "Amazon Redshift", "version": "1.0.0"}
    });
    store.put(
        &format!("{folder}{p}manifest"),
        manifest.to_string().as_bytes(),
        STARTED + 21,
    );
}

/// The day folder as a previous run left it: two files and its manifest.
fn previous_day(store: &MemoryStore) {
    store.put(&format!("{DAY}part-0-old-c000.parquet"), b"old-0", 500);
    store.put(&format!("{DAY}part-1-old-c000.parquet"), b"old-1", 500);
    store.put(
        &format!("{DAY}_manifest.json"),
        br#"{"execution_id": "old", "state": "complete", "rows": 9, "files": [], "replaced_files": 0}"#,
        501,
    );
}

fn request() -> NormalizedRequest {
    day_request()
}

fn no_fault(_: &str) -> Result<()> {
    Ok(())
}

fn run(store: &MemoryStore, request: &NormalizedRequest) -> CommitOutcome {
    futures_lite(commit(store, request, EXEC, &statement(), no_fault)).unwrap()
}

/// Drives a future to completion (the store never waits).
fn futures_lite<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn a_day_commit_replaces_the_old_files_and_writes_the_manifest_last() {
    let store = MemoryStore::default();
    previous_day(&store);
    unload(
        &store,
        DAY,
        &[
            ("0000_part_00.parquet", 3, 30),
            ("0001_part_00.parquet", 2, 20),
        ],
    );
    let outcome = run(&store, &request());
    assert_eq!(
        outcome,
        CommitOutcome::Committed {
            rows: 5,
            files: 2,
            replaced: 2
        }
    );
    let p = prefix();
    assert_eq!(
        store.names(DAY),
        [
            "_manifest.json".to_string(),
            format!("{p}0000_part_00.parquet"),
            format!("{p}0001_part_00.parquet")
        ]
    );
    let manifest = store.text(&format!("{DAY}_manifest.json")).unwrap();
    assert_eq!(manifest["state"], "complete");
    assert_eq!(manifest["execution_id"], EXEC);
    assert_eq!(
        (manifest["rows"].as_u64(), manifest["bytes"].as_u64()),
        (Some(5), Some(50))
    );
    assert_eq!(manifest["replaced_files"], 2);
    assert_eq!(manifest["engine"], "unload");
    assert_eq!(
        manifest["columns"][1],
        json!({"name": "o_totalprice", "type": "decimal(15,2)"})
    );
    assert_eq!(manifest["columns"][3]["type"], "string");
    // What report reads accepts it.
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let parsed = crate::manifest::Manifest::parse(&bytes, "m", EXEC).unwrap();
    assert_eq!(parsed.rows, 5);
    // A repeat (a retried check-status) finds it done and changes nothing.
    assert_eq!(run(&store, &request()), outcome);
    assert_eq!(store.names(DAY).len(), 3);
}

#[test]
fn append_keeps_the_old_files() {
    let store = MemoryStore::default();
    previous_day(&store);
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    let append = NormalizedRequest {
        write_mode: WriteMode::Append,
        ..request()
    };
    assert_eq!(
        run(&store, &append),
        CommitOutcome::Committed {
            rows: 3,
            files: 1,
            replaced: 0
        }
    );
    assert_eq!(store.names(DAY).len(), 4);
}

#[test]
fn a_file_written_after_the_statement_started_is_not_replaced() {
    let store = MemoryStore::default();
    previous_day(&store);
    store.put(
        &format!("{DAY}part-9-newer-c000.parquet"),
        b"newer",
        STARTED + 5,
    );
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    assert!(matches!(
        run(&store, &request()),
        CommitOutcome::Committed { replaced: 2, .. }
    ));
    assert!(store
        .names(DAY)
        .contains(&"part-9-newer-c000.parquet".to_string()));
}

/// A refusal removes only this run's files; the previous data and manifest stay as they were.
fn assert_refused_and_untouched(store: &MemoryStore, request: &NormalizedRequest, says: &str) {
    let before_manifest = store.text(&format!("{DAY}_manifest.json"));
    match run(store, request) {
        CommitOutcome::Refused(reason) => assert!(reason.contains(says), "{reason}"),
        other => panic!("committed: {other:?}"),
    }
    let names = store.names(DAY);
    assert!(names.iter().all(|n| !n.starts_with(&prefix())), "{names:?}");
    assert_eq!(store.text(&format!("{DAY}_manifest.json")), before_manifest);
}

#[test]
fn files_that_do_not_match_unloads_manifest_fail_the_run() {
    let store = MemoryStore::default();
    previous_day(&store);
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    store.put(
        &format!("{DAY}{}0000_part_00.parquet", prefix()),
        b"short",
        STARTED + 20,
    );
    assert_refused_and_untouched(&store, &request(), "do not match UNLOAD's manifest");
    assert_eq!(store.names(DAY).len(), 3);

    let store = MemoryStore::default();
    previous_day(&store);
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    store.put(
        &format!("{DAY}{}0003_part_00.parquet", prefix()),
        b"stray",
        STARTED + 20,
    );
    assert_refused_and_untouched(&store, &request(), "not in the manifest");
}

#[test]
fn an_empty_source_never_wipes_archived_data_unless_allowed() {
    let store = MemoryStore::default();
    previous_day(&store);
    unload(&store, DAY, &[]);
    assert_refused_and_untouched(&store, &request(), "refusing to wipe them");
    assert_eq!(store.names(DAY).len(), 3);

    let store = MemoryStore::default();
    previous_day(&store);
    unload(
        &store,
        DAY,
        &[("0000_part_00", 0, 0), ("0001_part_00", 0, 0)],
    );
    let allowed = NormalizedRequest {
        allow_empty_source: true,
        file_format: FileFormat::Csv,
        ..request()
    };
    assert_eq!(
        run(&store, &allowed),
        CommitOutcome::Committed {
            rows: 0,
            files: 0,
            replaced: 2
        }
    );
    assert_eq!(store.names(DAY), ["_manifest.json"]);
}

#[test]
fn flat_files_and_day_folders_never_share_a_table_folder() {
    let store = MemoryStore::default();
    store.put(&format!("{TABLE}part-0-flat.parquet"), b"flat", 500);
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    match run(&store, &request()) {
        CommitOutcome::Refused(reason) => assert!(reason.contains("flat data files"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.names(DAY), Vec::<String>::new());

    let store = MemoryStore::default();
    store.put(&format!("{DAY}part-0-old.parquet"), b"day", 500);
    let full = NormalizedRequest {
        scope: Scope::Full,
        partition_key: None,
        target_uri: TABLE.into(),
        ..request()
    };
    unload(&store, TABLE, &[("0000_part_00.parquet", 3, 30)]);
    match run(&store, &full) {
        CommitOutcome::Refused(reason) => assert!(reason.contains("holds day folders"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_unload_manifest_is_an_error_not_a_success() {
    let store = MemoryStore::default();
    previous_day(&store);
    let err = futures_lite(commit(&store, &request(), EXEC, &statement(), no_fault)).unwrap_err();
    assert_eq!(err.kind(), "ManifestMissing");
}

#[test]
fn discard_removes_only_this_runs_files() {
    let store = MemoryStore::default();
    previous_day(&store);
    unload(&store, DAY, &[("0000_part_00.parquet", 3, 30)]);
    assert_eq!(futures_lite(discard(&store, &request(), EXEC)).unwrap(), 2);
    assert_eq!(store.names(DAY).len(), 3);
}

/// The crash tests: stop the commit at each point (a killed Lambda), look at what a reader
/// finds, then repeat it (the retried check-status) and check the final state.
#[test]
fn a_commit_stopped_anywhere_keeps_a_readable_version_and_a_repeat_finishes_it() {
    for point in FAULT_POINTS {
        let store = MemoryStore::default();
        previous_day(&store);
        unload(
            &store,
            DAY,
            &[
                ("0000_part_00.parquet", 3, 30),
                ("0001_part_00.parquet", 2, 20),
            ],
        );
        let crash = |at: &str| {
            if at == point {
                Err(UnloadError::StorageError(format!("crash at {at}")))
            } else {
                Ok(())
            }
        };
        let err = futures_lite(commit(&store, &request(), EXEC, &statement(), crash)).unwrap_err();
        assert!(err.to_string().contains(point));

        // Whatever the manifest names exists: the previous version before the commit point,
        // this run's after it.
        let manifest = store.text(&format!("{DAY}_manifest.json")).unwrap();
        let names = store.names(DAY);
        if point == "reconciled" {
            assert_eq!(manifest["execution_id"], "old", "{point}");
            assert!(
                names.contains(&"part-0-old-c000.parquet".to_string()),
                "{point}"
            );
        } else {
            assert_eq!(manifest["execution_id"], EXEC, "{point}");
            for file in manifest["files"].as_array().unwrap() {
                assert!(
                    names.contains(&file["path"].as_str().unwrap().to_string()),
                    "{point}"
                );
            }
        }

        assert_eq!(
            run(&store, &request()),
            CommitOutcome::Committed {
                rows: 5,
                files: 2,
                replaced: 2
            },
            "{point}"
        );
        let p = prefix();
        assert_eq!(
            store.names(DAY),
            [
                "_manifest.json".to_string(),
                format!("{p}0000_part_00.parquet"),
                format!("{p}0001_part_00.parquet")
            ],
            "{point}"
        );
        assert_eq!(
            store.text(&format!("{DAY}_manifest.json")).unwrap()["state"],
            "complete"
        );
    }
}
