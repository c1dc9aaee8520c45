"""``python -m conformance merge DIR... [--reports OUT]``: one report from shard runs.

A CI matrix runs ``python -m conformance --shard I/N --reports DIR_I`` on N machines;
this joins their reports directories into one with the same files a single run
writes: ``summary.json`` and the HTML matrix (rebuilt from the cases of every shard),
``junit.xml`` (one suite holding every test case), ``allure-results/`` and
``transcripts/`` (copied; their names are already unique per case).

The shards must be one run split, not different runs: a seed, mode, profile, strict
or target that differs between them, or a case found in two of them, is an error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.reports import SUMMARY, write_reports
from conformance.results import CaseResult

JUNIT = "junit.xml"
ALLURE = "allure-results"
TRANSCRIPTS = "transcripts"
# run settings that must agree between shards; wall_s and protocols may differ
SAME_RUN = ("seed", "mode", "factor", "strict", "profile", "targets", "serial")
_JUNIT_COUNTS = ("tests", "errors", "failures", "skipped")


class MergeError(ValueError):
    """Reports that cannot be joined into one run."""


def merge_reports(inputs: Sequence[Path], out: Path) -> dict[str, Any]:
    """Join the reports directories ``inputs`` into ``out``; returns the summary."""
    if not inputs:
        raise MergeError("nothing to merge: name the reports directories of the shards")
    resolved_out = out.resolve()
    for d in inputs:
        if not (d / SUMMARY).is_file():
            raise MergeError(f"{d} holds no {SUMMARY}: not a conformance reports directory")
        if d.resolve() == resolved_out:
            raise MergeError(f"the output {out} is one of the inputs")
    summaries = [json.loads((d / SUMMARY).read_text(encoding="utf-8")) for d in inputs]
    run = _joined_run(inputs, summaries)
    results: dict[str, CaseResult] = {}
    where: dict[str, Path] = {}
    for d, data in zip(inputs, summaries, strict=True):
        for case in data.get("cases", []):
            nodeid = case["nodeid"]
            if nodeid in results:
                raise MergeError(f"{nodeid} ran in both {where[nodeid]} and {d}")
            results[nodeid] = CaseResult.from_wire(case)
            where[nodeid] = d
    out.mkdir(parents=True, exist_ok=True)
    for sub in (TRANSCRIPTS, ALLURE):
        target = out / sub
        if target.exists():
            shutil.rmtree(target)  # the merged report holds the shards' files only
        target.mkdir()
        for d in inputs:
            if (d / sub).is_dir():
                shutil.copytree(d / sub, target, dirs_exist_ok=True)
    _merge_junit([d / JUNIT for d in inputs if (d / JUNIT).is_file()], out / JUNIT)
    exit_status = max((int(s.get("exit_status", 0)) for s in summaries), default=0)
    write_reports(out, list(results.values()), run=run, exit_status=exit_status)
    merged: dict[str, Any] = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    return merged


def _joined_run(inputs: Sequence[Path], summaries: list[dict[str, Any]]) -> dict[str, Any]:
    first = summaries[0].get("run", {})
    for d, data in zip(inputs[1:], summaries[1:], strict=True):
        run = data.get("run", {})
        for key in SAME_RUN:
            if run.get(key) != first.get(key):
                raise MergeError(
                    f"{d} is another run: {key} {run.get(key)!r}, not {first.get(key)!r} "
                    f"as in {inputs[0]}"
                )
    joined = dict(first)
    walls = [s.get("run", {}).get("wall_s") for s in summaries]
    # machine time of the whole suite; each shard's own wall time is in its report
    joined["wall_s"] = round(sum(w for w in walls if w is not None), 3)
    return joined


def _merge_junit(paths: list[Path], out: Path) -> None:
    """One ``<testsuites>`` with one ``<testsuite>`` holding every shard's test cases."""
    if not paths:
        return
    suites = []
    for p in paths:
        root = ET.parse(p).getroot()
        suites += [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        return
    merged = ET.Element("testsuite", dict(suites[0].attrib))
    totals = dict.fromkeys(_JUNIT_COUNTS, 0)
    seconds = 0.0
    for suite in suites:
        for key in _JUNIT_COUNTS:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0") or 0)
        for child in suite:
            merged.append(child)
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{seconds:.3f}")
    root = ET.Element("testsuites")
    root.append(merged)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance merge",
        description="Join the reports directories of shard runs (--shard I/N) into one "
        "report: summary.json, matrix.html, junit.xml, allure-results/, transcripts/.",
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="DIR",
                        help="reports directory of one shard")
    parser.add_argument("--reports", "-o", type=Path, default=Path("reports"), metavar="OUT",
                        help="where to write the merged report (default: %(default)s)")
    args = parser.parse_args(list(argv))
    try:
        data = merge_reports(args.inputs, args.reports)
    except MergeError as exc:
        print(f"conformance merge: {exc}", file=sys.stderr)
        return 2
    t = data["totals"]
    print(f"merged {len(args.inputs)} reports into {args.reports}: {t['cases']} case runs; "
          + ", ".join(f"{k} {v}" for k, v in t["by_verdict"].items() if v))
    return 0 if data["passed"] else 1
