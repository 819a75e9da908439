"""validate, as the Python + boto3 original would write it: the schedule input -> the normalized
request. Pure computation (no AWS call), so, like the Rust function, it creates no client."""
import datetime
import json
import logging
import os
import re

logger = logging.getLogger()
logger.setLevel(logging.INFO)

KEYS = ("PrefixedTablename", "SnapshotYN", "FileFormat", "WriteMode", "s3FilePath", "JdbcUrl",
        "GlueRSConnection", "RedshiftRoleArn", "DayPartitionKey", "DayPartitionValue", "AllowEmptySource")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
FORMATS = {"parquet", "orc", "json", "csv", "avro"}
MODES = {"overwrite", "append"}


class InvalidRequest(Exception):
    pass


def _default(name):
    value = os.environ.get(name, "").strip()
    return value or None


def _identifier(field, value):
    if not value or not IDENT.match(value):
        raise InvalidRequest(f"{field}: {json.dumps(value)} is not a valid identifier")
    return value.lower()


def handler(event, context):
    if not isinstance(event, dict):
        raise InvalidRequest("the request must be a JSON object")
    unknown = [k for k in event if k not in KEYS]
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: unknown key; accepted keys: {', '.join(KEYS)}")
    get = lambda key, env=None: (str(event[key]).strip() if event.get(key) is not None else None) or (_default(env) if env else None)  # noqa: E731
    table = get("PrefixedTablename")
    if not table or table.count(".") != 1:
        raise InvalidRequest("PrefixedTablename: must be <schema>.<table>")
    schema, name = (_identifier("PrefixedTablename", part) for part in table.split("."))
    snapshot = (get("SnapshotYN", "UNLOAD_DEFAULT_SNAPSHOT_YN") or "y").lower()
    if snapshot not in ("y", "n"):
        raise InvalidRequest("SnapshotYN: must be y or n")
    file_format = (get("FileFormat", "UNLOAD_DEFAULT_FILE_FORMAT") or "parquet").lower()
    if file_format not in FORMATS:
        raise InvalidRequest(f"FileFormat: must be one of {sorted(FORMATS)}")
    write_mode = (get("WriteMode", "UNLOAD_DEFAULT_WRITE_MODE") or "overwrite").lower()
    if write_mode not in MODES:
        raise InvalidRequest(f"WriteMode: must be one of {sorted(MODES)}")
    s3_path = get("s3FilePath", "UNLOAD_DEFAULT_S3_PATH")
    if not s3_path or not s3_path.startswith("s3://") or not BUCKET.match(s3_path[5:].split("/")[0]):
        raise InvalidRequest("s3FilePath: must be s3://<bucket>[/<prefix>]")
    s3_path = s3_path.rstrip("/")
    connection = get("GlueRSConnection", "UNLOAD_DEFAULT_GLUE_CONNECTION")
    if not connection and not get("JdbcUrl"):
        raise InvalidRequest("GlueRSConnection: required (or JdbcUrl)")
    key = value = None
    if snapshot == "y":
        key = _identifier("DayPartitionKey", get("DayPartitionKey", "UNLOAD_DEFAULT_DAY_PARTITION_KEY") or "")
        text = get("DayPartitionValue")
        if text:
            try:
                day = datetime.date.fromisoformat(text)
            except ValueError:
                raise InvalidRequest(f"DayPartitionValue: {json.dumps(text)} is not a YYYY-MM-DD date") from None
        else:
            offset = int(_default("UNLOAD_DAY_OFFSET_DAYS") or "0")
            day = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)
        value = day.isoformat()
    target = f"{s3_path}/{schema}/{file_format}/{name}/" + (f"{key}_key={value}/" if key else "")
    request = {
        "table": f"{schema}.{name}", "schema": schema, "table_name": name,
        "scope": "day" if key else "full", "partition_key": key, "partition_value": value,
        "file_format": file_format, "write_mode": write_mode, "s3_path": s3_path, "target_uri": target,
        "glue_connection": connection, "redshift_role_arn": get("RedshiftRoleArn", "UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN"),
        "allow_empty_source": str(get("AllowEmptySource") or "false").lower() == "true",
        "job_name": f"{schema}.{name}_ExtractToDataLake",
    }
    logger.info("request accepted: table=%s day=%s target=%s", request["table"], value, target)
    return request
