"""Cases that choose the card (or send a waiter) run for real against a cardloop-served
reference named with its control API (``--target NAME=URL --control URL``), and stay
informational against the same server named without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

ROOT = Path(__file__).resolve().parents[2]


def _suite(tmp_path: Path, name: str, url: str, case: str, only: str, control: str | None
           ) -> dict[str, str]:
    reports = tmp_path / ("with" if control else "without")
    args = [sys.executable, "-m", "conformance", "--target", f"{name}={url}", "--case", case,
            "-k", only, "--cardloop-reports", str(reports), "-q", "-p", "no:cacheprovider"]
    if control:
        args += ["--control", control]
    subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    summary = json.loads((reports / "summary.json").read_text())
    return {f"{c['id']}[{c['param']}]": c["verdict"] for c in summary["cases"]}


@pytest.mark.parametrize("name, role, case, only", [
    # a signature card at the signing terminal, the EPoS accepting it
    ("connect", "pac", "connect/4.7/1", "accept"),
    # the card keyed on the PDQ (cardholderNotPresent) by the cardholder chosen
    ("connect", "pac", "connect/4.3/7", "cnp_keyed"),
    # a waiter sent through the control API, graded on its waiter_result
    ("connect", "pac", "connect/5/1", "split_bill"),
    ("gochip", "gochip", "gochip/B.4/14", "signature"),  # a signature card at the reader
])
def test_card_cases_run_against_a_served_reference(tmp_path: Path, name: str, role: str,
                                                   case: str, only: str) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "conformance", "--serve", name, "--factor", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())["urls"]
        with_control = _suite(tmp_path, name, urls[role], case, only, urls["control"])
        without = _suite(tmp_path, name, urls[role], case, only, None)
        req = urllib.request.Request(urls["control"] + "/shutdown", data=b"{}",
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        server.wait(60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert with_control and set(with_control.values()) == {"pass"}, with_control
    assert set(without.values()) == {"informational"}, without
