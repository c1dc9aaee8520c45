"""A chip that answers reset and then falls silent: the pinpad answers 061 ST_ERRCARD,
nothing stays booked at the acquirer, and the pinpad serves the next command."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Customer
from virtual_devices.abecs.flows import sale
from virtual_devices.abecs.rig import make_rig
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue
from virtual_devices.emv.kernel.reader import reader_timings


def mute_sale(name: str, mute_after: int | None) -> Any:
    profile = catalogue()[name]
    rig = make_rig(seed=11)
    rig.pinpad.customer = Customer.for_profile(rig.world, profile, presentation="insert")
    card = VirtualCard(profile).place_in(rig.world)
    if mute_after is not None:
        card.mute_after_apdus(mute_after)
    rig.pinpad.queue_card(card)
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def flow() -> Any:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, version, records)
        res = yield from sale(rig.host, acquirer, 1000, version, records)
        after = yield from rig.host.gts(0)  # the pinpad still serves
        return res, after

    res, after = rig.run(flow)
    sent = [e for e in rig.world.transcript.entries if e.port == "card" and e.direction == "tx"]
    return res, after, acquirer, rig, len(sent), version


def test_mute_during_gcr_answers_061_and_nothing_is_booked() -> None:
    res, after, acquirer, rig, _, version = mute_sale("visa-chip-pin", 2)
    assert res.error == m.ST_ERRCARD
    assert res.goc is None and not res.approved
    assert len(acquirer.ledger) == 0
    assert after == version
    assert any("card does not answer" in e.label for e in rig.world.transcript.entries)


def test_mute_before_the_second_generate_ac_reverses_the_approval() -> None:
    full = mute_sale("visa-chip-pin", None)
    assert full[0].approved
    n = full[4]
    res, after, acquirer, _, _, version = mute_sale("visa-chip-pin", n - 1)
    assert res.arc == "00" and res.error == m.ST_ERRCARD and not res.approved
    assert res.reversed
    assert [e.kind for e in acquirer.ledger.entries] == ["sale", "reversal"]
    assert acquirer.ledger.balance()["net"] == 0
    assert after == version


def test_the_pinpad_waits_out_the_block_waiting_time_before_061() -> None:
    rig = mute_sale("visa-chip-pin", 2)[3]
    events = [e for e in rig.world.transcript.entries if e.port == "card"]
    tx = [e for e in events if e.direction == "tx"]
    silent = next(e for e in events if "does not answer" in e.label)
    assert len(tx) == 3  # two answered, the third met silence
    assert silent.sim - tx[-1].sim >= reader_timings()["card_mute_timeout"] * 0.99
