"""Type fidelity: one table of edge values, unloaded in every format and both scopes, read back by
readers that are not Spark (pyarrow, pyorc, json, csv, fastavro) and compared value by value with
what PostgreSQL returns. Where a format cannot keep a value by its nature, the test asserts the
documented behaviour (README, "What each format keeps") instead of the value."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zoneinfo
from decimal import Decimal
from pathlib import Path

import fastavro
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pyorc
import pytest
from pyorc.converters import ORCConverter

import unload_table
from unload_support import CONNECTION, LAKE, ROOT, data_files
from unload_table import UnloadError

UTC = dt.timezone.utc
DAY = "2024-02-29"
DAY_IDS = {1, 2, 3, 4, 5, 7}
ALL_IDS = set(range(1, 9))
COLUMNS = ["id", "k_day", "i16", "i32", "i64", "n", "f4", "f8", "b", "c", "v", "dt", "ts", "tstz"]
FORMATS = ["parquet", "orc", "json", "csv", "avro"]

EDGE_SQL = r"""
DROP SCHEMA IF EXISTS fidelity CASCADE;
CREATE SCHEMA fidelity;
CREATE TABLE fidelity.edge_values (
  id integer NOT NULL, k_day date NOT NULL,
  i16 smallint, i32 integer, i64 bigint, n numeric(38,10), f4 real, f8 double precision,
  b boolean, c char(6), v varchar(200), dt date, ts timestamp, tstz timestamptz);
INSERT INTO fidelity.edge_values VALUES
 (1, '2024-02-29', -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999,
  '-3.4028235e38', '-1.7976931348623157e308', false, '', '',
  '0001-01-01', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00'),
 (2, '2024-02-29', 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999,
  '3.4028235e38', '1.7976931348623157e308', true, 'ab', ' lead and trail ',
  '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00'),
 (3, '2024-02-29', 0, 0, 0, 0.0000000001, '1.4e-45', '5e-324', true, 'é✓"', E'tab\there\nnewline\r\ncrlf',
  '1582-10-04', '1582-10-04 12:00:00.000001', '2024-03-10 02:30:00.5-05:00'),
 (4, '2024-02-29', -1, -1, -1, -0.0000000001, '-0', '-0', false, E'\\',
  E'quote " comma , semicolon ; pipe | backslash \\ end',
  '1582-10-15', '1899-12-31 23:59:59.999999', '2024-06-30 23:59:59.999999+05:45'),
 (5, '2024-02-29', 1, 1, 1, 1234567890123456789012345678.0123456789, '1.1754942e-38', '2.225073858507201e-308',
  true, ' ', ' ', '1969-12-31', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.123456+14:00'),
 (6, '2024-03-01', 2, 2, 2, 0, '0.1', '0.1', false, 'NULL', E'\\N',
  '1970-01-01', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:00.000001-12:00'),
 (7, '2024-02-29', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (8, '2024-03-01', 3, 3, 3, 3.3, '1e-40', '2.2250738585072014e-308', true, '𝄞😀', E'\tleading tab, trailing newline\n',
  '2024-02-29', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999+01:00');
"""


# --- the source, as PostgreSQL returns it, in one canonical form ------------------------------

def canonical(row: dict) -> dict:
    """Exact comparison keys: floats by their bits (keeps -0.0 and subnormals apart), real as the
    float32 it is, timestamps as aware UTC datetimes (naive ones are UTC by the run's pinned zone)."""
    out = dict(row)
    if row["f4"] is not None:
        out["f4"] = struct.pack("<f", row["f4"])
    if row["f8"] is not None:
        out["f8"] = struct.pack("<d", row["f8"])
    for name in ("ts", "tstz"):
        value = row[name]
        if value is not None:
            out[name] = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return out


@pytest.fixture(scope="module")
def source(pg) -> dict[int, dict]:
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(EDGE_SQL)
        conn.execute("SET TimeZone = 'UTC'")
        cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM fidelity.edge_values")
        return {row[0]: canonical(dict(zip(COLUMNS, row))) for row in cursor.fetchall()}


def run(lake, file_format: str, scope: str) -> dict:
    args = dict(prefixed_table_name="fidelity.edge_values", file_format=file_format, day_partition_key="k_day")
    if scope == "day":
        args.update(snapshot_yn="y", day_partition_value=DAY)
    else:
        args.update(snapshot_yn="n", day_partition_value=None)
    return lake.run(**args)


# --- readers that are not Spark ----------------------------------------------------------------

def read_parquet(path: Path) -> list[dict]:
    # INT96 (Spark's timestamp encoding) holds years 1-9999; Arrow's default nanoseconds do not, so
    # ask for microseconds (without it pyarrow refuses these rows rather than changing them).
    table = pq.read_table(path, coerce_int96_timestamp_unit="us")
    assert table.schema.field("n").type == pa.decimal128(38, 10)
    assert table.schema.field("i16").type == pa.int16() and table.schema.field("f4").type == pa.float32()
    assert table.schema.field("dt").type == pa.date32()
    return table.to_pylist()


class _Raw(ORCConverter):
    """pyorc hands over the stored numbers: days, or (seconds, nanoseconds)."""

    @staticmethod
    def from_orc(*args):
        return args[0] if len(args) == 1 else (args[0], args[1])

    @staticmethod
    def to_orc(*args):
        raise NotImplementedError


def read_orc(path: Path) -> list[dict]:
    with open(path, "rb") as handle:
        reader = pyorc.Reader(handle, struct_repr=pyorc.StructRepr.DICT, timezone=zoneinfo.ZoneInfo("UTC"),
                              converters={pyorc.TypeKind.DATE: _Raw, pyorc.TypeKind.TIMESTAMP: _Raw})
        return list(reader)


def read_json(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]


def read_csv(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The documented convention: the bare field \N is NULL, "" is the empty string.
    return [{k: (None if v == unload_table.CSV_NULL else v) for k, v in row.items()} for row in rows]


def read_avro(path: Path) -> list[dict]:
    with open(path, "rb") as handle:
        return list(fastavro.reader(handle))


READERS = {"parquet": read_parquet, "orc": read_orc, "json": read_json, "csv": read_csv, "avro": read_avro}


# --- what each format gives back, in the canonical form ---------------------------------------

def _f(value, fmt: str):
    return None if value is None else struct.pack(fmt, float(value))


def from_text(row: dict) -> dict:
    """JSON and CSV: numbers and times as text (JSON numbers parsed exactly, CSV fields as strings)."""
    def typed(name, convert):
        value = row[name]
        return None if value is None else convert(value)
    boolean = (lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[v])
    return {
        "id": typed("id", int), "k_day": typed("k_day", dt.date.fromisoformat),
        "i16": typed("i16", int), "i32": typed("i32", int), "i64": typed("i64", int),
        "n": typed("n", lambda v: Decimal(str(v))),
        "f4": _f(row["f4"], "<f"), "f8": _f(row["f8"], "<d"), "b": typed("b", boolean),
        "c": row["c"], "v": row["v"], "dt": typed("dt", dt.date.fromisoformat),
        "ts": typed("ts", dt.datetime.fromisoformat), "tstz": typed("tstz", dt.datetime.fromisoformat),
    }


def from_parquet(row: dict) -> dict:
    out = {name: row[name] for name in COLUMNS}
    out["f4"], out["f8"] = _f(row["f4"], "<f"), _f(row["f8"], "<d")
    for name in ("ts", "tstz"):  # INT96 is an instant: Arrow gives it naive, in UTC
        out[name] = None if row[name] is None else row[name].replace(tzinfo=UTC)
    return out


def with_float_bits(row: dict) -> dict:
    """ORC (dates and times left as stored numbers) and Avro (typed values): only the floats."""
    out = {name: row[name] for name in COLUMNS}
    out["f4"], out["f8"] = _f(row["f4"], "<f"), _f(row["f8"], "<d")
    return out


EPOCH_JDN = 2440588  # Julian day number of 1970-01-01


def julian_calendar_days(day: dt.date) -> int:
    """Days since 1970-01-01 of the Julian-calendar date with the same year, month and day."""
    a = (14 - day.month) // 12
    y, m = day.year + 4800 - a, day.month + 12 * a - 3
    return day.day + (153 * m + 2) // 5 + 365 * y + y // 4 - 32083 - EPOCH_JDN


GREGORIAN_START = dt.date(1582, 10, 15)


def orc_days(day: dt.date) -> int:
    """Spark's ORC writer stores dates in the hybrid Julian/Gregorian calendar (no CORRECTED mode
    for ORC in Spark 3.5): before 1582-10-15 the stored day number is the Julian calendar's."""
    if day < GREGORIAN_START:
        return julian_calendar_days(day)
    return (day - dt.date(1970, 1, 1)).days


def orc_timestamp(value: dt.datetime) -> tuple[int, int]:
    """(seconds, nanoseconds) a reader of the ORC file gets for an instant Spark wrote."""
    seconds = orc_days(value.date()) * 86400 + value.hour * 3600 + value.minute * 60 + value.second
    nanos = value.microsecond * 1000
    if seconds == -1 and nanos:
        # ORC cannot hold a fraction of the last second before 1970: it reads back one second late.
        seconds = 0
    return seconds, nanos


def expected(row: dict, file_format: str) -> dict:
    """The source row as file_format keeps it: the value itself, or the documented change."""
    out = dict(row)
    if file_format == "orc":
        for name in ("k_day", "dt"):
            out[name] = None if row[name] is None else orc_days(row[name])
        for name in ("ts", "tstz"):
            out[name] = None if row[name] is None else orc_timestamp(row[name])
    if file_format == "csv" and row["v"] == unload_table.CSV_NULL:
        out["v"] = None  # the one collision of the \N convention: a text that is exactly \N
    return out


def landed(file_format: str, folder: Path) -> dict[int, dict]:
    rows = []
    for name in data_files(folder):
        rows += READERS[file_format](folder / name)
    convert = {"parquet": from_parquet, "orc": with_float_bits, "json": from_text, "csv": from_text,
               "avro": with_float_bits}[file_format]
    converted = [convert(row) for row in rows]
    by_id = {row["id"]: row for row in converted}
    assert len(by_id) == len(converted), "an id landed twice"
    return by_id


def spark_avro_missing(spark) -> str | None:
    try:
        unload_table.check_format_available(spark, "avro")
        return None
    except UnloadError:
        return ("NOT VERIFIED: spark-avro is not on this Spark's classpath. No registry reachable here (PyPI, "
                "crates.io, npm, Debian) ships spark-avro_2.12 3.5.x and pip's pyspark leaves it out; with the jar, "
                "UNLOAD_SPARK_JARS=/path/spark-avro_2.12-3.5.9.jar runs this test")


# --- the suite -------------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["day", "full"])
@pytest.mark.parametrize("file_format", FORMATS)
def test_every_value_survives_or_changes_only_as_documented(lake, spark, source, file_format, scope):
    if file_format == "avro":
        reason = spark_avro_missing(spark)
        if reason:
            pytest.skip(reason)
    manifest = run(lake, file_format, scope)
    table_dir = lake.local(f"{LAKE}/fidelity/{file_format}/edge_values/")
    ids = DAY_IDS if scope == "day" else ALL_IDS
    assert manifest["rows"] == manifest["source_rows"] == len(ids)
    folder = table_dir / f"k_day_key={DAY}" if scope == "day" else table_dir
    got = landed(file_format, folder)
    assert set(got) == ids
    for row_id in sorted(ids):
        want = expected(source[row_id], file_format)
        differences = {name: (want[name], got[row_id][name]) for name in COLUMNS if got[row_id][name] != want[name]}
        assert not differences, f"{file_format} {scope} row {row_id}: {differences}"


def test_the_documented_exceptions_are_real_differences(source):
    """Guards the expectations above: each exception changes a value of the table (so a format that
    kept the value would fail the suite, and the README's exceptions stay true)."""
    assert expected(source[1], "orc")["dt"] == -719164 != (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
    assert expected(source[3], "orc")["dt"] == (dt.date(1582, 10, 14) - dt.date(1970, 1, 1)).days
    assert expected(source[4], "orc")["dt"] == (dt.date(1582, 10, 15) - dt.date(1970, 1, 1)).days  # unchanged
    assert expected(source[5], "orc")["ts"] == (0, 500_000_000)  # 1969-12-31T23:59:59.5 reads as 00:00:00.5
    assert expected(source[6], "csv")["v"] is None and source[6]["v"] == "\\N"
    assert all(expected(source[i], fmt) == source[i] for i in ALL_IDS for fmt in ("parquet", "json", "avro"))


def test_the_text_formats_write_microseconds_with_an_explicit_offset(lake):
    run(lake, "json", "day")
    folder = lake.local(f"{LAKE}/fidelity/json/edge_values/k_day_key={DAY}/")
    lines = {row["id"]: row for name in data_files(folder) for row in read_json(folder / name)}
    assert lines[3]["ts"] == "1582-10-04T12:00:00.000001+00:00"
    assert lines[3]["tstz"] == "2024-03-10T07:30:00.500000+00:00"  # -05:00 in, the same instant in UTC
    assert lines[1]["v"] == "" and lines[7]["v"] is None


def test_csv_keeps_white_space_and_tells_null_from_empty(lake):
    run(lake, "csv", "day")
    folder = lake.local(f"{LAKE}/fidelity/csv/edge_values/k_day_key={DAY}/")
    raw = "".join(gzip.open(folder / name, "rt", encoding="utf-8", newline="").read() for name in data_files(folder))
    assert ',"",' in raw  # the empty string
    assert ",\\N,\\N," in raw  # the row of NULLs
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(raw))}
    assert rows["5"]["v"] == " " and rows["5"]["c"] == "      " and rows["2"]["v"] == " lead and trail "
    assert rows["3"]["v"] == "tab\there\nnewline\r\ncrlf"


# --- Redshift types no format keeps: fail before any write -----------------------------------

@pytest.fixture(scope="module")
def odd_types(pg):
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS fidelity; DROP TABLE IF EXISTS fidelity.odd_types; "
                     "CREATE TABLE fidelity.odd_types (id int, k_day date, blob bytea, at_time time); "
                     "INSERT INTO fidelity.odd_types VALUES (1, '2024-02-29', '\\xdeadbeef', '12:34:56.789012')")


@pytest.mark.parametrize("file_format, named", [
    ("csv", ["blob (binary): CSV cannot hold it", "at_time (a time of day, read as timestamp)"]),
    ("parquet", ["at_time (a time of day, read as timestamp)"]),
])
def test_a_column_the_format_cannot_keep_fails_before_any_write(lake, odd_types, file_format, named):
    with pytest.raises(UnloadError) as failure:
        lake.run(prefixed_table_name="fidelity.odd_types", file_format=file_format, day_partition_key="k_day",
                 day_partition_value=DAY)
    message = str(failure.value)
    assert message.startswith(f"fidelity.odd_types has columns that {file_format} cannot hold unchanged")
    assert all(part in message for part in named)
    assert ("blob" in message) is (file_format == "csv")
    assert not lake.local(f"{LAKE}/fidelity/{file_format}/").exists()  # nothing written, not even a folder


# --- the time zone is pinned for the whole run -------------------------------------------------

def test_the_shared_session_runs_its_jvm_in_utc(spark):
    assert spark._jvm.java.util.TimeZone.getDefault().getID() == "UTC"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.parquet.datetimeRebaseModeInWrite") == "CORRECTED"


class _FakeJvmSpark:
    """Just enough of a SparkSession for pin_time_zone: a conf and a JVM default time zone."""

    def __init__(self, zone):
        self.settings = {}
        self.conf = type("Conf", (), {"set": lambda _, key, value: self.settings.__setitem__(key, value)})()
        zone_obj = type("Zone", (), {"getID": lambda _: zone})()
        time_zone = type("TimeZone", (), {"getDefault": staticmethod(lambda: zone_obj)})
        self._jvm = type("Jvm", (), {"java": type("J", (), {"util": type("U", (), {"TimeZone": time_zone})})})()


def test_a_driver_jvm_in_another_zone_is_refused_before_reading():
    fake = _FakeJvmSpark("America/New_York")
    with pytest.raises(UnloadError, match=r"driver JVM runs in time zone America/New_York, not UTC.*"
                                          r"-Duser.timezone=UTC"):
        unload_table.pin_time_zone(fake)
    utc = _FakeJvmSpark("UTC")
    unload_table.pin_time_zone(utc)
    assert utc.settings == unload_table.session_settings()


def test_a_run_from_a_machine_in_another_zone_keeps_naive_timestamps(pg, source, tmp_path):
    """The real entry point in a fresh JVM whose machine zone is UTC+05:45: without the JVM pin the
    JDBC read would shift every `timestamp` by 5h45."""
    root = tmp_path / "s3"
    argv = ["--prefixed_table_name", "fidelity.edge_values", "--snapshot_yn", "y", "--file_format", "parquet",
            "--write_mode", "overwrite", "--s3path_datalake", LAKE, "--day_partition_key", "k_day",
            "--day_partition_value", DAY, "--glue_connection", CONNECTION, "--source_kind", "postgresql"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UNLOAD_")}
    env = {**clean, **pg.job_env(), "UNLOAD_LOCAL_S3_ROOT": str(root), "TZ": "Asia/Kathmandu"}
    proc = subprocess.run([sys.executable, str(ROOT / "glue-scripts" / "unload_table.py"), *argv], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = root / f"lake/dl/fidelity/parquet/edge_values/k_day_key={DAY}"
    got = {row["id"]: from_parquet(row) for name in data_files(folder) for row in read_parquet(folder / name)}
    assert {i: got[i]["ts"] for i in DAY_IDS} == {i: source[i]["ts"] for i in DAY_IDS}
