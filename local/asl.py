"""statemachine/unload.asl.json and its `${Name}` placeholders, filled as CloudFormation's
DefinitionSubstitutions fills them (textually). Shared by the local stack and the state machine tests."""
import re
from pathlib import Path

ASL_PATH = Path(__file__).resolve().parents[1] / "statemachine" / "unload.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


def asl_text() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def substitute(text: str, values: dict[str, str]) -> str:
    """Replaces every ${Name}; a placeholder without a value is a KeyError naming it."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"no substitution for ${{{m.group(1)}}}")
        return values[m.group(1)]

    return PLACEHOLDER.sub(repl, text)
