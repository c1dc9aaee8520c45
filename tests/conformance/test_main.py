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
