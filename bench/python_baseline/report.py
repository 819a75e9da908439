"""report, Python + boto3: the S3 and CloudWatch clients at init; per call (failure path) the
outcome as CloudWatch metrics, per table and overall, in one PutMetricData."""
import datetime
import logging
import os

import boto3
from botocore.config import Config

logger = logging.getLogger()
logger.setLevel(logging.INFO)

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
cloudwatch = boto3.client("cloudwatch")
NAMESPACE = os.environ.get("METRICS_NAMESPACE") or "RedshiftUnload"


def handler(event, context):
    request, run, error = event.get("request") or {}, event.get("run") or {}, event.get("error")
    succeeded = error is None and run.get("outcome") == "succeeded"
    manifest = {}
    if succeeded:
        import json
        bucket, _, prefix = request["target_uri"][5:].partition("/")
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "_manifest.json")["Body"].read())
    table = request.get("table")
    duration = run.get("execution_seconds") or run.get("elapsed_seconds")
    values = [("UnloadSucceeded", float(succeeded), "Count"), ("UnloadFailed", float(not succeeded), "Count")]
    if duration is not None:
        values.append(("UnloadDurationSeconds", float(duration), "Seconds"))
    for name, unit in (("rows", "Count"), ("bytes", "Bytes")):
        if name in manifest:
            values.append(("RowsUnloaded" if name == "rows" else "BytesUnloaded", float(manifest[name]), unit))
    now = datetime.datetime.now(datetime.timezone.utc)
    data = []
    for name, value, unit in values:
        if table:
            data.append({"MetricName": name, "Value": value, "Unit": unit, "Timestamp": now,
                         "Dimensions": [{"Name": "TableName", "Value": table}]})
        data.append({"MetricName": name, "Value": value, "Unit": unit, "Timestamp": now})
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    error_type = None if succeeded else ((error or {}).get("Error") or "Unknown")
    logger.info("unload reported: table=%s outcome=%s error=%s", table, "succeeded" if succeeded else "failed", error_type)
    return {"outcome": "succeeded" if succeeded else "failed", "table": table, "error_type": error_type,
            "duration_seconds": duration, "metrics_published": len(data)}
