"""``python -m conformance``: the suite command writes every report and fails on a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conformance.__main__ import CASES, build_args

CASES_TEXT = """
from conformance import case

@case("demo/1/1", title="ok")
def test_ok(world):
    world.transcript.event("pos", "hello")

@case("demo/1/2", title="deviates")
def test_ns(verdict):
    verdict.non_strict("lower-case keys")
"""


def test_build_args_defaults_and_translations() -> None:
    args, reports = build_args(["--strict", "--reports", "out", "-k", "x"])
    assert reports == Path("out")
    assert "--cardloop-strict" in args and "--strict" not in args
    assert "--cardloop-reports=out" in args
    assert f"--junitxml={Path('out') / 'junit.xml'}" in args
    assert f"--alluredir={Path('out') / 'allure-results'}" in args
    assert args[-1] == str(CASES)  # no path given: the whole suite
    args, _ = build_args([str(CASES / "world")])
    assert str(CASES) not in args[:-1] and args[-1] == str(CASES / "world")


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", str(tmp_path / "cases"), *extra],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )


def test_suite_command_writes_reports_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "test_demo.py").write_text(CASES_TEXT)
    ok = _run(tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    rep = tmp_path / "reports"
    for name in ("summary.json", "matrix.html", "junit.xml"):
        assert (rep / name).is_file()
    assert list((rep / "allure-results").glob("*-result.json"))
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["totals"]["by_verdict"]["non-strict"] == 1
    assert summary["cases"][0]["duration_s"] >= 0

    strict = _run(tmp_path, "--strict")
    assert strict.returncode == 1
    assert "FAIL demo/1/2 deviates" in strict.stdout

    none = _run(tmp_path, "-k", "nothing_matches")
    assert none.returncode != 0


MORE_CASES = """
from conformance import case

@case("demo/1/1", title="ok")
def test_ok(world):
    pass

@case("demo/1/10", title="ten")
def test_ten(world):
    pass

@case("demo/2.3/1", title="other section")
def test_other(world):
    pass
"""

ROOT = Path(__file__).resolve().parents[2]


def _run_here(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """This checkout's suite command (not an installed copy), run in ``tmp_path``."""
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *extra], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )


def _demo(tmp_path: Path) -> str:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "test_demo.py").write_text(MORE_CASES)
    return str(tmp_path / "cases")


def _ran(tmp_path: Path) -> set[str]:
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    return {c["id"] for c in summary["cases"]}


def test_case_by_id_and_by_glob(tmp_path: Path) -> None:
    cases = _demo(tmp_path)
    one = _run_here(tmp_path, cases, "--case", "demo/1/1")
    assert one.returncode == 0, one.stdout + one.stderr
    assert _ran(tmp_path) == {"demo/1/1"}  # not demo/1/10: an id is matched whole
    glob = _run_here(tmp_path, cases, "--case", "demo/1/*")
    assert glob.returncode == 0 and _ran(tmp_path) == {"demo/1/1", "demo/1/10"}
    k = _run_here(tmp_path, cases, "-k", "demo/2.3/1")
    assert k.returncode == 0 and _ran(tmp_path) == {"demo/2.3/1"}


def test_junit_names_carry_the_case_id(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    run = _run_here(tmp_path, _demo(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    tree = ET.parse(tmp_path / "reports" / "junit.xml")
    names = sorted(tc.get("name", "") for tc in tree.iter("testcase"))
    assert names == ["demo/1/1 test_ok", "demo/1/10 test_ten", "demo/2.3/1 test_other"]


def test_list_cases_and_help_show_and_write_nothing(tmp_path: Path) -> None:
    cases = _demo(tmp_path)
    listed = _run_here(tmp_path, cases, "--list-cases")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = [ln for ln in listed.stdout.splitlines() if ln.startswith("demo/")]
    assert [ln.split()[0] for ln in lines] == ["demo/1/1", "demo/1/10", "demo/2.3/1"]
    assert "other section" in lines[2] and "3 cases" in listed.stdout
    helped = _run_here(tmp_path, "--help")
    assert helped.returncode == 0, helped.stderr
    text = helped.stdout
    assert text.startswith("usage: python -m conformance")
    # the suite's own options come before pytest's
    assert text.index("--case ID") < text.index("--list-cases") < text.index("--junit-xml")
    assert text.index("--target NAME=URL") < text.index("--junit-xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases"]  # nothing written
