#!/usr/bin/env python3
"""Draw one bench/run.sh results directory as a PNG: every benchmark as simcon's ratio to runc and to crun.

    bench/plot.py bench/results/<timestamp> [OUT.png]      (default: DIR/ratios.png)

One horizontal bar pair per row of the summary table (bench/summarize.py reads the results), a line at 1.0
(as fast / as small as the other runtime), and the machine, versions and commit from env.txt under the title,
so the figure carries its own provenance. Needs matplotlib: `pip install -e '.[bench]'` (make bench does it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write a file
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from summarize import build_rows  # noqa: E402


def ratios(results: Path) -> tuple[list[str], dict[str, list[float | None]]]:
    """Row labels, and for runc and crun the simcon/other ratio of each row (None where not measured)."""
    header, rows = build_rows(results)
    labels: list[str] = []
    values: dict[str, list[float | None]] = {}
    columns = {name.split("/", 1)[1]: i for i, name in enumerate(header) if name.startswith("simcon/")}
    for row in rows:
        if not any(row[i].endswith("x") for i in columns.values()):
            continue  # measured for simcon alone (its monitor): nothing to compare
        labels.append(row[0])
        for other, index in columns.items():
            cell = row[index]
            values.setdefault(other, []).append(float(cell[:-1]) if cell.endswith("x") else None)
    return labels, values


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else results / "ratios.png"
    labels, values = ratios(results)
    if not labels or not values:
        print(f"plot: no ratios in {results} (simcon and runc or crun must both be measured)", file=sys.stderr)
        return 1
    env = (results / "env.txt").read_text() if (results / "env.txt").exists() else ""
    facts = dict(line.split(": ", 1) for line in env.splitlines() if ": " in line)
    subtitle = ", ".join(f"{key} {facts[key]}" for key in ("simcon commit", "kernel", "cpus", "runc", "crun", "date")
                         if key in facts)

    height = 0.38
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(labels) + 1.6))
    for offset, (other, color) in enumerate((("runc", "#4c72b0"), ("crun", "#dd8452"))):
        if other not in values:
            continue
        ys = [i + offset * height for i in range(len(labels))]
        xs = [v if v is not None else 0 for v in values[other]]
        ax.barh(ys, xs, height=height, color=color, label=f"simcon / {other}")
        for y, v in zip(ys, values[other]):
            if v is not None:
                ax.text(v, y, f" {v:.2f}x", va="center", fontsize=7)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks([i + height / 2 for i in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("simcon's time or memory as a multiple of the other runtime's (1.0 = equal; lower is better)")
    ax.set_title("SimCon next to runc and crun, same machine, same run", fontsize=11)
    fig.text(0.01, 0.005, subtitle, fontsize=6, color="#444444")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
