"""mpos-bridge.md §2.5 (process ``applications``), §3.3 and §4.7: what an applications
filter makes the bridge ask the pinpad for, and what the POS then gets.

§3.3: each (brand, payment method) filter takes the first stored application that
matches, except Elo debit, which takes every Elo debit application (PR #48); no filter
takes all. §4.7: GCR then names the candidates explicitly — APPTYPREQ ``00`` and the
list of IDAPP (acquirer index N2 + record index A2) — or, with no filter, asks for any
type (``99``) with an empty list. The acquirer's tables (acquirer index 08,
``virtual_devices/acquirer/tables.toml``) hold Visa credit 01 and debit 02, Mastercard
credit 03 and debit 04, Amex 05, Elo credit 06, debit 07 and prepaid 08.
"""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_all, ready
from .test_limits import _sent_to_pinpad

AMOUNT = 2590
NO_APPLICATION = 70  # ST_NOAPPLIC: no candidate application on the card (ABECS §4.7)

# (applications filter, GCR APPTYPREQ + QTDAPP + IDAPPs, accepted?)
FILTERS: list[tuple[Any, str, bool]] = [
    (None, "9900", True),
    ([{"brand": "ELO", "payment_method": 2}], "0002" "0807" "0808", True),
    ([{"brand": "elo", "payment_method": "Credit"}], "0001" "0806", False),
    ([{"brand": "visa", "payment_method": 2}, {"brand": "Elo", "payment_method": "debit"}],
     "0003" "0802" "0807" "0808", True),
    ([{"brand": "visa", "payment_method": 1}, {"brand": "VISA", "payment_method": 1}],
     "0001" "0801", False),
    ([{"brand": "mastercard", "payment_method": 2}, {"brand": "amex"}],
     "0002" "0804" "0805", False),
    ([{"brand": "hipercard", "payment_method": 1}, {"brand": "elo", "payment_method": 2}],
     "0002" "0807" "0808", True),
]


@case(
    "mpos/2.5/57",
    title="each applications filter becomes GCR's explicit candidate list (first match "
    "per brand and method, every Elo debit row, no duplicates; no filter: any type); an "
    "Elo debit card passes only the filters that name Elo debit",
    section="2.5",
    failure="the filter sends other candidates to the pinpad, or lets a card through "
    "(or stops it) against the filter",
)
def test_filters_make_the_candidate_list(mpos_target: Any) -> None:
    mpos_target.need_reference("the bridge's serial line to its pinpad is read")
    c = mpos_target.client()
    held: dict[str, Any] = {}
    answers: list[dict[str, Any]] = []

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "flt")
        for filters, _, _ in FILTERS:
            mpos_target.present("elo-debit")
            mpos_target.cardholder(presentation="insert")
            body: dict[str, Any] = {"amount": AMOUNT}
            if filters is not None:
                body["applications"] = filters
            answers.append((yield from c.request(
                {"request_type": 4, "context_id": "flt", "process": body})))
            yield from c.finish("flt", success=False, response_code=0, emv_data=None)
        held["session"] = mpos_target.lab.readers[0].pinpad.session
        yield from c.close("flt")
        yield from c.drain_unsolicited(1.0)

    mpos_target.run(script)
    check_all(c)
    gcr = [g for g in _sent_to_pinpad(mpos_target, held["session"], b"GCR") if len(g) > 3]
    assert len(gcr) == len(FILTERS), [g[:12] for g in gcr]
    for (filters, want, accepted), sent, a in zip(FILTERS, gcr, answers, strict=True):
        # GCR block: CMD_ID, CMD_LEN1 (3), ACQIDXREQ (2, 00 = all), then APPTYPREQ
        assert sent[6:8] == b"00", (filters, sent)
        body = sent[8:].decode("latin-1")
        # APPTYPREQ N2, AMOUNT N12, DATE N6, TIME N6, TABVER A10, QTDAPP N2, IDAPP A4 ...
        assert body[2:14] == f"{AMOUNT:012d}", (filters, body)
        got = body[:2] + body[36 : 38 + 4 * int(body[36:38])]
        assert got == want, (filters, body)
        p = a["process"]
        if accepted:
            assert a["response_type"] == 4 and p["status"] == 0, (filters, a)
            assert p["payment_method"] == 2, (filters, p)
            card = mpos_target.read_card_hash(p["card_hash"])
            assert card["payment_method"] == "debit_card", (filters, card)
        else:
            assert a["response_type"] == 9 and a["error"] == "Transaction Errored", (filters, a)
            assert p["status"] == 2 and p["error_code"] == NO_APPLICATION, (filters, p)
            # no card was read: nothing about one is claimed
            assert p["card_hash"] is None and p["card_holder_name"] is None, p
            assert p["payment_method"] is None and p["is_online_pin"] is False, p
