"""The client-under-test role: a served reference server driven through the control API."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from conformance.options import Options
from conformance.serve import serve
from protocol_servers.contract import ControlAction, Server, Started
from protocol_servers.registry import register
from simulator.control import ControlError, ControlRegistry


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else (
        body if isinstance(body, bytes) else json.dumps(body).encode()
    )
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw = err.read().decode()
        status = err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


async def toy_start(world: Any, options: Any) -> Started:
    """A stand-in reference server: it takes the next card when a 'POS' asks."""
    presented: list[str] = []
    queued: list[str] = []

    def next_card(params: dict[str, Any]) -> dict[str, Any]:
        if "card" not in params:
            raise ControlError("next_card needs 'card'")
        queued.append(params["card"])
        return {"queued": params["card"]}

    def pos_sale(params: dict[str, Any]) -> None:
        presented.append(queued.pop(0) if queued else "default")
        world.transcript.event("reader", f"card presented: {presented[-1]}")

    async def close() -> None:
        return None

    actions = [
        ControlAction("next_card", "present this card image next", next_card),
        ControlAction("cardholder", "cardholder behaviour for the next sale", lambda p: None),
        ControlAction("sale", "simulate the POS starting a sale", pos_sale),
    ]
    return Started(urls={"toy": "ws://127.0.0.1:1/toy"}, close=close,
                   actions={a.name: a for a in actions})


register(Server(name="toy", description="a toy server", starter=toy_start))


def test_control_api_drives_scenarios() -> None:
    seen: dict[str, Any] = {}

    async def vendor(urls: dict[str, str]) -> None:
        base = urls["control"]
        assert base.startswith("http://127.0.0.1:")
        call = asyncio.to_thread
        seen["index"] = await call(_http, "GET", base + "/")
        seen["queue"] = await call(_http, "POST", base + "/scenario/next_card", {"card": "visa"})
        seen["missing"] = await call(_http, "POST", base + "/scenario/next_card", {})
        seen["unknown"] = await call(_http, "POST", base + "/scenario/teleport", {})
        seen["badjson"] = await call(_http, "POST", base + "/scenario/cardholder", b"{nope")
        seen["state"] = await call(_http, "GET", base + "/state")
        await call(_http, "POST", base + "/scenario/sale", {})
        await call(_http, "POST", base + "/scenario/sale", {})
        seen["transcript"] = await call(_http, "GET", base + "/transcript")
        seen["wrong_method"] = await call(_http, "GET", base + "/shutdown")
        await call(_http, "POST", base + "/shutdown", {})

    async def main() -> Any:
        tasks: list[asyncio.Task[None]] = []
        result = await serve(
            "toy", Options(seed=5, factor=1.0),
            ready=lambda info: tasks.append(asyncio.ensure_future(vendor(info["urls"]))),
        )
        await tasks[0]
        return result

    served = asyncio.run(asyncio.wait_for(main(), 30))
    registry = served.registry
    status, index = seen["index"]
    assert status == 200 and index["server"] == "toy"
    # the server's actions, the fault actions every world offers, and the acquirer line
    # every served server offers
    assert set(index["actions"]) == {"next_card", "cardholder", "sale", "fault", "faults",
                                     "remove-fault", "clear-faults", "backend-fault",
                                     "pinpad-power"}
    assert index["urls"]["toy"] == "ws://127.0.0.1:1/toy"
    assert seen["queue"] == (200, {"ok": True, "applied": {
        "action": "next_card", "params": {"card": "visa"}, "queued": "visa"}})
    assert seen["missing"] == (400, {"error": "next_card needs 'card'"})
    assert seen["unknown"][0] == 404 and "teleport" in seen["unknown"][1]["error"]
    assert seen["badjson"][0] == 400
    assert seen["state"][1]["pending"] == {"next_card": [{"card": "visa"}]}
    assert seen["wrong_method"][0] == 405
    lines = [json.loads(x)["label"] for x in seen["transcript"][1].splitlines()]
    assert "card presented: visa" in lines and "card presented: default" in lines
    assert lines.index("card presented: visa") < lines.index("card presented: default")
    assert [a["action"] for a in registry.applied] == ["next_card", "sale", "sale"]


def test_unknown_server_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--serve", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no reference server 'nosuch'*"])


def test_serve_option_runs_the_role_and_writes_reports(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import asyncio, json, urllib.request
from protocol_servers.contract import ControlAction, Server, Started

async def start(world, options):
    control = {}

    def vendor_pos_tests(base):
        for body in ({"card": "mastercard"}, {"card": "visa"}):
            req = urllib.request.Request(base + "/scenario/next_card",
                                         data=json.dumps(body).encode(), method="POST")
            urllib.request.urlopen(req, timeout=10).read()
        world_note = urllib.request.Request(base + "/shutdown", data=b"{}", method="POST")
        urllib.request.urlopen(world_note, timeout=10).read()

    async def later():
        while "url" not in control:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(vendor_pos_tests, control["url"])

    task = asyncio.ensure_future(later())

    async def close():
        await task

    started = Started(urls={"toy": "ws://127.0.0.1:1/toy"}, close=close,
                      actions={"next_card": ControlAction("next_card", "present this card next",
                                                          lambda params: None)})
    control["url"] = options.control_url
    return started

from protocol_servers.registry import register
register(Server(name="toy2", description="toy", starter=start))
"""
    )
    result = pytester.runpytest_subprocess("--serve", "toy2", "--cardloop-reports=rep")
    assert result.ret == 0, result.stderr.str()
    first = json.loads(result.stdout.lines[0])
    assert first["cardloop"] == "serving" and first["urls"]["control"].startswith("http://127.")
    log = json.loads((pytester.path / "rep" / "serve.json").read_text())
    assert [a["params"]["card"] for a in log["applied"]] == ["mastercard", "visa"]
    assert log["invariants"] == "ok"
    assert (pytester.path / "rep" / "transcripts" / "serve_toy2.jsonl").read_text().count(
        "scenario next_card") == 2


def test_control_client_drives_a_served_target() -> None:
    from simulator.ports.control_api import ControlClient

    got: dict[str, Any] = {}

    def suite(url: str) -> None:
        c = ControlClient(url)
        got["actions"] = c.actions()
        got["applied"] = c.scenario("next_card", card="elo-credit")
        try:
            c.scenario("next_card")
        except ControlError as exc:
            got["refused"] = (exc.status, str(exc))
        got["state"] = c.state()
        try:
            c.play("no-such-scenario")
        except ControlError as exc:
            got["no_play"] = exc.status
        c.reset()
        got["after_reset"] = c.state()["pending"]
        c.shutdown()

    async def main() -> None:
        tasks: list[asyncio.Future[None]] = []
        await serve(
            "toy", Options(seed=2),
            ready=lambda info: tasks.append(
                asyncio.ensure_future(asyncio.to_thread(suite, info["urls"]["control"]))
            ),
        )
        await tasks[0]

    asyncio.run(asyncio.wait_for(main(), 30))
    assert "next_card" in got["actions"]
    assert got["applied"]["queued"] == "elo-credit"
    assert got["refused"] == (400, "next_card needs 'card'")
    assert got["state"]["pending"]["next_card"] == [{"card": "elo-credit"}]
    assert got["after_reset"] == {}
    assert got["no_play"] == 404


def test_control_client_refuses_non_loopback() -> None:
    from simulator.ports.control_api import ControlClient

    with pytest.raises(ValueError, match="loopback"):
        ControlClient("http://192.0.2.1:8080")


def test_control_option_gives_cases_a_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_c='from conformance import case\n'
        'from conformance.options import control_client\n\n'
        '@case("demo/1/1", title="c")\n'
        'def test_c(request):\n'
        '    c = control_client(request.config)\n'
        '    assert c.url == "http://127.0.0.1:9"\n'
    )
    pytester.runpytest("--control", "http://127.0.0.1:9/").assert_outcomes(passed=1)


def test_malformed_http_gets_a_clear_error_and_the_api_keeps_serving() -> None:
    got: list[bytes] = []

    async def raw(port: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        out = await reader.read()
        writer.close()
        return out

    async def vendor(urls: dict[str, str]) -> None:
        port = int(urls["control"].rsplit(":", 1)[1])
        got.append(await raw(port, b"NONSENSE\r\n\r\n"))
        got.append(await raw(port, b"POST /reset HTTP/1.1\r\nContent-Length: x\r\n\r\n"))
        big = f"POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: {10**7}\r\n\r\n".encode()
        got.append(await raw(port, big))
        got.append(await raw(port, b"GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   b"Connection: close\r\n\r\n"))
        await asyncio.to_thread(_http, "POST", urls["control"] + "/shutdown", {})

    async def main() -> None:
        tasks: list[asyncio.Future[None]] = []
        await serve("toy", Options(seed=1),
                    ready=lambda info: tasks.append(asyncio.ensure_future(vendor(info["urls"]))))
        await tasks[0]

    asyncio.run(asyncio.wait_for(main(), 30))
    # aiohttp answers what it cannot parse with 400 and says where it stopped
    assert got[0].split(b" ")[1] == b"400" and b"NONSENSE" in got[0]
    assert got[1].split(b" ")[1] == b"400" and b"Content-Length" in got[1]
    assert got[2].startswith(b"HTTP/1.1 413") and b"body too large" in got[2]
    assert got[3].startswith(b"HTTP/1.1 200") and b'"pending"' in got[3]


def test_certification_scenarios_play_their_steps() -> None:
    from simulator.control import load_scenarios

    text = """
[toy.visa]
title = "a visa card"
expect = "approved"
steps = [{ action = "next_card", params = { card = "visa" } }, { action = "cardholder" }]

[toy.teleport]
title = "needs an action toy lacks"
expect = "-"
steps = [{ action = "teleport" }]
"""
    reg = ControlRegistry(server="toy", scenarios=load_scenarios("toy", text))
    reg.action("next_card", "queue a card")
    reg.action("cardholder", "behaviour")
    out = reg.play("visa")
    assert out["expect"] == "approved"
    assert [s["action"] for s in out["steps"]] == ["next_card", "cardholder"]
    assert reg.take("next_card") == {"card": "visa"}
    with pytest.raises(ControlError, match="lacks"):
        reg.play("teleport")
    assert [a["action"] for a in reg.applied] == ["next_card", "cardholder"]  # nothing more
    with pytest.raises(ControlError) as err:
        reg.play("nope")
    assert err.value.status == 404


def test_every_mpos_scenario_plays_on_the_served_reference() -> None:
    from protocol_servers.registry import lookup
    from simulator.control import load_scenarios

    names = sorted(load_scenarios("mpos", lookup("mpos").scenarios_text()))  # type: ignore[attr-defined]
    assert len(names) >= 5
    results: dict[str, Any] = {}

    async def vendor(urls: dict[str, str]) -> None:
        base = urls["control"]
        status, index = await asyncio.to_thread(_http, "GET", base + "/")
        results["index"] = index
        for name in names:
            results[name] = await asyncio.to_thread(_http, "POST", f"{base}/play/{name}", {})
            await asyncio.to_thread(_http, "POST", base + "/reset", {})
        await asyncio.to_thread(_http, "POST", base + "/shutdown", {})

    async def main() -> None:
        tasks: list[asyncio.Future[None]] = []
        await serve("mpos", Options(seed=1),
                    ready=lambda info: tasks.append(asyncio.ensure_future(vendor(info["urls"]))))
        await tasks[0]

    asyncio.run(asyncio.wait_for(main(), 60))
    assert sorted(results["index"]["scenarios"]) == names
    for name in names:
        status, body = results[name]
        assert status == 200, (name, body)
        assert body["scenario"] == name and body["steps"]
