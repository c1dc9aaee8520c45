"""The matrix and the Allure report open in headless Chromium and show the run's cases.

Installs what it needs: Chromium from Debian (as root) and Allure from npm into the
project-local tools folder, so that ``nox -s tests`` runs it on a fresh machine.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import conformance
from conformance.report import render

TOOLS = Path(conformance.__file__).resolve().parents[1] / ".cache" / "allure"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

CASES = """
from conformance import case

@case("demo/1/1", title="clean sale")
def test_ok(world):
    world.transcript.event("pos", "sale 1000")

@case("demo/1/2", title="lower-case keys")
def test_ns(verdict):
    verdict.non_strict("keys in lower case")

@case("demo/2/1", title="refunds")
def test_unimpl(verdict):
    verdict.unimplemented("no refunds")

@case("demo/3/1", title="amount kept")
def test_fail(world):
    world.transcript.event("pos", "sale 1000 answered with 100")
    assert 1000 == 100
"""


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{' '.join(packages)} missing and cannot be installed here "
                    "(needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True, env=env,
    )


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    _apt_install("chromium")
    found = shutil.which("chromium")
    assert found, "apt-get installed no chromium"
    return found


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (TOOLS / "node_modules" / ".bin" / "allure").exists():
        # Allure comes from npm (conformance.report installs it); npm from Debian
        needs = (("node", "nodejs"), ("npm", "npm"))
        missing = [pkg for cmd, pkg in needs if not shutil.which(cmd)]
        if missing:
            _apt_install(*missing)
    return _chromium()


@pytest.fixture
def served(pytester: pytest.Pytester) -> Iterator[tuple[Path, str]]:
    pytester.makepyfile(test_cases=CASES)
    pytester.runpytest("--cardloop-reports=rep", "--alluredir=rep/allure-results", "--seed", "5")
    reports = pytester.path / "rep"
    render(reports, TOOLS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(reports))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield reports, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _dom(chromium: str, url: str, profile: Path) -> str:
    out = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--dump-dom", url],
        check=True, capture_output=True, text=True, timeout=120,
    )
    return out.stdout


def _text(dom: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_matrix_shows_every_case_with_its_verdict(
    chromium: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    reports, base = served
    dom = _dom(chromium, base + "/matrix.html", tmp_path / "profile")
    shown = dict(re.findall(r"data-case=\"([^\"]+)\" data-verdict=\"([^\"]+)\"", dom))
    assert shown == {
        "demo/1/1": "pass", "demo/1/2": "non-strict", "demo/2/1": "unimplemented",
        "demo/3/1": "fail",
    }
    assert "transcripts/demo_1_1.html" in dom  # the cell links to its transcript
    page = _dom(chromium, base + "/transcripts/demo_3_1.html", tmp_path / "profile2")
    assert 'data-verdict="fail"' in page and "assert 1000 == 100" in page
    assert "demo_3_1.jsonl" in page


def test_allure_report_shows_the_run(
    chromium: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    reports, base = served
    text = _text(_dom(chromium, base + "/allure-report/index.html", tmp_path / "profile"))
    assert "cardloop conformance (seed 5, virtual)" in text
    assert re.search(r"Total 4\b", text), text[:600]
    assert re.search(r"Failed 1\b", text), text[:600]
    assert re.search(r"Passed 2\b", text), text[:600]
    # the data the page renders each case from: one result per case, with its transcript
    names = set()
    for f in (reports / "allure-report" / "data" / "test-results").glob("*.json"):
        names.add(json.loads(f.read_text())["name"])
    assert names == {
        "demo/1/1 clean sale", "demo/1/2 lower-case keys", "demo/2/1 refunds",
        "demo/3/1 amount kept",
    }
