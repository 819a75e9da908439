"""local/pgcluster.py and local/seed_demo.sql: the warehouse stand-in the other suites lean on."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

import pgcluster
from unload_support import DAYS, HOT_DAY, HOT_ROWS, PER_DAY, ROOT, ROWS


def test_seed_gives_exact_known_day_counts(db):
    counts = dict(db.execute("SELECT o_orderdate::text, count(*) FROM demo_master.orders GROUP BY 1").fetchall())
    assert sum(counts.values()) == ROWS
    assert counts.pop(HOT_DAY) == HOT_ROWS
    assert len(counts) == DAYS and set(counts.values()) == {PER_DAY}
    assert min(counts) == "1992-01-01"


def test_seed_is_deterministic_and_typed(db):
    types = dict(db.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'demo_master' AND table_name = 'orders'").fetchall())
    assert types == {"o_orderkey": "bigint", "o_custkey": "bigint", "o_orderstatus": "character",
                     "o_totalprice": "numeric", "o_orderdate": "date", "o_orderpriority": "character varying",
                     "o_clerk": "character varying", "o_shippriority": "integer", "o_comment": "character varying"}
    # A fixed fingerprint: any change to the generator shows up here.
    row = db.execute("SELECT o_orderkey, o_custkey, o_orderstatus, o_totalprice::text, o_orderdate::text, "
                     "o_orderpriority, o_clerk, o_comment FROM demo_master.orders WHERE o_orderkey = 2009").fetchone()
    assert row == (2009, 9378, "F", "104862.61", "1992-01-09", "3-MEDIUM", "Clerk#000000334", 'pending, "quick" deposits #2009')


def test_start_is_idempotent_and_status_finds_the_cluster(pg):
    again = pgcluster.start(pg.dir, rows=ROWS, hot_rows=HOT_ROWS, days=DAYS)
    assert again == pg
    assert pgcluster.status(pg.dir) == pg
    assert pg.jdbc_url == f"jdbc:postgresql://127.0.0.1:{pg.port}/postgres"


def test_the_server_listens_on_loopback_only(db):
    assert db.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    assert db.execute("SHOW unix_socket_directories").fetchone() == ("",)


def test_cli_start_and_stop_leave_no_server_behind():
    directory = tempfile.mkdtemp(prefix="unload-test-pg-cli-", dir="/tmp")
    cli = [sys.executable, str(ROOT / "local" / "pgcluster.py")]
    try:
        started = subprocess.run([*cli, "start", "--dir", directory], capture_output=True, text=True, check=True)
        port = json.loads(started.stdout)["port"]
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        stopped = subprocess.run([*cli, "stop", "--dir", directory, "--remove"], capture_output=True, text=True)
    assert stopped.returncode == 0 and '"stopped": true' in stopped.stdout
    assert not Path(directory).exists()
    assert not _live_processes_mentioning(directory)
    again = subprocess.run([*cli, "stop", "--dir", directory], capture_output=True, text=True)
    assert again.returncode == 0 and '"stopped": false' in again.stdout


def _live_processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_folder_the_postgres_user_cannot_reach_still_hosts_a_cluster():
    # A 0700 parent (a home folder, a `mktemp -d` checkout) shuts the postgres user out: the
    # server's files go to a temp folder linked from the cluster folder, and leave with it.
    parent = tempfile.mkdtemp(prefix="unload-test-pg-private-")
    directory = Path(parent) / "pg"
    try:
        cluster = pgcluster.start(directory, rows=50, hot_rows=5, days=3)
        with psycopg.connect(cluster.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM demo_master.orders").fetchone() == (50,)
        server = (directory / "server").resolve()
        assert server != directory and (server / "data" / "PG_VERSION").exists()
        assert pgcluster.status(directory) is not None
    finally:
        pgcluster.stop(directory, remove=True)
        os.rmdir(parent)
    assert not server.exists()
    assert not _live_processes_mentioning(str(server))
