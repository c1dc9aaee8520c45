"""Settings frame, tax and tip arithmetic, and the gateway simulators as acquirer rules."""

from __future__ import annotations

import pytest

from protocol_servers.gochip.frames import Amount, FieldError
from protocol_servers.gochip.settings import Gateway, Settings, percent_of


def test_percent_rounds_half_up() -> None:
    assert percent_of(1000, "8.25") == 83  # 82.5 -> 83
    assert percent_of(333, "15") == 50  # 49.95 -> 50
    assert percent_of(100, "1.5") == 2  # 1.5 -> 2


def test_calculation() -> None:
    s = Settings.load()
    got = s.calculate(10000, "TIP-15", ["TAX-1", "TAX-2"], None)["calculatedAmount"]
    assert got["taxAmount"] == Amount(825 + 150)
    assert got["tipAmount"] == Amount(1500)
    assert got["totalAmount"] == Amount(10000 + 975 + 1500)
    fixed = s.calculate(1000, "TIP-2USD", [], None)["calculatedAmount"]
    assert fixed["tipAmount"] == Amount(200)
    custom = s.calculate(1000, "TIP-15", [], 333)["calculatedAmount"]
    assert custom["tipAmount"] == Amount(333)


def test_unknown_tax_or_tip() -> None:
    s = Settings.load()
    with pytest.raises(FieldError):
        s.calculate(100, None, ["NOPE"], None)
    with pytest.raises(FieldError):
        s.calculate(100, "NOPE", [], None)


@pytest.mark.parametrize(("gateway", "amount", "pan_brand", "action"), [
    ("first-data", 4567, "visa", "no-response"), ("first-data", 9999, "visa", "approve"),
    ("first-data", 10123, "visa", "decline"), ("tsys", 1201, "visa", "decline"),
    ("tsys", 1000, "amex", "no-response"), ("tsys", 1000, "visa", "approve"),
])
def test_gateway_rules(gateway: str, amount: int, pan_brand: str, action: str) -> None:
    from virtual_devices.emv.catalogue import catalogue

    pan = next(p.pan for p in catalogue().values() if p.brand == pan_brand)
    rules = Gateway.load(gateway).acquirer().rules
    assert rules.decide(amount, pan).action == action


def test_unknown_gateway() -> None:
    with pytest.raises(ValueError):
        Gateway.load("paypal")
