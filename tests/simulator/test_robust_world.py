"""A failing process ends alone; a dead world loop ends the server; transcripts survive kill -9."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.supervise import WORLD_DIED, drive_until_stopped
from simulator.transcript import Transcript
from simulator.world import World


class _Fatal(BaseException):
    """Not an Exception: something the driver itself cannot survive."""


def test_a_failing_process_ends_alone_in_realtime() -> None:
    w = World(mode="realtime", factor=0.001)
    done: list[float] = []

    def bad():  # type: ignore[no-untyped-def]
        yield w.timeout(1)
        raise KeyError("one connection's bug")

    def good():  # type: ignore[no-untyped-def]
        yield w.timeout(5)
        done.append(w.now)

    w.process(bad())
    w.process(good())
    asyncio.run(w.run_realtime(until=10))
    assert done == [5.0]
    assert w.process_failures == 1
    assert any("one connection's bug" in e.label for e in w.transcript)


def test_serve_notices_a_dead_world_loop_at_once() -> None:
    w = World(mode="realtime", factor=0.001)

    def fatal():  # type: ignore[no-untyped-def]
        yield w.timeout(1)
        raise _Fatal("driver broken")

    w.process(fatal())
    err = io.StringIO()

    async def main() -> int:
        stop = asyncio.Event()  # never set: only the world's death can end this
        return await asyncio.wait_for(drive_until_stopped(w, stop, "test", err), 5)

    assert asyncio.run(main()) == WORLD_DIED
    assert "world loop stopped" in err.getvalue() and "driver broken" in err.getvalue()


def test_serve_returns_zero_when_asked_to_stop() -> None:
    w = World(mode="realtime", factor=0.001)

    async def main() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)
        return await drive_until_stopped(w, stop, "test", io.StringIO())

    assert asyncio.run(main()) == 0


def test_transcript_streams_lines_and_keeps_a_bounded_tail(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    t = Transcript(path, keep=10)
    for i in range(100):
        t.event("p", f"entry {i}")
        # on disk already, before any close or dump
        assert path.read_text("utf-8").count("\n") == i + 1
    assert len(t) == 10 and t.entries[-1].label == "entry 99"
    t.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_sale_leaves_a_transcript_that_ends_within_one_line(tmp_path: Path) -> None:
    from protocol_servers.p3.client import P3Client  # noqa: F401 - the client below is raw

    path = tmp_path / "server.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "payserver", "--ws-port", "0",
         "--tcp-port", "0", "--factor", "0.05", "--transcript", str(path),
         "--link-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        url = ""
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline and not url:
            line = proc.stdout.readline()
            if "WebSocket:" in line:
                url = line.split()[-1]
        assert url, proc.stderr.read() if proc.stderr else ""
        asyncio.run(_sale_until_processing(url))
        before = path.read_text("utf-8").splitlines()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) >= len(before) >= 3
    for line in lines[:-1]:
        json.loads(line)  # every line but perhaps the last is whole
    labels = " ".join(json.loads(x)["label"] for x in lines[:-1])
    assert "EXECUTE_TRANSACTION_REQUEST" in labels


async def _sale_until_processing(url: str) -> None:
    import websockets

    async with websockets.connect(url) as ws:
        await ws.send('{"type":"LOGIN_MERCHANT_REQUEST","tag":"l","loginMerchantRequest":'
                      '{"providerMode":"MOCK","merchantIdentifier":"m","merchantSecret":"s"}}')
        await ws.recv()
        await ws.send('{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"x","resource":'
                      '"devices/mockReader","executeTransactionRequest":{"transactionParameters":'
                      '{"type":"CHARGE","amount":10.00,"currency":"EUR"}}}')
        for _ in range(3):  # a few updates: the sale is under way
            await asyncio.wait_for(ws.recv(), 10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_reader_stops_on_a_signal_even_when_started_with_sigint_ignored(
        tmp_path: Path, sig: signal.Signals) -> None:
    import shutil

    if shutil.which("socat") is None:
        pytest.skip("socat makes the pty pair")
    # as a shell starts a background job ('cardloop reader &'): SIGINT ignored
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "reader", "--pty", "--link-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip()  # the host side's path: it is running
        proc.send_signal(sig)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
