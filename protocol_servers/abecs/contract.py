"""``abecs``: virtual ABECS pinpads on ptys for a host application under test.

Each pinpad sits on the device side of a pty pair (socat); the host software opens
the printed path (any baud rate, 8N1). What ``cardloop reader --pty`` runs, served
with the control API: ``next-card`` and ``cardholder`` per pinpad
(:mod:`protocol_servers.pinpad_actions`), and ``tables`` to make a pinpad forget its
EMV tables (the next GCR answers 020 and the host must load them again).

Profiles: ``secure`` (OPN with a session key, ABECS 2.12) and ``legacy`` (an obsolete
pinpad that answers OPN000 and stays in clear).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ControlAction, ControlError, Server, Started

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad

PROFILES = ("secure", "legacy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pinpads", type=int, default=1, metavar="N",
                        help="virtual pinpads, each on its own pty (default 1)")
    parser.add_argument("--card", action="append", default=[], metavar="NAME",
                        help="catalogue card the customer presents, in order (repeatable)")
    parser.add_argument("--entry", choices=["tap", "insert", "swipe"], default=None,
                        help="how the customer presents the cards (default: tap a "
                        "contactless card when the antenna is on, else insert, else swipe)")
    parser.add_argument("--swipe", action="store_true",
                        help="present the cards' stripes, not their chips")
    parser.add_argument("--profile", choices=PROFILES, default=PROFILES[0],
                        help="secure (OPN with a session key) or legacy (OPN000, in clear)")
    parser.add_argument("--baud", type=int, default=None,
                        help="pace the pinpads' bytes like a serial line at this rate (8N1)")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pty links (default: a fixed per-user place, "
                        "so the names stay the same across restarts)")
    parser.add_argument("--state-dir", default=None, metavar="DIR",
                        help="root of the pinpads' non-volatile memory (multimedia files), "
                        "one directory per serial number (default: $CARDLOOP_STATE_DIR, else "
                        "$XDG_STATE_HOME/cardloop, else ~/.local/state/cardloop)")


def _session_of(pinpads: list[Pinpad], i: int) -> Callable[[], Any]:
    """The session key of pinpad ``i`` once it exists, for the transcript's labels."""
    return lambda: pinpads[i].session if len(pinpads) > i else None


def _card(name: str, stripe_only: bool = False) -> Any:
    from virtual_devices.abecs.cards import catalogue_card

    return catalogue_card(name, stripe_only=stripe_only)


async def start(world: World, options: argparse.Namespace) -> Started:
    """The pinpads on their ptys; see the module."""
    from protocol_servers.pinpad_actions import pinpad_actions
    from protocol_servers.serving import link_dir_for
    from simulator.cli import CliError
    from simulator.ports.pty import PtyError, PtyPair, open_serial_end
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import DeviceInfo, Pinpad
    from virtual_devices.abecs.storage import default_state_root

    profile = options.profile or PROFILES[0]
    if profile not in PROFILES:
        raise CliError(f"profile must be one of {list(PROFILES)}, not {profile!r}")
    if options.pinpads < 1:
        raise CliError("--pinpads must be 1 or more")
    try:
        cards = [_card(n, options.swipe) for n in options.card]
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    pacing = None
    if options.baud is not None:
        from simulator.pacing import Pacing

        pacing = Pacing(options.baud)
    state_arg = getattr(options, "state_dir", None)
    state_root = Path(state_arg) if state_arg else default_state_root()
    pinpads: list[Pinpad] = []
    closers: list[Callable[[], None]] = []
    urls: dict[str, str] = {}
    banner = [f"virtual ABECS pinpads ({profile}); the host software opens:"]
    try:
        for i in range(options.pinpads):
            pair = PtyPair(link_dir=link_dir_for(options.link_dir, "abecs"),
                           names=(f"host{i}", f"pinpad{i}")).open()
            closers.append(pair.close)
            labeler = FrameLabeler(_session_of(pinpads, i))
            end = open_serial_end(world, pair.device_path, name=f"pinpad{i}",
                                  baud=options.baud, pacing=pacing, labeler=labeler)
            closers.append(end.close)
            # each pinpad its own serial number, so its own memory under the state root
            pinpad = Pinpad(world, end, cards=cards if i == 0 else [], name=f"pinpad{i}",
                            secure=profile != "legacy", state_dir=state_root,
                            info=DeviceInfo(serial=f"CL{i + 1:010d}"))
            pinpads.append(pinpad)
            world.inject(pinpad.start)
            urls[f"pinpad{i}"] = pair.host_path
            banner.append(f"  pinpad {i}: {pair.host_path}")
    except PtyError as exc:
        for closer in reversed(closers):
            closer()
        raise CliError(str(exc)) from None

    async def close() -> None:
        for closer in reversed(closers):
            closer()

    if options.entry is not None:  # --entry: how every pinpad's customer presents cards
        for pad in pinpads:
            pad.customer.behaviour.presentation = options.entry
    actions = pinpad_actions(world, lambda: pinpads, lambda n: _card(n, options.swipe))
    actions.append(_tables_action(pinpads))

    def state() -> dict[str, Any]:
        return {"profile": profile, "queued_cards": [len(p.cards) for p in pinpads],
                "tables": [p.tables.version(0) for p in pinpads]}

    return Started(urls, close, {a.name: a for a in actions}, state, banner)


def _tables_action(pinpads: list[Pinpad]) -> ControlAction:
    def tables(params: dict[str, Any]) -> dict[str, Any]:
        from virtual_devices.abecs.tables import TableStore

        idx = params.get("reader", 0)
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(pinpads):
            raise ControlError(f"reader must be 0..{len(pinpads) - 1}")
        pad = pinpads[idx]
        if params.get("clear", True):
            pad.tables = TableStore()
        return {"reader": idx, "version": pad.tables.version(0)}

    return ControlAction("tables", "forget a pinpad's EMV tables: {reader, clear}", tables)


SERVER = Server(
    name="abecs",
    description="virtual ABECS pinpads on ptys for a host application under test",
    starter="protocol_servers.abecs.contract:start",
    profiles=PROFILES,
    arguments=add_arguments,
    package="protocol_servers.abecs",
)
