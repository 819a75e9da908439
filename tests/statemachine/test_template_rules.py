"""What template.yaml refuses before anything is deployed: its Rules, its parameter constraints,
and what samconfig.toml must agree on with it.

CloudFormation evaluates the Rules section when a stack is created or updated; neither
`sam validate` nor cfn-lint evaluates it for given parameter values. `evaluate` below does, for the
rule functions the template uses (Ref, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains; any
other function is an error, so a new rule cannot slip past these tests unevaluated), and every
test feeds it parameter values and checks which rules refuse them.

The history-budget rule is checked against the Rust polling policy itself: `unloadctl
poll-schedule` counts the polls of a run lasting GlueJobTimeoutMinutes for every allowed
(GlueJobTimeoutMinutes, PollMaxSeconds, PollMinSeconds) at the worst growth (1 %). The test needs
the binary (`cargo build -p unloadctl`; `make test` builds the workspace first) and fails, not
skips, without it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest
from samcli.yamlhelper import yaml_parse

from harness import ROOT

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
PARAMETERS = TEMPLATE["Parameters"]
RULES = TEMPLATE["Rules"]
RESERVED = json.loads((ROOT / "functions/unload-core/data/reserved_glue_arguments.json").read_text(encoding="utf-8"))

# Values for the parameters without a default, and an existing connection so that the
# NewConnectionNeedsItsParts rule stays out of the way unless a test wants it.
REQUIRED = {
    "DataLakeBucketName": "my-lake",
    "DefaultRedshiftRoleArn": "arn:aws:iam::123456789012:role/redshift-unload",
    "ExistingGlueConnectionName": "redshift",
}

# Step Functions "Quotas for Standard Workflows": maximum execution history size, 25,000 events
# (the execution fails when it reaches it).
HISTORY_LIMIT = 25_000
# One poll cycle (when no event comes, the worst case): WaitForRun, the callback wait,
# TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskTimedOut, TaskStateExited;
# CheckStatus TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited;
# ChoiceStateEntered/Exited (test_scenarios.py counts the same in an executed long run).
EVENTS_PER_POLL = 13
# Everything else an execution records (start, Prepare, Validate, EnsureJob, StartRun, the report,
# the end), without retries.
OTHER_EVENTS = 60


# ------------------------------------------------------------------------------ the evaluator


def evaluate(node, params: dict[str, str]):
    """The value of a rule expression for the given parameter values (strings, as CloudFormation
    passes them)."""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, list):
        return [evaluate(x, params) for x in node]
    if isinstance(node, dict) and len(node) == 1:
        ((fn, args),) = node.items()
        if fn == "Ref":
            return params[args]
        if fn == "Fn::Equals":
            a, b = (evaluate(x, params) for x in args)
            return a == b
        if fn == "Fn::Not":
            (x,) = args
            return not _bool(evaluate(x, params))
        if fn == "Fn::And":
            assert 2 <= len(args) <= 10, "Fn::And takes 2 to 10 conditions"
            return all(_bool(evaluate(x, params)) for x in args)
        if fn == "Fn::Or":
            assert 2 <= len(args) <= 10, "Fn::Or takes 2 to 10 conditions"
            return any(_bool(evaluate(x, params)) for x in args)
        if fn == "Fn::Contains":
            strings, value = args
            return evaluate(value, params) in evaluate(strings, params)
    raise ValueError(f"the rule evaluator does not know {node!r}")


def _bool(value) -> bool:
    assert isinstance(value, bool), f"not a condition: {value!r}"
    return value


def parameter_values(**given) -> dict[str, str]:
    values = {name: str(p["Default"]) for name, p in PARAMETERS.items() if "Default" in p}
    values.update(REQUIRED)
    values.update({k: str(v) for k, v in given.items()})
    missing = set(PARAMETERS) - set(values)
    assert not missing, f"no value for {missing}"
    return values


def refusals(**given) -> list[str]:
    """The rules that refuse these parameter values, as "Rule: AssertDescription"."""
    params = parameter_values(**given)
    out = []
    for name, rule in RULES.items():
        if "RuleCondition" in rule and not _bool(evaluate(rule["RuleCondition"], params)):
            continue
        for assertion in rule["Assertions"]:
            if not _bool(evaluate(assertion["Assert"], params)):
                out.append(f"{name}: {assertion.get('AssertDescription', '')}")
    return out


def allowed(name: str) -> list[str]:
    return [str(v) for v in PARAMETERS[name]["AllowedValues"]]


# ------------------------------------------------------------------------------ the rules


def test_the_defaults_pass_every_rule():
    assert refusals() == []


def test_a_new_connection_needs_all_its_parts():
    new = {
        "ExistingGlueConnectionName": "",
        "JdbcUrl": "jdbc:redshift://example.abc.us-east-1.redshift.amazonaws.com:5439/dev",
        "ConnectionSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-AbCdEf",
        "ConnectionSubnetId": "subnet-0123456789abcdef0",
        "ConnectionSecurityGroupId": "sg-0123456789abcdef0",
        "ConnectionAvailabilityZone": "us-east-1a",
    }
    assert refusals(**new) == []
    for part in list(new)[1:]:
        refused = refusals(**{**new, part: ""})
        assert len(refused) == 1 and part in refused[0], (part, refused)


@pytest.mark.parametrize("execution_class", ["STANDARD", "FLEX"])
@pytest.mark.parametrize("worker_type", ["G.1X", "G.2X", "G.4X", "G.8X"])
def test_flex_runs_only_on_g1x_or_g2x_workers(execution_class, worker_type):
    assert set(allowed("GlueExecutionClass")) == {"STANDARD", "FLEX"}
    assert worker_type in allowed("GlueWorkerType")
    refused = refusals(GlueExecutionClass=execution_class, GlueWorkerType=worker_type)
    if execution_class == "FLEX" and worker_type not in ("G.1X", "G.2X"):
        assert len(refused) == 1 and refused[0].startswith("FlexNeedsG1XOrG2XWorkers:"), refused
    else:
        assert refused == []


def test_every_allowed_worker_type_is_one_the_rule_knows():
    # A new worker type must be placed on one side of the Flex rule on purpose.
    assert set(allowed("GlueWorkerType")) == {"G.1X", "G.2X", "G.4X", "G.8X"}


def test_poll_minimum_never_exceeds_the_maximum_by_construction():
    mins = [int(v) for v in allowed("PollMinSeconds")]
    maxes = [int(v) for v in allowed("PollMaxSeconds")]
    assert max(mins) <= min(maxes)
    # What unload-core's PollPolicy accepts (polling.rs): min 1..=3600, max 1..=86400, growth 1..=100.
    assert 1 <= min(mins) and max(maxes) <= 3600
    growth = PARAMETERS["PollGrowthPercent"]
    assert (growth["MinValue"], growth["MaxValue"]) == (1, 100)
    assert int(PARAMETERS["PollMinSeconds"]["Default"]) in mins
    assert int(PARAMETERS["PollMaxSeconds"]["Default"]) in maxes


# ------------------------------------------------------------------------------ history budget


def unloadctl() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    binary = Path(os.environ.get("UNLOADCTL", target / "debug" / "unloadctl"))
    if not binary.is_file():
        pytest.fail(
            f"{binary} is missing: build it with `cargo build -p unloadctl` (make test builds the "
            "workspace before this suite), or point CARGO_TARGET_DIR or UNLOADCTL at a build",
            pytrace=False,
        )
    return binary


@cache
def polls(run_seconds: int, min_seconds: str, max_seconds: str, growth_percent: str) -> int:
    env = {
        **os.environ,
        "POLL_MIN_SECONDS": min_seconds,
        "POLL_MAX_SECONDS": max_seconds,
        "POLL_GROWTH_PERCENT": growth_percent,
    }
    out = subprocess.run(
        [unloadctl(), "poll-schedule", "--run-seconds", str(run_seconds)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    plan = json.loads(out)
    assert plan["policy"] == {
        "min_seconds": int(min_seconds), "max_seconds": int(max_seconds), "growth_percent": int(growth_percent),
    }
    assert plan["detected_after_seconds"] >= run_seconds
    return plan["polls"]


def worst_case_events(timeout_minutes: str, max_seconds: str) -> int:
    """History events of an execution whose run lasts the whole Glue timeout, with the smallest
    PollMinSeconds and the slowest growth (both make waits shorter, hence polls more)."""
    most = max(
        polls(int(timeout_minutes) * 60, min_seconds, max_seconds, "1")
        for min_seconds in allowed("PollMinSeconds")
    )
    return EVENTS_PER_POLL * most + OTHER_EVENTS


def test_the_history_budget_rule_refuses_exactly_the_combinations_that_can_exceed_the_quota():
    over, under = [], []
    for minutes, max_seconds in itertools.product(allowed("GlueJobTimeoutMinutes"), allowed("PollMaxSeconds")):
        events = worst_case_events(minutes, max_seconds)
        refused = [r for r in refusals(GlueJobTimeoutMinutes=minutes, PollMaxSeconds=max_seconds)
                   if r.startswith("PollingFitsTheExecutionHistory:")]
        # Refused: the worst case takes two thirds of the history or more (a third is kept for
        # retries: throttles, ConcurrentRunsExceeded, Lambda errors, which OTHER_EVENTS does not count).
        exceeds = events >= HISTORY_LIMIT * 2 / 3
        assert bool(refused) == exceeds, (
            f"GlueJobTimeoutMinutes {minutes}, PollMaxSeconds {max_seconds}: {events} events in the worst "
            f"case, but the rule {'refuses' if refused else 'accepts'} it"
        )
        (over if exceeds else under).append(events)
    assert max(over) >= HISTORY_LIMIT, "no combination can pass the quota: the rule is dead weight"


def test_slower_growth_means_more_polls():
    # Why growth 1 % is the worst case the rule is computed for.
    for max_seconds in allowed("PollMaxSeconds"):
        counts = [polls(2880 * 60, "5", max_seconds, g) for g in ("1", "2", "12", "100")]
        assert counts == sorted(counts, reverse=True), (max_seconds, counts)


def test_the_default_parameters_poll_a_long_run_cheaply():
    p = parameter_values()
    n = polls(int(p["GlueJobTimeoutMinutes"]) * 60, p["PollMinSeconds"], p["PollMaxSeconds"], p["PollGrowthPercent"])
    assert EVENTS_PER_POLL * n + OTHER_EVENTS < HISTORY_LIMIT / 10


# ------------------------------------------------------------------------------ GlueDefaultArguments


def default_arguments_pattern() -> re.Pattern[str]:
    # CloudFormation requires the whole value to match the pattern (Java regex); fullmatch is the
    # same test in Python, whose re cfn-lint uses on the default.
    return re.compile(PARAMETERS["GlueDefaultArguments"]["AllowedPattern"])


def test_reserved_argument_data_file_has_the_three_lists():
    assert {"glue_reserved", "managed", "job"} <= set(RESERVED)
    assert {"--conf", "--debug", "--mode", "--JOB_NAME", "--scriptLocation"} <= set(RESERVED["glue_reserved"])
    assert "--TempDir" in RESERVED["managed"]


@pytest.mark.parametrize("key", sorted({k for lst in ("glue_reserved", "managed", "job") for k in RESERVED[lst]}))
def test_default_arguments_naming_a_reserved_or_job_key_are_refused(key):
    pattern = default_arguments_pattern()
    default = json.loads(PARAMETERS["GlueDefaultArguments"]["Default"])
    for value in (
        {key: "x"},
        {**default, key: "x"},
        {"--enable-metrics": "true", key: "x"},
    ):
        for text in (json.dumps(value), json.dumps(value, indent=2), json.dumps(value, separators=(",", ":"))):
            assert not pattern.fullmatch(text), f"{key} accepted in {text!r}"
    # Spelled with JSON escapes: refused too.
    escaped = "{" + json.dumps(key, ensure_ascii=False).replace("-", "\\u002d") + ': "x"}'
    assert json.loads(escaped) == {key: "x"}
    assert not pattern.fullmatch(escaped)


def test_default_arguments_pattern_accepts_the_default_and_ordinary_arguments():
    pattern = default_arguments_pattern()
    assert pattern.fullmatch(PARAMETERS["GlueDefaultArguments"]["Default"])
    for ok in (
        "{}",
        '{"--enable-auto-scaling": "true"}',
        '{"--conf-extra": "x", "--modes": "y", "--TempDirs": "z"}',  # longer names are not the reserved ones
        '{"--extra-py-files": "s3://b/p.zip", "--note": "--conf is reserved"}',  # a value may mention one
    ):
        assert pattern.fullmatch(ok), ok
    for bad in ("", "[]", '"--x"', "not json"):
        assert not pattern.fullmatch(bad), bad


def test_every_reserved_key_is_in_the_pattern_and_nothing_else():
    # The pattern lists the keys literally; it must list exactly the data file's keys.
    listed = set(re.search(r'"\((--[^)]*)\)"', PARAMETERS["GlueDefaultArguments"]["AllowedPattern"]).group(1).split("|"))
    assert listed == {k for lst in ("glue_reserved", "managed", "job") for k in RESERVED[lst]}


# ------------------------------------------------------------------------------ samconfig.toml


def test_samconfig_uploads_where_the_stack_may_read_the_script():
    """The Glue job role and ensure-job may read the script only under ArtifactPrefix, which
    defaults to the stack name. `sam deploy --guided` sets s3_prefix to the stack name (and saves
    both); a plain `sam deploy` uses samconfig's s3_prefix, or the bucket root when it has none.
    So every config environment that names a stack must upload under that same name, and none may
    point ArtifactPrefix elsewhere."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert PARAMETERS["ArtifactPrefix"]["Default"] == ""
    checked = 0
    for env, commands in config.items():
        if not isinstance(commands, dict):
            continue
        glob = commands.get("global", {}).get("parameters", {})
        deploy = {**glob, **commands.get("deploy", {}).get("parameters", {})}
        if "stack_name" not in deploy:
            continue
        assert deploy.get("s3_prefix") == deploy["stack_name"], (
            f"[{env}] uploads under s3_prefix {deploy.get('s3_prefix')!r}, but stack {deploy['stack_name']!r} "
            "may read the Glue script only under its own name"
        )
        overrides = deploy.get("parameter_overrides", "")
        if isinstance(overrides, list):
            overrides = " ".join(overrides)
        m = re.search(r'ArtifactPrefix=(?:"([^"]*)"|(\S*))', overrides)
        if m:
            assert (m.group(1) if m.group(1) is not None else m.group(2)) in ("", deploy["stack_name"]), env
        checked += 1
    assert checked, "no config environment names a stack"
