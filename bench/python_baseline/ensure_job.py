"""ensure-job, Python + boto3: the Glue and S3 clients at init; per call HeadObject on the script,
GetJob, CreateJob when missing, UpdateJob on drift (the fields the job's definition sets)."""
import logging
import os

import boto3
from botocore.config import Config

logger = logging.getLogger()
logger.setLevel(logging.INFO)

glue = boto3.client("glue")
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def desired(request):
    return {
        "Role": os.environ["GLUE_JOB_ROLE_ARN"],
        "Command": {"Name": "glueetl", "ScriptLocation": os.environ["GLUE_SCRIPT_LOCATION"], "PythonVersion": "3"},
        "Connections": {"Connections": [request["glue_connection"]]},
        "DefaultArguments": {"--TempDir": os.environ["GLUE_TEMP_DIR"], "--job-language": "python"},
        "Timeout": int(os.environ.get("GLUE_JOB_TIMEOUT_MINUTES", "60")),
        "GlueVersion": "4.0",
    }


def handler(event, context):
    request = event["request"]
    bucket, _, key = os.environ["GLUE_SCRIPT_LOCATION"][5:].partition("/")
    s3.head_object(Bucket=bucket, Key=key)
    want = desired(request)
    try:
        stored = glue.get_job(JobName=request["job_name"])["Job"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_job(Name=request["job_name"], **want)
        return {"name": request["job_name"], "action": "created"}
    drift = [k for k in ("Role", "Timeout") if stored.get(k) != want[k]]
    if stored.get("Command", {}).get("ScriptLocation") != want["Command"]["ScriptLocation"]:
        drift.append("Command")
    if drift:
        glue.update_job(JobName=request["job_name"], JobUpdate=want)
    logger.info("Glue job ensured: %s (%s)", request["job_name"], "updated" if drift else "unchanged")
    return {"name": request["job_name"], "action": "updated" if drift else "unchanged"}
