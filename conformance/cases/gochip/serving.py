"""``python -m conformance --serve gochip``: the reference agent waits for the POS under test.

The agent listens on a free loopback port (the ready line names it) with one virtual
reader on a pty; the control API offers the contract's actions (``next-card``,
``cardholder``) to choose what the customer does. Until the control API reads the
server contract itself, this module is how ``--serve`` finds the agent.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from conformance.control import ControlRegistry, Served, register_server
from protocol_servers.gochip.contract import SERVER

if TYPE_CHECKING:
    from conformance.options import Options
    from simulator.world import World


async def _start(world: World, registry: ControlRegistry, options: Options) -> Served:
    args = argparse.Namespace(port=0, gateway="first-data", card=None, readers=1, serial=None,
                              link_dir=None)
    started = await SERVER.start(world, args)
    for action in started.actions.values():
        registry.action(action.name, action.help, action.apply)
    return Served(started.urls, started.close)


register_server("gochip", _start)
