"""The transcript: every byte and message that crosses a port, in order.

Entries are JSON Lines with simulated time, wall time (realtime mode only, so that a
virtual run is identical byte for byte for the same seed), port, direction, the
payload as hex, and a decoded label. Everything passes the world's redactor before
it is stored, so card numbers never reach a transcript in clear.

A file-backed transcript streams: each entry is written and flushed as one line the
moment it is recorded, so a process killed with ``kill -9`` leaves a file that ends at
most one line short. A long-running server keeps only a bounded tail in memory
(``keep=N``), so memory does not grow with traffic. Text a peer sent may hold code
points UTF-8 cannot carry (lone surrogates); they are stored as their escape text.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.masking import Redactor
from simulator.textsafe import escape_surrogates, utf8

if TYPE_CHECKING:
    from simulator.world import World

_DEFAULT_REDACTOR = Redactor()


def grouped_hex(hexed: str, width: int = 8) -> str:
    """Hex in groups of four bytes, as dump tools print it.

    Easier to read, and a long run of hex digits (the hex of ASCII text is all digits)
    can no longer pass for a card number in a file scan. ``bytes.fromhex`` reads it
    back as it is; masked nibbles stay ``*``.
    """
    if len(hexed) <= width:
        return hexed
    return " ".join(hexed[i : i + width] for i in range(0, len(hexed), width))


@dataclass(frozen=True)
class Entry:
    seq: int
    sim: float
    wall: float | None
    port: str
    direction: str  # "tx", "rx" or "event"
    hex: str
    label: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "sim": round(self.sim, 9),
                "wall": None if self.wall is None else round(self.wall, 6),
                "port": self.port,
                "dir": self.direction,
                "hex": grouped_hex(self.hex),
                "label": self.label,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )


class Transcript:
    """An in-memory, optionally file-backed, masked record of a run.

    ``keep``: True keeps every entry in memory (tests and reports read them back),
    False keeps none, an integer keeps that many of the latest. The file, when given,
    always receives every entry, flushed line by line.
    """

    def __init__(self, path: str | Path | None = None, keep: bool | int = True,
                 max_payload: int | None = None) -> None:
        self.entries: list[Entry] | deque[Entry]
        if keep is True or keep is False:
            self.entries = []
        else:
            self.entries = deque(maxlen=max(0, int(keep)))
        self._keep = keep is not False
        # a server's transcript need not hold a whole oversize frame: the first
        # ``max_payload`` bytes and the count of the rest say what happened
        self.max_payload = max_payload
        self.path = Path(path) if path is not None else None
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        self._world: World | None = None
        self._seq = 0
        # called with each entry as it is written (masked): the live console reads here
        self.listeners: list[Callable[[Entry], None]] = []

    def bind(self, world: World) -> None:
        self._world = world

    def record(
        self,
        port: str,
        direction: str,
        data: bytes | str | None = None,
        label: str = "",
    ) -> Entry:
        world = self._world
        redactor = world.redactor if world is not None else None
        if isinstance(data, str):
            raw = utf8(data)
        else:
            raw = bytes(data or b"")
        if redactor is None:
            redactor = _DEFAULT_REDACTOR
        if self.max_payload is not None and len(raw) > self.max_payload:
            label = f"{label} [{len(raw) - self.max_payload} more bytes not kept]"
            raw = raw[: self.max_payload]
        hexed = redactor.hex(raw)
        label = redactor.text(escape_surrogates(label))
        sim = world.now if world is not None else 0.0
        wall = time.time() if world is not None and world.mode == "realtime" else None
        entry = Entry(self._seq, sim, wall, port, direction, hexed, label)
        self._seq += 1
        if self._keep:
            self.entries.append(entry)
        if self._file is not None:
            self._file.write(entry.to_json() + "\n")
            self._file.flush()
        for listener in self.listeners:
            listener(entry)
        return entry

    def event(self, port: str, label: str) -> Entry:
        """A non-byte happening worth seeing in order (a fault fired, a card inserted)."""
        return self.record(port, "event", None, label)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def jsonl(self) -> str:
        return "".join(e.to_json() + "\n" for e in self.entries)

    def dump(self, path: str | Path) -> Path:
        p = Path(path)
        if self.path is not None and self._file is not None and p.resolve() == self.path.resolve():
            self._file.flush()  # already streamed there line by line
            return p
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.jsonl(), encoding="utf-8")
        return p

    def select(self, port: str | None = None, direction: str | None = None) -> list[Entry]:
        return [
            e
            for e in self.entries
            if (port is None or e.port == port) and (direction is None or e.direction == direction)
        ]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def as_dicts(self) -> list[dict[str, Any]]:
        """Entries as the JSON Lines file holds them (hex grouped in four-byte words)."""
        return [json.loads(e.to_json()) for e in self.entries]
