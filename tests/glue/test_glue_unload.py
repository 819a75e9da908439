"""The job on local PySpark against the real PostgreSQL cluster, called in-process with the shared
Spark session (the real entry point as a subprocess is in test_glue_entrypoint.py)."""
from __future__ import annotations

import datetime as dt
import sys
import types
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import pyarrow.json as pa_json
import pyarrow.orc as pa_orc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

import unload_table
from unload_support import (
    EXECUTION_ID, HOT_DAY, HOT_ROWS, LAKE, PER_DAY, ROWS, data_files, digests, job_args, read_manifest,
)
from unload_table import UnloadError

ORDER_COLUMNS = ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate",
                 "o_orderpriority", "o_clerk", "o_shippriority", "o_comment"]


def source_rows(db, where: str = "true", params=()) -> list[tuple]:
    return db.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM demo_master.orders WHERE {where} "
                      "ORDER BY o_orderkey", params).fetchall()


def read_parquet(folder: Path) -> pa.Table:
    """The files themselves (no partition inference): exactly what a reader of the folder gets."""
    return pa.concat_tables([pq.read_table(folder / name) for name in data_files(folder)])


def assert_manifest_matches_disk(manifest: dict, folder: Path, rows: int) -> None:
    assert manifest["rows"] == manifest["source_rows"] == rows
    on_disk = data_files(folder)
    listed = {entry["path"]: entry["bytes"] for entry in manifest["files"]}
    assert listed == {path: on_disk.get(path) for path in listed}, "manifest files differ from the disk"
    assert manifest["bytes"] == sum(listed.values())
    assert manifest["started_at"] <= manifest["finished_at"]
    dt.datetime.strptime(manifest["finished_at"], "%Y-%m-%dT%H:%M:%SZ")


# --- one day ---------------------------------------------------------------------------------

def test_one_day_lands_exactly_with_its_types_in_the_hive_folder(lake, db):
    manifest = lake.run()
    folder = lake.table_dir() / f"o_orderdate_key={HOT_DAY}"
    assert manifest["target_uri"] == f"{LAKE}/demo_master/parquet/orders/o_orderdate_key={HOT_DAY}/"
    assert lake.local(manifest["target_uri"]) == folder
    table = read_parquet(folder)
    assert table.schema.field("o_totalprice").type == pa.decimal128(15, 2)
    assert table.schema.field("o_orderdate").type == pa.date32()
    assert table.schema.field("o_orderkey").type == pa.int64()
    assert table.schema.field("o_shippriority").type == pa.int32()
    landed = sorted(tuple(row[c] for c in ORDER_COLUMNS) for row in table.to_pylist())
    assert landed == source_rows(db, "o_orderdate = %s", (HOT_DAY,))
    assert len(landed) == HOT_ROWS
    assert isinstance(landed[0][3], Decimal) and isinstance(landed[0][4], dt.date)
    # Only the partition folder: no _SUCCESS at the table root, no .crc side files anywhere.
    assert sorted(p.name for p in lake.table_dir().iterdir()) == [f"o_orderdate_key={HOT_DAY}"]
    assert not [p for p in lake.root.rglob("*") if p.name.endswith(".crc") or p.name == "_SUCCESS"]


def test_the_manifest_describes_the_run_and_equals_the_disk(lake):
    manifest = lake.run()
    folder = lake.table_dir() / f"o_orderdate_key={HOT_DAY}"
    assert read_manifest(folder) == manifest
    assert_manifest_matches_disk(manifest, folder, HOT_ROWS)
    assert set(data_files(folder)) == {entry["path"] for entry in manifest["files"]}
    assert {k: manifest[k] for k in ("version", "table", "scope", "partition_key", "partition_value",
                                      "format", "write_mode", "execution_id", "state", "source_rows_at_start",
                                      "replaced_files", "removed_days", "warnings")} == {
        "version": 2, "table": "demo_master.orders", "scope": "day", "partition_key": "o_orderdate",
        "partition_value": HOT_DAY, "format": "parquet", "write_mode": "overwrite", "execution_id": EXECUTION_ID,
        "state": "complete", "source_rows_at_start": HOT_ROWS, "replaced_files": 0, "removed_days": [],
        "warnings": []}
    assert manifest["columns"] == [
        {"name": "o_orderkey", "type": "bigint"}, {"name": "o_custkey", "type": "bigint"},
        {"name": "o_orderstatus", "type": "string"}, {"name": "o_totalprice", "type": "decimal(15,2)"},
        {"name": "o_orderdate", "type": "date"}, {"name": "o_orderpriority", "type": "string"},
        {"name": "o_clerk", "type": "string"}, {"name": "o_shippriority", "type": "int"},
        {"name": "o_comment", "type": "string"}]


def test_a_small_day_is_one_file_and_a_capped_day_is_split(lake):
    small = lake.run()
    assert len(small["files"]) == 1
    split = lake.run(max_rows_per_file=600)  # 2,000 rows -> 4 files of at most 600
    folder = lake.table_dir() / f"o_orderdate_key={HOT_DAY}"
    assert len(split["files"]) == 4
    assert sorted(pq.read_metadata(folder / f["path"]).num_rows for f in split["files"])[-1] <= 600
    assert_manifest_matches_disk(split, folder, HOT_ROWS)


# --- whole table -----------------------------------------------------------------------------

def test_whole_table_with_a_key_writes_one_folder_per_day(lake, db):
    manifest = lake.run(snapshot_yn="n", day_partition_value=None)
    table_dir = lake.table_dir()
    days = [d.isoformat() for (d,) in db.execute(
        "SELECT DISTINCT o_orderdate FROM demo_master.orders ORDER BY 1").fetchall()]
    assert sorted(p.name for p in table_dir.iterdir() if p.is_dir()) == [f"o_orderdate_key={d}" for d in days]
    assert manifest["target_uri"] == f"{LAKE}/demo_master/parquet/orders/"
    assert (manifest["scope"], manifest["partition_key"], manifest["partition_value"]) == ("full", "o_orderdate", None)
    assert_manifest_matches_disk(manifest, table_dir, ROWS)
    # One file per day (no flood), the same layout a daily run produces.
    assert len(manifest["files"]) == len(days)
    dataset = pa_ds.dataset(table_dir, format="parquet", partitioning=pa_ds.partitioning(
        pa.schema([("o_orderdate_key", pa.string())]), flavor="hive"))
    table = dataset.to_table()
    assert table.num_rows == ROWS
    counts = {}
    for row in table.select(["o_orderdate", "o_orderdate_key"]).to_pylist():
        assert row["o_orderdate"].isoformat() == row["o_orderdate_key"]  # each row in its own day
        counts[row["o_orderdate_key"]] = counts.get(row["o_orderdate_key"], 0) + 1
    assert counts == {d.isoformat(): n for d, n in db.execute(
        "SELECT o_orderdate, count(*) FROM demo_master.orders GROUP BY 1").fetchall()}
    assert counts[HOT_DAY] == HOT_ROWS and counts["1992-01-01"] == PER_DAY


def _synthetic_plan(table: str, *args: str) -> unload_table.Plan:
    return unload_table.build_plan(unload_table.parse_args(
        ["--prefixed_table_name", f"s.{table}", "--file_format", "parquet", "--write_mode", "overwrite",
         "--s3path_datalake", LAKE, "--glue_connection", "c", "--source_kind", "postgresql", *args]))


def test_file_sizing_holds_when_the_read_arrives_in_many_partitions(lake, spark):
    # The Redshift connector reads UNLOAD output as many partitions; local JDBC reads one.
    df = (spark.range(0, 3000).withColumn("d", F.expr("date_add(DATE'2024-01-01', CAST(id % 10 AS INT))"))
          .repartition(6))
    keyed = _synthetic_plan("keyed", "--snapshot_yn", "n", "--day_partition_key", "d")
    unload_table.write_data(df, keyed, 3000, per_file=1000)
    folders = sorted(lake.local(keyed.table_uri).iterdir())
    assert [f.name for f in folders] == [f"d_key=2024-01-{day:02d}" for day in range(1, 11)]
    assert all(len(data_files(folder)) == 1 for folder in folders)  # one file per day, not per task

    day = _synthetic_plan("day", "--snapshot_yn", "y", "--day_partition_key", "d", "--day_partition_value", "2024-01-03")
    unload_table.write_data(df.where("d = DATE'2024-01-03'"), day, 300, per_file=1000)
    assert len(data_files(lake.local(day.target_uri))) == 1

    flat = _synthetic_plan("flat", "--snapshot_yn", "n")
    unload_table.write_data(df, flat, 3000, per_file=1000)
    assert sorted(pq.read_metadata(lake.local(flat.table_uri) / name).num_rows
                  for name in data_files(lake.local(flat.table_uri))) == [1000, 1000, 1000]


def test_whole_table_without_a_key_is_flat_and_sized(lake):
    manifest = lake.run(snapshot_yn="n", day_partition_key=None, day_partition_value=None,
                        max_rows_per_file=7000)
    table_dir = lake.table_dir()
    assert not [p for p in table_dir.iterdir() if p.is_dir()]
    assert len(manifest["files"]) == 3  # 20,000 rows at <= 7,000 a file
    assert_manifest_matches_disk(manifest, table_dir, ROWS)
    assert read_parquet(table_dir).num_rows == ROWS


# --- overwrite and append --------------------------------------------------------------------

def test_overwriting_one_day_leaves_every_other_file_byte_identical(lake):
    lake.run(snapshot_yn="n", day_partition_value=None)
    table_dir = lake.table_dir()
    target = f"o_orderdate_key={HOT_DAY}/"
    before = digests(table_dir)
    old_day_files = set(data_files(table_dir / target))

    manifest = lake.run()

    after = digests(table_dir)
    untouched = {path: digest for path, digest in before.items() if not path.startswith(target)}
    assert {path: after.get(path) for path in untouched} == untouched
    assert {path for path in after if not path.startswith(target)} == set(untouched)
    new_day_files = set(data_files(table_dir / target))
    assert new_day_files.isdisjoint(old_day_files)  # replaced, not added to
    assert read_parquet(table_dir / target).num_rows == HOT_ROWS
    assert_manifest_matches_disk(manifest, table_dir / target, HOT_ROWS)


def test_append_adds_the_rows_and_its_manifest_lists_only_the_new_files(lake):
    day = "1992-01-05"
    folder = lake.table_dir() / f"o_orderdate_key={day}"
    first = lake.run(day_partition_value=day)
    second = lake.run(day_partition_value=day, write_mode="append")
    assert read_parquet(folder).num_rows == 2 * PER_DAY
    first_files = {f["path"] for f in first["files"]}
    second_files = {f["path"] for f in second["files"]}
    assert first_files.isdisjoint(second_files)
    assert set(data_files(folder)) == first_files | second_files
    assert (second["rows"], second["write_mode"]) == (PER_DAY, "append")
    assert read_manifest(folder) == second
    again = lake.run(day_partition_value=day)  # overwrite after appends: back to one copy
    assert read_parquet(folder).num_rows == PER_DAY
    assert set(data_files(folder)) == {f["path"] for f in again["files"]}


# --- formats ---------------------------------------------------------------------------------

def _text(value) -> str | None:
    """One canonical text per value, whatever type a reader of a text format gave it."""
    if value is None:
        return None
    if isinstance(value, (Decimal, float)):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


READERS = {
    "parquet": (".snappy.parquet", pq.read_table),
    "orc": (".snappy.orc", pa_orc.read_table),
    "json": (".json.gz", pa_json.read_json),
    "csv": (".csv.gz", lambda path: pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
        null_values=[unload_table.CSV_NULL], strings_can_be_null=True, column_types={"o_comment": pa.string()}))),
}


@pytest.mark.parametrize("file_format", sorted(READERS))
def test_every_format_is_readable_by_an_independent_reader(lake, db, file_format):
    suffix, reader = READERS[file_format]
    manifest = lake.run(file_format=file_format)
    folder = lake.table_dir(file_format) / f"o_orderdate_key={HOT_DAY}"
    assert manifest["format"] == file_format
    assert all(f["path"].endswith(suffix) for f in manifest["files"])
    table = pa.concat_tables([reader(str(folder / f["path"])) for f in manifest["files"]])
    assert table.column_names == ORDER_COLUMNS
    landed = sorted(([_text(row[c]) for c in ORDER_COLUMNS] for row in table.to_pylist()), key=lambda r: int(r[0]))
    expected = [[_text(v) for v in row] for row in source_rows(db, "o_orderdate = %s", (HOT_DAY,))]
    assert landed == expected
    assert any('"quick"' in (row[8] or "") for row in landed) and any(row[8] is None for row in landed)
    if file_format in ("parquet", "orc"):
        assert table.schema.field("o_totalprice").type == pa.decimal128(15, 2)
        assert table.schema.field("o_orderdate").type == pa.date32()


def _has_spark_avro(spark) -> bool:
    try:
        unload_table.check_format_available(spark, "avro")
        return True
    except UnloadError:
        return False


def test_avro_works_where_spark_avro_exists_and_fails_clearly_where_not(lake, spark):
    if _has_spark_avro(spark):
        manifest = lake.run(file_format="avro")
        assert manifest["rows"] == HOT_ROWS and manifest["files"][0]["path"].endswith(".avro")
        return
    with pytest.raises(UnloadError, match=r"file format avro needs the spark-avro package \(org.apache.spark:"
                                          r"spark-avro_2.12:3.5"):
        lake.run(file_format="avro")
    assert not lake.table_dir("avro").exists()  # failed before reading or writing anything


# --- safety: empty source, reconciliation ----------------------------------------------------

@pytest.fixture
def purgeable(db):
    """A copy of two days in its own table, so a test can purge them like the warehouse would."""
    db.execute("DROP TABLE IF EXISTS demo_master.purgeable")
    db.execute("CREATE TABLE demo_master.purgeable AS SELECT * FROM demo_master.orders "
               "WHERE o_orderdate IN ('1992-01-07', '1992-01-08')")
    yield "demo_master.purgeable"
    db.execute("DROP TABLE demo_master.purgeable")


def test_an_empty_source_never_wipes_an_archived_day(lake, db, purgeable):
    day = "1992-01-07"
    archived = lake.run(prefixed_table_name=purgeable, day_partition_value=day)
    folder = lake.table_dir(table="purgeable") / f"o_orderdate_key={day}"
    kept = digests(folder)
    db.execute("DELETE FROM demo_master.purgeable")  # archive-then-purge in the warehouse

    with pytest.raises(UnloadError, match=r"the source returned 0 rows for demo_master.purgeable "
                                          r"o_orderdate=1992-01-07 .* holds 1 data files; refusing to wipe "
                                          r"them \(pass --allow_empty_source true"):
        lake.run(prefixed_table_name=purgeable, day_partition_value=day)
    assert digests(folder) == kept  # data and the archiving run's manifest untouched
    assert read_manifest(folder) == archived

    appended = lake.run(prefixed_table_name=purgeable, day_partition_value=day, write_mode="append")
    assert (appended["rows"], appended["files"]) == (0, [])
    assert data_files(folder) == {f["path"]: f["bytes"] for f in archived["files"]}

    allowed = lake.run(prefixed_table_name=purgeable, day_partition_value=day, allow_empty_source="true")
    assert (allowed["source_rows"], allowed["rows"], allowed["files"], allowed["bytes"]) == (0, 0, [], 0)
    assert data_files(folder) == {} and read_manifest(folder) == allowed


def test_a_whole_table_overwrite_removes_days_that_left_the_source_only_when_allowed(lake, db, purgeable):
    # Issue 11: "the lake equals the table", under the empty-source guard (the old behaviour kept
    # purged days silently).
    whole = {"prefixed_table_name": purgeable, "snapshot_yn": "n", "day_partition_value": None}
    first = lake.run(**whole)
    table_dir = lake.table_dir(table="purgeable")
    kept = digests(table_dir)
    db.execute("DELETE FROM demo_master.purgeable WHERE o_orderdate = '1992-01-07'")

    with pytest.raises(UnloadError, match=r"the source has no rows for 1 archived days of demo_master.purgeable "
                                          r"\(o_orderdate_key=1992-01-07\); a whole-table overwrite would remove "
                                          r"their folders .* \(pass --allow_empty_source true"):
        lake.run(**whole)
    assert digests(table_dir) == kept  # this run's new files gone, the archive and its manifest as they were
    assert read_manifest(table_dir) == first

    manifest = lake.run(**whole, allow_empty_source="true")
    assert sorted(p.name for p in table_dir.iterdir() if p.is_dir()) == ["o_orderdate_key=1992-01-08"]
    assert (manifest["rows"], manifest["removed_days"], manifest["replaced_files"]) == (
        PER_DAY, ["o_orderdate_key=1992-01-07"], 2)
    assert set(data_files(table_dir)) == {f["path"] for f in manifest["files"]}

    db.execute("DELETE FROM demo_master.purgeable")  # an empty source, allowed: every day goes
    emptied = lake.run(**whole, allow_empty_source="true")
    assert (emptied["rows"], emptied["files"], emptied["removed_days"]) == (0, [], ["o_orderdate_key=1992-01-08"])
    assert data_files(table_dir) == {} and read_manifest(table_dir) == emptied


def test_a_whole_table_run_replaces_the_manifests_of_the_day_runs_it_supersedes(lake):
    day = lake.run(day_partition_value="1992-01-05")
    day_folder = lake.table_dir() / "o_orderdate_key=1992-01-05"
    assert read_manifest(day_folder) == day
    whole = lake.run(snapshot_yn="n", day_partition_value=None)
    assert not (day_folder / "_manifest.json").exists()  # it named files that are gone
    assert {path for path in data_files(day_folder)} == {
        f["path"].split("/", 1)[1] for f in whole["files"] if f["path"].startswith("o_orderdate_key=1992-01-05/")}


def test_flat_files_and_day_folders_never_share_a_table_folder(lake):
    lake.run(day_partition_value="1992-01-05")
    before = digests(lake.table_dir())
    with pytest.raises(UnloadError, match=r"holds day folders \(o_orderdate_key=1992-01-05, ... 1 in all\) and a "
                                          r"flat whole-table run would put its files beside them; refusing"):
        lake.run(snapshot_yn="n", day_partition_key=None, day_partition_value=None)
    assert digests(lake.table_dir()) == before

    flat = lake.run(file_format="orc", snapshot_yn="n", day_partition_key=None, day_partition_value=None)
    orc_dir = lake.table_dir("orc")
    flat_state = digests(orc_dir)
    for scope in ({}, {"snapshot_yn": "n", "day_partition_value": None}):
        with pytest.raises(UnloadError, match=r"holds 1 flat data files \(part-.*\) from a run without "
                                              r"--day_partition_key; refusing to add o_orderdate_key= day folders"):
            lake.run(file_format="orc", **scope)
        assert digests(orc_dir) == flat_state
    assert flat["rows"] == ROWS


def test_an_empty_day_with_nothing_to_wipe_succeeds_with_zero_rows(lake):
    for _ in range(2):  # the second run finds a folder holding only the first run's manifest
        manifest = lake.run(day_partition_value="2001-01-01")
        folder = lake.table_dir() / "o_orderdate_key=2001-01-01"
        assert (manifest["source_rows"], manifest["rows"], manifest["files"]) == (0, 0, [])
        assert read_manifest(folder) == manifest and data_files(folder) == {}


def test_a_source_count_that_differs_from_the_rows_read_is_a_warning_not_a_failure(lake, monkeypatch):
    # Issue 11: the count(*) is another statement (on Redshift another UNLOAD and snapshot); the
    # rows read are counted on the one read that is written. The old run failed here.
    real = unload_table.count_source_rows
    monkeypatch.setattr(unload_table, "count_source_rows", lambda read, plan: real(read, plan) + 1)
    manifest = lake.run()
    assert (manifest["source_rows_at_start"], manifest["source_rows"], manifest["rows"]) == (
        HOT_ROWS + 1, HOT_ROWS, HOT_ROWS)
    assert manifest["warnings"] == [f"source changed during the run: count(*) at start {HOT_ROWS + 1}, rows read "
                                    f"{HOT_ROWS} (demo_master.orders o_orderdate={HOT_DAY}); the lake holds the rows read"]


def test_a_landed_count_mismatch_fails_and_keeps_the_previous_version(lake):
    previous = lake.run(max_rows_per_file=600)
    folder = lake.table_dir() / f"o_orderdate_key={HOT_DAY}"
    kept = digests(folder)

    truncated = []

    def truncate_a_new_file(point):  # a file that lost rows between the write and the read-back
        if point == "written":
            new = sorted(set(data_files(folder)) - {f["path"] for f in previous["files"]})
            table = pq.read_table(folder / new[0])
            pq.write_table(table.slice(0, 100), folder / new[0])
            truncated.append(table.num_rows - 100)

    with pytest.raises(UnloadError, match=rf"row count mismatch for demo_master.orders o_orderdate={HOT_DAY}: "
                                          rf"{HOT_ROWS} rows were read from the source but (\d+) landed") as failure:
        unload_table.main(job_args(max_rows_per_file=600), spark=lake._spark, fault=truncate_a_new_file)
    assert f"but {HOT_ROWS - truncated[0]} landed" in str(failure.value)
    assert digests(folder) == kept
    assert read_manifest(folder) == previous


# --- other keys and failures -----------------------------------------------------------------

@pytest.fixture
def events(db):
    """A timestamp-keyed table with rows on both sides of midnight."""
    db.execute("DROP TABLE IF EXISTS demo_master.events")
    db.execute("CREATE TABLE demo_master.events (id int, happened_at timestamp, note text)")
    db.execute("""INSERT INTO demo_master.events VALUES
        (1, '2024-02-29 23:59:59.999', 'leap day'), (2, '2024-03-01 00:00:00', 'midnight'),
        (3, '2024-03-01 23:59:59.999999', 'last microsecond'), (4, '2024-03-02 00:00:00', 'next day')""")
    yield "demo_master.events"
    db.execute("DROP TABLE demo_master.events")


def test_a_timestamp_key_selects_the_whole_day_and_nothing_else(lake, events):
    day = lake.run(prefixed_table_name=events, day_partition_key="happened_at", day_partition_value="2024-03-01")
    folder = lake.table_dir(table="events") / "happened_at_key=2024-03-01"
    assert sorted(read_parquet(folder).column("id").to_pylist()) == [2, 3]
    assert day["rows"] == 2
    full = lake.run(prefixed_table_name=events, snapshot_yn="n", day_partition_key="happened_at",
                    day_partition_value=None)
    assert sorted(p.name for p in lake.table_dir(table="events").iterdir() if p.is_dir()) == [
        "happened_at_key=2024-02-29", "happened_at_key=2024-03-01", "happened_at_key=2024-03-02"]
    assert full["rows"] == 4


def test_a_whole_table_key_must_be_a_date_or_timestamp_column(lake):
    with pytest.raises(UnloadError, match="--day_partition_key o_clerk must be a date or timestamp column, not string"):
        lake.run(snapshot_yn="n", day_partition_key="o_clerk", day_partition_value=None)
    with pytest.raises(UnloadError, match="--day_partition_key o_nope is not a column of demo_master.orders"):
        lake.run(snapshot_yn="n", day_partition_key="o_nope", day_partition_value=None)


def test_a_missing_table_fails_with_the_databases_reason(lake):
    with pytest.raises(UnloadError, match=r'counting the source rows of demo_master.nope o_orderdate=1998-07-21 '
                                          r'failed: .*relation "demo_master.nope" does not exist'):
        lake.run(prefixed_table_name="demo_master.nope")


def test_redshift_source_outside_glue_is_refused_before_touching_anything(lake, monkeypatch):
    monkeypatch.setattr(unload_table, "glue_runtime", lambda: False)
    with pytest.raises(UnloadError, match="--source_kind redshift runs only on AWS Glue"):
        unload_table.open_session(unload_table.build_plan(unload_table.parse_args(
            ["--prefixed_table_name", "a.b", "--snapshot_yn", "n", "--file_format", "parquet",
             "--write_mode", "overwrite", "--s3path_datalake", LAKE, "--glue_connection", "c",
             "--TempDir", "s3://tmp-bucket/t", "--redshift_role_arn", "arn:aws:iam::123456789012:role/R"])))
    assert not any(lake.root.iterdir())


def test_on_glue_the_job_reads_through_the_redshift_connector(lake, pg, monkeypatch):
    """A stand-in awsglue records what the job asks Glue's Redshift connector for, and answers
    from PostgreSQL: the options must carry the query, the temp dir, the connection and the role,
    never a credential."""
    calls = fake_redshift_connector(lake, pg, monkeypatch)
    role = "arn:aws:iam::123456789012:role/RedshiftUnload"

    manifest = lake.run(source_kind="redshift", TempDir="s3://tmp-bucket/temporary", redshift_role_arn=role,
                        JOB_RUN_ID="jr_glue1")

    plan = unload_table.build_plan(unload_table.parse_args(job_args()))
    common = {"redshiftTmpDir": "s3://tmp-bucket/temporary/demo_master.orders/jr_glue1/",
              "useConnectionProperties": "true", "connectionName": "tpc-rs", "aws_iam_role": role}
    assert calls == [("redshift", {"sampleQuery": unload_table.count_query(plan), **common}),
                     ("redshift", {"sampleQuery": unload_table.select_query(plan), **common})]
    assert manifest["rows"] == manifest["source_rows"] == HOT_ROWS


def fake_redshift_connector(lake, pg, monkeypatch, fail_on: str | None = None) -> list:
    """Installs a stand-in awsglue whose Redshift connector stages an UNLOAD file in the run's temp
    folder (as the real one does, and never deletes), then answers from PostgreSQL, or raises for
    a query containing `fail_on`. Returns the list of (connection_type, options) it was asked for."""
    calls = []

    class FakeGlueContext:
        def __init__(self, spark_context):
            self.create_dynamic_frame = self

        def from_options(self, connection_type, connection_options):
            calls.append((connection_type, dict(connection_options)))
            staged = lake.local(connection_options["redshiftTmpDir"]) / f"unload_{len(calls)}_part_00"
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(b"staged rows")
            if fail_on and fail_on in connection_options["sampleQuery"]:
                raise RuntimeError("the cluster went away")
            df = lake._spark.read.format("jdbc").options(**unload_table.jdbc_read_options(
                pg.connection(), connection_options["sampleQuery"])).load()
            return types.SimpleNamespace(toDF=lambda: df)

    awsglue = types.ModuleType("awsglue")
    awsglue.context = types.ModuleType("awsglue.context")
    awsglue.context.GlueContext = FakeGlueContext
    monkeypatch.setitem(sys.modules, "awsglue", awsglue)
    monkeypatch.setitem(sys.modules, "awsglue.context", awsglue.context)
    for name in ("UNLOAD_LOCAL_JDBC_URL", "UNLOAD_LOCAL_JDBC_USER", "UNLOAD_LOCAL_JDBC_PASSWORD"):
        monkeypatch.delenv(name)  # on Glue the credentials live in the Glue connection only
    return calls


@pytest.mark.parametrize("fails", [False, True])
def test_the_runs_temp_folder_is_removed_on_success_and_on_failure(lake, pg, monkeypatch, fails):
    calls = fake_redshift_connector(lake, pg, monkeypatch, fail_on="SELECT" if fails else None)
    run = lambda: lake.run(source_kind="redshift", TempDir="s3://tmp-bucket/temporary",  # noqa: E731
                           redshift_role_arn="arn:aws:iam::123456789012:role/R", JOB_RUN_ID="jr_tmp")
    sibling = lake.local("s3://tmp-bucket/temporary/demo_master.orders/jr_other_run/") / "keep"
    sibling.parent.mkdir(parents=True)
    sibling.write_bytes(b"another run's staging")
    if fails:
        with pytest.raises(UnloadError, match="the cluster went away"):
            run()
    else:
        run()
    assert calls, "the connector was used"
    assert not lake.local("s3://tmp-bucket/temporary/demo_master.orders/jr_tmp/").exists()
    assert sibling.read_bytes() == b"another run's staging", "only this run's folder goes"


def test_the_error_line_is_printed_locally_and_raised_on_glue(monkeypatch, capsys):
    error = UnloadError("something broke")
    monkeypatch.setattr(unload_table, "glue_runtime", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        unload_table._fail(error)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "UnloadError: something broke\n"
    monkeypatch.setattr(unload_table, "glue_runtime", lambda: True)
    with pytest.raises(UnloadError, match="something broke"):
        unload_table._fail(error)
