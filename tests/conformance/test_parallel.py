"""The suite split over cores (pytest-xdist) or machines (--shard + merge) reports the
same run as one process: verdicts, case ids, summary, matrix, JUnit and Allure results.

A small subset runs three ways, each ``python -m conformance`` in a subprocess on this
worktree's code: serially, with ``-n 2``, and as shards 1/2 and 2/2 merged afterwards.
The subset mixes real cases (the ABECS link layer) with made-up ones that give every
verdict, a parametrised case and a Hypothesis property.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.plugin import shard_of

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "conformance" / "cases" / "abecs" / "test_link.py"

MADE_UP = """
import pytest
from hypothesis import given, strategies as st
from conformance import case
from conformance.verdict import Unimplemented

@case("demo/1/1", title="passes")
def test_pass(world):
    world.transcript.event("pos", "hello")

@case("demo/1/2", title="deviates")
def test_non_strict(verdict):
    verdict.non_strict("lower-case keys")

@case("demo/1/3", title="notes")
def test_informational(verdict):
    verdict.informational("answered in 3 s")

@case("demo/2/1", title="not there")
def test_unimplemented():
    raise Unimplemented("no refunds")

@case("demo/2/2", title="breaks", failure="the server loses money")
def test_fail(world):
    world.transcript.event("pos", "about to fail")
    assert 1 == 2, "one is not two"

@case("demo/3/1", title="each size")
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_sizes(world, size):
    world.transcript.event("pos", f"size {size}")

@case("demo/3/2", title="a property")
@given(st.integers(0, 1000))
def test_property(world, n):
    world.transcript.event("pos", f"n {n}")
    assert n >= 0
"""


def _run(cwd: Path, reports: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", str(cwd / "cases"), str(REAL),
         "--reports", str(reports), "--examples", "20", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )


def _summary(reports: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((reports / "summary.json").read_text())
    data["run"].pop("wall_s")
    for c in data["cases"]:
        c.pop("duration_s")
    return data


def _junit(reports: Path) -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    cases = []
    for tc in ET.parse(reports / "junit.xml").getroot().iter("testcase"):
        outcome = ",".join(sorted(child.tag for child in tc if child.tag != "properties"))
        props = tuple((p.get("name", ""), p.get("value", "")) for p in tc.iter("property"))
        cases.append((tc.get("classname", ""), tc.get("name", ""), outcome, props))
    return sorted(cases)


def _allure(reports: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    out = []
    for f in (reports / "allure-results").glob("*-result.json"):
        d = json.loads(f.read_text())
        steps = tuple(s["name"] for s in d.get("steps", []))
        out.append((d["historyId"], d["name"], d["status"], steps))
    return sorted(out)


def _matrix(reports: Path) -> str:
    return (reports / "matrix.html").read_text()


def _transcripts(reports: Path) -> dict[str, str]:
    """The JSON Lines transcripts; of the HTML pages (which show timings) only the names."""
    return {
        p.name: p.read_text() if p.suffix == ".jsonl" else ""
        for p in sorted((reports / "transcripts").iterdir())
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("parallel")
    (base / "cases").mkdir()
    (base / "cases" / "test_made_up.py").write_text(MADE_UP)
    out = {name: base / name for name in ("serial", "xdist", "shard1", "shard2", "merged")}
    procs = {
        "serial": _run(base, out["serial"]),
        "xdist": _run(base, out["xdist"], "-n", "2"),
        "shard1": _run(base, out["shard1"], "--shard", "1/2"),
        "shard2": _run(base, out["shard2"], "--shard", "2/2"),
    }
    for name, proc in procs.items():
        # demo/2/2 fails on purpose, in whichever shard it lands
        assert proc.returncode in (0, 1), f"{name}: {proc.stdout}\n{proc.stderr}"
        assert (out[name] / "summary.json").is_file(), f"{name}: {proc.stdout}\n{proc.stderr}"
    merge = subprocess.run(
        [sys.executable, "-m", "conformance", "merge", str(out["shard1"]), str(out["shard2"]),
         "--reports", str(out["merged"])],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert merge.returncode == 1, merge.stdout + merge.stderr  # the run has a failure
    assert "merged 2 reports" in merge.stdout
    return out


def test_every_verdict_is_in_the_subset(runs: dict[str, Path]) -> None:
    by_verdict = _summary(runs["serial"])["totals"]["by_verdict"]
    assert all(n > 0 for n in by_verdict.values()), by_verdict


@pytest.mark.parametrize("other", ["xdist", "merged"])
def test_same_verdicts_and_case_ids(runs: dict[str, Path], other: str) -> None:
    serial, theirs = _summary(runs["serial"]), _summary(runs[other])
    assert theirs["totals"] == serial["totals"]
    ids = [(c["id"], c["param"], c["verdict"]) for c in serial["cases"]]
    assert [(c["id"], c["param"], c["verdict"]) for c in theirs["cases"]] == ids
    assert theirs == serial  # everything else too, timings aside
    assert _matrix(runs[other]) == _matrix(runs["serial"])
    assert _junit(runs[other]) == _junit(runs["serial"])
    assert _allure(runs[other]) == _allure(runs["serial"])
    assert _transcripts(runs[other]) == _transcripts(runs["serial"])


def test_shards_split_the_cases_without_overlap(runs: dict[str, Path]) -> None:
    one = {c["nodeid"] for c in _summary(runs["shard1"])["cases"]}
    two = {c["nodeid"] for c in _summary(runs["shard2"])["cases"]}
    assert one and two and not one & two
    assert one | two == {c["nodeid"] for c in _summary(runs["serial"])["cases"]}


def test_shard_of_is_stable_and_spreads() -> None:
    keys = [f"demo/{i}/1[{j}]" for i in range(50) for j in range(4)]
    first = [shard_of(k, 3) for k in keys]
    assert first == [shard_of(k, 3) for k in keys]
    assert set(first) == {1, 2, 3}
    counts = [first.count(s) for s in (1, 2, 3)]
    assert min(counts) > len(keys) / 6, counts


def test_merge_refuses_a_case_found_in_two_reports(runs: dict[str, Path], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "merge", str(runs["shard1"]), str(runs["serial"]),
         "--reports", str(tmp_path / "m")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert re.search(r"ran in both .*shard1.* and .*serial", proc.stderr), proc.stderr
