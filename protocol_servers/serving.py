"""Running one server for outside clients: world, server, control API, until told to stop.

``cardloop serve NAME`` (:func:`serve_cli`) and the suite's client-under-test role
(``python -m conformance --serve NAME``) both run :func:`serve`, so a vendor meets
the same assembly either way: a realtime world, the server's ``start``, the control
API with the server's actions and the world's fault actions, and the world's driver.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ServerSpec, Started

if TYPE_CHECKING:
    from simulator.control import ControlRegistry
    from simulator.world import World

Ready = Callable[[dict[str, Any], Started], None]


def _scenarios_text(spec: ServerSpec) -> str | None:
    text = getattr(spec, "scenarios_text", None)
    return text() if callable(text) else None


async def serve(
    spec: ServerSpec,
    options: argparse.Namespace,
    *,
    ready: Ready | None = None,
    stop: asyncio.Event | None = None,
) -> tuple[World, ControlRegistry]:
    """Run ``spec`` with its control API until ``stop`` is set (or ``POST /shutdown``).

    ``ready`` is told ``{"server": NAME, "urls": {..., "control": URL}}`` and what
    ``start`` returned, once everything listens. Returns the world (its transcript)
    and the registry (what the control API applied).
    """
    from simulator.control import ControlRegistry, fault_actions, load_scenarios
    from simulator.ports.control_api import ControlServer
    from simulator.world import World

    world = World(seed=options.seed, mode="realtime", factor=options.factor)
    registry = ControlRegistry(server=spec.name, shutdown=stop or asyncio.Event(),
                               scenarios=load_scenarios(spec.name, _scenarios_text(spec)))
    control = await ControlServer(world, registry).start(port=options.control_port)
    options.control_url = control.url  # a server may tell its clients where it is
    try:
        started = await spec.start(world, options)
    except BaseException:
        await control.close()
        raise
    for action in started.actions.values():
        registry.add(action)
    for action in fault_actions(world):
        registry.add(action)
    registry.state = started.state
    registry.urls = {**started.urls, "control": control.url}
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        if ready is not None:
            ready({"server": spec.name, "urls": registry.urls}, started)
        assert registry.shutdown is not None
        await registry.shutdown.wait()
    finally:
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await started.close()
        await control.close()
        transcript = getattr(options, "transcript", None)
        if transcript:
            world.transcript.dump(Path(transcript))
    return world, registry


def _print_banner(spec: ServerSpec) -> Ready:
    def show(info: dict[str, Any], started: Started) -> None:
        for line in started.banner or [f"{spec.name}: {spec.description}"]:
            print(line)
        actions = ", ".join([*sorted(started.actions), "fault", "clear-faults"])
        print(f"  control API:  {info['urls']['control']}/ (POST /scenario/<action>: "
              f"{actions})")
        print("  Ctrl-C to stop", flush=True)

    return show


def serve_cli(spec: ServerSpec, args: argparse.Namespace) -> int:
    """``cardloop serve NAME``: serve until Ctrl-C; errors a user can fix are one line."""
    import warnings

    from simulator.cli import CliError

    # the EMV libraries build two-key TDES through cryptography's moved class; harmless
    warnings.filterwarnings("ignore", message=".*TripleDES.*")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(spec, args, ready=_print_banner(spec), stop=stop)

    # a server refuses an option's value with CliError, which the command prints
    try:
        asyncio.run(main())
    except OSError as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None
    return 0
