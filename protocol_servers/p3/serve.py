"""The Payworks PayServer (P3) with MOCK readers and virtual ABECS pinpads on ptys.

Prints the WebSocket and framed-TCP endpoints and each reader's serial port, then
serves until interrupted. Devices come from ``--config`` (YAML or TOML, the keys of
PayServer's config.yaml, payworks-p3.md §8.2); without it, one MOCK reader and one
virtual ABECS pinpad.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import replace
from pathlib import Path

from protocol_servers.p3.config import (
    ConfigError,
    DeviceConfig,
    ServerConfig,
    load,
)
from simulator.cli import tcp_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="config.yaml / config.toml with host, ports, location and devices")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--ws-port", type=tcp_port, default=None,
                        help="WebSocket port (default 8080; 0 = any free port)")
    parser.add_argument("--tcp-port", type=tcp_port, default=None,
                        help="framed TCP port (default 8081; 0 = any free port)")
    parser.add_argument("--factor", type=float, default=1.0,
                        help="wall seconds per simulated second (default 1.0)")
    parser.add_argument("--quiet", action="store_true",
                        help="do not print the live console (the pinpad's display, the card "
                        "going in and out, the PIN typed as stars, the host's answers)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the world's random source: the same seed and the same "
                        "POS requests give the same run (default 1)")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pinpads' pty links (default: a fixed per-user "
                        "place, so the device names stay the same across restarts)")
    parser.add_argument("--per-connection-login", action="store_true",
                        help="ask for a merchant login on every connection (default: one "
                        "login holds for the whole server, as public P3 clients expect)")
    parser.add_argument("--transcript", metavar="FILE", default=None,
                        help="write the masked transcript (JSON Lines) here on exit")


def default_config() -> ServerConfig:
    return ServerConfig(devices=(
        DeviceConfig("mockReader", "Mock reader"),
        DeviceConfig("counterReader", "Counter reader (ABECS)", "MIURA", "USB"),
    ))


def serve(args: argparse.Namespace) -> int:
    import warnings

    from simulator.cli import CliError

    # the EMV libraries build two-key TDES through cryptography's moved class; harmless
    warnings.filterwarnings("ignore", message=".*TripleDES.*")

    try:
        cfg = load(args.config) if args.config else default_config()
    except (ConfigError, OSError) as exc:
        raise CliError(f"config: {exc}") from None
    if getattr(args, "per_connection_login", False):
        cfg = replace(cfg, global_login=False)
    if args.host not in (None, "127.0.0.1", "::1", "localhost"):
        raise CliError("the reference PayServer listens on loopback only (127.0.0.1 or ::1)")
    try:
        return asyncio.run(_serve(args, cfg))
    except OSError as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None


def _link_dir(chosen: str | None) -> str:
    from simulator.cli import CliError
    from simulator.ports.pty import PtyError, default_link_dir

    if chosen is not None:
        return chosen
    try:
        return str(default_link_dir("p3"))
    except (PtyError, OSError) as exc:
        raise CliError(str(exc)) from None


async def _serve(args: argparse.Namespace, cfg: ServerConfig) -> int:
    from protocol_servers.p3 import live
    from protocol_servers.p3.server import PayServer
    from simulator.world import World

    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    server = PayServer(world, cfg)
    host = "127.0.0.1" if args.host in (None, "localhost") else args.host
    readers = await live.attach_readers(server, _link_dir(args.link_dir))
    endpoints = await live.start(server, host, args.ws_port, args.tcp_port)
    print(f"PayServer (P3) at {cfg.location}", flush=True)
    print(f"  WebSocket:  {endpoints.ws_url}")
    print(f"  framed TCP: {endpoints.tcp_url}  (4-byte big-endian length + UTF-8 JSON)")
    for dev in server.devices.values():
        line = f"  device {dev.config.resource}: {dev.config.type}/{dev.config.comlink}"
        port = dict(readers).get(dev.config.resource)
        if port:
            line += f", pinpad on {port}"
        print(line)
    print("  Ctrl-C to stop", flush=True)
    if not args.quiet:
        from simulator.console import LiveConsole

        LiveConsole(clock=lambda: world.now).attach(world.transcript).watch_ledger(
            server.acquirer.ledger)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
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
        await endpoints.close()
        server.close()
        if args.transcript:
            world.transcript.dump(Path(args.transcript))
    return 0
