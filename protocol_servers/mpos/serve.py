"""The Pagar.me mpos-bridge (Bifrost 0.0.19) with virtual pinpads on ptys.

Prints the WebSocket URL, each pinpad's serial port, the merchant API and the
control API, then serves until interrupted.
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

TRANSCRIPT_MAX_PAYLOAD = 16 * 1024  # bytes of one message the transcript keeps
TRANSCRIPT_TAIL = 1000  # entries a running server keeps in memory


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
        help="card the customer presents, in order (repeatable: a queue)",
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
        help=f"{' | '.join(PROFILES)}, optionally +{'/+'.join(RULE_SWITCHES)} (default documented)",
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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--transcript", metavar="FILE", default=None,
        help="stream the masked transcript (JSON Lines) to this file",
    )
    parser.add_argument(
        "--link-dir", default=None, help="directory for the pty links (default: a private temp dir)"
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


async def _serve(args: argparse.Namespace, profile: Any) -> int:
    from conformance.control import ControlRegistry, ControlServer
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.control import register_actions
    from protocol_servers.mpos.runtime import start_bridge
    from simulator.cli import CliError
    from simulator.supervise import drive_until_stopped
    from simulator.transcript import Transcript
    from simulator.world import World

    # a long-running server keeps a bounded tail of its transcript in memory
    world = World(seed=args.seed, mode="realtime", factor=args.factor,
                  transcript=Transcript(args.transcript, keep=TRANSCRIPT_TAIL,
                                  max_payload=TRANSCRIPT_MAX_PAYLOAD))
    try:
        for n in args.card:  # refuse unknown names before anything starts
            card_from_name(world, n)
    except (ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None

    def cards(reader: int) -> list[Any]:
        """Every reader gets the cards asked for, each reader its own copies."""
        return [card_from_name(world, n) for n in args.card]

    running = await start_bridge(
        world,
        readers=args.readers,
        cards=cards,
        profile=profile,
        port=args.port,
        tls_ca=args.tls,
        link_dir=args.link_dir,
        serial=args.serial,
        merchant_port=args.merchant_port,
        scan_ports=args.scan_ports,
    )
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
    print(f"  merchant API: {running.merchant_url}/1/transactions")
    print(f'  control API:  {control.url}/ (POST /scenario/next-card {{"card": NAME}})')
    print("  Ctrl-C to stop", flush=True)
    loop = asyncio.get_running_loop()
    stop = registry.shutdown
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        status = await drive_until_stopped(world, stop, "mpos-bridge")
    finally:
        await control.close()
        await running.close()
        world.transcript.close()
    return status
