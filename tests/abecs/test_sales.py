"""Whole sales through the virtual pinpad: every contact card of the catalogue reaches
its documented outcome with the acquirer host verifying cryptograms; table version
mismatch and fallback recover the documented way."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.invariants import no_full_pan
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Customer
from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.flows import sale
from virtual_devices.abecs.rig import make_rig
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

CONTACT = sorted(n for n, p in catalogue().items()
                 if "contact" in p.interfaces and p.expected.get("outcome"))


def run_sale(name: str, amount: int = 1000, preload: bool = True, floor: int | None = None,
             **knobs: Any) -> Any:
    profile = catalogue()[name]
    rig = make_rig(seed=11)
    rig.pinpad.customer = Customer.for_profile(rig.world, profile,
                                                 **{"presentation": "insert", **knobs})
    card = VirtualCard(profile).place_in(rig.world)
    rig.pinpad.queue_card(card)
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def flow() -> Any:
        yield from rig.host.opn()
        if preload:
            yield from rig.host.load_tables(0, version, records)
        return (yield from sale(rig.host, acquirer, amount, version, records,
                                floor_limit=floor))

    return rig.run(flow), rig, acquirer, profile


@pytest.mark.parametrize("name", CONTACT)
def test_catalogue_card_reaches_documented_outcome(name: str) -> None:
    expected = catalogue()[name].expected["outcome"]
    # an offline approval needs a floor limit above the amount (the acquirer's is 0)
    res, rig, acquirer, profile = run_sale(
        name, floor=5000 if expected == "approved-offline" else None)
    if expected == "approved-online":
        assert res.goc.decision == 2 and res.fnc.decision == 0 and res.arc == "00"
    elif expected == "approved-offline":
        assert res.goc.decision == 0 and res.approved
    elif expected == "declined-offline":
        assert res.goc.decision == 1 and not res.approved
    elif expected == "declined-online":
        assert res.fnc.decision == 2 and res.arc != "00"
    elif expected == "declined-by-card":
        assert res.arc == "00" and res.fnc.decision == 1
    elif expected == "fallback":
        assert res.card_type == m.CARD_MAGSTRIPE and "GCR 076" in res.steps[0]
    else:
        pytest.skip(f"outcome {expected} is not a contact flow")
    if res.goc is not None and res.goc.online_pin:
        keys = load_test_keys()[16]
        assert decrypt_pin(keys.bdk, res.goc.ksn, res.goc.pin_block, res.pan) == profile.pin
    no_full_pan(rig.world.transcript.entries, [profile.pan])


def test_stale_tables_are_reloaded_before_gcr() -> None:
    res, rig, _, _ = run_sale("visa-chip-pin", preload=False)
    assert res.approved and rig.pinpad.tables.aids()


def test_020_then_bare_gcr_resumes_the_sale() -> None:
    profile = catalogue()["visa-chip-pin"]
    rig = make_rig(seed=12)
    rig.pinpad.customer = Customer.for_profile(rig.world, profile, presentation="insert")
    rig.pinpad.queue_card(VirtualCard(profile).place_in(rig.world))
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def flow() -> Any:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, "OLDVERSION", records)
        # the host skips GTS and asks GCR for the new version: 020, reload, bare GCR
        return (yield from sale(rig.host, acquirer, 1000, version, records, check_tables=False))

    res = rig.run(flow)
    assert res.approved
    assert ("GCR", 20) in rig.pinpad.handled


def chip_rig(name: str, **knobs: Any) -> Any:
    profile = catalogue()[name]
    rig = make_rig(seed=13)
    rig.pinpad.customer = Customer.for_profile(rig.world, profile,
                                                 **{"presentation": "insert", **knobs})
    rig.pinpad.queue_card(VirtualCard(profile))
    return rig


def test_no_application_in_tables_answers_070() -> None:
    rig = chip_rig("visa-chip-pin")
    mastercard_only = [r for r in records_from_config(make_acquirer().terminal_config())
                       if b"A0000000041010" in r]

    def flow() -> Any:
        yield from rig.host.load_tables(0, "ONLYMC0001", mastercard_only)
        try:
            yield from rig.host.gcr(m.GcrRequest(500, "261125", "120000", "ONLYMC0001"))
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "code", None)
        return 0

    assert rig.run(flow) == 70


@pytest.mark.parametrize(("knob", "code"), [({"cancel_at": "pin"}, 13),
                                            ({"walk_away_at": "pin"}, 12)])
def test_pin_prompt_in_goc_cancel_and_timeout(knob: dict[str, Any], code: int) -> None:
    rig = chip_rig("visa-chip-pin", **knob)
    cfg = make_acquirer().terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")

    def flow() -> Any:
        yield from rig.host.load_tables(0, version, records_from_config(cfg))
        yield from rig.host.gcr(m.GcrRequest(500, "261125", "120000", version))
        start = rig.world.now
        try:
            yield from rig.host.goc(m.GocRequest(500, (0x9F27,)))
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "code", None), rig.world.now - start
        return 0, 0.0

    got, took = rig.run(flow)
    assert got == code
    if code == 12:
        assert took >= 60.0


def test_cng_changes_the_transaction_type_and_goc_sets_the_amount() -> None:
    rig = chip_rig("visa-chip-pin")
    cfg = make_acquirer().terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")

    def flow() -> Any:
        yield from rig.host.load_tables(0, version, records_from_config(cfg))
        yield from rig.host.gcr(m.GcrRequest(500, "261125", "120000", version))
        yield from rig.host.cng(bytes.fromhex("9C0109"))
        return (yield from rig.host.goc(m.GocRequest(650, (0x9C, 0x9F02), cashback=150)))

    goc = rig.run(flow)
    assert goc.emv_data == bytes.fromhex("9C0109" "9F0206000000000650")


def test_chip_sale_transcript_is_identical_for_a_seed_and_hides_card_data() -> None:
    def once() -> tuple[str, Any]:
        res, rig, _, profile = run_sale("visa-online-pin")
        assert res.approved
        return rig.world.transcript.jsonl(), profile

    first, profile = once()
    second, _ = once()
    assert first == second
    tracks = VirtualCard(profile).tracks()
    assert tracks is not None
    track2 = tracks.track2
    assert profile.pan not in first and track2 not in first
    assert track2.split("=", 1)[1] not in first


@pytest.mark.parametrize(("choice", "expect"), [(1, "second"), (None, 13)])
def test_application_menu_choice_and_cancel(choice: int | None, expect: Any) -> None:
    profile = catalogue()["elo-combo"]
    if len(profile.applications) < 2:
        pytest.skip("elo-combo has a single application")
    rig = chip_rig("elo-combo", app_choice=choice)
    cfg = make_acquirer().terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    notes: list[str] = []
    rig.host.on_notification = notes.append

    def flow() -> Any:
        yield from rig.host.load_tables(0, version, records_from_config(cfg))
        try:
            return (yield from rig.host.gcr(m.GcrRequest(500, "261125", "120000", version)))
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "code", None)

    got = rig.run(flow)
    if expect == 13:
        assert got == 13
    else:
        assert got.app_label.upper() == profile.applications[1].label.upper()[:16]
        assert any(n.startswith("SELECIONADO:") for n in notes)
