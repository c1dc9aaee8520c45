"""mpos-bridge.md §2.5 (process), §3.4 (card_hash) and §5 step 3: the cards read as a
stripe — a swipe, and a tap read in mag-stripe mode (GCR card type 05) — and when the
bridge asks the pinpad for an online PIN (GPN) on them.

Expected values come from the note and the card data (ISO 7813 track 2: ``PAN=YYMM``,
a three-digit service code, then discretionary data, which may be empty), never from the
bridge's own helpers. The PIN rule is the one the note's §5 step 3 and the bridge's
documented choice give: debit, a service code whose third digit is 0, 5 or 6 (PIN
required, ISO 7813), or a contactless amount over the AID's contactless CVM limit.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from conformance import case

from .steps import check_all, ready

# the acquirer's AID records (virtual_devices/acquirer/tables.toml, the Brazilian
# contactless PIN-free limit of R$ 200,00): at the limit no PIN, one cent over a PIN
CTLS_CVM_LIMIT = 20000
PAYPASS = "mc-paypass-magstripe"  # taps in mag-stripe mode only: GCR card type 05
PAYPASS_PAN = "5413330089020029"
STRIPE_PAN = "4761739001010119"  # a Visa test PAN (ADVT family)
TRACK3 = f"01{STRIPE_PAN}=9869860000000000000000000000003112010000000000000"


def _pinpad(target: Any) -> Any:
    return target.lab.readers[0].pinpad


def _gpn_count(target: Any) -> int:
    return [cmd for cmd, _ in _pinpad(target).handled].count("GPN")


def _paypass(service_code: str | None = None) -> Any:
    """The catalogue's PayPass mag-stripe card, optionally with another service code."""
    from virtual_devices.abecs.cards import _chip_card
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()[PAYPASS]
    if service_code is not None:
        profile = dataclasses.replace(profile, service_code=service_code)
    return _chip_card(profile)


def _sales(target: Any, ctx: str, sales: list[tuple[Any, int, int]]) -> list[dict[str, Any]]:
    """One context, one sale per (card, amount, magstripe_payment_method); each sale is
    finished as failed (nothing is booked) so the next may follow. Per sale: the answer
    and how many GPN the pinpad handled during it."""
    c = target.client()
    out: list[dict[str, Any]] = []

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, ctx)
        for card, amount, method in sales:
            pad = _pinpad(target)
            pad.cards.clear()
            target.lab.queue_card(0, card)
            before = _gpn_count(target)
            p = yield from c.process(ctx, amount, magstripe_payment_method=method)
            out.append({"answer": p, "gpn": _gpn_count(target) - before})
            yield from c.finish(ctx, success=False, response_code=0, emv_data=None)
        yield from c.close(ctx)
        yield from c.drain_unsolicited(1.0)

    target.run(script)
    check_all(c)
    return out


def _card(target: Any, answer: dict[str, Any]) -> dict[str, str]:
    assert answer["response_type"] == 4, answer
    return target.read_card_hash(answer["process"]["card_hash"])  # type: ignore[no-any-return]


@case(
    "mpos/2.5/50",
    title="a tap read in mag-stripe mode (GCR 05): no PIN up to the contactless CVM limit, "
    "an online PIN one cent over it, for debit, and when the track's service code asks",
    section="2.5",
    failure="a mag-stripe-mode tap asks for a PIN under the limit, takes none over it or "
    "for debit, ignores the track's service code, or writes other card_hash fields",
)
def test_paypass_magstripe_pin_rules(mpos_target: Any) -> None:
    if mpos_target.lab is None:
        pytest.skip("the card tapped is chosen inside the reference")
    from protocol_servers.mpos.cards import card_from_name

    world = mpos_target.world
    world.redactor.add_pan(PAYPASS_PAN)
    stock = card_from_name(world, PAYPASS)
    got = _sales(mpos_target, "tap", [
        (stock, CTLS_CVM_LIMIT, 1),        # at the limit: no PIN
        (stock, CTLS_CVM_LIMIT + 1, 1),    # one cent over: online PIN
        (stock, 1000, 2),                  # debit: a PIN whatever the amount
        (_paypass("126"), 1000, 1),        # service code xx6: PIN required
        (_paypass("120"), 1000, 1),        # service code xx0: PIN required
        (_paypass("121"), 1000, 1),        # service code xx1: no PIN
    ])
    want_pin = [False, True, True, True, True, False]
    for i, (sale, pin) in enumerate(zip(got, want_pin, strict=True)):
        p = sale["answer"]["process"]
        assert sale["answer"]["response_type"] == 4 and p["status"] == 0, (i, sale)
        assert p["is_online_pin"] is pin, (i, p)
        assert sale["gpn"] == (1 if pin else 0), f"sale {i}: {sale['gpn']} GPN"
        card = _card(mpos_target, sale["answer"])
        assert card["capture_method"] == "magstripe", card["capture_method"]
        assert card["card_entry_mode"] == "contactless-magstripe"
        assert card["card_number"] == PAYPASS_PAN
        # the card expires 2030-12 (track 2 ``=3012``): MMYY
        assert card["card_expiration_date"] == "1230"
        assert card["card_track_2"].startswith(PAYPASS_PAN + "=3012")
        assert "card_emv_data" not in card, "a stripe read carries no chip data"
        assert ("card_pin_mode" in card) is pin and ("card_pin" in card) is pin, (i, card)
        if pin:
            assert card["card_pin_mode"] == "online"
        method = "debit_card" if i == 2 else "credit_card"
        assert card["payment_method"] == method and p["payment_method"] == (2 if i == 2 else 1)
    # the service code the bridge read is the track's (the tap's GCR leaves SRVCODE zero)
    assert _card(mpos_target, got[3]["answer"])["card_track_2"][21:24] == "126"
    assert _card(mpos_target, got[5]["answer"])["card_track_2"][21:24] == "121"


@case(
    "mpos/2.5/51",
    title="a swiped track 2 with exactly seven characters after '=' (YYMM and the service "
    "code, no discretionary data) is a card; the service code's third digit decides the PIN",
    section="2.5",
    failure="the shortest valid track 2 is refused, or its service code is not read",
)
def test_swipe_shortest_track(mpos_target: Any) -> None:
    if mpos_target.lab is None:
        pytest.skip("the card swiped is chosen inside the reference")
    from virtual_devices.abecs.customer import MagstripeCard

    mpos_target.world.redactor.add_pan(STRIPE_PAN)

    def stripe(service: str, discretionary: str, holder: str = "CARDLOOP/STRIPE",
               track3: str = "") -> Any:
        return MagstripeCard(STRIPE_PAN, "3112", holder, service, discretionary,
                             track3=track3)

    got = _sales(mpos_target, "swipe", [
        (stripe("106", ""), 2590, 1),    # seven characters, PIN required
        (stripe("101", ""), 2590, 1),    # seven characters, no PIN
        (stripe("120", "9"), 2590, 1),   # one past: eight characters, PIN required
        (stripe("201", "0"), 2590, 1),   # eight, no PIN (2xx: chip card, swiped anyway)
        # a name without the SURNAME/GIVEN slash is written as it stands
        (stripe("101", "", "CARDLOOP STRIPE"), 2590, 1),
        # a stripe with a track 3 (ISO 4909: format code, PAN, separator, data)
        (stripe("101", "", track3=TRACK3), 2590, 1),
    ])
    want = [("106", True), ("101", False), ("120", True), ("201", False), ("101", False),
            ("101", False)]
    for i, (sale, (service, pin)) in enumerate(zip(got, want, strict=True)):
        p = sale["answer"]["process"]
        assert sale["answer"]["response_type"] == 4 and p["status"] == 0, (i, sale)
        assert p["is_online_pin"] is pin and sale["gpn"] == (1 if pin else 0), (i, sale)
        card = _card(mpos_target, sale["answer"])
        track = f"{STRIPE_PAN}=3112{service}" + {2: "9", 3: "0"}.get(i, "")
        assert card["card_track_2"] == track, card["card_track_2"]
        assert card["card_entry_mode"] != "contactless-magstripe"
        assert card["capture_method"] == "magstripe" and card["card_expiration_date"] == "1231"
        name = "CARDLOOP STRIPE" if i == 4 else "STRIPE CARDLOOP"
        assert card["card_holder_name"] == name and p["card_holder_name"] == name, (i, p)
        assert ("card_pin_mode" in card) is pin, (i, card)
        # ISO 7813 track 1: format B, PAN, ^NAME^, YYMM, service code, discretionary
        assert card["card_track_1"] == (
            f"B{STRIPE_PAN}^{'CARDLOOP STRIPE' if i == 4 else 'CARDLOOP/STRIPE':<26}^3112"
            + track[len(STRIPE_PAN) + 5:]), (i, card)
        # §3.4: card_track_3 only when the stripe has one, and then as read
        assert card.get("card_track_3") == (TRACK3 if i == 5 else None), (i, card)


@case(
    "mpos/2.5/58",
    title="the same seed gives the same sale byte for byte: the card_hash (its random "
    "padding included) and the answers repeat",
    section="2.5",
    failure="a reference run cannot be reproduced from its seed",
)
def test_card_hash_reproducible(request: pytest.FixtureRequest) -> None:
    from conformance.options import get_options

    if get_options(request.config).target("mpos") is not None:
        pytest.skip("reproducibility is the reference's own")
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.client import MposClient
    from protocol_servers.mpos.lab import build_lab
    from simulator.world import World

    def sale(seed: int, card: str) -> list[str]:
        world = World(seed=seed)
        lab = build_lab(world, readers=1, cards=[card_from_name(world, card)])
        c = MposClient(world, lab.connect())

        def script():  # type: ignore[no-untyped-def]
            r = yield from c.list_devices("s")
            yield from c.initialize("s", r["device_list"][0]["id"])
            yield from c.process("s", 2590)
            yield from c.finish("s", success=False, response_code=0, emv_data=None)
            yield from c.close("s")

        world.run(until=world.process(script()))
        lab.close()
        return c.raw_answers

    for card in ("magstripe-credit", "visa-online-pin"):
        first, again, other = sale(7, card), sale(7, card), sale(8, card)
        assert first == again, f"{card}: two runs of seed 7 differ"
        hashes = [json.loads(a)["process"]["card_hash"] for a in (first[2], other[2])]
        assert all(hashes), (first[2], other[2])
        assert hashes[0] != hashes[1], f"{card}: seeds 7 and 8 gave one card_hash"


# chip cards, the PIN each verifies with (the catalogue's own data) and the payment
# method of its AID in the acquirer's tables (Visa credit A0000000031010 type 1, Visa
# Electron A0000000032010 type 2, Mastercard A0000000041010 type 1)
CHIP_CARDS = [
    ("visa-chip-pin", "offline", 1),
    ("visa-online-pin", "online", 2),
    ("mc-chip-signature", None, 1),
]


@case(
    "mpos/2.5/59",
    title="a chip sale's card_hash carries the card's own values: PAN, MMYY expiry, PAN "
    "sequence number, track 2 equivalent, holder name, chip data, and the PIN mode the card "
    "verified with (offline, online with block and KSN, or none for a signature card)",
    section="2.5",
    failure="the card_hash of a chip sale carries another value than the card holds",
)
def test_chip_card_hash_fields(mpos_target: Any) -> None:
    if not mpos_target.scripted:
        pytest.skip("the card inserted is chosen inside the reference")
    from virtual_devices.emv.catalogue import catalogue

    c = mpos_target.client()
    answers: list[dict[str, Any]] = []

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "chip")
        for name, _, _ in CHIP_CARDS:
            mpos_target.present(name)
            mpos_target.cardholder(presentation="insert")
            answers.append((yield from c.process("chip", 2590)))
            yield from c.finish("chip", success=False, response_code=0, emv_data=None)
        yield from c.close("chip")
        yield from c.drain_unsolicited(1.0)

    mpos_target.run(script)
    check_all(c)
    for (name, pin, method), a in zip(CHIP_CARDS, answers, strict=True):
        profile = catalogue()[name]
        p = a["process"]
        assert a["response_type"] == 4 and p["status"] == 0, (name, a)
        assert p["is_online_pin"] is (pin == "online"), (name, p)
        assert p["payment_method"] == method, (name, p)
        surname, given = profile.cardholder_name.split("/")
        assert p["card_holder_name"] == f"{given} {surname}", (name, p)
        card = _card(mpos_target, a)
        assert card["capture_method"] == "emv"
        assert card["payment_method"] == ("debit_card" if method == 2 else "credit_card")
        assert card["card_number"] == profile.pan, name
        yymmdd = profile.expiry
        assert card["card_expiration_date"] == yymmdd[2:4] + yymmdd[:2], (name, card)
        assert card["card_sequence_number"] == str(int(profile.psn)), (name, card)
        assert card["card_track_2"].startswith(f"{profile.pan}={yymmdd[:4]}"), name
        assert card["card_holder_name"] == f"{given} {surname}", (name, card)
        assert card["card_emv_data"], name
        assert card.get("card_pin_mode") == pin, (name, card)
        assert ("card_pin" in card) is (pin == "online"), (name, card)
        assert ("card_pin_kek" in card) is (pin == "online"), (name, card)
        if pin == "online":
            assert len(card["card_pin"]) == 16 and len(card["card_pin_kek"]) == 20, card
        assert "card_track_3" not in card, (name, card)
    if mpos_target.reference:
        # the bridge opens the pinpad's secure session (OPN with its RSA key, §5 step 2):
        # every card command after it travels encrypted
        sent = [e.label for e in mpos_target.world.transcript
                if e.port == "bridge.serial0" and e.direction == "tx"]
        card_cmds = [lbl for lbl in sent if lbl.removeprefix("[sec] ")[:3] in ("GCR", "GOC")]
        assert len(card_cmds) >= len(CHIP_CARDS) * 2, card_cmds
        assert all(lbl.startswith("[sec] ") for lbl in card_cmds), card_cmds


@case(
    "mpos/2.5/60",
    title="a mag-stripe-mode tap is held to the contactless CVM limit of the AID record "
    "GCR named, not another record's: an acquirer whose Mastercard record (03) says "
    "R$ 50,00 while the others say R$ 200,00",
    section="2.5",
    failure="the bridge reads the CVM limit of another AID record than the card's",
)
def test_cvm_limit_of_the_named_record(request: pytest.FixtureRequest) -> None:
    from conformance.options import get_options

    if get_options(request.config).target("mpos") is not None:
        pytest.skip("the acquirer's tables are chosen inside the reference")
    from protocol_servers.merchant_api import MerchantBackend
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.client import MposClient
    from protocol_servers.mpos.lab import build_lab
    from simulator.world import World
    from virtual_devices.acquirer.host import AcquirerHost
    from virtual_devices.acquirer.tables import default_terminal_config

    config = default_terminal_config()
    aids = [dataclasses.replace(a, ctls_cvm_limit=5000 if a.rec_index == "03" else 20000)
            for a in config.aids]
    config = dataclasses.replace(config.with_aids(aids), table_version="CLOOP00050")
    world = World(seed=3)
    backend = MerchantBackend(world, acquirer=AcquirerHost("default", tables=config))
    lab = build_lab(world, readers=1, backend=backend)
    c = MposClient(world, lab.connect())
    got: list[tuple[int, dict[str, Any]]] = []

    def script():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("cvm")
        yield from c.initialize("cvm", r["device_list"][0]["id"])
        for amount in (5000, 5001, 20000):
            lab.readers[0].pinpad.cards.clear()
            lab.queue_card(0, card_from_name(world, PAYPASS))
            before = [cmd for cmd, _ in lab.readers[0].pinpad.handled].count("GPN")
            p = yield from c.process("cvm", amount)
            after = [cmd for cmd, _ in lab.readers[0].pinpad.handled].count("GPN")
            got.append((after - before, p))
            yield from c.finish("cvm", success=False, response_code=0, emv_data=None)
        yield from c.close("cvm")

    world.run(until=world.process(script()))
    lab.close()
    for (gpn, p), pin in zip(got, (False, True, True), strict=True):
        assert p["response_type"] == 4, p
        assert p["process"]["is_online_pin"] is pin and gpn == (1 if pin else 0), (gpn, p)
