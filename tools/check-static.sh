#!/usr/bin/env bash
# Static checks of the deployable parts: template.yaml and the state machines (statemachine/*.asl.json).
# Run by `make check-static` (part of `make test`) after tools/install-deps.sh. Offline: AWS
# credentials are dummies and nothing is deployed.
#
#   1. sam validate            SAM's own translation rules
#   2. sam validate --lint     cfn-lint on the template (each catches what the other misses)
#   3. substitutions           every ${X} in the ASL is a DefinitionSubstitution and vice versa;
#                              every inline checkov suppression has a written reason
#   4. asl-validator           the ASL (substituted with dummies): schema, Next targets, reachability
#   5. checkov                 on template.yaml and on its SAM translation (the generated roles,
#                              state machine and schedule): zero failed checks; every inline
#                              suppression must carry a written reason
#
# Runs every check, prints one line per check, exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
SAM=.venv/bin/sam
CHECKOV=.venv/bin/checkov
ASLV=tools/node_modules/.bin/asl-validator
TEMPLATE=template.yaml
ASLS=(statemachine/unload.asl.json statemachine/batch.asl.json)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Offline and quiet: dummy credentials, no instance metadata, no telemetry, no update checks.
export AWS_ACCESS_KEY_ID=AKIDUMMYSTATICCHECK AWS_SECRET_ACCESS_KEY=dummy AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

failed=()
step() { # step <name> <command...>: runs the command, shows its output only when it fails
  local name=$1; shift
  local t0=$SECONDS
  if "$@" >"$work/out" 2>&1; then
    printf '  ok    %-44s (%ds)\n' "$name" $((SECONDS - t0))
  else
    printf '  FAIL  %-44s (%ds)\n' "$name" $((SECONDS - t0))
    sed 's/^/        /' "$work/out"
    failed+=("$name")
  fi
}

for tool in "$PY" "$SAM" "$CHECKOV"; do
  [ -x "$tool" ] || { echo "check-static: $tool missing; run tools/install-deps.sh (or make deps)" >&2; exit 2; }
done
[ -x "$ASLV" ] || { echo "check-static: $ASLV missing; run tools/install-deps.sh (npm ci --prefix tools)" >&2; exit 2; }

echo "check-static: $TEMPLATE and ${ASLS[*]}"

step "sam validate" "$SAM" validate --template-file "$TEMPLATE" --region us-east-1
step "sam validate --lint (cfn-lint)" "$SAM" validate --lint --template-file "$TEMPLATE" --region us-east-1

# -- 3 and the inputs of 4 and 5: one Python pass over the template and the ASL -------------------
substitutions() {
  "$PY" - "$TEMPLATE" "$1" "$2" <<'PYEOF'
import json, re, sys
from samcli.yamlhelper import yaml_parse

template_path, asl_path, out_path = sys.argv[1:]
template = yaml_parse(open(template_path).read())
text = open(asl_path).read()
machines = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"}
errors = []
for name, res in machines.items():
    props = res["Properties"]
    if props.get("DefinitionUri") != asl_path:
        continue
    given = set(props.get("DefinitionSubstitutions", {}))
    used = set(re.findall(r"\$\{([^}]*)\}", text))
    for x in sorted(used - given):
        errors.append(f"{asl_path} uses ${{{x}}} but {name}.DefinitionSubstitutions does not define it")
    for x in sorted(given - used):
        errors.append(f"{name}.DefinitionSubstitutions defines {x} but {asl_path} never uses ${{{x}}}")
    break
else:
    errors.append(f"no AWS::Serverless::StateMachine in {template_path} has DefinitionUri: {asl_path}")

# The definition with dummies, as CloudFormation would substitute it: a placeholder that is a whole
# string is a function ARN (or its WHOLE_STRINGS value), one inside a string takes its value from
# INSIDE_STRINGS (the partition of arn:${Partition}:states:::lambda:invoke), a bare one is a number
# (the overall timeout).
INSIDE_STRINGS = {"Partition": "aws", "WaitPrefix": "unload-tmp/waits"}
WHOLE_STRINGS = {"WaitBucket": "datalake"}  # the one whole-string placeholder that is no function
dummy = re.sub(r'"\$\{([^}]*)\}"', lambda m: json.dumps(WHOLE_STRINGS.get(
    m.group(1), f"arn:aws:lambda:us-east-1:123456789012:function:{m.group(1)}")), text)
def inside(m):
    if m.group(1) not in INSIDE_STRINGS:
        errors.append(f"{asl_path}: no dummy value for ${{{m.group(1)}}} inside a string (add it to INSIDE_STRINGS)")
        return m.group(0)
    return INSIDE_STRINGS[m.group(1)]
# Left to right over the JSON string literals, so a bare placeholder is never taken for one.
dummy = re.sub(r'"(?:[^"\\\n]|\\.)*"', lambda s: re.sub(r"\$\{([^}]*)\}", inside, s.group(0)), dummy)
dummy = re.sub(r"\$\{([^}]*)\}", "3600", dummy)
try:
    json.loads(dummy)
except ValueError as e:
    errors.append(f"{asl_path} is not JSON once substituted: {e}")
open(out_path, "w").write(dummy)

# Every checkov suppression needs a reason a reviewer can read (checked here, enforced by 5).
def skips(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "checkov" and isinstance(v, dict):
                for s in v.get("skip", []):
                    if len(str(s.get("comment", "")).strip()) < 20:
                        errors.append(f"{path}: checkov skip {s.get('id')} has no written reason")
            else:
                skips(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            skips(v, f"{path}[{i}]")
skips(template.get("Resources", {}), "Resources")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PYEOF
}
for asl in "${ASLS[@]}"; do
  name=$(basename "$asl" .asl.json)
  step "substitutions ($name), checkov skip reasons" substitutions "$asl" "$work/$name.json"
  if [ -s "$work/$name.json" ]; then
    step "asl-validator ($name)" "$ASLV" --json-path "$work/$name.json"
  else
    printf '  FAIL  %-44s\n' "asl-validator ($name: no substituted ASL)"; failed+=("asl-validator $name")
  fi
done

# -- 5: checkov on the template as written, and on the CloudFormation SAM makes of it --------------
translate() {
  "$PY" - "$TEMPLATE" "$work/translated.json" <<'PYEOF'
import json, sys
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

src, dst = sys.argv[1:]
template = yaml_parse(open(src).read())
# Local paths become what `sam deploy` uploads them as; nothing is read from S3.
for res in template["Resources"].values():
    props = res.get("Properties", {})
    if res["Type"] == "AWS::Serverless::Function":
        props["CodeUri"] = "s3://artifacts/function.zip"
    if res["Type"] == "AWS::Serverless::StateMachine":
        props["DefinitionUri"] = "s3://artifacts/definition.json"

class ManagedPolicies:  # the managed policies SAM attaches, without asking IAM
    def load(self):
        return {name: f"arn:aws:iam::aws:policy/{path}{name}" for path, name in [
            ("service-role/", "AWSLambdaBasicExecutionRole"), ("", "AWSXrayWriteOnlyAccess")]}

json.dump(transform(template, {}, ManagedPolicies()), open(dst, "w"), indent=1)
PYEOF
}
checkov_on() { # checkov_on <file>: zero failed checks, or it fails with the findings
  "$CHECKOV" --file "$1" --framework cloudformation --skip-download --quiet --compact --output cli
}
step "checkov template.yaml" checkov_on "$TEMPLATE"
step "SAM translation (samtranslator, offline)" translate
if [ -s "$work/translated.json" ]; then
  step "checkov on the SAM translation" checkov_on "$work/translated.json"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "check-static: ${#failed[@]} check(s) failed: ${failed[*]}"
  exit 1
fi
echo "check-static: all checks passed"
