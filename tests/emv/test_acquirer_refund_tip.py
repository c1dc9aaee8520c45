"""The acquirer host's standalone card-present refund and tip adjustment, and the ledger
invariants they must keep (nothing lost, nothing doubled, retries idempotent)."""

from __future__ import annotations

import random
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from virtual_devices.acquirer import AcquirerHost
from virtual_devices.emv.card import load_card
from virtual_devices.emv.kernel import AuthRequest, ContactKernel, Txn
from virtual_devices.emv.kernel.loop import PlainLoop as Loop

warnings.filterwarnings("ignore", category=DeprecationWarning)

PAN = "4761739001010010"


def card_read(amount: int = 500, pan: str = PAN) -> AuthRequest:
    """What a terminal has for a refund: the card's PAN read from the chip, no cryptogram."""
    return AuthRequest("contact", amount, 986, pan, "01", bytes.fromhex("A000000003"), {})


def online_request(amount: int = 1234) -> AuthRequest:
    card = load_card("visa-chip-pin")
    card.power_on("contact")
    from virtual_devices.acquirer import default_terminal_config

    k = ContactKernel(default_terminal_config(), Txn(amount), random.Random(amount))
    loop = Loop(card, [card.profile.pin])
    loop.run(k.select_and_read())
    loop.run(k.go_on_chip())
    return k.auth_request()


def test_standalone_refund_is_a_credit_with_its_own_key() -> None:
    host = AcquirerHost()
    entry = host.refund_to_card(card_read(700), key="r-1")
    assert entry.approved and entry.kind == "refund" and entry.parent is None
    assert entry.pan_masked == "476173******0010"
    assert host.ledger.balance() == {"settled": 0, "refunded": 700, "net": -700, "held": 0}
    assert host.refund_to_card(card_read(700), key="r-1") is entry  # a retry
    assert len(host.ledger) == 1 and host.ledger.duplicates_refused == 1
    assert host.ledger.check([{"key": "r-1", "amount": 700, "approved": True}]) == []
    assert host.ledger.check([]) == [f"{entry.ref}: approved at the host, unknown to the POS"]
    assert PAN not in " ".join(host.log)


def test_standalone_refund_is_refused_for_an_unknown_brand_or_zero() -> None:
    host = AcquirerHost()
    assert not host.refund_to_card(card_read(500, pan="9900000000000001"), key="a").approved
    assert not host.refund_to_card(card_read(0), key="b").approved
    assert host.ledger.balance()["refunded"] == 0


def test_standalone_refund_can_be_reversed_once() -> None:
    host = AcquirerHost()
    entry = host.refund_to_card(card_read(300), key="r")
    rev = host.reverse(entry.ref, key="rev")
    assert rev.approved and entry.reversed
    assert host.reverse(entry.ref, key="rev") is rev
    assert not host.reverse(entry.ref, key="rev-2").approved  # nothing left to undo
    assert host.ledger.balance()["net"] == 0 and host.ledger.problems() == []


def test_tip_adjust_raises_a_sale_in_place() -> None:
    host = AcquirerHost()
    resp = host.authorise(online_request(1000), key="sale")
    assert resp is not None and resp.approved
    tip = host.tip_adjust(resp.reference, 150, key="tip")
    assert tip.approved and tip.kind == "tip_adjust" and tip.parent == resp.reference
    assert host.tip_adjust(resp.reference, 150, key="tip") is tip  # a retry
    sale = host.ledger.get(resp.reference)
    assert sale is not None and (sale.amount, sale.tipped) == (1150, 150)
    assert host.ledger.balance()["settled"] == 1150
    # a refund may now take back the tip too, and no more
    assert host.refund(resp.reference, 1150, key="ref").approved
    assert host.ledger.balance()["net"] == 0 and host.ledger.problems() == []
    # a refunded charge takes no further tip
    assert not host.tip_adjust(resp.reference, 100, key="tip-2").approved


def test_tip_adjust_of_a_preauth_before_and_after_capture() -> None:
    host = AcquirerHost()
    pre = host.preauthorise(online_request(2000), key="pre")
    assert pre is not None and pre.approved
    assert host.tip_adjust(pre.reference, 300, key="t1").approved
    assert host.ledger.balance()["held"] == 2300
    cap = host.capture(pre.reference, 2300, key="cap")
    assert cap.approved
    assert host.tip_adjust(pre.reference, 200, key="t2").approved
    assert cap.amount == 2500
    assert host.ledger.balance() == {"settled": 2500, "refunded": 0, "net": 2500, "held": 0}
    assert host.ledger.problems() == []


def test_tip_adjust_is_refused_where_it_cannot_apply() -> None:
    host = AcquirerHost()
    assert host.tip_adjust("T999999", 100, key="x").response_code == "25"
    pre = host.preauthorise(online_request(2000), key="pre")
    assert pre is not None
    assert host.capture(pre.reference, 1500, key="cap").approved  # partial capture
    assert not host.tip_adjust(pre.reference, 100, key="t").approved
    sale = host.authorise(online_request(900), key="sale")
    assert sale is not None
    host.reverse(sale.reference, key="rev")
    assert host.tip_adjust(sale.reference, 100, key="t2").response_code == "25"
    refund = host.refund_to_card(card_read(100), key="r")
    assert not host.tip_adjust(refund.ref, 100, key="t3").approved
    assert not host.tip_adjust(host.ledger.entries[0].ref, 0, key="t4").approved
    assert host.ledger.balance()["settled"] == 1500 and host.ledger.problems() == []


OPS = st.lists(
    st.tuples(st.sampled_from(["sale", "refund", "tip", "reverse", "retry"]),
              st.integers(min_value=1, max_value=5000), st.integers(min_value=0, max_value=30)),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_ledger_net_is_what_a_model_expects(ops: list[tuple[str, int, int]]) -> None:
    """Any mix of sales, standalone refunds, tips, reversals and retried keys keeps the
    books: net = sales + tips - refunds, for live entries only, each key booked once."""
    host = AcquirerHost(cards={})
    sales: list[str] = []
    done: list[tuple[str, str, int, str | None]] = []  # (kind, key, amount, target ref)
    expected_net = 0
    for i, (kind, amount, pick) in enumerate(ops):
        key = f"k{i}"
        if kind == "sale":
            # magstripe: no cryptogram, so any amount is a fresh sale the rules approve
            req = AuthRequest("magstripe", amount, 986, PAN, "00", b"", {})
            resp = host.authorise(req, key=key)
            if resp is not None and resp.approved:
                sales.append(resp.reference)
                expected_net += amount
        elif kind == "refund":
            if host.refund_to_card(card_read(amount), key=key).approved:
                expected_net -= amount
            done.append(("refund", key, amount, None))
        elif kind == "tip" and sales:
            ref = sales[pick % len(sales)]
            if host.tip_adjust(ref, amount, key=key).approved:
                expected_net += amount
            done.append(("tip", key, amount, ref))
        elif kind == "reverse" and sales:
            ref = sales[pick % len(sales)]
            parent = host.ledger.get(ref)
            assert parent is not None
            live_before = parent.live
            if host.reverse(ref, key=f"rev-{ref}").approved and live_before:
                expected_net -= parent.amount
        elif kind == "retry" and done:
            what, old_key, old_amount, target = done[pick % len(done)]
            size = len(host.ledger)
            if what == "refund":
                host.refund_to_card(card_read(old_amount), key=old_key)
            elif target is not None:
                host.tip_adjust(target, old_amount, key=old_key)
            assert len(host.ledger) == size, "a retried key was booked again"
    assert host.ledger.balance()["net"] == expected_net
    assert host.ledger.problems() == []
