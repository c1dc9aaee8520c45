"""The back-end, device and POS faults of the catalogue, acted out for real.

Each runs a P3 charge on an ABECS reader (virtual pinpad, virtual EMV card, the shared
acquirer host) or an mpos-bridge context, with the fault in place, and checks the entry's
expected outcome and the ledger invariant: the acquirer's books equal what the POS was
finally told, with no charge left unreversed.
"""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any

import pytest

from conformance.faults import host_fault, load_catalogue
from conformance.invariants import ledger_balanced
from protocol_servers.p3.client import P3Client, connect_local
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.server import PayServer
from simulator.world import World

warnings.filterwarnings("ignore", message=".*TripleDES.*")
pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
CAT = load_catalogue()
RESOURCE = "devices/counter"


def _server(seed: int = 5, cards: tuple[str, ...] = ("visa-online-pin",) * 3) -> PayServer:
    world = World(seed=seed)
    cfg = ServerConfig(devices=(DeviceConfig("counter", "Counter", "MIURA", "USB",
                                             cards=cards),))
    return PayServer(world, cfg)


def _run(server: PayServer, script: Any) -> Any:
    proc = server.world.process(script())
    server.world.run(until=proc)
    return proc.value


def _told(*finals: dict[str, Any] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for final in finals:
        if not final or final.get("status") != "OK":
            continue
        tx = final["executeTransactionResponse"]["transaction"]
        if tx["status"] == "APPROVED":
            out[tx["identifier"]] = int(Decimal(str(tx["amount"])) * 100)
    return out


def _books_match(server: PayServer, told: dict[str, int]) -> None:
    ledger_balanced(server.bookings(), told)
    assert server.ledger_problems() == []
    for entry in server.acquirer.ledger.entries:  # no approved charge left unreversed...
        if entry.kind == "sale" and entry.approved and not entry.reversed:
            assert any(amount for _, amount in server.bookings()), entry  # ...unless told


def _charge(server: PayServer, c: P3Client) -> Any:
    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute(RESOURCE, amount="12.00"), timeout=3600))

    return _run(server, script)


def _status(final: dict[str, Any]) -> str:
    return str(final["executeTransactionResponse"]["transaction"]["status"])


@pytest.mark.parametrize("fault_id", [s.id for s in CAT.layer("backend")])
def test_backend_fault(fault_id: str) -> None:
    spec = CAT[fault_id]
    server = _server()
    server.host_fault = host_fault(spec)
    c = connect_local(server, "ws")
    final = _charge(server, c)
    assert final is not None and final["status"] == "OK"
    if spec.expect == "completes":
        assert _status(final) == "APPROVED", final
    else:
        assert _status(final) in ("ERROR", "DECLINED", "ABORTED"), final
    server.world.run(until=server.world.now + 60)  # whatever the line still delivers
    text = server.world.transcript.jsonl()
    if spec.action in ("silent", "late"):
        assert "timeout reversal" in text
        assert [e.kind for e in server.acquirer.ledger.entries] == ["sale", "reversal"]
    if spec.action == "down":
        assert list(server.acquirer.ledger.entries) == []
    if spec.action in ("twice", "late"):
        assert "was ignored" in text
    _books_match(server, _told(final))
    # and the reader serves the next customer normally once the line is healthy
    from virtual_devices.acquirer.link import HostFault

    server.host_fault = HostFault()
    again = _charge(server, c)
    assert _status(again) == "APPROVED"
    _books_match(server, _told(final, again))


@pytest.mark.parametrize("fault_id", [s.id for s in CAT.layer("device")])
def test_device_fault(fault_id: str) -> None:
    from conformance.faults import device_back_seconds, put_device_fault

    spec = CAT[fault_id]
    server = _server()
    fault = put_device_fault(server.world, spec)
    c = connect_local(server, "ws")
    final = _charge(server, c)
    assert fault.fired, "the pinpad never lost power"
    assert final is not None and final["status"] == "OK"
    assert _status(final) in ("ERROR", "DECLINED", "ABORTED"), final
    assert f"fault: {spec.id}" in server.world.transcript.jsonl()
    _books_match(server, _told(final))
    no_charge_left = [e for e in server.acquirer.ledger.entries
                      if e.kind == "sale" and e.approved and not e.reversed]
    assert no_charge_left == []
    # once the pinpad is back, the server opens it again and serves the next customer
    server.world.run(until=server.world.now + device_back_seconds(spec))
    again = _charge(server, c)
    assert _status(again) == "APPROVED", again
    _books_match(server, _told(final, again))


def test_pos_retry_unanswered_moves_money_once() -> None:
    assert CAT["pos.retry_unanswered"].expect == "error"
    server = _server()
    c = connect_local(server, "ws")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        first = c.execute(RESOURCE, amount="12.00")
        yield server.world.timeout(1.0)  # nothing heard yet: the POS tries again
        retry = c.execute(RESOURCE, amount="12.00")
        refused = yield from c.response(retry)
        final = yield from c.final(first, timeout=3600)
        return refused, final

    refused, final = _run(server, script)
    assert refused["status"] == "ERROR" and refused["error"]["type"] == "ACCESSORY_BUSY"
    assert _status(final) == "APPROVED"
    assert [e.kind for e in server.acquirer.ledger.entries] == ["sale"]
    _books_match(server, _told(final))


def test_pos_connection_lost_reverses_the_charge() -> None:
    assert CAT["pos.connection_lost"].expect == "reconnect"
    server = _server()
    c = connect_local(server, "ws")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        c.execute(RESOURCE, amount="12.00")
        yield server.world.timeout(8.0)  # mid-sale
        c.end.close()
        yield server.world.timeout(600.0)

    _run(server, script)
    _books_match(server, {})  # the POS was told nothing: nothing may stay booked
    again = _charge(server, connect_local(server, "ws", "pos2"))
    assert _status(again) == "APPROVED"
    _books_match(server, _told(again))


def test_pos_concurrent_charges_on_one_reader() -> None:
    assert CAT["pos.concurrent_charges"].expect == "error"
    server = _server()
    a, b = connect_local(server, "ws", "a"), connect_local(server, "tcp", "b")

    def script():  # type: ignore[no-untyped-def]
        yield from a.login()
        yield from b.login()
        ta, tb = a.execute(RESOURCE, amount="12.00"), b.execute(RESOURCE, amount="13.00")
        rb = yield from b.response(tb)
        ra = yield from a.final(ta, timeout=3600)
        return ra, rb

    ra, rb = _run(server, script)
    assert rb["status"] == "ERROR" and rb["error"]["type"] == "ACCESSORY_BUSY"
    _books_match(server, _told(ra))


def test_pos_abort_during_authorisation_is_refused() -> None:
    assert CAT["pos.abort_during_authorisation"].expect == "error"
    server = _server()
    c = connect_local(server, "ws")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.00")
        yield from c.wait_for(lambda m: m.get("tag") == tag and "AUTHORIZATION" in str(m)
                              .upper() or "PROCESSOR_APPROVAL" in str(m), timeout=3600)
        abort = c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
        refused = yield from c.response(abort)
        final = yield from c.final(tag, timeout=3600)
        return refused, final

    refused, final = _run(server, script)
    assert refused["status"] == "ERROR"
    assert _status(final) == "APPROVED"
    _books_match(server, _told(final))


def test_pos_faults_of_the_bridge_are_acted_out_by_its_tests() -> None:
    # the mpos-bridge POS faults live with the bridge's own tests, which act them out:
    # tests/mpos/test_robust.py (pipeline, unknown context, idle, hostile text)
    import tests.mpos.test_robust as bridge

    b = bridge
    for fault_id, test in {
        "pos.close_without_waiting":
            b.test_init_process_close_sent_without_waiting_are_all_answered_and_free_the_reader,
        "pos.unknown_context": b.test_contexts_named_once_by_stateless_requests_are_not_kept,
        "pos.idle_forever": b.test_idle_contexts_expire_and_free_their_reader,
        "pos.hostile_text":
            b.test_deep_nesting_surrogates_and_huge_numbers_get_the_generic_error,
    }.items():
        assert fault_id in CAT
        test()
