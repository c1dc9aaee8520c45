"""payworks-p3.md §5.1 and §7.7: a charge's ``refundDetails`` for its value at the boundaries
-- one minor unit left to refund is still refundable, and the refunds made are listed.

The MOCK card's outcome comes from the amount's digits (§11): 0.01 and 5.00 are approved
without cardholder verification or question. The charge is seen again in the answer to a
tip adjust, which carries the charge (§7.8).
"""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_invariants, login, tx_of


@case("p3/7.7/13", title="refundDetails at the boundary: a one-cent charge is "
      "REFUNDABLE_PARTIAL_AND_FULL; after a partial refund the charge lists that refund and "
      "stays refundable", section="7.7",
      failure="a charge with a cent left to refund is reported not refundable, or its refunds "
      "are not listed")
def test_refund_details_boundaries(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        cent = yield from c.final(c.execute(p3.resource, amount="0.01"))
        charge = yield from c.final(c.execute(p3.resource, amount="5.00"))
        ident = tx_of(charge)["identifier"]
        refund = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="4.99",
                                              referencedTransactionIdentifier=ident))
        tip = yield from c.final(c.execute(p3.resource, type_="TIP_ADJUST", amount="0.10",
                                           referencedTransactionIdentifier=ident))
        return cent, charge, refund, tip

    cent, charge, refund, tip = p3.run(script)
    t = tx_of(cent)
    assert (t["status"], str(t["amount"])) == ("APPROVED", "0.01"), t["statusDetails"]
    assert t["refundDetails"] == {"status": "REFUNDABLE_PARTIAL_AND_FULL",
                                  "refundTransactions": []}, t["refundDetails"]
    r = tx_of(refund)
    assert (r["type"], r["status"], str(r["amount"])) == ("REFUND", "APPROVED", "4.99")
    after = tx_of(tip)
    assert after["identifier"] == tx_of(charge)["identifier"]
    assert str(after["amount"]) == "5.10"
    # 5.10 charged, 4.99 refunded: 0.11 left
    assert after["refundDetails"] == {"status": "REFUNDABLE_PARTIAL_AND_FULL",
                                      "refundTransactions": [r["identifier"]]}, \
        after["refundDetails"]
    check_invariants(p3)
