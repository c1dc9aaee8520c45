"""The one list of servers: entry points, aliases, skipped packages, options, serving."""

from __future__ import annotations

import asyncio
import shutil
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from protocol_servers import registry
from protocol_servers.contract import ServerSpec


def test_the_installed_servers_are_listed_by_short_name_with_their_aliases() -> None:
    found = registry.servers()
    assert {"mpos", "p3", "abecs"} <= set(found)
    for spec in found.values():
        assert isinstance(spec, ServerSpec) and spec.description
    assert registry.lookup("mpos-bridge") is found["mpos"]
    assert registry.lookup("payserver") is found["p3"]
    with pytest.raises(registry.UnknownServer, match="no reference server 'nosuch'"):
        registry.lookup("nosuch")


def test_an_entry_whose_package_is_missing_is_skipped_but_a_broken_one_is_not() -> None:
    group = registry.GROUP
    absent = EntryPoint("ghost", "protocol_servers.ghost.contract:SERVER", group)
    present = EntryPoint("mpos", "protocol_servers.mpos.contract:SERVER", group)
    assert list(registry._load([absent, present])) == ["mpos"]
    # the module exists but names something else: a bug to show, not to hide
    wrong = EntryPoint("p3", "protocol_servers.mpos.contract:SERVER", group)
    with pytest.raises(ValueError, match="names server 'mpos'"):
        registry._load([wrong])
    not_spec = EntryPoint("x", "protocol_servers.mpos.contract:add_arguments", group)
    with pytest.raises(TypeError, match="not a ServerSpec"):
        registry._load([not_spec])


def test_options_are_the_servers_defaults_then_the_roles_then_the_callers() -> None:
    spec = registry.lookup("mpos")
    plain = registry.server_parser(spec).parse_args([])
    assert plain.port == 2000 and plain.readers == 1 and plain.seed == 1
    served = registry.options_for(spec, seed=7)
    assert served.port == 0 and served.readers == 2 and served.seed == 7
    assert registry.options_for(spec, ["--readers", "3"]).readers == 2  # role wins over argv
    assert registry.options_for(spec, readers=4).readers == 4


@pytest.mark.realtime
@pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs")
def test_served_p3_presents_the_card_the_control_api_chose() -> None:
    from conformance.options import Options
    from conformance.serve import serve
    from protocol_servers.p3 import live
    from simulator.ports.http import http_json
    from simulator.world import World

    seen: dict[str, Any] = {}

    async def vendor(urls: dict[str, str]) -> None:
        control = urls["control"]
        seen["card"] = await http_json(control + "/scenario/next-card", "POST",
                                       {"card": "mc-issuer-decline"})
        seen["bad"] = await http_json(control + "/scenario/next-card", "POST", {"card": "x"})
        seen["state"] = await http_json(control + "/state")
        world = World(seed=3, mode="realtime")
        pos = await live.connect(world, urls["p3"], "pos")

        def sale() -> Any:
            seen["login"] = yield from pos.login()
            final = yield from pos.final(pos.execute("devices/counterReader", amount="12.00"))
            return final["executeTransactionResponse"]["transaction"]

        seen["sale"] = await world.run_realtime(until=world.process(sale()))
        pos.end.close()
        await http_json(control + "/shutdown", "POST", {})

    async def main() -> None:
        tasks: list[asyncio.Future[None]] = []
        await serve("payserver", Options(seed=1, factor=0.2),
                    ready=lambda info: tasks.append(asyncio.ensure_future(
                        vendor(info["urls"]))))  # type: ignore[arg-type]
        await tasks[0]

    asyncio.run(asyncio.wait_for(main(), 120))
    assert seen["card"][0] == 200 and seen["card"][1]["applied"]["queued"] == 1
    assert seen["bad"][0] == 400 and "no card 'x'" in seen["bad"][1]["error"]
    assert seen["state"][1]["server"]["devices"] == ["devices/mockReader",
                                                     "devices/counterReader"]
    assert seen["login"]["status"] == "OK"
    # the issuer declines the card the control API put in the customer's hand
    assert seen["sale"]["status"] == "DECLINED", seen["sale"]
