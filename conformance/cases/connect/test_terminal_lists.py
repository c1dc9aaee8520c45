"""paymentsense-connect.md §4.1-§4.2 and §8: the terminal list and its variants.

``connectedTerminals`` takes no params, omitted or ``{}`` (§4.1: accept both), and may be
filtered by ``currency`` (§8: "terminal list filterable by currency"); ``terminalDetails``
of each listed terminal is that terminal's entry.
"""

from __future__ import annotations

from typing import Any

from conformance import case

from .conftest import EUR, GBP


@case("connect/4.1/3", title="connectedTerminals without params, with {} and filtered by "
      "currency: the same terminals, and a filter keeps exactly those of its currency",
      section="4.1", failure="the list differs between the two request shapes, or the "
      "currency filter lets others through or drops some")
def test_terminal_list_variants(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        bare = yield from c.call("connectedTerminals")
        empty = yield from c.call("connectedTerminals", {})
        gbp = yield from c.call("connectedTerminals", {"currency": "GBP"})
        eur = yield from c.call("connectedTerminals", {"currency": "EUR"})
        details = []
        for t in bare.result:
            one = yield from c.call("terminalDetails", {"tid": t["tid"]})
            details.append(one.result)
        return bare.result, empty.result, gbp.result, eur.result, details

    bare, empty, gbp, eur, details = connect.run(script)
    assert bare == empty, (bare, empty)
    assert {t["tid"] for t in bare} >= {GBP, EUR}, bare
    assert eur and all(t["currency"] == "EUR" for t in eur), eur
    assert gbp and all(t["currency"] == "GBP" for t in gbp), gbp
    assert EUR in {t["tid"] for t in eur} and GBP in {t["tid"] for t in gbp}
    assert sorted(gbp + eur, key=lambda t: t["tid"]) == sorted(bare, key=lambda t: t["tid"])
    assert details == bare, "terminalDetails differs from the listed entry"


@case("connect/4.5/2", title="duplicate on a terminal that took nothing is -32070 with the "
      "tid; after two sales it repeats the last one, field for field", section="4.5",
      failure="duplicate invents a transaction, or repeats an older one")
def test_duplicate_last(connect: Any) -> None:
    from .steps import check_invariants
    from .test_pac import sale

    c = connect.open()
    empty = connect.run(lambda: c.call("duplicate", {"tid": GBP}))
    assert empty.error is not None and empty.error.code == -32070, empty
    assert (empty.error.data or {}).get("tid") == GBP, empty.error
    sale(connect, c, amount=610)
    second = sale(connect, c, amount=620)
    dup = connect.run(lambda: c.call("duplicate", {"tid": GBP}))
    assert dup.error is None, dup.error
    assert dup.result == second, "duplicate differs from the last transaction"
    check_invariants(connect)


@case("connect/4.3/14", title="a completion finds only a successful pre-authorisation: the "
      "authCode of a sale, or of a pre-auth on another card, captures nothing and is "
      "DECLINED with a userMessage", section="4.3",
      failure="a completion captures a sale, or a pre-authorisation made on another card")
def test_completion_needs_a_preauth(connect: Any) -> None:
    from .steps import check_invariants
    from .test_pac import sale

    c = connect.open()
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    paid = sale(connect, c, amount=3000)
    assert paid["transactionResult"] == "SUCCESSFUL" and paid["authCode"]
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    done = sale(connect, c, method="completion", amount=3000, authCode=paid["authCode"])
    assert done["transactionResult"] == "DECLINED", done["transactionResult"]
    assert done.get("userMessage"), done
    connect.choose(GBP, "mc-contactless", presentation="insert")
    pre = sale(connect, c, method="preAuth", amount=2000)
    assert pre["transactionResult"] == "SUCCESSFUL" and pre["authCode"]
    connect.choose(GBP, "visa-chip-pin", presentation="insert")  # another card
    other = sale(connect, c, method="completion", amount=2000, authCode=pre["authCode"])
    assert other["transactionResult"] == "DECLINED", other["transactionResult"]
    if connect.reference:
        ledger = connect.server.acquirer.ledger
        assert not [e for e in ledger.entries if e.kind == "capture"], ledger.entries
        assert ledger.balance()["settled"] == 3000
    check_invariants(connect)
