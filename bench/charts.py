"""The charts of docs/BENCHMARKS.md (matplotlib, Agg backend: no display needed).

    docs/detection-latency.png  worst-case detection latency and state transitions against the
                                Glue run's length, per waiting policy (bench/orchestration_bench.py
                                draws it from the rows it has just measured)
    docs/lambda-footprint.png   Lambda init time and peak RSS, Rust against the Python baseline
                                (bench/lambda_bench.py --update-docs and bench/run_all.py draw it
                                from the figures just measured, or from the doc's Lambda table when
                                that bench did not run)

`python bench/charts.py lambda` redraws the Lambda chart from the doc's table.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DETECTION_PNG = DOCS / "detection-latency.png"
LAMBDA_PNG = DOCS / "lambda-footprint.png"
LAMBDA_SECTION = "## Lambda start-up and footprint"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    # No "Software" text chunk (matplotlib's version): the same figures give the same bytes.
    fig.savefig(path, dpi=110, metadata={"Software": None}, bbox_inches="tight")


def detection_latency(series: dict[str, list[tuple[int, float, int]]], path: Path = DETECTION_PNG) -> Path:
    """series: label -> [(run minutes, worst-case detection latency s, state transitions)]."""
    plt = _pyplot()
    fig, (lat, tr) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = ["o-", "s-", "^-", "D--", "v--"]
    for (label, points), style in zip(series.items(), styles):
        points = sorted(points)
        xs = [m / 60 for m, _, _ in points]
        lat.plot(xs, [p[1] for p in points], style, label=label)
        tr.plot(xs, [p[2] for p in points], style, label=label)
    for ax in (lat, tr):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Glue run length (log)")
        ax.grid(True, which="both", alpha=0.3)
        ticks = sorted({m / 60 for pts in series.values() for m, _, _ in pts})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t * 60:.0f} min" if t < 1 else f"{t:g} h" for t in ticks])
        ax.minorticks_off()
    lat.set_ylabel("worst-case detection latency (s, log)")
    lat.set_title("How late the end of the run can be noticed")
    tr.set_ylabel("state transitions per execution (log)")
    tr.set_title("What the wait costs (transitions)")
    lat.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def lambda_footprint(pairs: list[tuple[str, float, float, float, float]], path: Path = LAMBDA_PNG) -> Path:
    """pairs: (function, Rust init ms, Python init ms, Rust peak RSS MB, Python peak RSS MB)."""
    plt = _pyplot()
    fig, (init, rss) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [p[0] for p in pairs]
    xs = range(len(pairs))
    width = 0.38
    for ax, (ri, pi), unit, title, log in (
        (init, (1, 2), "ms", "Init (process start to first /next), median", True),
        (rss, (3, 4), "MB", "Peak RSS (VmHWM), median", False),
    ):
        rust = [p[ri] for p in pairs]
        py = [p[pi] for p in pairs]
        ax.bar([x - width / 2 for x in xs], rust, width, label="Rust", color="#b7410e")
        ax.bar([x + width / 2 for x in xs], py, width, label="Python (+ boto3)", color="#3776ab")
        for x, r, p in zip(xs, rust, py):
            ax.annotate(f"{r:.1f}", (x - width / 2, r), ha="center", va="bottom", fontsize=7)
            ax.annotate(f"{p:.0f}" if p >= 10 else f"{p:.1f}", (x + width / 2, p), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_ylabel(unit + (" (log)" if log else ""))
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def lambda_pairs_from_figures(figures) -> list[tuple[str, float, float, float, float]]:
    """From bench/lambda_bench.py's Figures (as its `pairs` orders them: Rust, Python)."""
    import lambda_bench

    return [(r.function, r.init_ms, p.init_ms, r.peak_rss_mb, p.peak_rss_mb) for r, p in lambda_bench.pairs(figures)]


def lambda_pairs_from_doc(doc: Path = DOCS / "BENCHMARKS.md") -> list[tuple[str, float, float, float, float]]:
    """The same figures from the Lambda section's table (the latest measured run)."""
    text = doc.read_text(encoding="utf-8")
    start = text.index(LAMBDA_SECTION + "\n")
    end = text.find("\n## ", start + len(LAMBDA_SECTION))
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for line in text[start:end if end != -1 else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 9 or not re.match(r"^[\d.,]+$", cells[3]):
            continue
        runtime = "rust" if cells[2].startswith("Rust") else "python" if cells[2].startswith("Python") else None
        if runtime:
            num = lambda s: float(s.replace(",", ""))  # noqa: E731
            rows.setdefault(cells[0], {})[runtime] = (num(cells[3]), num(cells[7]))
    pairs = [(f, r["rust"][0], r["python"][0], r["rust"][1], r["python"][1])
             for f, r in rows.items() if {"rust", "python"} <= set(r)]
    if not pairs:
        raise SystemExit(f"charts: no Rust/Python rows in {doc.name} '{LAMBDA_SECTION}'")
    return pairs


def main(argv: list[str]) -> int:
    if argv[1:] == ["lambda"]:
        print(lambda_footprint(lambda_pairs_from_doc()).relative_to(ROOT))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    sys.exit(main(sys.argv))
