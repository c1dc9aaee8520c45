"""Protocol-level faults: what a misbehaving POS does to a well-formed message.

Pure functions from a good message (JSON text or a framed byte string) to a bad one,
named as the ``action`` of the catalogue's ``message`` entries. Randomness comes from
the ``rng`` a case passes (``world.rng("mutations")``), so a mutation replays.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from typing import Any


def malformed_json(text: str, rng: random.Random) -> str:
    """Cut the JSON short at a random point inside it (never valid JSON)."""
    if len(text) < 2:
        return "{"
    cut = rng.randrange(1, len(text) - 1) if len(text) > 2 else 1
    out = text[:cut]
    try:
        json.loads(out)
    except ValueError:
        return out
    return out + "{"


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    return out


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return 0


def wrong_types(text: str, rng: random.Random, field: str | None = None) -> str:
    """Give one field (``field`` or a random one) a value of another JSON type."""
    doc = json.loads(text)
    paths = _paths(doc)
    if not paths:
        return json.dumps([doc])
    path = (field,) if field is not None and field in doc else rng.choice(paths)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _other_type(node[path[-1]])
    return json.dumps(doc, separators=(",", ":"))


def unknown_fields(text: str, rng: random.Random, field: str = "x_unknown_field") -> str:
    doc = json.loads(text)
    if isinstance(doc, dict):
        doc[field] = rng.randrange(1000)
    return json.dumps(doc, separators=(",", ":"))


def oversized(text: str, rng: random.Random, size: int = 1 << 20) -> str:
    """The message padded with a huge string field to ``size`` characters or more."""
    doc = json.loads(text)
    pad = "A" * max(0, size - len(text))
    if isinstance(doc, dict):
        doc["padding"] = pad
        return json.dumps(doc, separators=(",", ":"))
    return text + " " * len(pad)


def bad_length_prefix(frame: bytes, rng: random.Random, delta: int = 7) -> bytes:
    """A 4-byte big-endian length-prefixed frame whose prefix is off by ``delta``."""
    if len(frame) < 4:
        raise ValueError("not a length-prefixed frame")
    (n,) = struct.unpack(">I", frame[:4])
    wrong = max(0, n + (delta if rng.random() < 0.5 or n < delta else -delta))
    return struct.pack(">I", wrong) + frame[4:]


def reorder(messages: list[str], rng: random.Random) -> list[str]:
    """Swap two adjacent messages (the second is sent before the first)."""
    if len(messages) < 2:
        return list(messages)
    i = rng.randrange(len(messages) - 1)
    out = list(messages)
    out[i], out[i + 1] = out[i + 1], out[i]
    return out


def duplicate(messages: list[str], rng: random.Random) -> list[str]:
    """Send one message twice in a row."""
    if not messages:
        return []
    i = rng.randrange(len(messages))
    return [*messages[: i + 1], messages[i], *messages[i + 1 :]]


TEXT_MUTATIONS: dict[str, Callable[..., str]] = {
    "malformed_json": malformed_json,
    "wrong_types": wrong_types,
    "unknown_fields": unknown_fields,
    "oversized": oversized,
}
SEQUENCE_MUTATIONS: dict[str, Callable[..., list[str]]] = {
    "reorder": reorder,
    "duplicate": duplicate,
}
