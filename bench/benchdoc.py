"""docs/BENCHMARKS.md, where each benchmark rewrites only its own section."""
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
