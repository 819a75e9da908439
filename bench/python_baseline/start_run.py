"""start-run, Python + boto3: the Glue client at init; per call GetJobRuns (a retried task
follows the run its execution already started) and StartJobRun when there is none."""
import logging
import os
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)

glue = boto3.client("glue")


def handler(event, context):
    request, job, execution = event["request"], event["job"], event["execution"]
    runs = glue.get_job_runs(JobName=job["name"], MaxResults=25)["JobRuns"]
    mine = next((r for r in runs if r.get("Arguments", {}).get("--execution_id") == execution["id"]), None)
    if mine is None:
        arguments = {"--prefixed_table_name": request["table"], "--execution_id": execution["id"],
                     "--file_format": request["file_format"], "--write_mode": request["write_mode"],
                     "--target_uri": request["target_uri"], "--source_kind": os.environ.get("SOURCE_KIND", "redshift")}
        if request.get("partition_key"):
            arguments.update({"--day_partition_key": request["partition_key"],
                              "--day_partition_value": request["partition_value"]})
        run_id = glue.start_job_run(JobName=job["name"], Arguments=arguments)["JobRunId"]
        state = "STARTING"
    else:
        run_id, state = mine["Id"], mine["JobRunState"]
    logger.info("Glue run %s of %s: %s", run_id, job["name"], state)
    return {"id": run_id, "state": state, "polls": 0,
            "next_poll_seconds": int(os.environ.get("POLL_MIN_SECONDS", "30")), "started_on": int(time.time())}
