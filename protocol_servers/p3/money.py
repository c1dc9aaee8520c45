"""Amounts on the P3 wire are decimals in major units; inside they are integer minor units.

P3 writes ``"amount": 12.50`` (major units, SDK ``TransactionParameters``), so the codec
parses JSON numbers as :class:`~decimal.Decimal` and converts them here, exactly, with
the currency's exponent. Floats never appear.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from importlib import resources

_TABLE = tomllib.loads(
    resources.files(__package__).joinpath("currencies.toml").read_text(encoding="utf-8")
)
_EXPONENTS: dict[str, int] = {code: int(exp) for code, exp in _TABLE["exponent"].items()}
_NUMERIC: dict[str, int] = {code: int(num) for code, num in _TABLE["numeric"].items()}


#: Largest amount in minor units: EMV "Amount, Authorised" (tag 9F02) is n12, twelve
#: decimal digits of minor units, so no card transaction can carry more. The same bound
#: holds for every amount-like field (fee, tip), checked before anything moves.
MAX_MINOR = 10**12 - 1


class AmountError(ValueError):
    """The amount cannot be represented in the currency's minor units."""


def exponent(currency: str) -> int:
    try:
        return _EXPONENTS[currency]
    except KeyError:
        raise AmountError(f"unknown currency {currency!r}") from None


def numeric(currency: str) -> int:
    """ISO 4217 numeric code (EMV tag 5F2A and the acquirer speak numbers)."""
    try:
        return _NUMERIC[currency]
    except KeyError:
        raise AmountError(f"no numeric code for {currency!r}") from None


def to_minor(value: Decimal | int | str, currency: str) -> int:
    """``Decimal("12.50")``, EUR -> 1250; rejects fractions finer than the currency allows."""
    try:
        dec = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise AmountError(f"amount {value!r} is not a number") from None
    if not dec.is_finite():
        raise AmountError(f"amount {value!r} is not a number")
    exp = exponent(currency)
    # before any arithmetic: 1E+999999 would overflow the decimal context, and a long
    # mantissa would be rounded by it (both seen from fuzzed clients)
    if dec.adjusted() + exp > 12 or len(dec.as_tuple().digits) > 24:
        raise AmountError(f"amount {_short(value)} is above the largest amount "
                          f"({MAX_MINOR} minor units, EMV n12)")
    scaled = dec.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"amount {_short(value)} has more decimals than {currency} allows")
    minor = int(scaled)
    if abs(minor) > MAX_MINOR:
        raise AmountError(f"amount {_short(value)} is above the largest amount "
                          f"({MAX_MINOR} minor units, EMV n12)")
    return minor


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def to_major(minor: int, currency: str) -> Decimal:
    """1250, EUR -> ``Decimal("12.50")`` (always with the currency's decimals)."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def display(minor: int, currency: str) -> str:
    """POS-screen form used in the 40-column information lines: ``12,50 EUR``."""
    text = str(to_major(minor, currency))
    return f"{text.replace('.', ',')} {currency}"
