"""Scenario control below the suite: fault actions change the world's links; the HTTP
facades route, refuse and limit as their docstrings say."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from simulator.control import ControlError, ControlRegistry, fault_actions
from simulator.ports.http import JSON, Request, Routes, http_json, serve_http
from simulator.streams import message_link
from simulator.world import World


def _registry(world: World) -> ControlRegistry:
    reg = ControlRegistry(server="test")
    for action in fault_actions(world):
        reg.add(action)
    return reg


def _exchange(world: World, n: int) -> list[Any]:
    """``n`` messages from a to b, one per simulated second; what b received."""
    a, b = message_link(world, "pos", "server")
    got: list[Any] = []

    def sender() -> Any:
        for i in range(n):
            a.send(f"m{i}")
            yield world.timeout(1.0)
        a.close()

    def receiver() -> Any:
        while True:
            msg = yield b.recv()
            if msg is None:
                return
            got.append(msg)

    world.process(sender())
    done = world.process(receiver())
    world.run(until=done)
    return got


def test_a_fault_added_at_runtime_hits_only_later_crossings_and_clears() -> None:
    world = World(seed=1)
    reg = _registry(world)
    assert _exchange(world, 3) == ["m0", "m1", "m2"]
    reg.run("fault", {"kind": "drop", "port": "pos", "direction": "tx"})
    assert _exchange(world, 2) == []
    assert reg.run("clear-faults", {})["cleared"] == 1
    assert _exchange(world, 2) == ["m0", "m1"]


def test_a_fault_can_be_bounded_in_time() -> None:
    world = World(seed=1)
    reg = _registry(world)
    reg.run("fault", {"kind": "drop", "port": "pos", "direction": "tx", "for_s": 1.5})
    assert _exchange(world, 4) == ["m2", "m3"]  # sent at t=2 and t=3, after the window


@pytest.mark.parametrize("params, words", [
    ({"kind": "melt"}, "kind must be one of"),
    ({"kind": "drop", "colour": "red"}, "unknown drop fields"),
])
def test_bad_fault_parameters_are_refused(params: dict[str, Any], words: str) -> None:
    reg = _registry(World(seed=1))
    with pytest.raises(ControlError, match=words):
        reg.run("fault", params)
    assert reg.applied == []


def test_routes_answer_404_and_405_and_hand_over_path_parts() -> None:
    routes = Routes()

    @routes.route("GET", "/items/{id}")
    def item(request: Request) -> tuple[int, Any, str]:
        return 200, {"id": request.params["id"]}, JSON

    assert routes.dispatch(Request("GET", "/items/7")) == (200, {"id": "7"}, JSON)
    for method, path, status in (("POST", "/items/7", 405), ("GET", "/items", 404),
                                 ("GET", "/items/7/x", 404)):
        with pytest.raises(Exception) as err:
            routes.dispatch(Request(method, path))
        assert getattr(err.value, "status", None) == status


def test_http_facade_round_trip_body_limit_and_loopback_only() -> None:
    seen: list[Request] = []

    def handle(request: Request) -> tuple[int, Any, str]:
        seen.append(request)
        return 201, {"echo": request.fields()}, JSON

    async def main() -> tuple[Any, Any]:
        server = await serve_http(handle, max_body=100)
        try:
            ok = await http_json(server.url + "/x", "POST", {"a": 1})
            big = await http_json(server.url + "/x", "POST", {"a": "y" * 200})
        finally:
            await server.close()
        return ok, big

    ok, big = asyncio.run(main())
    assert ok == (201, {"echo": {"a": 1}})
    assert big == (413, {"error": "body too large"})
    assert len(seen) == 1  # the refused body never reached the service
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(serve_http(handle, host="0.0.0.0"))
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(http_json("http://192.0.2.1/"))
