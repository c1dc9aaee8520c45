"""mpos-bridge.md §4.7–§4.9 and §4.11: GCR, GOC, FNC and whole card flows."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.invariants import no_full_pan
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.fields import Command
from virtual_devices.abecs.flows import sale
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import aid_records, visa_swipe
from virtual_devices.abecs.tables import records_from_config

Gen = Any
VERSION = "CL00000042"


def _gcr(version: str = VERSION, app_type: int = 99) -> m.GcrRequest:
    return m.GcrRequest(1990, "261125", "101500", version, app_type=app_type)


@case("abecs/4.7/1", title="GCR reads a swiped card: tracks, PAN, expiry, service code",
      section="4.7", failure="magnetic stripe sales are impossible")
def test_gcr_magstripe(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe())

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        return (yield from abecs_device.host.gcr(_gcr(app_type=1)))

    card = abecs_device.run(flow)
    assert card.card_type == m.CARD_MAGSTRIPE and card.pan == "4761739001010010"
    assert card.track2.startswith(card.pan + "=") and card.expiry == "281231"
    assert card.app_type == 1 and card.acq_idx == 8
    no_full_pan(abecs_device.world.transcript.entries, [card.pan])


@case("abecs/4.7/2", title="Cancel on the keypad during GCR answers 013", section="4.7",
      failure="the cardholder cannot give up at the card prompt")
def test_gcr_cancel_key(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe(), Behaviour(cancel_at="card"))

    def flow() -> Gen:
        try:
            yield from abecs_device.host.gcr(_gcr())
        except AbecsError as exc:
            return exc.code
        return 0

    assert abecs_device.run(flow) == 13


@case("abecs/4.7/3", title="a stale table version gives 020; a bare GCR resumes", section="4.7",
      failure="the host cannot reload tables in the middle of a sale")
def test_gcr_020_and_bare_gcr(abecs_device: Any) -> None:
    from virtual_devices.abecs.cards import catalogue_card

    abecs_device.present(catalogue_card("visa-chip-pin"))
    abecs_device.pinpad.customer = Customer(
        abecs_device.world, Behaviour(pin="1234", presentation="insert"))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, "OLDVERSION", aid_records())
        try:
            yield from abecs_device.host.gcr(_gcr())
            first = 0
        except AbecsError as exc:
            first = exc.code
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        card = yield from abecs_device.host.gcr(None)
        return first, card

    first, card = abecs_device.run(flow)
    assert first == 20
    assert card.card_type == m.CARD_ICC and card.pan == "4761739001010010"


@case("abecs/4.7/4", title="a bare GCR with nothing to resume answers 010", section="4.7",
      failure="a bare GCR is accepted without saved parameters")
def test_bare_gcr_without_saved(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from abecs_device.host.exchange(Command("GCR")))

    assert abecs_device.run(flow).status == 10


@case("abecs/4.8/1", title="GOC without an ICC GCR answers 010", section="4.8",
      failure="GOC runs without a card")
def test_goc_without_gcr(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from abecs_device.host.exchange(m.GocRequest(100, (0x9F27,)).to_command()))

    assert abecs_device.run(flow).status == 10


@case("abecs/4.9/1", title="FNC without GOC answers 010", section="4.9",
      failure="FNC runs without a chip decision")
def test_fnc_without_goc(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from abecs_device.host.exchange(m.FncRequest(0, "00", b"", (0x9F27,))
                                                      .to_command()))

    assert abecs_device.run(flow).status == 10


def _contact_cards() -> list[str]:
    try:
        from virtual_devices.emv.catalogue import catalogue
    except ImportError:  # pragma: no cover
        return []
    return sorted(n for n, p in catalogue().items()
                  if "contact" in p.interfaces and p.expected.get("outcome"))


@pytest.mark.parametrize("card_name", _contact_cards())
@case("abecs/4.11/1", title="GCR, GOC, FNC and RMC with each catalogue card", section="4.11",
      failure="a chip sale does not reach the card's documented outcome")
def test_full_flow(abecs_device: Any, card_name: str) -> None:
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()[card_name]
    abecs_device.present(VirtualCard(profile).place_in(abecs_device.world))
    abecs_device.pinpad.customer = Customer.for_profile(abecs_device.world, profile)
    acquirer = make_acquirer(abecs_device.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    expected = profile.expected["outcome"]
    floor = 5000 if expected == "approved-offline" else None

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, 1000, version,
                                records_from_config(cfg), floor_limit=floor))

    res = abecs_device.run(flow)
    outcome = {
        "approved-online": res.goc is not None and res.goc.decision == 2 and res.approved,
        "approved-offline": res.goc is not None and res.goc.decision == 0 and res.approved,
        "declined-offline": res.goc is not None and res.goc.decision == 1,
        "declined-online": res.fnc is not None and res.fnc.decision == 2,
        "declined-by-card": res.fnc is not None and res.fnc.decision == 1 and res.arc == "00",
        "fallback": res.card_type == m.CARD_MAGSTRIPE,
    }
    if expected not in outcome:
        pytest.skip(f"{expected} is not a contact outcome")
    assert outcome[expected], f"{card_name}: {res.steps}"
    assert res.error is None
    no_full_pan(abecs_device.world.transcript.entries, [profile.pan])


@case("abecs/4.7/5", title="GCR sends NTM SELECIONADO with the chosen application",
      section="4.7", failure="the host is not told which application the card uses")
def test_gcr_ntm_selected(abecs_device: Any) -> None:
    from virtual_devices.abecs.cards import catalogue_card

    abecs_device.present(catalogue_card("visa-chip-pin"),
                         Behaviour(pin="1234", presentation="insert"))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        card = yield from abecs_device.host.gcr(_gcr())
        return card, list(abecs_device.host.notifications)

    card, notes = abecs_device.run(flow)
    assert card.card_type == m.CARD_ICC
    assert any(n.startswith("SELECIONADO:") for n in notes)


@case("abecs/4.7/6", title="a mute chip answers 076; the next GCR reads the stripe with "
      "STATCHIP 1", section="4.7", failure="fallback to the stripe after a chip failure fails")
def test_fallback(abecs_device: Any) -> None:
    from virtual_devices.abecs.cards import catalogue_card

    abecs_device.present(catalogue_card("mc-mute-chip-fallback"))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        try:
            yield from abecs_device.host.gcr(_gcr())
            first = 0
        except AbecsError as exc:
            first = exc.code
        card = yield from abecs_device.host.gcr(_gcr())
        return first, card

    first, card = abecs_device.run(flow)
    assert first == 76
    assert card.card_type == m.CARD_MAGSTRIPE and card.stat_chip == 1


@pytest.mark.parametrize("step", ["GCR", "GOC"])
@case("abecs/4.2/9", title="CAN at each blocking step of a chip sale: EOT, and the pinpad "
      "serves the next sale", section="4.2",
      failure="a cancelled chip sale leaves the pinpad unusable")
def test_can_at_each_step(abecs_device: Any, step: str) -> None:
    from virtual_devices.abecs.cards import catalogue_card

    # the customer is slow at the prompt of ``step``, so CAN arrives while it waits
    slow = Behaviour(pin="1234", walk_away_at="card" if step == "GCR" else "pin",
                     presentation="insert")
    abecs_device.present(catalogue_card("visa-chip-pin"), slow)
    out: dict[str, Any] = {}

    def canceller() -> Gen:
        while abecs_device.host._pending_cmd != step or abecs_device.host._pending is None:
            yield abecs_device.world.timeout(0.5)
        yield abecs_device.world.timeout(2.0)
        yield from abecs_device.host.cancel()

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        abecs_device.world.process(canceller())
        try:
            yield from abecs_device.host.gcr(_gcr())
            yield from abecs_device.host.goc(m.GocRequest(1990, (0x9F27,)))
        except AbecsError as exc:
            out["code"] = exc.code
        out["next"] = yield from abecs_device.host.gts(0)

    abecs_device.run(flow)
    assert out.get("code") == 13 and out["next"] == VERSION


@pytest.mark.parametrize("when", ["GCR", "FNC"])
@case("abecs/4.7/7", title="a chip that answers reset, then falls silent, answers 061; "
      "nothing stays booked", section="4.7",
      failure="a mute card hangs the pinpad, gets a wrong status or leaves money booked")
def test_card_goes_mute(abecs_device: Any, when: str) -> None:
    """catalogue card.mute: silent after ``after_apdus`` APDUs (GCR), or just before the
    second GENERATE AC, after the issuer approved (FNC: the host must reverse)."""
    from conformance.faults import apply_card_fault, load_catalogue, note
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()["visa-chip-pin"]
    spec = load_catalogue()["card.mute"]
    acquirer = make_acquirer(abecs_device.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def one_sale(card: Any, acquirer: Any) -> Any:
        abecs_device.present(card)
        abecs_device.need_virtual("a card").customer = Customer.for_profile(
            abecs_device.world, profile, presentation="insert")  # the contact chip goes mute

        def flow() -> Gen:
            yield from abecs_device.host.opn()
            res = yield from sale(abecs_device.host, acquirer, 1000, version, records)
            return res, (yield from abecs_device.host.gts(0))

        return abecs_device.run(flow)

    card = VirtualCard(profile).place_in(abecs_device.world)
    if when == "GCR":
        apply_card_fault(spec, card)
    else:
        # count the APDUs of a whole sale with a sound card, then go silent at the last
        sound, _ = one_sale(VirtualCard(profile).place_in(abecs_device.world),
                            make_acquirer(abecs_device.world))
        assert sound.approved, sound.steps
        sent = sum(1 for e in abecs_device.world.transcript.entries
                   if e.port == "card" and e.direction == "tx")
        card.mute_after_apdus(sent - 1)
    note(abecs_device.world, "card", spec, f"silent during {when}")
    res, after = one_sale(card, acquirer)
    assert res.error == m.ST_ERRCARD, res.steps
    assert not res.approved
    assert after == version  # the pinpad still serves
    assert acquirer.ledger.balance()["net"] == 0
    if when == "FNC":
        assert res.arc == "00" and res.reversed
    else:
        assert len(acquirer.ledger) == 0
    no_full_pan(abecs_device.world.transcript.entries, [profile.pan])
