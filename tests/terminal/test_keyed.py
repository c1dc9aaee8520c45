"""Keyed entry: the cardholder types the printed card on the pinpad's keypad (ABECS GCD),
the terminal sends a keyed authorisation, the acquirer checks it as a card-not-present
payment (Luhn, expiry, security code) and books it."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from conformance.invariants import no_full_pan
from simulator.timings import load_timings
from simulator.world import World
from virtual_devices.abecs.customer import Customer
from virtual_devices.abecs.host import AbecsError
from virtual_devices.acquirer.host import AcquirerHost
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue
from virtual_devices.emv.kernel.messages import AuthRequest
from virtual_devices.emv.printed import printed, security_code
from virtual_devices.terminal import KeyedCard, events, pinpad_end

Gen = Generator[Any, Any, Any]
VISA = "4761739001010010"


def keyed_world(card: str = "visa-chip-pin", **knobs: Any) -> tuple[World, Any, AcquirerHost,
                                                                      list[Any]]:
    world = World(seed=5)
    end = pinpad_end(world, "memory")
    profile = catalogue()[card]
    end.pinpad.customer = Customer.for_profile(world, profile, **knobs)
    end.pinpad.queue_card(VirtualCard(profile).place_in(world))
    acquirer = AcquirerHost()
    seen: list[Any] = []
    term = end.terminal(acquirer, observer=seen.append)
    return world, term, acquirer, seen


def run(world: World, term: Any, flow: Gen) -> Any:
    def opened() -> Gen:
        yield from term.host.opn()
        return (yield from flow)

    proc = world.process(opened())
    world.run(until=proc)
    return proc.value


def test_the_cardholder_types_the_printed_card_and_the_acquirer_books_it() -> None:
    world, term, acquirer, seen = keyed_world()
    face = printed(catalogue()["visa-chip-pin"])
    assert face is not None and len(face.security_code) == 3

    def flow() -> Gen:
        card = yield from term.key_card()
        rsp = yield from term.authorise_keyed(card, 2500, key="k1")
        return card, rsp

    card, rsp = run(world, term, flow())
    assert (card.pan, card.expiry, card.security_code) == (VISA, "3112", face.security_code)
    assert rsp.approved and rsp.arc == "00" and rsp.auth_code
    entry = acquirer.ledger.get(rsp.reference)
    assert entry is not None and entry.kind == "sale" and entry.amount == 2500
    assert entry.meta["interface"] == "keyed" and entry.pan_masked == "476173******0010"
    keyed = [e for e in seen if isinstance(e, events.CardKeyed)]
    assert [e.masked_pan for e in keyed] == ["476173******0010"]
    # the person copies 16 + 2 + 2 + 3 digits at the timings file's pace (each draw is
    # within 30 % of its mean), four prompts each read and confirmed
    t = load_timings("virtual_devices", "cardholder_timings.toml")
    least = 0.7 * (4 * (t["keyed_think"] + t["pin_confirm"]) + 23 * t["keyed_digit"])
    assert world.now >= least
    no_full_pan(world.transcript, known_pans=[VISA])
    text = world.transcript.jsonl()
    assert f"M..{face.security_code}" not in text
    assert "typed value not shown" in text or "GCD" not in text


def test_cancel_at_the_keypad_ends_keyed_entry_with_013() -> None:
    world, term, _, _ = keyed_world(cancel_at="card")
    with pytest.raises(AbecsError) as err:
        run(world, term, term.key_card())
    assert err.value.code == 13


def _request(pan: str = VISA, expiry: str = "3112", code: str | None = None,
             date: str = "261201", amount: int = 1000) -> AuthRequest:
    # the code printed on a card with this number and expiry (the issuer's CVV2)
    printed_code = security_code("visa", pan, expiry)
    return KeyedCard(pan, expiry, printed_code if code is None else code) \
        .auth_request(amount, 826, date)


@pytest.mark.parametrize("request_,code", [
    (_request(), None),
    (_request(pan="4761739001010011"), "14"),          # fails Luhn
    (_request(pan="9761739001010016"), "14"),          # Luhn-valid, no brand acquired
    (_request(expiry="2611"), "54"),                   # the month before the date
    (_request(expiry="2612"), None),                   # valid through its month
    (_request(expiry="3113"), "54"),                   # not a month
    (_request(code="000"), "N7"),                       # not the printed code
    (_request(code=""), "N7"),
])
def test_keyed_checks(request_: AuthRequest, code: str | None) -> None:
    host = AcquirerHost()
    assert host.keyed_refusal(request_, payment=True) == code
    rsp = host.authorise(request_, key="k")
    assert rsp is not None and rsp.approved == (code is None)
    assert rsp.arc == (code or "00")
    assert host.ledger.balance()["settled"] == (1000 if code is None else 0)


def test_keyed_refund_needs_no_code_but_a_good_number_and_date() -> None:
    host = AcquirerHost()
    assert host.refund_to_card(_request(code=""), key="r1").approved
    bad = host.refund_to_card(_request(expiry="2401", code=""), key="r2")
    assert not bad.approved and bad.response_code == "54"


def test_amount_rules_still_apply_to_keyed_cards() -> None:
    rsp = AcquirerHost().authorise(_request(amount=5100), key="k")
    assert rsp is not None and not rsp.approved and rsp.arc == "51"
