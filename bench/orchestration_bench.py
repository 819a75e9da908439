"""Orchestration cost of one unload: `make bench-orchestration`.

Plays simulated Glue runs of 5, 60, 600 and 2,880 minutes through the real
statemachine/unload.asl.json executed by moto (Wait and Retry sleeps patched to zero, the clock
simulated), with the Lambda tasks answered by the stub of tests/statemachine/harness.py, and
counts per run: polls, Lambda invocations, state transitions, execution-history events, and the
detection latency (how late the workflow can notice the run's end).

Three polling policies go through the workflow as it was before the callback wait (WaitForRun a
plain Wait: `polling_only`):
  - ours, new job:    the waits of `unloadctl poll-schedule --run-seconds N` (the Rust policy
                      start-run and check-status use), no run history;
  - ours, steady job: the same with --history-seconds of three recent runs of N..1.2 N
                      (the first wait skips the early polls);
  - fixed 30 s:       a constant 30-second poll, for comparison.
and our two through the real workflow, whose WaitForRun is a callback wait (the task token in S3,
timeout = the poll interval):
  - events + safety net: the service's completion event arrives EVENT_DELAY_SECONDS after the
                      run's end (an assumption) and ends the callback wait then, through the
                      `complete` Lambda (counted: one invocation per delivered event, by
                      EventBridge, not by the state machine); a wait that ends before the event
                      arrives times out and polls, as without events;
  - events dropped:   no event ever arrives, so every wait times out: the safety net alone.
The stub's check-status answers RUNNING until the simulated clock (advanced by each wait the
engine executes, i.e. by $.run.next_poll_seconds, or only up to the event's arrival when an event
ends the wait) reaches N, then SUCCEEDED, returning the policy's next wait each time.

Worst-case detection latency: polling, the wait spanning the run's end (a run of about this length
that ends just after a poll is noticed one full wait later); events, the event's delay (a poll
takes no simulated time; see the doc's notes for the one case the event cannot help).

Prints a markdown table, checks the targets (polling: 48 h run < 2,500 history events, at 60
minutes our policy needs at most a third of the fixed poll's Lambda invocations; events: 48 h run
< 5,000 history events, with or without the events, and a worst-case latency of at most the event's
delay plus one poll's time), writes the table into the "## Orchestration cost" section of
docs/BENCHMARKS.md (only that section; --print-only skips it) and draws docs/detection-latency.png
(bench/charts.py). Exit status 1 when a target is missed.
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
import charts  # noqa: E402
import fakes  # noqa: E402
from harness import Machine, local_definition, ok  # noqa: E402

RUN_MINUTES = [5, 60, 600, 2880]
FIXED_POLL_SECONDS = 30
HISTORY_LIMIT = 25_000  # Step Functions Standard: events per execution
TARGET_48H_EVENTS = 2_500
TARGET_48H_EVENTS_WITH_CALLBACK = 5_000  # the callback wait costs 4 more history events per poll
# Assumption: the completion event (Glue Job State Change through EventBridge, then the complete
# Lambda's SendTaskSuccess) reaches the waiting task this long after the run's end. The local
# stack's measured figure is in docs/ARCHITECTURE.md.
EVENT_DELAY_SECONDS = 2
# One poll's time: from the end of a wait to CheckStatus's answer. The simulation's is zero (as for
# the polling rows); on AWS it is a Lambda call and two transitions, well under a second.
POLL_SECONDS = 0
WAKE = json.dumps({"wake": "completion event"})
POLLING = ("ours, new job", "ours, steady job", "fixed 30 s")
EVENTS = "events + safety net"
DROPPED = "events dropped"
PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Standard workflows (us-east-1 list price)
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


def polling_only(definition: dict) -> dict:
    """The workflow as it was before the callback wait: WaitForRun a plain Wait of
    $.run.next_poll_seconds, RunFinished? deciding the outcome itself (no token to forget)."""
    d = json.loads(json.dumps(definition))
    states = d["States"]
    plain = states.pop("WaitByPolling")
    states["WaitForRun"] = {**plain, "Comment": "Sleep until the next status check (polling only)."}
    outcome = states.pop("RunOutcome?")
    del states["ForgetWait"]
    finished = states["RunFinished?"]
    finished["Choices"] = [c for c in finished["Choices"] if c["StringEquals"] == "running"] + outcome["Choices"]
    finished["Default"] = outcome["Default"]
    return d


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


def simulate(machine: Machine, minutes: int, policy: str, waits: list[int], *, definition: dict | None = None,
             events: bool | None = None) -> Row:
    """One execution. `events` None: the polling-only workflow; True: the completion event arrives
    EVENT_DELAY_SECONDS after the end; False: the callback wait, no event ever."""
    run_seconds = minutes * 60
    clock = {"now": 0, "seen": None}
    arrival = run_seconds + EVENT_DELAY_SECONDS

    def advance(seconds: int) -> None:  # each wait the engine executes moves the simulated clock
        clock["now"] += seconds

    def on_callback(seconds: int) -> str | None:  # after advance: did the event land in this wait?
        if events and clock["now"] - seconds < arrival <= clock["now"]:
            clock["now"] = arrival  # the event ended the wait when it arrived
            return WAKE
        return None

    def start_run(state: dict, n: int) -> object:
        return ok(fakes.run_status(next_poll=waits[0]))

    def check_status(state: dict, n: int) -> object:
        now = clock["now"]
        if now >= run_seconds:
            clock["seen"] = clock["seen"] if clock["seen"] is not None else now
            return ok(fakes.run_status(state="SUCCEEDED", polls=n, next_poll=1, elapsed=now))
        return ok(fakes.run_status(polls=n, next_poll=waits[n], elapsed=now))

    handlers = fakes.happy(**{"start-run": start_run, "check-status": check_status})
    ex = machine.run(handlers, fakes.REQUEST_INPUT, on_wait=advance, timeout=1800, definition=definition,
                     on_callback=on_callback if events is not None else None)
    if ex.status != "SUCCEEDED":
        raise SystemExit(f"{minutes} min / {policy}: execution {ex.status} {ex.error} {ex.cause}")
    polls = len(ex.calls_to("check-status"))
    # The machine waited exactly what the policy said (a callback wait records its timeout), and
    # noticed the end at the first poll after it.
    assert ex.sleeps.waits == waits, f"{policy}: waited {ex.sleeps.waits[:5]}..., policy {waits[:5]}..."
    assert polls == len(waits) and sum(waits) >= run_seconds > sum(waits[:-1])
    callbacks = len(ex.sleeps.callbacks)
    assert callbacks == (0 if events is None else polls), f"{policy}: {callbacks} callback waits for {polls} polls"
    woken = ex.sleeps.woken
    spanning = waits[-1]
    if events:
        # The event lands in the wait spanning the end unless that wait ends within the delay.
        assert woken == (1 if arrival <= sum(waits) else 0), f"{policy}: {woken} waits woken"
        worst = min(EVENT_DELAY_SECONDS, spanning) + POLL_SECONDS
    else:
        assert woken == 0
        worst = spanning
    return Row(
        minutes=minutes,
        policy=policy,
        polls=polls,
        # The complete Lambda: one invocation per delivered event (EventBridge invokes it).
        lambdas=len(ex.calls) + woken,
        transitions=ex.state_transitions,
        events=len(ex.events),
        worst_latency=worst,
        detected_late=clock["seen"] - run_seconds,
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
    return f"{p:.1f}%" if p >= 1 else f"{p:.2f}%" if p >= 0.01 else "< 0.01%"


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
    for job in ("new job", "steady job"):
        for kind in (EVENTS, DROPPED):
            r = by[(2880, f"{kind}, {job}")]
            out.append((r.events < TARGET_48H_EVENTS_WITH_CALLBACK,
                        f"48 h run, {kind}, {job}: {r.events:,} history events "
                        f"(target < {TARGET_48H_EVENTS_WITH_CALLBACK:,})"))
        bound = EVENT_DELAY_SECONDS + POLL_SECONDS
        ev = [r for r in rows if r.policy == f"{EVENTS}, {job}"]
        worst = max(max(r.worst_latency, r.detected_late) for r in ev)
        out.append((worst <= bound,
                    f"{EVENTS}, {job}: worst-case detection latency {duration(worst)} over "
                    f"{', '.join(duration(r.minutes * 60) for r in ev)} runs "
                    f"(target at most the event's delay {EVENT_DELAY_SECONDS} s + one poll's time, "
                    f"{POLL_SECONDS} s simulated)"))
    return out


def chart(rows: list[Row]) -> Path:
    series = {
        "fixed 30 s poll": "fixed 30 s",
        "adaptive polling (ours, new job)": "ours, new job",
        f"events + safety net (ours, new job; event {EVENT_DELAY_SECONDS} s late)": f"{EVENTS}, new job",
    }
    return charts.detection_latency({
        label: [(r.minutes, r.worst_latency, r.transitions) for r in rows if r.policy == policy]
        for label, policy in series.items()
    })


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
        polling = polling_only(machine.definition)
        for minutes in args.minutes:
            n = minutes * 60
            new_job, policy_doc = unloadctl_waits(n)
            steady, _ = unloadctl_waits(n, [n, n * 11 // 10, n * 12 // 10])
            plays = [(policy, waits, polling, None)
                     for policy, waits in (("ours, new job", new_job), ("ours, steady job", steady),
                                           ("fixed 30 s", fixed_waits(n)))]
            for kind, events in ((EVENTS, True), (DROPPED, False)):
                plays += [(f"{kind}, new job", new_job, None, events), (f"{kind}, steady job", steady, None, events)]
            for policy, waits, definition, events in plays:
                row = simulate(machine, minutes, policy, waits, definition=definition, events=events)
                rows.append(row)
                print(f"  {duration(n):>7}  {policy:<32} {row.polls:>6,} polls  {row.events:>7,} events  ({row.wall:.1f} s)",
                      file=sys.stderr)
    wall = time.monotonic() - t0

    results = check_targets(rows) if set(RUN_MINUTES) <= set(args.minutes) else []
    policy_text = (
        f"min {policy_doc.get('min_seconds')} s, max {policy_doc.get('max_seconds')} s, "
        f"growth {policy_doc.get('growth_percent')}% of the run's age: the POLL_* defaults"
        if policy_doc else "the POLL_* defaults"
    )
    by = {(r.minutes, r.policy): r for r in rows}
    per_poll = ""
    if (2880, "ours, new job") in by and (2880, f"{DROPPED}, new job") in by:
        a, b = by[(2880, "ours, new job")], by[(2880, f"{DROPPED}, new job")]
        per_poll = (f" (48 h, new job: {b.events:,} history events against {a.events:,}, "
                    f"{b.transitions:,} transitions against {a.transitions:,})")
    text = (
        "`make bench-orchestration` (bench/orchestration_bench.py) plays simulated Glue runs through the real\n"
        "statemachine/unload.asl.json on moto's Step Functions engine (sleeps patched, clock simulated, Lambda\n"
        "tasks stubbed); the waits are the Rust policy's, from `unloadctl poll-schedule`.\n\n"
        f"- Our policy ({policy_text}). \"New job\": no run history.\n"
        "  \"Steady job\": the job's last three successful runs took N to 1.2 N, so the first wait is 90% of N\n"
        "  (within the min and max).\n"
        "- The polling rows (ours, fixed 30 s) run the workflow as it was before the callback wait: WaitForRun a\n"
        "  plain Wait (the bench's `polling_only` of the definition).\n"
        "- \"Events + safety net\": the real workflow, whose WaitForRun leaves its task token in S3 and waits for\n"
        "  the run's completion event with the poll interval as its timeout. Assumption: the event reaches the\n"
        f"  waiting task {EVENT_DELAY_SECONDS} s after the run's end (EventBridge, then the complete Lambda's\n"
        "  SendTaskSuccess; the local stack's measured figure is in docs/ARCHITECTURE.md). The complete\n"
        "  Lambda's invocation (one per delivered event, by EventBridge) is counted with the state machine's.\n"
        "  The event ends only the wait that spans the run's end, so the polls are those of our policy; what\n"
        "  it removes is the rest of that wait.\n"
        "- \"Events dropped\": the same workflow when no event ever comes: every wait times out and polls (the\n"
        "  safety net alone). It costs what polling costs in polls, Lambda invocations and transitions (two\n"
        "  more transitions per execution: ForgetWait, RunOutcome?), and 4 more history events per poll (the\n"
        f"  callback task's scheduled, started, submitted and timed-out events){per_poll}.\n"
        "- Worst-case detection latency: polling, the wait spanning the run's end (a run that ends just after\n"
        "  a poll is noticed that much later); events, the event's delay plus one poll's time (no simulated\n"
        "  time; on AWS a Lambda call, well under a second). \"Late by\": how late a run of exactly N is noticed.\n"
        "  A run that ends between a wait's timeout and the next wait's put (while CheckStatus runs) is\n"
        "  woken through the next wait's token: complete looks again for it, a second later, up to two\n"
        "  seconds; a later put (a CheckStatus slower than that) leaves that run to the next timeout.\n"
        f"- Cost: state transitions at ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 (Standard workflows; Lambda\n"
        "  invocations are counted, not priced; the callback wait's S3 PUT of the token, one per poll, is not\n"
        "  priced either: $0.005 per 1,000).\n"
        f"- Step Functions allows {HISTORY_LIMIT:,} history events per execution: a fixed 30 s poll cannot\n"
        "  follow a 48-hour run in one execution.\n\n"
        "![Worst-case detection latency and state transitions against the run's length: fixed 30 s poll, "
        "adaptive polling, events with the safety net](detection-latency.png)\n\n"
        + table(rows)
        + "\n"
        + "".join(f"- {'PASS' if passed else 'FAIL'}: {what}\n" for passed, what in results)
        + f"\nMeasured {time.strftime('%Y-%m-%d')} on {platform.machine()} / {os.cpu_count()} cores, moto 5.2.5, "
        f"{wall:.0f} s wall for the whole bench.\n"
    )
    print(text)
    if not args.print_only:
        benchdoc.write(SECTION, SECTION + "\n\n" + text, "bench")
        if set(RUN_MINUTES) <= set(args.minutes):
            print(f"bench: drew {chart(rows).relative_to(ROOT)}", file=sys.stderr)
    return benchdoc.exit_status(results, "bench")


if __name__ == "__main__":
    sys.exit(main())
