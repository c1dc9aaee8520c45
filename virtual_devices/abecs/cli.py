"""``cardloop reader --pty``: a virtual ABECS pinpad on a pseudo-terminal.

Starts socat, opens the device end, runs the pinpad in a realtime world and prints
the path the host software should open. Runs until Ctrl-C (or ``--duration``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

from simulator.cli import SEED_HELP
from simulator.world import World
from virtual_devices.abecs.customer import Behaviour, Customer, MagstripeCard
from virtual_devices.abecs.storage import default_state_root

# PCI PTS POI B7: the average spacing is measured over the last 120 PIN entries
PCI_PIN_ENTRIES = 120


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reader",
        help="run a virtual ABECS pinpad on a pty",
        description="A virtual ABECS pinpad on one end of a pty pair; the host software "
        "opens the printed path (any baud rate, 8N1).",
    )
    # a pty pair is the reader's only mode, so the flag is accepted and not required
    p.add_argument("--pty", action="store_true", default=True,
                   help="serve on a pseudo-terminal pair made with socat (the only mode; "
                   "the flag may be left out)")
    p.add_argument("--link-dir", default=None,
                   help="directory for the two pty links (default: a fixed per-user place, "
                   "so the names stay the same across restarts)")
    p.add_argument("--card", action="append", default=[], metavar="NAME",
                   help="catalogue card to present (repeat for a queue); see --list-cards")
    p.add_argument("--swipe", action="store_true",
                   help="present the cards' stripes, not their chips")
    p.add_argument("--entry", choices=["tap", "insert", "swipe"], default=None,
                   help="how the cardholder presents the cards (default: tap a contactless "
                   "card when the antenna is on, else insert a chip, else swipe)")
    p.add_argument("--list-cards", action="store_true", help="print catalogue card names")
    p.add_argument("--pin", default="1234", help="the PIN the cardholder types")
    p.add_argument("--wrong-pins", type=int, default=0, help="wrong PINs typed first")
    p.add_argument("--cancel-at", choices=["card", "pin"], default=None,
                   help="the cardholder presses Cancel at this prompt (ABECS 013)")
    p.add_argument("--walk-away-at", choices=["card", "pin"], default=None,
                   help="the cardholder does nothing at this prompt (timeouts, 012)")
    p.add_argument("--legacy", action="store_true",
                   help="an obsolete pinpad: answer OPN000 and stay in clear")
    p.add_argument("--factor", type=float, default=1.0,
                   help="wall seconds per simulated second (default 1.0)")
    p.add_argument("--baud", type=int, default=None,
                   help="pace the pinpad's bytes like a serial line at this rate (8N1); "
                   "default: as fast as the pty goes")
    p.add_argument("--seed", type=int, default=0, help=f"{SEED_HELP} (default 0)")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many simulated seconds (default: until Ctrl-C)")
    p.add_argument("--transcript", default=None, help="write the transcript (JSONL) here")
    p.add_argument("--state-dir", default=None, metavar="DIR",
                   help="root of the pinpad's non-volatile memory (multimedia files), one "
                   "directory per serial number under DIR/pinpads (default: "
                   "$CARDLOOP_STATE_DIR, else $XDG_STATE_HOME/cardloop, else "
                   "~/.local/state/cardloop)")
    p.set_defaults(func=run)


def _cards(args: argparse.Namespace) -> list[Any]:
    from virtual_devices.abecs.cards import catalogue_card

    out: list[Any] = []
    for name in args.card:
        try:
            out.append(catalogue_card(name, stripe_only=args.swipe))
        except KeyError as exc:
            from simulator.cli import CliError

            raise CliError(str(exc.args[0])) from None
    if not out:
        out.append(MagstripeCard("4761739001010010", "3112", "CARDLOOP/VISA"))
    return out


def run(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    if args.list_cards:
        from virtual_devices.abecs.cards import catalogue_names

        print("\n".join(catalogue_names()))
        return 0
    cards = _cards(args)
    return asyncio.run(_serve(args, cards))


async def _serve(args: argparse.Namespace, cards: list[Any]) -> int:
    from simulator.cli import CliError
    from simulator.ports.pty import PtyError, PtyPair, default_link_dir, open_serial_end
    from simulator.transcript import Transcript
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    transcript = Transcript(args.transcript) if args.transcript else Transcript()
    world = World(seed=args.seed, mode="realtime", factor=args.factor, transcript=transcript)
    behaviour = Behaviour(pin=args.pin, wrong_pins=args.wrong_pins, cancel_at=args.cancel_at,
                          walk_away_at=args.walk_away_at,
                          presentation="swipe" if args.swipe else args.entry)
    holder: list[Pinpad] = []
    try:
        link_dir = args.link_dir or default_link_dir("reader")
        with PtyPair(link_dir=link_dir, names=("host", "pinpad")) as pair:
            pacing = None
            if args.baud is not None:
                from simulator.pacing import Pacing

                pacing = Pacing(args.baud)
            end = open_serial_end(world, pair.device_path, name="pinpad", baud=args.baud,
                                  labeler=FrameLabeler(lambda: holder[0].session),
                                  pacing=pacing)
            state_dir = Path(args.state_dir) if args.state_dir else default_state_root()
            pinpad = Pinpad(world, end, cards=cards, customer=Customer(world, behaviour),
                            secure=not args.legacy, state_dir=state_dir,
                            pin_rate_limit=PCI_PIN_ENTRIES)
            holder.append(pinpad)
            pinpad.start()
            # Stop on SIGINT and SIGTERM however we were started: a shell that runs a
            # job in the background with '&' starts it with SIGINT ignored, and Python
            # then never raises KeyboardInterrupt, so the handlers are set here, before
            # the path is printed (whoever reads it may signal at once).
            loop = asyncio.get_running_loop()
            driver = asyncio.ensure_future(world.run_realtime(until=args.duration))
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, driver.cancel)
            mode = "legacy (OPN000)" if args.legacy else "secure OPN"
            print(pair.host_path, flush=True)
            print(f"virtual ABECS pinpad ready: open {pair.host_path} ({mode}, "
                  f"{len(cards)} card(s) queued, factor {args.factor})", file=sys.stderr,
                  flush=True)
            try:
                await driver
            except asyncio.CancelledError:
                print("virtual ABECS pinpad stopped", file=sys.stderr, flush=True)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
                end.close()
    except PtyError as exc:
        raise CliError(str(exc)) from None
    finally:
        transcript.close()
    return 0
