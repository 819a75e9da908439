"""statemachine/unload.asl.json (and batch.asl.json) and their `${Name}` placeholders, filled as
CloudFormation's DefinitionSubstitutions fills them (textually). Shared by the local stack and the
state machine tests."""
import re
from pathlib import Path

STATEMACHINE_DIR = Path(__file__).resolve().parents[1] / "statemachine"
ASL_PATH = STATEMACHINE_DIR / "unload.asl.json"
BATCH_ASL_PATH = STATEMACHINE_DIR / "batch.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


def asl_text(path: Path = ASL_PATH) -> str:
    return path.read_text(encoding="utf-8")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def substitute(text: str, values: dict[str, str]) -> str:
    """Replaces every ${Name}; a placeholder without a value is a KeyError naming it."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"no substitution for ${{{m.group(1)}}}")
        return values[m.group(1)]

    return PLACEHOLDER.sub(repl, text)
