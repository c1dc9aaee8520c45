"""The transcript: every byte and message that crosses a port, in order.

Entries are JSON Lines with simulated time, wall time (realtime mode only, so that a
virtual run is identical byte for byte for the same seed), port, direction, the
payload as hex, and a decoded label. Everything passes the world's redactor before
it is written or read, so card numbers never reach a transcript in clear. An in-memory
transcript that nobody watches masks and labels an entry when it is first read, with
the secrets the redactor knew when it was recorded: the same text, paid for only by
the entries someone reads.

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


Label = str | Callable[[], str]
_Lazy = tuple[bytes, Label, Redactor, int, int, "_Renderer"]


class Entry:
    """One transcript line: ``hex`` and ``label`` are masked, as the file holds them.

    An entry of an in-memory transcript may be recorded before anyone reads it, with
    the raw bytes, the label's source and how many secrets the redactor knew then; its
    masked hex and label are made when first read, with exactly those secrets (see
    :class:`_Renderer`), and the raw bytes are dropped. Nothing unmasked is ever handed
    out: ``hex`` and ``label`` are the only views of the payload.
    """

    __slots__ = ("seq", "sim", "wall", "port", "direction", "_hex", "_label", "_lazy")

    def __init__(self, seq: int, sim: float, wall: float | None, port: str, direction: str,
                 hex: str, label: str) -> None:  # noqa: A002 - the field's name in the file
        self.seq = seq
        self.sim = sim
        self.wall = wall
        self.port = port
        self.direction = direction  # "tx", "rx" or "event"
        self._hex = hex
        self._label = label
        # while the entry waits to be masked: (raw bytes, label source, redactor, the
        # redactor's version then, bytes cut off, the transcript's renderer)
        self._lazy: _Lazy | None = None

    @classmethod
    def _deferred(cls, seq: int, sim: float, wall: float | None, port: str, direction: str,
                  lazy: _Lazy) -> Entry:
        entry = cls.__new__(cls)
        entry.seq = seq
        entry.sim = sim
        entry.wall = wall
        entry.port = port
        entry.direction = direction
        entry._hex = entry._label = ""
        entry._lazy = lazy
        return entry

    @property
    def hex(self) -> str:
        if self._lazy is not None:
            self._lazy[5].render_through(self)
        return self._hex

    @property
    def label(self) -> str:
        if self._lazy is not None:
            self._lazy[5].render_through(self)
        return self._label

    def _render(self, redactor: Redactor) -> None:
        assert self._lazy is not None
        raw, source, _, _, cut, _ = self._lazy
        self._hex, self._label = _masked(redactor, raw, source, cut)
        self._lazy = None

    def _key(self) -> tuple[Any, ...]:
        return (self.seq, self.sim, self.wall, self.port, self.direction, self.hex, self.label)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return ("Entry(seq={!r}, sim={!r}, wall={!r}, port={!r}, direction={!r}, hex={!r}, "
                "label={!r})".format(*self._key()))

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


def _masked(redactor: Redactor, raw: bytes, source: Label, cut: int) -> tuple[str, str]:
    """The masked hex and label of a payload (``cut`` bytes beyond it were not kept)."""
    label = source() if callable(source) else source
    if cut:
        label = f"{label} [{cut} more bytes not kept]"
    return redactor.hex(raw), redactor.text(escape_surrogates(label))


class _Renderer:
    """Masks a transcript's deferred entries, in the order they were recorded.

    Most of a virtual run's transcript is never read (a benchmark, a Hypothesis example
    that passes), and masking is most of the cost of recording. So an in-memory
    transcript keeps the raw entry and masks it when it is first read. The mask must be
    the one the entry would have got when it was recorded: the redactor learns secrets
    as the run goes on (a session key, a PIN block), and hiding a secret in an entry
    recorded before it was registered would change the transcript. Each entry notes how
    many registrations the redactor had seen; entries are masked in order, those of an
    older state by a copy of the redactor brought forward registration by registration
    (:meth:`Redactor.replay`), as the live one was.
    """

    def __init__(self) -> None:
        self.queue: deque[Entry] = deque()
        self._copy: tuple[Redactor, Redactor] | None = None  # (the live one, its copy)

    def render_through(self, entry: Entry) -> None:
        """Mask every deferred entry up to and including ``entry``."""
        queue = self.queue
        while queue and entry._lazy is not None:
            first = queue.popleft()
            assert first._lazy is not None
            first._render(self._as_of(first._lazy[2], first._lazy[3]))
        if not queue:
            self._copy = None

    def _as_of(self, live: Redactor, version: int) -> Redactor:
        if live.version == version:
            return live
        copy = self._copy[1] if self._copy is not None and self._copy[0] is live else None
        if copy is None or copy.version > version:
            copy = Redactor()
            self._copy = (live, copy)
        live.replay(copy, version)
        return copy


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
        self._keep_all = keep is True
        self._renderer = _Renderer()
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
        label: Label = "",
    ) -> Entry:
        """Record one payload; ``label`` may be a function that makes it (called at most
        once, maybe later, so it must not depend on state that changes)."""
        world = self._world
        if (world is not None and self._file is None and self._keep_all and not self.listeners
                and self.max_payload is None and world.mode == "virtual"):
            # the common case in a virtual run, kept short: nobody sees the entry now,
            # so it is masked when it is read (the same mask, see _Renderer)
            if type(data) is not bytes:
                data = utf8(data) if isinstance(data, str) else bytes(data or b"")
            live = world.redactor
            renderer = self._renderer
            entry = Entry._deferred(self._seq, float(world.env.now), None, port, direction,
                                    (data, label, live, live.version, 0, renderer))
            renderer.queue.append(entry)
            self._seq += 1
            self.entries.append(entry)
            return entry
        redactor = world.redactor if world is not None else None
        if isinstance(data, str):
            raw = utf8(data)
        else:
            raw = bytes(data or b"")
        if redactor is None:
            redactor = _DEFAULT_REDACTOR
        cut = 0
        if self.max_payload is not None and len(raw) > self.max_payload:
            cut = len(raw) - self.max_payload
            raw = raw[: self.max_payload]
        sim = world.now if world is not None else 0.0
        wall = time.time() if world is not None and world.mode == "realtime" else None
        if self._file is None and not self.listeners and self._keep_all:
            # nobody sees it now: mask it when it is read (the same mask, see _Renderer)
            renderer = self._renderer
            entry = Entry._deferred(self._seq, sim, wall, port, direction,
                                    (raw, label, redactor, redactor.version, cut, renderer))
            renderer.queue.append(entry)
            self._seq += 1
            self.entries.append(entry)
            return entry
        hexed, text = _masked(redactor, raw, label, cut)
        entry = Entry(self._seq, sim, wall, port, direction, hexed, text)
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
