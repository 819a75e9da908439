//! The run manifest the Glue job writes beside the data (`<target_uri>_manifest.json`).

use crate::error::{Result, UnloadError};
use serde::Deserialize;

pub const FILE_NAME: &str = "_manifest.json";

/// The manifest's URI for a target folder URI (which ends with '/').
pub fn uri_for(target_uri: &str) -> String {
    format!("{}/{FILE_NAME}", target_uri.trim_end_matches('/'))
}

/// The fields report uses; the rest of the manifest is for people and tools.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    pub execution_id: String,
    pub rows: u64,
    #[serde(default)]
    pub source_rows: Option<u64>,
    pub bytes: u64,
    pub files: Vec<ManifestFile>,
    /// Advisory findings that did not fail the run (version 2; absent in version 1).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The unloaded columns with Spark's type names, in the files' order.
    #[serde(default)]
    pub columns: Vec<ManifestColumn>,
    /// Day folders (`<key>_key=<day>`) a whole-table overwrite removed: days gone from the source.
    #[serde(default)]
    pub removed_days: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: u64,
}

impl Manifest {
    /// Parses and checks a manifest: it must belong to this execution (not a stale one from an
    /// earlier run of the same partition) and agree with itself.
    pub fn parse(bytes: &[u8], uri: &str, execution_id: &str) -> Result<Self> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
            UnloadError::ManifestInvalid(format!("{uri} is not a valid run manifest: {e}"))
        })?;
        if manifest.execution_id != execution_id {
            return Err(UnloadError::ManifestInvalid(format!(
                "{uri} was written by execution {:?}, not this one ({execution_id:?}): the run did not write its manifest",
                manifest.execution_id
            )));
        }
        if let Some(source) = manifest.source_rows.filter(|s| *s != manifest.rows) {
            return Err(UnloadError::ManifestInvalid(format!(
                "{uri} records {} rows landed but {source} rows in the source",
                manifest.rows
            )));
        }
        let file_bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
        if file_bytes != manifest.bytes {
            return Err(UnloadError::ManifestInvalid(format!(
                "{uri} lists files of {file_bytes} bytes but a total of {}",
                manifest.bytes
            )));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:abc";

    fn text(execution: &str, rows: u64, source: u64, bytes: u64) -> String {
        format!(
            r#"{{"version":1,"table":"demo_master.orders","execution_id":"{execution}","rows":{rows},"source_rows":{source},
               "bytes":{bytes},"files":[{{"path":"part-0.parquet","bytes":100}},{{"path":"part-1.parquet","bytes":23}}],
               "columns":[{{"name":"o_orderkey","type":"bigint"}}]}}"#
        )
    }

    #[test]
    fn uri_sits_inside_the_target_folder() {
        assert_eq!(
            uri_for("s3://b/p/t/k_key=2020-01-01/"),
            "s3://b/p/t/k_key=2020-01-01/_manifest.json"
        );
    }

    #[test]
    fn a_consistent_manifest_parses() {
        let m = Manifest::parse(text(EXEC, 415, 415, 123).as_bytes(), "u", EXEC).unwrap();
        assert_eq!((m.rows, m.bytes, m.files.len()), (415, 123, 2));
    }

    #[test]
    fn a_manifest_of_another_execution_is_refused() {
        let err = Manifest::parse(text("other", 415, 415, 123).as_bytes(), "u", EXEC).unwrap_err();
        assert_eq!(err.kind(), "ManifestInvalid");
        assert!(err.to_string().contains("not this one"));
    }

    #[test]
    fn inconsistent_counts_are_refused() {
        assert_eq!(
            Manifest::parse(text(EXEC, 414, 415, 123).as_bytes(), "u", EXEC)
                .unwrap_err()
                .kind(),
            "ManifestInvalid"
        );
        assert_eq!(
            Manifest::parse(text(EXEC, 415, 415, 999).as_bytes(), "u", EXEC)
                .unwrap_err()
                .kind(),
            "ManifestInvalid"
        );
        assert_eq!(
            Manifest::parse(b"{not json", "u", EXEC).unwrap_err().kind(),
            "ManifestInvalid"
        );
    }
}
