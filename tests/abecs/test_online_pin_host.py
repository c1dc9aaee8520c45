"""ABECS sales whose online PIN (GPN for a stripe, GOC PINONL for a chip) is verified by
the acquirer host from the pinpad's DUKPT block: the right PIN approves, a wrong one is
declined 55 and the chip hears it in FNC."""

from __future__ import annotations

import warnings
from typing import Any

from conformance.invariants import no_full_pan
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.flows import sale
from virtual_devices.abecs.rig import make_rig, visa_swipe
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

warnings.filterwarnings("ignore", message=".*TripleDES.*")


def run(card: Any, behaviour: Behaviour) -> Any:
    """``card`` is a card, or a callable placing one in the rig's world."""
    rig = make_rig(seed=5)
    rig.pinpad.customer = Customer(rig.world, behaviour)
    rig.pinpad.queue_card(card(rig.world) if callable(card) else card)
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def flow() -> Any:
        yield from rig.host.opn()
        return (yield from sale(rig.host, acquirer, 1000, version, records))

    return rig.run(flow), rig, acquirer


def chip(wrong_pins: int) -> Any:
    profile = catalogue()["visa-online-pin"]
    assert profile.pin is not None
    res, rig, acquirer = run(VirtualCard(profile).place_in,
                             Behaviour(pin=profile.pin, wrong_pins=wrong_pins))
    return res, rig, acquirer, profile


def test_chip_online_pin_right_is_approved() -> None:
    res, rig, acquirer, profile = chip(0)
    assert res.goc.online_pin and res.arc == "00" and res.approved
    assert acquirer.ledger.entries[0].approved
    no_full_pan(rig.world.transcript.entries, [profile.pan])


def test_chip_online_pin_wrong_is_declined_55() -> None:
    res, rig, acquirer, profile = chip(1)
    assert res.goc.online_pin and res.arc == "55" and not res.approved
    assert res.fnc is not None and res.fnc.decision != 0
    assert [e.response_code for e in acquirer.ledger.entries] == ["55"]
    assert res.goc.pin_block.hex().upper() not in rig.world.transcript.jsonl()


def test_stripe_gpn_pin_is_checked_against_the_issuer_pin() -> None:
    """visa_swipe() carries the PAN of the catalogue's visa-chip-pin (PIN 1234)."""
    pin = catalogue()["visa-chip-pin"].pin
    assert pin is not None
    right, _, _ = run(visa_swipe(), Behaviour(pin=pin))
    wrong, _, acquirer = run(visa_swipe(), Behaviour(pin=pin, wrong_pins=1))
    assert right.pin is not None and (right.arc, right.approved) == ("00", True)
    assert wrong.pin is not None and (wrong.arc, wrong.approved) == ("55", False)
    assert [e.response_code for e in acquirer.ledger.entries] == ["55"]
