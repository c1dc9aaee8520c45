"""P3 flows on an ABECS reader: virtual pinpad, virtual EMV card, shared acquirer host."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from protocol_servers.p3.client import P3Client, connect_local, told
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.server import PayServer
from simulator.world import World

warnings.filterwarnings("ignore", message=".*TripleDES.*")
pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
RESOURCE = "devices/counter"


def make(transport: str, cards: tuple[str, ...] = ("visa-chip-pin",),
         customer: dict[str, Any] | None = None) -> tuple[PayServer, P3Client]:
    world = World(seed=9)
    # the shopper inserts: these cases check the contact chip flow (a tap is its own case)
    knobs = {"presentation": "insert", **(customer or {})}
    cfg = ServerConfig(devices=(DeviceConfig("counter", "Counter", "MIURA", "USB", cards=cards,
                                             customer=knobs),))
    server = PayServer(world, cfg)
    return server, connect_local(server, transport)


def run(server: PayServer, script: Any) -> Any:
    proc = server.world.process(script())
    server.world.run(until=proc)
    return proc.value


def tx_of(msg: dict[str, Any]) -> dict[str, Any]:
    return msg["executeTransactionResponse"]["transaction"]  # type: ignore[no-any-return]


@pytest.fixture(params=["ws", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_chip_pin_charge_carries_an_arqc_the_acquirer_verified(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="12.00")))

    t = tx_of(run(server, script))
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == "PIN"
    assert t["paymentDetails"]["scheme"] == "VISA"
    (entry,) = server.acquirer.ledger.entries
    assert entry.approved and entry.meta["cryptogram_ok"] is True
    assert entry.amount == 1200 and entry.kind == "sale"
    assert t["clearingDetails"]["authorizationCode"] == entry.meta["response"].auth_code
    assert "4761739001010010" not in server.world.transcript.jsonl()


def test_signature_card_asks_the_pos_for_a_signature(transport: str) -> None:
    server, c = make(transport, ("mc-chip-signature",))

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.00")
        action = yield from c.action(tag)
        assert action["executeTransactionAction"]["action"] == "CUSTOMER_SIGNATURE"
        yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST",
                                        {"signature": "iVBORw0KGgo=", "verified": True}, RESOURCE))
        return (yield from c.final(tag))

    t = tx_of(run(server, script))
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == "SIGNATURE"


def test_abort_while_waiting_for_the_card_cancels_the_pinpad(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        aresp = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE))
        first = yield from c.final(tag)
        again = yield from c.final(c.execute(RESOURCE, amount="12.00"))
        return aresp, first, again

    aresp, first, again = run(server, script)
    assert aresp["status"] == "OK"
    assert tx_of(first)["status"] == "ABORTED"
    assert tx_of(again)["status"] == "APPROVED", "the reader did not recover after CAN"
    assert [e.kind for e in server.acquirer.ledger.entries] == ["sale"]


def test_disconnect_after_authorisation_reverses_at_the_acquirer(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL")
        c.end.close()
        yield server.world.timeout(60)

    run(server, script)
    kinds = [e.kind for e in server.acquirer.ledger.entries]
    assert kinds == ["sale", "reversal"]
    assert server.acquirer.ledger.entries[0].reversed
    assert server.acquirer.ledger.problems() == []
    (tx,) = server.transactions.values()
    assert tx.status_code == "ERROR_AUTOREVERSAL_LOGOUT"


def test_referenced_refund_of_a_chip_charge_goes_to_the_acquirer(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        charge = tx_of((yield from c.final(c.execute(RESOURCE, amount="12.00"))))
        return (yield from c.final(c.execute(
            RESOURCE, type_="REFUND", amount="5.00",
            referencedTransactionIdentifier=charge["identifier"])))

    t = tx_of(run(server, script))
    assert t["status"] == "APPROVED" and t["type"] == "REFUND"
    refund = server.acquirer.ledger.entries[-1]
    assert refund.kind == "refund" and refund.amount == 500 and refund.approved


def test_hundreds_digit_two_declines_online_at_the_acquirer(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="212.00")))

    t = tx_of(run(server, script))
    assert t["status"] == "DECLINED" and t["statusDetails"]["code"] == "DECLINED_PROCESSOR"
    (entry,) = server.acquirer.ledger.entries
    assert not entry.approved and entry.response_code == "05"
    assert entry.meta["cryptogram_ok"] is True


def test_abort_during_pin_entry_cancels_goc(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PIN")
        aresp = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE))
        return aresp, (yield from c.final(tag))

    aresp, final = run(server, script)
    assert aresp["status"] == "OK"
    assert tx_of(final)["status"] == "ABORTED"
    assert server.acquirer.ledger.entries == []


def test_same_seed_same_transcript_through_the_pinpad() -> None:
    def once() -> str:
        server, c = make("tcp")

        def script():  # type: ignore[no-untyped-def]
            yield from c.login()
            yield from c.final(c.execute(RESOURCE, amount="12.00"))

        run(server, script)
        return server.world.transcript.jsonl()

    first = once()
    assert first == once()


def _card_commands(server: PayServer) -> list[str]:
    """ABECS command names the host sent to the pinpad, in order (from the transcript)."""
    out = []
    for e in server.world.transcript.entries:
        label = e.label.removeprefix("[sec] ")
        if e.port.endswith(".host") and e.direction == "tx" and label[:3].isalpha():
            out.append(label[:3])
    return out


def test_standalone_refund_reads_the_card_and_credits_it(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, type_="REFUND", amount="5.00")
        return tag, (yield from c.final(tag))

    tag, final = run(server, script)
    t = tx_of(final)
    assert (t["type"], t["status"]) == ("REFUND", "APPROVED")
    assert t["paymentDetails"]["customerVerification"] == "NONE", "a refund asked for a PIN"
    assert t["paymentDetails"]["scheme"] == "VISA"
    assert t["paymentDetails"]["maskedAccountNumber"] == "476173******0010"
    (entry,) = server.acquirer.ledger.entries
    assert (entry.kind, entry.amount, entry.approved, entry.parent) == ("refund", 500, True, None)
    assert entry.key == t["identifier"]
    assert server.acquirer.ledger.balance() == {"settled": 0, "refunded": 500, "net": -500,
                                                "held": 0}
    assert server.bookings() == [(t["identifier"], -500)]
    commands = _card_commands(server)
    assert "GCR" in commands and "GOC" not in commands and "RMC" in commands
    seen = [m["executeTransactionUpdate"]["details"]["information"][0]
            for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]
    assert "Processing refund..." in seen and "Refund approved" in seen
    receipt = t["merchantReceipt"]["data"]
    assert receipt["TRANSACTION_TYPE"]["value"] == "Refund"
    assert "4761739001010010" not in server.world.transcript.jsonl()


def test_abort_while_a_refund_waits_for_the_card_books_nothing(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, type_="REFUND", amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        aresp = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE))
        first = yield from c.final(tag)
        again = yield from c.final(c.execute(RESOURCE, type_="REFUND", amount="5.00"))
        return aresp, first, again

    aresp, first, again = run(server, script)
    assert aresp["status"] == "OK" and tx_of(first)["status"] == "ABORTED"
    assert tx_of(again)["status"] == "APPROVED", "the reader did not recover after CAN"
    assert [(e.kind, e.key) for e in server.acquirer.ledger.entries] == [
        ("refund", tx_of(again)["identifier"])]


def test_disconnect_mid_standalone_refund_neither_loses_nor_doubles_it(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, type_="REFUND", amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL")
        c.end.close()
        yield server.world.timeout(60)

    run(server, script)
    ledger = server.acquirer.ledger
    assert [e.kind for e in ledger.entries] == ["refund", "reversal"]
    assert ledger.entries[0].reversed and ledger.balance()["net"] == 0
    assert not server.ledger_problems()
    (tx,) = server.transactions.values()
    assert tx.status_code == "ERROR_AUTOREVERSAL_LOGOUT"
    # the same refund sent again under its key (a retry) books nothing new
    from virtual_devices.emv.kernel.messages import AuthRequest

    retry = AuthRequest("contact", 500, 978, "4761739001010010", "01",
                        bytes.fromhex("A000000003"), {})
    assert server.acquirer.refund_to_card(retry, key=tx.identifier) is ledger.entries[0]
    assert len(ledger.entries) == 2 and ledger.balance()["net"] == 0


def test_tip_adjust_of_a_chip_sale_goes_to_the_acquirer(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        charge = tx_of((yield from c.final(c.execute(RESOURCE, amount="12.00"))))
        tip = yield from c.final(c.execute(RESOURCE, type_="TIP_ADJUST", amount="1.50",
                                           referencedTransactionIdentifier=charge["identifier"]))
        return charge, tip

    charge, tip = run(server, script)
    assert charge["details"]["tipAdjustStatus"] == "ADJUSTABLE"
    t = tx_of(tip)
    assert t["identifier"] == charge["identifier"] and str(t["amount"]) == "13.50"
    assert t["details"]["tipAdjustStatus"] == "ADJUSTED"
    assert str(t["details"]["includedTipAmount"]) == "1.50"
    sale, adjust = server.acquirer.ledger.entries
    assert (sale.amount, sale.tipped) == (1350, 150)
    assert (adjust.kind, adjust.amount, adjust.parent) == ("tip_adjust", 150, sale.ref)
    assert server.acquirer.ledger.balance()["settled"] == 1350
    assert server.bookings() == [(charge["identifier"], 1350)]
    assert not server.ledger_problems()


def test_two_pos_adjusting_one_tip_are_told_what_the_acquirer_books(transport: str) -> None:
    """The later answer holds the total, whichever connection it went to.

    The second POS adjusts first, the first POS second: read in connection order the
    answers would say 12.50 while the acquirer books 13.00.
    """
    server, first = make(transport)
    second = connect_local(server, transport, "pos-2")

    def script():  # type: ignore[no-untyped-def]
        yield from first.login()
        yield from second.login()
        charge = tx_of((yield from first.final(first.execute(RESOURCE, amount="12.00"))))
        ident = charge["identifier"]
        a = yield from second.final(second.execute(
            RESOURCE, type_="TIP_ADJUST", amount="0.50", referencedTransactionIdentifier=ident))
        b = yield from first.final(first.execute(
            RESOURCE, type_="TIP_ADJUST", amount="0.50", referencedTransactionIdentifier=ident))
        return ident, a, b

    ident, a, b = run(server, script)
    assert str(tx_of(a)["amount"]) == "12.50" and str(tx_of(b)["amount"]) == "13.00"
    assert server.bookings() == [(ident, 1300)]
    assert told([first, second]) == {ident: 1300}
    assert told([second, first]) == {ident: 1300}
    assert not server.ledger_problems()


def test_tip_adjust_of_a_preauthorisation_is_captured_with_it(transport: str) -> None:
    server, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        charge = tx_of((yield from c.final(c.execute(RESOURCE, amount="12.00",
                                                     autoCapture=False))))
        ident = charge["identifier"]
        tip = yield from c.final(c.execute(RESOURCE, type_="TIP_ADJUST", amount="2.00",
                                           referencedTransactionIdentifier=ident))
        cap = yield from c.final(c.execute(RESOURCE, type_="CAPTURE", amount=None,
                                           currency=None, referencedTransactionIdentifier=ident))
        return tip, cap

    tip, cap = run(server, script)
    assert tx_of(tip)["status"] == "APPROVED" and tx_of(cap)["captured"] is True
    assert str(tx_of(cap)["amount"]) == "14.00"
    ledger = server.acquirer.ledger
    assert [e.kind for e in ledger.entries] == ["preauth", "tip_adjust", "capture"]
    assert ledger.balance() == {"settled": 1400, "refunded": 0, "net": 1400, "held": 0}
    assert not server.ledger_problems()


@pytest.mark.parametrize("customer, status, code", [
    ({"cancel_at": "card"}, "ABORTED", "ABORTED_SHOPPER_ABORTED"),
    # inserted: a tap under the contactless CVM limit would ask for no PIN at all
    ({"cancel_at": "pin", "presentation": "insert"}, "ABORTED", "ABORTED_SHOPPER_ABORTED"),
    ({"walk_away_at": "card"}, "ABORTED", "ABORTED_PRESENT_CARD_TIMED_OUT"),
    ({"wrong_pins": 1, "presentation": "insert"}, "APPROVED", "APPROVED"),
])
def test_the_shopper_at_the_pinpad(transport: str, customer: dict[str, Any], status: str,
                                   code: str) -> None:
    """payworks-p3.md §7.6: shopper-initiated aborts and timeouts end the same way."""
    server, c = make(transport, customer=customer)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="12.00"), timeout=900))

    t = tx_of(run(server, script))
    assert (t["status"], t["statusDetails"]["code"]) == (status, code)
    booked = [e for e in server.acquirer.ledger.entries if e.approved]
    assert len(booked) == (1 if status == "APPROVED" else 0)


def _card_apdus(server: PayServer) -> int:
    return sum(1 for e in server.world.transcript.entries
               if e.port.endswith("card") and e.direction == "tx")


def test_card_mute_before_fnc_ends_in_error_and_reverses_at_the_acquirer(
        transport: str) -> None:
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    sound, c = make(transport)

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="12.00")))

    assert tx_of(run(sound, script))["status"] == "APPROVED"
    n = _card_apdus(sound)
    assert n > 2
    server, c = make(transport)
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(server.world)
    card.mute_after_apdus(n - 1)  # silent at the second GENERATE AC, after the approval
    pad = server.devices["counter"].reader.pinpad
    pad.queue_card(card)
    pad.customer.behaviour.presentation = "insert"  # a contact chip that goes mute
    t = tx_of(run(server, script))
    assert t["status"] == "ERROR"
    assert [e.kind for e in server.acquirer.ledger.entries] == ["sale", "reversal"]
    assert server.acquirer.ledger.balance()["net"] == 0
    assert not server.ledger_problems()


def test_a_tapped_card_is_reported_as_nfc_icc(transport: str) -> None:
    """paymentDetails.source says what the pinpad really saw: a tap is NFC_ICC."""
    server, c = make(transport, cards=("visa-contactless",), customer={"presentation": "tap"})

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="12.00")))

    t = tx_of(run(server, script))
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["source"] == "NFC_ICC"
    assert t["paymentDetails"]["customerVerification"] == "NONE"  # under the CVM limit
