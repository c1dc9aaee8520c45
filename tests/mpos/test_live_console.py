"""The live console prints what a person at the counter sees, in order, masked."""

from __future__ import annotations

import io

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from simulator.console import LiveConsole
from simulator.world import World


def test_a_sale_on_the_console() -> None:
    w = World(seed=2)
    card = card_from_name(w, "visa-chip-pin")
    lab = build_lab(w, readers=1, cards=[card])
    lab.readers[0].pinpad.customer.behaviour.presentation = "insert"  # chip and PIN
    out = io.StringIO()
    LiveConsole(out, clock=lambda: w.now).attach(w.transcript).watch_ledger(
        lab.backend.host.ledger)
    c = MposClient(w, lab.connect())

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", 1500)
        txn = lab.backend.create_transaction(p["process"]["card_hash"], 1500)
        yield from c.finish("s", success=True, response_code=int(txn.acquirer_response_code),
                            emv_data=txn.card_emv_response)
        yield from c.close("s")

    w.run(until=w.process(flow()))
    text = out.getvalue()
    lines = text.splitlines()

    def first(needle: str) -> int:
        found = [i for i, line in enumerate(lines) if needle in line]
        assert found, f"{needle!r} not on the console:\n{text}"
        return found[0]

    order = [first("shows  APROXIME, INSIRA / OU PASSE CARTAO"), first("card inserted: 476173"),
             first("PIN typed: ****"), first("approved (00)"), first("card removed")]
    assert order == sorted(order), text
    assert card.pan not in text and "1234" not in text.replace("****", "")
    assert "sale 15.00 476173" in text
