"""The merchant API: the card_hash goes to the acquirer; errors in Pagar.me's shape."""

from __future__ import annotations

import asyncio
from typing import Any

from protocol_servers.merchant_api import MerchantBackend, handle_http, serve_merchant_http
from protocol_servers.mpos.card_hash import CardFields, build_card_hash
from protocol_servers.mpos.pos import http_json
from simulator.world import World

STRIPE = CardFields(capture_method="magstripe", payment_method="credit_card",
                    card_number="4761739001010119", expiration_yymmdd="311231",
                    sequence_number=None, track_2="4761739001010119=31121010000000000")


def _backend() -> tuple[World, MerchantBackend, str]:
    w = World(seed=1)
    b = MerchantBackend(w)
    key_id, key = b.card_hash_key()
    return w, b, build_card_hash(STRIPE, key_id, key, w.rng("t"))


def test_transaction_is_booked_and_answered_in_pagarme_shape() -> None:
    _, b, card_hash = _backend()
    status, body = handle_http(b, "POST", "/1/transactions", {"amount": 1500,
                                                              "card_hash": card_hash})
    assert status == 200 and isinstance(body, dict)
    assert body["status"] == "authorized" and body["acquirer_response_code"] == "0000"
    assert body["card"] == {"first_digits": "476173", "last_digits": "0119",
                            "holder_name": None}
    assert b.host.ledger.balance()["settled"] == 1500
    status, again = handle_http(b, "GET", f"/1/transactions/{body['id']}", {})
    assert status == 200 and again == body


def test_decline_rule_and_no_answer_rule() -> None:
    _, b, card_hash = _backend()
    status, body = handle_http(b, "POST", "/1/transactions", {"amount": 5100,
                                                              "card_hash": card_hash})
    assert status == 200 and body["status"] == "refused"  # type: ignore[call-overload]
    assert body["acquirer_response_code"] == "0051"  # type: ignore[call-overload]
    status, body = handle_http(b, "POST", "/1/transactions", {"amount": 4567,
                                                              "card_hash": card_hash})
    assert status == 504
    assert b.host.ledger.balance()["settled"] == 0


def test_bad_requests() -> None:
    _, b, card_hash = _backend()
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/1/transactions", {"amount": 100, "card_hash": "x_" + card_hash[20:]}, 400),
        ("POST", "/1/transactions", {"amount": "ten", "card_hash": card_hash}, 400),
        ("POST", "/1/transactions", {"amount": 100}, 400),
        ("POST", "/1/transactions", {"amount": -5, "card_hash": card_hash}, 400),
        ("GET", "/1/transactions/99", {}, 404),
        ("GET", "/nowhere", {}, 404),
    ]
    for method, path, fields, expected in cases:
        status, body = handle_http(b, method, path, fields)
        assert status == expected, (path, fields, body)
        assert body["errors"][0]["message"]  # type: ignore[call-overload]
    assert len(b.ledger) == 0


def test_over_local_http() -> None:
    w, b, card_hash = _backend()

    async def run() -> tuple[Any, Any]:
        server = await serve_merchant_http(b)
        url = server.url
        try:
            key = await http_json(url + "/1/transactions/card_hash_key")
            txn = await http_json(url + "/1/transactions", "POST",
                                  {"amount": 700, "card_hash": card_hash})
        finally:
            await server.close()
        return key, txn

    key, txn = asyncio.run(run())
    assert key[0] == 200 and key[1]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert txn[0] == 200 and txn[1]["status"] == "authorized"


def test_a_silent_acquirer_behind_the_api_is_timed_out_and_reversed() -> None:
    from virtual_devices.acquirer.link import TIMINGS, HostFault, set_line_fault

    w, b, card_hash = _backend()
    set_line_fault(w, HostFault("silent"))
    status, body = handle_http(b, "POST", "/1/transactions", {"amount": 700,
                                                              "card_hash": card_hash})
    assert status == 504, body
    assert w.now >= TIMINGS["host_response_timeout"]  # it waited the host timeout...
    assert [e.kind for e in b.host.ledger.entries] == ["sale", "reversal"]  # ...and reversed
    assert b.ledger == []  # the merchant was told nothing was authorized
    set_line_fault(w, HostFault("slow", TIMINGS["fault_slow_delay"]))
    status, body = handle_http(b, "POST", "/1/transactions", {"amount": 700,
                                                              "card_hash": card_hash})
    assert status == 200 and body["status"] == "authorized", body


def test_over_local_http_the_line_to_the_acquirer_takes_world_time() -> None:
    from virtual_devices.acquirer.link import HostFault, set_line_fault

    w = World(seed=1, mode="realtime", factor=0.005)
    b = MerchantBackend(w)
    key_id, key = b.card_hash_key()
    card_hash = build_card_hash(STRIPE, key_id, key, w.rng("t"))
    set_line_fault(w, HostFault("down"))

    async def run() -> tuple[Any, Any]:
        driver = asyncio.get_running_loop().create_task(w.run_realtime())
        server = await serve_merchant_http(b)
        try:
            down = await http_json(server.url + "/1/transactions", "POST",
                                   {"amount": 700, "card_hash": card_hash})
            set_line_fault(w, None)
            healthy = await http_json(server.url + "/1/transactions", "POST",
                                      {"amount": 700, "card_hash": card_hash})
        finally:
            await server.close()
            driver.cancel()
        return down, healthy

    down, healthy = asyncio.run(run())
    assert down[0] == 504 and "did not answer" in down[1]["errors"][0]["message"]
    assert healthy[0] == 200 and healthy[1]["status"] == "authorized"
    assert [e.kind for e in b.host.ledger.entries] == ["sale"]  # the down line booked nothing
