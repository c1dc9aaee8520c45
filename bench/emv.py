"""How fast the EMV kernel runs whole payments in virtual mode.

A "flow" is one complete payment in a fresh virtual world: cardholder presents the
card, reader and kernel run every APDU against the virtual card, the acquirer host
verifies the ARQC and answers with an ARPC, the card checks it at the second
GENERATE AC. Contact flows use ``visa-chip-pin`` (DDA, enciphered offline PIN,
online); contactless flows use ``visa-contactless`` (qVSDC, online).

The last line printed is a JSON object (``kernel_flows_per_s``,
``contactless_flows_per_s``) for CI to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv.card import VirtualCard, load_card
from virtual_devices.emv.kernel import Status, Txn, run_virtual

# pyemv/psec use TDES through an older cryptography path; the warnings say so on
# every call and would bury the result.
warnings.filterwarnings("ignore", message=".*TripleDES.*")


def one_flow(
    card: VirtualCard, interface: str, seed: int, host: AcquirerHost
) -> tuple[bool, float]:
    """One payment in a fresh world with the same physical card (its ATC moves on)."""
    world = World(seed=seed, mode="virtual")
    card.place_in(world)
    holder = Cardholder(world, Behaviour(interface=interface),  # type: ignore[arg-type]
                        pin=card.profile.pin or "0000")
    out = run_virtual(world, card, default_terminal_config(), Txn(1234), holder, host)
    return out.status is Status.APPROVED, world.now


def measure(card_name: str, interface: str, seconds: float) -> dict[str, float]:
    host = AcquirerHost()
    card = load_card(card_name)
    one_flow(card, interface, 0, host)  # warm caches (keys, catalogue, tables)
    n = ok = 0
    sim_times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        approved, sim = one_flow(card, interface, n + 1, host)
        n += 1
        ok += approved
        sim_times.append(sim)
    wall = time.perf_counter() - start
    return {
        "flows": n,
        "approved": ok,
        "wall_s": round(wall, 3),
        "flows_per_s": round(n / wall, 1),
        "sim_s_per_flow_median": round(statistics.median(sim_times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args()
    contact = measure("visa-chip-pin", "contact", args.seconds)
    ctls = measure("visa-contactless", "contactless", args.seconds)
    print(f"contact chip+PIN     {contact}")
    print(f"contactless (qVSDC)  {ctls}")
    if contact["approved"] != contact["flows"] or ctls["approved"] != ctls["flows"]:
        print("WARNING: not every flow was approved")
    print(json.dumps({
        "kernel_flows_per_s": contact["flows_per_s"],
        "contactless_flows_per_s": ctls["flows_per_s"],
        "contact_sim_s_per_flow": contact["sim_s_per_flow_median"],
        "contactless_sim_s_per_flow": ctls["sim_s_per_flow_median"],
    }))


if __name__ == "__main__":
    main()
