"""The matrix and the Allure report, opened in headless Chromium as a person opens them.

Chromium and Allure are set up before pytest starts, by ``nox -s report`` (through
``python -m conformance.report --setup``, which says so in one line); this file installs
nothing. Without them the tests are skipped with that instruction.

The Allure page loads its data with scripts a browser refuses for a page opened as a
file: from disk it shows only a spinner. The screenshot test tells a rendered page from
the spinner by how much of the window's middle is drawn on, and proves it can tell by
opening the same report from disk too.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import struct
import subprocess
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import conformance
from conformance.registry import CaseInfo
from conformance.report import allure_bin, chromium, render
from conformance.reports import render_matrix
from conformance.results import CaseResult
from conformance.verdict import Verdict

TOOLS = Path(conformance.__file__).resolve().parents[1] / ".cache" / "allure"
SETUP = "run 'nox -s report' (or 'python -m conformance.report --setup') first"
LAPTOP = "--window-size=1366,768"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    LAPTOP,
]
# share of the window's middle that differs from its background: a spinner on an empty
# page draws almost nothing there, a rendered report draws text, charts and rows
DRAWN_AT_LEAST = 0.02

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


@pytest.fixture(scope="module")
def browser() -> str:
    found = chromium()
    if found is None or not allure_bin(TOOLS).exists():
        pytest.skip(f"Chromium and Allure are not set up: {SETUP}")
    return found


@pytest.fixture
def served(pytester: pytest.Pytester, browser: str) -> Iterator[tuple[Path, str]]:
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


def _dom(browser: str, url: str, profile: Path) -> str:
    out = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--dump-dom", url],
        check=True, capture_output=True, text=True, timeout=120,
    )
    return out.stdout


def _screenshot(browser: str, url: str, profile: Path) -> Path:
    shot = profile.with_suffix(".png")
    subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         f"--screenshot={shot}", url],
        check=True, capture_output=True, text=True, timeout=120,
    )
    assert shot.is_file(), f"Chromium wrote no screenshot of {url}"
    return shot


def _png_rows(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, b""
    width = height = colour = 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + size]
        pos += 12 + size
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (depth, interlace)
        elif kind == b"IDAT":
            idat += body
    bpp = {2: 3, 6: 4}[colour]
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        kind_, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind_ == 1:
                line[x] = (line[x] + a) & 255
            elif kind_ == 2:
                line[x] = (line[x] + b) & 255
            elif kind_ == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind_ == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def drawn_share(path: Path) -> float:
    """Share of the middle two thirds of the screenshot that is not background."""
    w, h, bpp, rows = _png_rows(path)
    pixels = [row[x * bpp:x * bpp + 3] for row in rows[h // 6:h * 5 // 6]
              for x in range(w // 6, w * 5 // 6)]
    _, background = Counter(pixels).most_common(1)[0]
    return 1 - background / len(pixels)


def test_matrix_shows_every_case_with_its_verdict(
    browser: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    reports, base = served
    dom = _dom(browser, base + "/matrix.html", tmp_path / "profile")
    shown = dict(re.findall(r"data-case=\"([^\"]+)\" data-verdict=\"([^\"]+)\"", dom))
    assert shown == {
        "demo/1/1": "pass", "demo/1/2": "non-strict", "demo/2/1": "unimplemented",
        "demo/3/1": "fail",
    }
    assert "transcripts/demo_1_1.html" in dom  # the cell links to its transcript
    page = _dom(browser, base + "/transcripts/demo_3_1.html", tmp_path / "profile2")
    assert 'data-verdict="fail"' in page and "assert 1000 == 100" in page
    assert "demo_3_1.jsonl" in page


def test_allure_report_shows_the_run(
    browser: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    reports, base = served
    dom = _dom(browser, base + "/allure-report/index.html", tmp_path / "profile")
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    assert "cardloop conformance (seed 5, virtual)" in text
    assert re.search(r"Total 4\b", text), text[:600]
    assert re.search(r"Failed 1\b", text), text[:600]
    assert re.search(r"Passed 2\b", text), text[:600]
    names = set()
    for f in (reports / "allure-report" / "data" / "test-results").glob("*.json"):
        names.add(json.loads(f.read_text())["name"])
    assert names == {
        "demo/1/1 clean sale", "demo/1/2 lower-case keys", "demo/2/1 refunds",
        "demo/3/1 amount kept",
    }
    assert sorted(p.name for p in reports.iterdir()) == [
        "allure-report", "allure-results", "matrix.html", "summary.json", "transcripts"]


def test_screenshot_of_the_served_report_is_not_the_spinner(
    browser: str, served: tuple[Path, str], tmp_path: Path
) -> None:
    reports, base = served
    served_shot = _screenshot(browser, base + "/allure-report/index.html", tmp_path / "http")
    as_file = _screenshot(browser, (reports / "allure-report" / "index.html").as_uri(),
                          tmp_path / "file")
    assert drawn_share(served_shot) >= DRAWN_AT_LEAST, (
        f"the served report shows only a spinner ({drawn_share(served_shot):.4f}); "
        f"screenshot {served_shot}")
    # the same report opened from disk is the spinner: the check can fail
    assert drawn_share(as_file) < DRAWN_AT_LEAST / 4, drawn_share(as_file)
    single = render(reports, TOOLS, out=tmp_path / "single", single_file=True)
    one_file = _screenshot(browser, single.as_uri(), tmp_path / "single-shot")
    assert drawn_share(one_file) >= DRAWN_AT_LEAST, (
        f"the single-file report opened from disk shows a spinner; screenshot {one_file}")


def test_matrix_heads_carry_titles_and_fit_a_laptop(browser: str, tmp_path: Path) -> None:
    """Twenty sections of a real protocol, with parametrised cases: the heads name the
    section and link to its entry, labels stay short, and the page is no wider than a
    laptop's window."""
    from conformance.sections import read_page

    page = read_page("p3")
    results = []
    for n, number in enumerate(sorted(page)):
        for param in ("visa-contactless-insert-card", "mc-wrong-pin-then-right"):
            info = CaseInfo(f"p3/{number}/{n + 1}", f"case {n}", number, "", "p3", n + 1)
            results.append(CaseResult(info, f"cases/test_x.py::test_{n}[{param}]",
                                      Verdict.PASS))
    html_path = tmp_path / "matrix.html"
    html_path.write_text(render_matrix(results), encoding="utf-8")
    dom = _dom(browser, html_path.as_uri(), tmp_path / "profile")
    assert 'data-fits="true"' in dom, "the matrix is wider than a 1366 px window"
    entry = page["7.7"]
    assert f"§7.7 {entry.title}</a>" in dom and "href=\"#sec-p3-7.7\"" in dom
    assert 'id="sec-p3-7.7"' in dom and "Requires." in dom
    labels = re.findall(r"class=\"case\"[^>]*>([^<]+)</a>", dom)
    assert labels and all(len(label) <= 12 for label in labels), labels[:5]
    assert "[visa-contactless-insert-card]" in dom  # the parameter, on hover
