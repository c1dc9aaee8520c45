"""The conformance suite notices a bridge with a rule switched off, by case id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, profile: str, cases: str) -> dict[str, str]:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"conformance/cases/mpos/{cases}",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
            "--profile",
            profile,
            "--cardloop-reports",
            str(reports),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads((reports / "summary.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in summary["cases"]}
    assert verdicts, proc.stdout + proc.stderr
    return verdicts


@pytest.mark.parametrize(
    "profile,cases,caught",
    [
        ("documented+no-sequence-rule", "test_sequence.py", {"mpos/2.6/1", "mpos/2.6/2"}),
        ("documented+no-device-ownership", "test_sequence.py", {"mpos/2.6/5"}),
    ],
)
def test_broken_rule_fails_its_case(
    tmp_path: Path, profile: str, cases: str, caught: set[str]
) -> None:
    verdicts = _run(tmp_path, profile, cases)
    failed = {cid for cid, v in verdicts.items() if v == "fail"}
    assert caught <= failed, f"expected {caught} to fail, failed: {failed}"


def test_intact_bridge_passes_the_same_cases(tmp_path: Path) -> None:
    verdicts = _run(tmp_path, "documented", "test_sequence.py")
    assert set(verdicts.values()) == {"pass"}, verdicts
