#!/usr/bin/env python3
"""redshift-data-local: an emulator of the Amazon Redshift Data API that runs the UNLOAD statements
this project generates against the local PostgreSQL (the warehouse stand-in) and writes the files
into s3-local's folder (object s3://<bucket>/<key> is the file <s3-root>/<bucket>/<key>).

    python local/redshift_data_local.py --bind 127.0.0.1:0 --s3-root DIR --dsn "<libpq dsn>"
                                        [--database NAME] [--slices 2]
    python local/redshift_data_local.py bench --dsn "<libpq dsn>" --s3-root DIR [--bucket B]

When ready it prints exactly one line, `redshift-data-local listening on http://127.0.0.1:<port>`,
logs one line per request and per statement to stderr, and stops on SIGTERM/SIGINT.

Protocol (AWS JSON 1.1, as the service model botocore/data/redshift-data/2019-12-20 says:
"protocol": "json", "jsonVersion": "1.1", "targetPrefix": "RedshiftData"): `POST /` with
`X-Amz-Target: RedshiftData.<Operation>`; SigV4 signatures are accepted unchecked. Errors answer
400 (client) or 500 (InternalServerException / ExecuteStatementException, which the model marks
"fault") with `x-amzn-ErrorType: <Name>` and `{"__type", "message", "Message", ...}` (both
spellings of the message: botocore reads `message`, the model's members are `Message`;
ResourceNotFoundException also carries its required `ResourceId`). Timestamps are epoch seconds.

Operations
- ExecuteStatement: validated as the Data API does (ValidationException): Sql; Database (this
  emulator needs it: no sessions); exactly one of ClusterIdentifier / WorkgroupName (their model
  patterns); with a cluster, SecretArn or DbUser or neither (IAM identity), never both; no DbUser with
  a workgroup; SecretArn an `arn:aws:secretsmanager:` ARN; ClientToken 1-64 characters. Parameters
  and SessionId are refused (not implemented). WaitTimeSeconds is honoured.
  ClientToken (model: "idempotencyToken": true, "A unique, case-sensitive identifier that you
  provide to ensure the idempotency of the request"; boto3 and the Rust SDK fill one in when the
  caller gives none): the same token with the same request returns the first statement's Id and runs
  nothing; the same token with a different request is refused with ValidationException — the Data
  API documents nothing for that case, so this follows the common AWS rule ("If you retry a
  successful request using the same client token, but one or more of the parameters are different,
  the retry fails"). Tokens never expire here (AWS keeps them for a limited time).
  A Database other than the served one (--database, default the dsn's dbname) is accepted and the
  statement FAILS with `FATAL: database "x" does not exist`.
- DescribeStatement {Id}: the DescribeStatementResponse members; Duration in nanoseconds, -1 until
  the statement ends; ResultRows = rows unloaded (-1 until FINISHED), ResultSize 0 (UNLOAD has no
  result set, HasResultSet false). Unknown Id: ResourceNotFoundException.
- CancelStatement {Id}: {"Status": true}; a running statement ends ABORTED (its PostgreSQL query is
  cancelled; files already written stay, cleaning them up is the caller's job). A statement that
  already ended: ValidationException "Could not cancel a query that is already in <STATUS> state
  with ID: <id>" (the Data API's wording as reported in aws/aws-sdk-js-v3#3056).
- Any other target: UnknownOperationException (400).

Statements: only this form (keywords case-insensitive, '' escapes in literals, optional final ;):

    UNLOAD ('<one SELECT>') TO 's3://<bucket>/<prefix>' IAM_ROLE 'arn:aws:iam::<12 digits>:role/<name>'
        [FORMAT [AS]] PARQUET | CSV | JSON  [MAXFILESIZE [AS] n [MB | GB]]  [MANIFEST [VERBOSE]]

Two kinds of refusal (the rule: what Redshift itself would run but this emulator does not
implement is refused loudly at ExecuteStatement; what Redshift refuses FAILS at run time, because
on AWS ExecuteStatement accepts any SQL text and the error shows in DescribeStatement):
- ValidationException at ExecuteStatement: any statement other than UNLOAD; the options PARTITION
  BY, ALLOWOVERWRITE, CLEANPATH, HEADER, DELIMITER, FIXEDWIDTH, ENCRYPTED, BZIP2, GZIP, ZSTD,
  ADDQUOTES, NULL AS, ESCAPE, PARALLEL, ROWGROUPSIZE, REGION, EXTENSION, CREDENTIALS, IAM_ROLE
  default, role chaining; the default pipe-delimited text format (no FORMAT); a query starting
  with WITH.
- FAILED at run time (Redshift-style `ERROR: ...`): syntax errors (e.g. FORMAT AS ORC, VERBOSE
  without MANIFEST, repeated options), a second statement, a query that is not a SELECT or holds
  a `;`, a LIMIT in the outer SELECT (r_UNLOAD.md "Limit clause"), a malformed IAM role ARN,
  MAXFILESIZE outside 5 MB-6.2 GB, a missing bucket, a non-empty destination (no ALLOWOVERWRITE:
  "UNLOAD fails if it finds files that it would possibly overwrite"), SQL errors from PostgreSQL
  (`ERROR: relation "x.y" does not exist`), a column type UNLOAD cannot write here.
  The exact Redshift wording of several of these is not documented; the messages say so in code.

Files (r_UNLOAD.md, r_UNLOAD_command_examples.md, awsdocs/amazon-redshift-developer-guide 7fb3604):
- `<prefix><slice:04>_part_<part:02>`, `.parquet` appended for Parquet (partitioned Parquet
  example: `0000_part_00.parquet`); CSV and JSON get no extension. --slices slices get contiguous
  chunks of the result rows. Data files are written to a hidden temporary name in the same folder
  and renamed into place (no half file is ever served); the manifest `<prefix>manifest` is last.
- Parquet (version 1.0, SNAPPY per row group, r_UNLOAD.md "FORMAT AS PARQUET clause"): smallint
  int16, integer int32, bigint int64, numeric(p,s) decimal128(p,s), real float32, double float64,
  boolean bool, char/varchar/text string, date date32, timestamp timestamp[us], timestamptz
  timestamp[us] holding the UTC instant ("only the timestamp values are unloaded"). Other types
  (time, interval, bytea, json, unconstrained numeric, ...) FAIL naming the column. A slice with no
  rows writes no Parquet file. Row groups aim at 32 MB and MAXFILESIZE is rounded down to a multiple
  of 32 MB (at least one row group), as the doc says; sizes are estimated on the UNCOMPRESSED Arrow
  data, so files come out smaller than MAXFILESIZE (Redshift: "approximated").
- CSV: PostgreSQL's CSV COPY output: comma, fields with delimiter/quote/CR/LF quoted, quotes
  doubled, NULL a zero-length field (r_UNLOAD.md NULL AS: "Zero-length strings for delimited
  output"), no header. Differs from Redshift in that an empty string is written `""`. Every slice
  writes a file, an empty one when it has no rows ("When zero rows are unloaded, Amazon Redshift
  might write empty Amazon S3 objects" - harsh reading).
- JSON: one object per line, column names as keys; NULL `null`, numbers bare (numeric keeps its
  scale: 728.00), booleans "t"/"f" (r_UNLOAD.md: "boolean values are unloaded as t or f" - written as
  JSON strings to keep the line valid JSON), date/timestamp as PostgreSQL text ("1998-07-21",
  "1998-07-21 10:00:00", timestamptz "... +00"). Duplicate column names FAIL ("the name of each
  column in the query must be unique"). Zero rows write no object ("When zero rows are unloaded,
  Amazon Redshift does not write Amazon S3 objects"); a slice with no rows writes none either.
- CSV/JSON parts split at row boundaries so that a part stays within MAXFILESIZE (default 6.2 GB).
- Manifest: plain MANIFEST: {"entries": [{"url", "meta": {"content_length"}}]} (the UNLOAD manifest
  in loading-data-files-using-manifest.md carries meta.content_length). VERBOSE adds per-entry
  record_count, "schema" {"elements": [{"name", "type": {"base", "length" | "precision","scale"}}]},
  totals in "meta" and "author" {"name": "Amazon Redshift", "version": "1.0.0"} (the guide's example
  writes `{ "base": "character varying", 25 }`, which is not JSON; here the 25 is `"length": 25`).
  Written when the unload produced no file too (empty entries).

Test hooks (not AWS; under /_emulator/):
- GET  /_emulator/stats  -> {"execute_calls": n, "statements_executed": m,
                             "statements": [{"id", "client_token", "sql", "status"}, ...]}
  execute_calls counts every ExecuteStatement request (throttled and refused ones included);
  statements_executed counts statements a worker ran.
- POST /_emulator/faults with a JSON object arms faults for the next statement(s):
  {"fail": "<text>"}            the next statement ends FAILED with Error <text>, writing nothing;
  {"fail_after_files": "<text>"} the next statement writes its data files, no manifest, then FAILED;
  {"delay_seconds": x}           the next statement stays STARTED x seconds before it runs;
  {"throttle": k}                the next k ExecuteStatement calls answer 400 ThrottlingException
                                 (the AWS common error for request throttling; the SDKs retry it);
  {"active_statements_exceeded": k} the next k ExecuteStatement calls answer 400
                                 ActiveStatementsExceededException (modelled Data API error).
  "fail", "fail_after_files" and "delay_seconds" each apply to one statement.
- POST /_emulator/reset clears faults and stats (statements stay describable).

Events: with --events-endpoint, a statement run with WithEvent true sends, when it ends (FINISHED,
FAILED, ABORTED), the "Redshift Data Statement Status Change" event in the shape of the Redshift
management guide's "Monitoring events for the Amazon Redshift Data API in Amazon EventBridge"
(detail: principal, statementName, statementId, redshiftQueryId, state, rows, expireAt) to that
endpoint (local/events_local.py, the local EventBridge bus). Without WithEvent, no event.

Python API: serve(...) -> (server, state); measure(dsn, s3_root, bucket) -> dict (the bench: raw
COPY read rate of demo_master.orders against a whole-table Parquet unload through the same code
the server runs).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import pq as libpq

MB = 1024 * 1024
GB = 1024 * MB
MIN_FILE_SIZE = 5 * MB                  # r_UNLOAD.md MAXFILESIZE: "between 5 MB and 6.2 GB"
MAX_FILE_SIZE = int(6.2 * GB)           # ... "the default maximum file size is 6.2 GB"
ROW_GROUP_BYTES = 32 * MB               # r_UNLOAD.md: "equally sized 32-MB row groups"
PARSE_CHUNK_BYTES = 8 * MB              # COPY output parsed by pyarrow in chunks of this size
TMP_MARK = ".redshift-data-local-tmp-"
EVENT_ACCOUNT, EVENT_REGION = "123456789012", "us-east-1"  # the local stack's account and Region

SUPPORTED_FORM = ("redshift-data-local implements only UNLOAD ('<SELECT ...>') TO 's3://bucket/prefix' "
                  "IAM_ROLE '<role arn>' [FORMAT [AS]] PARQUET|CSV|JSON [MAXFILESIZE n [MB|GB]] "
                  "[MANIFEST [VERBOSE]]")
# Options Redshift has and this emulator does not implement (r_UNLOAD.md Syntax): refused loudly.
UNIMPLEMENTED_OPTIONS = {
    "PARTITION": "PARTITION BY", "HEADER": "HEADER", "DELIMITER": "DELIMITER", "FIXEDWIDTH": "FIXEDWIDTH",
    "ENCRYPTED": "ENCRYPTED", "BZIP2": "BZIP2", "GZIP": "GZIP", "ZSTD": "ZSTD", "ADDQUOTES": "ADDQUOTES",
    "NULL": "NULL AS", "ESCAPE": "ESCAPE", "ALLOWOVERWRITE": "ALLOWOVERWRITE", "CLEANPATH": "CLEANPATH",
    "PARALLEL": "PARALLEL", "ROWGROUPSIZE": "ROWGROUPSIZE", "REGION": "REGION", "EXTENSION": "EXTENSION",
    "CREDENTIALS": "CREDENTIALS", "ACCESS_KEY_ID": "ACCESS_KEY_ID", "SECRET_ACCESS_KEY": "SECRET_ACCESS_KEY",
    "SESSION_TOKEN": "SESSION_TOKEN", "KMS_KEY_ID": "KMS_KEY_ID", "MASTER_SYMMETRIC_KEY": "MASTER_SYMMETRIC_KEY",
    "WITH": "WITH CREDENTIALS",
}
IAM_ROLE_RE = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
SECRET_ARN_RE = re.compile(r"arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")
CLUSTER_RE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")          # ClusterIdentifierString, 1-63
WORKGROUP_RE = re.compile(r"([a-z0-9-]{3,63}|arn:(aws(-[a-z]+)*):redshift-serverless:[a-z0-9-]+:\d{12}:"
                          r"workgroup/[a-z0-9-]{1,63}(/[a-z0-9-]{1,63})?)")


class ApiError(Exception):
    """An error answer of the Data API."""

    def __init__(self, name: str, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.name, self.message, self.status, self.extra = name, message, status, extra


class RedshiftError(Exception):
    """What Redshift reports in DescribeStatement.Error for a FAILED statement."""


class Cancelled(Exception):
    pass


# --- the UNLOAD statement -----------------------------------------------------------------------

@dataclass
class Unload:
    query: str
    to: str
    iam_role: str
    format: str | None = None
    maxfilesize: int = MAX_FILE_SIZE
    manifest: bool = False
    verbose: bool = False
    deferred_error: str | None = None   # a Redshift refusal: the statement FAILS with it at run time


_TOKEN_RE = re.compile(r"""\s+|(?P<str>'(?:[^']|'')*')|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)|(?P<num>\d+(?:\.\d*)?|\.\d+)"""
                       r"""|(?P<qid>"(?:[^"]|"")*")|(?P<punct>[();,])|(?P<op>[-*=<>!.+/%|&^~:@#?\[\]{}]+)""")


def tokenize(text: str) -> list[tuple[str, str]]:
    """[(kind, text)]: str (unquoted value), word (upper-cased), num, qid, punct, op; ('bad', rest) at
    the first character it does not know; an unterminated literal is 'bad' too."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            tokens.append(("bad", text[pos:pos + 20]))
            break
        pos = m.end()
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "word":
            value = value.upper()
        tokens.append((kind, value))
    return tokens


def _syntax_error(token) -> str:
    # PostgreSQL's (and Redshift's) parser wording.
    return "ERROR: syntax error at end of input" if token is None else f'ERROR: syntax error at or near "{token[1]}"'


def parse_unload(sql: str) -> Unload:
    """Parses the one statement form; raises ApiError(ValidationException) for what the emulator does
    not implement; a Redshift refusal comes back as Unload.deferred_error (FAILED at run time)."""
    tokens = tokenize(sql)
    first = tokens[0] if tokens else None
    if first is None or first[0] != "word" or first[1] != "UNLOAD":
        what = f"{first[1]} statements are" if first and first[0] == "word" else "this statement is"
        raise ApiError("ValidationException", f"{SUPPORTED_FORM}; {what} not implemented")
    pos = [1]

    def peek(offset=0):
        i = pos[0] + offset
        return tokens[i] if i < len(tokens) else None

    def take():
        t = peek()
        pos[0] += 1
        return t

    def is_word(t, *words):
        return t is not None and t[0] == "word" and t[1] in words

    def defer(message: str) -> Unload:
        return Unload(query="", to="", iam_role="", deferred_error=message)

    if not (peek() and peek()[1] == "(" and peek()[0] == "punct"):
        return defer(_syntax_error(peek()))
    take()
    t = take()
    if t is None or t[0] != "str":
        return defer(_syntax_error(t))
    query = t[1]
    t = take()
    if not (t and t == ("punct", ")")):
        return defer(_syntax_error(t))
    t = take()
    if not is_word(t, "TO"):
        return defer(_syntax_error(t))
    t = take()
    if t is None or t[0] != "str":
        return defer(_syntax_error(t))
    plan = Unload(query=query, to=t[1], iam_role="")
    seen: set[str] = set()
    while True:
        t = take()
        if t is None:
            break
        if t == ("punct", ";"):
            if peek() is not None:
                # Several statements in one ExecuteStatement: the Data API runs SQL as one prepared
                # statement; PostgreSQL's (libpq extended protocol) wording, Redshift's not verified.
                return defer("ERROR: cannot insert multiple commands into a prepared statement")
            break
        if t[0] == "bad":
            return defer(_syntax_error(t))
        if t[0] != "word":
            return defer(_syntax_error(t))
        word = t[1]
        if word in UNIMPLEMENTED_OPTIONS:
            raise ApiError("ValidationException",
                           f"{SUPPORTED_FORM}; {UNIMPLEMENTED_OPTIONS[word]} is not implemented")
        key = {"PARQUET": "FORMAT", "CSV": "FORMAT", "JSON": "FORMAT"}.get(word, word)
        if key in seen:
            # Redshift rejects a repeated option; its exact wording is not documented.
            return defer(f'ERROR: conflicting or redundant options near "{word}"')
        seen.add(key)
        if word == "IAM_ROLE":
            t = take()
            if is_word(t, "DEFAULT"):
                raise ApiError("ValidationException", f"{SUPPORTED_FORM}; IAM_ROLE default is not implemented")
            if t is None or t[0] != "str":
                return defer(_syntax_error(t))
            if "," in t[1]:
                raise ApiError("ValidationException", f"{SUPPORTED_FORM}; IAM role chaining is not implemented")
            plan.iam_role = t[1]
        elif word in ("FORMAT", "PARQUET", "CSV", "JSON"):
            if word == "FORMAT":
                if is_word(peek(), "AS"):
                    take()
                t = take()
                if not is_word(t, "PARQUET", "CSV", "JSON"):
                    return defer(_syntax_error(t))     # e.g. FORMAT AS ORC: Redshift has no such UNLOAD format
                word = t[1]
            plan.format = word
        elif word == "MAXFILESIZE":
            if is_word(peek(), "AS"):
                take()
            t = take()
            if t is None or t[0] != "num":
                return defer(_syntax_error(t))
            unit = MB
            if is_word(peek(), "MB", "GB"):
                unit = MB if take()[1] == "MB" else GB
            size = float(t[1]) * unit
            if not MIN_FILE_SIZE <= size <= 6.2 * GB:
                # The documented range (r_UNLOAD.md); Redshift's exact wording is not documented.
                return defer(f"ERROR: MAXFILESIZE {t[1]} {'GB' if unit == GB else 'MB'} is out of range: "
                             "specify a value between 5 MB and 6.2 GB")
            plan.maxfilesize = int(size)
        elif word == "MANIFEST":
            plan.manifest = True
            if is_word(peek(), "VERBOSE"):
                take()
                plan.verbose = True
        else:
            return defer(_syntax_error(t))   # VERBOSE alone, ORC, TO twice, unknown words
    if "IAM_ROLE" not in seen:
        # UNLOAD needs an authorization clause (r_UNLOAD.md Syntax); wording not verified.
        return defer("ERROR: UNLOAD requires an authorization: IAM_ROLE or CREDENTIALS")
    if plan.format is None:
        raise ApiError("ValidationException",
                       f"{SUPPORTED_FORM}; the default pipe-delimited text format is not implemented")
    refusal = check_query(plan.query)
    if refusal:
        plan.deferred_error = refusal
    return plan


def check_query(query: str) -> str | None:
    """None when the query is one SELECT without an outer LIMIT; else Redshift's refusal.
    Raises ValidationException for WITH (Redshift runs it; not implemented here)."""
    tokens = tokenize(query)
    if not tokens:
        return "ERROR: syntax error at end of input"
    if tokens[0] == ("word", "WITH"):
        raise ApiError("ValidationException", f"{SUPPORTED_FORM}; a query starting with WITH is not implemented")
    if tokens[0] != ("word", "SELECT"):
        # UNLOAD takes a select-statement (r_UNLOAD.md); Redshift's exact wording is not documented.
        return f'ERROR: UNLOAD supports only a SELECT query, not "{tokens[0][1]}"'
    depth = 0
    for kind, value in tokens:
        if kind == "bad":
            return _syntax_error((kind, value))
        if kind == "punct":
            depth += {"(": 1, ")": -1}.get(value, 0)
            if value == ";":
                return "ERROR: cannot insert multiple commands into a prepared statement"
        elif kind == "word" and value == "LIMIT" and depth == 0:
            # r_UNLOAD.md "Limit clause": "The SELECT query can't use a LIMIT clause in the outer SELECT".
            return "ERROR: Limit clause is not supported."
    return None


# --- columns and types --------------------------------------------------------------------------

@dataclass
class Column:
    name: str
    oid: int
    typmod: int
    base: str = ""                 # the manifest's base type (Redshift spelling)
    arrow: pa.DataType | None = None
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    def manifest_type(self) -> dict:
        out: dict = {"base": self.base}
        if self.length is not None:
            out["length"] = self.length
        if self.precision is not None:
            out["precision"], out["scale"] = self.precision, self.scale
        return out


OIDS = {21: ("smallint", pa.int16()), 23: ("integer", pa.int32()), 20: ("bigint", pa.int64()),
        700: ("real", pa.float32()), 701: ("double precision", pa.float64()), 16: ("boolean", pa.bool_()),
        1042: ("character", pa.string()), 1043: ("character varying", pa.string()),
        25: ("character varying", pa.string()), 1082: ("date", pa.date32()),
        1114: ("timestamp without time zone", pa.timestamp("us")),
        1184: ("timestamp with time zone", pa.timestamp("us")), 1700: ("numeric", None)}
PG_TYPE_NAMES = {1083: "time without time zone", 1266: "time with time zone", 1186: "interval", 17: "bytea",
                 114: "json", 3802: "jsonb", 2950: "uuid", 19: "name", 26: "oid", 18: "\"char\""}


def describe(conn: psycopg.Connection, query: str) -> list[Column]:
    """The result columns of `query` (PostgreSQL's Describe of an unnamed prepared statement)."""
    pgconn = conn.pgconn
    res = pgconn.prepare(b"", query.encode())
    _raise_pg(res)
    res = pgconn.describe_prepared(b"")
    _raise_pg(res)
    columns = []
    for i in range(res.nfields):
        col = Column(res.fname(i).decode(), res.ftype(i), res.fmod(i))
        if col.oid not in OIDS:
            name = PG_TYPE_NAMES.get(col.oid) or _type_name(conn, col.oid)
            raise RedshiftError(f'ERROR: column "{col.name}" has type {name}, which UNLOAD cannot write '
                                "(redshift-data-local unloads smallint, integer, bigint, numeric(p,s), real, "
                                "double precision, boolean, char, varchar, date, timestamp, timestamptz)")
        col.base, col.arrow = OIDS[col.oid]
        if col.oid == 1700:
            if col.typmod < 4:
                # Redshift numerics always carry precision and scale; PostgreSQL's unconstrained
                # numeric has neither, so there is no Parquet decimal to write.
                raise RedshiftError(f'ERROR: column "{col.name}" is numeric without precision and scale; '
                                    "cast it, e.g. ::numeric(38,10) (redshift-data-local)")
            t = col.typmod - 4
            col.precision, col.scale = (t >> 16) & 0xFFFF, t & 0xFFFF
            if col.precision > 38:
                raise RedshiftError(f'ERROR: column "{col.name}": numeric precision {col.precision} exceeds '
                                    "the maximum of 38")
            col.arrow = pa.decimal128(col.precision, col.scale)
        elif col.oid in (1042, 1043):
            col.length = col.typmod - 4 if col.typmod >= 4 else (1 if col.oid == 1042 else 256)
        elif col.oid == 25:
            col.length = 256   # Redshift stores TEXT as VARCHAR(256) (r_Character_types.md)
        columns.append(col)
    return columns


def _type_name(conn, oid: int) -> str:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT format_type(%s, NULL)", (oid,))
            return cur.fetchone()[0]
    except psycopg.Error:
        return f"oid {oid}"


def _raise_pg(res) -> None:
    if res.status in (libpq.ExecStatus.FATAL_ERROR, libpq.ExecStatus.BAD_RESPONSE,
                      libpq.ExecStatus.NONFATAL_ERROR):
        primary = res.error_field(libpq.DiagnosticField.MESSAGE_PRIMARY)
        text = primary.decode(errors="replace") if primary else res.error_message.decode(errors="replace").strip()
        raise RedshiftError(f"ERROR: {text}")


def _pg_error(err: psycopg.Error) -> RedshiftError:
    primary = getattr(err.diag, "message_primary", None) or str(err).strip().splitlines()[0]
    return RedshiftError(f"ERROR: {primary}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- the unload itself --------------------------------------------------------------------------

@dataclass
class Written:
    url: str
    path: Path
    size: int
    rows: int


class Job:
    """Context an unload runs in: cancellation, the PostgreSQL connection (for cancel)."""

    def __init__(self):
        self.cancel_event = threading.Event()
        self.conn: psycopg.Connection | None = None

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()


def split_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        # Redshift requires an s3:// path for UNLOAD TO; wording not verified.
        raise RedshiftError(f"ERROR: invalid Amazon S3 path for UNLOAD: '{url}' (expected s3://bucket/prefix)")
    bucket, _, key = url[len("s3://"):].partition("/")
    if not bucket:
        raise RedshiftError(f"ERROR: invalid Amazon S3 path for UNLOAD: '{url}' (no bucket)")
    return bucket, key


def destination_objects(bucket_dir: Path, key_prefix: str) -> list[str]:
    """Keys that already exist under key_prefix (what UNLOAD would possibly overwrite)."""
    folder_key, _, name_prefix = key_prefix.rpartition("/")
    folder = bucket_dir / folder_key if folder_key else bucket_dir
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if not entry.name.startswith(name_prefix):
            continue
        if entry.is_file():
            found.append(str(entry.relative_to(bucket_dir)))
        elif entry.is_dir():
            found += [str(p.relative_to(bucket_dir)) for p in entry.rglob("*") if p.is_file()]
        if found:
            break
    return found


def _write_file(path: Path, write) -> int:
    """Writes through `write(tmp_path)` to a hidden temporary name in the same folder, then renames."""
    tmp = path.with_name(f"{TMP_MARK}{uuid.uuid4().hex}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path.stat().st_size


def _slice_bounds(total: int, slices: int) -> list[tuple[int, int]]:
    # contiguous chunks, the earlier slices one row larger when the rows do not divide evenly
    return [(-(-total * s // slices), -(-total * (s + 1) // slices)) for s in range(slices)]


def _copy_rows(conn: psycopg.Connection, sql: str, options: str):
    """Yields the rows of COPY (sql) TO STDOUT (libpq: "Data is always returned one data row at a time")."""
    with conn.cursor() as cur:
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
            yield from copy


def _read_arrow(job: Job, conn, sql: str, columns: list[Column], pool) -> pa.Table:
    """COPY (sql) TO STDOUT as CSV into a bytearray (no per-row Python objects), parsed by pyarrow.csv
    in chunks on `pool` while the reading goes on."""
    names = [f"c{i}" for i in range(len(columns))]
    convert = pacsv.ConvertOptions(
        column_types={n: c.arrow for n, c in zip(names, columns)}, null_values=[""], strings_can_be_null=True,
        quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"])
    read = pacsv.ReadOptions(column_names=names, use_threads=True, block_size=4 * MB)

    def to_table(chunk: bytearray, rows: int) -> pa.Table:
        # A quoted newline inside a value makes more newlines than rows; only then does the
        # (slower) newlines_in_values parser run.
        parse = pacsv.ParseOptions(newlines_in_values=chunk.count(b"\n") != rows)
        return pacsv.read_csv(pa.BufferReader(pa.py_buffer(chunk)), read_options=read, parse_options=parse,
                              convert_options=convert)

    futures = []
    buf, rows = bytearray(), 0
    try:
        for data in _copy_rows(conn, sql, "FORMAT csv"):
            buf += data
            rows += 1
            if len(buf) >= PARSE_CHUNK_BYTES:
                futures.append(pool.submit(to_table, buf, rows))
                buf, rows = bytearray(), 0
                job.check()
    except psycopg.errors.QueryCanceled:
        raise Cancelled() from None
    job.check()
    if rows:
        futures.append(pool.submit(to_table, buf, rows))
    tables = [f.result() for f in futures]
    schema = pa.schema([pa.field(n, c.arrow) for n, c in zip(names, columns)])
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return pa.Table.from_arrays(table.columns, names=[c.name for c in columns])


def _read_rows(job: Job, conn, sql: str, options: str) -> tuple[bytearray, array]:
    """The COPY output in one bytearray and the end offset of each row in it."""
    buf, ends = bytearray(), array("q")
    try:
        for data in _copy_rows(conn, sql, options):
            buf += data
            ends.append(len(buf))
    except psycopg.errors.QueryCanceled:
        raise Cancelled() from None
    job.check()
    return buf, ends


def _cast_for_json(col: Column) -> str:
    ref = f"rsdl_q.{_q(col.name)}"
    if col.oid == 16:
        return f"CASE WHEN {ref} THEN 't' WHEN NOT {ref} THEN 'f' END AS {_q(col.name)}"
    if col.oid in (1082, 1114, 1184):
        return f"{ref}::text AS {_q(col.name)}"
    return ref


def run_unload(plan: Unload, conn: psycopg.Connection, s3_root: Path, slices: int, job: Job,
               after_files=None) -> tuple[int, list[Written]]:
    """Runs the UNLOAD: (rows, files). Raises RedshiftError (FAILED) or Cancelled (ABORTED).
    `after_files` (the fail_after_files fault) is called between the data files and the manifest."""
    if plan.deferred_error:
        raise RedshiftError(plan.deferred_error)
    if not IAM_ROLE_RE.fullmatch(plan.iam_role):
        # Redshift's message for a malformed authorization (wording as Redshift reports it for
        # credentials strings; not documented in the guide).
        raise RedshiftError("ERROR: Invalid credentials. Must be of the format: credentials "
                            "'aws_iam_role=...' or 'aws_access_key_id=...;aws_secret_access_key=...[;token=...]'")
    bucket, key_prefix = split_s3(plan.to)
    bucket_dir = Path(s3_root) / bucket
    if not bucket_dir.is_dir():
        # S3's NoSuchBucket as Redshift relays S3 errors (S3ServiceException:...); exact text not verified.
        raise RedshiftError(f"ERROR: S3ServiceException:The specified bucket does not exist,Status 404,"
                            f"Error NoSuchBucket,Bucket {bucket}")
    columns = describe(conn, plan.query)
    if plan.format == "JSON":
        names = [c.name for c in columns]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise RedshiftError(f'ERROR: column name "{dups[0]}" is duplicated: JSON UNLOAD needs unique column names')
    existing = destination_objects(bucket_dir, key_prefix)
    if existing:
        # Redshift's message for a non-empty destination without ALLOWOVERWRITE.
        raise RedshiftError("ERROR: Specified unload destination on S3 is not empty. Consider using a different "
                            "bucket / prefix, manually removing the target files in S3, or using the "
                            "ALLOWOVERWRITE option.")
    job.check()
    url_prefix = f"s3://{bucket}/{key_prefix}"
    path_prefix = str(bucket_dir / key_prefix) if key_prefix else str(bucket_dir) + "/"
    (bucket_dir / key_prefix).parent.mkdir(parents=True, exist_ok=True)

    def target(slice_no: int, part: int, ext: str = "") -> tuple[str, Path]:
        name = f"{slice_no:04d}_part_{part:02d}{ext}"
        return url_prefix + name, Path(path_prefix + name)

    written: list[Written] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        if plan.format == "PARQUET":
            sql = plan.query
            if any(c.oid == 1184 for c in columns):
                # timestamptz: the UTC instant without its zone (r_UNLOAD.md: only the timestamp values).
                sql = "SELECT " + ", ".join(
                    f"(rsdl_q.{_q(c.name)} AT TIME ZONE 'UTC') AS {_q(c.name)}" if c.oid == 1184
                    else f"rsdl_q.{_q(c.name)}" for c in columns) + f" FROM ({plan.query}) AS rsdl_q"
            table = _read_arrow(job, conn, sql, columns, pool)
            total = table.num_rows
            bytes_per_row = max(1, table.nbytes // total) if total else 1
            rows_per_group = max(1, ROW_GROUP_BYTES // bytes_per_row)
            groups_per_file = max(1, plan.maxfilesize // ROW_GROUP_BYTES)   # rounded down to 32 MB, >= 1 group
            rows_per_file = rows_per_group * groups_per_file
            tasks = []
            for s, (a, b) in enumerate(_slice_bounds(total, slices)):
                for part, start in enumerate(range(a, b, rows_per_file)):
                    piece = table.slice(start, min(rows_per_file, b - start))
                    url, path = target(s, part, ".parquet")
                    tasks.append((url, path, piece))

            def write_parquet(task):
                url, path, piece = task
                job.check()
                size = _write_file(path, lambda tmp: pq.write_table(
                    piece, tmp, compression="snappy", version="1.0", row_group_size=rows_per_group))
                return Written(url, path, size, piece.num_rows)

            written = list(pool.map(write_parquet, tasks))
        else:
            if plan.format == "CSV":
                buf, ends = _read_rows(job, conn, plan.query, "FORMAT csv")
                fix = None
            else:
                sql = ("SELECT row_to_json(rsdl_row) FROM (SELECT " + ", ".join(_cast_for_json(c) for c in columns)
                       + f" FROM ({plan.query}) AS rsdl_q) AS rsdl_row")
                buf, ends = _read_rows(job, conn, sql, "FORMAT text")
                # COPY text format escapes backslash as \\ ; JSON text has no raw control characters
                # (json escapes them), so undoing \\ is the whole unescaping.
                fix = lambda data: data.replace(b"\\\\", b"\\")  # noqa: E731
            total = len(ends)
            view = memoryview(buf)
            for s, (a, b) in enumerate(_slice_bounds(total, slices)):
                if a == b and plan.format == "JSON":
                    continue      # JSON: "When zero rows are unloaded, Amazon Redshift does not write Amazon S3 objects"
                part, start = 0, a
                while True:
                    base = ends[start - 1] if start else 0
                    # the largest stop with bytes of rows[start:stop] <= maxfilesize, at least one row
                    stop = min(b, max(start + 1, bisect_right(ends, base + plan.maxfilesize, start, b)))
                    job.check()
                    data = view[base:ends[stop - 1]] if stop > start else b""
                    if fix:
                        data = fix(bytes(data))
                    url, path = target(s, part)
                    size = _write_file(path, lambda tmp: tmp.write_bytes(data))
                    written.append(Written(url, path, size, stop - start))
                    if stop >= b:
                        break
                    start, part = stop, part + 1
            view.release()
    job.check()
    if after_files:
        after_files()
    if plan.manifest:
        write_manifest(Path(path_prefix + "manifest"), written, columns, plan.verbose)
    return sum(w.rows for w in written), written


def write_manifest(path: Path, written: list[Written], columns: list[Column], verbose: bool) -> None:
    if verbose:
        entries = [{"url": w.url, "meta": {"content_length": w.size, "record_count": w.rows}} for w in written]
        doc = {"entries": entries,
               "schema": {"elements": [{"name": c.name, "type": c.manifest_type()} for c in columns]},
               "meta": {"content_length": sum(w.size for w in written),
                        "record_count": sum(w.rows for w in written)},
               "author": {"name": "Amazon Redshift", "version": "1.0.0"}}
    else:
        doc = {"entries": [{"url": w.url, "meta": {"content_length": w.size}} for w in written]}
    body = (json.dumps(doc, indent=2) + "\n").encode()
    _write_file(path, lambda tmp: tmp.write_bytes(body))


def connect(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    conn.execute("SET extra_float_digits = 1")   # shortest exact float text
    return conn


# --- the Data API -------------------------------------------------------------------------------

@dataclass
class Statement:
    id: str
    sql: str
    request: dict
    client_token: str | None
    created_at: float
    plan: Unload
    status: str = "SUBMITTED"
    updated_at: float = 0.0
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    rows: int = -1
    pid: int | None = None
    query_id: int = 0
    job: Job = field(default_factory=Job)
    done: threading.Event = field(default_factory=threading.Event)
    faults: dict = field(default_factory=dict)

    def describe(self) -> dict:
        out = {"Id": self.id, "Status": self.status, "CreatedAt": self.created_at, "UpdatedAt": self.updated_at,
               "Duration": int((self.ended - self.started) * 1e9) if self.ended and self.started else -1,
               "QueryString": self.sql, "HasResultSet": False, "ResultRows": self.rows,
               "ResultSize": 0 if self.status == "FINISHED" else -1, "RedshiftQueryId": self.query_id,
               "Database": self.request["Database"]}
        if self.error is not None:
            out["Error"] = self.error
        if self.pid is not None:
            out["RedshiftPid"] = self.pid
        for key in ("ClusterIdentifier", "WorkgroupName", "DbUser", "SecretArn"):
            if self.request.get(key) is not None:
                out[key] = self.request[key]
        return out


class State:
    def __init__(self, dsn: str, s3_root: Path, database: str, slices: int, log=None,
                 events_endpoint: str | None = None):
        self.dsn, self.s3_root, self.database, self.slices = dsn, Path(s3_root), database, slices
        self.events_endpoint = events_endpoint
        self.lock = threading.Lock()
        self.statements: dict[str, Statement] = {}
        self.tokens: dict[str, str] = {}
        self.execute_calls = 0
        self.executed = 0
        self.query_ids = itertools.count(1000)
        self.faults: dict = {}
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    # -- operations
    def execute_statement(self, body: dict) -> dict:
        with self.lock:
            self.execute_calls += 1
            for name, error in (("throttle", "ThrottlingException"),
                                ("active_statements_exceeded", "ActiveStatementsExceededException")):
                if self.faults.get(name, 0) > 0:
                    self.faults[name] -= 1
                    raise ApiError(error, "Rate exceeded" if name == "throttle"
                                   else "Active statements exceeded the allowed quota (redshift-data-local fault)")
        request = validate_execute(body)
        token = body.get("ClientToken")
        with self.lock:
            if token is not None and token in self.tokens:
                first = self.statements[self.tokens[token]]
                if first.request != request:
                    raise ApiError("ValidationException",
                                   f"ClientToken {token} was already used for a different request")
                return self._execute_answer(first)
        plan = parse_unload(request["Sql"])      # ValidationException for what is not implemented
        now = time.time()
        stmt = Statement(id=str(uuid.uuid4()), sql=request["Sql"], request=request, client_token=token,
                         created_at=now, updated_at=now, plan=plan)
        with self.lock:
            if token is not None and token in self.tokens:     # a concurrent twin won the race
                return self._execute_answer(self.statements[self.tokens[token]])
            for name in ("fail", "fail_after_files", "delay_seconds"):
                if name in self.faults:
                    stmt.faults[name] = self.faults.pop(name)
            stmt.query_id = next(self.query_ids)
            self.statements[stmt.id] = stmt
            if token is not None:
                self.tokens[token] = stmt.id
        self.log(f"statement {stmt.id} SUBMITTED: {' '.join(stmt.sql.split())[:160]}")
        threading.Thread(target=self._run, args=(stmt,), name=f"stmt-{stmt.id[:8]}", daemon=True).start()
        wait = body.get("WaitTimeSeconds")
        if isinstance(wait, int) and 1 <= wait <= 30:
            stmt.done.wait(wait)
        return self._execute_answer(stmt)

    def _execute_answer(self, stmt: Statement) -> dict:
        out = {"Id": stmt.id, "CreatedAt": stmt.created_at}
        for key in ("ClusterIdentifier", "WorkgroupName", "Database", "DbUser", "SecretArn"):
            if stmt.request.get(key) is not None:
                out[key] = stmt.request[key]
        if stmt.request.get("WaitTimeSeconds"):
            out["Status"] = stmt.status
        return out

    def describe_statement(self, body: dict) -> dict:
        stmt = self._find(body)
        wait = body.get("WaitTimeSeconds")
        if isinstance(wait, int) and 1 <= wait <= 30:
            stmt.done.wait(wait)
        with self.lock:
            return stmt.describe()

    def cancel_statement(self, body: dict) -> dict:
        stmt = self._find(body)
        with self.lock:
            if stmt.status in ("FINISHED", "FAILED", "ABORTED"):
                raise ApiError("ValidationException",
                               f"Could not cancel a query that is already in {stmt.status} state with ID: {stmt.id}")
            stmt.job.cancel_event.set()
            conn = stmt.job.conn
        if conn is not None:
            try:
                conn.cancel_safe(timeout=10)
            except Exception:   # the query may have just finished; the worker sees the event anyway
                pass
        self.log(f"statement {stmt.id} cancel requested")
        return {"Status": True}

    def _find(self, body: dict) -> Statement:
        sid = body.get("Id")
        if not isinstance(sid, str) or not sid:
            raise ApiError("ValidationException",
                           "1 validation error detected: Value null at 'id' failed to satisfy constraint: "
                           "Member must not be null")
        with self.lock:
            stmt = self.statements.get(sid)
        if stmt is None:
            raise ApiError("ResourceNotFoundException", f"Query does not exist: {sid}", ResourceId=sid)
        return stmt

    # -- the worker
    def _set(self, stmt: Statement, status: str, error: str | None = None) -> None:
        with self.lock:
            now = time.time()
            stmt.status, stmt.updated_at = status, now
            if status == "STARTED":
                stmt.started = now
            if status in ("FINISHED", "FAILED", "ABORTED"):
                stmt.ended = now
                stmt.error = error
        if status in ("FINISHED", "FAILED", "ABORTED"):
            stmt.done.set()
            if self.events_endpoint and stmt.request.get("WithEvent") is True:
                self._send_event(stmt)
        self.log(f"statement {stmt.id} {status}" + (f": {error}" if error else "")
                 + (f" ({stmt.rows} rows)" if status == "FINISHED" else ""))

    def _send_event(self, stmt: Statement) -> None:
        """The status change event, put on the local bus (best effort, like AWS's delivery)."""
        request = stmt.request
        warehouse = (f"cluster:{request['ClusterIdentifier']}" if request.get("ClusterIdentifier")
                     else f"workgroup/{request.get('WorkgroupName')}")
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Redshift Data Statement Status Change",
            "source": "aws.redshift-data", "account": EVENT_ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stmt.ended or time.time())),
            "region": EVENT_REGION, "resources": [f"arn:aws:redshift:{EVENT_REGION}:{EVENT_ACCOUNT}:{warehouse}"],
            "detail": {"principal": f"arn:aws:sts::{EVENT_ACCOUNT}:assumed-role/local/start-run",
                       "statementName": request.get("StatementName"), "statementId": stmt.id,
                       "redshiftQueryId": stmt.query_id, "state": stmt.status, "rows": stmt.rows,
                       "expireAt": int(stmt.created_at) + 24 * 3600},
        }
        post = urllib.request.Request(f"{self.events_endpoint}/events", data=json.dumps(event).encode(),
                                      method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(post, timeout=10):
                pass
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            self.log(f"statement {stmt.id}: the status change event was not delivered: {err}")

    def _run(self, stmt: Statement) -> None:
        job = stmt.job
        try:
            with self.lock:
                self.executed += 1
            self._set(stmt, "PICKED")
            self._set(stmt, "STARTED")
            if job.cancel_event.wait(float(stmt.faults.get("delay_seconds", 0) or 0)):
                raise Cancelled()
            if "fail" in stmt.faults:
                raise RedshiftError(str(stmt.faults["fail"]))
            if stmt.request["Database"] != self.database:
                raise RedshiftError(f'FATAL: database "{stmt.request["Database"]}" does not exist')
            try:
                conn = connect(self.dsn)
            except psycopg.Error as err:
                raise RedshiftError(f"FATAL: could not connect to the database: {str(err).strip()}") from None
            with conn:
                with self.lock:
                    job.conn = conn
                    stmt.pid = conn.info.backend_pid
                job.check()
                after = None
                if "fail_after_files" in stmt.faults:
                    def after():
                        raise RedshiftError(str(stmt.faults["fail_after_files"]))
                try:
                    rows, _ = run_unload(stmt.plan, conn, self.s3_root, self.slices, job, after)
                except psycopg.errors.QueryCanceled:
                    raise Cancelled() from None
                except psycopg.Error as err:
                    if job.cancel_event.is_set():
                        raise Cancelled() from None
                    raise _pg_error(err) from None
                finally:
                    with self.lock:
                        job.conn = None
            with self.lock:
                stmt.rows = rows
            self._set(stmt, "FINISHED")
        except Cancelled:
            self._set(stmt, "ABORTED", None)
        except RedshiftError as err:
            if job.cancel_event.is_set():
                self._set(stmt, "ABORTED")
            else:
                self._set(stmt, "FAILED", str(err))
        except Exception as err:  # a bug of the emulator: still a FAILED statement, loudly
            self._set(stmt, "FAILED", f"ERROR: redshift-data-local internal error: {type(err).__name__}: {err}")

    # -- hooks
    def stats(self) -> dict:
        with self.lock:
            return {"execute_calls": self.execute_calls, "statements_executed": self.executed,
                    "statements": [{"id": s.id, "client_token": s.client_token, "sql": s.sql, "status": s.status}
                                   for s in self.statements.values() if not getattr(s, "_reset", False)]}

    def arm(self, body: dict) -> dict:
        known = {"fail", "fail_after_files", "delay_seconds", "throttle", "active_statements_exceeded"}
        if not isinstance(body, dict) or not body or set(body) - known:
            raise ApiError("ValidationException", f"faults: a JSON object with keys among {sorted(known)}")
        with self.lock:
            self.faults.update(body)
            return dict(self.faults)

    def reset(self) -> dict:
        with self.lock:
            self.faults.clear()
            self.execute_calls = 0
            self.executed = 0
            for s in self.statements.values():
                s._reset = True   # noqa: SLF001 - hidden from stats, still describable
        return {"reset": True}


def validate_execute(body: dict) -> dict:
    def fail(message):
        raise ApiError("ValidationException", message)

    if not isinstance(body, dict):
        fail("The request body must be a JSON object")
    sql = body.get("Sql")
    if not isinstance(sql, str) or not sql.strip():
        fail("1 validation error detected: Value null at 'sql' failed to satisfy constraint: Member must not be null")
    if body.get("SessionId") is not None:
        fail("redshift-data-local does not implement sessions (SessionId)")
    if body.get("Parameters") is not None:
        fail("redshift-data-local does not implement SQL parameters (Parameters)")
    database = body.get("Database")
    if not isinstance(database, str) or not database:
        fail("Database is required")   # required without a SessionId
    cluster, workgroup = body.get("ClusterIdentifier"), body.get("WorkgroupName")
    if (cluster is None) == (workgroup is None):
        fail("Either ClusterIdentifier or WorkgroupName must be provided, but not both")
    if cluster is not None and not (isinstance(cluster, str) and len(cluster) <= 63 and CLUSTER_RE.fullmatch(cluster)):
        fail(f"1 validation error detected: Value '{cluster}' at 'clusterIdentifier' failed to satisfy constraint: "
             "Member must satisfy regular expression pattern: [a-z][a-z0-9]*(-[a-z0-9]+)*")
    if workgroup is not None and not (isinstance(workgroup, str) and WORKGROUP_RE.fullmatch(workgroup)):
        fail(f"1 validation error detected: Value '{workgroup}' at 'workgroupName' failed to satisfy constraint")
    secret, user = body.get("SecretArn"), body.get("DbUser")
    if secret is not None and user is not None:
        fail("Either SecretArn or DbUser can be provided, but not both")
    if workgroup is not None and user is not None:
        fail("DbUser is not supported with WorkgroupName")
    if secret is not None and not (isinstance(secret, str) and SECRET_ARN_RE.fullmatch(secret)):
        fail(f"Invalid SecretArn: {secret!r} is not an arn:aws:secretsmanager: secret ARN")
    token = body.get("ClientToken")
    if token is not None and not (isinstance(token, str) and 1 <= len(token) <= 64):
        fail("1 validation error detected: Value at 'clientToken' failed to satisfy constraint: "
             "Member must have length between 1 and 64")
    keys = ("Sql", "Database", "ClusterIdentifier", "WorkgroupName", "SecretArn", "DbUser", "StatementName",
            "WithEvent", "WaitTimeSeconds", "ResultFormat", "SessionKeepAliveSeconds")
    return {k: body.get(k) for k in keys}


class Handler(BaseHTTPRequestHandler):
    server_version = "redshift-data-local"
    protocol_version = "HTTP/1.1"
    state: State  # set on the class made by serve()

    def log_message(self, fmt, *args):  # one line per request is written by _answer
        pass

    def _answer(self, status: int, body: dict, error: str | None = None, what: str = "") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)
        self.state.log(f"{self.command} {self.path} {what} -> {status}{' ' + error if error else ''}")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError("SerializationException", "The request body is not valid JSON") from None

    def do_GET(self):
        if self.path.rstrip("/") == "/_emulator/stats":
            return self._answer(200, self.state.stats(), what="stats")
        self._answer(404, {"__type": "UnknownOperationException", "message": f"GET {self.path}"},
                     "UnknownOperationException")

    def do_POST(self):
        operation = ""
        try:
            body = self._body()
            if self.path.startswith("/_emulator/"):
                hook = self.path[len("/_emulator/"):].rstrip("/")
                if hook == "faults":
                    return self._answer(200, {"faults": self.state.arm(body)}, what="faults")
                if hook == "reset":
                    return self._answer(200, self.state.reset(), what="reset")
                raise ApiError("UnknownOperationException", f"no emulator hook {self.path}")
            target = self.headers.get("X-Amz-Target", "")
            service, _, operation = target.partition(".")
            handlers = {"ExecuteStatement": self.state.execute_statement,
                        "DescribeStatement": self.state.describe_statement,
                        "CancelStatement": self.state.cancel_statement}
            if service != "RedshiftData" or operation not in handlers:
                raise ApiError("UnknownOperationException",
                               f"redshift-data-local does not implement {target or 'a request without X-Amz-Target'}")
            self._answer(200, handlers[operation](body), what=operation)
        except ApiError as err:
            self._answer(err.status, {"__type": err.name, "message": err.message, "Message": err.message,
                                      **err.extra}, err.name, operation)
        except Exception as err:  # an emulator bug answers as the service's fault
            self._answer(500, {"__type": "InternalServerException", "message": f"{type(err).__name__}: {err}",
                               "Message": f"{type(err).__name__}: {err}"}, "InternalServerException", operation)


def serve(bind: str, s3_root, dsn: str, database: str | None = None, slices: int = 2, log=None,
          events_endpoint: str | None = None):
    """Starts the server on a background thread: (server, state). server.shutdown() stops it."""
    host, _, port = bind.rpartition(":")
    if database is None:
        database = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or os.environ.get("PGDATABASE") or "postgres"
    state = State(dsn, Path(s3_root), database, slices, log, events_endpoint)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port or 0)), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="redshift-data-local",
                     daemon=True).start()
    return server, state


# --- bench --------------------------------------------------------------------------------------

def measure(dsn: str, s3_root, bucket: str, rows_expected: int | None = None, slices: int = 2,
            table: str = '"demo_master"."orders"') -> dict:
    """In one run: the raw `COPY (SELECT * FROM <table>) TO STDOUT` read rate (bytes discarded) and a
    whole-table Parquet UNLOAD of the table through run_unload (what the server runs); the ratio
    unload rows/s : COPY rows/s. The unload's files go to s3://<bucket>/redshift-data-local-bench-<id>/ and are removed."""
    s3_root = Path(s3_root)
    (s3_root / bucket).mkdir(parents=True, exist_ok=True)
    query = f"SELECT * FROM {table}"
    with connect(dsn) as conn:
        nbytes, nrows = 0, 0
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
                for data in copy:
                    nbytes += len(data)
                    nrows += 1
        copy_seconds = time.perf_counter() - t0
        run = uuid.uuid4().hex[:12]
        plan = parse_unload(f"UNLOAD ('{query.replace(chr(39), chr(39) * 2)}') TO 's3://{bucket}/redshift-data-local-bench-{run}/orders_' "
                            "IAM_ROLE 'arn:aws:iam::123456789012:role/local-redshift-unload' "
                            "FORMAT AS PARQUET MAXFILESIZE 256 MB MANIFEST VERBOSE")
        t0 = time.perf_counter()
        rows, written = run_unload(plan, conn, s3_root, slices, Job())
        unload_seconds = time.perf_counter() - t0
    out_bytes = sum(w.size for w in written)
    folder = s3_root / bucket / f"redshift-data-local-bench-{run}"
    for p in sorted(folder.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    folder.rmdir()
    if rows_expected is not None and rows != rows_expected:
        raise AssertionError(f"unloaded {rows} rows, expected {rows_expected}")
    if rows != nrows:
        raise AssertionError(f"unloaded {rows} rows but COPY read {nrows}")
    copy_rate, unload_rate = nrows / copy_seconds, rows / unload_seconds
    return {"rows": rows, "copy_seconds": round(copy_seconds, 3), "copy_bytes": nbytes,
            "copy_rows_per_s": round(copy_rate), "unload_seconds": round(unload_seconds, 3),
            "unload_rows_per_s": round(unload_rate), "parquet_files": len(written), "parquet_bytes": out_bytes,
            "ratio": round(unload_rate / copy_rate, 3), "slices": slices}


# --- CLI ----------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if argv and argv[0] == "bench":
        parser = argparse.ArgumentParser(prog="redshift_data_local.py bench")
        parser.add_argument("--dsn", required=True)
        parser.add_argument("--s3-root", required=True)
        parser.add_argument("--bucket", default="bench")
        parser.add_argument("--slices", type=int, default=2)
        parser.add_argument("--rows-expected", type=int)
        args = parser.parse_args(argv[1:])
        print(json.dumps(measure(args.dsn, args.s3_root, args.bucket, args.rows_expected, args.slices)))
        return 0
    parser = argparse.ArgumentParser(prog="redshift_data_local.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default="127.0.0.1:0")
    parser.add_argument("--s3-root", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--database", help="the database the emulator serves (default: the dsn's dbname)")
    parser.add_argument("--slices", type=int, default=2)
    parser.add_argument("--events-endpoint", help="http://HOST:PORT of the local EventBridge bus (local/events_local.py)")
    args = parser.parse_args(argv)
    if args.slices < 1:
        parser.error("--slices must be >= 1")
    server, _ = serve(args.bind, args.s3_root, args.dsn, args.database, args.slices,
                      events_endpoint=args.events_endpoint)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    host, port = server.server_address[:2]
    print(f"redshift-data-local listening on http://{host}:{port}", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    print("redshift-data-local stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
