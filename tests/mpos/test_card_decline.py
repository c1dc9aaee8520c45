"""A card that declines at FNC after the host approved (mpos-bridge.md §2.5, §7 item 4).

finish answers 5 in every profile, as the document says (DECISIONS.md): real POS pages
send placeholder ``emv_data`` and expect 5. With the ``+card-decline-report`` switch on,
finish tells the POS instead and the POS reverses the sale on the merchant API, so the
acquirer holds nothing for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from protocol_servers.merchant_api import MerchantBackend, handle_http, serve_merchant_http
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.codec import CARD_DECLINED
from protocol_servers.mpos.lab import build_lab
from protocol_servers.mpos.pos import http_json
from protocol_servers.mpos.profiles import BIFROST_0_0_19, DOCUMENTED, Profile, parse_profile
from simulator.world import World

DECLINES = "visa-card-decline-2nd-gac"
AMOUNT = 4200


REPORTING = parse_profile("documented+card-decline-report")


def _sale(card: str, profile: Profile, seed: int = 3, emv_data: str | None = None
          ) -> tuple[World, Any, dict[str, Any]]:
    """A POS that finishes with the merchant's answer and reverses what the card refused."""
    w = World(seed=seed)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, card)], profile=profile)
    c = MposClient(w, lab.connect())
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", AMOUNT)
        out["process"] = p
        txn = lab.backend.create_transaction(p["process"]["card_hash"], AMOUNT)
        out["txn"] = txn
        code = txn.acquirer_response_code
        fin = yield from c.finish(
            "s", success=True, response_code=int(code),
            emv_data=txn.card_emv_response if emv_data is None else emv_data,
        )
        out["finish"] = fin
        if fin["response_type"] == 9 and fin["error"] == CARD_DECLINED:
            out["reversal"] = lab.backend.reverse_transaction(txn.id).as_json()
        out["close"] = yield from c.close("s")
        yield from c.drain_unsolicited(1.0)

    w.run(until=w.process(flow()))
    out["unsolicited"] = c.unsolicited
    return w, lab, out


def test_with_the_switch_on_finish_says_the_card_declined_and_nothing_stays_booked() -> None:
    w, lab, out = _sale(DECLINES, REPORTING)
    assert out["process"]["response_type"] == 4
    assert out["txn"].status == "reversed"  # was authorized by the host, then undone
    fin = out["finish"]
    assert fin["response_type"] == 9 and fin["error"] == "Transaction declined by card"
    assert fin["context_id"] == "s"  # tied to the sale's context, unlike an Error frame
    assert out["unsolicited"] == []  # FNC itself answered 000: no pinpad error to report
    assert ("FNC", 0) in lab.readers[0].pinpad.handled
    assert out["close"]["response_type"] == 8
    ledger = lab.backend.host.ledger
    assert ledger.balance()["settled"] == 0
    assert [e.kind for e in ledger.entries] == ["sale", "reversal"]
    assert ledger.check([{"ref": out["txn"].reference, "approved": False}]) == []
    assert card_from_name(w, DECLINES).pan not in w.transcript.jsonl()


@pytest.mark.parametrize("profile", [DOCUMENTED, BIFROST_0_0_19], ids=lambda p: p.name)
def test_by_default_finish_answers_finished_and_the_sale_stays_booked(profile: Profile) -> None:
    _, lab, out = _sale(DECLINES, profile)
    assert out["finish"]["response_type"] == 5 and out["finish"]["error"] is None
    assert "reversal" not in out
    assert lab.backend.host.ledger.balance()["settled"] == AMOUNT


# the README's finish example, as Pagar.me's own example page sends it (not hex)
PLACEHOLDER_EMV = "<emv_data da API>"


@pytest.mark.parametrize("profile", [DOCUMENTED, BIFROST_0_0_19], ids=lambda p: p.name)
def test_placeholder_emv_data_gets_finished_in_every_default_profile(profile: Profile) -> None:
    """The card sees no issuer data and declines at FNC; finish still answers 5."""
    w, lab, out = _sale("visa-chip-pin", profile, emv_data=PLACEHOLDER_EMV)
    assert out["process"]["response_type"] == 4
    assert out["finish"]["response_type"] == 5 and out["finish"]["error"] is None, out["finish"]
    assert ("FNC", 0) in lab.readers[0].pinpad.handled
    assert out["close"]["response_type"] == 8


def test_a_card_that_approves_at_fnc_is_finished_as_before() -> None:
    _, lab, out = _sale("visa-chip-pin", DOCUMENTED)
    assert out["finish"]["response_type"] == 5 and out["finish"]["error"] is None
    assert out["txn"].status == "authorized"
    assert lab.backend.host.ledger.balance()["settled"] == AMOUNT


def test_a_host_decline_is_not_reported_as_a_card_decline() -> None:
    """The card answers AAC when the host refused: that is what it was told, not news."""
    _, lab, out = _sale("mc-issuer-decline", DOCUMENTED)
    assert out["txn"].status == "refused"
    assert out["finish"]["response_type"] == 5, out["finish"]
    assert lab.backend.host.ledger.balance()["settled"] == 0


def _booked(seed: int = 1) -> tuple[MerchantBackend, int]:
    w, lab, out = _sale("visa-chip-pin", DOCUMENTED, seed)
    return lab.backend, out["txn"].id


def test_reversal_endpoint_undoes_an_authorized_sale_once() -> None:
    b, txn_id = _booked()
    status, body = handle_http(b, "POST", f"/1/transactions/{txn_id}/reversal", {})
    assert status == 200 and body["status"] == "reversed"  # type: ignore[call-overload]
    assert body["reversed_amount"] == AMOUNT  # type: ignore[call-overload]
    assert b.host.ledger.balance()["settled"] == 0
    again = handle_http(b, "POST", f"/1/transactions/{txn_id}/reversal", {})
    assert again == (200, body)  # a retried reversal is answered, not repeated
    assert [e.kind for e in b.host.ledger.entries].count("reversal") == 1


def test_reversal_endpoint_refuses_what_it_cannot_reverse() -> None:
    _, lab, out = _sale("mc-issuer-decline", DOCUMENTED)
    b = lab.backend
    for path, expected in (
        (f"/1/transactions/{out['txn'].id}/reversal", 400),  # refused: nothing booked
        ("/1/transactions/99/reversal", 404),
        ("/1/transactions/abc/reversal", 404),
    ):
        status, body = handle_http(b, "POST", path, {})
        assert status == expected, (path, body)
        assert body["errors"][0]["message"]  # type: ignore[call-overload]
    assert [e.kind for e in b.host.ledger.entries] == ["sale"]


def test_reversal_over_local_http() -> None:
    b, txn_id = _booked()

    async def run() -> tuple[int, Any]:
        server = await serve_merchant_http(b)
        url = server.url
        try:
            return await http_json(f"{url}/1/transactions/{txn_id}/reversal", "POST", {})
        finally:
            await server.close()

    status, body = asyncio.run(run())
    assert status == 200 and body["status"] == "reversed"
    assert b.host.ledger.balance()["settled"] == 0
