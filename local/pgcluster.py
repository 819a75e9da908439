#!/usr/bin/env python3
"""A private, disposable PostgreSQL cluster on 127.0.0.1: the Redshift stand-in for the Glue
job's tests, its benchmark and the local demo. Standard library only.

CLI (prints the cluster as one JSON object on stdout):

    python local/pgcluster.py start  --dir D [--rows N] [--hot-rows H] [--days K]
                                     [--connections-file F [--connection-name NAME]]
    python local/pgcluster.py status --dir D
    python local/pgcluster.py stop   --dir D [--remove]

API:

    import pgcluster
    cluster = pgcluster.start("/tmp/pg", rows=20_000, hot_rows=2_000, days=60)
    cluster.port, cluster.dsn, cluster.url, cluster.jdbc_url, cluster.job_env()
    pgcluster.stop("/tmp/pg", remove=True)

Both are idempotent: start on a running cluster returns it (and re-seeds only when asked for a
different seed); stop on a stopped or missing cluster does nothing. The server listens on
127.0.0.1 only (no Unix socket) with trust authentication, on a free port chosen at each start.
initdb refuses to run as root, so as root the server runs as the `postgres` user (runuser).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
USER = "postgres"
DBNAME = "postgres"
SEED_SQL = Path(__file__).resolve().with_name("seed_demo.sql")
DEFAULT_HOT_ROWS = 10_000
DEFAULT_DAYS = 2_405

SERVER_SETTINGS = """
# pgcluster.py: a disposable local cluster, tuned for loading speed, not durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_wal_size = 2GB
"""
HBA = "host all all 127.0.0.1/32 trust\n"


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class Cluster:
    dir: Path
    port: int
    host: str = HOST
    user: str = USER
    dbname: str = DBNAME

    @property
    def dsn(self) -> str:
        """libpq keyword DSN (psycopg.connect(cluster.dsn))."""
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.dbname}"

    @property
    def log_file(self) -> Path:
        """The server's log (every statement lands here under log_statement = 'all')."""
        return _server_dir(self.dir) / "postgres.log"

    def connection(self) -> dict:
        """The {"url", "user", "password"} entry the Glue job reads for a local connection."""
        return {"url": self.jdbc_url, "user": self.user, "password": ""}

    def job_env(self) -> dict:
        """Environment variables that point glue-scripts/unload_table.py at this cluster."""
        return {
            "UNLOAD_LOCAL_JDBC_URL": self.jdbc_url,
            "UNLOAD_LOCAL_JDBC_USER": self.user,
            "UNLOAD_LOCAL_JDBC_PASSWORD": "",
        }

    def write_connections_file(self, path, name: str) -> Path:
        """Writes {name: connection} for the job's UNLOAD_LOCAL_CONNECTIONS_FILE."""
        path = Path(path)
        path.write_text(json.dumps({name: self.connection()}, indent=2) + "\n")
        return path

    def as_dict(self) -> dict:
        return {"dir": str(self.dir), "host": self.host, "port": self.port, "user": self.user,
                "dbname": self.dbname, "dsn": self.dsn, "url": self.url, "jdbc_url": self.jdbc_url}


def start(directory, rows: int | None = None, hot_rows: int = DEFAULT_HOT_ROWS,
          days: int = DEFAULT_DAYS) -> Cluster:
    """Starts (or finds running) the cluster in `directory`; seeds demo_master.orders when `rows`
    is given and the current seed differs."""
    directory = Path(directory).resolve()
    _prepare_dir(directory)
    if not (_data(directory) / "PG_VERSION").exists():
        _initdb(directory)
    port = _running_port(directory)
    if port is None:
        port = _start_server(directory)
    cluster = Cluster(directory, port)
    if rows is not None:
        seed = {"rows": int(rows), "hot_rows": int(hot_rows), "days": int(days)}
        state = _read_state(directory)
        # The seed script's hash too: a warehouse seeded by an older script is seeded again.
        if state.get("seed") != seed or state.get("seed_sql") != _seed_sql_hash():
            _seed(cluster, **seed)
            _write_state(directory, {"seed": seed, "seed_sql": _seed_sql_hash()})
    return cluster


def stop(directory, remove: bool = False) -> bool:
    """Stops the cluster in `directory` (fast shutdown); True when one was running."""
    directory = Path(directory).resolve()
    was_running = _running_port(directory) is not None
    if was_running:
        _run(_as_pg_user([_bin("pg_ctl"), "-D", str(_data(directory)), "-m", "fast", "-w",
                          "-t", "60", "stop"]), "pg_ctl stop")
    if remove and directory.exists():
        server = _server_dir(directory)
        if server != directory:
            shutil.rmtree(server, ignore_errors=True)
        shutil.rmtree(directory)
    return was_running


def status(directory) -> Cluster | None:
    directory = Path(directory).resolve()
    port = _running_port(directory)
    return None if port is None else Cluster(directory, port)


# --- internals -------------------------------------------------------------------------------

def _server_dir(directory: Path) -> Path:
    """Where the server's own files (data dir, log) live: `directory`, or — when the postgres user
    cannot reach it, as under a 0700 parent such as a home folder or a `mktemp -d` checkout — a
    folder in the system temp dir that `directory/server` links to."""
    link = directory / "server"
    return link.resolve() if link.is_symlink() else directory


def _data(directory: Path) -> Path:
    return _server_dir(directory) / "data"


def _bin(name: str) -> str:
    """PostgreSQL server binaries: $PG_BIN, else the newest /usr/lib/postgresql/<v>/bin."""
    if os.environ.get("PG_BIN"):
        return str(Path(os.environ["PG_BIN"]) / name)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return str(candidates[-1].parent / name)
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} not found: install PostgreSQL or set PG_BIN")
    return found


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_pg_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; as any other user they run as that user.
    return ["runuser", "-u", USER, "--", *cmd] if _is_root() else cmd


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _prepare_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if not _is_root():
        return
    if (directory / "server").is_symlink():
        return
    shutil.chown(directory, USER, USER)
    if _reachable(directory):
        return
    spill = Path(tempfile.gettempdir()) / f"pgcluster-{hashlib.sha1(str(directory).encode()).hexdigest()[:16]}"
    spill.mkdir(mode=0o755, exist_ok=True)
    shutil.chown(spill, USER, USER)
    if not _reachable(spill):
        raise ClusterError(f"the {USER} user can reach neither {directory} nor {spill}")
    (directory / "server").symlink_to(spill, target_is_directory=True)


def _reachable(directory: Path) -> bool:
    """Whether the postgres user can write `directory` (every parent must be traversable)."""
    return subprocess.run(["runuser", "-u", USER, "--", "test", "-w", str(directory)]).returncode == 0


def _initdb(directory: Path) -> None:
    data = _data(directory)
    _run(_as_pg_user([_bin("initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions"]), "initdb")
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(SERVER_SETTINGS)
    (data / "pg_hba.conf").write_text(HBA)  # TCP from 127.0.0.1 only; nothing else


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start_server(directory: Path) -> int:
    """pg_ctl start on a free port; retries when another process grabs the port first."""
    log = _server_dir(directory) / "postgres.log"
    last_error = ""
    for _ in range(3):
        port = _free_port()
        proc = subprocess.run(_as_pg_user([_bin("pg_ctl"), "-D", str(_data(directory)), "-l", str(log),
                                           "-o", f"-p {port}", "-w", "-t", "60", "start"]),
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return port
        last_error = _tail(log) or proc.stderr.strip()
        if "already in use" not in last_error and "could not bind" not in last_error:
            break
    raise ClusterError(f"PostgreSQL did not start in {directory}: {last_error}")


def _running_port(directory: Path) -> int | None:
    """The port of the server running on this data dir, or None (pg_ctl status is the truth)."""
    data = _data(directory)
    if not (data / "postmaster.pid").exists():
        return None
    proc = subprocess.run(_as_pg_user([_bin("pg_ctl"), "-D", str(data), "status"]),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    lines = (data / "postmaster.pid").read_text().splitlines()
    return int(lines[3])  # line 4 of postmaster.pid is the port


def _seed_sql_hash() -> str:
    import hashlib
    return hashlib.sha256(SEED_SQL.read_bytes()).hexdigest()[:16]


def _seed(cluster: Cluster, rows: int, hot_rows: int, days: int) -> None:
    if rows < 0 or hot_rows < 0 or days < 1:
        raise ClusterError("rows and hot_rows must be >= 0 and days >= 1")
    _run([_bin("psql"), "-X", "-q", "-h", cluster.host, "-p", str(cluster.port), "-U", cluster.user,
          "-d", cluster.dbname, "-v", "ON_ERROR_STOP=1", "-v", f"rows={rows}",
          "-v", f"hot_rows={min(hot_rows, rows)}", "-v", f"days={days}", "-f", str(SEED_SQL)], "seeding")


def _state_file(directory: Path) -> Path:
    return directory / "cluster.json"


def _read_state(directory: Path) -> dict:
    try:
        return json.loads(_state_file(directory).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(directory: Path, state: dict) -> None:
    _state_file(directory).write_text(json.dumps(state) + "\n")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pgcluster.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="start (and optionally seed) the cluster in --dir")
    p_start.add_argument("--dir", required=True)
    p_start.add_argument("--rows", type=int, help="seed demo_master.orders with this many rows")
    p_start.add_argument("--hot-rows", type=int, default=DEFAULT_HOT_ROWS,
                         help="rows on the hot day 1998-07-21 (default %(default)s)")
    p_start.add_argument("--days", type=int, default=DEFAULT_DAYS,
                         help="days the other rows spread over (default %(default)s)")
    p_start.add_argument("--connections-file", help="also write a local connections file here")
    p_start.add_argument("--connection-name", default="tpc-rs", help="its entry name (default %(default)s)")
    p_status = sub.add_parser("status", help="print the running cluster, exit 1 when stopped")
    p_status.add_argument("--dir", required=True)
    p_stop = sub.add_parser("stop", help="stop the cluster in --dir (no-op when stopped)")
    p_stop.add_argument("--dir", required=True)
    p_stop.add_argument("--remove", action="store_true", help="also delete --dir")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            cluster = start(args.dir, args.rows, args.hot_rows, args.days)
            if args.connections_file:
                cluster.write_connections_file(args.connections_file, args.connection_name)
            print(json.dumps(cluster.as_dict()))
        elif args.command == "status":
            cluster = status(args.dir)
            print(json.dumps(cluster.as_dict() if cluster else {"dir": args.dir, "running": False}))
            return 0 if cluster else 1
        else:
            was_running = stop(args.dir, args.remove)
            print(json.dumps({"dir": args.dir, "stopped": was_running}))
    except ClusterError as err:
        print(f"pgcluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
