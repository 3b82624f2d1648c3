#!/usr/bin/env python3
"""Print the table of one bench/run.sh results directory, with the ratios simcon/runc and simcon/crun.

    bench/summarize.py bench/results/<timestamp>

Reads the hyperfine exports (run-*.json, cycle-*.json, exec.json, state.json, list.json), pss.tsv, cpu.tsv and
memory.tsv (whichever exist) and writes the same table as summary.md next to them. Stdlib only; bench/plot.py
draws the figure.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

RUNTIMES = ("simcon", "runc", "crun")
TIMED = (
    ("run-bare.json", "run /bin/true, bare bundle"),
    ("run-podman.json", "run /bin/true, podman bundle"),
    ("cycle-bare.json", "create + start + delete, bare"),
    ("cycle-podman.json", "create + start + delete, podman"),
    ("exec.json", "exec /bin/true"),
    ("state.json", "state, 200 containers"),
    ("list.json", "list, 200 containers"),
    # results of older runs
    ("run.json", "run /bin/true"),
    ("cycle.json", "create + start + delete"),
)


def load_times(path: Path) -> dict[str, tuple[float, float]]:
    """runtime -> (mean, stddev) in seconds, from a hyperfine --export-json file."""
    data = json.loads(path.read_text())
    out = {}
    for result in data["results"]:
        out[result["command"]] = (result["mean"], result.get("stddev") or 0.0)
    return out


def load_tsv(path: Path) -> dict[str, dict[str, list[float]]]:
    """what -> runtime -> samples, from `runtime<TAB>what<TAB>value...` lines (memory.tsv, pss.tsv); an old
    memory.tsv has `runtime<TAB>kib` lines, which count as `run`."""
    out: dict[str, dict[str, list[float]]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        runtime, what, value = (fields[0], "run", fields[1]) if len(fields) == 2 else fields[:3]
        out.setdefault(what, {}).setdefault(runtime, []).append(float(value))
    return out


def load_cpu(path: Path) -> dict[str, float]:
    """runtime -> user + system seconds, from cpu.tsv (`runtime<TAB>user<TAB>sys<TAB>wall`)."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            runtime, user, system, _wall = line.split("\t")
            out[runtime] = float(user) + float(system)
    return out


def fmt_time(mean: float, stddev: float) -> str:
    return f"{mean * 1000:.1f} ± {stddev * 1000:.1f} ms"


def ratio(values: dict[str, float], other: str) -> str:
    if "simcon" not in values or other not in values or not values[other]:
        return "-"
    return f"{values['simcon'] / values[other]:.2f}x"


def build_rows(results: Path) -> tuple[list[str], list[list[str]]]:
    present: list[str] = []
    rows: list[list[str]] = []
    tables: list[tuple[str, dict[str, str], dict[str, float]]] = []

    for filename, label in TIMED:
        path = results / filename
        if not path.exists():
            continue
        times = load_times(path)
        cells = {rt: fmt_time(*t) for rt, t in times.items()}
        tables.append((label, cells, {rt: t[0] for rt, t in times.items()}))

    cpu_path = results / "cpu.tsv"
    if cpu_path.exists():
        cpu = load_cpu(cpu_path)
        tables.append(("CPU time, 100 create/start/delete", {rt: f"{v:.2f} s" for rt, v in cpu.items()}, cpu))

    pss_path = results / "pss.tsv"
    if pss_path.exists():
        for what, samples in load_tsv(pss_path).items():
            values = {rt: statistics.median(kib) for rt, kib in samples.items()}
            tables.append((f"Pss of {what}", {rt: f"{v / 1024:.2f} MiB" for rt, v in values.items()}, values))

    mem_path = results / "memory.tsv"
    if mem_path.exists():
        for verb, samples in load_tsv(mem_path).items():
            medians = {rt: statistics.median(kib) for rt, kib in samples.items()}
            cells = {rt: f"{medians[rt] / 1024:.1f} MiB" for rt in samples}
            tables.append((f"max RSS of {verb} (median)", cells, medians))

    for _, cells, _ in tables:
        for rt in cells:
            if rt not in present:
                present.append(rt)
    present.sort(key=lambda rt: RUNTIMES.index(rt) if rt in RUNTIMES else len(RUNTIMES))
    others = [rt for rt in ("runc", "crun") if rt in present]

    header = ["benchmark", *present]
    if "simcon" in present:
        header += [f"simcon/{rt}" for rt in others]
    for label, cells, values in tables:
        row = [label, *(cells.get(rt, "-") for rt in present)]
        if "simcon" in present:
            row += [ratio(values, rt) for rt in others]
        rows.append(row)
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = Path(argv[1])
    header, rows = build_rows(results)
    if not rows:
        print(f"summarize: no results in {results}", file=sys.stderr)
        return 1
    env = results / "env.txt"
    env_text = env.read_text() if env.exists() else ""
    print("mean ± σ (hyperfine); ratios compare means, >1x means simcon is slower / larger")
    print(text_table(header, rows))
    summary = "# SimCon benchmark\n\n```\n" + env_text + "```\n\n" + markdown_table(header, rows) + "\n"
    phases = results / "phases.json"
    if phases.exists():
        phase_rows = [[name, fmt_time(*t)] for name, t in load_times(phases).items()]
        print("\nwhere simcon's time goes (see docs/performance.md, \"Time budget\")")
        print(text_table(["phase", "time"], phase_rows))
        summary += "\n" + markdown_table(["phase", "time"], phase_rows) + "\n"
    (results / "summary.md").write_text(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
