"""``mpos``: the Pagar.me mpos-bridge with virtual pinpads on ptys.

The default profile, ``documented``, follows the public document plus compatible
additions; ``--profile bifrost-0.0.19`` reproduces the shipped 0.0.19 code instead.

Serves the bridge's WebSocket (``ws(s)://127.0.0.1:2000/mpos``), each virtual pinpad's
serial port, and the merchant API (Pagar.me's ``/1/transactions``, played by the
acquirer side) that the POS's backend calls between process and finish. Control
actions: ``next-card`` and ``cardholder`` per pinpad
(:mod:`protocol_servers.pinpad_actions`); scenarios in ``scenarios.toml``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import Server, Started
from protocol_servers.mpos.profiles import PROFILES, RULE_SWITCHES

if TYPE_CHECKING:
    from simulator.world import World


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from protocol_servers.mpos.live import DEFAULT_PORT
    from simulator.cli import tcp_port

    parser.add_argument("--readers", type=int, default=1, metavar="N",
                        help="virtual pinpads, each on its own pty (default 1)")
    parser.add_argument("--card", action="append", default=[], metavar="NAME",
                        help="card the customer holds; it is presented again at every sale "
                        "until another is chosen (repeatable: a queue; default "
                        "visa-chip-pin, a test card)")
    parser.add_argument("--entry", choices=["tap", "insert", "swipe"], default=None,
                        help="how the customer presents the cards (default: tap a "
                        "contactless card when the antenna is on, else insert, else swipe)")
    parser.add_argument("--serial", action="append", default=[], metavar="PATH",
                        help="a real serial pinpad to list beside the virtual ones")
    parser.add_argument("--scan-ports", action="store_true",
                        help="also list every serial port the OS reports (real pinpads on USB)")
    parser.add_argument("--profile", default="documented",
                        help=f"{' | '.join(PROFILES)}, optionally "
                        f"+{'/+'.join(RULE_SWITCHES)} (default documented: the public "
                        "document; bifrost-0.0.19 is the shipped code's quirks)")
    parser.add_argument("--port", type=tcp_port, default=DEFAULT_PORT,
                        help=f"WebSocket port on 127.0.0.1 (default {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--tls", metavar="CA_FILE", default=None,
                        help="serve wss:// with a certificate made now; its CA goes to CA_FILE")
    parser.add_argument("--merchant-port", type=tcp_port, default=0,
                        help="merchant API port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pty links (default: a fixed per-user place, "
                        "so the device names stay the same across restarts)")
    parser.add_argument("--pin-keys", choices=["dukpt", "master-key"], default="dukpt",
                        help="how the acquirer's terminals encrypt online PINs: DUKPT:TDES "
                        "key 16 (default) or MK/WK:TDES under master key 01 with the "
                        "working key the acquirer sends with its tables")


async def start(world: World, options: argparse.Namespace) -> Started:
    """Pinpads on ptys, the bridge's WebSocket and the merchant API; see the module."""
    from protocol_servers.mpos.cards import DEFAULT_CARD, card_from_name
    from protocol_servers.mpos.profiles import parse_profile
    from protocol_servers.mpos.quiet import quiet_third_party_warnings
    from protocol_servers.mpos.runtime import start_bridge
    from protocol_servers.pinpad_actions import pinpad_actions
    from protocol_servers.serving import link_dir_for
    from simulator.cli import CliError

    quiet_third_party_warnings()
    try:
        profile = parse_profile(options.profile or "documented")
        # every reader's customer holds a card from the start (DECISIONS.md); a default
        # one is held after start (below), not queued, so a card chosen later is next
        for name in options.card:  # refuse unknown names before anything starts
            card_from_name(world, name)
        card_names = list(options.card) or [DEFAULT_CARD]
    except (ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None

    def cards(reader: int) -> list[Any]:
        """Every reader gets the cards asked for, each reader its own copies (one card
        object cannot sit in two readers)."""
        return [card_from_name(world, n) for n in options.card]

    if options.readers < 0:
        raise CliError("--readers must be 0 or more")
    backend = None
    if getattr(options, "pin_keys", "dukpt") == "master-key":
        from protocol_servers.merchant_api import MerchantBackend
        from virtual_devices.acquirer import AcquirerHost, PinKeys

        backend = MerchantBackend(world, AcquirerHost(pin_keys=PinKeys.master_key()))
    running = await start_bridge(
        world, readers=options.readers, cards=cards, profile=profile, port=options.port,
        tls_ca=options.tls, link_dir=link_dir_for(options.link_dir, "mpos"),
        serial=options.serial,
        merchant_port=options.merchant_port, scan_ports=options.scan_ports,
        backend=backend,
    )
    lab = running.lab
    for r in lab.readers:  # a customer nobody gave a card holds the default test card
        if not r.pinpad.has_card():
            r.pinpad.hold_card(card_from_name(world, DEFAULT_CARD))
        if options.entry is not None:  # --entry: how the customer presents the cards
            r.pinpad.customer.behaviour.presentation = options.entry
    urls = {"mpos": running.url}
    if running.merchant_url:
        urls["merchant"] = running.merchant_url
    for r in lab.readers:
        urls[f"pinpad{r.index}"] = r.port
    banner = [f"mpos-bridge ({profile.name}) listening on {running.url}"]
    if running.ca_path is not None:
        banner.append(f"  trust this CA for wss://: {running.ca_path}")
    banner += [f"  pinpad {r.index}: {r.port}" for r in lab.readers]
    ours = {r.port for r in lab.readers}
    banner += [f"  serial device: {info.port} {info.manufacturer}".rstrip()
               for info in lab.server.devices.listing() if info.port not in ours]
    chosen = "" if options.card else " (a default test card)"
    banner.append(f"  customer holds: {', then '.join(card_names)}{chosen}; choose another "
                  "with --card or the control API's next-card")
    banner.append(f"  merchant API: {running.merchant_url}/1/transactions")
    actions = pinpad_actions(world, lambda: [r.pinpad for r in lab.readers],
                             lambda name: card_from_name(world, name))

    def state() -> dict[str, object]:
        return {"profile": profile.name,
                "queued_cards": [len(r.pinpad.cards) for r in lab.readers],
                "merchant_ledger": len(lab.backend.ledger)}

    return Started(urls, running.close, {a.name: a for a in actions}, state, banner,
                   ledgers=[lab.backend.host.ledger])


SERVER = Server(
    name="mpos",
    aliases=("mpos-bridge",),
    description="Pagar.me mpos-bridge with virtual pinpads on ptys (profile documented by "
    "default; bifrost-0.0.19 reproduces the shipped code)",
    starter="protocol_servers.mpos.contract:start",
    profiles=tuple(PROFILES),
    arguments=add_arguments,
    # the suite's --serve role: any free port, two pinpads (cases use reader 0 and 1)
    role_defaults={"port": 0, "readers": 2},
    package="protocol_servers.mpos",
)
