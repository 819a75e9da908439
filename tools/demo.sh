#!/usr/bin/env bash
# `make demo`. Until the local stack (PostgreSQL, local S3, moto, glue-local, cargo lambda watch)
# lands, the demo shows the part that runs today: the request validation every execution starts
# with, on the embedded sample request, with the same code the validate Lambda runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --locked -p unloadctl
export UNLOAD_DEFAULT_S3_PATH="${UNLOAD_DEFAULT_S3_PATH:-s3://demo-datalake/lake}"
export UNLOAD_DEFAULT_GLUE_CONNECTION="${UNLOAD_DEFAULT_GLUE_CONNECTION:-demo-warehouse}"

echo "== 1. The daily schedule input (events/schedule-daily.json), validated as the validate Lambda does:"
target/debug/unloadctl validate events/schedule-daily.json --today 1998-07-21
echo
echo "== 2. The original sample's input, which carries a password in JdbcUrl, is refused (exit 2):"
if target/debug/unloadctl validate events/legacy-sample-with-password.json; then
  echo "demo: the password-carrying request was accepted: this is a bug" >&2; exit 1
fi
echo
echo "== 3. How often a 60-minute Glue run is polled (unloadctl poll-schedule --run-seconds 3600):"
target/debug/unloadctl poll-schedule --run-seconds 3600
echo
echo "Not yet here: the local stack that runs the whole workflow end to end (issue 5)."
echo "This demo does not unload any data yet."
