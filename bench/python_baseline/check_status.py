"""check-status, Python + boto3: the Glue client at init; per call one GetJobRun and the next
wait of the polling policy (a share of the run's age, between the POLL_* bounds)."""
import datetime
import logging
import os

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

glue = boto3.client("glue")
MIN, MAX = int(os.environ.get("POLL_MIN_SECONDS", "30")), int(os.environ.get("POLL_MAX_SECONDS", "900"))
GROWTH = int(os.environ.get("POLL_GROWTH_PERCENT", "12"))
OUTCOMES = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMEOUT": "failed", "ERROR": "failed",
            "STOPPED": "failed", "EXPIRED": "failed"}


def handler(event, context):
    job, previous = event["job"], event["run"]
    run = glue.get_job_run(JobName=job["name"], RunId=previous["id"])["JobRun"]
    started = run.get("StartedOn")
    now = datetime.datetime.now(datetime.timezone.utc)
    elapsed = int((now - started).total_seconds()) if started else 0
    state = run["JobRunState"]
    status = {"id": run["Id"], "state": state, "outcome": OUTCOMES.get(state, "running"),
              "polls": previous.get("polls", 0) + 1, "elapsed_seconds": elapsed,
              "execution_seconds": run.get("ExecutionTime", 0), "attempt": run.get("Attempt", 0),
              "error_message": run.get("ErrorMessage"),
              "next_poll_seconds": min(max(elapsed * GROWTH // 100, MIN), MAX)}
    logger.info("Glue run checked: %s %s", status["id"], state)
    return status
