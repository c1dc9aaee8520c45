"""semi-and-websockets.md §A.4 step 4 (the card dialogue inside the terminal): a swiped
card's PIN follows its service code.

A stripe carries no CVM list: the third digit of the service code (ISO/IEC 7813) says
whether the cardholder must, or may, enter a PIN: 0, 3 and 5 require one; 6 and 7 ask
for one when a PIN pad is present (a Valor terminal has one); 1, 2 and 4 do not. The
cardholder here cancels at the PIN prompt, so a sale that asked for a PIN ends
cancelled and one that did not is approved: what the POS is told shows which it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, exchange, final_of, sale

#: ISO/IEC 7813 service code, third digit -> a PIN is asked for at a terminal with a PIN pad
ASKS_PIN = {"0": True, "1": False, "2": False, "3": True, "4": False, "5": True, "6": True,
            "7": True}
#: a Visa test PAN (ADVT family) on a stripe-only card
PAN = "4761739001010119"


@pytest.mark.parametrize("framing", ["ws"])
@pytest.mark.parametrize("service_code", ["101", "102", "103", "104", "120", "105", "106", "127"])
@case("valor/A.4/22", title="a swiped card asks for a PIN exactly when its service code "
      "says so (third digit 0, 5, 6 or 7 at a terminal with a PIN pad)", section="A.4",
      failure="a stripe that requires a PIN is charged without one (the issuer's rule is "
      "broken), or the cardholder is asked for a PIN the card does not want")
def test_swipe_pin_follows_service_code(valor: Any, service_code: str) -> None:
    valor.need_reference("the case chooses the card the cardholder swipes")
    from virtual_devices.abecs.customer import Behaviour, Customer, MagstripeCard

    term = valor.terminal
    pinpad = term.card.end.pinpad
    assert pinpad is not None
    card = MagstripeCard(PAN, "3112", "CARDLOOP/STRIPE", service_code)
    valor.world.redactor.add_pan(PAN)
    pinpad.cards.clear()
    pinpad.queue_card(card)  # the terminal hands no card of its own while one waits
    pinpad.customer = Customer(valor.world, Behaviour(pin="1234", cancel_at_pin=True))
    pos = valor.pos()
    final = final_of(valor.run(exchange, pos, sale(1250, REQ_TXN_ID=f"SP-{service_code}")))
    if ASKS_PIN[service_code[2]]:
        assert final["STATE"] == "-1", final
        assert final["ERROR_MSG"] == "Transaction Timeout/Cancelled", final
    else:
        assert final["STATE"] == "0", final
        assert (final["ENTRY_MODE"], final["ENTRY_TYPE"]) == ("SWIPE", "SWIPE"), final
        assert final["MASKED_PAN"].endswith(PAN[-4:]) and "*" in final["MASKED_PAN"], final
    check_invariants(valor)
