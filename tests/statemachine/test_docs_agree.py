"""The README quotes figures measured by `make bench`: they must be the measured ones. When a
bench run rewrites docs/BENCHMARKS.md, this fails until the README says the same."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else None]


def engine_rows() -> dict[tuple[str, str], list[str]]:
    """(scope, engine) → the Engines table's cells."""
    rows = {}
    for line in section((ROOT / "docs" / "BENCHMARKS.md").read_text(), "## Engines").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 8 and not line.startswith("|---") and cells[0] != "scope":
            rows[(cells[0], cells[1])] = cells
    return rows


def test_the_readmes_engine_speeds_are_the_benchmarks():
    readme = (ROOT / "README.md").read_text()
    (speed,) = [line for line in section(readme, "### Choosing an engine").splitlines()
                if line.startswith("| local speed")]
    glue_cell, unload_cell = [c.strip() for c in speed.strip().strip("|").split("|")][1:]
    rows = engine_rows()
    glue_full, unload_full = rows[("whole table, flat", "glue")], rows[("whole table, flat", "unload")]
    glue_day, unload_day = rows[("one day (hot day)", "glue")], rows[("one day (hot day)", "unload")]

    def seconds(cell: str) -> str:
        return f"{float(cell):.1f} s"

    assert f"{glue_full[2]} rows in {seconds(glue_full[3])} ({glue_full[4]} rows/s, {glue_full[6]} file" in glue_cell
    assert f"10,000 rows in {seconds(glue_day[3])}" in glue_cell
    assert (f"whole table in {seconds(unload_full[3])} ({unload_full[4]} rows/s, {unload_full[5]} of the raw "
            f"COPY read rate, {unload_full[6]} files") in unload_cell
    assert f"the demo day in {float(unload_day[3]):.2f} s" in unload_cell
    assert re.search(r"\d", glue_cell) and re.search(r"\d", unload_cell)
