"""semi-and-websockets.md §A.9 (faults) at each step of the card dialogue: the terminal's
pinpad reboots as it is handed each command of a sale.

A reboot loses the pinpad's open session (faults_catalogue.toml ``device.reboot``): the
sale in hand ends with ``STATE -1`` and nothing booked, and the terminal must open the
pinpad again before the next sale, whichever command the reboot hit. The catalogue's
own fault hits FNC (valor/A.9/21); this case moves it to the card read and to GOC.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.faults import device_back_seconds, load_catalogue
from conformance.invariants import no_charge_left_unreversed

from .steps import check_invariants, exchange, final_of, sale


@pytest.mark.parametrize("framing", ["ws"])
@pytest.mark.parametrize("at", ["GCR", "GOC", "FNC"])
@case("valor/A.9/24", title="the pinpad reboots as it is handed the card read, GOC or FNC: "
      "the POS gets STATE -1, nothing stays booked, and the next sale is served",
      section="A.9", failure="after a pinpad reboot at one step of the card dialogue the "
      "terminal keeps using the lost session: every later sale fails until it restarts")
def test_reboot_at_each_step(valor: Any, at: str) -> None:
    if valor.terminal is None or valor.world.mode != "virtual":
        pytest.skip("the terminal's pinpad is inside the reference")
    from virtual_devices.abecs import power

    fault = power.arm(valor.world, power.PowerFault(at=at, off=0.0, kind="reboot"))
    pos = valor.pos()
    first = final_of(valor.run(exchange, pos, sale(1250, REQ_TXN_ID=f"RB-{at}-1")))
    assert fault.fired, f"the pinpad never rebooted at {at}"
    assert first["STATE"] == "-1", first
    no_charge_left_unreversed(valor.terminal.acquirer.ledger.entries, 0)
    check_invariants(valor)
    valor.settle(device_back_seconds(load_catalogue()["device.reboot"]))
    after = final_of(valor.run(exchange, pos, sale(700, REQ_TXN_ID=f"RB-{at}-2")))
    assert after["STATE"] == "0" and after["AMOUNT"] == "700", after
    no_charge_left_unreversed(valor.terminal.acquirer.ledger.entries, 1)
    check_invariants(valor)
