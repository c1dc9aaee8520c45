"""Card faults on the reader's clock: a chip that falls silent, two cards in the field."""

from __future__ import annotations

import random
import warnings

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv.card import CardMute, load_card
from virtual_devices.emv.kernel import PlainLoop, Status, Txn, run_virtual
from virtual_devices.emv.kernel.contact import ContactKernel
from virtual_devices.emv.kernel.reader import reader_timings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def pay(name: str, behaviour: Behaviour, mute_after: int | None = None, seed: int = 1):  # type: ignore[no-untyped-def]
    world = World(seed=seed)
    card = load_card(name).place_in(world)
    if mute_after is not None:
        card.mute_after_apdus(mute_after)
    holder = Cardholder(world, behaviour, pin=card.profile.pin or "0000")
    host = AcquirerHost()
    out = run_virtual(world, card, default_terminal_config(), Txn(1234), holder, host)
    return out, world, holder, host, card


def test_card_goes_silent_after_n_apdus_and_still_answers_reset() -> None:
    card = load_card("visa-chip-pin")
    card.mute_after_apdus(1)
    card.power_on("contact")
    select_pse = bytes.fromhex("00A404000E315041592E5359532E444446303100")
    assert card.transmit(select_pse)[-2:] == b"\x90\x00"
    try:
        card.transmit(select_pse)
    except CardMute:
        pass
    else:
        raise AssertionError("the second APDU was answered")
    assert card.power_on("contact")  # the reset is still answered: ATR bytes
    assert card.is_mute
    card.mute_after_apdus(None)
    assert card.transmit(select_pse)[-2:] == b"\x90\x00"


def test_plain_loop_turns_silence_into_a_card_error() -> None:
    card = load_card("visa-chip-pin")
    card.mute_after_apdus(2)
    card.power_on("contact")
    kernel = ContactKernel(default_terminal_config(), Txn(1234), random.Random(1))
    out = PlainLoop(card).run(kernel.run())
    assert out.status is Status.CARD_ERROR and "does not answer" in out.reason


def test_mute_card_mid_transaction_times_out_with_card_error_nothing_booked() -> None:
    out, world, holder, host, _ = pay("visa-chip-pin", Behaviour(), mute_after=3)
    assert out.status is Status.CARD_ERROR
    assert "does not answer" in out.reason
    assert len(host.ledger) == 0
    labels = [e.label for e in world.transcript.entries]
    assert any("card does not answer" in lb for lb in labels)
    assert holder.apdus_seen == 4  # three answered, the fourth met silence and ended it


def test_mute_wait_is_the_readers_waiting_time() -> None:
    # silent at the third APDU vs. the same card removed there: the mute one waits
    mute = pay("visa-chip-pin", Behaviour(), mute_after=2)
    removed = pay("visa-chip-pin", Behaviour(remove_after_apdus=2))
    assert mute[0].status is Status.CARD_ERROR and removed[0].status is Status.CARD_REMOVED
    assert mute[1].now - removed[1].now >= reader_timings()["card_mute_timeout"] * 0.99


def test_mute_after_the_online_approval_is_reversed() -> None:
    full = pay("visa-chip-pin", Behaviour())
    n = full[2].apdus_seen
    out, world, _, host, _ = pay("visa-chip-pin", Behaviour(), mute_after=n - 1)
    assert out.status is Status.CARD_ERROR and out.online and out.arc == "00"
    assert out.reversed
    assert [e.kind for e in host.ledger.entries] == ["sale", "reversal"]
    assert host.ledger.balance()["net"] == 0


def test_tap_with_a_second_card_is_a_collision_and_starts_nothing() -> None:
    out, world, holder, host, card = pay(
        "visa-contactless", Behaviour(interface="contactless", second_card_in_field=True))
    assert out.status is Status.COLLISION and out.reason == "present one card only"
    assert len(host.ledger) == 0
    assert not card.powered
    assert holder.apdus_seen == 0  # no APDU went to either card
    assert not any(e.direction == "tx" for e in world.transcript.entries if e.port == "card")
    assert "taps with a second card in the field" in holder.actions


def test_the_same_tap_with_one_card_pays() -> None:
    out, _, holder, host, _ = pay("visa-contactless", Behaviour(interface="contactless"))
    assert out.status is Status.APPROVED and holder.apdus_seen > 0
    assert "taps with a second card in the field" not in holder.actions


def test_second_card_is_another_contactless_card_of_the_wallet() -> None:
    world = World(seed=1)
    holder = Cardholder(world, Behaviour(second_card_in_field=True))
    card = load_card("visa-contactless").place_in(world)
    field = holder.in_field(card)
    names = [c.name for c in field.cards]
    assert names[0] == "visa-contactless" and len(names) == 2 and names[1] != names[0]
    assert all("contactless" in c.interfaces for c in field.cards)


def test_catalogue_faults_drive_the_card_and_the_cardholder() -> None:
    from conformance.faults import apply_card_fault, behaviour_kwargs, load_catalogue

    cat = load_catalogue()
    kwargs = behaviour_kwargs(cat["card.collision"], "cardholder")
    out, _, _, host, _ = pay("visa-contactless", Behaviour(interface="contactless", **kwargs))
    assert out.status is Status.COLLISION and len(host.ledger) == 0

    world = World(seed=1)
    card = load_card("visa-chip-pin").place_in(world)
    apply_card_fault(cat["card.mute"], card)
    holder = Cardholder(world, Behaviour(), pin="1234")
    host = AcquirerHost()
    out = run_virtual(world, card, default_terminal_config(), Txn(1234), holder, host)
    assert out.status is Status.CARD_ERROR and len(host.ledger) == 0
    assert holder.apdus_seen == int(cat["card.mute"].params["after_apdus"]) + 1
