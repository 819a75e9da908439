"""template.yaml wires the state machine and its functions as docs/CONTRACT.md says.

tools/check-static.sh validates the template (sam validate, cfn-lint, checkov); these tests check
what those tools cannot know: the contract's environment variable names and defaults per
function, the timeout mapping's arithmetic, the IAM scope of the table jobs, the dashboard body,
the function binaries. test_template_rules.py evaluates the template's Rules.
"""

from __future__ import annotations

import json
import re

import pytest
from samcli.yamlhelper import yaml_parse

from harness import CONTRACT_PATH, ROOT, asl_text, placeholders

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
CONTRACT = CONTRACT_PATH.read_text(encoding="utf-8")
FUNCTIONS = {
    "validate": "ValidateFunction",
    "ensure-job": "EnsureJobFunction",
    "start-run": "StartRunFunction",
    "check-status": "CheckStatusFunction",
    "report": "ReportFunction",
}
# Left unset on purpose: ensure-job then reads the script location from the template job, whose
# ScriptLocation `sam deploy` rewrites to the uploaded script; the Glue retries and concurrency are
# pinned in the code (0 and 1), and the variables exist only to refuse an old stack's other value.
NOT_SET = {"GLUE_SCRIPT_LOCATION", "GLUE_MAX_RETRIES", "GLUE_MAX_CONCURRENT_RUNS"}
# Where the stack's default deliberately differs from the code's default (the variable unset).
STACK_DEFAULTS = {
    # The schedule unloads yesterday: today's partition is still being written.
    "UNLOAD_DAY_OFFSET_DAYS": "-1",
}


def contract_env() -> dict[str, dict[str, str]]:
    """function → {variable: default} from the contract's "Function environment variables"."""
    section = CONTRACT[CONTRACT.index("## Function environment variables") :]
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in section.splitlines():
        if m := re.match(r"^(validate|ensure-job|unload-engine)\b.*:\s*$", line):
            current = m.group(1)
            out[current] = {}
        elif current and (m := re.match(r"^\|\s*([A-Z][A-Z0-9_]+)\s*\|\s*([^|]*?)\s*\|", line)):
            out[current][m.group(1)] = m.group(2)
        elif m := re.match(r"^(start-run|check-status|report):\s*(.*)$", line):
            current = None
            out[m.group(1)] = {v: d for v, d in re.findall(r"\b([A-Z][A-Z0-9_]{3,})\b\s*\(([^)]*)\)", m.group(2))}
            if "POLL_* as check-status" in m.group(2):
                out[m.group(1)]["POLL_*"] = ""
    if "POLL_*" in out.get("start-run", {}):
        del out["start-run"]["POLL_*"]
        out["start-run"].update(out["check-status"])
    for function in ("start-run", "check-status", "report"):
        out[function].update(out["unload-engine"])
    return out


CONTRACT_ENV = contract_env()


def variables(function: str) -> dict:
    return RESOURCES[FUNCTIONS[function]]["Properties"].get("Environment", {}).get("Variables", {})


def test_contract_env_tables_are_read():
    assert len(CONTRACT_ENV["validate"]) >= 9 and len(CONTRACT_ENV["ensure-job"]) >= 11
    assert {"SOURCE_KIND", "POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "POLL_GROWTH_PERCENT"} <= set(CONTRACT_ENV["start-run"])
    assert CONTRACT_ENV["report"]["METRICS_NAMESPACE"] == "RedshiftUnload"
    assert len(CONTRACT_ENV["unload-engine"]) == 6 <= len(CONTRACT_ENV["report"])


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_gets_exactly_the_contracts_variables(function):
    assert set(variables(function)) == set(CONTRACT_ENV[function]) - NOT_SET


def test_the_new_variables_carry_what_the_rust_side_expects():
    validate = variables("validate")
    connection = {"Fn::If": ["CreateConnection", {"Ref": "GlueConnection"}, {"Ref": "ExistingGlueConnectionName"}]}
    assert validate["UNLOAD_DEFAULT_GLUE_CONNECTION"] == connection
    assert validate["UNLOAD_ALLOWED_GLUE_CONNECTIONS"] == connection
    assert validate["UNLOAD_DEFAULT_S3_PATH"] == validate["UNLOAD_ALLOWED_S3_PATH"] == {
        "Fn::Sub": "s3://${DataLakeBucketName}/${DataLakePrefix}"
    }
    assert validate["UNLOAD_JOB_NAME_PREFIX"] == {"Fn::Sub": "${AWS::StackName}_"}
    assert validate["UNLOAD_DEFAULT_REDSHIFT_ROLE_ARN"] == {"Ref": "DefaultRedshiftRoleArn"}
    # No empty entry when there are no additional roles.
    assert validate["UNLOAD_ALLOWED_REDSHIFT_ROLE_ARNS"] == {
        "Fn::If": [
            "HasAdditionalRedshiftRoleArns",
            {"Fn::Sub": "${DefaultRedshiftRoleArn},${AdditionalRedshiftRoleArns}"},
            {"Ref": "DefaultRedshiftRoleArn"},
        ]
    }
    assert TEMPLATE["Conditions"]["HasAdditionalRedshiftRoleArns"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AdditionalRedshiftRoleArns"}, ""]}]
    }
    assert validate["SOURCE_KIND"] == variables("start-run")["SOURCE_KIND"] == "redshift"
    for function in ("start-run", "check-status", "ensure-job"):
        assert variables(function)["GLUE_JOB_TIMEOUT_MINUTES"] == {"Ref": "GlueJobTimeoutMinutes"}
    assert variables("ensure-job")["GLUE_JOB_ARN_PREFIX"] == {
        "Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/"
    }
    assert json.loads(variables("ensure-job")["GLUE_JOB_TAGS"]["Fn::Sub"].replace("${AWS::StackName}", "dev")) == {
        "redshift-unload:stack": "dev"
    }


def test_removed_parameters_are_gone():
    for name in ("GlueMaxRetries", "GlueMaxConcurrentRuns", "SourceKind"):
        assert name not in PARAMETERS
        assert name not in json.dumps(TEMPLATE), name


def test_the_redshift_role_is_required_and_a_list_entry():
    role = PARAMETERS["DefaultRedshiftRoleArn"]
    assert "Default" not in role  # CloudFormation then requires a value
    pattern = re.compile(role["AllowedPattern"])
    assert pattern.fullmatch("arn:aws:iam::123456789012:role/service-role/redshift-unload")
    assert pattern.fullmatch("arn:aws-us-gov:iam::123456789012:role/r")
    for bad in ("", "arn:aws:iam::123456789012:role/a,b", "arn:aws:iam::123456789012:user/u"):
        assert not pattern.fullmatch(bad), bad
    extra = re.compile(PARAMETERS["AdditionalRedshiftRoleArns"]["AllowedPattern"])
    assert PARAMETERS["AdditionalRedshiftRoleArns"]["Default"] == ""
    for ok in ("", "arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a,arn:aws-cn:iam::123456789012:role/b"):
        assert extra.fullmatch(ok), ok
    for bad in (",", "arn:aws:iam::123456789012:role/a,", ",arn:aws:iam::123456789012:role/a",
                "arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b"):
        assert not extra.fullmatch(bad), bad


def _default_of(value) -> str | None:
    """The parameter default behind `!Ref Param` (or an `!If [..., !Ref Param, NoValue]`)."""
    if isinstance(value, dict) and "Fn::If" in value:
        value = value["Fn::If"][1]
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in PARAMETERS:
        return str(PARAMETERS[value["Ref"]].get("Default"))
    return None


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_parameter_defaults_are_the_contracts_defaults(function):
    checked = 0
    for name, value in variables(function).items():
        default = _default_of(value)
        if name in STACK_DEFAULTS:
            assert default == STACK_DEFAULTS[name], name
            continue
        contract_default = CONTRACT_ENV[function][name].split(",")[-1].replace("default", "").strip()
        if default is None or contract_default.startswith("(") or contract_default == "{}":
            continue
        assert default == contract_default, f"{function} {name}: template {default!r}, contract {contract_default!r}"
        checked += 1
    assert checked, f"no default of {function} compared"


def test_functions_build_their_binaries_from_the_workspace():
    for binary, logical in FUNCTIONS.items():
        res = RESOURCES[logical]
        assert res["Type"] == "AWS::Serverless::Function"
        assert res["Metadata"]["BuildMethod"] == "rust-cargolambda"
        assert res["Metadata"]["BuildProperties"]["Binary"] == binary
        assert res["Properties"]["CodeUri"] == "./"
    fn = TEMPLATE["Globals"]["Function"]
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == ("provided.al2023", ["arm64"], "bootstrap")
    assert fn["LoggingConfig"]["LogFormat"] == "JSON" and fn["MemorySize"] <= 256
    # WARN would drop Lambda's START and REPORT lines (duration, memory, init time).
    assert fn["LoggingConfig"]["SystemLogLevel"] == "INFO"


def test_state_machine_substitutes_every_placeholder():
    sm = RESOURCES["UnloadStateMachine"]["Properties"]
    assert sm["DefinitionUri"] == "statemachine/unload.asl.json"
    used = placeholders(asl_text())
    assert used <= set(sm["DefinitionSubstitutions"])
    # ${Partition} is used once the ASL's resources say arn:${Partition}:states:::lambda:invoke
    # (issue 10, the ASL side); tools/check-static.sh then requires every substitution to be used.
    assert set(sm["DefinitionSubstitutions"]) - used <= {"Partition"}
    assert sm["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}
    for binary, logical in FUNCTIONS.items():
        key = logical.removesuffix("Function") + "FunctionArn"
        assert sm["DefinitionSubstitutions"][key] == {"Fn::GetAtt": [logical, "Arn"]}


def _retry_sleep(retrier: dict) -> float:
    """The longest a retrier sleeps in all: IntervalSeconds x BackoffRate^k for each retry, each
    capped by MaxDelaySeconds (full jitter only shortens them)."""
    interval = retrier.get("IntervalSeconds", 1)
    rate = retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return sum(min(interval * rate**k, cap) for k in range(retrier.get("MaxAttempts", 3)))


def _task_worst_seconds(state: dict, lambda_timeout: int) -> float:
    """A Task at its longest: every retrier used up, every attempt running into the timeout."""
    retriers = state.get("Retry", [])
    attempts = 1 + sum(r.get("MaxAttempts", 3) for r in retriers)
    timeout = state.get("TimeoutSeconds", lambda_timeout)
    return sum(_retry_sleep(r) for r in retriers) + attempts * timeout


def test_execution_timeout_is_the_glue_timeout_plus_margin():
    sub = RESOURCES["UnloadStateMachine"]["Properties"]["DefinitionSubstitutions"]["ExecutionTimeoutSeconds"]
    assert sub == {"Fn::FindInMap": ["ExecutionTimeouts", {"Ref": "GlueJobTimeoutMinutes"}, "Seconds"]}
    table = TEMPLATE["Mappings"]["ExecutionTimeouts"]
    minutes = PARAMETERS["GlueJobTimeoutMinutes"]["AllowedValues"]
    assert set(table) == set(minutes)
    margin = 18_000
    for m in minutes:
        assert table[m] == {"Seconds": int(m) * 60 + margin}

    # The Glue run must time out before the execution does: everything before the run starts
    # (Validate, EnsureJob, StartRun with its ConcurrentRunsExceeded backoff) and after it ends
    # (the last poll wait, CheckStatus, the reports) fits in the margin, at its worst. Counting
    # every Task once (the loop's earlier polls run inside the Glue timeout) over-counts safely.
    definition = json.loads(
        re.sub(r'"\$\{[^}]+\}"', '"x"', re.sub(r"(?<!\")\$\{[^}]+\}(?!\")", "1", asl_text()))
    )
    lambda_timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    for logical in FUNCTIONS.values():
        assert RESOURCES[logical]["Properties"].get("Timeout", lambda_timeout) == lambda_timeout
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert {"StartRun", "CheckStatus"} <= set(tasks)
    concurrency = [r for r in tasks["StartRun"].get("Retry", []) if "ConcurrentRunsExceeded" in r["ErrorEquals"]]
    assert concurrency and _retry_sleep(concurrency[0]) == pytest.approx(sum(60 * 1.5**k for k in range(10)))
    longest_poll_wait = max(int(v) for v in PARAMETERS["PollMaxSeconds"]["AllowedValues"])
    worst = sum(_task_worst_seconds(s, lambda_timeout) for s in tasks.values()) + longest_poll_wait
    assert worst < margin, f"the workflow may spend {worst:.0f} s besides the Glue run; margin {margin} s"


def test_glue_jobs_never_retry_and_run_alone():
    job = RESOURCES["TemplateGlueJob"]["Properties"]
    assert job["MaxRetries"] == 0
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    ensure = variables("ensure-job")
    assert not {"GLUE_MAX_RETRIES", "GLUE_MAX_CONCURRENT_RUNS"} & set(ensure)


def test_the_schedule_is_disabled_without_an_expression():
    event = RESOURCES["UnloadStateMachine"]["Properties"]["Events"]["Schedule"]
    assert event["Type"] == "ScheduleV2"
    props = event["Properties"]
    assert props["State"] == {"Fn::If": ["SchedulesOneTable", {"Ref": "ScheduleState"}, "DISABLED"]}
    assert props["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimeZone"}
    assert props["Input"] == {"Ref": "ScheduleInput"}
    assert PARAMETERS["ScheduleExpression"]["Default"] == ""
    json.loads(PARAMETERS["ScheduleInput"]["Default"])


def test_one_schedule_runs_the_batch_when_it_has_a_table_list_and_the_single_table_otherwise():
    conditions = TEMPLATE["Conditions"]
    assert conditions["SchedulesTheBatch"] == {"Fn::And": [{"Condition": "HasScheduleExpression"},
                                                            {"Condition": "HasBatchTablesUri"}]}
    assert conditions["SchedulesOneTable"] == {"Fn::And": [{"Condition": "HasScheduleExpression"},
                                                            {"Fn::Not": [{"Condition": "HasBatchTablesUri"}]}]}
    props = RESOURCES["BatchStateMachine"]["Properties"]["Events"]["Schedule"]["Properties"]
    assert props["State"] == {"Fn::If": ["SchedulesTheBatch", {"Ref": "ScheduleState"}, "DISABLED"]}
    uri = "s3://config-bucket/batch/tables.json"
    assert json.loads(props["Input"]["Fn::Sub"].replace("${BatchTablesUri}", uri)) == {"Name": "scheduled", "TablesUri": uri}


def test_plan_checks_entries_with_validates_own_variables():
    plan = RESOURCES["PlanFunction"]["Properties"]["Environment"]["Variables"]
    validate = variables("validate")
    assert {k: v for k, v in plan.items() if k != "UNLOAD_STATE_MACHINE_ARN"} == validate
    assert plan["UNLOAD_STATE_MACHINE_ARN"] == {"Ref": "UnloadStateMachine"}
    summarize = RESOURCES["SummarizeFunction"]["Properties"]["Environment"]["Variables"]
    assert summarize == {"UNLOAD_STATE_MACHINE_ARN": {"Ref": "UnloadStateMachine"},
                         "METRICS_NAMESPACE": {"Ref": "MetricsNamespace"}}


def test_the_batch_may_start_and_read_only_this_stacks_unload_workflow():
    children = {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-unload:*"}
    sm = RESOURCES["BatchStateMachine"]["Properties"]
    statements = [s for p in sm["Policies"] if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["StartTheUnloadWorkflow"]["Resource"] == {"Ref": "UnloadStateMachine"}
    assert by_sid["FollowTheChildren"]["Resource"] == children
    for function in ("PlanFunction", "SummarizeFunction"):
        policy = RESOURCES[function]["Properties"]["Policies"][0]["Statement"]
        describe = [s for s in policy if isinstance(s, dict) and s.get("Action") == "states:DescribeExecution"]
        assert describe and describe[0]["Resource"] == children
    plan_policy = RESOURCES["PlanFunction"]["Properties"]["Policies"][0]["Statement"]
    (read_list,) = [s["Fn::If"] for s in plan_policy if isinstance(s, dict) and "Fn::If" in s]
    assert read_list[0] == "HasBatchTablesUri" and read_list[1]["Action"] == "s3:GetObject"
    # The one object: s3://bucket/key → arn:...:s3:::bucket/key.
    template, values = read_list[1]["Resource"]["Fn::Sub"]
    assert template == "arn:${AWS::Partition}:s3:::${Object}"
    assert values["Object"] == {"Fn::Join": ["", {"Fn::Split": ["s3://", {"Ref": "BatchTablesUri"}]}]}
    subs = sm["DefinitionSubstitutions"]
    assert set(subs) == placeholders((ROOT / "statemachine" / "batch.asl.json").read_text(encoding="utf-8"))
    assert subs["BatchMaxConcurrency"] == {"Ref": "BatchMaxConcurrency"}
    assert PARAMETERS["BatchMaxConcurrency"]["MaxValue"] == 40  # an inline Map's concurrency limit


def test_state_machine_logs_without_execution_data_and_traces():
    props = RESOURCES["UnloadStateMachine"]["Properties"]
    assert props["Tracing"] == {"Enabled": True}
    assert PARAMETERS["StateMachineLogLevel"]["Default"] in {"ERROR", "ALL"}
    assert PARAMETERS["StateMachineLogExecutionData"]["Default"] == "false"


def _fill(text: str) -> str:
    return re.sub(r"\$\{[^}]+\}", "x", text)


def test_dashboard_body_is_json_with_the_contract_metrics():
    body_template = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    body = json.loads(_fill(body_template))
    text = json.dumps(body)
    for metric in ("UnloadSucceeded", "UnloadFailed", "UnloadDurationSeconds", "RowsUnloaded", "BytesUnloaded",
                   "UnloadWarnings"):
        assert metric in text, metric
    assert all({"type", "x", "y", "width", "height"} <= set(w) for w in body["widgets"])


def _statements(logical: str) -> list[dict]:
    out = []
    for policy in RESOURCES[logical]["Properties"].get("Policies", []):
        for st in policy.get("Statement", []):
            if isinstance(st, dict) and "Fn::If" in st:
                st = st["Fn::If"][1]
            out.append(st)
    return out


def _as_list(x) -> list:
    return x if isinstance(x, list) else [x]


THIS_STACKS_JOBS = {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/${AWS::StackName}_*"}
TEMPLATE_JOB = {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/${TemplateGlueJob}"}


def test_glue_permissions_are_scoped_to_this_stacks_table_jobs():
    expected = {
        "EnsureJobFunction": {"glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:TagResource", "glue:GetTags"},
        "StartRunFunction": {"glue:StartJobRun", "glue:GetJobRuns"},
        "CheckStatusFunction": {"glue:GetJobRun"},
        "ReportFunction": {"glue:GetJobRun", "glue:BatchStopJobRun"},
        "ValidateFunction": set(),
    }
    for logical, actions_expected in expected.items():
        granted = set()
        for st in _statements(logical):
            actions = _as_list(st["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions)
            glue = {a for a in actions if a.startswith("glue:")}
            if not glue:
                continue
            granted |= glue
            resources = _as_list(st["Resource"])
            if glue == {"glue:GetJob"} and logical == "EnsureJobFunction":
                assert resources == [THIS_STACKS_JOBS, TEMPLATE_JOB]
            else:
                assert resources == [THIS_STACKS_JOBS], (logical, st)
        assert granted == actions_expected, logical


def test_kms_permissions_only_with_a_lake_key():
    def kms_statements(statements):
        out = []
        for st in statements:
            if isinstance(st, dict) and "Fn::If" in st:
                cond, then, other = st["Fn::If"]
                if any(a.startswith("kms:") for a in _as_list(then["Action"])):
                    assert cond == "HasDataLakeKmsKey" and other == {"Ref": "AWS::NoValue"}
                    assert then["Resource"] == {"Ref": "DataLakeKmsKeyArn"}
                    out.append(then)
            elif any(a.startswith("kms:") for a in _as_list(st["Action"])):
                raise AssertionError(f"unconditional KMS permission: {st}")
        return out

    glue_role = RESOURCES["GlueJobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (glue_kms,) = kms_statements(glue_role)
    assert set(glue_kms["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    report = [st for p in RESOURCES["ReportFunction"]["Properties"]["Policies"] for st in p["Statement"]]
    (report_kms,) = kms_statements(report)
    assert _as_list(report_kms["Action"]) == ["kms:Decrypt"]
    for logical in ("ValidateFunction", "EnsureJobFunction", "StartRunFunction", "CheckStatusFunction"):
        kms_statements([st for p in RESOURCES[logical]["Properties"].get("Policies", []) for st in p["Statement"]])
    key = PARAMETERS["DataLakeKmsKeyArn"]
    assert key["Default"] == ""
    assert re.fullmatch(key["AllowedPattern"], "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert not re.fullmatch(key["AllowedPattern"], "alias/aws/s3")


def test_the_schedule_defaults_to_yesterday():
    assert PARAMETERS["DayOffsetDays"]["Default"] == -1
    assert "yesterday" in PARAMETERS["ScheduleInput"]["Description"]


def test_the_completion_path_has_the_least_it_needs():
    waits = "${GlueTempPrefix}/waits"
    objects = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{DataLakeBucketName}}/{waits}/*"}
    # The state machine leaves and forgets the token there, and nowhere else.
    sm = RESOURCES["UnloadStateMachine"]["Properties"]
    assert sm["DefinitionSubstitutions"]["WaitBucket"] == {"Ref": "DataLakeBucketName"}
    assert sm["DefinitionSubstitutions"]["WaitPrefix"] == {"Fn::Sub": waits}
    (token,) = [s for s in _statements("UnloadStateMachine") if s.get("Sid") == "LeaveAndForgetTheWaitToken"]
    assert sorted(token["Action"]) == ["s3:DeleteObject", "s3:PutObject"] and token["Resource"] == objects
    # complete reads the token, wakes only this stack's unload workflow, and lists nothing else.
    complete = RESOURCES["CompleteFunction"]["Properties"]
    assert complete["Environment"]["Variables"] == {
        "WAIT_TOKEN_URI": {"Fn::Sub": f"s3://${{DataLakeBucketName}}/{waits}"},
        "RUN_NAME_PREFIX": {"Fn::Sub": "${AWS::StackName}_"},
    }
    by_sid = {s["Sid"]: s for s in _statements("CompleteFunction")}
    assert by_sid["ReadTheWaitToken"]["Action"] == "s3:GetObject" and by_sid["ReadTheWaitToken"]["Resource"] == objects
    assert by_sid["WakeTheWaitingExecution"] == {"Sid": "WakeTheWaitingExecution", "Effect": "Allow",
                                                 "Action": "states:SendTaskSuccess",
                                                 "Resource": {"Ref": "UnloadStateMachine"}}
    assert by_sid["TellAMissingTokenFromAPermissionsProblem"]["Action"] == "s3:ListBucket"
    assert set(by_sid) == {"ReadTheWaitToken", "TellAMissingTokenFromAPermissionsProblem", "WakeTheWaitingExecution",
                           "ReadTheWaitTokenWithTheLakeKey"}
    # Its rules hear only this stack's runs (job and statement names carry the prefix) ending.
    rules = {name: e["Properties"]["Pattern"] for name, e in complete["Events"].items()}
    assert set(rules) == {"GlueRunEnded", "StatementEnded"}
    assert rules["GlueRunEnded"]["detail"] == {"jobName": [{"prefix": {"Fn::Sub": "${AWS::StackName}_"}}],
                                               "state": ["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"]}
    assert rules["StatementEnded"]["detail"] == {"statementName": [{"prefix": {"Fn::Sub": "${AWS::StackName}_"}}],
                                                 "state": ["FINISHED", "FAILED", "ABORTED"]}
