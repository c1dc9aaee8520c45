"""Catalogue faults on the P3 transports and on the reader's serial line (payworks-p3.md §2,
§10): whatever the fault, the house invariants stand and the POS gets its final answer."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.faults import load_catalogue

from .steps import check_invariants, login, tx_of

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

# (transport, catalogue id): slicing only on TCP, a WebSocket keeps message boundaries
TRANSPORT_FAULTS = [
    ("ws", "transport.latency"), ("tcp", "transport.latency"),
    ("tcp", "transport.slicing"),
    ("ws", "transport.stall"), ("tcp", "transport.stall"),
]
SERIAL_FAULTS = ["serial.noise", "serial.overrun", "serial.duplicated_bytes"]


def _install(p3: Any, fault_id: str, ports: list[str], direction: str | None = None) -> None:
    spec = load_catalogue()[fault_id]
    for port in ports:
        p3.world.faults.add(spec.to_fault(port, direction))


@pytest.mark.parametrize("transport, fault_id", TRANSPORT_FAULTS)
@case("p3/2.2/7", title="latency, sliced segments and stalls on the POS link change nothing "
      "but timing", section="2.2", failure="a transport fault loses or doubles an answer")
def test_transport_faults(p3: Any, transport: str, fault_id: str) -> None:
    _install(p3, fault_id, ["pos", "payserver*"] if p3.reference else ["pos"])
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="40.00")
        return (yield from c.final(tag))

    assert tx_of(p3.run(script))["status"] == "APPROVED"
    check_invariants(p3)


@pytest.mark.parametrize("fault_id", SERIAL_FAULTS)
@case("p3/8.3/1", title="noise, overruns and duplicates on the reader's serial line: the "
      "charge completes once", section="8.3",
      failure="a serial-line fault the ABECS link recovers from breaks the charge")
def test_serial_faults(p3: Any, transport: str, fault_id: str) -> None:
    if not p3.reference or p3.world.mode != "virtual":
        pytest.skip("the reader's serial line is inside the reference server")
    # one fault source: what the host sends to the pinpad (noise on both directions at
    # once is a double fault the ABECS link does not promise to survive)
    _install(p3, fault_id, ["counterReader.host"], "tx")
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        return (yield from c.final(c.execute("devices/counterReader", amount="12.00"),
                                   timeout=600))

    t = tx_of(p3.run(script))
    assert t["status"] == "APPROVED"
    assert p3.server.acquirer.ledger.entries[0].meta["cryptogram_ok"] is True
    check_invariants(p3)


@case("p3/10/2", title="the POS link reset after the first message: the server serves a new "
      "connection and keeps its books", section="10",
      failure="a reset connection leaves the device busy or money booked")
def test_transport_reset(p3: Any, transport: str) -> None:
    _install(p3, "transport.reset", ["pos-reset"])
    c = p3.client("pos-reset")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        c.execute(p3.resource, amount="5.00")
        yield p3.world.timeout(30)

    p3.run(script)
    fresh = p3.client("pos-after")

    def again():  # type: ignore[no-untyped-def]
        yield from login(fresh, p3)
        return (yield from fresh.final(fresh.execute(p3.resource, amount="5.00")))

    assert tx_of(p3.run(again))["status"] == "APPROVED"
    check_invariants(p3)


@case("p3/8.3/2", title="a dead reader link fails the charge with nothing booked, and the "
      "reader serves the next charge", section="8.3",
      failure="a link failure books money, hangs, or leaves the reader unusable")
def test_reader_link_failure_recovers(p3: Any, transport: str) -> None:
    if not p3.reference or p3.world.mode != "virtual":
        pytest.skip("the reader's serial line is inside the reference server")
    # noise on the first packet each way: the NAK itself is corrupted, the link gives up
    _install(p3, "serial.noise", ["counterReader.host", "counterReader.pinpad"])
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        first = yield from c.final(c.execute("devices/counterReader", amount="12.00"))
        second = yield from c.final(c.execute("devices/counterReader", amount="12.00"))
        return first, second

    first, second = p3.run(script)
    t = tx_of(first)
    assert t["status"] == "ERROR" and t["statusDetails"]["code"] == "ERROR_TERMINAL_ERROR"
    assert "merchantReceipt" not in t
    assert tx_of(second)["status"] == "APPROVED"
    check_invariants(p3)
