//! The unload engine's statement: Redshift's UNLOAD, built from validated parts only (quoted
//! identifiers, date literals made from a parsed day, an S3 prefix and a role ARN checked again
//! here), never from request text. The shape follows the UNLOAD reference (Redshift Database
//! Developer Guide, r_UNLOAD):
//!
//! - no PARTITION BY: the TO path ends in a name prefix, and UNLOAD writes
//!   `<name-prefix><slice>_part_<nn>` (Parquet adds `.parquet`) and `<name-prefix>manifest`
//!   beside it, so a one-day run writes run-unique names straight into its day folder, beside the
//!   files it replaces, as the Glue engine does;
//! - no ALLOWOVERWRITE or CLEANPATH: "by default, UNLOAD fails if it finds files that it would
//!   possibly overwrite", and the old files go only after the new ones are reconciled
//!   (unload_commit.rs);
//! - MAXFILESIZE bounds each file (5 MB to 6.2 GB; Parquet rounds it down to 32 MB row groups);
//! - MANIFEST VERBOSE lists every file with its record count, which the commit reconciles.

use crate::checks;
use crate::contract::{FileFormat, Named, NormalizedRequest, Scope};
use crate::error::{Result, UnloadError};
use chrono::Datelike;
use sha2::{Digest, Sha256};

/// MAXFILESIZE's range in MB (r_UNLOAD: "a decimal value between 5 MB and 6.2 GB").
pub const MAX_FILE_SIZE_MB: std::ops::RangeInclusive<u32> = 5..=6200;

/// One run's statement and where its files land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadStatement {
    pub sql: String,
    /// The TO path: `<target folder>run-<run key>_`. Every file of the run starts with it.
    pub name_prefix: String,
}

/// The execution's key: 16 hex digits of SHA-256(execution id). Deterministic, so a repeated
/// task finds the files of the statement its execution started.
pub fn run_key(execution_id: &str) -> String {
    let digest = Sha256::digest(execution_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The Data API's ClientToken for the execution's statement (1 to 64 characters): a retried
/// ExecuteStatement with the same token returns the statement already started instead of
/// running a second UNLOAD.
pub fn client_token(execution_id: &str) -> String {
    let digest = Sha256::digest(execution_id.as_bytes());
    let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
    format!("unload-{hex}")
}

/// The name prefix of the execution's files inside the target folder (`run-<key>_`).
pub fn file_prefix(execution_id: &str) -> String {
    format!("run-{}_", run_key(execution_id))
}

/// The UNLOAD of `request` for this execution. Refuses (InvalidRequest) what the unload engine
/// cannot write; validate refused it already, this keeps the builder safe alone.
pub fn statement(
    request: &NormalizedRequest,
    execution_id: &str,
    max_file_size_mb: u32,
) -> Result<UnloadStatement> {
    let format = match request.file_format {
        FileFormat::Parquet => "PARQUET",
        FileFormat::Csv => "CSV",
        FileFormat::Json => "JSON",
        other => {
            return Err(UnloadError::InvalidRequest(format!(
                "FileFormat: {} is not written by Redshift UNLOAD (parquet, csv or json)",
                other.name()
            )))
        }
    };
    if !MAX_FILE_SIZE_MB.contains(&max_file_size_mb) {
        return Err(UnloadError::ConfigurationError(format!(
            "the unload file size {max_file_size_mb} MB is outside UNLOAD's MAXFILESIZE range (5 to 6200 MB)"
        )));
    }
    let role = request.redshift_role_arn.as_deref().ok_or_else(|| {
        UnloadError::InvalidRequest("RedshiftRoleArn is required by the unload engine".into())
    })?;
    let role = checks::role_arn("RedshiftRoleArn", role)?;
    let target = checks::s3_location("target_uri", &request.target_uri)?;
    let name_prefix = format!("{}/{}", target.uri(), file_prefix(execution_id));
    let query = select_query(request)?;
    let sql = format!(
        "UNLOAD ({})\nTO {}\nIAM_ROLE {}\nFORMAT AS {format}\nMAXFILESIZE {max_file_size_mb} MB\nMANIFEST VERBOSE",
        literal(&query),
        literal(&name_prefix),
        literal(&role),
    );
    Ok(UnloadStatement { sql, name_prefix })
}

/// The query UNLOAD runs: the Glue engine's (glue-scripts/unload_table.py `select_query`), so
/// both engines read the same rows. A day is a half-open range, exact for date columns and right
/// for timestamp columns too.
pub fn select_query(request: &NormalizedRequest) -> Result<String> {
    let table = format!(
        "{}.{}",
        identifier(&request.schema)?,
        identifier(&request.table_name)?
    );
    let Scope::Day(day) = request.scope else {
        return Ok(format!("SELECT * FROM {table}"));
    };
    let key = request
        .partition_key
        .as_deref()
        .ok_or_else(|| UnloadError::InvalidRequest("a day run needs its DayPartitionKey".into()))?;
    let column = identifier(key)?;
    let mut query = format!(
        "SELECT * FROM {table} WHERE {column} >= DATE '{}'",
        day.date().format("%Y-%m-%d")
    );
    // No upper bound after 9999-12-31: SQL dates end there (and Python's, in the Glue engine).
    if let Some(next) = day.date().succ_opt().filter(|d| d.year() <= 9999) {
        query.push_str(&format!(
            " AND {column} < DATE '{}'",
            next.format("%Y-%m-%d")
        ));
    }
    Ok(query)
}

/// A checked identifier, double-quoted (a validated identifier holds no quote; doubling any
/// keeps the quoting right on its own).
fn identifier(name: &str) -> Result<String> {
    let checked = checks::identifier("identifier", name)?;
    Ok(format!("\"{}\"", checked.replace('"', "\"\"")))
}

/// A SQL string literal: single quotes doubled, as UNLOAD's reference asks for the quoted query.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::day_request;

    const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:unload:abc";
    const ROLE: &str = "arn:aws:iam::123456789012:role/unload";

    fn request() -> NormalizedRequest {
        NormalizedRequest {
            redshift_role_arn: Some(ROLE.into()),
            ..day_request()
        }
    }

    #[test]
    fn a_day_unloads_a_half_open_range_into_its_day_folder() {
        let statement = statement(&request(), EXEC, 256).unwrap();
        let key = run_key(EXEC);
        assert_eq!(
            statement.sql,
            format!(
                "UNLOAD ('SELECT * FROM \"demo_master\".\"orders\" WHERE \"o_orderdate\" >= DATE ''1998-07-21'' AND \"o_orderdate\" < DATE ''1998-07-22''')\n\
                 TO 's3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/run-{key}_'\n\
                 IAM_ROLE '{ROLE}'\nFORMAT AS PARQUET\nMAXFILESIZE 256 MB\nMANIFEST VERBOSE"
            )
        );
        assert_eq!(
            statement.name_prefix,
            format!(
                "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/run-{key}_"
            )
        );
    }

    #[test]
    fn the_whole_table_has_no_predicate_and_the_last_day_no_upper_bound() {
        let full = NormalizedRequest {
            scope: Scope::Full,
            partition_key: None,
            file_format: FileFormat::Csv,
            target_uri: "s3://lake-bucket/demo_master/csv/orders/".into(),
            ..request()
        };
        let s = statement(&full, EXEC, 5).unwrap();
        assert!(s
            .sql
            .starts_with("UNLOAD ('SELECT * FROM \"demo_master\".\"orders\"')\n"));
        assert!(s.sql.contains("\nFORMAT AS CSV\nMAXFILESIZE 5 MB\n"));
        let last = NormalizedRequest {
            scope: Scope::Day(crate::fixtures::day("9999-12-31")),
            ..request()
        };
        assert!(select_query(&last)
            .unwrap()
            .ends_with("WHERE \"o_orderdate\" >= DATE '9999-12-31'"));
    }

    #[test]
    fn keys_and_tokens_are_deterministic_per_execution() {
        assert_eq!(run_key(EXEC), run_key(EXEC));
        assert_ne!(run_key(EXEC), run_key("another"));
        assert_eq!(run_key(EXEC).len(), 16);
        let token = client_token(EXEC);
        assert!(token.len() <= 64 && token.starts_with("unload-"));
        assert_eq!(token, client_token(EXEC));
        assert_ne!(token, client_token("another"));
    }

    #[test]
    fn nothing_unchecked_reaches_the_statement() {
        let cases = [
            NormalizedRequest {
                file_format: FileFormat::Orc,
                ..request()
            },
            NormalizedRequest {
                redshift_role_arn: Some("arn:aws:iam::1:role/x' --".into()),
                ..request()
            },
            NormalizedRequest {
                redshift_role_arn: None,
                ..request()
            },
            NormalizedRequest {
                table_name: "orders\" --".into(),
                ..request()
            },
            NormalizedRequest {
                partition_key: Some("o_orderdate'".into()),
                ..request()
            },
            NormalizedRequest {
                target_uri: "s3://lake-bucket/x'y/".into(),
                ..request()
            },
        ];
        for case in cases {
            let err = statement(&case, EXEC, 256).unwrap_err();
            assert_eq!(err.kind(), "InvalidRequest", "{case:?}: {err}");
        }
        assert_eq!(
            statement(&request(), EXEC, 4).unwrap_err().kind(),
            "ConfigurationError"
        );
    }
}
