"""P3 on an ABECS reader with an online-PIN card: GOC's DUKPT PIN block goes with the
authorisation and the acquirer checks it against the PIN the issuer holds; a PIN the
issuer does not hold is declined 55 (DECLINED_PROCESSOR) and nothing stays booked."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from protocol_servers.p3.client import connect_local
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.server import PayServer
from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, CardRecord
from virtual_devices.emv.catalogue import catalogue

warnings.filterwarnings("ignore", message=".*TripleDES.*")
pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
CARD = "visa-online-pin"


def charge(issuer_pin: str | None) -> tuple[dict[str, Any], AcquirerHost]:
    """A 12.00 charge; ``issuer_pin`` replaces the PIN the issuer holds for the card
    (the cardholder still types the catalogue card's own PIN)."""
    acquirer = AcquirerHost()
    profile = catalogue()[CARD]
    if issuer_pin is not None:
        acquirer.cards[profile.pan] = CardRecord(profile.pan, issuer_pin, None)
    world = World(seed=9)
    cfg = ServerConfig(devices=(DeviceConfig("counter", "Counter", "MIURA", "USB",
                                             cards=(CARD,)),))
    server = PayServer(world, cfg, acquirer=acquirer)
    c = connect_local(server, "ws")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute("devices/counter", amount="12.00")))

    proc = world.process(script())
    world.run(until=proc)
    msg: dict[str, Any] = proc.value or {}
    return msg["executeTransactionResponse"]["transaction"], acquirer


def test_online_pin_the_issuer_holds_is_approved() -> None:
    t, acquirer = charge(None)
    assert t["status"] == "APPROVED" and t["paymentDetails"]["customerVerification"] == "PIN"
    assert [e.response_code for e in acquirer.ledger.entries] == ["00"]


def test_online_pin_the_issuer_does_not_hold_is_declined_55() -> None:
    t, acquirer = charge("0000")
    assert (t["status"], t["statusDetails"]["code"]) == ("DECLINED", "DECLINED_PROCESSOR")
    assert [e.response_code for e in acquirer.ledger.entries] == ["55"]
    assert acquirer.ledger.balance()["settled"] == 0
