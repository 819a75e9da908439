"""template.yaml wires the state machine and its functions as docs/CONTRACT.md says.

tools/check-static.sh validates the template (sam validate, cfn-lint, checkov); these tests check
what those tools cannot know: the contract's environment variable names and defaults per
function, the timeout mapping's arithmetic, the dashboard body, the function binaries.
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
# ScriptLocation `sam deploy` rewrites to the uploaded script.
NOT_SET = {"GLUE_SCRIPT_LOCATION"}


def contract_env() -> dict[str, dict[str, str]]:
    """function → {variable: default} from the contract's "Function environment variables"."""
    section = CONTRACT[CONTRACT.index("## Function environment variables") :]
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in section.splitlines():
        if m := re.match(r"^(validate|ensure-job)\b.*:\s*$", line):
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
    return out


CONTRACT_ENV = contract_env()


def variables(function: str) -> dict:
    return RESOURCES[FUNCTIONS[function]]["Properties"].get("Environment", {}).get("Variables", {})


def test_contract_env_tables_are_read():
    assert len(CONTRACT_ENV["validate"]) == 9 and len(CONTRACT_ENV["ensure-job"]) == 13
    assert set(CONTRACT_ENV["start-run"]) == {"SOURCE_KIND", "POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "POLL_GROWTH_PERCENT"}
    assert CONTRACT_ENV["report"] == {"METRICS_NAMESPACE": "RedshiftUnload"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_gets_exactly_the_contracts_variables(function):
    assert set(variables(function)) == set(CONTRACT_ENV[function]) - NOT_SET


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
        contract_default = CONTRACT_ENV[function][name].split(",")[-1].replace("default", "").strip()
        default = _default_of(value)
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


def test_state_machine_substitutes_every_placeholder():
    sm = RESOURCES["UnloadStateMachine"]["Properties"]
    assert sm["DefinitionUri"] == "statemachine/unload.asl.json"
    assert set(sm["DefinitionSubstitutions"]) == placeholders(asl_text())
    for binary, logical in FUNCTIONS.items():
        key = logical.removesuffix("Function") + "FunctionArn"
        assert sm["DefinitionSubstitutions"][key] == {"Fn::GetAtt": [logical, "Arn"]}


def test_execution_timeout_is_the_glue_timeout_plus_margin():
    sub = RESOURCES["UnloadStateMachine"]["Properties"]["DefinitionSubstitutions"]["ExecutionTimeoutSeconds"]
    assert sub == {"Fn::FindInMap": ["ExecutionTimeouts", {"Ref": "GlueJobTimeoutMinutes"}, {"Ref": "GlueMaxRetries"}]}
    table = TEMPLATE["Mappings"]["ExecutionTimeouts"]
    minutes = PARAMETERS["GlueJobTimeoutMinutes"]["AllowedValues"]
    retries = PARAMETERS["GlueMaxRetries"]["AllowedValues"]
    assert set(table) == set(minutes)
    # The margin: the longest wait for a run slot (ConcurrentRunsExceeded, 60 s x1.5^k, 10 tries)
    # plus the longest poll wait (POLL_MAX_SECONDS) must fit in it.
    concurrency_wait = sum(60 * 1.5**k for k in range(10))
    margin = 9000
    assert concurrency_wait + int(PARAMETERS["PollMaxSeconds"]["Default"]) < margin
    for m in minutes:
        assert set(table[m]) == set(retries)
        for r in retries:
            assert table[m][r] == (int(r) + 1) * int(m) * 60 + margin


def test_the_schedule_is_disabled_without_an_expression():
    event = RESOURCES["UnloadStateMachine"]["Properties"]["Events"]["Schedule"]
    assert event["Type"] == "ScheduleV2"
    props = event["Properties"]
    assert props["State"] == {"Fn::If": ["HasScheduleExpression", {"Ref": "ScheduleState"}, "DISABLED"]}
    assert props["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimeZone"}
    assert props["Input"] == {"Ref": "ScheduleInput"}
    assert PARAMETERS["ScheduleExpression"]["Default"] == ""
    json.loads(PARAMETERS["ScheduleInput"]["Default"])


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
    for metric in ("UnloadSucceeded", "UnloadFailed", "UnloadDurationSeconds", "RowsUnloaded", "BytesUnloaded"):
        assert metric in text, metric
    assert all({"type", "x", "y", "width", "height"} <= set(w) for w in body["widgets"])


def test_glue_permissions_are_scoped_to_the_table_jobs():
    for logical in ("EnsureJobFunction", "StartRunFunction", "CheckStatusFunction"):
        for policy in RESOURCES[logical]["Properties"]["Policies"]:
            for st in policy["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert "*" not in actions and not any(a.endswith(":*") for a in actions)
                if any(a.startswith("glue:") for a in actions):
                    resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                    for r in resources:
                        assert r["Fn::Sub"].split(":job/")[1] in ("*_ExtractToDataLake", "${TemplateGlueJob}")
