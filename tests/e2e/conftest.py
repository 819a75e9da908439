"""The e2e suite runs the real workflow on the local stack (local/stack.py): real Lambda
binaries behind cargo lambda watch, the real ASL on moto, glue-local running the real Glue
script on PySpark, PostgreSQL as the warehouse. One stack for the whole session."""
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from stack import Stack  # noqa: E402

# Small enough to unload the whole table quickly, large enough to be more than one file's worth.
ROWS, DAYS, HOT_ROWS = 40_000, 60, 2_000


@pytest.fixture(scope="session")
def stack():
    state_dir = ROOT / ".state" / "e2e"
    shutil.rmtree(state_dir / "s3", ignore_errors=True)  # a clean lake; the warehouse is reused
    shutil.rmtree(state_dir / "glue", ignore_errors=True)
    with Stack(state_dir, rows=ROWS, days=DAYS, hot_rows=HOT_ROWS, say=lambda line: None) as s:
        yield s
