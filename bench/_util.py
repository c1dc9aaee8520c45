"""Small helpers shared by the bench scripts: a stopwatch and the final JSON line."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any


class Stopwatch:
    """Wall seconds spent in a ``with`` block (``perf_counter``, for measuring only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._t0


def report(result: dict[str, Any], targets: dict[str, float] | None = None) -> None:
    """Say which targets were missed (with the number), then print ``result`` as JSON last.

    A target key ending in ``_ratio`` is a floor; any other is a ceiling.
    """
    for key, target in (targets or {}).items():
        value = result.get(key)
        if value is None:
            continue
        ok = value >= target if key.endswith("_ratio") else value <= target
        verdict = "met" if ok else "MISSED"
        sign = ">=" if key.endswith("_ratio") else "<="
        print(f"target {key} {sign} {target}: {verdict} ({value})", flush=True)
    print(json.dumps(result, separators=(", ", ": ")), flush=True)
