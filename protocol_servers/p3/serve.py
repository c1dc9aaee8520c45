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

from protocol_servers.p3.config import (
    ConfigError,
    DeviceConfig,
    ServerConfig,
    load,
)
from simulator.cli import tcp_port

TRANSCRIPT_MAX_PAYLOAD = 16 * 1024  # bytes of one message the transcript keeps
TRANSCRIPT_TAIL = 1000  # entries a running server keeps in memory (the file has them all)


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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pinpads' pty links (default: a private temp dir)")
    parser.add_argument("--transcript", metavar="FILE", default=None,
                        help="stream the masked transcript (JSON Lines) to this file")


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
    if args.host not in (None, "127.0.0.1", "::1", "localhost"):
        raise CliError("the reference PayServer listens on loopback only (127.0.0.1 or ::1)")
    try:
        return asyncio.run(_serve(args, cfg))
    except OSError as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None


async def _serve(args: argparse.Namespace, cfg: ServerConfig) -> int:
    from protocol_servers.p3 import live
    from protocol_servers.p3.server import PayServer
    from simulator.supervise import drive_until_stopped
    from simulator.transcript import Transcript
    from simulator.world import World

    # the transcript streams to its file line by line (kill -9 loses at most the last
    # line) and keeps only a short tail in memory, however long the server runs
    transcript = Transcript(args.transcript, keep=TRANSCRIPT_TAIL,
                                  max_payload=TRANSCRIPT_MAX_PAYLOAD) if args.transcript \
        else Transcript(keep=TRANSCRIPT_TAIL,
                                  max_payload=TRANSCRIPT_MAX_PAYLOAD)
    world = World(seed=args.seed, mode="realtime", factor=args.factor, transcript=transcript)
    server = PayServer(world, cfg)
    host = "127.0.0.1" if args.host in (None, "localhost") else args.host
    readers = await live.attach_readers(server, args.link_dir)
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        status = await drive_until_stopped(world, stop, "PayServer")
    finally:
        await endpoints.close()
        server.close()
        world.transcript.close()
    return status
