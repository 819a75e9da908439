"""Issue 11: the overwrite protocol under crashes, on real Spark and PostgreSQL.

Each test starts from a lake holding version A of a small table (the "previous data"), changes the
source to version B, makes the run die at one stage, checks the lake, reruns, and checks again:

  * before the commit the previous manifest and every file it names are untouched; a handled
    failure also leaves no new file behind, a killed driver may leave its new files (unnamed);
  * after the commit the manifest names version B's files, all present and complete;
  * siblings (other days, other tables) are byte-identical throughout;
  * the rerun converges to exactly the source's rows, with no file the manifest does not name,
    and reads the source once (counted from PostgreSQL's own statement log).

A "kill" is a BaseException raised by the test hook: no `except Exception` handler of the job runs,
just as when the driver dies.
"""
from __future__ import annotations

import re
import shutil

import pyarrow.parquet as pq
import pytest

import unload_table
from unload_support import LAKE, data_files, digests, job_args, read_manifest

TABLE = "demo_master.crashy"
DAYS = ("1992-01-07", "1992-01-08", "1992-01-09")
TARGET_DAY = "1992-01-08"
SCOPES = {
    "flat": {"snapshot_yn": "n", "day_partition_key": None, "day_partition_value": None},
    "one-day": {"snapshot_yn": "y", "day_partition_value": TARGET_DAY},
    "per-day": {"snapshot_yn": "n", "day_partition_value": None},
}


class Killed(BaseException):
    """The driver dies here: cleanup handlers (`except Exception`) do not run."""


class Failed(Exception):
    """A handled failure here: the job's own failure handling runs."""


def fault_at(point: str, kind: type[BaseException]):
    def fault(name: str) -> None:
        if name == point:
            raise kind(f"injected at {name}")
    return fault


# --- the source and its statement log --------------------------------------------------------

@pytest.fixture(scope="module")
def source(db, pg):
    """demo_master.crashy: a view over three days of orders whose o_orderkey goes through
    demo_master.boom(), which raises on the row named in demo_master.crash_at (a late row)."""
    db.execute("ALTER SYSTEM SET log_statement = 'all'")
    db.execute("SELECT pg_reload_conf()")
    db.execute("DROP VIEW IF EXISTS demo_master.crashy")
    db.execute("DROP TABLE IF EXISTS demo_master.crashy_base, demo_master.crash_at")
    db.execute("CREATE TABLE demo_master.crashy_base AS SELECT * FROM demo_master.orders "
               "WHERE o_orderdate IN ('1992-01-07', '1992-01-08', '1992-01-09') ORDER BY o_orderkey")
    db.execute("CREATE TABLE demo_master.crash_at (k bigint)")
    db.execute("""CREATE FUNCTION demo_master.boom(k bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM demo_master.crash_at c WHERE c.k = boom.k) THEN
            RAISE EXCEPTION 'simulated source failure at o_orderkey %', k;
          END IF;
          RETURN k;
        END $$""")
    db.execute("""CREATE VIEW demo_master.crashy AS SELECT demo_master.boom(o_orderkey) AS o_orderkey,
        o_custkey, o_orderstatus, o_totalprice, o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment
        FROM demo_master.crashy_base""")
    yield Source(db, pg.log_file)
    db.execute("DROP VIEW demo_master.crashy")
    db.execute("DROP FUNCTION demo_master.boom(bigint)")
    db.execute("DROP TABLE demo_master.crashy_base, demo_master.crash_at")
    db.execute("ALTER SYSTEM RESET log_statement")
    db.execute("SELECT pg_reload_conf()")


class Source:
    def __init__(self, db, log_file):
        self.db, self.log_file = db, log_file

    def version(self, name: str) -> None:
        """Version A: the seeded comments; version B: every comment rewritten."""
        suffix = "" if name == "A" else " (v2)"
        self.db.execute("UPDATE demo_master.crashy_base SET o_comment = "
                        "regexp_replace(o_comment, ' \\(v2\\)$', '') || %s", (suffix,))

    def rows(self, day: str | None = None) -> list[tuple]:
        where, params = ("WHERE o_orderdate = %s", (day,)) if day else ("", ())
        return self.db.execute(f"SELECT o_orderkey, o_comment FROM demo_master.crashy_base {where} "
                               "ORDER BY o_orderkey", params).fetchall()

    def fail_at_late_row(self, day: str | None) -> None:
        where, params = ("WHERE o_orderdate = %s", (day,)) if day else ("", ())
        self.db.execute(f"INSERT INTO demo_master.crash_at SELECT max(o_orderkey) FROM demo_master.crashy_base "
                        f"{where}", params)

    def heal(self) -> None:
        self.db.execute("DELETE FROM demo_master.crash_at")

    def mark(self) -> int:
        return self.log_file.stat().st_size

    def statements(self, mark: int) -> list[str]:
        with open(self.log_file, encoding="utf-8", errors="replace") as log:
            log.seek(mark)
            text = log.read()
        return [m.group(1) for m in re.finditer(r"LOG:  execute (?!fetch from)[^:]*: (.*)", text)]

    def reads(self, mark: int) -> tuple[int, int]:
        """(data reads, counts) of demo_master.crashy since mark; Spark's schema probes
        (`... WHERE 1=0`) return no rows and are not reads."""
        mine = [s for s in self.statements(mark) if '"demo_master"."crashy"' in s and "WHERE 1=0" not in s]
        counts = [s for s in mine if "count(*) AS source_rows" in s]
        return len(mine) - len(counts), len(counts)


# --- the lake ----------------------------------------------------------------------------------

def args(scope: str, **extra) -> list[str]:
    return job_args(prefixed_table_name=TABLE, **SCOPES[scope], **extra)


def folder_of(lake, scope: str):
    table = lake.table_dir(table="crashy")
    return table / f"o_orderdate_key={TARGET_DAY}" if scope == "one-day" else table


def run(lake, scope: str, fault=unload_table.no_fault) -> dict:
    return unload_table.main(args(scope), spark=lake._spark, fault=fault)


@pytest.fixture(scope="module")
def baselines(source, spark, tmp_path_factory, pg):
    """Per scope, a lake holding version A (made once, copied into each test's lake), plus
    siblings: the other days (one-day scope) and another table's folder."""
    source.version("A")
    made = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in pg.job_env().items():
            patch.setenv(name, value)
        for scope in SCOPES:
            root = tmp_path_factory.mktemp(f"baseline-{scope}")
            patch.setenv("UNLOAD_LOCAL_S3_ROOT", str(root))
            days = DAYS if scope == "one-day" else (None,)
            for day in days:
                extra = {"day_partition_value": day} if day else {}
                unload_table.main(job_args(prefixed_table_name=TABLE, **{**SCOPES[scope], **extra}), spark=spark)
            sibling = root / LAKE[len("s3://"):] / "demo_master" / "parquet" / "neighbour"
            sibling.mkdir(parents=True)
            (sibling / "part-00000-keep.snappy.parquet").write_bytes(b"not ours")
            made[scope] = root
    return made


def start_from(lake, baselines, source, scope: str) -> dict:
    shutil.copytree(baselines[scope], lake.root, dirs_exist_ok=True)
    source.version("B")
    return {"all": digests(lake.root), "manifest": read_manifest(folder_of(lake, scope))}


def outside(states: dict[str, str], folder_prefix: str) -> dict[str, str]:
    return {path: digest for path, digest in states.items() if not path.startswith(folder_prefix)}


def manifest_rows(folder, manifest: dict) -> list[tuple]:
    """Exactly the files the manifest names, read with an independent reader."""
    rows = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        assert path.stat().st_size == entry["bytes"], f"{entry['path']} differs from the manifest"
        table = pq.read_table(path, columns=["o_orderkey", "o_comment"])
        rows += list(zip(table.column("o_orderkey").to_pylist(), table.column("o_comment").to_pylist()))
    return sorted(rows)


def expected_rows(source, scope: str) -> list[tuple]:
    return source.rows(TARGET_DAY if scope == "one-day" else None)


def version_a(rows: list[tuple]) -> list[tuple]:
    return [(key, comment.removesuffix(" (v2)") if comment else comment) for key, comment in rows]


# --- the crash matrix -----------------------------------------------------------------------

BEFORE_COMMIT = [("written", Failed), ("written", Killed), ("reconciled", Failed), ("reconciled", Killed)]
AFTER_COMMIT = [("committed", Killed), ("deleting", Killed), ("deleted", Killed)]


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize("point", ["mid-read"] + [f"{p}:{k.__name__}" for p, k in BEFORE_COMMIT + AFTER_COMMIT])
def test_a_run_that_dies_keeps_a_complete_version_and_the_rerun_converges(lake, source, baselines, scope, point):
    prev = start_from(lake, baselines, source, scope)
    folder = folder_of(lake, scope)
    prefix = str(folder.relative_to(lake.root)) + "/"
    expected_b = expected_rows(source, scope)
    assert prev["manifest"]["rows"] == len(expected_b)

    if point == "mid-read":
        source.fail_at_late_row(TARGET_DAY if scope == "one-day" else None)
        mark = source.mark()
        with pytest.raises(unload_table.UnloadError, match="simulated source failure at o_orderkey"):
            run(lake, scope)
        source.heal()
        assert source.reads(mark) == (1, 1)  # it died inside the one data read
    else:
        stage, kind = point.split(":")
        with pytest.raises({"Failed": Failed, "Killed": Killed}[kind]):
            run(lake, scope, fault=fault_at(stage, {"Failed": Failed, "Killed": Killed}[kind]))

    after = digests(lake.root)
    assert outside(after, prefix) == outside(prev["all"], prefix), "a sibling changed"
    manifest = read_manifest(folder)
    committed = point.split(":")[0] in {p for p, _ in AFTER_COMMIT}
    if not committed:
        # The previous version: its manifest, its files, byte for byte.
        assert manifest == prev["manifest"]
        assert {p: after.get(p) for p in prev["all"] if p.startswith(prefix)} == {
            p: d for p, d in prev["all"].items() if p.startswith(prefix)}
        assert manifest_rows(folder, manifest) == version_a(expected_b)
        if point.endswith("Killed"):  # no cleanup ran: its new files are there, named by nothing
            assert set(data_files(folder)) > {f["path"] for f in manifest["files"]}
        else:
            assert after == prev["all"], "a handled failure left files behind"
    else:
        # Committed: the manifest names the new version, complete; old files may linger unnamed.
        assert (manifest["state"], manifest["rows"]) == ("committed", len(expected_b))
        assert manifest_rows(folder, manifest) == expected_b
        leftovers = set(data_files(folder)) - {f["path"] for f in manifest["files"]}
        old_files = {f["path"] for f in prev["manifest"]["files"]}
        assert leftovers <= old_files and bool(leftovers) == (point != "deleted:Killed")

    mark = source.mark()
    rerun = run(lake, scope)
    assert source.reads(mark) == (1, 1), "the rerun must read the source once (plus the advisory count)"
    assert read_manifest(folder) == rerun and rerun["state"] == "complete"
    assert manifest_rows(folder, rerun) == expected_b
    assert set(data_files(folder)) == {f["path"] for f in rerun["files"]}, "leftover files"
    assert outside(digests(lake.root), prefix) == outside(prev["all"], prefix), "a sibling changed"
