"""Unload one day-partition (or the whole table) from Amazon Redshift into the S3 data lake.

The AWS Glue 5.0 job (Spark 3.5, Python 3.11) behind the unload workflow. Run arguments are listed
in docs/CONTRACT.md ("Glue run arguments"), plus an optional `--max_rows_per_file N` (default: about
128 MiB of estimated row width per file). Glue's own arguments (--JOB_NAME, --JOB_ID, ...) are
ignored; --JOB_RUN_ID stands in for a missing --execution_id. Layout: full table
`<s3path>/<schema>/<format>/<table>/`, one day
`<s3path>/<schema>/<format>/<table>/<key>_key=<YYYY-MM-DD>/`; `_manifest.json` goes in that folder.

Sources: `--source_kind redshift` reads through the Glue connection with Glue's Redshift connector
(UNLOAD through --TempDir); it needs the Glue runtime. `--source_kind postgresql` reads over plain
Spark JDBC with credentials from the environment (never from arguments):
    UNLOAD_LOCAL_CONNECTIONS_FILE  JSON {"<glue_connection>": {"url", "user", "password"}}, or
    UNLOAD_LOCAL_JDBC_URL, UNLOAD_LOCAL_JDBC_USER, UNLOAD_LOCAL_JDBC_PASSWORD
    UNLOAD_JDBC_JAR                JDBC driver jar for a local Spark session
                                   (default /usr/share/java/postgresql.jar)
    UNLOAD_SPARK_JARS              more jars for a local Spark session, comma-separated (e.g. spark-avro)
    UNLOAD_LOCAL_S3_ROOT           when set, s3://bucket/key is read and written at <root>/bucket/key
                                   (manifest and logs keep the s3:// URIs)

Overwrite never deletes first (docs/ARCHITECTURE.md, "The overwrite protocol"): the run lists
the files it will replace, writes its own files with run-unique names beside them (Spark append),
reconciles the rows it read (one read of the source, counted as Spark writes them) against a
read-back of its new files, commits the manifest naming the new files, and only then deletes the
files listed at the start; the manifest is rewritten last, complete. A failure before the commit
removes only this run's new files; the previous data and manifest stay as they were. A whole-table
run with a key replaces every `<key>_key=` day folder, removing days that left the source; an
empty source (or a vanished day) never wipes archived files unless --allow_empty_source true.
Flat files and day folders never share a table folder: such a run is refused. The source count(*)
taken at the start only sizes the files and is advisory (`source_rows_at_start` in the manifest).

Exit: 0 on success; otherwise non-zero with the last stderr line `UnloadError: <what went wrong>`
(on Glue the UnloadError is raised, so it becomes the run's ErrorMessage).

Everything above the "Spark" line is pure Python (argument parsing, validation, query and path
building) and imports without pyspark or awsglue.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import math
import os
import re
import sys
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

FORMATS = ("parquet", "orc", "json", "csv", "avro")
WRITE_MODES = ("overwrite", "append")
SOURCE_KINDS = ("redshift", "postgresql")
MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 2
TARGET_FILE_BYTES = 128 * 1024 * 1024  # uncompressed estimate; compressed files land well below
DEFAULT_JDBC_JAR = "/usr/share/java/postgresql.jar"
LOCAL_MASTER = "local[2]"
DELETE_THREADS = 16  # concurrent DELETE requests when the old files go (one request per file)

# The arguments this job reads. Anything else on the command line belongs to Glue and is skipped.
KNOWN_ARGS = frozenset({
    "prefixed_table_name", "snapshot_yn", "file_format", "write_mode", "s3path_datalake",
    "day_partition_key", "day_partition_value", "redshift_role_arn", "glue_connection",
    "execution_id", "source_kind", "allow_empty_source", "TempDir", "max_rows_per_file",
    "JOB_RUN_ID", "target_uri",
})


class UnloadError(Exception):
    """A failed run. The message is one line: it becomes the run's ErrorMessage."""

    def __init__(self, message: str):
        super().__init__(redact(" ".join(str(message).split())))


# --- secrets stay out of logs and errors ----------------------------------------------------

_SECRETS: set[str] = set()
_SECRET_PARAM = re.compile(r"(?i)\b(password|pwd|secret|token)=[^&;\s]*")


def redact(text: str) -> str:
    """Masks `password=...`-style URL parameters and every secret this run has loaded."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def log(message: str) -> None:
    print(f"unload_table: {redact(message)}", flush=True)


# --- arguments -------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs for KNOWN_ARGS; other tokens are Glue's business."""
    args: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("--"):
            continue
        name, has_equals, value = token[2:].partition("=")
        if not has_equals:
            if i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            else:
                value = None
        if name not in KNOWN_ARGS:
            continue
        if value is None:
            raise UnloadError(f"--{name} needs a value")
        if name in args:
            raise UnloadError(f"--{name} is given twice")
        args[name] = value
    return args


def _shown(value: object) -> str:
    """A hostile value, quoted and cut short, for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9._=-]+")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")


def validate_identifier(value: str, what: str) -> str:
    """A Redshift identifier that needs no quoting: ASCII letter or _ first, then letters, digits,
    _ or $, at most 127 bytes. Returned lower-cased (Redshift folds unquoted names)."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise UnloadError(f"{what} {_shown(value)} is not a valid identifier (ASCII letter or _ first, "
                          "then letters, digits, _ or $)")
    if len(value.encode()) > 127:
        raise UnloadError(f"{what} {_shown(value)} is longer than 127 bytes")
    return value.lower()


def validate_table(value: str) -> tuple[str, str]:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 2:
        raise UnloadError(f"--prefixed_table_name {_shown(value)} must be <schema>.<table>")
    return (validate_identifier(parts[0], "schema name"), validate_identifier(parts[1], "table name"))


def validate_date(value: str, what: str = "--day_partition_value") -> dt.date:
    """A real calendar date written YYYY-MM-DD (2023-02-29 is refused)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise UnloadError(f"{what} {_shown(value)} must be a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UnloadError(f"{what} {_shown(value)} is not a real calendar date") from None


def valid_bucket(bucket: str) -> bool:
    """S3's naming rules for general purpose buckets, as the validate Lambda applies them."""
    return (bool(_BUCKET.fullmatch(bucket))
            and not any(pair in bucket for pair in ("..", ".-", "-."))
            and not (bucket.count(".") == 3 and all(p.isdigit() and int(p) < 256 for p in bucket.split(".")))
            and not bucket.startswith(("xn--", "sthree-"))
            and not bucket.endswith(("-s3alias", "--ol-s3")))


def validate_s3_uri(value: str, what: str) -> str:
    """s3://bucket[/prefix] with a valid bucket name and plain prefix segments; no trailing slash.
    The same rule as the validate Lambda's: both suites read functions/unload-core/data/s3_uri_cases.json."""
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise UnloadError(f"{what} {_shown(value)} must be an s3://bucket/prefix URI")
    bucket, _, prefix = value[len("s3://"):].partition("/")
    if not valid_bucket(bucket):
        raise UnloadError(f"{what} {_shown(value)} has an invalid bucket name")
    segments = prefix.rstrip("/").split("/") if prefix.rstrip("/") else []
    for segment in segments:
        if not _KEY_SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise UnloadError(f"{what} {_shown(value)}: prefix segment {_shown(segment)} is empty or "
                              "has characters other than letters, digits, . _ = -")
    return "/".join([f"s3://{bucket}", *segments])


def _choice(args: dict, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = args.get(name) or default
    if value is None:
        raise UnloadError(f"--{name} is required ({'|'.join(choices)})")
    if value.lower() not in choices:
        raise UnloadError(f"--{name} {_shown(value)} must be one of {'|'.join(choices)}")
    return value.lower()


def _text(args: dict, name: str, required: bool, max_len: int = 255) -> str | None:
    value = args.get(name) or None
    if value is None:
        if required:
            raise UnloadError(f"--{name} is required")
        return None
    if len(value) > max_len or not value.isprintable() or not value.strip():
        raise UnloadError(f"--{name} {_shown(value)} must be 1-{max_len} printable characters")
    return value


@dataclass(frozen=True)
class Plan:
    """A validated run: what to read, where to write it, how."""
    schema: str
    table: str
    scope: str                      # "day" | "full"
    partition_key: str | None       # set for day runs; optional for full runs
    partition_value: str | None     # YYYY-MM-DD, day runs only
    file_format: str
    write_mode: str
    s3_path: str                    # s3://bucket/prefix, no trailing slash
    glue_connection: str
    source_kind: str
    execution_id: str
    allow_empty_source: bool = False
    redshift_role_arn: str | None = None
    temp_dir: str | None = None
    max_rows_per_file: int | None = None

    @property
    def table_name(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def partition_column(self) -> str | None:
        """The Hive folder column, `<key>_key`, kept apart from the data column `<key>`."""
        return f"{self.partition_key}_key" if self.partition_key else None

    @property
    def table_uri(self) -> str:
        return table_uri(self.s3_path, self.schema, self.file_format, self.table)

    @property
    def target_uri(self) -> str:
        return target_uri(self.s3_path, self.schema, self.file_format, self.table,
                          self.partition_key if self.scope == "day" else None, self.partition_value)


def build_plan(args: dict[str, str]) -> Plan:
    """Validates every argument (again: defence in depth behind the validate Lambda)."""
    if not args.get("prefixed_table_name"):
        raise UnloadError("--prefixed_table_name is required (<schema>.<table>)")
    schema, table = validate_table(args["prefixed_table_name"])
    scope = "day" if _choice(args, "snapshot_yn", ("y", "n")) == "y" else "full"
    key = args.get("day_partition_key") or None
    value = args.get("day_partition_value") or None
    if key is not None:
        key = validate_identifier(key, "--day_partition_key")
    if scope == "day":
        if key is None or value is None:
            raise UnloadError("a day run (--snapshot_yn y) needs --day_partition_key and --day_partition_value")
        value = validate_date(value).isoformat()
    elif value is not None:
        raise UnloadError("--day_partition_value is only for a day run (--snapshot_yn y)")
    source_kind = _choice(args, "source_kind", SOURCE_KINDS, default="redshift")
    role = args.get("redshift_role_arn") or None
    if role is not None and not _ROLE_ARN.fullmatch(role):
        raise UnloadError(f"--redshift_role_arn {_shown(role)} is not an IAM role ARN")
    if role is None and source_kind == "redshift":
        # Without it the connector hands Redshift the job role's session credentials, which expire
        # after an hour and may write the whole lake (AWS Glue guide, Redshift connections).
        raise UnloadError("--redshift_role_arn is required for --source_kind redshift")
    execution_id = (_text(args, "execution_id", required=False, max_len=2048)
                    or _text(args, "JOB_RUN_ID", required=False) or "manual")
    temp_dir = args.get("TempDir") or None
    if temp_dir is not None:
        temp_dir = run_temp_dir(validate_s3_uri(temp_dir, "--TempDir"), schema, table,
                                args.get("JOB_RUN_ID") or execution_id)
    elif source_kind == "redshift":
        raise UnloadError("--TempDir is required for --source_kind redshift (the connector UNLOADs through it)")
    if not args.get("s3path_datalake"):
        raise UnloadError("--s3path_datalake is required (s3://bucket/prefix)")
    plan = Plan(
        schema=schema, table=table, scope=scope, partition_key=key, partition_value=value,
        file_format=_choice(args, "file_format", FORMATS),
        write_mode=_choice(args, "write_mode", WRITE_MODES),
        s3_path=validate_s3_uri(args["s3path_datalake"], "--s3path_datalake"),
        glue_connection=_text(args, "glue_connection", required=True),
        source_kind=source_kind,
        execution_id=execution_id,
        allow_empty_source=_choice(args, "allow_empty_source", ("true", "false"), default="false") == "true",
        redshift_role_arn=role, temp_dir=temp_dir,
        max_rows_per_file=_positive_int(args.get("max_rows_per_file"), "--max_rows_per_file"),
    )
    expected = args.get("target_uri")
    if expected is not None and expected != plan.target_uri:
        # validate computed the target from the same request; a difference means the Rust and
        # Python path rules drifted apart, and the run must not write somewhere unexpected.
        raise UnloadError(f"--target_uri {_shown(expected)} differs from the target this job computes, "
                          f"{_shown(plan.target_uri)}; refusing to write")
    return plan


def run_temp_dir(temp_root: str, schema: str, table: str, run_key: str) -> str:
    """This run's own folder under --TempDir: the Redshift connector stages a full UNLOAD of the
    data there and never deletes it, so each run gets a folder the job removes when it ends."""
    tag = re.sub(r"[^A-Za-z0-9_-]", "", run_key)[-64:] if run_key.startswith("jr_") else \
        "x" + hashlib.sha256(run_key.encode()).hexdigest()[:32]
    return f"{temp_root}/{schema}.{table}/{tag}/"


def _positive_int(value: str | None, what: str) -> int | None:
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,10}", value) or not 0 < int(value) < 2**31:
        raise UnloadError(f"{what} {_shown(value)} must be a positive integer")
    return int(value)


# --- SQL and paths ---------------------------------------------------------------------------

def quote_identifier(name: str) -> str:
    # Validated identifiers hold no quote character; validating here too keeps this safe alone.
    return '"' + validate_identifier(name, "identifier") + '"'


def day_predicate(key: str, value: str) -> str:
    """A half-open range on one day: exact for date columns, also right for timestamp columns,
    and still a plain range the warehouse can prune with sort keys / zone maps."""
    day = validate_date(value)
    column = quote_identifier(key)
    predicate = f"{column} >= DATE '{day.isoformat()}'"
    if day < dt.date.max:
        predicate += f" AND {column} < DATE '{(day + dt.timedelta(days=1)).isoformat()}'"
    return predicate


def _from_clause(plan: Plan) -> str:
    sql = f"FROM {quote_identifier(plan.schema)}.{quote_identifier(plan.table)}"
    if plan.scope == "day":
        sql += f" WHERE {day_predicate(plan.partition_key, plan.partition_value)}"
    return sql


def select_query(plan: Plan) -> str:
    """The pushdown query. No ORDER BY: the files are not read in order, sorting is wasted work."""
    return f"SELECT * {_from_clause(plan)}"


def count_query(plan: Plan) -> str:
    """count(*) over exactly the same predicate, for reconciliation."""
    return f"SELECT count(*) AS source_rows {_from_clause(plan)}"


def table_uri(s3_path: str, schema: str, file_format: str, table: str) -> str:
    return f"{s3_path.rstrip('/')}/{schema}/{file_format}/{table}/"


def target_uri(s3_path: str, schema: str, file_format: str, table: str,
               partition_key: str | None = None, partition_value: str | None = None) -> str:
    base = table_uri(s3_path, schema, file_format, table)
    return f"{base}{partition_key}_key={partition_value}/" if partition_key else base


def io_location(uri: str, env=os.environ) -> str:
    """Where Spark and Hadoop do the I/O for an s3:// URI: the URI itself, or the same bucket/key
    under UNLOAD_LOCAL_S3_ROOT (the folder a local S3 server serves)."""
    root = env.get("UNLOAD_LOCAL_S3_ROOT")
    if not root:
        return uri
    if not uri.startswith("s3://"):
        raise UnloadError(f"{_shown(uri)} is not an s3:// URI")
    return "file://" + os.path.abspath(root) + "/" + uri[len("s3://"):]


# --- formats ---------------------------------------------------------------------------------

# Every value of a column lands as the warehouse holds it, or the run fails before writing; the
# exceptions a format has by its nature are listed in the README's format table.

RUN_TIME_ZONE = "UTC"
# Text timestamps (JSON, CSV): all six fraction digits Redshift keeps, and the offset spelled out
# (+00:00) so no reader has to guess a zone. Spark's default stops at milliseconds
# (yyyy-MM-dd'T'HH:mm:ss.SSSXXX) and silently drops the last three digits.
TEXT_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"
TEXT_DATE_FORMAT = "yyyy-MM-dd"
# CSV has no NULL. Ours is the bare two characters \N, Redshift COPY's default NULL AS; the empty
# string is a quoted "" (Spark's CSV default, spelled out here). Readers apply the rule as:
# Redshift COPY ... CSV (default NULL AS '\N'); Athena OpenCSVSerDe NULLIF(col, '\N');
# Python csv: None if field == '\\N' else field. A text value that is exactly \N reads as NULL:
# the one collision of this convention (the README's format table names it).
CSV_NULL = "\\N"


def session_settings() -> dict[str, str]:
    """Spark SQL settings for the whole run, set on the session before anything is read."""
    return {
        # Day folders, text timestamps and Spark's instant <-> local conversions in one fixed zone.
        "spark.sql.session.timeZone": RUN_TIME_ZONE,
        # Old dates as they are. Spark 3.5 defaults to EXCEPTION and fails the run
        # (WRITE_ANCIENT_DATETIME) on a date before 1582-10-15 or a timestamp before 1900, which
        # warehouses hold as sentinels (0001-01-01). CORRECTED writes the proleptic Gregorian
        # value untouched, as Redshift, Athena, Arrow and Avro/Parquet readers count days; LEGACY
        # would rebase to the Julian calendar for Spark 2 readers. Parquet dates and INT96
        # timestamps have separate settings; Avro has its own. ORC has none: Spark writes ORC
        # without rebasing.
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
        "spark.sql.avro.datetimeRebaseModeInWrite": "CORRECTED",
        # The read-back count reads the files this run wrote: the same calendar both ways.
        "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
        "spark.sql.avro.datetimeRebaseModeInRead": "CORRECTED",
    }


def jvm_options() -> str:
    """JVM flags for a Spark session this job starts. The JDBC driver turns a `timestamp without
    time zone` into an instant in the JVM's default zone, and Spark renders instants in the session
    zone: unless both are the same, every naive timestamp shifts by the JVM zone's offset."""
    return f"-Duser.timezone={RUN_TIME_ZONE}"


def writer_options(file_format: str) -> dict[str, str]:
    """Per-format options: columnar formats snappy (fast, splittable), text formats gzip."""
    text_times = {"timestampFormat": TEXT_TIMESTAMP_FORMAT, "dateFormat": TEXT_DATE_FORMAT}
    options = {
        "parquet": {"compression": "snappy"},
        "orc": {"compression": "snappy"},
        "avro": {"compression": "snappy"},
        # Nulls kept as explicit fields so every line has the same keys.
        "json": {"compression": "gzip", "ignoreNullFields": "false", **text_times},
        "csv": {
            "compression": "gzip", "header": "true",
            # RFC 4180 quoting (a quote is doubled, not backslash-escaped) so any CSV reader agrees.
            "quote": '"', "escape": '"',
            # Spark trims leading and trailing white space by default: ' ' would land as '',
            # char(n) padding and a trailing newline would be lost. A value is data: keep it all.
            "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false",
            # NULL and '' stay apart: see CSV_NULL.
            "nullValue": CSV_NULL, "emptyValue": '""',
            **text_times,
        },
    }
    if file_format not in options:
        raise UnloadError(f"unknown file format {_shown(file_format)}")
    return options[file_format]


def reader_options(file_format: str) -> dict[str, str]:
    """Options to read our own files back for the row count."""
    if file_format == "csv":
        return {"header": "true", "quote": '"', "escape": '"', "multiLine": "true", "nullValue": CSV_NULL,
                "ignoreLeadingWhiteSpace": "false", "ignoreTrailingWhiteSpace": "false"}
    return {}


# Spark types every format writes as they are. A Redshift column reaches Spark as one of these, or
# as a type below, or the engine refuses it (docs/ARCHITECTURE.md "Redshift column types").
_KEPT_TYPES = frozenset({"boolean", "tinyint", "smallint", "int", "bigint", "float", "double", "string",
                         "date", "timestamp", "timestamp_ntz"})


def unsupported_columns(columns: list[tuple[str, str, bool]], file_format: str) -> list[str]:
    """Why each column cannot land unchanged in file_format, one line per column ([] when all can).
    columns: (name, Spark simpleString type, whether Spark marked it a time of day)."""
    problems = []
    for name, kind, time_of_day in columns:
        if time_of_day:
            # Spark has no time-of-day type: the JDBC read turns TIME/TIMETZ into a timestamp on
            # 1970-01-01 and drops its fraction of a second.
            problems.append(f"{name} (a time of day, read as {kind}): Spark has no time type, the value would "
                            "land as a 1970-01-01 timestamp; cast it to varchar in a view and unload that")
        elif kind in _KEPT_TYPES or kind.startswith("decimal("):
            continue
        elif kind == "binary" or kind.startswith(("array<", "map<", "struct<")):
            # VARBYTE arrives as binary, SUPER read with a schema as array/map/struct.
            if file_format == "csv":
                problems.append(f"{name} ({kind}): CSV cannot hold it; choose parquet, orc, avro or json")
        else:
            problems.append(f"{name} ({kind}): no format of this job writes this type unchanged")
    return problems


# Bytes per value by Spark type name, as Spark's own size estimate counts them.
_TYPE_BYTES = {"boolean": 1, "tinyint": 1, "smallint": 2, "int": 4, "date": 4, "float": 4,
               "bigint": 8, "double": 8, "timestamp": 8, "timestamp_ntz": 8}


def estimated_row_bytes(type_names: list[str]) -> int:
    total = 0
    for name in type_names:
        if name.startswith("decimal("):
            precision = int(name[len("decimal("):].split(",")[0])
            total += 8 if precision <= 18 else 16
        else:
            total += _TYPE_BYTES.get(name, 20)  # strings and the rest: Spark's default of 20
    return max(total, 1)


def rows_per_file(plan: Plan, type_names: list[str]) -> int:
    """Rows per output file: the explicit cap, else ~TARGET_FILE_BYTES of estimated row width."""
    return plan.max_rows_per_file or max(1, TARGET_FILE_BYTES // estimated_row_bytes(type_names))


def file_count(rows: int, per_file: int) -> int:
    return max(1, math.ceil(rows / per_file))


# --- the local connection and the Glue connection --------------------------------------------

def local_connection(name: str, env=os.environ) -> dict[str, str]:
    """JDBC url/user/password for --source_kind postgresql, from the environment only."""
    path = env.get("UNLOAD_LOCAL_CONNECTIONS_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                connections = json.load(handle)
        except (OSError, ValueError) as err:
            raise UnloadError(f"cannot read UNLOAD_LOCAL_CONNECTIONS_FILE {path}: {type(err).__name__}") from None
        entry = connections.get(name) if isinstance(connections, dict) else None
        if not isinstance(entry, dict) or not entry.get("url"):
            raise UnloadError(f"connection {_shown(name)} is not in UNLOAD_LOCAL_CONNECTIONS_FILE {path} "
                              '(expected {"<name>": {"url": ..., "user": ..., "password": ...}})')
        conn = {"url": str(entry["url"]), "user": str(entry.get("user") or ""),
                "password": str(entry.get("password") or "")}
    elif env.get("UNLOAD_LOCAL_JDBC_URL"):
        conn = {"url": env["UNLOAD_LOCAL_JDBC_URL"], "user": env.get("UNLOAD_LOCAL_JDBC_USER", ""),
                "password": env.get("UNLOAD_LOCAL_JDBC_PASSWORD", "")}
    else:
        raise UnloadError("no local connection: set UNLOAD_LOCAL_JDBC_URL (and _USER, _PASSWORD) "
                          "or UNLOAD_LOCAL_CONNECTIONS_FILE")
    if conn["password"]:
        _SECRETS.add(conn["password"])
    if not conn["url"].startswith("jdbc:"):
        raise UnloadError(f"the JDBC url of connection {_shown(name)} must start with jdbc:")
    return conn


def jdbc_read_options(conn: dict[str, str], query: str) -> dict[str, str]:
    options = {"url": conn["url"], "user": conn["user"], "password": conn["password"],
               "query": query, "fetchsize": "10000"}  # a cursor, not the whole result in memory
    if conn["url"].startswith("jdbc:postgresql:"):
        options["driver"] = "org.postgresql.Driver"
    return options


def redshift_read_options(plan: Plan, query: str) -> dict[str, str]:
    """Glue 5.0 Redshift connector: credentials come from the Glue connection, the query runs as
    an UNLOAD into the temp dir, and the cluster's IAM role (when given) writes there."""
    options = {
        "sampleQuery": query,
        "redshiftTmpDir": plan.temp_dir,
        "useConnectionProperties": "true",
        "connectionName": plan.glue_connection,
    }
    if plan.redshift_role_arn:
        options["aws_iam_role"] = plan.redshift_role_arn
    return options


# --- the manifest ----------------------------------------------------------------------------

def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(plan: Plan, source_rows: int, rows: int, files: dict[str, int],
                   columns: list[tuple[str, str]], started_at: str, finished_at: str | None, *,
                   source_rows_at_start: int | None = None, replaced: dict[str, int] | None = None,
                   removed_days: list[str] = (), state: str = "complete",
                   warnings: list[str] = ()) -> dict:
    """docs/CONTRACT.md "The run manifest": the files of the current version (this run's, paths
    relative to target_uri), what the run read and replaced. `state` is "committed" while the
    replaced files are being deleted and "complete" once they are gone."""
    replaced = replaced or {}
    return {
        "version": MANIFEST_VERSION,
        "table": plan.table_name,
        "scope": plan.scope,
        "partition_key": plan.partition_key,
        "partition_value": plan.partition_value,
        "format": plan.file_format,
        "write_mode": plan.write_mode,
        "target_uri": plan.target_uri,
        "execution_id": plan.execution_id,
        "state": state,
        "source_rows": source_rows,
        "source_rows_at_start": source_rows_at_start,
        "rows": rows,
        "files": [{"path": path, "bytes": files[path]} for path in sorted(files)],
        "bytes": sum(files.values()),
        "replaced_files": len(replaced),
        "replaced_bytes": sum(replaced.values()),
        "removed_days": sorted(removed_days),
        "columns": [{"name": name, "type": kind} for name, kind in columns],
        "warnings": list(warnings),
        "started_at": started_at,
        "finished_at": finished_at,
    }


# --- the overwrite protocol, pure part --------------------------------------------------------

def layout_problem(plan: Plan, root_files: list[str], root_folders: list[str]) -> str | None:
    """Flat files and day folders never share a table folder (one manifest, one reader view per
    folder): a flat run over day folders, or a day run over flat files, is refused."""
    if plan.partition_key is None:
        days = sorted(name for name in root_folders if "=" in name and not is_hidden(name))
        if days:
            return (f"{plan.table_uri} holds day folders ({days[0]}, ... {len(days)} in all) and a flat "
                    f"{describe_scope(plan)} run would put its files beside them; refusing to mix flat files "
                    "and day folders in one table folder (give --day_partition_key, or unload the flat "
                    "table under another --s3path_datalake)")
        return None
    files = sorted(name for name in root_files if not is_hidden(name))
    if files:
        return (f"{plan.table_uri} holds {len(files)} flat data files ({files[0]}, ...) from a run without "
                f"--day_partition_key; refusing to add {plan.partition_column}= day folders beside them "
                "(unload the day partitions under another --s3path_datalake, or remove the flat files)")
    return None


def describe_scope(plan: Plan) -> str:
    return "one-day" if plan.scope == "day" else ("whole-table" if plan.partition_key is None else "per-day whole-table")


def day_of(plan: Plan, relative: str) -> str | None:
    """The `<key>_key=<day>` folder of a path relative to the table folder, if it is one of ours."""
    first = relative.split("/", 1)[0]
    return first if plan.partition_key and first.startswith(f"{plan.partition_column}=") and "/" in relative else None


def vanished_days(plan: Plan, before: dict[str, int], written: dict[str, int]) -> list[str]:
    """Per-day whole-table overwrite: the day folders holding files now that this run wrote
    nothing into (days that left the source)."""
    if plan.scope != "full" or plan.partition_key is None or plan.write_mode != "overwrite":
        return []
    old = {day_of(plan, path) for path in before} - {None}
    new = {day_of(plan, path) for path in written} - {None}
    return sorted(old - new)


def drift_warning(plan: Plan, at_start: int | None, rows_read: int) -> str | None:
    """The advisory count(*) differs from the rows read: a load ran during the unload."""
    if at_start is None or at_start == rows_read:
        return None
    return (f"source changed during the run: count(*) at start {at_start}, rows read {rows_read} "
            f"({describe(plan)}); the lake holds the rows read")


def is_hidden(name: str) -> bool:
    """Spark's rule for files that are not data: `.x`, and `_x` unless it is a `_k=v` folder."""
    return name.startswith(".") or (name.startswith("_") and "=" not in name)


# === Spark ===================================================================================

@contextlib.contextmanager
def stage(what: str):
    """Turns any failure inside into one UnloadError line that says what was being done."""
    try:
        yield
    except UnloadError:
        raise
    except Exception as err:
        raise UnloadError(f"{what} failed: {short_error(err)}") from err


def short_error(err: BaseException) -> str:
    java = getattr(err, "java_exception", None)  # py4j: the Java exception says what happened
    text = str(java.toString()) if java is not None else str(err)
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(err).__name__
    root, depth = java, 0
    while root is not None and root.getCause() is not None and depth < 20:  # the innermost cause
        root, depth = root.getCause(), depth + 1
    if root is not None and root is not java:  # e.g. the source's error under "Job aborted"
        cause = [line for line in str(root.toString()).splitlines() if line.strip()]
        if cause and cause[0] not in first:
            first = f"{cause[0]} (in: {first[:300]})"
    return first[:600]


def local_spark_session():
    """The Spark session outside Glue: local[2], the JDBC driver jar (plus UNLOAD_SPARK_JARS, a
    comma-separated list, e.g. a spark-avro jar), no UI, every JVM in UTC."""
    from pyspark.sql import SparkSession
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local run listens on loopback only
    jars = [os.environ.get("UNLOAD_JDBC_JAR", DEFAULT_JDBC_JAR)]
    jars += [jar for jar in os.environ.get("UNLOAD_SPARK_JARS", "").split(",") if jar.strip()]
    builder = (SparkSession.builder.master(LOCAL_MASTER).appName("unload_table")
               .config("spark.jars", ",".join(jars))
               # The JVM zone is fixed when the JVM starts: the driver's (which runs the local
               # executors too) and, on a cluster, each executor's.
               .config("spark.driver.extraJavaOptions", jvm_options())
               .config("spark.executor.extraJavaOptions", jvm_options()))
    for key, value in session_settings().items():
        builder = builder.config(key, value)
    return (builder
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # stderr ends with the error line
            # No .crc side files next to the data (a local S3 server would list them as objects).
            .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
            # List local folders on the driver: a "parallel" listing job of one task per day
            # folder costs seconds on two cores (Glue keeps the default, right for S3).
            .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
            .getOrCreate())


class Store:
    """The lake through Hadoop's FileSystem API: s3:// on Glue, local folders elsewhere."""

    def __init__(self, spark):
        self._spark = spark
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _fs_path(self, location: str):
        path = self._jvm.org.apache.hadoop.fs.Path(location)
        return path.getFileSystem(self._conf), path

    def data_files(self, folder: str) -> dict[str, int]:
        """{path relative to folder: bytes} of every data file below it (hidden ones skipped)."""
        fs, path = self._fs_path(folder)
        if not fs.exists(path):
            return {}
        base = fs.makeQualified(path).toString().rstrip("/") + "/"
        # Spark's file listing in one job: walking a FileSystem iterator over py4j costs a round
        # trip per call, ~20 s for the 2,406 day folders of a whole-table run.
        listing = (self._spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                   .load(folder).select("path", "length").collect())
        files = {row.path[len(base):]: row.length for row in listing if row.path.startswith(base)}
        return {name: size for name, size in files.items()
                if not any(is_hidden(part) for part in name.split("/"))}

    def root_entries(self, folder: str) -> tuple[dict[str, int], list[str]]:
        """({file name: bytes}, [folder names]) directly inside folder: one listing, no recursion."""
        fs, path = self._fs_path(folder)
        if not fs.exists(path):
            return {}, []
        files, folders = {}, []
        for status in fs.listStatus(path):
            if status.isDirectory():
                folders.append(status.getPath().getName())
            else:
                files[status.getPath().getName()] = status.getLen()
        return files, folders

    def delete(self, location: str, recursive: bool = True) -> None:
        fs, path = self._fs_path(location)
        if fs.exists(path):
            fs.delete(path, recursive)

    def delete_files(self, folder: str, relatives: list[str], halfway=None) -> None:
        """Deletes files (never folders) below folder, DELETE_THREADS at a time; `halfway` is
        called once half of them are gone (the test hook's "mid-deletes" point)."""
        def remove(relative):
            fs, path = self._fs_path(folder + relative)
            fs.delete(path, False)
        half = len(relatives) // 2
        with ThreadPoolExecutor(DELETE_THREADS) as pool:
            list(pool.map(remove, relatives[:half]))
            if halfway is not None:
                halfway()
            list(pool.map(remove, relatives[half:]))

    def write_text(self, location: str, text: str) -> None:
        fs, path = self._fs_path(location)
        out = fs.create(path, True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()


def pin_time_zone(spark) -> None:
    """Applies session_settings() and refuses a driver JVM outside RUN_TIME_ZONE: its zone is fixed
    at JVM start (jvm_options() for the sessions this job starts). On AWS Glue the JVMs run in UTC;
    a runtime where they did not would fail here instead of shifting every naive timestamp."""
    for key, value in session_settings().items():
        spark.conf.set(key, value)
    zone = str(spark._jvm.java.util.TimeZone.getDefault().getID())
    if zone not in (RUN_TIME_ZONE, "Etc/UTC", "GMT", "Etc/GMT", "Z"):
        raise UnloadError(f"the Spark driver JVM runs in time zone {zone}, not {RUN_TIME_ZONE}: the JDBC read "
                          f"would shift every timestamp without time zone by its offset; start the JVM "
                          f"with {jvm_options()} (spark.driver.extraJavaOptions)")


def check_format_available(spark, file_format: str) -> None:
    """Avro is an external Spark module: Glue ships it, a pip-installed PySpark does not."""
    if file_format != "avro":
        return
    try:
        conf = spark._jsparkSession.sessionState().conf()
        spark._jvm.org.apache.spark.sql.execution.datasources.DataSource.lookupDataSource("avro", conf)
    except Exception:
        raise UnloadError(f"file format avro needs the spark-avro package (org.apache.spark:spark-avro_2.12:"
                          f"{spark.version}), which this Spark runtime does not have: add it to the "
                          "session's jars or choose another --file_format") from None


def make_reader(spark, plan: Plan, glue_context=None):
    """query -> DataFrame, through the Glue connection (Redshift) or plain Spark JDBC."""
    if plan.source_kind == "redshift":
        def read(query):
            frame = glue_context.create_dynamic_frame.from_options(
                connection_type="redshift", connection_options=redshift_read_options(plan, query))
            return frame.toDF()
    else:
        conn = local_connection(plan.glue_connection)

        def read(query):
            return spark.read.format("jdbc").options(**jdbc_read_options(conn, query)).load()
    return read


def check_column_types(df, plan: Plan) -> None:
    """Before any write: a column the format cannot keep fails the run and names the column."""
    columns = [(f.name, f.dataType.simpleString(), bool(f.metadata.get("logical_time_type")))
               for f in df.schema.fields]
    problems = unsupported_columns(columns, plan.file_format)
    if problems:
        raise UnloadError(f"{plan.table_name} has columns that {plan.file_format} cannot hold unchanged; nothing "
                          f"was written: {'; '.join(problems)}")


def count_source_rows(read, plan: Plan) -> int:
    """The advisory count(*) at the start: it sizes the files; a difference from the rows read
    is a warning (a load ran during the unload), never a failure."""
    return int(read(count_query(plan)).first()[0])


def count_landed_rows(spark, plan: Plan, folder: str, files: list[str]) -> int:
    """Reads back exactly the files this run wrote and counts their rows."""
    if not files:
        return 0
    paths = [folder + relative for relative in files]
    return (spark.read.format(plan.file_format).options(**reader_options(plan.file_format))
            .load(paths).count())


def check_partition_key(df, plan: Plan) -> None:
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType
    fields = {field.name.lower(): field for field in df.schema.fields}
    if plan.partition_column in fields:
        raise UnloadError(f"{plan.table_name} has a column {plan.partition_column}, the name of the "
                          "partition folder column")
    if plan.scope == "full":
        field = fields.get(plan.partition_key)
        if field is None:
            raise UnloadError(f"--day_partition_key {plan.partition_key} is not a column of {plan.table_name}")
        if not isinstance(field.dataType, (DateType, TimestampType, TimestampNTZType)):
            raise UnloadError(f"--day_partition_key {plan.partition_key} must be a date or timestamp "
                              f"column, not {field.dataType.simpleString()}")


def write_data(df, plan: Plan, source_rows: int, per_file: int) -> int:
    """Writes this run's files beside whatever is there (Spark append: no delete, no overwrite
    commit of Spark's own) and returns the number of rows written, counted as they pass into the
    writer. A day run writes into its day folder; a whole-table run with a key writes one
    `<key>_key=<day>/` folder per day; a flat run writes into the table folder. `source_rows`
    (the advisory count) only sizes the files."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F
    location = io_location(plan.target_uri)
    if plan.partition_key:
        check_partition_key(df, plan)
    if plan.scope == "full" and plan.partition_key:
        column = plan.partition_column
        key = [f.name for f in df.schema.fields if f.name.lower() == plan.partition_key][0]
        df = df.withColumn(column, F.date_format(F.col(key), "yyyy-MM-dd"))
        df = df.repartition(column)  # each day in one task: one file per day, not one per task
    else:
        # coalesce, not repartition: no shuffle; maxRecordsPerFile splits whatever is still big.
        df = df.coalesce(file_count(source_rows, per_file))
    # Counted in the writing stage itself (Spark merges a result stage's metrics once per
    # partition, retried attempts included): the rows read are the rows handed to the writer,
    # from the one read of the source.
    observation = Observation(f"unload_rows_{uuid.uuid4().hex}")
    df = df.observe(observation, F.count(F.lit(1)).alias("rows"))
    writer = df.write
    if plan.scope == "full" and plan.partition_key:
        writer = writer.partitionBy(plan.partition_column)
    (writer.format(plan.file_format).options(**writer_options(plan.file_format))
     .option("maxRecordsPerFile", per_file).mode("append").save(location))
    return int(observation.get["rows"])


def refuse_to_wipe(plan: Plan, existing: dict[str, int]) -> None:
    """Empty source + overwrite of existing data: the warehouse may have purged rows that were
    archived here, so only an explicit --allow_empty_source true lets the data go."""
    if plan.write_mode == "overwrite" and existing and not plan.allow_empty_source:
        raise UnloadError(f"the source returned 0 rows for {describe(plan)} but {plan.target_uri} "
                          f"holds {len(existing)} data files; refusing to wipe them "
                          "(pass --allow_empty_source true to allow it)")


def refuse_to_drop_days(plan: Plan, days: list[str]) -> None:
    """A whole-table run would remove day folders whose days left the source: the same guard."""
    if days and not plan.allow_empty_source:
        shown = ", ".join(days[:3]) + (f", ... ({len(days)} in all)" if len(days) > 3 else "")
        raise UnloadError(f"the source has no rows for {len(days)} archived days of {plan.table_name} "
                          f"({shown}); a whole-table overwrite would remove their folders from "
                          f"{plan.table_uri}; refusing (pass --allow_empty_source true to allow it)")


def describe(plan: Plan) -> str:
    if plan.scope == "day":
        return f"{plan.table_name} {plan.partition_key}={plan.partition_value}"
    return f"{plan.table_name} (whole table)"


def no_fault(point: str) -> None:
    """The test hook's production value. Tests pass `fault` to main()/unload() to make the run
    die at a named point: "written" (after the write, before the reconcile), "reconciled"
    (before the commit), "committed" (before the deletes), "deleting" (half of the deletes
    done), "deleted" (before the final manifest)."""


class Protocol:
    """One run's view of the folders it replaces: what was there at the start (relative to the
    table folder for whole-table runs, to the day folder for day runs) and what it added."""

    def __init__(self, store: Store, plan: Plan):
        self.store, self.plan = store, plan
        self.folder = io_location(plan.target_uri)
        self.table_folder = io_location(plan.table_uri)

    def list_at_start(self) -> dict[str, int]:
        """The listing taken at the start, after refusing a table folder that mixes flat files and
        day folders. A whole-table run with a key reads the root's files from its own recursive
        listing; the others list the table folder's root (one request, no recursion)."""
        plan = self.plan
        if plan.scope == "full" and plan.partition_key:
            everything = self.store.data_files(self.folder)
            problem = layout_problem(plan, [path for path in everything if "/" not in path], [])
        else:
            root_files, root_folders = self.store.root_entries(self.table_folder)
            problem = layout_problem(plan, list(root_files), root_folders)
            everything = None
        if problem:
            raise UnloadError(problem)
        return self.listing(everything)

    def listing(self, everything: dict[str, int] | None = None) -> dict[str, int]:
        """The data files this run may replace: the day folder (day run), every `<key>_key=`
        day folder (whole table with a key), or the files directly in the table folder (flat)."""
        plan = self.plan
        if plan.scope == "day":
            return self.store.data_files(self.folder)
        if plan.partition_key:
            if everything is None:
                everything = self.store.data_files(self.folder)
            return {path: size for path, size in everything.items() if day_of(plan, path)}
        files, _ = self.store.root_entries(self.folder)
        return {name: size for name, size in files.items() if not is_hidden(name)}

    def new_files(self, before: dict[str, int]) -> dict[str, int]:
        return {path: size for path, size in self.listing().items() if path not in before}


def unload(spark, plan: Plan, read, started_at: str, fault=no_fault) -> dict:
    """The overwrite protocol (docs/ARCHITECTURE.md): list, write beside, reconcile, commit the
    manifest, delete what was listed, rewrite the manifest complete. Returns the manifest."""
    store = Store(spark)
    run = Protocol(store, plan)
    target = run.folder
    manifest_location = target + MANIFEST_NAME
    log(f"{describe(plan)} -> {plan.target_uri} ({plan.file_format}, {plan.write_mode})")
    check_format_available(spark, plan.file_format)
    with stage(f"listing {plan.target_uri}"):
        before = run.list_at_start()
    log(f"listed: {len(before)} data files, {sum(before.values())} bytes this run may replace")
    with stage(f"counting the source rows of {describe(plan)}"):
        at_start = count_source_rows(read, plan)
    with stage(f"reading {describe(plan)}"):
        df = read(select_query(plan))
        columns = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    check_column_types(df, plan)
    written: dict[str, int] = {}
    try:
        per_file = rows_per_file(plan, [kind for _, kind in columns])
        with stage(f"unloading {describe(plan)} to {plan.target_uri}"):
            rows_read = write_data(df, plan, at_start, per_file)
        with stage(f"listing the new files in {plan.target_uri}"):
            written = run.new_files(before)
        log(f"source: {rows_read} rows read; count(*) at start {at_start}")
        fault("written")
        if rows_read == 0:
            remove_new_files(run, before, "the empty source wrote schema-only files")
            written = {}
            refuse_to_wipe(plan, before)
        with stage(f"reading back {plan.target_uri}"):
            rows = count_landed_rows(spark, plan, target, sorted(written))
        log(f"landed: {rows} rows in {len(written)} files, {sum(written.values())} bytes")
        if rows != rows_read:
            raise UnloadError(f"row count mismatch for {describe(plan)}: {rows_read} rows were read from "
                              f"the source but {rows} landed in {plan.target_uri}; the previous files "
                              "and manifest are kept")
        removed_days = vanished_days(plan, before, written)
        refuse_to_drop_days(plan, removed_days)
        fault("reconciled")
    except Exception:  # a handled failure (a killed driver cleans nothing: the next run does)
        remove_new_files(run, before, "the run failed before its commit")
        raise
    replaced = before if plan.write_mode == "overwrite" else {}
    warning = drift_warning(plan, at_start, rows_read)
    if warning:
        log(f"WARNING {warning}")
    details = dict(source_rows_at_start=at_start, replaced=replaced, removed_days=removed_days,
                   warnings=[warning] if warning else [])
    # The commit point: one PUT names the new version. A reader of the manifest never sees a
    # file that is gone; a reader of the folder sees old and new files until the deletes end.
    committed = build_manifest(plan, rows_read, rows, written, columns, started_at, None,
                               state="committed", **details)
    with stage("writing the manifest"):
        store.write_text(manifest_location, json.dumps(committed, indent=2) + "\n")
    fault("committed")
    with stage(f"deleting the {len(replaced)} replaced files in {plan.target_uri}"):
        if plan.scope == "full" and plan.partition_key and replaced:
            # Day manifests of earlier day runs name files that are going: they go first.
            store.delete_files(target, [f"{day}/{MANIFEST_NAME}" for day in
                                        sorted({day_of(plan, path) for path in replaced})])
        store.delete_files(target, sorted(replaced), halfway=lambda: fault("deleting"))
        for day in removed_days:
            store.delete(f"{target}{day}/", recursive=True)  # empty now (on S3 it is gone already)
    fault("deleted")
    manifest = build_manifest(plan, rows_read, rows, written, columns, started_at, utc_now(), **details)
    with stage("writing the manifest"):
        store.write_text(manifest_location, json.dumps(manifest, indent=2) + "\n")
    log(f"manifest: {plan.target_uri}{MANIFEST_NAME} ({rows} rows reconciled; {len(replaced)} files "
        f"replaced, {len(removed_days)} days removed)")
    return manifest


def remove_new_files(run: Protocol, before: dict[str, int], why: str) -> None:
    """Removes only this run's new files: whatever is in the folders it writes and was not listed
    at the start (one run per table at a time). Best effort: the next run's listing catches any
    file left."""
    try:
        new = run.new_files(before)
        if new:
            log(f"removing this run's {len(new)} new files: {why}")
            run.store.delete_files(run.folder, sorted(new))
    except Exception as err:  # the original failure matters more than the cleanup's
        log(f"could not remove this run's new files ({short_error(err)}); the next run will")


def glue_runtime() -> bool:
    return importlib.util.find_spec("awsglue") is not None


def open_session(plan: Plan):
    """(spark, glue_context or None, whether this run owns and must stop the session)."""
    if plan.source_kind == "redshift":
        if not glue_runtime():
            raise UnloadError("--source_kind redshift runs only on AWS Glue (no awsglue library here); "
                              "use --source_kind postgresql locally")
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
        glue_context = GlueContext(SparkContext.getOrCreate())
        return glue_context.spark_session, glue_context, False
    return local_spark_session(), None, True


def main(argv: list[str], spark=None, fault=no_fault) -> dict:
    """Runs one unload; `spark` lets tests share a session and `fault` is the test hook (see
    no_fault). Raises UnloadError on failure."""
    started_at = utc_now()
    plan = build_plan(parse_args(argv))
    glue_context, owned = None, False
    with stage("starting Spark"):
        if spark is None:
            spark, glue_context, owned = open_session(plan)
        elif plan.source_kind == "redshift":
            from awsglue.context import GlueContext
            glue_context = GlueContext(spark.sparkContext)
        # Day folders, dates and timestamps must not depend on where the job runs; no _SUCCESS
        # markers (the manifest is the completion marker, and the table root stays untouched).
        pin_time_zone(spark)
        spark._jsc.hadoopConfiguration().set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        # Parquet on Glue: the EMRFS S3-optimized committer writes each file to its final key at
        # task commit (no rename = no copy). Glue turns it on by default; the job asks for it too
        # (a no-op where the committer does not exist, as on local Spark). Docs/ARCHITECTURE.md.
        spark.conf.set("spark.sql.parquet.fs.optimized.committer.optimization-enabled", "true")
    try:
        return unload(spark, plan, make_reader(spark, plan, glue_context), started_at, fault)
    finally:
        remove_temp_dir(spark, plan)
        if owned:
            spark.stop()


def remove_temp_dir(spark, plan: Plan) -> None:
    """Removes this run's temp folder, on success and on failure alike. Best effort: a failure here
    is logged, never raised over the run's own outcome (the lifecycle rule the README gives for
    the temp prefix is the backstop)."""
    if plan.temp_dir is None:
        return
    try:
        Store(spark).delete(io_location(plan.temp_dir))
    except Exception as err:  # noqa: BLE001 (cleanup must not hide the run's result)
        log(f"warning: could not remove the temp folder {plan.temp_dir}: {short_error(err)}")


def _fail(err: UnloadError) -> None:
    if glue_runtime():
        raise err  # Glue reports the uncaught exception as the run's ErrorMessage
    print(f"UnloadError: {err}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except UnloadError as error:
        _fail(error)
    except Exception as error:  # a bug: keep the traceback for the log, end with the contract line
        traceback.print_exc()
        _fail(UnloadError(f"unexpected {type(error).__name__}: {short_error(error)}"))
