"""``cardloop demo``: one sale through the mpos-bridge, over real sockets and ptys.

Starts the reference bridge with a virtual pinpad on a pty pair, then plays a POS
outside the world over a real WebSocket: list devices, initialize (OPN and table
load), process (the customer inserts the card and types the PIN), the merchant step
over local HTTP, finish (FNC, RMC) and close; when finish says the card declined what
the host approved, the POS reverses the sale on the merchant API. Prints each step, writes
``reports/demo/transcript.jsonl`` (card numbers masked) and ``summary.json``, and exits 0
when the sale was authorized.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from protocol_servers.mpos.pos import Step, run_sale
from protocol_servers.mpos.quiet import quiet_third_party_warnings
from simulator.cli import SEED_HELP
from simulator.masking import mask_text

DEFAULT_CARD = "visa-chip-pin"
FALLBACK_CARD = "magstripe-credit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--card", default=None, help=f"card to pay with (default {DEFAULT_CARD})")
    parser.add_argument("--amount", type=int, default=12345, help="amount in cents (default 12345)")
    parser.add_argument(
        "--factor",
        type=float,
        default=0.2,
        help="wall seconds per simulated second (default 0.2: 5x faster; below about 0.1 a busy "
        "machine can be too slow for the 2 s ABECS acknowledgement window)",
    )
    parser.add_argument("--seed", type=int, default=1, help=f"{SEED_HELP} (default 1)")
    parser.add_argument("--reports", default="reports/demo", help="report directory")
    parser.add_argument("--tls", action="store_true", help="use wss:// with a generated CA")


def run(args: argparse.Namespace) -> int:
    quiet_third_party_warnings()
    from simulator.cli import CliError

    if args.amount <= 0:
        raise CliError("--amount must be a positive number of cents")
    try:
        return asyncio.run(_demo(args))
    except OSError as exc:
        raise CliError(f"demo could not start: {exc}", 1) from None


def _pick_card(world: Any, name: str | None) -> tuple[str, Any]:
    from protocol_servers.mpos.cards import card_from_name

    if name is not None:
        return name, card_from_name(world, name)
    try:
        return DEFAULT_CARD, card_from_name(world, DEFAULT_CARD)
    except (ImportError, ValueError):
        # chip cards need the EMV card applications; the stripe path needs nothing more
        return FALLBACK_CARD, card_from_name(world, FALLBACK_CARD)


def _print_step(step: Step) -> None:
    a = step.answer
    if "response_type" in a:
        what = f"response_type {a['response_type']}"
        if a.get("error"):
            what += f" ({a['error']})"
        if isinstance(a.get("process"), dict):
            p = a["process"]
            what += (
                f" status {p['status']} method {p['payment_method']} "
                f"holder {p['card_holder_name']!r} online PIN {p['is_online_pin']}"
            )
        if a.get("device_list"):
            what += " devices " + ", ".join(d["port"] for d in a["device_list"])
    else:
        what = (
            f"transaction {a.get('id')} {a.get('status')} "
            f"acquirer_response_code {a.get('acquirer_response_code')}"
        )
    print(f"  {step.name:<28} {what}  [{step.wall_s * 1000:.0f} ms]", flush=True)


async def _demo(args: argparse.Namespace) -> int:
    from protocol_servers.registry import lookup, options_for
    from simulator.cli import CliError
    from simulator.driver import realtime_driver
    from simulator.world import World

    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    try:
        card_name, _card = _pick_card(world, args.card)
    except (ImportError, ValueError) as exc:
        raise CliError(str(exc)) from None
    t0 = time.perf_counter()
    # the mpos server as every tool starts it: the one list of servers, its own options
    spec = lookup("mpos")
    ca_path = reports / "ca.pem" if args.tls else None
    started = await spec.start(world, options_for(
        spec, readers=1, card=[card_name], port=0, tls=ca_path))
    ssl_ctx = None
    if ca_path is not None:
        import ssl

        ssl_ctx = ssl.create_default_context(cafile=str(ca_path))
    print(f"mpos-bridge on {started.urls['mpos']}; pinpad on {started.urls['pinpad0']}")
    print(f"paying {args.amount} cents with {card_name} (factor {args.factor})")
    try:
        async with realtime_driver(world):
            result = await run_sale(
                started.urls["mpos"],
                started.urls.get("merchant", ""),
                args.amount,
                report=_print_step,
                ssl_context=ssl_ctx,
            )
    finally:
        await started.close()
    wall = time.perf_counter() - t0
    world.transcript.dump(reports / "transcript.jsonl")
    summary = {
        "ok": result.ok,
        "card": card_name,
        "amount": args.amount,
        "factor": args.factor,
        "seed": args.seed,
        "wall_s": round(wall, 3),
        "sim_s": round(world.now, 3),
        "steps": [
            {
                "name": s.name,
                "wall_ms": round(s.wall_s * 1000, 1),
                "response_type": s.answer.get("response_type"),
                "error": s.answer.get("error"),
            }
            for s in result.steps
        ],
        "transaction": result.transaction,
        "unsolicited": result.unsolicited,
        "error": result.error,
        "lateness": world.lateness.summary(),
    }
    # built from masked values only; the generic scan still guards against a stray PAN
    text = mask_text(json.dumps(summary, indent=2))
    (reports / "summary.json").write_text(text + "\n", encoding="utf-8")
    verdict = "APPROVED" if result.ok else f"NOT APPROVED: {result.error}"
    print(
        f"{verdict} in {wall:.2f} s wall, {world.now:.1f} s simulated; "
        f"report in {reports}/summary.json"
    )
    return 0 if result.ok else 1
