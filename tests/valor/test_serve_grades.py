"""``python -m conformance --serve valor`` grades the POS under test.

Two scripted POS written against the note with plain asyncio sockets (no code of ours on
the POS side) drive the served reference terminal over TCP, JSON + newline, with the
faults of §A.9 armed through the control API: one keeps the client rules of §A.7, one
breaks each. The grades in ``serve.json`` and ``summary.json`` differ as they should.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

ROOT = Path(__file__).resolve().parents[2]
FACTOR = 0.2  # wall seconds per simulated second
ACK = {"STATE": "0", "MSG": "ACK"}


def _sale(amount: int, ref: str = "") -> dict[str, str]:
    doc = {"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": str(amount)}
    return {**doc, "REQ_TXN_ID": ref} if ref else doc


class Pos:
    """One TCP connection of a bare POS: JSON + newline out, one frame per line in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Pos:
        host, port = url.removeprefix("tcp://").rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, doc: dict[str, str]) -> None:
        self.writer.write(json.dumps(doc).encode() + b"\n")
        await self.writer.drain()

    async def frame(self, limit: float = 60.0) -> dict[str, Any] | None:
        line = await asyncio.wait_for(self.reader.readline(), limit)
        return json.loads(line) if line.strip() else None  # None: the terminal hung up

    async def until_final(self, mine: str = "") -> dict[str, Any] | None:
        """Frames up to the final; with ``mine``, a final for another reference is skipped."""
        while True:
            frame = await self.frame()
            if frame is None or frame.get("MSG") in ("ACK", "Payload Request Received"):
                if frame is None:
                    return None
                continue
            if mine and frame.get("MER_TXN_ID", mine) != mine:
                continue
            return frame

    def close(self) -> None:
        self.writer.close()


def _post(url: str, doc: dict[str, Any] | None = None) -> None:
    req = urllib.request.Request(url, data=json.dumps(doc or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as rsp:
        rsp.read()


def _arm(urls: dict[str, str], name: str) -> None:
    _post(urls["control"] + "/scenario/valor-fault", {"name": name})


async def keeps_the_rules(urls: dict[str, str]) -> None:
    pos = await Pos.open(urls["tcp"])
    await pos.send(_sale(1000, "OK-1"))
    final = await pos.until_final("OK-1")
    assert final is not None and final["STATE"] == "0"
    await pos.send(ACK)
    # no ACK: wait the whole 5 s window, then send again
    _arm(urls, "no_ack")
    await pos.send(_sale(1100, "OK-2"))
    await asyncio.sleep(6.0 * FACTOR)
    await pos.send(_sale(1100, "OK-3"))
    assert (await pos.until_final("OK-3") or {}).get("STATE") == "0"
    await pos.send(ACK)
    # a stray final with a foreign reference: skipped, never ACKed
    _arm(urls, "foreign_final")
    await pos.send(_sale(1200, "OK-4"))
    assert (await pos.until_final("OK-4") or {}).get("MER_TXN_ID") == "OK-4"
    await pos.send(ACK)
    # socket cut after the STAN frame: recover by TRAN_MODE 90, never resend
    await asyncio.sleep(5.0 * FACTOR)  # the receipt prints
    _arm(urls, "drop_after_stan")
    await pos.send(_sale(1300, "OK-5"))
    stan = ""
    while (frame := await pos.frame()) is not None:
        stan = frame.get("STAN_NO", stan)
    pos.close()
    assert stan
    pos = await Pos.open(urls["tcp"])
    status: dict[str, Any] | None = None
    for _ in range(60):
        await pos.send({"TRAN_MODE": "90", "STAN_NO": stan})
        assert await pos.frame() == ACK
        status = await pos.frame()
        assert status is not None
        if status["STATE"] != "-2":
            break
        await asyncio.sleep(2.0 * FACTOR)
    assert status is not None and status["STATE"] == "0"
    pos.close()


async def breaks_the_rules(urls: dict[str, str]) -> None:
    pos = await Pos.open(urls["tcp"])
    # no ACK: resends at once instead of waiting out the window
    _arm(urls, "no_ack")
    await pos.send(_sale(1000, "BAD-1"))
    await asyncio.sleep(0.5 * FACTOR)
    await pos.send(_sale(1000, "BAD-2"))
    await pos.until_final("BAD-2")
    # no trailing ACK before the next request
    await asyncio.sleep(5.0 * FACTOR)
    await pos.send(_sale(1100, "BAD-3"))
    await pos.until_final("BAD-3")
    # takes the stray final as its own and ACKs it
    await asyncio.sleep(5.0 * FACTOR)
    _arm(urls, "foreign_final")
    await pos.send(_sale(1200, "BAD-4"))
    stray = await pos.until_final()
    assert stray is not None and stray["MER_TXN_ID"].startswith("FOREIGN")
    await pos.send(ACK)
    await pos.until_final()
    # socket cut after the STAN frame: resends the sale blindly
    await asyncio.sleep(5.0 * FACTOR)
    _arm(urls, "drop_after_stan")
    await pos.send(_sale(1300, "BAD-5"))
    while await pos.frame() is not None:
        pass
    pos.close()
    pos = await Pos.open(urls["tcp"])
    await pos.send(_sale(1300, "BAD-5"))
    await pos.until_final()
    pos.close()


def _serve(tmp_path: Path, script: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    reports = tmp_path / "reports"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "--serve", "valor", "--factor", str(FACTOR),
         "--cardloop-reports", str(reports)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())["urls"]
        asyncio.run(script(urls))
        asyncio.run(asyncio.sleep(15.0 * FACTOR))  # the last sale ends on the terminal
        _post(urls["control"] + "/shutdown")
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    grades = {g["id"]: g for g in json.loads((reports / "serve.json").read_text())["grades"]}
    summary = json.loads((reports / "summary.json").read_text())
    return code, grades, summary


def test_a_careful_pos_passes_and_a_careless_one_fails(tmp_path: Path) -> None:
    code, good, summary = _serve(tmp_path / "good", keeps_the_rules)
    verdicts = {k: g["verdict"] for k, g in good.items()}
    assert verdicts == {"valor/A.9/101": "pass", "valor/A.9/102": "pass",
                        "valor/A.9/103": "pass", "valor/A.9/104": "pass"}, good
    assert code == 0 and summary["passed"] is True

    code, bad, summary = _serve(tmp_path / "bad", breaks_the_rules)
    verdicts = {k: g["verdict"] for k, g in bad.items()}
    assert verdicts == {"valor/A.9/101": "fail", "valor/A.9/102": "fail",
                        "valor/A.9/103": "fail", "valor/A.9/104": "fail"}, bad
    assert "blind retry" in bad["valor/A.9/101"]["seen"]
    assert "after an un-ACKed one" in bad["valor/A.9/102"]["seen"]
    assert code == 1 and summary["passed"] is False
