"""Named delays, each with the source of its number, loaded from data files.

Every delay a device or server waits is a named entry in a TOML file next to the
code that uses it::

    [ack_wait]
    seconds = 2.0
    source = "ABECS 2.12 §2.2.2 (mpos-bridge.md §4.2): host waits 2 s for ACK/NAK"

``load_timings`` returns a :class:`Timings` mapping; a scenario may override any
entry by name without touching the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float
    source: str


class Timings(Mapping[str, float]):
    """Seconds by name; ``.source(name)`` tells where a number comes from."""

    def __init__(self, entries: dict[str, Timing]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> float:
        return self._entries[name].seconds

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getattr__(self, name: str) -> float:
        try:
            return self._entries[name].seconds
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        return self._entries[name].source

    def override(self, **seconds: float) -> Timings:
        entries = dict(self._entries)
        for name, value in seconds.items():
            if name not in entries:
                raise KeyError(f"unknown timing {name!r}")
            entries[name] = Timing(name, float(value), "scenario override")
        return Timings(entries)


def parse_timings(text: str) -> Timings:
    raw = tomllib.loads(text)
    entries: dict[str, Timing] = {}
    for name, body in raw.items():
        if not isinstance(body, dict) or "seconds" not in body or "source" not in body:
            raise ValueError(f"timing {name!r} needs 'seconds' and 'source'")
        entries[name] = Timing(name, float(body["seconds"]), str(body["source"]))
    return Timings(entries)


@cache
def load_timings(package: str, filename: str = "timings.toml") -> Timings:
    """Load ``filename`` from ``package`` (e.g. ``virtual_devices.abecs``).

    Read once per process: the files ship with the package, :class:`Timings` cannot be
    changed in place (``override`` makes a new one), and parsing TOML for every device
    a simulated sale builds was a tenth of the sale's wall time.
    """
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_timings(text)
