"""The conformance suite notices a server or an ABECS pinpad with a rule switched off.

Each switch breaks one rule vendors often get wrong; the suite run against the switched
reference must fail the case named for that rule, and the intact reference passes the
same cases.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _verdicts(tmp_path: Path, profile: str | None, cases: str) -> dict[str, str]:
    reports = tmp_path / "reports"
    args = [sys.executable, "-m", "pytest", f"conformance/cases/{cases}", "-q",
            "-p", "no:cacheprovider", "-W", "ignore", "--cardloop-reports", str(reports)]
    if profile is not None:
        args += ["--profile", profile]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    summary = json.loads((reports / "summary.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in summary["cases"]}
    assert verdicts, proc.stdout + proc.stderr
    return verdicts


SWITCHES = [
    ("p3+no-refund-limit", "p3/test_referenced.py", {"p3/7.7/3"}),
    ("abecs+no-crc-check", "abecs/test_link.py", {"abecs/4.2/1"}),
    ("abecs+no-nak-resend", "abecs/test_link.py", {"abecs/4.2/2", "abecs/4.2/3"}),
    ("documented+no-busy-rule", "connect/test_concurrency.py", {"connect/7/1"}),
    ("documented+notify-after-result", "connect/test_pac.py", {"connect/4.4/1"}),
    ("local+no-busy-rule", "valor/test_errors.py", {"valor/A.7/4"}),
    ("local+late-cancel", "valor/test_exchange.py", {"valor/A.4/7"}),
    ("documented+no-refund-limit", "gochip/test_transactions.py", {"gochip/B.5/2"}),
    ("documented+remove-card-first", "gochip/test_sale.py", {"gochip/B.4/16"}),
]


@pytest.mark.parametrize("profile,cases,caught", SWITCHES)
def test_switched_rule_fails_its_case(tmp_path: Path, profile: str, cases: str,
                                      caught: set[str]) -> None:
    failed = {cid for cid, v in _verdicts(tmp_path, profile, cases).items() if v == "fail"}
    assert caught <= failed, f"expected {caught} to fail, failed: {failed}"


@pytest.mark.parametrize("cases", sorted({c for _, c, _ in SWITCHES}))
def test_intact_reference_passes_the_same_cases(tmp_path: Path, cases: str) -> None:
    verdicts = _verdicts(tmp_path, None, cases)
    assert set(verdicts.values()) == {"pass"}, verdicts
