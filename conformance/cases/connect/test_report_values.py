"""paymentsense-connect.md §4.8: every balance of a report by value, against the
acquirer's books and the transactions the case made.

A visa sale of 10.00, a mastercard sale of 6.00 with 2.00 cashback, a visa refund of
3.00 and a declined sale: the X report totals what the acquirer settled (sales with
their cashback, 18.00 in 2), refunded (3.00 in 1) and the net (15.00), with the cashback
on its own (2.00 in 1), no gratuity, totals per issuer, since installation. The end of
day closes the banking session: its current session is the four transaction numbers
0001-0004 with those totals; the banking report after it shows them as the previous
session and an empty current one; the next sale opens the new session at 0005, and the
X report after the end of day counts only it, since another point than installation.
"""

from __future__ import annotations

import re
from typing import Any

from conformance import case

from .conftest import GBP
from .steps import check_invariants
from .test_fields import pounds
from .test_pac import sale

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def breakdown(total: int, sales: int, sales_n: int, refunds: int,
              refunds_n: int) -> dict[str, Any]:
    """§4.8 totalsBreakdown."""
    return {"currency": "GBP", "totalAmount": total, "totalSalesAmount": sales,
            "totalSalesCount": sales_n, "totalRefundsAmount": refunds,
            "totalRefundsCount": refunds_n}


@case("connect/4.8/4", title="report balances by value: sales with cashback, refunds, net, "
      "cashback, gratuity, per issuer, since when; the end of day's banking session "
      "(transaction numbers 0001-0004, totals) becomes the previous session and the next "
      "sale opens the new one (each banking report closes a session)", section="4.8",
      failure="a report's balance, issuer total, session range or totals differ from what "
      "the terminal took and the acquirer booked")
def test_report_values(connect: Any) -> None:
    c = connect.open()
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    sale(connect, c, amount=1000)
    connect.choose(GBP, "mc-contactless", presentation="insert")
    sale(connect, c, amount=600, amountCashback=200)
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    sale(connect, c, method="refund", amount=300)
    declined = sale(connect, c, amount=5100)
    assert declined["transactionResult"] == "DECLINED"

    def report(method: str) -> dict[str, Any]:
        rsp = connect.run(lambda: c.call(method, {"tid": GBP}))
        assert rsp is not None and rsp.error is None, (method, rsp)
        r = rsp.result
        assert r["tid"] == GBP and r["reportResult"] == "COMPLETE", r
        assert TIME.match(r["reportTime"]), r["reportTime"]
        return r  # type: ignore[no-any-return]

    x = report("reportXBalance")
    b = x["balances"]
    assert {k: b[k] for k in breakdown(0, 0, 0, 0, 0)} == breakdown(1500, 1800, 2, 300, 1), b
    assert (b["totalCashbackAmount"], b["totalCashbackCount"]) == (200, 1), b
    assert (b["totalGratuityAmount"], b["totalGratuityCount"]) == (0, 0), b
    assert b["totalsSince"] == "INSTALLATION", b["totalsSince"]
    assert b["issuerTotals"] == {"VISA": breakdown(700, 1000, 1, 300, 1),
                                 "MASTERCARD": breakdown(800, 800, 1, 0, 0)}, b["issuerTotals"]
    if connect.reference:
        books = connect.server.acquirer.ledger.balance()
        assert (b["totalSalesAmount"], b["totalRefundsAmount"], b["totalAmount"]) == \
            (books["settled"], books["refunded"], books["net"]), books
    printed = " ".join(line["value"] for line in x["reportLines"])
    for money in (pounds(1800), pounds(300), pounds(1500)):
        assert money in printed, (money, printed)

    eod = report("reportEndOfDay")
    assert eod["balances"]["totalAmount"] == 1500
    (acq,) = eod["banking"].values()
    assert acq["currency"] == "GBP"
    assert acq["currentSessionTotals"] == breakdown(1500, 1800, 2, 300, 1), acq
    assert acq["currentSessionTransactionNumbers"] == ["0001", "0004"], acq
    assert acq["previousSessionTotals"] == breakdown(0, 0, 0, 0, 0), acq

    bank = report("reportBanking")
    assert "balances" not in bank
    (acq,) = bank["banking"].values()
    assert acq["previousSessionTotals"] == breakdown(1500, 1800, 2, 300, 1), acq
    assert acq["previousSessionTransactionNumbers"] == ["0001", "0004"], acq
    assert acq["currentSessionTotals"] == breakdown(0, 0, 0, 0, 0), acq
    assert len(acq["currentSessionTransactionNumbers"]) == 2, acq

    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    after = sale(connect, c, amount=450)
    assert after["transactionNumber"] == "0005", after["transactionNumber"]
    x2 = report("reportXBalance")["balances"]
    assert {k: x2[k] for k in breakdown(0, 0, 0, 0, 0)} == breakdown(450, 450, 1, 0, 0), x2
    assert x2["totalsSince"] != "INSTALLATION", "totals since installation after a Z"
    assert x2["issuerTotals"] == {"VISA": breakdown(450, 450, 1, 0, 0)}, x2["issuerTotals"]
    (acq,) = report("reportBanking")["banking"].values()
    assert acq["currentSessionTransactionNumbers"] == ["0005", "0005"], acq
    assert acq["currentSessionTotals"] == breakdown(450, 450, 1, 0, 0), acq
    # the session before it is the empty one the banking report after the end of day closed
    assert acq["previousSessionTotals"] == breakdown(0, 0, 0, 0, 0), acq
    check_invariants(connect)
