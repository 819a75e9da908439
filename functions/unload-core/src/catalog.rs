//! The Glue Data Catalog side of a run: which catalog table a request lands in, the table and
//! partitions a successful run should leave there, and what to do about a table that differs
//! (schema drift). Pure: `aws::catalog` reads and writes the catalog, the catalog function decides
//! with what is here. Each format's SerDe and table parameters: docs/ARCHITECTURE.md, "The catalog".

use crate::checks::{invalid, shown};
use crate::contract::{CatalogTable, FileFormat, Named, NormalizedRequest, Scope};
use crate::error::{Result, UnloadError};
use crate::manifest::Manifest;
use std::collections::BTreeSet;

/// Glue's (and Athena's) limit on a database or table name.
pub const MAX_NAME_CHARS: usize = 255;

/// The catalog table of (schema, table, format): `<schema>__<table>__<format>`. Each format gets
/// its own table because its files sit in their own folder (`<schema>/<format>/<table>/`).
pub fn table_name(schema: &str, table: &str, format: FileFormat) -> String {
    format!("{schema}__{table}__{}", format.name())
}

/// A name Athena and Redshift Spectrum can use: lower-case ASCII letters, digits and '_'.
pub fn catalog_name(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_NAME_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(value.to_string())
    } else {
        Err(invalid(
            field,
            format!(
                "{} is not a catalog name: 1 to {MAX_NAME_CHARS} lower-case ASCII letters, digits or '_'",
                shown(value)
            ),
        ))
    }
}

/// Where validate says a run is registered: in the stack's database unless the request opts out.
/// A request that asks for registration on a stack without a database is refused.
pub fn target(
    database: Option<&str>,
    register: Option<bool>,
    schema: &str,
    table: &str,
    format: FileFormat,
) -> Result<Option<CatalogTable>> {
    let database = match (database, register) {
        (_, Some(false)) | (None, None) => return Ok(None),
        (None, Some(true)) => {
            return Err(invalid(
                "RegisterInCatalog",
                "this stack has no catalog database (its CatalogDatabaseName is empty)",
            ))
        }
        (Some(database), _) => database,
    };
    // Glue stores database names in lower case (the stack's default name may carry capitals).
    let database = catalog_name(
        crate::request::env::CATALOG_DATABASE,
        &database.to_ascii_lowercase(),
    )
    .map_err(|e| match e {
        UnloadError::InvalidRequest(msg) => UnloadError::ConfigurationError(msg),
        other => other,
    })?;
    let table =
        catalog_name("PrefixedTablename", &table_name(schema, table, format)).map_err(|e| {
            invalid(
                "RegisterInCatalog",
                format!("{e}; unload it with RegisterInCatalog n, or rename the table"),
            )
        })?;
    Ok(Some(CatalogTable { database, table }))
}

/// A column as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: String,
}

impl Column {
    pub fn new(name: &str, kind: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: kind.to_string(),
        }
    }
}

/// How a format's files are read: the StorageDescriptor's classes and the table's classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFormat {
    pub input_format: String,
    pub output_format: String,
    pub serde: &'static str,
    pub serde_parameters: Vec<(&'static str, &'static str)>,
    pub classification: &'static str,
    /// Table parameters beyond `classification` and `EXTERNAL`.
    pub table_parameters: Vec<(&'static str, &'static str)>,
}

const TEXT_INPUT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
const HIVE_IO: &str = "org.apache.hadoop.hive.ql.io";

/// The catalog's description of the files the Glue job writes in `format` (see the job's writer
/// options in glue-scripts/unload_table.py and docs/ARCHITECTURE.md, "The catalog").
pub fn storage_format(format: FileFormat) -> StorageFormat {
    let (input, output, serde): (String, String, &'static str) = match format {
        FileFormat::Parquet => (
            format!("{HIVE_IO}.parquet.MapredParquetInputFormat"),
            format!("{HIVE_IO}.parquet.MapredParquetOutputFormat"),
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        ),
        FileFormat::Orc => (
            format!("{HIVE_IO}.orc.OrcInputFormat"),
            format!("{HIVE_IO}.orc.OrcOutputFormat"),
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        ),
        // JSON Lines (gzip, which the text format reads); the JSON SerDe Spectrum supports.
        FileFormat::Json => (
            TEXT_INPUT.into(),
            TEXT_OUTPUT.into(),
            "org.openx.data.jsonserde.JsonSerDe",
        ),
        // RFC 4180 quoting with a header line; every column is text (see `column_type`).
        FileFormat::Csv => (
            TEXT_INPUT.into(),
            TEXT_OUTPUT.into(),
            "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        ),
        FileFormat::Avro => (
            format!("{HIVE_IO}.avro.AvroContainerInputFormat"),
            format!("{HIVE_IO}.avro.AvroContainerOutputFormat"),
            "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
        ),
    };
    let (serde_parameters, table_parameters) = match format {
        FileFormat::Parquet | FileFormat::Orc => (vec![("serialization.format", "1")], vec![]),
        FileFormat::Csv => (
            vec![
                ("separatorChar", ","),
                ("quoteChar", "\""),
                ("escapeChar", "\\"),
            ],
            vec![("skip.header.line.count", "1")],
        ),
        FileFormat::Json | FileFormat::Avro => (vec![], vec![]),
    };
    StorageFormat {
        input_format: input,
        output_format: output,
        serde,
        serde_parameters,
        classification: format.name(),
        table_parameters,
    }
}

/// The catalog type of a column the manifest records with Spark's type name (`simpleString`).
/// CSV is text: OpenCSVSerDe reads every column as a string. A type with no catalog equivalent
/// here is refused rather than registered wrong.
pub fn column_type(format: FileFormat, spark_type: &str) -> Result<String> {
    if format == FileFormat::Csv {
        return Ok("string".into());
    }
    let kind = spark_type.trim();
    let mapped = match kind {
        "tinyint" | "smallint" | "int" | "bigint" | "float" | "double" | "boolean" | "string"
        | "date" | "binary" => kind.to_string(),
        "timestamp" | "timestamp_ntz" => "timestamp".to_string(),
        _ if is_decimal(kind) => kind.to_string(),
        _ => {
            return Err(UnloadError::ManifestInvalid(format!(
                "the run manifest records a column of Spark type {kind:?}, which this version cannot describe in the catalog"
            )))
        }
    };
    Ok(mapped)
}

fn is_decimal(kind: &str) -> bool {
    decimal_parts(kind).is_some()
}

/// `decimal(p,s)` → (p, s).
fn decimal_parts(kind: &str) -> Option<(u32, u32)> {
    let (p, s) = kind
        .strip_prefix("decimal(")?
        .strip_suffix(')')?
        .split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// The catalog table a successful run should leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub target: CatalogTable,
    /// The table folder (the seed's layout): `s3://…/<schema>/<format>/<table>/`.
    pub location: String,
    pub columns: Vec<Column>,
    /// `<key>_key` for a table with one folder per day (a string: Athena advises string partition
    /// keys, and `YYYY-MM-DD` compares as text in date order); none for a flat table.
    pub partition_keys: Vec<Column>,
    pub format: FileFormat,
}

impl TableSpec {
    pub fn desired(
        request: &NormalizedRequest,
        target: &CatalogTable,
        manifest: &Manifest,
    ) -> Result<Self> {
        let columns = manifest
            .columns
            .iter()
            .map(|c| {
                Ok(Column::new(
                    &c.name,
                    &column_type(request.file_format, &c.kind)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if columns.is_empty() {
            return Err(UnloadError::ManifestInvalid(
                "the run manifest records no columns: there is nothing to register".into(),
            ));
        }
        Ok(Self {
            target: target.clone(),
            location: table_location(request),
            columns,
            partition_keys: request
                .partition_key
                .iter()
                .map(|key| Column::new(&format!("{key}_key"), "string"))
                .collect(),
            format: request.file_format,
        })
    }
}

impl TableSpec {
    /// The SerDe's parameters: the format's, and for Avro the schema of the files
    /// (`avro.schema.literal`, which Athena's Avro SerDe requires).
    pub fn serde_parameters(&self) -> Vec<(String, String)> {
        let mut parameters: Vec<(String, String)> = storage_format(self.format)
            .serde_parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if self.format == FileFormat::Avro {
            parameters.push(("avro.schema.literal".into(), avro_schema(&self.columns)));
        }
        parameters
    }
}

/// The Avro schema Spark writes for these columns, as spark-avro's `SchemaConverters.toAvroType`
/// builds it: a record `topLevelRecord`, each field a union of its type and null (a NOT NULL
/// column's plain type still resolves against it), dates and timestamps as logical types, a
/// decimal as a `fixed` named `topLevelRecord.<column>.fixed` of the fewest bytes its precision
/// needs (Avro resolves a fixed by name and size, so both must match the files').
pub fn avro_schema(columns: &[Column]) -> String {
    let fields: Vec<serde_json::Value> = columns
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "type": [avro_type(c), "null"]}))
        .collect();
    serde_json::json!({"type": "record", "name": "topLevelRecord", "fields": fields}).to_string()
}

fn avro_type(column: &Column) -> serde_json::Value {
    use serde_json::json;
    match column.kind.as_str() {
        "tinyint" | "smallint" | "int" => json!("int"),
        "bigint" => json!("long"),
        "date" => json!({"type": "int", "logicalType": "date"}),
        "timestamp" => json!({"type": "long", "logicalType": "timestamp-micros"}),
        "binary" => json!("bytes"),
        kind => match decimal_parts(kind) {
            Some((precision, scale)) => json!({
                "type": "fixed",
                "name": format!("topLevelRecord.{}.fixed", column.name),
                "size": decimal_bytes(precision),
                "logicalType": "decimal",
                "precision": precision,
                "scale": scale,
            }),
            // float, double, boolean, string: the same name in Avro.
            None => json!(kind),
        },
    }
}

/// The fewest bytes of a two's-complement number that holds `precision` decimal digits.
fn decimal_bytes(precision: u32) -> u32 {
    (1..=16)
        .find(|bytes| 2f64.powi(8 * bytes - 1) >= 10f64.powi(precision as i32))
        .unwrap_or(16) as u32
}

/// `s3://bucket/prefix/<schema>/<format>/<table>/`.
pub fn table_location(request: &NormalizedRequest) -> String {
    format!(
        "{}/{}/{}/{}/",
        request.s3_path,
        request.schema,
        request.file_format.name(),
        request.table_name
    )
}

/// A catalog table as stored, reduced to what the decision compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTable {
    pub location: String,
    pub columns: Vec<Column>,
    pub partition_keys: Vec<Column>,
    pub serde: String,
}

/// What the table needs before partitions are registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableChange {
    Create,
    Unchanged,
    /// New columns at the end: UpdateTable with the full column list.
    AddColumns(Vec<Column>),
}

/// Decides the table's change; a stored table this run cannot extend is SchemaDrift, naming the
/// columns, before anything is written to the catalog.
pub fn table_change(desired: &TableSpec, stored: Option<&StoredTable>) -> Result<TableChange> {
    let Some(stored) = stored else {
        return Ok(TableChange::Create);
    };
    let name = format!("{}.{}", desired.target.database, desired.target.table);
    if stored.location.trim_end_matches('/') != desired.location.trim_end_matches('/') {
        return Err(UnloadError::SchemaDrift(format!(
            "catalog table {name} points at {}, not at this table's folder {}: another table or a person made it; rename or drop it",
            stored.location, desired.location
        )));
    }
    if stored.partition_keys != desired.partition_keys {
        return Err(UnloadError::SchemaDrift(format!(
            "catalog table {name} is partitioned by [{}] but this run writes [{}]",
            names(&stored.partition_keys),
            names(&desired.partition_keys)
        )));
    }
    let wanted: BTreeSet<&str> = desired.columns.iter().map(|c| c.name.as_str()).collect();
    let dropped: Vec<&Column> = stored
        .columns
        .iter()
        .filter(|c| !wanted.contains(c.name.as_str()))
        .collect();
    let changed: Vec<String> = stored
        .columns
        .iter()
        .filter_map(|old| {
            let new = desired.columns.iter().find(|c| c.name == old.name)?;
            (new.kind != old.kind).then(|| format!("{} {} → {}", old.name, old.kind, new.kind))
        })
        .collect();
    if !dropped.is_empty() || !changed.is_empty() {
        let mut problems = Vec::new();
        if !changed.is_empty() {
            problems.push(format!("changed type: {}", changed.join(", ")));
        }
        if !dropped.is_empty() {
            problems.push(format!(
                "no longer in the source: {}",
                dropped
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Err(UnloadError::SchemaDrift(format!(
            "catalog table {name} no longer matches the unloaded data ({}); the catalog is left as it was. \
             Queries of older partitions need the old schema: register this table under a new name \
             (or drop the catalog table to start it again)",
            problems.join("; ")
        )));
    }
    let order_kept = stored
        .columns
        .iter()
        .zip(&desired.columns)
        .all(|(old, new)| old.name == new.name);
    if !order_kept {
        return Err(UnloadError::SchemaDrift(format!(
            "catalog table {name} has its columns in another order ([{}]) than the unloaded data ([{}])",
            names(&stored.columns),
            names(&desired.columns)
        )));
    }
    let added = desired.columns[stored.columns.len()..].to_vec();
    if added.is_empty() {
        Ok(TableChange::Unchanged)
    } else {
        Ok(TableChange::AddColumns(added))
    }
}

fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One partition to register: its day and folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    pub value: String,
    pub location: String,
}

/// The partitions a run's manifest shows: its day (day run), every day folder it wrote
/// (whole table with a key), none (flat table).
pub fn partitions(request: &NormalizedRequest, manifest: &Manifest) -> Vec<PartitionSpec> {
    let Some(key) = &request.partition_key else {
        return Vec::new();
    };
    let folder = |day: &str| format!("{}{key}_key={day}/", table_location(request));
    match request.scope {
        Scope::Day(day) => vec![PartitionSpec {
            value: day.to_string(),
            location: folder(&day.to_string()),
        }],
        Scope::Full => {
            let prefix = format!("{key}_key=");
            let days: BTreeSet<&str> = manifest
                .files
                .iter()
                .filter_map(|f| f.path.split_once('/'))
                .filter_map(|(dir, _)| dir.strip_prefix(prefix.as_str()))
                .collect();
            days.into_iter()
                .map(|day| PartitionSpec {
                    value: day.to_string(),
                    location: folder(day),
                })
                .collect()
        }
    }
}

/// The days a whole-table overwrite removed from the lake (the manifest's `removed_days`, days no
/// longer in the source): their partitions go too, so the catalog lists what the lake holds.
pub fn removed_partitions(request: &NormalizedRequest, manifest: &Manifest) -> Vec<String> {
    let Some(key) = &request.partition_key else {
        return Vec::new();
    };
    let prefix = format!("{key}_key=");
    manifest
        .removed_days
        .iter()
        .filter_map(|folder| folder.trim_end_matches('/').strip_prefix(prefix.as_str()))
        .map(str::to_string)
        .collect()
}

/// A stored partition: its day and what its StorageDescriptor says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPartition {
    pub value: String,
    pub location: String,
    pub columns: Vec<Column>,
}

/// The run's partitions split by what the catalog holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionPlan {
    pub create: Vec<PartitionSpec>,
    /// Stored with another folder or other columns (e.g. before a column was added).
    pub update: Vec<PartitionSpec>,
    pub unchanged: usize,
}

pub fn plan_partitions(
    spec: &TableSpec,
    wanted: Vec<PartitionSpec>,
    stored: &[StoredPartition],
) -> PartitionPlan {
    let mut plan = PartitionPlan::default();
    for partition in wanted {
        match stored.iter().find(|s| s.value == partition.value) {
            None => plan.create.push(partition),
            Some(s) if s.location == partition.location && s.columns == spec.columns => {
                plan.unchanged += 1
            }
            Some(_) => plan.update.push(partition),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::day_request;
    use crate::manifest::{ManifestColumn, ManifestFile};

    fn manifest(files: &[&str], columns: &[(&str, &str)]) -> Manifest {
        Manifest {
            execution_id: "e".into(),
            rows: 1,
            source_rows: None,
            bytes: 0,
            files: files
                .iter()
                .map(|f| ManifestFile {
                    path: f.to_string(),
                    bytes: 0,
                })
                .collect(),
            warnings: vec![],
            removed_days: vec!["o_orderdate_key=1998-07-19".into(), "other=1".into()],
            columns: columns
                .iter()
                .map(|(n, t)| ManifestColumn {
                    name: n.to_string(),
                    kind: t.to_string(),
                })
                .collect(),
        }
    }

    fn spec(columns: &[(&str, &str)]) -> TableSpec {
        let target = CatalogTable {
            database: "lake".into(),
            table: "demo_master__orders__parquet".into(),
        };
        TableSpec::desired(&day_request(), &target, &manifest(&[], columns)).unwrap()
    }

    fn stored(columns: &[(&str, &str)]) -> StoredTable {
        StoredTable {
            location: "s3://lake-bucket/demo_master/parquet/orders/".into(),
            columns: columns.iter().map(|(n, t)| Column::new(n, t)).collect(),
            partition_keys: vec![Column::new("o_orderdate_key", "string")],
            serde: String::new(),
        }
    }

    #[test]
    fn the_stack_database_registers_unless_the_request_opts_out() {
        let t = target(Some("Dev_Lake"), None, "s", "t", FileFormat::Orc).unwrap();
        assert_eq!(
            t,
            Some(CatalogTable {
                database: "dev_lake".into(),
                table: "s__t__orc".into()
            })
        );
        assert_eq!(
            target(Some("lake"), Some(false), "s", "t", FileFormat::Orc).unwrap(),
            None
        );
        assert_eq!(target(None, None, "s", "t", FileFormat::Orc).unwrap(), None);
        let err = target(None, Some(true), "s", "t", FileFormat::Orc).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(err.to_string().starts_with("RegisterInCatalog:"), "{err}");
        let err = target(Some("lake"), None, "s", "t$x", FileFormat::Orc).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        let err = target(Some("my-lake"), None, "s", "t", FileFormat::Orc).unwrap_err();
        assert_eq!(err.kind(), "ConfigurationError");
    }

    #[test]
    fn spark_types_map_to_catalog_types_and_csv_is_text() {
        for (spark, hive) in [
            ("bigint", "bigint"),
            ("decimal(38,10)", "decimal(38,10)"),
            ("timestamp", "timestamp"),
            ("timestamp_ntz", "timestamp"),
            ("date", "date"),
            ("binary", "binary"),
        ] {
            assert_eq!(column_type(FileFormat::Parquet, spark).unwrap(), hive);
        }
        assert_eq!(
            column_type(FileFormat::Csv, "decimal(15,2)").unwrap(),
            "string"
        );
        let err = column_type(FileFormat::Parquet, "array<int>").unwrap_err();
        assert_eq!(err.kind(), "ManifestInvalid");
        assert!(column_type(FileFormat::Orc, "decimal(x,2)").is_err());
    }

    #[test]
    fn each_format_names_its_serde_and_classification() {
        for format in FileFormat::ALL.iter().copied() {
            let s = storage_format(format);
            assert_eq!(s.classification, format.name());
            assert!(
                !s.serde.is_empty() && !s.input_format.is_empty() && !s.output_format.is_empty()
            );
        }
        let csv = storage_format(FileFormat::Csv);
        assert!(csv
            .table_parameters
            .contains(&("skip.header.line.count", "1")));
        assert_eq!(
            storage_format(FileFormat::Json).serde,
            "org.openx.data.jsonserde.JsonSerDe"
        );
    }

    #[test]
    fn avro_tables_carry_the_schema_spark_writes() {
        let columns = [
            Column::new("k", "bigint"),
            Column::new("price", "decimal(15,2)"),
            Column::new("big", "decimal(38,10)"),
            Column::new("d", "date"),
            Column::new("t", "timestamp"),
            Column::new("s", "smallint"),
            Column::new("c", "string"),
        ];
        let schema: serde_json::Value = serde_json::from_str(&avro_schema(&columns)).unwrap();
        assert_eq!(schema["name"], "topLevelRecord");
        let types: Vec<&serde_json::Value> = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| &f["type"][0])
            .collect();
        assert_eq!(types[0], "long");
        assert_eq!(
            types[1],
            &serde_json::json!({"type": "fixed", "name": "topLevelRecord.price.fixed", "size": 7,
                                "logicalType": "decimal", "precision": 15, "scale": 2})
        );
        assert_eq!(types[2]["size"], 16);
        assert_eq!(types[3]["logicalType"], "date");
        assert_eq!(types[4]["logicalType"], "timestamp-micros");
        assert_eq!(
            (types[5], types[6]),
            (&serde_json::json!("int"), &serde_json::json!("string"))
        );
        assert!(schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["type"][1] == "null"));
        assert_eq!(decimal_bytes(1), 1);
        let mut avro = spec(&[("a", "bigint")]);
        assert!(!avro
            .serde_parameters()
            .iter()
            .any(|(k, _)| k == "avro.schema.literal"));
        avro.format = FileFormat::Avro;
        assert!(avro
            .serde_parameters()
            .iter()
            .any(|(k, _)| k == "avro.schema.literal"));
    }

    #[test]
    fn the_table_is_created_kept_or_extended_at_the_end() {
        let base = [("a", "bigint"), ("b", "string")];
        let s = spec(&base);
        assert_eq!(s.location, "s3://lake-bucket/demo_master/parquet/orders/");
        assert_eq!(
            s.partition_keys,
            vec![Column::new("o_orderdate_key", "string")]
        );
        assert_eq!(table_change(&s, None).unwrap(), TableChange::Create);
        assert_eq!(
            table_change(&s, Some(&stored(&base))).unwrap(),
            TableChange::Unchanged
        );
        let wider = spec(&[("a", "bigint"), ("b", "string"), ("c", "date")]);
        assert_eq!(
            table_change(&wider, Some(&stored(&base))).unwrap(),
            TableChange::AddColumns(vec![Column::new("c", "date")])
        );
    }

    #[test]
    fn drift_names_the_columns_and_never_guesses() {
        let base = [("a", "bigint"), ("b", "string")];
        let changed = table_change(
            &spec(&[("a", "int"), ("b", "string")]),
            Some(&stored(&base)),
        )
        .unwrap_err();
        assert_eq!(changed.kind(), "SchemaDrift");
        assert!(changed.to_string().contains("a bigint → int"), "{changed}");
        let dropped = table_change(&spec(&[("a", "bigint")]), Some(&stored(&base))).unwrap_err();
        assert!(
            dropped.to_string().contains("no longer in the source: b"),
            "{dropped}"
        );
        let moved = table_change(
            &spec(&[("b", "string"), ("a", "bigint")]),
            Some(&stored(&base)),
        )
        .unwrap_err();
        assert!(moved.to_string().contains("another order"), "{moved}");
        let mut elsewhere = stored(&base);
        elsewhere.location = "s3://other/x/".into();
        let err = table_change(&spec(&base), Some(&elsewhere)).unwrap_err();
        assert!(err.to_string().contains("s3://other/x/"), "{err}");
        let mut flat = stored(&base);
        flat.partition_keys.clear();
        assert_eq!(
            table_change(&spec(&base), Some(&flat)).unwrap_err().kind(),
            "SchemaDrift"
        );
    }

    #[test]
    fn a_whole_table_run_yields_each_day_folder_once_and_a_flat_one_none() {
        let request = NormalizedRequest {
            scope: Scope::Full,
            target_uri: "s3://lake-bucket/demo_master/parquet/orders/".into(),
            ..day_request()
        };
        let m = manifest(
            &[
                "o_orderdate_key=1998-07-21/a.parquet",
                "o_orderdate_key=1998-07-20/b.parquet",
                "o_orderdate_key=1998-07-21/c.parquet",
                "stray.parquet",
            ],
            &[("a", "bigint")],
        );
        let days: Vec<String> = partitions(&request, &m)
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(days, ["1998-07-20", "1998-07-21"]);
        let flat = NormalizedRequest {
            partition_key: None,
            ..request.clone()
        };
        assert!(partitions(&flat, &m).is_empty());
        assert_eq!(removed_partitions(&request, &m), ["1998-07-19"]);
        assert!(removed_partitions(&flat, &m).is_empty());
        let day = partitions(&day_request(), &m);
        assert_eq!(
            day,
            vec![PartitionSpec {
                value: "1998-07-21".into(),
                location: "s3://lake-bucket/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"
                    .into()
            }]
        );
    }

    #[test]
    fn stored_partitions_are_kept_updated_or_created() {
        let s = spec(&[("a", "bigint")]);
        let p = |day: &str| PartitionSpec {
            value: day.into(),
            location: format!("{}o_orderdate_key={day}/", s.location),
        };
        let same = StoredPartition {
            value: "1".into(),
            location: p("1").location,
            columns: s.columns.clone(),
        };
        let old_columns = StoredPartition {
            value: "2".into(),
            location: p("2").location,
            columns: vec![],
        };
        let plan = plan_partitions(&s, vec![p("1"), p("2"), p("3")], &[same, old_columns]);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.update, vec![p("2")]);
        assert_eq!(plan.create, vec![p("3")]);
    }
}
