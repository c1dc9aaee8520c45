"""Chip sessions: the pinpad's bridge from GCR/GOC/FNC to the EMV kernel.

``default_chip_factory()`` returns the factory the pinpad uses for inserted cards, or
None when no kernel is installed (the pinpad then answers 076, chip error allowing
fallback, as a reader with a broken contact unit would).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def default_chip_factory() -> Callable[..., Any] | None:
    return None
