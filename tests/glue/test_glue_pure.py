"""The job's pure part: argument parsing, validation, SQL, paths, options, manifest. No Spark."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from unload_support import EXECUTION_ID, ROOT, job_args
from unload_table import (
    Plan, UnloadError, build_manifest, build_plan, count_query, day_of, drift_warning, estimated_row_bytes,
    file_count, layout_problem, vanished_days,
    io_location, is_hidden, jdbc_read_options, local_connection, parse_args, redact,
    redshift_read_options, rows_per_file, select_query, table_uri, target_uri, validate_date,
    validate_identifier, validate_s3_uri, validate_table, writer_options,
    CSV_NULL, jvm_options, reader_options, session_settings, unsupported_columns,
)


def plan_from(**overrides) -> Plan:
    return build_plan(parse_args(job_args(**overrides)))


# --- argument parsing ------------------------------------------------------------------------

def test_glue_added_arguments_are_ignored():
    argv = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_abc", "--JOB_NAME", "demo_master.orders_ExtractToDataLake",
            "--job-bookmark-option", "job-bookmark-disable", "--enable-metrics", "--TempDir", "s3://tmp-bucket/t/",
            "--prefixed_table_name=demo_master.orders", "stray-token", "--snapshot_yn", "n"]
    assert parse_args(argv) == {"JOB_RUN_ID": "jr_abc", "TempDir": "s3://tmp-bucket/t/",
                                "prefixed_table_name": "demo_master.orders", "snapshot_yn": "n"}


def test_a_flag_without_value_does_not_swallow_the_next_argument():
    assert parse_args(["--enable-glue-datacatalog", "--file_format", "orc"]) == {"file_format": "orc"}


def test_a_known_argument_without_value_is_refused():
    with pytest.raises(UnloadError, match="--file_format needs a value"):
        parse_args(["--file_format", "--write_mode", "append"])


def test_a_known_argument_given_twice_is_refused():
    with pytest.raises(UnloadError, match="given twice"):
        parse_args(["--file_format", "orc", "--file_format", "csv"])


def test_plan_from_the_contract_arguments():
    plan = plan_from(prefixed_table_name="Demo_Master.ORDERS", snapshot_yn="Y", file_format="PARQUET",
                     write_mode="Append", day_partition_key="O_OrderDate", allow_empty_source="TRUE")
    assert (plan.schema, plan.table, plan.scope) == ("demo_master", "orders", "day")
    assert (plan.partition_key, plan.partition_value) == ("o_orderdate", "1998-07-21")
    assert (plan.file_format, plan.write_mode, plan.allow_empty_source) == ("parquet", "append", True)
    assert (plan.s3_path, plan.glue_connection, plan.execution_id) == ("s3://lake/dl", "tpc-rs", EXECUTION_ID)
    assert plan.target_uri == "s3://lake/dl/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"


def test_full_run_without_key_and_with_key():
    flat = plan_from(snapshot_yn="n", day_partition_key=None, day_partition_value=None)
    assert (flat.scope, flat.partition_key, flat.partition_column) == ("full", None, None)
    assert flat.target_uri == "s3://lake/dl/demo_master/parquet/orders/"
    keyed = plan_from(snapshot_yn="n", day_partition_value=None)
    assert (keyed.scope, keyed.partition_column) == ("full", "o_orderdate_key")
    assert keyed.target_uri == keyed.table_uri == "s3://lake/dl/demo_master/parquet/orders/"


@pytest.mark.parametrize("overrides, message", [
    ({"prefixed_table_name": None}, "--prefixed_table_name is required"),
    ({"snapshot_yn": "yes"}, "--snapshot_yn 'yes' must be one of y|n"),
    ({"snapshot_yn": None}, "--snapshot_yn is required"),
    ({"file_format": "xlsx"}, "--file_format 'xlsx' must be one of parquet|orc|json|csv|avro"),
    ({"write_mode": "upsert"}, "--write_mode 'upsert' must be one of overwrite|append"),
    ({"day_partition_value": None}, "a day run .* needs --day_partition_key and --day_partition_value"),
    ({"day_partition_key": None}, "a day run .* needs --day_partition_key and --day_partition_value"),
    ({"snapshot_yn": "n"}, "--day_partition_value is only for a day run"),
    ({"s3path_datalake": None}, "--s3path_datalake is required"),
    ({"glue_connection": None}, "--glue_connection is required"),
    ({"glue_connection": "bad\nname"}, "--glue_connection .* printable"),
    ({"source_kind": "mysql"}, "--source_kind 'mysql' must be one of redshift|postgresql"),
    ({"source_kind": "redshift", "redshift_role_arn": "arn:aws:iam::123456789012:role/R"},
     "--TempDir is required for --source_kind redshift"),
    ({"source_kind": "redshift", "TempDir": "s3://tmp-bucket/t"}, "--redshift_role_arn is required for --source_kind redshift"),
    ({"target_uri": "s3://lake/dl/demo_master/parquet/orders/"}, "--target_uri .* differs from the target this job computes"),
    ({"allow_empty_source": "maybe"}, "--allow_empty_source 'maybe' must be one of true|false"),
    ({"redshift_role_arn": "arn:aws:iam::123:role/x"}, "is not an IAM role ARN"),
    ({"max_rows_per_file": "0"}, "--max_rows_per_file '0' must be a positive integer"),
    ({"max_rows_per_file": "1e6"}, "--max_rows_per_file '1e6' must be a positive integer"),
])
def test_invalid_arguments_are_refused(overrides, message):
    with pytest.raises(UnloadError, match=message):
        plan_from(**overrides)


def test_redshift_run_needs_and_normalizes_temp_dir_and_role():
    plan = plan_from(source_kind="redshift", TempDir="s3://aws-glue-assets-123456789012-us-east-1/temporary/",
                     redshift_role_arn="arn:aws:iam::123456789012:role/service-role/RedshiftUnload",
                     JOB_RUN_ID="jr_0a1b")
    # Each run stages under its own folder, which it removes when it ends.
    assert plan.temp_dir == "s3://aws-glue-assets-123456789012-us-east-1/temporary/demo_master.orders/jr_0a1b/"
    assert plan.redshift_role_arn == "arn:aws:iam::123456789012:role/service-role/RedshiftUnload"
    other = plan_from(source_kind="redshift", TempDir="s3://tmp-bucket/t", redshift_role_arn=plan.redshift_role_arn,
                      execution_id="arn:aws:states:us-east-1:123456789012:execution:unload:other")
    assert other.temp_dir.startswith("s3://tmp-bucket/t/demo_master.orders/x") and other.temp_dir != plan.temp_dir
    assert validate_s3_uri(other.temp_dir, "--TempDir") + "/" == other.temp_dir


def test_the_target_validate_computed_is_accepted():
    plan = plan_from(target_uri="s3://lake/dl/demo_master/parquet/orders/o_orderdate_key=1998-07-21/")
    assert plan.target_uri == "s3://lake/dl/demo_master/parquet/orders/o_orderdate_key=1998-07-21/"


def test_execution_id_falls_back_to_the_glue_run_id_then_manual():
    assert plan_from(execution_id=None, JOB_RUN_ID="jr_123").execution_id == "jr_123"
    assert plan_from(execution_id=None).execution_id == "manual"


def test_empty_optional_values_count_as_absent():
    plan = plan_from(snapshot_yn="n", day_partition_key="", day_partition_value="", redshift_role_arn="")
    assert (plan.partition_key, plan.partition_value, plan.redshift_role_arn) == (None, None, None)


# --- identifiers, dates, S3 URIs -------------------------------------------------------------

@pytest.mark.parametrize("hostile", [
    'orders"; DROP TABLE x; --', 'a"b', "a;b", "a--b", "a/*x*/", "a'b", "a b", " orders", "orders ",
    "ordеrs",            # Cyrillic е
    "ｏrders",           # fullwidth o
    "orders\u200b",      # zero-width space
    "1orders", "$orders", "", "a.b", "a\nb", "orders\n", "a\x00b", "a\tb", "a-b", "a" * 128,
])
def test_hostile_identifiers_are_refused(hostile):
    with pytest.raises(UnloadError, match="identifier|127 bytes"):
        validate_identifier(hostile, "table name")


@pytest.mark.parametrize("name, expected", [
    ("orders", "orders"), ("O_OrderDate", "o_orderdate"), ("_x", "_x"), ("a$b1", "a$b1"), ("a" * 127, "a" * 127),
])
def test_valid_identifiers_are_lower_cased(name, expected):
    assert validate_identifier(name, "table name") == expected


@pytest.mark.parametrize("value", ["orders", "a.b.c", ".orders", "demo.", "demo..orders", 'demo."orders"'])
def test_table_names_must_be_schema_dot_table(value):
    with pytest.raises(UnloadError):
        validate_table(value)


@pytest.mark.parametrize("value", [
    "2023-02-29", "2023-13-01", "2023-00-10", "2023-04-31", "0000-01-01", "20230101", "2023-1-01",
    "2023-01-01 ", "2023-01-01\n", "２０２３-01-01", "2023-01-01T00:00", "2023-01-01' OR '1'='1", "",
])
def test_impossible_or_malformed_dates_are_refused(value):
    with pytest.raises(UnloadError, match="date"):
        validate_date(value)


def test_real_dates_are_accepted():
    assert validate_date("2024-02-29").isoformat() == "2024-02-29"


@pytest.mark.parametrize("value, expected", [
    ("s3://bucket", "s3://bucket"),
    ("s3://bucket/", "s3://bucket"),
    ("s3://my-bucket.v2/data-lake/env=prod/", "s3://my-bucket.v2/data-lake/env=prod"),
])
def test_s3_uris_are_normalized(value, expected):
    assert validate_s3_uri(value, "--s3path_datalake") == expected


@pytest.mark.parametrize("value", [
    "http://bucket/x", "s3://", "s3://Bucket/x", "s3://b/x", "s3://bucket//x", "s3://bucket/a/../b",
    "s3://bucket/a/./b", "s3://bucket/a b", "s3://bucket/a?x=1", "s3a://bucket/x", "s3://bucket/x\n",
    "s3://bucket..x/y", "/local/path",
])
def test_bad_s3_uris_are_refused(value):
    with pytest.raises(UnloadError):
        validate_s3_uri(value, "--s3path_datalake")


S3_CASES = json.loads((ROOT / "functions" / "unload-core" / "data" / "s3_uri_cases.json").read_text())


@pytest.mark.parametrize("value, expected", sorted(S3_CASES["accepted"].items()))
def test_s3_uris_the_validate_lambda_accepts_are_accepted_alike(value, expected):
    assert validate_s3_uri(value, "--s3path_datalake") == expected


@pytest.mark.parametrize("value", S3_CASES["refused"])
def test_s3_uris_the_validate_lambda_refuses_are_refused_alike(value):
    with pytest.raises(UnloadError):
        validate_s3_uri(value, "--s3path_datalake")


# --- SQL -------------------------------------------------------------------------------------

def test_day_query_is_quoted_and_ranged_on_the_validated_date():
    plan = plan_from()
    assert select_query(plan) == ('SELECT * FROM "demo_master"."orders" WHERE "o_orderdate" >= DATE '
                                  "'1998-07-21' AND \"o_orderdate\" < DATE '1998-07-22'")
    assert count_query(plan) == ('SELECT count(*) AS source_rows FROM "demo_master"."orders" WHERE '
                                 "\"o_orderdate\" >= DATE '1998-07-21' AND \"o_orderdate\" < DATE '1998-07-22'")


def test_full_query_has_no_predicate_and_no_query_sorts():
    plan = plan_from(snapshot_yn="n", day_partition_value=None)
    assert select_query(plan) == 'SELECT * FROM "demo_master"."orders"'
    assert count_query(plan) == 'SELECT count(*) AS source_rows FROM "demo_master"."orders"'
    for query in (select_query(plan), select_query(plan_from())):
        assert "ORDER BY" not in query.upper()


@pytest.mark.parametrize("day, next_day", [
    ("1998-12-31", "1999-01-01"), ("2024-02-28", "2024-02-29"), ("2023-02-28", "2023-03-01"),
])
def test_the_range_rolls_over_months_and_years(day, next_day):
    assert f"< DATE '{next_day}'" in select_query(plan_from(day_partition_value=day))


def test_the_last_representable_day_has_no_upper_bound():
    assert select_query(plan_from(day_partition_value="9999-12-31")).endswith(">= DATE '9999-12-31'")


@pytest.mark.parametrize("field, value", [
    ("schema", 'x"; DROP TABLE y; --'), ("table", "t /* c */"), ("partition_key", "d' OR 1=1 --"),
    ("partition_value", "2024-01-01' OR '1'='1"), ("partition_value", "2023-02-29"),
])
def test_query_building_revalidates_a_plan_built_by_hand(field, value):
    fields = {**plan_from().__dict__, field: value}
    with pytest.raises(UnloadError):
        select_query(Plan(**fields))
    with pytest.raises(UnloadError):
        count_query(Plan(**fields))


# --- paths -----------------------------------------------------------------------------------

def test_layout_matches_the_original_sample():
    assert table_uri("s3://b/p", "s", "orc", "t") == "s3://b/p/s/orc/t/"
    assert target_uri("s3://b/p/", "s", "orc", "t") == "s3://b/p/s/orc/t/"
    assert target_uri("s3://b/p", "s", "csv", "t", "d", "2024-01-31") == "s3://b/p/s/csv/t/d_key=2024-01-31/"


def test_local_s3_root_maps_bucket_and_key_onto_a_folder(tmp_path):
    env = {"UNLOAD_LOCAL_S3_ROOT": str(tmp_path)}
    assert io_location("s3://lake/dl/t/", env) == f"file://{tmp_path}/lake/dl/t/"
    assert io_location("s3://lake/dl/t/", {}) == "s3://lake/dl/t/"


@pytest.mark.parametrize("name, hidden", [
    ("_manifest.json", True), ("_SUCCESS", True), (".part-0.crc", True), ("_temporary", True),
    (".spark-staging-1", True), ("o_orderdate_key=1998-07-21", False), ("_day_key=1998-07-21", False),
    ("part-00000.snappy.parquet", False),
])
def test_hidden_files_follow_sparks_rule(name, hidden):
    assert is_hidden(name) is hidden


# --- formats and sizing ----------------------------------------------------------------------

def test_every_format_has_its_writer_options():
    assert writer_options("parquet") == {"compression": "snappy"}
    assert writer_options("orc") == {"compression": "snappy"}
    assert writer_options("avro") == {"compression": "snappy"}
    micros = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx", "dateFormat": "yyyy-MM-dd"}
    assert writer_options("json") == {"compression": "gzip", "ignoreNullFields": "false", **micros}
    assert writer_options("csv") == {
        "compression": "gzip", "header": "true", "quote": '"', "escape": '"',
        "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false",
        "nullValue": "\\N", "emptyValue": '""', **micros}
    with pytest.raises(UnloadError):
        writer_options("xml")


def test_the_csv_read_back_uses_the_same_null_marker_and_keeps_white_space():
    options = reader_options("csv")
    assert options["nullValue"] == writer_options("csv")["nullValue"] == CSV_NULL == "\\N"
    assert options["ignoreLeadingWhiteSpace"] == options["ignoreTrailingWhiteSpace"] == "false"
    assert reader_options("parquet") == {}


def test_the_session_pins_utc_and_writes_old_dates_as_they_are():
    settings = session_settings()
    assert settings["spark.sql.session.timeZone"] == "UTC"
    assert jvm_options() == "-Duser.timezone=UTC"
    for key in ("spark.sql.parquet.datetimeRebaseModeInWrite", "spark.sql.parquet.int96RebaseModeInWrite",
                "spark.sql.avro.datetimeRebaseModeInWrite"):
        assert settings[key] == "CORRECTED"


@pytest.mark.parametrize("column, file_format, problem", [
    (("price", "decimal(38,10)", False), "csv", None),
    (("at", "timestamp", False), "csv", None),
    (("blob", "binary", False), "parquet", None),        # VARBYTE: a byte array in columnar formats
    (("blob", "binary", False), "json", None),           # base64 text, documented
    (("blob", "binary", False), "csv", "blob (binary): CSV cannot hold it"),
    (("doc", "struct<a:int>", False), "avro", None),     # SUPER read with a schema
    (("doc", "array<int>", False), "csv", "doc (array<int>): CSV cannot hold it"),
    (("t", "timestamp", True), "parquet", "t (a time of day, read as timestamp): Spark has no time type"),
    (("span", "interval day to second", False), "orc", "span (interval day to second): no format"),
])
def test_unsupported_columns_are_named_with_the_reason(column, file_format, problem):
    problems = unsupported_columns([("id", "int", False), column], file_format)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem)


def test_rows_per_file_follows_row_width_unless_capped():
    orders = ["bigint", "bigint", "string", "decimal(15,2)", "date", "string", "string", "int", "string"]
    assert estimated_row_bytes(orders) == 112
    assert estimated_row_bytes(["decimal(38,10)", "boolean", "timestamp"]) == 25
    assert rows_per_file(plan_from(), orders) == 128 * 1024 * 1024 // 112
    assert rows_per_file(plan_from(max_rows_per_file="5000"), orders) == 5000
    assert [file_count(n, 1000) for n in (0, 1, 1000, 1001, 10_000)] == [1, 1, 1, 2, 10]


# --- connections -----------------------------------------------------------------------------

def test_local_connection_from_environment_variables():
    env = {"UNLOAD_LOCAL_JDBC_URL": "jdbc:postgresql://127.0.0.1:5/db", "UNLOAD_LOCAL_JDBC_USER": "u",
           "UNLOAD_LOCAL_JDBC_PASSWORD": "env-pass"}
    assert local_connection("tpc-rs", env) == {"url": "jdbc:postgresql://127.0.0.1:5/db", "user": "u",
                                               "password": "env-pass"}


def test_local_connection_file_wins_and_is_looked_up_by_connection_name(tmp_path):
    path = tmp_path / "connections.json"
    path.write_text(json.dumps({"tpc-rs": {"url": "jdbc:postgresql://h:1/d", "user": "a", "password": "file-pass"}}))
    env = {"UNLOAD_LOCAL_CONNECTIONS_FILE": str(path), "UNLOAD_LOCAL_JDBC_URL": "jdbc:postgresql://other/x"}
    assert local_connection("tpc-rs", env)["url"] == "jdbc:postgresql://h:1/d"
    with pytest.raises(UnloadError, match="'other' is not in UNLOAD_LOCAL_CONNECTIONS_FILE"):
        local_connection("other", env)


@pytest.mark.parametrize("env, message", [
    ({}, "no local connection"),
    ({"UNLOAD_LOCAL_JDBC_URL": "postgresql://h/d"}, "must start with jdbc:"),
    ({"UNLOAD_LOCAL_CONNECTIONS_FILE": "/nonexistent/connections.json"}, "cannot read"),
])
def test_local_connection_problems_are_clear(env, message):
    with pytest.raises(UnloadError, match=message):
        local_connection("tpc-rs", env)


def test_a_loaded_password_never_reaches_a_message():
    local_connection("x", {"UNLOAD_LOCAL_JDBC_URL": "jdbc:postgresql://h/d", "UNLOAD_LOCAL_JDBC_PASSWORD": "Sup3r-S3cret"})
    assert "Sup3r-S3cret" not in str(UnloadError("login with Sup3r-S3cret failed"))
    assert redact("jdbc:postgresql://h/d?user=u&password=abc&ssl=true") == "jdbc:postgresql://h/d?user=u&password=***&ssl=true"


def test_jdbc_options_carry_the_query_and_a_fetch_size():
    options = jdbc_read_options({"url": "jdbc:postgresql://h/d", "user": "u", "password": "p"}, "SELECT 1")
    assert options == {"url": "jdbc:postgresql://h/d", "user": "u", "password": "p", "query": "SELECT 1",
                       "fetchsize": "10000", "driver": "org.postgresql.Driver"}


def test_redshift_connector_options_use_the_glue_connection_and_temp_dir():
    plan = plan_from(source_kind="redshift", TempDir="s3://tmp-bucket/unload",
                     redshift_role_arn="arn:aws:iam::123456789012:role/RedshiftUnload", JOB_RUN_ID="jr_1")
    assert redshift_read_options(plan, "SELECT 1") == {
        "sampleQuery": "SELECT 1", "redshiftTmpDir": "s3://tmp-bucket/unload/demo_master.orders/jr_1/",
        "useConnectionProperties": "true",
        "connectionName": "tpc-rs", "aws_iam_role": "arn:aws:iam::123456789012:role/RedshiftUnload"}
    assert not any("password" in key.lower() for key in redshift_read_options(plan, "SELECT 1"))


# --- manifest and errors ---------------------------------------------------------------------

def test_manifest_has_exactly_the_contract_fields():
    manifest = build_manifest(plan_from(), 3, 3, {"b.parquet": 20, "a.parquet": 10}, [("o_orderkey", "bigint")],
                              "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")
    assert list(manifest) == ["version", "table", "scope", "partition_key", "partition_value", "format",
                              "write_mode", "target_uri", "execution_id", "state", "source_rows",
                              "source_rows_at_start", "rows", "files", "bytes", "replaced_files",
                              "replaced_bytes", "removed_days", "columns", "warnings", "started_at", "finished_at"]
    assert manifest["files"] == [{"path": "a.parquet", "bytes": 10}, {"path": "b.parquet", "bytes": 20}]
    assert (manifest["bytes"], manifest["columns"]) == (30, [{"name": "o_orderkey", "type": "bigint"}])
    assert (manifest["version"], manifest["table"], manifest["execution_id"]) == (2, "demo_master.orders", EXECUTION_ID)
    assert (manifest["state"], manifest["source_rows_at_start"], manifest["replaced_files"]) == ("complete", None, 0)


# --- the overwrite protocol's decisions ---------------------------------------------------------

def test_flat_runs_refuse_day_folders_and_keyed_runs_refuse_flat_files():
    flat = plan_from(snapshot_yn="n", day_partition_key=None, day_partition_value=None)
    day, whole = plan_from(), plan_from(snapshot_yn="n", day_partition_value=None)
    days = ["o_orderdate_key=1992-01-02", "o_orderdate_key=1992-01-01"]
    assert layout_problem(flat, {"part-0.parquet": 1}, ["_temporary"]) is None
    assert "holds day folders (o_orderdate_key=1992-01-01, ... 2 in all)" in layout_problem(flat, {}, days)
    for keyed in (day, whole):
        assert layout_problem(keyed, {"_manifest.json": 1, ".hidden": 1}, days) is None
        assert "holds 1 flat data files (part-0.parquet, ...)" in layout_problem(keyed, {"part-0.parquet": 1}, days)


def test_only_a_whole_table_overwrite_with_a_key_drops_the_days_that_left_the_source():
    before = {"o_orderdate_key=1992-01-01/a.parquet": 1, "o_orderdate_key=1992-01-02/b.parquet": 1,
              "other_key=1992-01-03/c.parquet": 1}
    written = {"o_orderdate_key=1992-01-02/n.parquet": 1}
    whole = plan_from(snapshot_yn="n", day_partition_value=None)
    assert vanished_days(whole, before, written) == ["o_orderdate_key=1992-01-01"]
    assert vanished_days(plan_from(snapshot_yn="n", day_partition_value=None, write_mode="append"), before, written) == []
    assert vanished_days(plan_from(), {"a.parquet": 1}, {}) == []
    assert day_of(whole, "o_orderdate_key=1992-01-01/a.parquet") == "o_orderdate_key=1992-01-01"
    assert day_of(whole, "o_orderdate_key=1992-01-01") is None and day_of(whole, "x/a.parquet") is None


def test_a_source_count_that_drifts_is_only_a_warning():
    plan = plan_from()
    assert drift_warning(plan, 10, 10) is None and drift_warning(plan, None, 10) is None
    assert drift_warning(plan, 11, 10).startswith("source changed during the run: count(*) at start 11, rows read 10")


def test_error_messages_are_one_line():
    assert str(UnloadError("first\n  second\tthird")) == "first second third"


def test_the_pure_part_imports_without_pyspark_or_awsglue():
    code = ("import sys; sys.modules['pyspark'] = None; sys.modules['awsglue'] = None; "
            f"sys.path.insert(0, {str(ROOT / 'glue-scripts')!r}); import unload_table; "
            "print(unload_table.select_query(unload_table.build_plan(unload_table.parse_args(sys.argv[1:]))))")
    out = subprocess.run([sys.executable, "-c", code, *job_args()], capture_output=True, text=True, check=True)
    assert out.stdout.startswith('SELECT * FROM "demo_master"."orders"')
