"""docs/BENCHMARKS.md, where each benchmark rewrites only its own section."""
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def replace_section(heading: str, section: str) -> None:
    """Replaces `heading`'s section (up to the next '## ' heading) with `section`, which starts
    with the heading; appends it when the document has no such section."""
    text = DOC.read_text(encoding="utf-8")
    section = section.rstrip("\n") + "\n"
    start = text.find(heading + "\n")
    if start == -1:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    end = text.find("\n## ", start + len(heading))
    rest = "" if end == -1 else "\n" + text[end + 1:]
    DOC.write_text(text[:start] + section + rest, encoding="utf-8")


def write(heading: str, section: str, who: str) -> None:
    """Replaces the section and says so on stderr."""
    replace_section(heading, section)
    print(f"{who}: wrote {DOC.relative_to(DOC.parents[1])} ({heading})", file=sys.stderr)


def exit_status(results: list[tuple[bool, str]], who: str) -> int:
    """1 (and the missed targets on stderr) when a target was missed, else 0."""
    missed = [what for passed, what in results if not passed]
    if missed:
        print(f"{who}: target missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0
