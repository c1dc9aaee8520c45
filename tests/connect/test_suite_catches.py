"""The conformance suite notices a Connect server with a rule switched off, by case id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, profile: str, cases: list[str]) -> dict[str, str]:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *[f"conformance/cases/connect/{c}" for c in cases],
         "-q", "-p", "no:cacheprovider", "-W", "ignore", "--profile", profile,
         "--cardloop-reports", str(reports)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    summary = json.loads((reports / "summary.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in summary["cases"]}
    assert verdicts, proc.stdout + proc.stderr
    return verdicts


CASES = ["test_concurrency.py::test_busy_across_sockets", "test_pac.py::test_notification_order",
         "test_pac.py::test_sale"]


@pytest.mark.parametrize("profile, caught", [
    ("documented+no-busy-rule", {"connect/7/1"}),
    ("documented+notify-after-result", {"connect/4.4/1", "connect/4.3/1"}),
])
def test_broken_rule_fails_its_case(tmp_path: Path, profile: str, caught: set[str]) -> None:
    verdicts = _run(tmp_path, profile, CASES)
    failed = {cid for cid, v in verdicts.items() if v == "fail"}
    assert caught <= failed, f"expected {caught} to fail, failed: {failed}"


def test_intact_server_passes_the_same_cases(tmp_path: Path) -> None:
    verdicts = _run(tmp_path, "documented", CASES)
    assert set(verdicts.values()) == {"pass"}, verdicts
