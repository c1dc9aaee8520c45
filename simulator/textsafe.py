"""Any text a peer can send is text the world can hold, write and parse safely.

Two hazards every server shares, kept in one place so each codec needs one call:

* **Lone surrogates.** JSON may carry ``"\\ud800"``; Python decodes it into a string that
  cannot be encoded as UTF-8, so the first write of it (a transcript line, a socket
  send) raises. :func:`escape_surrogates` turns such code points back into their
  ``\\udXXX`` escape text; :func:`utf8` encodes any string without raising.
* **Deep nesting.** The C JSON parser and every recursive walker after it (schema
  validation, labellers, serializers) give up with ``RecursionError`` somewhere around
  a thousand levels. :func:`json_too_deep` finds an over-deep document before any of
  them see it, in C speed for ordinary input.
"""

from __future__ import annotations

import re

#: Our own nesting limit for protocol JSON (no protocol note gives one). Real messages of
#: every protocol we serve nest at most five levels; 32 leaves room and stays far from
#: Python's recursion limit for every walker that follows the parser.
MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STRING_B = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS_B = re.compile(rb"[\[\]{}]")


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as its ``\\udXXX`` escape."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates become their escape text, never an error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def has_surrogates(value: object) -> bool:
    """True if any string in a parsed JSON value (keys included) holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and escape_surrogates(item) is not item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text opens more than ``limit`` arrays/objects inside each other.

    Counting brackets is enough for nearly all input; only text with more brackets than
    the limit is scanned properly (string contents skipped), iteratively, so a document
    ten thousand levels deep costs one pass and no recursion.
    """
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= limit:
            return False
        brackets = [b.decode("ascii") for b in _BRACKETS_B.findall(_STRING_B.sub(b"", text))]
    else:
        if text.count("[") + text.count("{") <= limit:
            return False
        brackets = _BRACKETS.findall(_STRING.sub("", text))
    depth = 0
    for b in brackets:
        if b in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
