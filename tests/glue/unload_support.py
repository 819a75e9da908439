"""Constants and helpers for the Glue job suite (kept out of conftest so test modules can import
them by a name no other suite uses)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "glue-scripts"))
sys.path.insert(0, str(ROOT / "local"))

import unload_table  # noqa: E402

# The seeded table: HOT_ROWS rows on HOT_DAY, the rest spread evenly over DAYS days from 1992-01-01.
ROWS, HOT_ROWS, DAYS = 20_000, 2_000, 60
HOT_DAY = "1998-07-21"
PER_DAY = (ROWS - HOT_ROWS) // DAYS  # 300: the seed gives every other day exactly this many
LAKE = "s3://lake/dl"
CONNECTION = "tpc-rs"
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:unload:test-1"


def job_args(**overrides) -> list[str]:
    """The run arguments start-run passes for a day run of the hot day; None drops one."""
    args = {
        "prefixed_table_name": "demo_master.orders", "snapshot_yn": "y", "file_format": "parquet",
        "write_mode": "overwrite", "s3path_datalake": LAKE, "day_partition_key": "o_orderdate",
        "day_partition_value": HOT_DAY, "glue_connection": CONNECTION, "execution_id": EXECUTION_ID,
        "source_kind": "postgresql", "allow_empty_source": "false",
    }
    args.update(overrides)
    argv = []
    for name, value in args.items():
        if value is not None:
            argv += [f"--{name}", str(value)]
    return argv


class Lake:
    """A private local S3 root for one test, and the in-process way to run the job against it."""

    def __init__(self, root: Path, spark):
        self.root = root
        self._spark = spark

    def run(self, **overrides) -> dict:
        return unload_table.main(job_args(**overrides), spark=self._spark)

    def local(self, uri: str) -> Path:
        assert uri.startswith("s3://")
        return self.root / uri[len("s3://"):]

    def table_dir(self, file_format: str = "parquet", table: str = "orders") -> Path:
        return self.local(f"{LAKE}/demo_master/{file_format}/{table}/")


def data_files(folder: Path) -> dict[str, int]:
    """{relative path: bytes} of the data files below folder, by Spark's hidden-file rule."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(unload_table.is_hidden(part) for part in p.relative_to(folder).parts)}


def digests(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file below folder, hidden ones included."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "_manifest.json").read_text())
