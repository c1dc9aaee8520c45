"""Running one server for outside clients: world, server, control API, until told to stop.

``cardloop serve NAME`` (:func:`serve_cli`) and the suite's client-under-test role
(``python -m conformance --serve NAME``) both run :func:`serve`, so a vendor meets
the same assembly either way: a realtime world, the server's ``start``, the control
API with the server's actions and the world's fault actions, and the world's driver.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import re
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ServerSpec, Started
from simulator.driver import realtime_driver

if TYPE_CHECKING:
    from simulator.control import ControlRegistry
    from simulator.world import World

Ready = Callable[[dict[str, Any], Started], None]
TRANSCRIPT_TAIL = 1000  # entries a running server keeps in memory (the file has them all)
TRANSCRIPT_MAX_PAYLOAD = 16 * 1024  # bytes of one message the transcript keeps


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
    from simulator.supervise import for_a_server, until_stopped
    from simulator.transcript import Transcript
    from simulator.world import World

    # The transcript streams to its file line by line (kill -9 loses at most the last
    # line) and keeps only a short tail in memory, however long the server runs.
    world = World(seed=options.seed, mode="realtime", factor=options.factor,
                  transcript=Transcript(getattr(options, "transcript", None),
                                        keep=TRANSCRIPT_TAIL, max_payload=TRANSCRIPT_MAX_PAYLOAD))
    for_a_server(world)
    console = None
    if not getattr(options, "quiet", True):
        from simulator.console import LiveConsole

        console = LiveConsole(clock=lambda: world.now).attach(world.transcript)
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
    for action in [*fault_actions(world), backend_fault_action(world),
                   pinpad_power_action(world)]:
        registry.add(action)
    registry.state = started.state
    if console is not None:
        for ledger in started.ledgers:
            console.watch_ledger(ledger)
    registry.urls = {**started.urls, "control": control.url}
    try:
        async with realtime_driver(world) as driver:
            if ready is not None:
                ready({"server": spec.name, "urls": registry.urls}, started)
            assert registry.shutdown is not None
            # a dead world loop ends the server at once, non-zero: a server that accepts
            # connections it will never answer is worse than no server
            options.exit_status = await until_stopped(driver, registry.shutdown, spec.name)
    finally:
        await started.close()
        await control.close()
        world.transcript.close()  # every entry is already on disk
    return world, registry


def link_dir_for(chosen: str | None, server: str) -> str:
    """``--link-dir`` when given, else the fixed per-user place of ``server``'s pty links
    (so a device keeps its name across restarts)."""
    from simulator.cli import CliError
    from simulator.ports.pty import PtyError, default_link_dir

    if chosen is not None:
        return chosen
    try:
        return str(default_link_dir(server))
    except (PtyError, OSError) as exc:
        raise CliError(str(exc)) from None


def _print_banner(spec: ServerSpec) -> Ready:
    def show(info: dict[str, Any], started: Started) -> None:
        for line in started.banner or [f"{spec.name}: {spec.description}"]:
            print(line)
        actions = ", ".join([*sorted(started.actions), "fault", "faults", "remove-fault",
                             "clear-faults", "backend-fault", "pinpad-power"])
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
        if exc.errno == errno.EADDRINUSE or "address already in use" in str(exc):
            raise CliError(port_in_use(exc, args), 1) from None
        raise CliError(f"cannot serve: {exc}", 1) from None
    return int(getattr(args, "exit_status", 0) or 0)


def port_in_use(exc: OSError, args: argparse.Namespace) -> str:
    """"Address already in use", saying which option picks another port."""
    found = re.search(r"(\d+\.\d+\.\d+\.\d+|::1)'?, (\d+)\)", str(exc))
    where = f"{found.group(1)}:{found.group(2)}" if found else "a port"
    busy = int(found.group(2)) if found else None
    options = {f"--{key.replace('_', '-')}": value for key, value in vars(args).items()
               if key.endswith("port") and not callable(value)}
    named = [opt for opt, value in options.items() if busy is not None and value == busy]
    if not named:
        named = sorted(options)
    return (f"cannot serve: {where} is already in use (another server, or an earlier "
            f"cardloop serve still running?); pick another port with {' or '.join(named)}"
            " (0 picks a free one)")


def backend_fault_action(world: Any) -> Any:
    """``backend-fault {mode, delay}``: the catalogue's ``backend.*`` faults on a served
    server, on the line from every terminal of its world to the acquirer (``mode``: none,
    slow, silent, down, twice, late; ``none`` heals it). Every server reads the same line,
    so a vendor's POS can be shown a silent host and the timeout reversal that follows."""
    from simulator.control import ControlAction, ControlError
    from virtual_devices.acquirer.link import MODES, HostFault, line_fault, set_line_fault

    def apply(params: dict[str, Any]) -> dict[str, Any]:
        mode = str(params.get("mode", "none"))
        if mode not in MODES:
            raise ControlError(f"backend-fault mode must be one of {', '.join(MODES)}")
        try:
            delay = float(params.get("delay", 0.0))
        except (TypeError, ValueError):
            raise ControlError("backend-fault delay must be a number of seconds") from None
        if delay < 0:
            raise ControlError("backend-fault delay must not be negative")
        set_line_fault(world, HostFault(mode, delay))
        now = line_fault(world)
        return {"backend": {"mode": now.mode, "delay": now.delay}}

    return ControlAction("backend-fault", "the acquirer line of every terminal: {mode: "
                         "none|slow|silent|down|twice|late, delay: seconds}", apply)



def pinpad_power_action(world: Any) -> Any:
    """``pinpad-power {kind, at, off}``: the catalogue's ``device.reboot`` and
    ``device.power_loss`` on a served server. The next pinpad of its world to receive the
    ABECS command ``at`` loses power as the command arrives, stays off ``off`` seconds and
    boots (:mod:`virtual_devices.abecs.power`), so a vendor's POS can be shown a terminal
    whose pinpad went dark mid-sale and the reversal of the approval it never confirmed.
    The defaults are the catalogue's: a reboot as FNC arrives, a power loss as GOC does
    with the timings file's ``power_loss_off``."""
    from simulator.control import ControlAction, ControlError
    from simulator.timings import load_timings
    from virtual_devices.abecs import power

    power_loss_off = float(load_timings("virtual_devices.abecs")["power_loss_off"])
    defaults = {"reboot": ("FNC", 0.0), "power_loss": ("GOC", power_loss_off)}

    def apply(params: dict[str, Any]) -> dict[str, Any]:
        kind = str(params.get("kind", "reboot"))
        if kind not in defaults:
            raise ControlError("pinpad-power kind must be reboot or power_loss")
        at = params.get("at", defaults[kind][0])
        # an ABECS command id is three capital letters (OPN, GOC, FNC, ...)
        if not (isinstance(at, str) and len(at) == 3 and at.isascii() and at.isalpha()
                and at.isupper()):
            raise ControlError("pinpad-power at must be an ABECS command id such as FNC")
        try:
            off = float(params.get("off", defaults[kind][1]))
        except (TypeError, ValueError):
            raise ControlError("pinpad-power off must be a number of seconds") from None
        if not 0.0 <= off <= 86400.0:
            raise ControlError("pinpad-power off must be between 0 and 86400 seconds")
        power.arm(world, power.PowerFault(at=at, off=off, kind=kind))
        return {"pinpad_power": {"kind": kind, "at": at, "off": off}}

    return ControlAction("pinpad-power", "the next pinpad to receive an ABECS command loses "
                         "power: {kind: reboot|power_loss, at: FNC, off: seconds}", apply)
