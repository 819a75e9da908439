"""Orchestration cost of one unload: `make bench-orchestration`.

Plays simulated Glue runs of 5, 60, 600 and 2,880 minutes through the real
statemachine/unload.asl.json executed by moto (Wait and Retry sleeps patched to zero, the clock
simulated), with the Lambda tasks answered by the stub of tests/statemachine/harness.py, and
counts per run: polls, Lambda invocations, state transitions, execution-history events, and the
detection latency (how late the workflow can notice the run's end).

Three polling policies go through the same machine:
  - ours, new job:    the waits of `unloadctl poll-schedule --run-seconds N` (the Rust policy
                      start-run and check-status use), no run history;
  - ours, steady job: the same with --history-seconds of three recent runs of N..1.2 N
                      (the first wait skips the early polls);
  - fixed 30 s:       a constant 30-second poll, for comparison.
The stub's check-status answers RUNNING until the simulated clock (advanced by each Wait the
engine executes, i.e. by $.run.next_poll_seconds) reaches N, then SUCCEEDED, returning the policy's
next wait each time.

Worst-case detection latency = the wait spanning the run's end: a run of about this length that
ends just after a poll is noticed one full wait later.

Prints a markdown table, checks the targets (48 h run < 2,500 history events; at 60 minutes our
policy needs at most a third of the fixed poll's Lambda invocations) and writes the table into the
"## Orchestration cost" section of docs/BENCHMARKS.md (only that section; --print-only skips it).
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "statemachine"))
sys.path.insert(0, str(ROOT / "bench"))

import benchdoc  # noqa: E402
import fakes  # noqa: E402
from harness import Machine, ok  # noqa: E402

RUN_MINUTES = [5, 60, 600, 2880]
FIXED_POLL_SECONDS = 30
HISTORY_LIMIT = 25_000  # Step Functions Standard: events per execution
TARGET_48H_EVENTS = 2_500
PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Standard workflows (us-east-1 list price)
BENCHMARKS_MD = benchdoc.DOC
SECTION = "## Orchestration cost"
UNLOADCTL = Path(os.environ.get("UNLOADCTL", ROOT / "target" / "debug" / "unloadctl"))


# ------------------------------------------------------------------ the policies


def unloadctl_waits(run_seconds: int, history: list[int] | None = None) -> tuple[list[int], dict]:
    """The Rust policy's waits for a run of run_seconds (POLL_* at their defaults)."""
    cmd = [str(UNLOADCTL), "poll-schedule", "--run-seconds", str(run_seconds)]
    if history:
        cmd += ["--history-seconds", ",".join(map(str, history))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLL_")}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    doc = json.loads(out)
    waits = [int(w) for w in doc["waits"]]
    if not waits or any(w < 1 for w in waits):
        raise SystemExit(f"unloadctl poll-schedule gave unusable waits: {out[:200]}")
    return waits, doc.get("policy") or {}


def fixed_waits(run_seconds: int) -> list[int]:
    return [FIXED_POLL_SECONDS] * math.ceil(run_seconds / FIXED_POLL_SECONDS)


def ensure_unloadctl() -> None:
    if "UNLOADCTL" in os.environ:
        return
    print("bench: cargo build --workspace --bins", file=sys.stderr)
    # The stack's selection (local/stack.py `_build`), so the SDK crates are not compiled again.
    subprocess.run(["cargo", "build", "-q", "--workspace", "--bins", "--locked"], cwd=ROOT, check=True)


# ------------------------------------------------------------------ one simulated run


@dataclass
class Row:
    minutes: int
    policy: str
    polls: int
    lambdas: int
    transitions: int
    events: int
    worst_latency: int
    detected_late: int
    wall: float

    @property
    def cost(self) -> float:
        return self.transitions * PRICE_PER_TRANSITION


def simulate(machine: Machine, minutes: int, policy: str, waits: list[int]) -> Row:
    run_seconds = minutes * 60
    clock = {"now": 0}

    def advance(seconds: int) -> None:  # each Wait the engine executes moves the simulated clock
        clock["now"] += seconds

    def start_run(state: dict, n: int) -> object:
        return ok(fakes.run_status(next_poll=waits[0]))

    def check_status(state: dict, n: int) -> object:
        now = clock["now"]
        if now >= run_seconds:
            return ok(fakes.run_status(state="SUCCEEDED", polls=n, next_poll=1, elapsed=now))
        return ok(fakes.run_status(polls=n, next_poll=waits[n], elapsed=now))

    handlers = fakes.happy(**{"start-run": start_run, "check-status": check_status})
    ex = machine.run(handlers, fakes.REQUEST_INPUT, on_wait=advance, timeout=1800)
    if ex.status != "SUCCEEDED":
        raise SystemExit(f"{minutes} min / {policy}: execution {ex.status} {ex.error} {ex.cause}")
    polls = len(ex.calls_to("check-status"))
    # The machine waited exactly what the policy said, and noticed the end at the first poll after it.
    assert ex.sleeps.waits == waits, f"{policy}: waited {ex.sleeps.waits[:5]}..., policy {waits[:5]}..."
    assert polls == len(waits) and sum(waits) >= run_seconds > sum(waits[:-1])
    return Row(
        minutes=minutes,
        policy=policy,
        polls=polls,
        lambdas=len(ex.calls),
        transitions=ex.state_transitions,
        events=len(ex.events),
        worst_latency=waits[-1],
        detected_late=sum(waits) - run_seconds,
        wall=ex.seconds,
    )


# ------------------------------------------------------------------ output


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min".replace(".0 min", " min")
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def pct(part: int, whole: int) -> str:
    p = 100 * part / whole
    return f"{p:.1f}%" if p >= 1 else f"{p:.2f}%"


def table(rows: list[Row]) -> str:
    head = (
        "| Glue run | polling policy | polls | Lambda invocations | state transitions | history events "
        "| worst-case detection latency | late by | transitions cost |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {duration(r.minutes * 60)} | {r.policy} | {r.polls:,} | {r.lambdas:,} | {r.transitions:,} | {r.events:,}"
        f"{' (over the limit)' if r.events > HISTORY_LIMIT else ''} | {duration(r.worst_latency)} "
        f"({pct(r.worst_latency, r.minutes * 60)} of the run) | {duration(r.detected_late)} | ${r.cost:.4f} |\n"
        for r in rows
    )
    return head + body


def check_targets(rows: list[Row]) -> list[tuple[bool, str]]:
    by = {(r.minutes, r.policy): r for r in rows}
    out = []
    for policy in ("ours, new job", "ours, steady job"):
        r = by[(2880, policy)]
        out.append((r.events < TARGET_48H_EVENTS, f"48 h run, {policy}: {r.events:,} history events (target < {TARGET_48H_EVENTS:,})"))
        o, f = by[(60, policy)], by[(60, "fixed 30 s")]
        out.append((3 * o.lambdas <= f.lambdas,
                    f"60 min run, {policy}: {o.lambdas} Lambda invocations vs {f.lambdas} for the fixed 30 s poll "
                    f"({o.lambdas / f.lambdas:.0%}; target at most a third)"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--print-only", action="store_true", help="do not update docs/BENCHMARKS.md")
    ap.add_argument("--minutes", type=int, nargs="*", default=RUN_MINUTES, help="run lengths (default: %(default)s)")
    args = ap.parse_args()

    ensure_unloadctl()
    rows: list[Row] = []
    policy_doc: dict = {}
    t0 = time.monotonic()
    with Machine() as machine:
        for minutes in args.minutes:
            n = minutes * 60
            new_job, policy_doc = unloadctl_waits(n)
            steady, _ = unloadctl_waits(n, [n, n * 11 // 10, n * 12 // 10])
            for policy, waits in (("ours, new job", new_job), ("ours, steady job", steady), ("fixed 30 s", fixed_waits(n))):
                row = simulate(machine, minutes, policy, waits)
                rows.append(row)
                print(f"  {duration(n):>7}  {policy:<17} {row.polls:>6,} polls  {row.events:>7,} events  ({row.wall:.1f} s)",
                      file=sys.stderr)
    wall = time.monotonic() - t0

    results = check_targets(rows) if set(RUN_MINUTES) <= set(args.minutes) else []
    policy_text = (
        f"min {policy_doc.get('min_seconds')} s, max {policy_doc.get('max_seconds')} s, "
        f"growth {policy_doc.get('growth_percent')}% of the run's age: the POLL_* defaults"
        if policy_doc else "the POLL_* defaults"
    )
    text = (
        "`make bench-orchestration` (bench/orchestration_bench.py) plays simulated Glue runs through the real\n"
        "statemachine/unload.asl.json on moto's Step Functions engine (sleeps patched, clock simulated, Lambda\n"
        "tasks stubbed); the waits are the Rust policy's, from `unloadctl poll-schedule`.\n\n"
        f"- Our policy ({policy_text}). \"New job\": no run history.\n"
        "  \"Steady job\": the job's last three successful runs took N to 1.2 N, so the first wait is 90% of N\n"
        "  (within the min and max).\n"
        "- Worst-case detection latency: the wait spanning the run's end (a run that ends just after a poll\n"
        "  is noticed that much later). \"Late by\": how late a run of exactly N is noticed.\n"
        f"- Cost: state transitions at ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 (Standard workflows; Lambda\n"
        "  invocations are counted, not priced).\n"
        f"- Step Functions allows {HISTORY_LIMIT:,} history events per execution: a fixed 30 s poll cannot\n"
        "  follow a 48-hour run in one execution.\n\n"
        + table(rows)
        + "\n"
        + "".join(f"- {'PASS' if passed else 'FAIL'}: {what}\n" for passed, what in results)
        + f"\nMeasured {time.strftime('%Y-%m-%d')} on {platform.machine()} / {os.cpu_count()} cores, moto 5.2.5, "
        f"{wall:.0f} s wall for the whole bench.\n"
    )
    print(text)
    if not args.print_only:
        benchdoc.replace_section(SECTION, SECTION + "\n\n" + text)
        print(f"bench: wrote the table into {BENCHMARKS_MD.relative_to(ROOT)} ({SECTION})", file=sys.stderr)
    missed = [what for passed, what in results if not passed]
    if missed:
        print("bench: target missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
