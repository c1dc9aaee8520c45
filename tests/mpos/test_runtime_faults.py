"""Faults added and removed while a server runs, through the control API and
``cardloop fault`` (the Toxiproxy way): named, in the transcript, felt by the POS, gone
when removed."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import websockets

from protocol_servers.mpos.pos import http_json
from protocol_servers.registry import lookup, options_for
from protocol_servers.serving import serve
from simulator.cli import main as cardloop

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

STATUS = json.dumps({"request_type": 7, "context_id": "probe"})


async def _served(tmp_path: Path, body: Any) -> Any:
    spec = lookup("mpos")
    options = options_for(spec, factor=0.2, port=0, readers=1, quiet=True,
                          link_dir=str(tmp_path))
    urls: dict[str, str] = {}
    ready = asyncio.Event()

    def told(info: dict[str, Any], _started: Any) -> None:
        urls.update(info["urls"])
        ready.set()

    stop = asyncio.Event()
    task = asyncio.ensure_future(serve(spec, options, ready=told, stop=stop))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        return await body(urls)
    finally:
        stop.set()
        world, _ = await asyncio.wait_for(task, 30)


def test_a_fault_added_at_runtime_reaches_the_pos_and_removing_it_restores_the_line(
    tmp_path: Path,
) -> None:
    async def body(urls: dict[str, str]) -> dict[str, Any]:
        control = urls["control"]
        out: dict[str, Any] = {}
        async with websockets.connect(urls["mpos"]) as ws:
            await ws.send(STATUS)
            out["clean"] = await ws.recv()
            status, added = await http_json(control + "/scenario/fault", "POST", {
                "kind": "corrupt", "name": "noisy-line", "port": "bridge.ws*",
                "direction": "tx", "bits": 6})
            out["added"] = (status, added)
            await ws.send(STATUS)
            out["faulty"] = await ws.recv()
            _, out["listed"] = await http_json(control + "/faults", "GET")
            out["removed"] = await http_json(control + "/scenario/remove-fault", "POST",
                                             {"name": "noisy-line"})
            await ws.send(STATUS)
            out["restored"] = await ws.recv()
            out["again"] = await http_json(control + "/scenario/remove-fault", "POST",
                                           {"name": "noisy-line"})
        _, out["transcript"] = await http_json(control + "/transcript", "GET")
        return out

    out = asyncio.run(_served(tmp_path, body))
    status, added = out["added"]
    assert status == 200 and added["applied"]["name"] == "noisy-line", added
    assert out["faulty"] != out["clean"], "the POS should have received a damaged answer"
    assert out["restored"] == out["clean"], "removing the fault should restore the line"
    assert [f["name"] for f in out["listed"]["faults"]] == ["noisy-line"]
    assert any(p.startswith("bridge.ws") for p in out["listed"]["ports"])
    assert out["removed"][0] == 200 and out["again"][0] == 404
    text = out["transcript"] if isinstance(out["transcript"], str) else json.dumps(
        out["transcript"])
    assert "fault added: noisy-line (corrupt on bridge.ws* tx" in text
    assert "fault: corrupt 6 bit(s)" in text and "fault removed: noisy-line" in text


def test_cardloop_fault_adds_lists_and_removes_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def body(urls: dict[str, str]) -> list[int]:
        c = ["--control", urls["control"]]
        codes = [
            await asyncio.to_thread(cardloop, ["fault", "add", "latency", "--port", "bridge.ws*",
                                               "--param", "seconds=0.25", *c]),
            await asyncio.to_thread(cardloop, ["fault", "add", "--from", "transport.half_open",
                                               "--port", "bridge.ws*", *c]),
            await asyncio.to_thread(cardloop, ["fault", "list", *c]),
            await asyncio.to_thread(cardloop, ["fault", "remove", "latency-1", *c]),
            await asyncio.to_thread(cardloop, ["fault", "list", *c]),
            await asyncio.to_thread(cardloop, ["fault", "add", "--from", "human.cancel", *c]),
            await asyncio.to_thread(cardloop, ["fault", "clear", *c]),
        ]
        return codes

    codes = asyncio.run(_served(tmp_path, body))
    out, err = capsys.readouterr()
    assert codes == [0, 0, 0, 0, 0, 2, 0], (out, err)
    assert "added latency-1: latency on bridge.ws* * {\"seconds\": 0.25}" in out, out
    assert "added transport.half_open: drop on bridge.ws* tx" in out, out
    listings = out.split("removed latency-1")
    assert "latency-1: latency" in listings[0] and "transport.half_open: drop" in listings[0]
    assert "latency-1" not in listings[1].split("removed 1")[0]
    assert "human.cancel is a human fault, not one on a port" in err
    assert "removed 1: transport.half_open" in out
