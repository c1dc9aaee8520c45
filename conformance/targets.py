"""What a conformance case talks to: one base class for every protocol's target.

As pytest-embedded's ``Dut`` is shared by its services, each protocol's ``conftest.py``
subclasses :class:`Target` and adds only what its protocol needs (how to build its
reference, how to open a client). A case then reads the same everywhere: it asks its
target for clients, runs SimPy scripts with :meth:`Target.run`, and asks
:meth:`Target.need_reference` before it reads the reference's insides (its ledger,
its pinpads), which a foreign server or a real device does not show.

The four kinds of target (:attr:`Target.kind`):

``virtual``  the reference runs inside the case's world on in-memory links (the
             default; deterministic, as fast as the CPU allows);
``served``   the same reference on real sockets or ptys on 127.0.0.1, the world on the
             wall clock (``--mode realtime``);
``foreign``  a server under test named with ``--target NAME=URL``; the suite plays the
             POS over real sockets;
``serial``   a device under test on a serial port (``--serial PATH``); the suite plays
             the host.

A realtime target (served, foreign or serial) owns an asyncio loop: connections are
opened on it with :meth:`Target.wait`, and :meth:`Target.run` drives the world on it
until the script ends. :meth:`Target.close` calls the subclass's :meth:`teardown`, then
lets the ports' tasks see their connections end before the loop goes.

A new protocol's target (``conformance/cases/<name>/conftest.py``)::

    class ValorTarget(Target):
        def __init__(self, world: World, url: str | None) -> None:
            super().__init__(world, Target.kind_for(world, url=url))
            if self.kind == "virtual":
                self.server = ValorServer(world)           # in-memory links
            elif self.kind == "served":
                self.endpoints = self.wait(live.start(...))  # loopback sockets
            ...

        def client(self, name: str = "pos") -> ValorClient: ...

        def teardown(self) -> None:  # close clients, endpoints, the server
            ...

    @pytest.fixture
    def valor(request, world):
        target = ValorTarget(world, target_url(request.config, "valor"))
        yield target
        target.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Literal, TypeVar

import pytest

from simulator.world import World

Kind = Literal["virtual", "served", "foreign", "serial"]
Script = Callable[..., Generator[Any, Any, Any]]
T = TypeVar("T")


class Target:
    """One server or device under test and the world a case runs it in."""

    def __init__(self, world: World, kind: Kind,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.world = world
        self.kind: Kind = kind
        self._own_loop = False
        if loop is None and world.mode == "realtime":
            loop = asyncio.new_event_loop()
            self._own_loop = True
        self.loop = loop

    @staticmethod
    def kind_for(world: World, *, url: str | None = None, serial: str | None = None) -> Kind:
        """The kind a protocol's options make: a URL is foreign, a serial path a device,
        otherwise our reference, virtual or served by the world's mode."""
        if serial is not None:
            return "serial"
        if url is not None:
            return "foreign"
        return "virtual" if world.mode == "virtual" else "served"

    # -- what a case may look at -----------------------------------------------------
    @property
    def reference(self) -> bool:
        """True when the target is our reference (its insides are visible)."""
        return self.kind in ("virtual", "served")

    def need_reference(self, why: str) -> None:
        """Skip the case unless the target is our reference."""
        if not self.reference:
            pytest.skip(f"needs the reference implementation: {why}")

    # -- running -----------------------------------------------------------------------
    def wait(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the target's loop (realtime targets: opening sockets)."""
        if self.loop is None:
            raise RuntimeError("a virtual target has no event loop")
        return self.loop.run_until_complete(awaitable)

    def run(self, script: Script, *args: Any, limit: float | None = None) -> Any:
        """Run SimPy ``script(*args)`` in the world until it ends; its return value.

        ``limit`` (simulated seconds) bounds a realtime run on the wall clock, so a
        silent device fails the case instead of hanging it.
        """
        proc = self.world.process(script(*args))
        if self.loop is None:
            return self.world.run(until=proc)
        driver: Awaitable[Any] = self.world.run_realtime(until=proc)
        if limit is not None:
            driver = asyncio.wait_for(driver, limit * self.world.factor + 30)
        return self.loop.run_until_complete(driver)

    def settle(self, seconds: float) -> None:
        """Let the world run on, e.g. for a server to notice a closed connection."""

        def idle() -> Generator[Any, Any, Any]:
            yield self.world.timeout(seconds)

        self.run(idle)

    # -- ending ------------------------------------------------------------------------
    def teardown(self) -> None:
        """Close what the subclass opened (clients, endpoints, the reference)."""

    def close(self) -> None:
        self.teardown()
        if self.loop is None or not self._own_loop:
            return
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(_drain(pending))
        self.loop.close()
        self.loop = None


async def _drain(pending: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*pending, return_exceptions=True)
