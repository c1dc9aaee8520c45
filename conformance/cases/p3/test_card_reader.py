"""payworks-p3.md §7.1 and §8.3 on a card reader behind a serial line: the charge's ARQC
reaches the acquirer, which verifies it; an abort reaches the reader (CAN)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")


def _reader(p3: Any, c: Any) -> Any:
    resp = yield from login(c, p3)
    readers = [d["resource"] for d in resp["loginMerchantResponse"]["devices"]
               if d["type"] != "MOCK"]
    return readers[0] if readers else None


def _needs_reader(p3: Any) -> None:
    if p3.world.mode == "realtime" and p3.reference and p3.world.factor < 0.1:
        pytest.skip("a pinpad on a pty needs --factor 0.1 or more (ABECS waits 2 s for ACK)")


@case("p3/7.1/2", title="chip + PIN charge on a card reader: approved, the acquirer verified "
      "the card's cryptogram", section="7.1",
      failure="the chip charge does not complete, or its ARQC does not verify")
def test_chip_pin_on_reader(p3: Any, verdict: Any) -> None:
    _needs_reader(p3)
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        if resource is None:
            return None
        return (yield from c.final(c.execute(resource, amount="12.00"), timeout=300))

    final = p3.run(script)
    if final is None:
        verdict.unimplemented("the target lists no card reader besides MOCK devices")
        return
    t = tx_of(final)
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["source"] in ("ICC", "NFC_ICC")
    if p3.server is not None:
        (entry,) = [e for e in p3.server.acquirer.ledger.entries if e.kind == "sale"]
        assert entry.meta["cryptogram_ok"] is True, "the ARQC did not verify at the acquirer"
        assert p3.server.acquirer.ledger.problems() == []
    check_invariants(p3)


@case("p3/4.6/4", title="abort while the reader waits for the card: the reader is cancelled "
      "and serves the next charge", section="4.6",
      failure="after an abort the reader stays blocked")
def test_abort_on_reader(p3: Any, verdict: Any) -> None:
    _needs_reader(p3)
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        if resource is None:
            return None
        tag = c.execute(resource, amount="12.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        aresp = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, resource))
        first = yield from c.final(tag, timeout=300)
        again = yield from c.final(c.execute(resource, amount="12.00"), timeout=300)
        return aresp, first, again

    out = p3.run(script)
    if out is None:
        verdict.unimplemented("the target lists no card reader besides MOCK devices")
        return
    aresp, first, again = out
    assert aresp["status"] == "OK" and tx_of(first)["status"] == "ABORTED"
    assert tx_of(again)["status"] == "APPROVED"
    check_invariants(p3)
