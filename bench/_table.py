"""Run every bench and print one table of its figures beside their goals.

Each ``bench/*.py`` (but the helpers starting with ``_``) runs in its own process, in
turn, so none slows another; its last line is one JSON object of figures. The goals
are data (``bench/goals.toml``). The table lists every numeric figure of every bench;
the last line printed is one JSON object: every figure by ``bench.figure``, and the
goals missed.

    python bench/_table.py [--only abecs,mpos]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def benches() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.name.startswith("_"))


def run_bench(name: str) -> tuple[dict[str, Any] | None, str]:
    """The bench's figures (its last JSON line) and, if it failed, why."""
    # the checkout the bench lives in comes first on the path, so a worktree measures
    # its own code, not whatever copy of cardloop the interpreter has installed
    path = os.pathsep.join(p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": path})
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.lstrip().startswith("{"):
            try:
                return json.loads(line), ""
            except ValueError:
                break
    tail = (proc.stderr.strip().splitlines() or lines or ["no output"])[-1]
    return None, f"exit {proc.returncode}: {tail}"


def verdict(value: Any, goal: dict[str, Any] | None) -> tuple[str, bool | None]:
    if goal is None or not isinstance(value, int | float) or isinstance(value, bool):
        return "", None
    if "at_least" in goal:
        return f">= {goal['at_least']}", value >= goal["at_least"]
    return f"<= {goal['at_most']}", value <= goal["at_most"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated bench names")
    args = parser.parse_args()
    goals: dict[str, dict[str, Any]] = tomllib.loads((HERE / "goals.toml").read_text())
    names = [n for n in benches() if not args.only or n in args.only.split(",")]
    rows: list[tuple[str, str, str, str, str]] = []
    figures: dict[str, Any] = {}
    missed: list[str] = []
    for name in names:
        print(f"running bench/{name}.py ...", flush=True)
        result, error = run_bench(name)
        if result is None:
            rows.append((name, "(failed)", error[:60], "", "FAILED"))
            missed.append(name)
            continue
        for key, value in result.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue  # lists and flags stay in the bench's own output
            figures[f"{name}.{key}"] = value
            goal_text, ok = verdict(value, goals.get(name, {}).get(key))
            status = "" if ok is None else ("met" if ok else "MISSED")
            if ok is False:
                missed.append(f"{name}.{key}")
            rows.append((name, key, f"{value:g}", goal_text, status))
        for key in goals.get(name, {}):
            if key not in result:
                rows.append((name, key, "(absent)", verdict(0, goals[name][key])[0], "MISSED"))
                missed.append(f"{name}.{key}")
    header = ("bench", "figure", "value", "goal", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(json.dumps({"figures": figures, "missed": missed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
