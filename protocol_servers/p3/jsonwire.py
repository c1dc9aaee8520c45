"""JSON in and out of the wire with exact decimals.

The standard encoder cannot write a :class:`~decimal.Decimal` without going through a
float, and P3 amounts must stay exact, so outgoing messages are written by this small
serializer. Key order is the insertion order, which the message builders keep fixed, so a
virtual run writes byte-identical messages for the same seed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from simulator.textsafe import MAX_JSON_DEPTH, json_too_deep


def loads(text: str) -> Any:
    """Parse with exact decimals; raises ``ValueError`` on bad JSON.

    Nesting deeper than :data:`~simulator.textsafe.MAX_JSON_DEPTH` is bad JSON here: no
    P3 message nests that deep, and every walker after the parser would recurse.
    """
    if json_too_deep(text):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("nested too deep") from None


def dumps(value: Any) -> str:
    try:
        # C speed for what holds no Decimal (a login listing a thousand devices); the
        # writer below is only needed for exact amounts
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          default=_no_fast_path)
    except _NeedsExactWriter:
        parts: list[str] = []
        _write(value, parts)
        return "".join(parts)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON escapes carry it exactly
            text = json.dumps(value, separators=(",", ":"), default=_no_fast_path)
    return text


class _NeedsExactWriter(Exception):
    pass


def _no_fast_path(value: Any) -> Any:
    raise _NeedsExactWriter


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # a lone surrogate (echoed from a client's tag, say): JSON's \uXXXX escape
                # carries it back exactly, where raw UTF-8 cannot
                text = json.dumps(value)
        out.append(text)
    elif value is None or isinstance(value, bool):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} to P3 JSON")
