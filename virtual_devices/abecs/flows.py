"""A whole sale as the reference host drives it over ABECS (mpos-bridge.md §4.11).

Kept as the short call the tests, the conformance cases and the bench use; the payment
application itself is :class:`virtual_devices.terminal.Terminal`, written once.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime
from typing import Any

from virtual_devices.abecs.host import AbecsHost
from virtual_devices.terminal.app import (
    FNC_TAGS,
    GOC_TAGS,
    SaleResult,
    Settings,
    Tables,
    Terminal,
)

Gen = Generator[Any, Any, Any]

__all__ = ["FNC_TAGS", "GOC_TAGS", "SaleResult", "ensure_tables", "sale"]


def ensure_tables(host: AbecsHost, version: str, records: Sequence[bytes]) -> Gen:
    """GTS, and TLI/TLR/TLE when the pinpad's version differs."""
    term = Terminal(host.world, host)
    return (yield from term.ensure_tables(Tables(version, tuple(records))))


def sale(
    host: AbecsHost,
    acquirer: Any,
    amount: int,
    version: str,
    records: Sequence[bytes],
    when: datetime = datetime(2026, 11, 25, 12, 0, 0),
    app_type: int = 99,
    magstripe_pin: bool = True,
    check_tables: bool = True,
    floor_limit: int | None = None,
) -> Gen:
    """GTS → GCR → GOC → acquirer → FNC → RMC (or GPN → acquirer for a stripe)."""
    term = Terminal(host.world, host, acquirer, Settings(floor_limit=floor_limit))
    return (yield from term.sale(amount, Tables(version, tuple(records)), when, app_type,
                                 stripe_pin=magstripe_pin, check_tables=check_tables))
