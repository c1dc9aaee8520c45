"""``python -m conformance.report``: render the Allure HTML report of the last run.

Allure 3 is a pure Node package, so it comes from the npm registry into a
project-local folder (``.cache/allure`` by default, ignored by git; kept out of
``reports/``, which holds run output only)
the first time it is needed, pinned to :data:`ALLURE_VERSION`; nothing is installed
globally. ``nox -s report`` calls this after ``nox -s conformance``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ALLURE_VERSION = "3.18.0"


class ReportError(Exception):
    pass


def allure_bin(tools: Path) -> Path:
    return tools / "node_modules" / ".bin" / "allure"


def ensure_allure(tools: Path) -> Path:
    """The allure CLI, installed from npm into ``tools`` when missing."""
    exe = allure_bin(tools)
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise ReportError(
            "npm is needed to install Allure (Debian: 'apt-get install nodejs npm')"
        )
    tools.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--prefix", str(tools), "--no-audit", "--no-fund", "--silent",
         f"allure@{ALLURE_VERSION}"],
        check=True,
    )
    if not exe.exists():
        raise ReportError(f"npm did not install the allure CLI into {tools}")
    return exe


DEFAULT_TOOLS = Path(".cache") / "allure"


def render(reports: Path, tools: Path | None = None, out: Path | None = None) -> Path:
    """Render ``reports/allure-results`` into ``reports/allure-report``; returns index.html."""
    results = reports / "allure-results"
    if not results.is_dir() or not any(results.iterdir()):
        raise ReportError(f"no Allure results in {results}: run 'python -m conformance' first")
    exe = ensure_allure(tools if tools is not None else DEFAULT_TOOLS)
    out = out if out is not None else reports / "allure-report"
    name = "cardloop conformance"
    summary = reports / "summary.json"
    if summary.is_file():
        run = json.loads(summary.read_text(encoding="utf-8")).get("run", {})
        name += f" (seed {run.get('seed')}, {run.get('mode')})"
    config = reports / "allurerc.json"
    config.write_text(json.dumps({"name": name, "output": str(out.resolve())}), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(
        [str(exe), "generate", str(results.resolve()), "--config", str(config.resolve()),
         "--output", str(out.resolve())],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    index = out / "index.html"
    if not index.is_file():
        raise ReportError(f"allure wrote no {index}")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.report", description=__doc__)
    p.add_argument("--reports", type=Path, default=Path("reports"))
    p.add_argument("--tools", type=Path, default=None,
                   help="where Allure is installed (default: .cache/allure)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        index = render(args.reports, args.tools, args.out)
    except ReportError as exc:
        print(f"conformance.report: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"conformance.report: {exc}", file=sys.stderr)
        return 1
    print(f"Allure report: {index}")
    print(f"conformance matrix: {args.reports / 'matrix.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
