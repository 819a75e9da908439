#!/usr/bin/env python3
"""moto_server with local/moto_patches.py applied (ISO $$.Execution.StartTime, cached JSONPath
parsing). Same arguments as moto_server; the local stack starts it."""
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from moto_patches import fast_engine, iso_start_time  # noqa: E402

# moto logs a large stack trace on every Fail state; the execution history has the error.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

if __name__ == "__main__":
    from moto.server import main

    with iso_start_time(), fast_engine():
        sys.exit(main(sys.argv[1:]))
