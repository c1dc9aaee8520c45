"""``cardloop demo`` and ``cardloop serve mpos-bridge`` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from protocol_servers.mpos.pos import http_json, run_sale

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]


def test_demo_completes_a_sale_and_writes_a_masked_report(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "simulator.cli", "demo", "--reports",
         str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for step in ("list devices", "initialize", "process", "merchant", "finish", "close"):
        assert step in proc.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is True and summary["transaction"]["status"] == "authorized"
    transcript = (tmp_path / "transcript.jsonl").read_text()
    assert "4761739001010010" not in transcript and "476173" in transcript


def test_serve_prints_where_to_connect_and_takes_cards_from_the_control_api(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "simulator.cli", "serve", "mpos-bridge",
         "--readers", "2", "--card", "visa-chip-pin", "--port", "0", "--factor", "0.25",
         "--link-dir", str(tmp_path), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        text = "".join(lines)
        url = re.search(r"ws://127\.0\.0\.1:\d+/mpos", text)
        merchant = re.search(r"(http://127\.0\.0\.1:\d+)/1/transactions", text)
        control = re.search(r"control API:\s+(http://127\.0\.0\.1:\d+)/", text)
        assert url and merchant and control, text
        assert text.count("pinpad ") == 2

        async def pos() -> tuple[bool, bool, str | None]:
            first = await run_sale(url.group(0), merchant.group(1), 1500)
            status, _ = await http_json(control.group(1) + "/scenario/next-card", "POST",
                                        {"card": "mc-issuer-decline"})
            assert status == 200
            second = await run_sale(url.group(0), merchant.group(1), 1500, context="again")
            refused = second.transaction["status"] if second.transaction else None
            return first.ok, second.ok, refused

        first_ok, second_ok, refused = asyncio.run(pos())
        assert first_ok and not second_ok and refused == "refused"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "card inserted" not in out and "shows" not in out  # --quiet: no live console


def test_serve_with_no_card_pays_two_sales_with_the_default_test_card(tmp_path: Path) -> None:
    """No ``--card``: the customer holds a test card the banner names, and keeps it; the
    pty links sit at a fixed per-user place, so the device name is the same each start."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "simulator.cli", "serve", "mpos-bridge",
         "--port", "0", "--factor", "0.25", "--entry", "insert"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        text = "".join(proc.stdout.readline() for _ in range(5))
        url = re.search(r"ws://127\.0\.0\.1:\d+/mpos", text)
        merchant = re.search(r"(http://127\.0\.0\.1:\d+)/1/transactions", text)
        assert url and merchant, text
        assert "customer holds: visa-chip-pin (a default test card)" in text, text
        assert f"pinpad 0: {tmp_path / 'cardloop' / 'mpos' / 'ttyVPP0'}" in text, text

        async def pos() -> list[bool]:
            out = []
            for i in range(2):
                sale = await run_sale(url.group(0), merchant.group(1), 1500, context=f"s{i}")
                out.append(sale.ok)
            return out

        assert asyncio.run(pos()) == [True, True]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    # the live console: the same card went in twice, the host answered twice, masked
    assert out.count("card inserted: 476173******0010") == 2, out
    assert out.count(": approved (00)") == 2 and out.count("card removed") == 2, out
    assert "OU PASSE CARTAO" in out and "PIN typed: ****" in out, out
    assert "4761739001010010" not in out


def test_a_port_in_use_names_the_option_that_picks_another(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "simulator.cli", "serve", "mpos",
             "--port", str(port), "--quiet", "--link-dir", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert f"127.0.0.1:{port} is already in use" in proc.stderr
    assert "pick another port with --port (0 picks a free one)" in proc.stderr
    assert "Traceback" not in proc.stderr
