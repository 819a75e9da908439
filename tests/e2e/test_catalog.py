"""The Glue Data Catalog on the real stack (register → glue-local → moto): schema drift on a tiny
table of its own, and the request's opt-out. The registration of demo_master.orders is asserted
beside the runs that make it, in test_workflow.py."""
import json

import psycopg
import pytest

from test_workflow import CATALOG_DATABASE, columns, entered_states, request, run

PROBE = "demo_master.drift_probe"
PROBE_TABLE = "demo_master__drift_probe__parquet"
DAY = "2024-03-05"


@pytest.fixture
def probe(stack):
    """A fresh three-row table on one day; `probe(sql)` changes it. The warehouse outlives the
    session (conftest), so the table is made anew and dropped at the end."""
    conn = psycopg.connect(stack.queries.dsn, autocommit=True)
    conn.execute(f"drop table if exists {PROBE}")
    conn.execute(f"create table {PROBE} (id integer, qty integer, probe_date date)")
    conn.execute(f"insert into {PROBE} values (1, 10, %s), (2, 20, %s), (3, 30, %s)", (DAY,) * 3)
    yield conn.execute
    conn.execute(f"drop table if exists {PROBE}")
    conn.close()


def run_probe(stack):
    return run(stack, request(PrefixedTablename=PROBE, DayPartitionKey="probe_date", DayPartitionValue=DAY))


def test_new_columns_extend_the_catalog_table_and_a_changed_type_is_schema_drift(stack, probe):
    _, first, out = run_probe(stack)
    assert first["status"] == "SUCCEEDED", first.get("cause")
    assert out["catalog"] == {"database": CATALOG_DATABASE, "table": PROBE_TABLE, "action": "created",
                              "partitions_created": 1, "partitions_updated": 0, "partitions_unchanged": 0,
                              "partitions_deleted": 0}
    table = stack.queries.catalog_table(CATALOG_DATABASE, PROBE_TABLE)
    assert columns(table) == [("id", "int"), ("qty", "int"), ("probe_date", "date")]

    # A column added at the end: the table gains it, the day's partition is rewritten with it.
    probe(f"alter table {PROBE} add column note text")
    probe(f"update {PROBE} set note = 'n' || id")
    _, second, out = run_probe(stack)
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert (out["catalog"]["action"], out["catalog"]["partitions_updated"]) == ("updated", 1)
    table = stack.queries.catalog_table(CATALOG_DATABASE, PROBE_TABLE)
    assert columns(table) == [("id", "int"), ("qty", "int"), ("probe_date", "date"), ("note", "string")]
    (partition,) = stack.queries.catalog_partitions(CATALOG_DATABASE, PROBE_TABLE)
    assert partition["Values"] == [DAY] and columns(partition) == columns(table)

    # A changed type (the job writes it; the old partitions could not be read with it): SchemaDrift,
    # and the catalog is left exactly as it was.
    probe(f"alter table {PROBE} alter column qty type text using qty::text")
    before = stack.queries.catalog_table(CATALOG_DATABASE, PROBE_TABLE)
    partitions_before = stack.queries.catalog_partitions(CATALOG_DATABASE, PROBE_TABLE)
    arn, third, _ = run_probe(stack)
    assert (third["status"], third["error"]) == ("FAILED", "SchemaDrift"), third.get("cause")
    assert "changed type: qty int → string" in json.loads(third["cause"])["errorMessage"]
    assert entered_states(stack, arn)[-3:] == ["RegisterInCatalog", "ReportFailure", "Failed"]
    assert stack.queries.catalog_table(CATALOG_DATABASE, PROBE_TABLE) == before
    assert stack.queries.catalog_partitions(CATALOG_DATABASE, PROBE_TABLE) == partitions_before


def test_a_request_that_opts_out_names_no_catalog_table(stack):
    # validate decides; the InCatalog? Choice skips RegisterInCatalog on a null catalog
    # (tests/statemachine). No Glue run needed to show the decision.
    body = request()
    assert stack.queries.invoke("validate", body)["catalog"] == {
        "database": CATALOG_DATABASE, "table": "demo_master__orders__parquet"}
    assert stack.queries.invoke("validate", dict(body, RegisterInCatalog="n")).get("catalog") is None
