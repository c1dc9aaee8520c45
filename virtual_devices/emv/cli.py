"""``cardloop cards`` and ``cardloop card NAME``: the catalogue and one kernel flow.

``cardloop card`` runs one payment in a virtual world (reader, kernel, cardholder,
acquirer host) and prints the APDU trace as the transcript holds it (card numbers
masked) and the outcome. The same seed prints the same trace.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from simulator.cli import SEED_HELP, CliError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("cards", help="list the virtual card catalogue")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_cards)

    p = subparsers.add_parser("card", help="run one EMV kernel flow with a catalogue card")
    p.add_argument("name", help="card name (see `cardloop cards`)")
    p.add_argument("--amount", type=int, default=1000, help="amount in minor units (cents)")
    p.add_argument("--seed", type=int, default=1, help=f"{SEED_HELP} (default 1)")
    p.add_argument(
        "--interface", choices=("contact", "contactless", "magstripe"), default="contact",
        help="how the card meets the reader: chip, tap or stripe (default contact)",
    )
    p.add_argument("--pin", help="PIN the cardholder types (default: the card's own)")
    p.add_argument("--rules", default="default", help="acquirer rules profile")
    p.add_argument("--floor-limit", type=int, default=None, help="terminal floor limit (cents)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_card)


def cmd_cards(args: argparse.Namespace) -> int:
    from virtual_devices.emv.catalogue import catalogue

    cards = catalogue()
    if args.json:
        print(json.dumps({n: {"brand": p.brand, "interfaces": sorted(p.interfaces),
                              "description": p.description, "expected": p.expected}
                          for n, p in cards.items()}, indent=2))
        return 0
    width = max(len(n) for n in cards) if cards else 4
    print(f"{'NAME'.ljust(width)}  {'BRAND':10}  {'EXPECTED (contact)':18}  DESCRIPTION")
    for name, prof in cards.items():
        expected = prof.expected.get("outcome") or prof.expected.get("contactless", "-")
        print(f"{name.ljust(width)}  {prof.brand:10}  {expected:18}  {prof.description}")
    return 0


def run_card(
    name: str,
    amount: int,
    seed: int = 1,
    interface: str = "contact",
    pin: str | None = None,
    rules: str = "default",
    floor_limit: int | None = None,
    follow_prompts: bool = True,
    behaviour: Any = None,
) -> tuple[Any, Any, Any]:
    """Run one flow; returns (outcome, world, host). Used by the CLI and the bench."""
    from dataclasses import replace

    from simulator.world import World
    from virtual_devices.acquirer import AcquirerHost
    from virtual_devices.cardholder import Behaviour, Cardholder
    from virtual_devices.emv.card import load_card
    from virtual_devices.emv.kernel import Txn, run_virtual

    try:
        card = load_card(name)
    except KeyError:
        raise CliError(f"no card named {name!r}; see `cardloop cards`") from None
    if amount < 0:
        raise CliError("amount must be a non-negative integer in minor units")
    world = World(seed=seed, mode="virtual")
    card.place_in(world)
    host = AcquirerHost(rules)
    config = host.terminal_config()
    if floor_limit is not None:
        config = config.with_aids(replace(a, floor_limit=floor_limit) for a in config.aids)
    profile = card.profile
    pins: tuple[str | None, ...] = (pin,) if pin is not None else tuple(
        profile.cardholder.get("pins", ())
    )
    select = profile.cardholder.get("select")
    choice: int | str | None = 0
    if select:
        choice = next(
            (a.label for a in profile.applications if a.aid.hex().upper() == str(select).upper()),
            0,
        )
    if behaviour is None:
        behaviour = Behaviour(
            interface=interface,  # type: ignore[arg-type]
            pins=pins,
            app_choice=choice,
            follow_prompts=follow_prompts,
        )
    holder = Cardholder(world, behaviour, pin=profile.pin or "0000")
    outcome = run_virtual(world, card, config, Txn(amount=amount), holder, host)
    return outcome, world, host


def cmd_card(args: argparse.Namespace) -> int:
    import warnings

    # pyemv/psec reach TDES through an older cryptography path and warn on every call.
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    outcome, world, host = run_card(
        args.name, args.amount, args.seed, args.interface, args.pin, args.rules, args.floor_limit
    )
    summary = {
        "status": outcome.status.value,
        "reason": outcome.reason,
        "interface": outcome.interface,
        "application": outcome.label,
        "pan": outcome.pan_masked,
        "cryptogram": outcome.cryptogram,
        "first_cryptogram": outcome.first_cryptogram,
        "oda": outcome.oda + ("" if outcome.oda_ok is None else (" ok" if outcome.oda_ok
                                                                  else " failed")),
        "cvm": outcome.cvm,
        "tvr": outcome.tvr.hex().upper(),
        "tsi": outcome.tsi.hex().upper(),
        "arc": outcome.arc,
        "online": outcome.online,
        "reversed": outcome.reversed,
        "sim_seconds": round(world.now, 3),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    for e in world.transcript.entries:
        if e.direction == "event":
            print(f"{e.sim:9.3f}  {e.port:10} ..  {e.label}")
        else:
            arrow = ">>" if e.direction == "tx" else "<<"
            print(f"{e.sim:9.3f}  {e.port:10} {arrow}  {e.label}")
            print(f"{'':24}{e.hex.upper()}")
    print()
    for key, value in summary.items():
        print(f"{key:17} {value}")
    return 0
