"""The cardholder on the world's clock: timing from data, mistakes from behaviour."""

from __future__ import annotations

import warnings

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv.card import load_card
from virtual_devices.emv.kernel import Status, Txn, run_virtual
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel.reader import reader_timings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def pay(name: str, behaviour: Behaviour, seed: int = 1, amount: int = 1234):  # type: ignore[no-untyped-def]
    world = World(seed=seed)
    card = load_card(name).place_in(world)
    holder = Cardholder(world, behaviour, pin=card.profile.pin or "0000")
    host = AcquirerHost()
    out = run_virtual(world, card, default_terminal_config(), Txn(amount), holder, host)
    return out, world, holder, host, card


def test_same_seed_same_transcript_different_seed_different_timing() -> None:
    a = pay("visa-chip-pin", Behaviour())[1].transcript.jsonl()
    b = pay("visa-chip-pin", Behaviour())[1].transcript.jsonl()
    c = pay("visa-chip-pin", Behaviour(), seed=2)[1].transcript.jsonl()
    assert a == b
    assert a != c


def test_timings_come_from_the_data_files_with_sources() -> None:
    world = World(seed=1)
    holder = Cardholder(world)
    assert holder.timings.source("pin_digit")
    assert reader_timings().source("ctls_tap_target").startswith("EMVCo")
    longer = pay("visa-chip-pin", Behaviour(pins=("12345678",)), seed=3)
    shorter = pay("visa-chip-pin", Behaviour(pins=("1234",)), seed=3)
    # an 8-digit (wrong) PIN followed by the right one takes longer than the right one
    assert longer[1].now > shorter[1].now


def test_wrong_pin_then_right_pin() -> None:
    out, _, holder, _, card = pay("visa-chip-pin", Behaviour(pins=("0000",)))
    assert out.status is Status.APPROVED
    assert holder.pin_prompts == 2
    assert card.pin_tries_left == card.profile.pin_try_limit  # reset by the right PIN


def test_early_removal_ends_with_card_removed_and_nothing_booked() -> None:
    out, world, _, host, _ = pay("visa-chip-pin", Behaviour(remove_after_apdus=6))
    assert out.status is Status.CARD_REMOVED
    assert len(host.ledger) == 0
    assert any("too early" in e.label for e in world.transcript.entries)


def test_removal_after_the_online_approval_is_reversed_not_counted() -> None:
    full = pay("visa-chip-pin", Behaviour())
    n = full[2].apdus_seen
    # the card leaves just before the second GENERATE AC: the host had approved
    out, world, holder, host, _ = pay("visa-chip-pin", Behaviour(remove_after_apdus=n - 1))
    assert out.status is Status.CARD_REMOVED and out.online and out.arc == "00"
    assert out.reversed
    assert [e.kind for e in host.ledger.entries] == ["sale", "reversal"]
    assert host.ledger.balance()["net"] == 0
    assert host.ledger.check([{"ref": out.reference, "approved": False}]) == []


def test_walk_away_at_the_pin_prompt_times_out() -> None:
    out, world, _, host, _ = pay("visa-online-pin", Behaviour(walk_away=True))
    assert out.status is Status.CANCELLED
    assert world.now >= reader_timings()["pin_entry_timeout"]
    assert len(host.ledger) == 0


def test_cancel_at_pin() -> None:
    out, *_ = pay("visa-chip-pin", Behaviour(cancel_at_pin=True))
    assert out.status is Status.CANCELLED


def test_bypass_pin() -> None:
    out, *_ = pay("visa-online-pin", Behaviour(pins=(None,)))
    assert B.has(out.tvr, B.TVR_PIN_NOT_ENTERED)


def test_application_choice_by_label() -> None:
    out, *_ = pay("elo-combo", Behaviour(app_choice="Elo Debito"))
    assert out.label == "Elo Debito" and out.status is Status.APPROVED
    out, *_ = pay("elo-combo", Behaviour(app_choice=None))
    assert out.status is Status.CANCELLED


def test_follow_prompts_swipe_to_chip() -> None:
    out, _, holder, *_ = pay("visa-chip-pin", Behaviour(interface="magstripe"))
    assert out.status is Status.APPROVED and out.interface == "contact"
    assert holder.actions[0].startswith("swipe") and "insert" in holder.actions[1]
    out, *_ = pay("visa-chip-pin", Behaviour(interface="magstripe", follow_prompts=False))
    assert out.status is Status.INSERT_CARD


def test_see_phone_then_unlock_and_tap_again() -> None:
    out, _, holder, *_ = pay("visa-phone-see-phone", Behaviour(interface="contactless"),
                             amount=25000)
    assert out.status is Status.APPROVED and out.cvm == "cdcvm"
    assert any("phone" in a for a in holder.actions)
    out, *_ = pay("visa-phone-see-phone",
                  Behaviour(interface="contactless", verify_on_phone=False), amount=25000)
    assert out.status is Status.SEE_PHONE


def test_no_pin_in_the_transcript() -> None:
    _, world, *_ = pay("visa-chip-pin", Behaviour(pins=("9876",)))
    text = world.transcript.jsonl() if hasattr(world.transcript, "jsonl") else ""
    assert "9876" not in text and "4761739001010010" not in text
