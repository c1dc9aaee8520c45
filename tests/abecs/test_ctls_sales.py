"""Contactless sales driven by the terminal application with either command family.

A tap read as EMV (06), a tap read in mag-stripe mode (05) and a tap whose issuer
answer carries a script: each through GCR/GOC/FNC and through GCX/GOX/FCX (with GTK
for the tracks), the acquirer deciding. The mag-stripe tap never sees GOC/GOX, its
CVC3 verifies at the issuer; the script only reaches the card through FCX (a classic
FNC never talks to a tapped card, §6.8.5.4).
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import pytest

from virtual_devices.abecs.customer import Customer
from virtual_devices.abecs.rig import make_rig
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue
from virtual_devices.terminal.app import Settings, Tables, Terminal

warnings.filterwarnings("ignore", message=".*TripleDES.*")

VISA = bytes.fromhex("A0000000031010")


def _sale(name: str, family: str, amount: int, scripts: bool = False) -> tuple[Any, Any, Any]:
    from dataclasses import replace

    profile = catalogue()[name]
    rig = make_rig(seed=7)
    rig.pinpad.customer = Customer.for_profile(rig.world, profile, presentation="tap")
    card = VirtualCard(profile).place_in(rig.world)
    rig.pinpad.queue_card(card)
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    if scripts:
        cfg = cfg.with_aids(replace(a, ctls_issuer_scripts=True) for a in cfg.aids)
    version = cfg.table_version[:10].ljust(10, "0")
    records = tuple(records_from_config(cfg))

    def flow() -> Any:
        yield from rig.host.opn()
        term = Terminal(rig.world, rig.host, acquirer, Settings(command_family=family))
        return (yield from term.sale(amount, Tables(version, records),
                                     datetime(2026, 11, 25, 12)))

    res = rig.run(flow)
    return res, rig, (acquirer, card)


@pytest.mark.parametrize("family", ["classic", "abecs"])
def test_a_tap_read_as_emv_is_approved_without_pin_by_either_family(family: str) -> None:
    res, rig, (acquirer, _) = _sale("visa-contactless", family, 4200)
    assert res.approved and res.card_type == 6 and not res.goc.online_pin
    assert acquirer.ledger.entries[-1].meta["interface"] == "contactless"


@pytest.mark.parametrize("family", ["classic", "abecs"])
def test_a_tap_in_magstripe_mode_is_type_05_and_its_cvc3_verifies(family: str) -> None:
    res, rig, (acquirer, card) = _sale("mc-paypass-magstripe", family, 4200)
    sent = [c for c, _ in rig.pinpad.handled]
    assert res.approved and res.card_type == 5 and res.pan == card.pan
    assert not {"GOC", "GOX", "FNC", "FCX"} & set(sent)
    entry = acquirer.ledger.entries[-1]
    assert entry.meta["interface"] == "contactless" and entry.meta["cryptogram_ok"]
    if family == "abecs":
        assert "GTK" in sent  # the full tracks come from GTK after GCX


def test_issuer_script_on_a_tap_reaches_the_card_through_fcx_only() -> None:
    # R$ 73,00: the acquirer approves with an APPLICATION BLOCK script in template 72
    res, rig, (_, card) = _sale("visa-contactless-issuer-update", "abecs", 7300, scripts=True)
    assert res.approved and res.card_type == 6
    assert card.app_blocked(VISA)
    assert any("REAPROXIME" in s.line1 for s in rig.pinpad.display.history)
    res, rig, (_, card) = _sale("visa-contactless-issuer-update", "classic", 7300, scripts=True)
    assert res.approved and not card.app_blocked(VISA)  # FNC: the card is not asked again


def test_no_script_on_a_tap_when_the_table_does_not_allow_it() -> None:
    res, rig, (_, card) = _sale("visa-contactless-issuer-update", "abecs", 7300, scripts=False)
    assert res.approved and not card.app_blocked(VISA)
    assert not any("REAPROXIME" in s.line1 for s in rig.pinpad.display.history)


def test_a_card_without_issuer_update_is_not_asked_again() -> None:
    res, rig, (_, card) = _sale("visa-contactless", "abecs", 7300, scripts=True)
    assert res.approved and not card.app_blocked(VISA)
    assert not any("REAPROXIME" in s.line1 for s in rig.pinpad.display.history)

