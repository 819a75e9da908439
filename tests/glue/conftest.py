"""Shared fixtures for the Glue job suite: ONE PostgreSQL cluster and ONE Spark session for the
whole session (JVM and cluster start are the slow parts), a fresh lake folder per test."""
from __future__ import annotations

import tempfile

import psycopg
import pytest

from unload_support import DAYS, HOT_ROWS, ROWS, Lake  # also puts glue-scripts/ and local/ on sys.path

import pgcluster  # noqa: E402
import unload_table  # noqa: E402


@pytest.fixture(scope="session")
def pg():
    # /tmp itself, not pytest's 0700 tmp tree: the postgres user must be able to reach the folder.
    directory = tempfile.mkdtemp(prefix="unload-test-pg-", dir="/tmp")
    try:
        yield pgcluster.start(directory, rows=ROWS, hot_rows=HOT_ROWS, days=DAYS)
    finally:
        pgcluster.stop(directory, remove=True)


@pytest.fixture(scope="session")
def db(pg):
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def spark():
    session = unload_table.local_spark_session()
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path, monkeypatch, pg, spark) -> Lake:
    root = tmp_path / "s3"
    root.mkdir()
    monkeypatch.setenv("UNLOAD_LOCAL_S3_ROOT", str(root))
    for name, value in pg.job_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("UNLOAD_LOCAL_CONNECTIONS_FILE", raising=False)
    return Lake(root, spark)
