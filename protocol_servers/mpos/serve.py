"""The Pagar.me mpos-bridge with virtual pinpads on ptys (profile ``documented``).

The default profile follows the public document plus compatible additions;
``--profile bifrost-0.0.19`` reproduces the shipped 0.0.19 code instead. Prints the
WebSocket URL, each pinpad's serial port, the merchant API and the control API, then
serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from protocol_servers.mpos.live import DEFAULT_PORT
from protocol_servers.mpos.profiles import PROFILES, RULE_SWITCHES, parse_profile
from protocol_servers.mpos.quiet import quiet_third_party_warnings
from simulator.cli import tcp_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readers",
        type=int,
        default=1,
        metavar="N",
        help="virtual pinpads, each on its own pty (default 1)",
    )
    parser.add_argument(
        "--card",
        action="append",
        default=[],
        metavar="NAME",
        help="card the customer holds; it is presented again at every sale until another "
        "is chosen (repeatable: a queue; default visa-chip-pin, a test card)",
    )
    parser.add_argument(
        "--serial",
        action="append",
        default=[],
        metavar="PATH",
        help="a real serial pinpad to list beside the virtual ones",
    )
    parser.add_argument(
        "--scan-ports",
        action="store_true",
        help="also list every serial port the OS reports (real pinpads on USB/COM)",
    )
    parser.add_argument(
        "--profile",
        default="documented",
        help=f"{' | '.join(PROFILES)}, optionally +{'/+'.join(RULE_SWITCHES)} (default "
        "documented: the public document; bifrost-0.0.19 is the shipped code's quirks)",
    )
    parser.add_argument(
        "--port",
        type=tcp_port,
        default=DEFAULT_PORT,
        help=f"WebSocket port on 127.0.0.1 (default {DEFAULT_PORT}; 0 = any)",
    )
    parser.add_argument(
        "--tls",
        metavar="CA_FILE",
        default=None,
        help="serve wss:// with a certificate made now; its CA goes to CA_FILE",
    )
    parser.add_argument(
        "--merchant-port",
        type=tcp_port,
        default=0,
        help="merchant API port on 127.0.0.1 (default: any free port)",
    )
    parser.add_argument(
        "--control-port",
        type=tcp_port,
        default=0,
        help="control API port on 127.0.0.1 (default: any free port)",
    )
    parser.add_argument(
        "--factor", type=float, default=1.0, help="wall seconds per simulated second (default 1.0)"
    )
    parser.add_argument("--quiet", action="store_true",
                        help="do not print the live console (the pinpad's display, the card "
                        "going in and out, the PIN typed as stars, the host's answers)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the world's random source: the same seed and the same "
                        "POS requests give the same run (default 1)")
    parser.add_argument(
        "--link-dir", default=None,
        help="directory for the pty links (default: a fixed per-user place, so the device "
        "names stay the same across restarts)",
    )


def serve(args: argparse.Namespace) -> int:
    quiet_third_party_warnings()
    from simulator.cli import CliError

    try:
        profile = parse_profile(args.profile)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.readers < 0:
        raise CliError("--readers must be 0 or more")
    try:
        return asyncio.run(_serve(args, profile))
    except OSError as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None


def _link_dir(chosen: str | None, server: str) -> str:
    from simulator.cli import CliError
    from simulator.ports.pty import PtyError, default_link_dir

    if chosen is not None:
        return chosen
    try:
        return str(default_link_dir(server))
    except (PtyError, OSError) as exc:
        raise CliError(str(exc)) from None


async def _serve(args: argparse.Namespace, profile: Any) -> int:
    from conformance.control import ControlRegistry, ControlServer
    from protocol_servers.mpos.cards import DEFAULT_CARD, card_from_name
    from protocol_servers.mpos.control import register_actions
    from protocol_servers.mpos.runtime import start_bridge
    from simulator.cli import CliError
    from simulator.world import World

    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    try:
        # every reader's customer holds a card from the start (DECISIONS.md)
        card_names = list(args.card) or [DEFAULT_CARD]
        cards = [card_from_name(world, n) for n in card_names]
    except (ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None
    running = await start_bridge(
        world,
        readers=args.readers,
        cards=cards,
        profile=profile,
        port=args.port,
        tls_ca=args.tls,
        link_dir=_link_dir(args.link_dir, "mpos"),
        serial=args.serial,
        merchant_port=args.merchant_port,
        scan_ports=args.scan_ports,
    )
    for r in running.lab.readers[1:]:  # the other counters' customers hold a test card too
        if not r.pinpad.has_card():
            r.pinpad.queue_card(card_from_name(world, DEFAULT_CARD))
    registry = ControlRegistry(server="mpos-bridge")
    register_actions(registry, world, running.lab)
    control = await ControlServer(world, registry).start("127.0.0.1", args.control_port)
    registry.shutdown = asyncio.Event()
    registry.urls = {"mpos": running.url, "control": control.url}
    if running.merchant_url:
        registry.urls["merchant"] = running.merchant_url
    for r in running.lab.readers:
        registry.urls[f"pinpad{r.index}"] = r.port
    print(f"mpos-bridge ({profile.name}) listening on {running.url}", flush=True)
    if running.ca_path is not None:
        print(f"  trust this CA for wss://: {running.ca_path}")
    for r in running.lab.readers:
        print(f"  pinpad {r.index}: {r.port}")
    ours = {r.port for r in running.lab.readers}
    for info in running.lab.server.devices.listing():
        if info.port not in ours:
            print(f"  serial device: {info.port} {info.manufacturer}".rstrip())
    held = ", then ".join(card_names)
    chosen = "" if args.card else " (a default test card)"
    print(f"  customer holds: {held}{chosen}; choose another with --card or the control API")
    print(f"  merchant API: {running.merchant_url}/1/transactions")
    print(f'  control API:  {control.url}/ (POST /scenario/next-card {{"card": NAME}})')
    print("  Ctrl-C to stop", flush=True)
    if not args.quiet:
        from simulator.console import LiveConsole

        LiveConsole(clock=lambda: world.now).attach(world.transcript).watch_ledger(
            running.lab.backend.host.ledger)
    loop = asyncio.get_running_loop()
    stop = registry.shutdown
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        await stop.wait()
    finally:
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await control.close()
        await running.close()
    return 0
