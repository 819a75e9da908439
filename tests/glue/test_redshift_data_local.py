"""local/redshift_data_local.py, the Redshift Data API emulator, through boto3's redshift-data client
(a real AWS SDK checks the wire format) against the suite's PostgreSQL (demo_master.orders)."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import boto3
import botocore.config
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from unload_support import HOT_DAY, HOT_ROWS, ROOT, ROWS

import redshift_data_local as rdl  # noqa: E402  (unload_support put local/ on sys.path)

ROLE = "arn:aws:iam::123456789012:role/local-redshift-unload"
BUCKET = "datalake"
ORDERS = '"demo_master"."orders"'
COLUMNS = ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate", "o_orderpriority",
           "o_clerk", "o_shippriority", "o_comment"]


def unload_sql(query: str, to: str, fmt: str = "PARQUET", extra: str = "MAXFILESIZE 256 MB\nMANIFEST VERBOSE") -> str:
    """The statement form the project generates."""
    return (f"UNLOAD ('{query.replace(chr(39), chr(39) * 2)}')\nTO '{to}'\nIAM_ROLE '{ROLE}'\n"
            f"FORMAT AS {fmt}\n{extra}")


def day_query(day: str = HOT_DAY, table: str = ORDERS) -> str:
    return f"SELECT * FROM {table} WHERE \"o_orderdate\" = DATE '{day}'"


class Emulator:
    def __init__(self, root: Path, dsn: str, **kwargs):
        self.root = root
        (root / BUCKET).mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []
        self.server, self.state = rdl.serve("127.0.0.1:0", root, dsn, log=self.lines.append, **kwargs)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = self.make_client()

    def make_client(self, retries: int | None = None):
        config = botocore.config.Config(retries={"max_attempts": retries, "mode": "standard"}) if retries else \
            botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client("redshift-data", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local", config=config)

    def execute(self, sql: str, client=None, **kwargs) -> str:
        args = {"Database": "postgres", "ClusterIdentifier": "local-cluster", "DbUser": "awsuser", **kwargs}
        return (client or self.client).execute_statement(Sql=sql, **{k: v for k, v in args.items() if v is not None})["Id"]

    def wait(self, statement_id: str, timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.client.describe_statement(Id=statement_id)
            if d["Status"] in ("FINISHED", "FAILED", "ABORTED"):
                return d
            time.sleep(0.02)
        raise AssertionError(f"statement {statement_id} did not end: {d}")

    def run(self, sql: str, **kwargs) -> dict:
        return self.wait(self.execute(sql, **kwargs))

    def hook(self, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(self.url + "/_emulator/" + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def local(self, url: str) -> Path:
        assert url.startswith("s3://")
        return self.root / url[len("s3://"):]

    def files(self, prefix_url: str) -> dict[str, int]:
        """{name: size} of the objects whose key starts with prefix_url (names relative to its folder)."""
        path = self.local(prefix_url)
        folder, name_prefix = (path, "") if prefix_url.endswith("/") else (path.parent, path.name)
        if not folder.is_dir():
            return {}
        return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.name.startswith(name_prefix)}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def emu(tmp_path, pg):
    e = Emulator(tmp_path / "s3", pg.dsn)
    yield e
    e.stop()


def prefix(fmt: str = "parquet", day: str = HOT_DAY) -> str:
    run = uuid.uuid4().hex[:8]
    return f"s3://{BUCKET}/lake/demo_master/{fmt}/orders/o_orderdate_key={day}/run-{run}_"


def pg_rows(db, query: str) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute(query + " ORDER BY 1")
        return cur.fetchall()


def read_manifest(emu: Emulator, to: str) -> dict:
    return json.loads(emu.local(to + "manifest").read_text())


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


# --- the core: Parquet ---------------------------------------------------------------------------

def test_one_day_parquet_unload(emu, db):
    to = prefix()
    d = emu.run(unload_sql(day_query(), to))
    assert d["Status"] == "FINISHED", d.get("Error")
    expected = pg_rows(db, day_query())
    assert len(expected) == HOT_ROWS
    assert d["ResultRows"] == HOT_ROWS and d["HasResultSet"] is False and d["Duration"] > 0
    assert d["QueryString"].startswith("UNLOAD (") and d["Database"] == "postgres"
    assert d["ClusterIdentifier"] == "local-cluster" and d["DbUser"] == "awsuser"
    assert isinstance(d["RedshiftPid"], int) and isinstance(d["RedshiftQueryId"], int)
    assert "Error" not in d

    files = emu.files(to)
    run = to.rsplit("/", 1)[1]
    assert sorted(files) == [f"{run}0000_part_00.parquet", f"{run}0001_part_00.parquet", f"{run}manifest"]
    manifest = read_manifest(emu, to)
    assert [e["url"] for e in manifest["entries"]] == [f"{to}0000_part_00.parquet", f"{to}0001_part_00.parquet"]
    for entry in manifest["entries"]:
        assert entry["meta"]["content_length"] == emu.local(entry["url"]).stat().st_size
    assert [e["meta"]["record_count"] for e in manifest["entries"]] == [HOT_ROWS // 2, HOT_ROWS // 2]
    assert manifest["meta"] == {"content_length": sum(e["meta"]["content_length"] for e in manifest["entries"]),
                                "record_count": HOT_ROWS}
    assert manifest["author"] == {"name": "Amazon Redshift", "version": "1.0.0"}
    assert manifest["schema"]["elements"] == [
        {"name": "o_orderkey", "type": {"base": "bigint"}},
        {"name": "o_custkey", "type": {"base": "bigint"}},
        {"name": "o_orderstatus", "type": {"base": "character", "length": 1}},
        {"name": "o_totalprice", "type": {"base": "numeric", "precision": 15, "scale": 2}},
        {"name": "o_orderdate", "type": {"base": "date"}},
        {"name": "o_orderpriority", "type": {"base": "character varying", "length": 15}},
        {"name": "o_clerk", "type": {"base": "character varying", "length": 15}},
        {"name": "o_shippriority", "type": {"base": "integer"}},
        {"name": "o_comment", "type": {"base": "character varying", "length": 79}},
    ]

    tables = [pq.read_table(emu.local(e["url"])) for e in manifest["entries"]]
    schema = tables[0].schema
    assert [(f.name, str(f.type)) for f in schema] == [
        ("o_orderkey", "int64"), ("o_custkey", "int64"), ("o_orderstatus", "string"),
        ("o_totalprice", "decimal128(15, 2)"), ("o_orderdate", "date32[day]"), ("o_orderpriority", "string"),
        ("o_clerk", "string"), ("o_shippriority", "int32"), ("o_comment", "string")]
    meta = pq.ParquetFile(emu.local(manifest["entries"][0]["url"])).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    got = sorted(tuple(r[c] for c in COLUMNS) for t in tables for r in t.to_pylist())
    assert got == expected   # value by value: Decimal, datetime.date, None
    assert any(r[8] is None for r in got) and isinstance(got[0][3], Decimal)
    assert not [p for p in emu.root.rglob("*") if p.name.startswith(".")]   # no temporary leftovers


def test_whole_table_parquet_split_contiguously_over_slices(emu, db):
    to = f"s3://{BUCKET}/lake/demo_master/parquet/orders/whole/run-1_"
    d = emu.run(unload_sql(f"SELECT * FROM {ORDERS}", to))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == ROWS
    manifest = read_manifest(emu, to)
    assert [e["meta"]["record_count"] for e in manifest["entries"]] == [ROWS // 2, ROWS // 2]
    keys = [pq.read_table(emu.local(e["url"]), columns=["o_orderkey"]).column(0).to_pylist()
            for e in manifest["entries"]]
    assert sorted(keys[0] + keys[1]) == [r[0] for r in pg_rows(db, f"SELECT o_orderkey FROM {ORDERS}")]


# --- CSV and JSON --------------------------------------------------------------------------------

def _as_text(value) -> str:
    return "" if value is None else str(value)


def test_whole_table_csv(emu, db):
    to = f"s3://{BUCKET}/lake/demo_master/csv/orders/whole/run-1_"
    d = emu.run(unload_sql(f"SELECT * FROM {ORDERS}", to, "CSV", "MANIFEST"))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == ROWS
    run = to.rsplit("/", 1)[1]
    assert sorted(emu.files(to)) == [f"{run}0000_part_00", f"{run}0001_part_00", f"{run}manifest"]
    manifest = read_manifest(emu, to)
    # plain MANIFEST: url and meta.content_length only
    assert all(set(e) == {"url", "meta"} and set(e["meta"]) == {"content_length"} for e in manifest["entries"])
    assert set(manifest) == {"entries"}
    rows = []
    for entry in manifest["entries"]:
        data = emu.local(entry["url"]).read_bytes()
        assert entry["meta"]["content_length"] == len(data)
        rows += list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert b'"pending, ""quick"" deposits' in emu.local(manifest["entries"][0]["url"]).read_bytes()
    expected = [[_as_text(v) for v in r] for r in pg_rows(db, f"SELECT * FROM {ORDERS}")]
    assert sorted(rows, key=lambda r: int(r[0])) == expected


def test_whole_table_json(emu, db):
    to = f"s3://{BUCKET}/lake/demo_master/json/orders/whole/run-1_"
    d = emu.run(unload_sql(f"SELECT * FROM {ORDERS}", to, "JSON", "MANIFEST VERBOSE"))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == ROWS
    manifest = read_manifest(emu, to)
    rows = []
    for entry in manifest["entries"]:
        lines = emu.local(entry["url"]).read_text().splitlines()
        assert len(lines) == entry["meta"]["record_count"]
        rows += [json.loads(line, parse_float=Decimal) for line in lines]
    assert list(rows[0]) == COLUMNS
    expected = pg_rows(db, f"SELECT * FROM {ORDERS}")
    got = sorted(rows, key=lambda r: r["o_orderkey"])
    for row, exp in zip(got, expected, strict=True):
        assert row["o_totalprice"] == exp[3] and row["o_orderdate"] == exp[4].isoformat()
        assert [row[c] for c in COLUMNS if c not in ("o_totalprice", "o_orderdate")] == \
            [v for i, v in enumerate(exp) if i not in (3, 4)]
    text = emu.local(manifest["entries"][0]["url"]).read_text()
    assert '"o_comment":null' in text and '\\"quick\\"' in text and "café déjà vu" in text


@pytest.fixture(scope="module")
def typed_table(db):
    db.execute("CREATE SCHEMA IF NOT EXISTS rsdl_test")
    db.execute("DROP TABLE IF EXISTS rsdl_test.typed")
    db.execute("""CREATE TABLE rsdl_test.typed (id smallint, i integer, r real, d double precision, b boolean,
                  c char(3), t text, ts timestamp, tz timestamptz, n numeric(38,10), s varchar(20))""")
    db.execute("""INSERT INTO rsdl_test.typed VALUES
        (1, -7, 1.5, 2.25, true, 'ab', 'line1' || chr(10) || 'line2', '2020-02-29 12:34:56.789012',
         '2020-02-29 12:34:56+05', 12345678901234567890.0123456789, ''),
        (2, NULL, NULL, NULL, false, NULL, 'back\\slash "q"', NULL, NULL, NULL, NULL)""")
    yield "rsdl_test.typed"
    db.execute("DROP TABLE rsdl_test.typed")


def test_types_to_parquet_json_and_csv(emu, typed_table):
    to = f"s3://{BUCKET}/typed/p_"
    d = emu.run(unload_sql(f"SELECT * FROM {typed_table} ORDER BY id", to, extra="MANIFEST VERBOSE"), )
    assert d["Status"] == "FINISHED", d.get("Error")
    manifest = read_manifest(emu, to)
    t = pa.concat_tables([pq.read_table(emu.local(e["url"])) for e in manifest["entries"]])
    assert [str(f.type) for f in t.schema] == ["int16", "int32", "float", "double", "bool", "string", "string",
                                               "timestamp[us]", "timestamp[us]", "decimal128(38, 10)", "string"]
    first, second = t.to_pylist()
    assert first["tz"].isoformat() == "2020-02-29T07:34:56"      # the UTC instant, no zone
    assert first["ts"].isoformat() == "2020-02-29T12:34:56.789012"
    assert first["n"] == Decimal("12345678901234567890.0123456789")
    assert first["t"] == "line1\nline2" and first["s"] == "" and second["s"] is None
    assert second["t"] == 'back\\slash "q"' and second["i"] is None
    assert [e["type"] for e in manifest["schema"]["elements"]] == [
        {"base": "smallint"}, {"base": "integer"}, {"base": "real"}, {"base": "double precision"},
        {"base": "boolean"}, {"base": "character", "length": 3}, {"base": "character varying", "length": 256},
        {"base": "timestamp without time zone"}, {"base": "timestamp with time zone"},
        {"base": "numeric", "precision": 38, "scale": 10}, {"base": "character varying", "length": 20}]

    to = f"s3://{BUCKET}/typed/j_"
    d = emu.run(unload_sql(f"SELECT * FROM {typed_table} ORDER BY id", to, "JSON", "MANIFEST"))
    assert d["Status"] == "FINISHED", d.get("Error")
    lines = [json.loads(line, parse_float=Decimal) for e in read_manifest(emu, to)["entries"]
             for line in emu.local(e["url"]).read_text().splitlines()]
    assert lines[0]["b"] == "t" and lines[1]["b"] == "f"           # r_UNLOAD.md: booleans as t or f
    assert lines[0]["tz"] == "2020-02-29 07:34:56+00" and lines[0]["ts"] == "2020-02-29 12:34:56.789012"
    assert lines[0]["t"] == "line1\nline2" and lines[1]["t"] == 'back\\slash "q"'
    assert lines[0]["n"] == Decimal("12345678901234567890.0123456789") and lines[1]["r"] is None

    to = f"s3://{BUCKET}/typed/c_"
    d = emu.run(unload_sql(f"SELECT * FROM {typed_table} ORDER BY id", to, "CSV", ""))
    assert d["Status"] == "FINISHED", d.get("Error")
    rows = [r for name in sorted(emu.files(to)) for r in csv.reader(io.StringIO(
        (emu.root / BUCKET / "typed" / name).read_text(), newline=""))]
    assert rows[0][6] == "line1\nline2" and rows[0][4] == "t" and rows[1][1] == ""


def test_unsupported_type_fails_naming_the_column(emu):
    d = emu.run(unload_sql("SELECT 1 AS a, interval '1 day' AS gap", f"s3://{BUCKET}/x/iv_"))
    assert d["Status"] == "FAILED" and '"gap"' in d["Error"] and "interval" in d["Error"]
    assert emu.files(f"s3://{BUCKET}/x/iv_") == {}


# --- idempotency, failures, zero rows ------------------------------------------------------------

def test_client_token_runs_one_statement(emu):
    sql = unload_sql(day_query(), prefix())
    first = emu.execute(sql, ClientToken="start-run-1")
    second = emu.execute(sql, ClientToken="start-run-1")
    assert first == second
    assert emu.wait(first)["Status"] == "FINISHED"
    assert emu.execute(sql, ClientToken="start-run-1") == first      # also after it ended
    stats = emu.hook("stats")
    assert stats["execute_calls"] == 3 and stats["statements_executed"] == 1
    assert [(s["id"], s["client_token"], s["status"]) for s in stats["statements"]] == [
        (first, "start-run-1", "FINISHED")]
    with pytest.raises(ClientError) as exc:       # the same token for another request
        emu.execute(unload_sql(day_query(), prefix()), ClientToken="start-run-1")
    assert error_of(exc)[0] == "ValidationException"
    assert emu.hook("stats")["statements_executed"] == 1


def test_destination_not_empty_fails(emu):
    to = prefix()
    assert emu.run(unload_sql(day_query(), to))["Status"] == "FINISHED"
    before = emu.files(to)
    d = emu.run(unload_sql(day_query(), to))
    assert d["Status"] == "FAILED"
    assert d["Error"] == ("ERROR: Specified unload destination on S3 is not empty. Consider using a different "
                          "bucket / prefix, manually removing the target files in S3, or using the "
                          "ALLOWOVERWRITE option.")
    assert emu.files(to) == before
    # a stray object under the name prefix is enough
    other = prefix()
    emu.local(other + "stray").parent.mkdir(parents=True, exist_ok=True)
    emu.local(other + "stray").write_text("x")
    assert emu.run(unload_sql(day_query(), other))["Status"] == "FAILED"


def test_missing_table_missing_bucket_wrong_database(emu):
    d = emu.run(unload_sql('SELECT * FROM "demo_master"."nope"', prefix()))
    assert d["Status"] == "FAILED" and d["Error"] == 'ERROR: relation "demo_master.nope" does not exist'
    assert d["ResultRows"] == -1 and d["Duration"] >= 0
    d = emu.run(unload_sql('SELECT "nope" FROM "demo_master"."orders"', prefix()))
    assert d["Status"] == "FAILED" and d["Error"] == 'ERROR: column "nope" does not exist'
    d = emu.run(unload_sql(day_query(), "s3://no-such-bucket/x/run_"))
    assert d["Status"] == "FAILED" and "NoSuchBucket" in d["Error"]
    d = emu.run(unload_sql(day_query(), prefix()), Database="dev")
    assert d["Status"] == "FAILED" and d["Error"] == 'FATAL: database "dev" does not exist'
    assert list((emu.root / BUCKET).rglob("*")) == []


def test_zero_rows(emu):
    empty_day = "2031-01-01"
    to = prefix("parquet", empty_day)
    d = emu.run(unload_sql(day_query(empty_day), to))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == 0
    run = to.rsplit("/", 1)[1]
    assert list(emu.files(to)) == [f"{run}manifest"]          # Parquet: no data file
    manifest = read_manifest(emu, to)
    assert manifest["entries"] == [] and manifest["meta"] == {"content_length": 0, "record_count": 0}

    to = prefix("csv", empty_day)
    assert emu.run(unload_sql(day_query(empty_day), to, "CSV", "MANIFEST VERBOSE"))["Status"] == "FINISHED"
    run = to.rsplit("/", 1)[1]
    assert emu.files(to) == {f"{run}0000_part_00": 0, f"{run}0001_part_00": 0,
                             f"{run}manifest": emu.files(to)[f"{run}manifest"]}
    assert [e["meta"] for e in read_manifest(emu, to)["entries"]] == [{"content_length": 0, "record_count": 0}] * 2

    to = prefix("json", empty_day)
    assert emu.run(unload_sql(day_query(empty_day), to, "JSON", "MANIFEST"))["Status"] == "FINISHED"
    assert list(emu.files(to)) == [f"{to.rsplit('/', 1)[1]}manifest"]   # JSON: no object
    assert read_manifest(emu, to) == {"entries": []}


def test_slice_without_rows_writes_no_parquet_file(emu):
    to = f"s3://{BUCKET}/one/row_"
    d = emu.run(unload_sql(f"SELECT * FROM {ORDERS} WHERE o_orderkey = 1", to))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == 1
    assert sorted(emu.files(to)) == ["row_0000_part_00.parquet", "row_manifest"]


# --- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, part", [
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="PARTITION BY (o_orderdate)"), "PARTITION BY"),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="ALLOWOVERWRITE"), "ALLOWOVERWRITE"),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="HEADER"), "HEADER"),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="PARALLEL OFF"), "PARALLEL"),
    ("SELECT * FROM demo_master.orders", "SELECT statements"),
    ("DELETE FROM demo_master.orders", "DELETE statements"),
    (f"UNLOAD ('SELECT 1') TO 's3://datalake/p/x_' IAM_ROLE '{ROLE}'", "pipe-delimited"),
    (f"UNLOAD ('SELECT 1') TO 's3://datalake/p/x_' IAM_ROLE default PARQUET", "IAM_ROLE default"),
    (unload_sql("WITH t AS (SELECT 1 AS a) SELECT * FROM t", "s3://datalake/p/x_"), "WITH"),
])
def test_unimplemented_forms_are_refused_at_execute(emu, sql, part):
    with pytest.raises(ClientError) as exc:
        emu.execute(sql)
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert message.startswith("redshift-data-local implements only UNLOAD") and f"{part}" in message
    assert part in message and "not implemented" in message
    assert emu.hook("stats")["statements_executed"] == 0


@pytest.mark.parametrize("sql, error", [
    (unload_sql("DELETE FROM demo_master.orders", "s3://datalake/p/x_"), 'not "DELETE"'),
    (unload_sql(day_query() + "; DELETE FROM demo_master.orders", "s3://datalake/p/x_"), "multiple commands"),
    (unload_sql(day_query(), "s3://datalake/p/x_") + ";\nDELETE FROM demo_master.orders", "multiple commands"),
    (unload_sql(day_query(), "s3://datalake/p/x_").replace(ROLE, "arn:aws:iam::1234:role/x"), "Invalid credentials"),
    (unload_sql(day_query(), "s3://datalake/p/x_").replace(ROLE, "arn:aws:iam::123456789012:user/x"),
     "Invalid credentials"),
    (unload_sql(day_query(), "s3://datalake/p/x_", "ORC"), 'syntax error at or near "ORC"'),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="VERBOSE"), 'syntax error at or near "VERBOSE"'),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="MAXFILESIZE 1 MB"), "MAXFILESIZE"),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="MAXFILESIZE 7 GB"), "MAXFILESIZE"),
    (unload_sql(day_query(), "s3://datalake/p/x_", extra="MANIFEST MANIFEST"), "redundant"),
    (unload_sql(f"SELECT * FROM {ORDERS} LIMIT 10", "s3://datalake/p/x_"), "Limit clause"),
])
def test_what_redshift_refuses_fails_at_run_time(emu, sql, error):
    d = emu.run(sql)
    assert d["Status"] == "FAILED" and error in d["Error"], d
    assert d["Error"].startswith("ERROR: ")
    assert list((emu.root / BUCKET).rglob("*")) == []


def test_nested_limit_is_allowed(emu):
    sql = unload_sql(f"SELECT * FROM {ORDERS} WHERE o_orderkey IN (SELECT o_orderkey FROM {ORDERS} "
                     "ORDER BY 1 LIMIT 3)", f"s3://{BUCKET}/nested/x_")
    d = emu.run(sql)
    assert d["Status"] == "FINISHED" and d["ResultRows"] == 3


@pytest.mark.parametrize("kwargs, fragment", [
    ({"ClusterIdentifier": None}, "ClusterIdentifier or WorkgroupName"),
    ({"WorkgroupName": "local-wg"}, "ClusterIdentifier or WorkgroupName"),
    ({"SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-AbCd"}, "not both"),
    ({"DbUser": None, "SecretArn": "my-secret"}, "SecretArn"),
    ({"ClientToken": "x" * 65}, "clientToken"),
    ({"ClusterIdentifier": "Local_Cluster"}, "clusterIdentifier"),
    ({"Database": None}, "Database"),
])
def test_execute_statement_validation(emu, kwargs, fragment):
    with pytest.raises(ClientError) as exc:
        emu.execute(unload_sql(day_query(), prefix()), **kwargs)
    code, message = error_of(exc)
    assert code == "ValidationException" and fragment in message, message
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_workgroup_and_secret_are_echoed(emu):
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-AbCd"
    answer = emu.client.execute_statement(Sql=unload_sql(day_query(), prefix()), Database="postgres",
                                          WorkgroupName="local-wg", SecretArn=secret)
    assert answer["WorkgroupName"] == "local-wg" and answer["SecretArn"] == secret and "ClusterIdentifier" not in answer
    d = emu.wait(answer["Id"])
    assert d["Status"] == "FINISHED" and d["WorkgroupName"] == "local-wg" and d["SecretArn"] == secret


def test_unknown_id_and_unknown_operation(emu):
    missing = str(uuid.uuid4())
    for call in (emu.client.describe_statement, emu.client.cancel_statement):
        with pytest.raises(ClientError) as exc:
            call(Id=missing)
        assert error_of(exc)[0] == "ResourceNotFoundException"
        assert exc.value.response["ResourceId"] == missing
    with pytest.raises(ClientError) as exc:
        emu.client.list_statements()
    assert error_of(exc)[0] == "UnknownOperationException"
    req = urllib.request.Request(emu.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "RedshiftData.GetStatementResult", "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(req)
    assert http.value.code == 400
    assert http.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert http.value.headers["x-amzn-RequestId"]
    assert json.loads(http.value.read())["__type"] == "UnknownOperationException"


# --- faults ----------------------------------------------------------------------------------------

def test_fault_fail(emu):
    emu.hook("faults", {"fail": "ERROR: Out of memory (injected)"})
    to = prefix()
    d = emu.run(unload_sql(day_query(), to))
    assert d["Status"] == "FAILED" and d["Error"] == "ERROR: Out of memory (injected)"
    assert emu.files(to) == {}
    assert emu.run(unload_sql(day_query(), prefix()))["Status"] == "FINISHED"   # one statement only


def test_fault_fail_after_files_leaves_data_without_manifest(emu):
    emu.hook("faults", {"fail_after_files": "ERROR: S3 upload failed (injected)"})
    to = prefix()
    d = emu.run(unload_sql(day_query(), to))
    assert d["Status"] == "FAILED" and d["Error"] == "ERROR: S3 upload failed (injected)"
    run = to.rsplit("/", 1)[1]
    assert sorted(emu.files(to)) == [f"{run}0000_part_00.parquet", f"{run}0001_part_00.parquet"]


def test_fault_delay_then_cancel_aborts(emu):
    emu.hook("faults", {"delay_seconds": 30})
    to = prefix()
    sid = emu.execute(unload_sql(day_query(), to))
    deadline = time.time() + 5
    while emu.client.describe_statement(Id=sid)["Status"] != "STARTED" and time.time() < deadline:
        time.sleep(0.01)
    d = emu.client.describe_statement(Id=sid)
    assert d["Status"] == "STARTED" and d["Duration"] == -1 and d["ResultRows"] == -1
    assert emu.client.cancel_statement(Id=sid)["Status"] is True
    d = emu.wait(sid, timeout=5)
    assert d["Status"] == "ABORTED" and "Error" not in d
    assert emu.files(to) == {}
    with pytest.raises(ClientError) as exc:
        emu.client.cancel_statement(Id=sid)
    assert error_of(exc) == ("ValidationException",
                             f"Could not cancel a query that is already in ABORTED state with ID: {sid}")


def test_cancel_a_finished_statement_is_refused(emu):
    sid = emu.execute(unload_sql(day_query(), prefix()))
    emu.wait(sid)
    with pytest.raises(ClientError) as exc:
        emu.client.cancel_statement(Id=sid)
    assert error_of(exc)[1] == f"Could not cancel a query that is already in FINISHED state with ID: {sid}"


def test_cancel_during_the_query_aborts(emu, db):
    # pg_sleep keeps PostgreSQL busy: the cancel must reach the running query.
    to = f"s3://{BUCKET}/slow/x_"
    sid = emu.execute(unload_sql("SELECT o_orderkey FROM demo_master.orders WHERE pg_sleep(5) IS NOT NULL "
                                 "AND o_orderkey = 1", to))
    deadline = time.time() + 5
    while emu.client.describe_statement(Id=sid).get("RedshiftPid") is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    started = time.time()
    emu.client.cancel_statement(Id=sid)
    assert emu.wait(sid, timeout=5)["Status"] == "ABORTED"
    assert time.time() - started < 3


def test_fault_throttle(emu):
    emu.hook("faults", {"throttle": 2})
    sql = unload_sql(day_query(), prefix())
    with pytest.raises(ClientError) as exc:       # a client that does not retry sees it
        emu.execute(sql)
    assert error_of(exc)[0] == "ThrottlingException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    retrying = emu.make_client(retries=3)         # the SDK retries ThrottlingException
    sid = emu.execute(sql, client=retrying, ClientToken="t-1")
    assert emu.wait(sid)["Status"] == "FINISHED"
    stats = emu.hook("stats")
    assert stats["execute_calls"] == 3 and stats["statements_executed"] == 1
    emu.hook("faults", {"active_statements_exceeded": 1})
    with pytest.raises(ClientError) as exc:
        emu.execute(sql)
    assert error_of(exc)[0] == "ActiveStatementsExceededException"
    assert emu.hook("reset", {}) == {"reset": True}
    assert emu.hook("stats") == {"execute_calls": 0, "statements_executed": 0, "statements": []}


# --- MAXFILESIZE -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wide_table(db):
    """~80 MB of rows: more than one 32-MB Parquet row group per slice, many 5-MB CSV parts."""
    db.execute("CREATE SCHEMA IF NOT EXISTS rsdl_test")
    db.execute("DROP TABLE IF EXISTS rsdl_test.wide")
    db.execute("CREATE TABLE rsdl_test.wide AS SELECT n::integer AS id, repeat(md5(n::text), 12) AS pad "
               "FROM generate_series(1, 200000) AS n")
    yield "rsdl_test.wide"
    db.execute("DROP TABLE rsdl_test.wide")   # the session's PostgreSQL is shared with the other suites


def test_maxfilesize_splits_csv_into_parts(emu, wide_table):
    to = f"s3://{BUCKET}/wide/csv_"
    d = emu.run(unload_sql(f"SELECT * FROM {wide_table}", to, "CSV", "MAXFILESIZE 5 MB\nMANIFEST VERBOSE"))
    assert d["Status"] == "FINISHED" and d["ResultRows"] == 200_000
    entries = read_manifest(emu, to)["entries"]
    names = [e["url"].rsplit("/", 1)[1] for e in entries]
    assert names[:3] == ["csv_0000_part_00", "csv_0000_part_01", "csv_0000_part_02"]
    assert "csv_0001_part_00" in names and len(names) > 4
    assert all(0 < e["meta"]["content_length"] <= 5 * 1024 * 1024 for e in entries)
    assert sum(e["meta"]["record_count"] for e in entries) == 200_000
    ids = [int(r[0]) for e in entries for r in csv.reader(io.StringIO(emu.local(e["url"]).read_text()))]
    assert ids == list(range(1, 200_001))    # contiguous: slice 0 then slice 1, parts in order


def test_maxfilesize_splits_parquet_by_32mb_row_groups(emu, wide_table):
    to = f"s3://{BUCKET}/wide/pq_"
    d = emu.run(unload_sql(f"SELECT * FROM {wide_table}", to, "PARQUET", "MAXFILESIZE 5 MB\nMANIFEST VERBOSE"))
    assert d["Status"] == "FINISHED", d.get("Error")
    entries = read_manifest(emu, to)["entries"]
    names = [e["url"].rsplit("/", 1)[1] for e in entries]
    # 5 MB rounds to one 32-MB row group per file: each ~40-MB slice needs two parts
    assert names == ["pq_0000_part_00.parquet", "pq_0000_part_01.parquet",
                     "pq_0001_part_00.parquet", "pq_0001_part_01.parquet"]
    assert all(pq.ParquetFile(emu.local(e["url"])).metadata.num_row_groups == 1 for e in entries)
    assert sum(e["meta"]["record_count"] for e in entries) == 200_000
    d = emu.run(unload_sql(f"SELECT * FROM {wide_table}", f"s3://{BUCKET}/wide/big_", "PARQUET",
                           "MAXFILESIZE 6.2 GB"))
    assert d["Status"] == "FINISHED", d.get("Error")
    assert sorted(emu.files(f"s3://{BUCKET}/wide/big_")) == ["big_0000_part_00.parquet", "big_0001_part_00.parquet"]


# --- the process and the bench ---------------------------------------------------------------------

def test_cli_prints_ready_line_and_stops_on_sigterm(tmp_path, pg):
    (tmp_path / BUCKET).mkdir()
    proc = subprocess.Popen([sys.executable, str(ROOT / "local" / "redshift_data_local.py"), "--bind", "127.0.0.1:0",
                             "--s3-root", str(tmp_path), "--dsn", pg.dsn, "--slices", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("redshift-data-local listening on http://127.0.0.1:"), line
        client = boto3.client("redshift-data", endpoint_url=line.rsplit(" ", 1)[1], region_name="us-east-1",
                              aws_access_key_id="a", aws_secret_access_key="b")
        sid = client.execute_statement(Sql=unload_sql(day_query(), f"s3://{BUCKET}/cli/x_"), Database="postgres",
                                       ClusterIdentifier="c1", DbUser="u")["Id"]
        for _ in range(500):
            d = client.describe_statement(Id=sid)
            if d["Status"] == "FINISHED":
                break
            time.sleep(0.02)
        assert d["Status"] == "FINISHED", d.get("Error")
        assert sorted(os.listdir(tmp_path / BUCKET / "cli")) == [
            "x_0000_part_00.parquet", "x_0001_part_00.parquet", "x_0002_part_00.parquet", "x_manifest"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == ""
    assert "ExecuteStatement" in err and "FINISHED" in err


def test_measure(tmp_path, pg):
    result = rdl.measure(pg.dsn, tmp_path, "bench", rows_expected=ROWS)
    assert result["rows"] == ROWS and result["parquet_files"] == 2
    assert result["copy_rows_per_s"] > 0 and result["unload_rows_per_s"] > 0 and result["ratio"] > 0
    assert list((tmp_path / "bench").iterdir()) == []
