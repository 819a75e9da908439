import sys
from pathlib import Path

# harness.py and fakes.py sit beside the tests (bench/orchestration_bench.py imports them too).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402

from harness import Machine  # noqa: E402


@pytest.fixture(scope="session")
def machine():
    """The real ASL on moto, created once; every test runs its own execution on it."""
    with Machine() as m:
        yield m
