"""Keeping card data out of everything the world writes.

Two layers, because either alone misses something:

* a generic scan for anything that looks like a card number (13 to 19 digits that
  pass Luhn), in ASCII and in packed BCD, so that data nobody registered is still
  caught;
* a :class:`Redactor` that knows the exact secrets of the run (PANs of the cards in
  play, PIN blocks, keys, track data) because devices register them when they are
  made, so that a secret is hidden even where it does not look like a card number.

A PAN keeps its first 6 and last 4 digits; everything else secret is replaced whole.
"""

from __future__ import annotations

import binascii
import builtins
import re
from collections.abc import Callable, Iterable
from typing import Any

_DIGITS = re.compile(r"(?<![0-9])([0-9]{13,19})(?![0-9])")
_DIGITS_B = re.compile(rb"(?<![0-9])([0-9]{13,19})(?![0-9])")
# Track 2 in ASCII (PAN '=' YYMM service code discretionary) and in BCD hex (PAN 'D' ...)
_TRACK2_ASCII = re.compile(r"([0-9]{13,19})=([0-9]{4})([0-9]*)")
_TRACK2_HEX = re.compile(r"([0-9]{13,19})[Dd]([0-9]{4})([0-9]*)[Ff]?")
_TRACK2_ASCII_B = re.compile(rb"([0-9]{13,19})=([0-9]{4})([0-9]*)")


# Luhn digit values as byte translation tables: the value of an ASCII digit, and the
# value after doubling (with the two digits of the product summed).
_LUHN_PLAIN = bytes(c - 48 if 48 <= c <= 57 else 0 for c in range(256))
_LUHN_DOUBLED = bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)[c - 48] if 48 <= c <= 57 else 0
                      for c in range(256))


def luhn_ok(digits: str) -> bool:
    # slicing, translate and sum over bytes all run in C: this is called on every digit
    # run of every transcript entry, so it bounds how fast a port can carry bytes
    b = digits.encode("ascii")
    total = sum(b[-1::-2].translate(_LUHN_PLAIN)) + sum(b[-2::-2].translate(_LUHN_DOUBLED))
    return total % 10 == 0


def mask_pan(pan: str) -> str:
    """``4761739001010010`` -> ``476173******0010`` (first 6, last 4)."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def _looks_like_pan(digits: str) -> bool:
    """Luhn-valid and led by a payment major industry identifier (2-6).

    Zero-padded amounts, dates and counters in fixed-width ASCII fields start with 0
    or 1; leaving them alone keeps decoded protocol fields readable.
    """
    return digits[0] in "23456" and luhn_ok(digits)


def _mask_match(m: re.Match[str]) -> str:
    s = m.group(1)
    return mask_pan(s) if _looks_like_pan(s) else s


def _mask_match_b(m: re.Match[bytes]) -> bytes:
    s = m.group(1).decode()
    return (mask_pan(s) if _looks_like_pan(s) else s).encode()


def mask_text(text: str) -> str:
    """Mask card numbers and track-2 discretionary data in a string."""
    text = _TRACK2_ASCII.sub(
        lambda m: f"{mask_pan(m.group(1))}={m.group(2)}" + "*" * len(m.group(3)), text
    )
    text = _TRACK2_HEX.sub(
        lambda m: f"{mask_pan(m.group(1))}D{m.group(2)}" + "*" * len(m.group(3)), text
    )
    return _DIGITS.sub(_mask_match, text)


# Every pattern above needs 13 digits in a row. Mapping digits to "1" and everything
# else to "0" and searching for 13 ones is a C-speed test that lets the (much slower)
# regular expressions skip the large majority of data, which holds no such run.
_RUN_MARK = "1" * 13
_DIGIT_MAP_B = bytes(0x31 if 48 <= c <= 57 else 0x30 for c in range(256))


def mask_bytes(data: bytes) -> bytes:
    """Mask ASCII card numbers and track data inside raw bytes (length preserved)."""
    if data.translate(_DIGIT_MAP_B).find(_RUN_MARK.encode()) < 0:
        return data
    data = _TRACK2_ASCII_B.sub(
        lambda m: mask_pan(m.group(1).decode()).encode()
        + b"="
        + m.group(2)
        + b"*" * len(m.group(3)),
        data,
    )
    data = _DIGITS_B.sub(_mask_match_b, data)
    return _LONG_RUN_B.sub(_mask_long_run, data)


# A fixed-width numeric field before a PAN makes one long digit run (ABECS GCR answers
# "PANLEN N2" then "PAN A19", left aligned and space padded): the PAN is the run's tail.
_LONG_RUN_B = re.compile(rb"[0-9]{20,}")


def _mask_long_run(m: re.Match[bytes]) -> bytes:
    run = m.group(0).decode()
    for length in range(19, 12, -1):
        tail = run[-length:]
        if tail[0] in "23456" and luhn_ok(tail):
            return (run[:-length] + mask_pan(tail)).encode()
    return m.group(0)


_HEX_TEXT = re.compile(rb"(?:[0-9A-Fa-f]{2})+")


# Every four-byte window of some bytes, overlapping, collected in C (a zero-width
# lookahead matches at each position and the group captures the window).
_HEAD = 4
_WINDOWS = re.compile(rb"(?=(.{%d}))" % _HEAD, re.DOTALL)
_FEW_HEADS = 256
_COMPILE_AFTER = 64


class _Literals:
    """A set of byte strings, each found wherever it occurs, longest first.

    The words are indexed by their first four bytes. A search collects the four-byte
    windows of the data (in C) and intersects them with the index, so its cost follows
    the length of the data, not the number of words: a world with a thousand terminals
    holds thousands of secret forms, and every transcript entry is searched for all of
    them. Words shorter than four bytes (a two-byte secret spelt in hex) are few and
    searched one by one. The index is built once per set of words; the redactor makes a
    new set only when a secret is registered.
    """

    def __init__(self, words: Iterable[bytes] = (), ordered: bool = False) -> None:
        self._rank: dict[bytes, int] = {}
        self._by_head: dict[bytes, list[bytes]] = {}
        self._short: list[bytes] = []
        self._heads: set[bytes] = set()
        self._head_search: Callable[[bytes], re.Match[bytes] | None] | None = None
        self._searches = 0
        self._shortest = 0
        self.reorder(list(words) if ordered else sorted(set(words), key=len, reverse=True))

    def __len__(self) -> int:
        return len(self._rank)

    def reorder(self, words: list[bytes]) -> None:
        """All the words, distinct, in the order they are tried: those held before and
        any new ones. Only the new ones are indexed; the order is taken as given (the
        redactor gives the one a new set would have), so a registration during a run
        costs a sort and a few C-speed copies, not a rebuild of the index."""
        rank = dict(zip(words, range(len(words)), strict=True))
        new = rank.keys() - self._rank.keys()
        self._rank = rank
        if not new:
            return
        for word in new:
            if len(word) >= _HEAD:
                self._by_head.setdefault(word[:_HEAD], []).append(word)
            else:
                self._short.append(word)
        least = min(map(len, new))
        self._shortest = min(self._shortest, least) if self._shortest else least
        heads = {w[:_HEAD] for w in new if len(w) >= _HEAD}
        if heads - self._heads:
            self._heads |= heads
            self._head_search = None
            self._searches = 0

    def _candidates(self, data: bytes) -> list[bytes]:
        """The words that may occur in ``data`` (a superset of those that do), longest
        first, in the order of :attr:`words`."""
        if len(data) < self._shortest:
            return []
        found: Iterable[bytes] = ()
        if self._heads and self._any_head(data):
            found = self._heads.intersection(_WINDOWS.findall(data))
        if not found and not self._short:
            return []
        words = [w for head in found for w in self._by_head[head]]
        words += [w for w in self._short if w in data]
        if len(words) > 1:  # the index keeps no order: the rank is the order
            words.sort(key=self._rank.__getitem__)
        return words

    def _any_head(self, data: bytes) -> bool:
        """Whether some word's first four bytes may occur in ``data`` (yes is a guess).

        With a few hundred heads or fewer, one alternation searched in C answers
        without building the windows (most data holds no secret). Compiling it costs
        as much as a few dozen searches, and a run registers secrets as it goes (each
        card, each PIN entry), so it is compiled only for a set that has already been
        searched that often; until then the answer is yes and the windows decide.
        """
        if self._head_search is None:
            if len(self._heads) > _FEW_HEADS or self._searches < _COMPILE_AFTER:
                self._searches += 1
                return True
            self._head_search = re.compile(
                b"|".join(re.escape(h) for h in sorted(self._heads))).search
        return self._head_search(data) is not None

    def replace(self, data: bytes, table: dict[bytes, bytes]) -> bytes:
        words = self._candidates(data)
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word in data:
                data = data.replace(word, table[word])
                # what the replacement wrote may hold another word: look again at the
                # words still to come, exactly as a pass over all of them would
                after = self._rank[word]
                words = [w for w in self._candidates(data) if self._rank[w] > after]
                i = 0
        return data

    def replace_text(self, text: str, by: str) -> str:
        """Each (ASCII) word in ``text`` replaced by ``by``, as :meth:`replace` does.

        An ASCII word occurs in a string exactly where its bytes occur in the string's
        UTF-8 (a multi-byte sequence holds no ASCII byte), so the candidates are found in
        the encoding.
        """
        words = self._candidates(text.encode("utf-8", "surrogatepass"))
        i = 0
        while i < len(words):
            word = words[i].decode("ascii")
            i += 1
            if word in text:
                text = text.replace(word, by)
                after = self._rank[words[i - 1]]
                words = [w for w in self._candidates(text.encode("utf-8", "surrogatepass"))
                         if self._rank[w] > after]
                i = 0
        return text

    def spans(self, data: bytes, words: list[bytes] | None = None) -> list[tuple[int, int]]:
        """Every occurrence of every word, overlaps included; ``words`` narrows the
        search to candidates already found for data that holds ``data``."""
        out: list[tuple[int, int]] = []
        for word in self._candidates(data) if words is None else words:
            at = data.find(word)
            while at >= 0:
                out.append((at, at + len(word)))
                at = data.find(word, at + 1)
        return out


def secret_forms(secret: bytes) -> set[bytes]:
    """Every exact form a secret can take on a wire.

    The bytes as registered; their ASCII hex in lower and upper case; for a secret
    registered as hex text, the binary it spells (and that binary's hex in the other
    case); for a secret of decimal digits, its packed BCD (F-padded), when that is four
    bytes or more (shorter BCD would match too much binary by chance). Base64 is not
    listed: it depends on where the secret starts, so base64 text is decoded and
    searched instead (:func:`_mask_base64`).
    """
    bases = {secret}
    if len(secret) % 2 == 0 and _HEX_TEXT.fullmatch(secret):
        bases.add(bytes.fromhex(secret.decode("ascii")))
    exact: set[bytes] = set()
    for b in bases:
        exact.add(b)
        exact.add(b.hex().encode())
        exact.add(b.hex().upper().encode())
        if b.isdigit():
            digits = b.decode("ascii")
            packed = bytes.fromhex(digits if len(digits) % 2 == 0 else digits + "F")
            if len(packed) >= 4:
                exact.add(packed)
    return exact


# Base64 text long enough to carry a four-byte secret (and a partial group either side)
_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{6,}={0,2}")
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _base64_spans(data: bytes, secrets: _Literals) -> list[tuple[int, int]]:
    """Character spans of ``data`` whose base64 decoding holds a secret form.

    Every run of base64 characters is decoded at each of its four alignments (either
    alphabet) and searched; a hit covers the whole four-character groups that carry any
    of its bytes. All the decodings are searched together first: most text holds base64
    characters (words, hex, numbers) and no secret, and then one search is enough.
    """
    decoded: list[tuple[int, int, bytes]] = []
    for m in _B64_RUN.finditer(data):
        run = m.group(0).translate(_URLSAFE).rstrip(b"=")
        start, end = m.span()
        for off in range(4):
            rest = run[off:]
            if len(rest) < 6:
                break
            tail = len(rest) % 4  # a last group of 2 or 3 characters carries 1 or 2 bytes
            rest = rest[:-1] if tail == 1 else rest + b"=" * ((4 - tail) % 4)
            try:
                plain = binascii.a2b_base64(rest)
            except binascii.Error:
                continue
            decoded.append((start + off, end, plain))
    if not decoded:
        return []
    # windows across two decodings only add candidates, never hide one
    words = secrets._candidates(b"".join(plain for _, _, plain in decoded))
    if not words:
        return []
    spans: list[tuple[int, int]] = []
    for base, end, plain in decoded:
        for a, b in secrets.spans(plain, words):
            spans.append((base + a // 3 * 4, min(end, base + -(-b // 3) * 4)))
    return spans


def _mask_base64(data: bytes, secrets: _Literals) -> bytes:
    spans = _base64_spans(data, secrets)
    if not spans:
        return data
    out = bytearray(data)
    for a, b in spans:
        out[a:b] = b"*" * (b - a)
    return bytes(out)


class Redactor:
    """Knows the run's secrets and hides them in bytes and text.

    ``add_pan`` registers a card number (masked to first 6 / last 4 in ASCII, in BCD
    and in hex text); ``add_secret`` registers bytes that must never appear at all
    (PIN blocks, keys, full tracks), in any form a wire can carry them
    (:func:`secret_forms`: binary, ASCII hex in either case, BCD, base64), replaced
    by ``[redacted]`` in text and by ``*`` bytes of the same length in raw data.
    """

    def __init__(self) -> None:
        self._pans: set[str] = set()
        self._secrets: set[bytes] = set()
        self._byte_pattern: _Literals | None = None
        self._byte_replacement: dict[bytes, bytes] = {}
        self._odd_pans: tuple[str, ...] = ()
        self._text_pattern: _Literals | None = None
        self._secret_pattern: _Literals | None = None
        self._forms: dict[bytes, set[bytes]] = {}  # secret -> secret_forms(secret)
        # every form, the secrets' forms, their printable forms (for text): kept across
        # registrations, each told the new order when a secret arrives
        self._patterns = (_Literals(), _Literals(), _Literals())
        # The last few answers of :meth:`hex` and :meth:`text`, until the next secret
        # arrives: a transcript records each chunk as it is written and again as it
        # arrives, and the answer depends only on the input and the secrets known.
        self._hex_memo: dict[builtins.bytes, str] = {}
        self._text_memo: dict[str, str] = {}
        # every registration in order (True for a PAN): what the redactor knew at any
        # earlier point can be rebuilt (:meth:`replay`)
        self._history: list[tuple[bool, str | builtins.bytes]] = []
        self.version = 0  # how many have been registered: the name of the state


    def add_pan(self, pan: str) -> None:
        pan = pan.strip().rstrip("Ff")
        if pan and pan not in self._pans:
            self._pans.add(pan)
            self._history.append((True, pan))
            self.version += 1
            self._changed()

    def add_secret(self, secret: bytes | str) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        if len(secret) >= 4 and secret not in self._secrets:
            secret = bytes(secret)
            self._secrets.add(secret)
            self._history.append((False, secret))
            self.version += 1
            self._changed()

    def replay(self, into: Redactor, version: int) -> None:
        """Bring ``into`` (a redactor that has seen the first ``into.version`` of this
        one's registrations) forward to ``version``: it then masks exactly as this one
        did when it had seen that many."""
        for is_pan, value in self._history[into.version : version]:
            if is_pan:
                into.add_pan(str(value))
            else:
                into.add_secret(value)

    def _changed(self) -> None:
        self._byte_pattern = None
        self._hex_memo.clear()
        self._text_memo.clear()

    def _compile(self) -> _Literals | None:
        """Every known secret form, longest first.

        Secrets are replaced whole by ``*``; ASCII PANs keep first 6 and last 4; packed
        BCD PANs keep them too, with the hidden digits as ``F`` nibbles (see
        :func:`hex_mask`). Longer forms are tried first so that a secret that contains a
        PAN is hidden whole.
        """
        if self._byte_pattern is None and (self._secrets or self._pans):
            table: dict[bytes, bytes] = {}
            for pan in self._pans:
                table[pan.encode()] = mask_pan(pan).encode()
                # zeros for the hidden digits keep the run decimal, so the tag scan of
                # :meth:`hex` still finds track 2 data behind it and hides the rest;
                # the hex then shows those nibbles as ``f``
                table[_pan_bcd(pan)] = _pan_bcd(_zero_mask(pan))
            texts: set[bytes] = set()
            secret_set: set[bytes] = set()
            for secret in self._secrets:
                forms = self._forms.get(secret)
                if forms is None:
                    forms = self._forms[secret] = secret_forms(secret)
                for form in forms:
                    table[form] = b"*" * len(form)
                    secret_set.add(form)
                    if form.isascii() and form.decode("ascii").isprintable():
                        texts.add(form)
            self._byte_replacement = table
            # the same orders a fresh set of each would have; the patterns only index
            # the forms they had not seen
            every, hidden, printable = self._patterns
            every.reorder(sorted(set(table), key=len, reverse=True))
            hidden.reorder(sorted(set(secret_set), key=len, reverse=True))
            printable.reorder(sorted(texts, key=len, reverse=True))
            self._byte_pattern = every
            self._secret_pattern = hidden if secret_set else None
            self._text_pattern = printable if texts else None
            self._odd_pans = tuple(p for p in self._pans if len(p) % 2)
        return self._byte_pattern

    def bytes(self, data: bytes) -> bytes:
        """Raw bytes with every known secret hidden; used before hex-encoding."""
        # tracks first: once the PAN is masked the track pattern no longer matches and
        # the discretionary data after the separator would stay in clear
        out = mask_bytes(bytes(data))
        pattern = self._compile()
        if pattern is not None:
            table = self._byte_replacement
            out = pattern.replace(out, table)
            if self._secret_pattern is not None:
                out = _mask_base64(out, self._secret_pattern)
        # no second scan: the replacements above only add '*' and zero bytes, which can
        # not complete a digit run
        return out

    def hex(self, data: builtins.bytes) -> str:
        key = builtins.bytes(data)
        out = self._hex_memo.get(key)
        if out is None:
            out = _remember(self._hex_memo, key, self._hex(key))
        return out

    def text(self, text: str) -> str:
        """A string with every known secret hidden."""
        out = self._text_memo.get(text)
        if out is None:
            out = _remember(self._text_memo, text, self._text(text))
        return out

    def _hex(self, data: builtins.bytes) -> str:
        """Hex of ``data`` with secrets hidden, including card numbers in packed BCD.

        Masked nibbles are written as ``f`` (see :func:`hex_mask`), so the hex keeps its
        length and offsets, stays valid hex, and shows the first six and last four
        digits the text shows.
        Secrets and even-length BCD PANs are already gone from the bytes; an
        odd-length PAN in track 2 equivalent data (tag 57) is followed by the
        separator nibble D, not F, so it is found in the hex on a byte boundary.
        """
        clean = self.bytes(data)
        hexed = clean.hex()
        for pan in self._odd_pans:
            at = hexed.find(pan)
            while at >= 0:
                if at % 2 == 0:
                    hexed = hexed[:at] + hex_mask(pan) + hexed[at + len(pan) :]
                at = hexed.find(pan, at + 1)
        hexed = _mask_bcd_hex(hexed, clean)
        for pan in self._pans:
            zeroed = _pan_bcd(_zero_mask(pan)).hex()
            at = hexed.find(zeroed)
            while at >= 0:
                if at % 2 == 0:
                    hexed = hexed[:at] + _pan_bcd(hex_mask(pan)).hex() + hexed[at + len(zeroed):]
                at = hexed.find(zeroed, at + 1)
        return hexed

    def _text(self, text: str) -> str:
        self._compile()
        if self._text_pattern is not None:
            text = self._text_pattern.replace_text(text, "[redacted]")
        if self._secret_pattern is not None and text.isascii():
            spans = _base64_spans(text.encode("ascii"), self._secret_pattern)
            for a, b in sorted(spans, reverse=True):
                text = text[:a] + "[redacted]" + text[b:]
        # tracks first: once the PAN is masked the track pattern no longer matches and
        # the discretionary data after the separator would stay in clear
        text = mask_text(text)
        for pan in self._pans:
            if pan in text:
                text = text.replace(pan, mask_pan(pan))
        return mask_text(text)


_MEMO = 32


def _remember(memo: dict[Any, str], key: Any, value: str) -> str:
    if len(memo) >= _MEMO:
        del memo[next(iter(memo))]
    memo[key] = value
    return value


def hex_mask(digits: str) -> str:
    """A card number in packed BCD, masked for a hex dump: the first six and last four
    digits as they are, each hidden digit as the nibble ``f``.

    ``f`` is not a decimal digit, so a masked PAN cannot be read as another card
    number, and the dump stays valid hex (the text form shows ``*`` at the same places).
    """
    if len(digits) < 11:
        return "f" * len(digits)
    return digits[:6] + "f" * (len(digits) - 10) + digits[-4:]


def _zero_mask(digits: str) -> str:
    return digits[:6] + "0" * (len(digits) - 10) + digits[-4:] if len(digits) > 10 else (
        "0" * len(digits))


def _pan_bcd(pan: str) -> bytes:
    digits = pan if len(pan) % 2 == 0 else pan + "F"
    return bytes.fromhex(digits)


# In binary EMV data a card number lives in a few data objects: 5A (PAN), 57 (track 2
# equivalent data: PAN, separator D, expiry, ...) and 9F6B (track 2 data of contactless
# Mastercard). The scan looks for at least six bytes of decimal nibbles right after one
# of those tags and a length byte below 0x20. Looking only there keeps binary payloads
# (keys, cryptograms, random data) intact. Runs of BCD bytes are found with a C-speed
# translate-and-find, so data without any costs two passes in C.
_BCD_MAP = bytes(0x31 if (c >> 4) <= 9 and (c & 15) <= 9 else 0x30 for c in range(256))
# seven BCD bytes: a PAN of 14 digits or more, or a 13-digit one behind its BCD length
# byte in 5A (07); a 13-digit PAN in 57 behind a length of 0D-0F is left to the
# registered-PAN replacement. Six would let through twice as many random runs.
_BCD_RUN = b"1" * 7


def _mask_bcd_hex(hexed: str, data: bytes) -> str:
    """Mask packed-BCD card numbers that follow the PAN-bearing EMV tags.

    ``hexed`` is ``data.hex()``. The PAN keeps its first 6 and last 4 digits; in
    track 2 data everything after the separator and the expiry date (service code,
    discretionary data with the card verification value) is hidden too.
    """
    marks = data.translate(_BCD_MAP)
    pos = marks.find(_BCD_RUN)
    if pos < 0:
        return hexed
    text: bool | None = None  # decided only once a candidate turns up
    pieces: list[str] = []  # the string is rebuilt from slices only if something is masked
    done = 0
    n = len(data)
    while pos >= 0:
        end = marks.find(b"0", pos)
        if end < 0:
            end = n
        # the tag (0x57 is itself BCD) and the length byte may open the run
        for p in range(pos, min(pos + 4, end - 6)):
            if p >= 2 and data[p - 1] < 0x20 and (
                data[p - 2] in (0x57, 0x5A) or (p >= 3 and data[p - 3 : p - 1] == b"\x9f\x6b")
            ):
                if text is None:
                    text = _is_text(data)
                if text:
                    # a text message (JSON, ABECS's ASCII fields) holds no packed BCD:
                    # a 'W' or 'Z' before a control byte and digits is a coincidence
                    return hexed
                done = _mask_tagged(hexed, p, data[p - 1], end, done, pieces)
                break
        pos = marks.find(_BCD_RUN, end)
    if not pieces:
        return hexed
    pieces.append(hexed[done:])
    return "".join(pieces)


def _mask_tagged(hexed: str, p: int, length: int, end: int, done: int, pieces: list[str]) -> int:
    """Mask one tag value that starts at byte ``p``; returns the new ``done`` offset."""
    at = 2 * p
    if at < done:
        return done
    value = hexed[at : at + 2 * length]
    digits = value[: 2 * min(length, end - p)]
    if len(digits) + 2 <= len(value) and value[len(digits)].isdigit():
        digits += value[len(digits)]  # odd-length PAN: last digit, then pad F or separator D
    if len(digits) < 12:
        return done
    sep = value.find("d", len(digits))
    if sep == len(digits):  # track 2: PAN D YYMM service code discretionary
        masked = hex_mask(digits) + "d" + value[sep + 1 : sep + 5]
        masked += "f" * (len(value) - len(masked))
    else:
        masked = hex_mask(digits) + value[len(digits) :]
    pieces.append(hexed[done:at])
    pieces.append(masked)
    return at + len(value)


_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n"


def _is_text(data: bytes) -> bool:
    """Mostly printable ASCII: at most one byte in ten is outside it (framing bytes)."""
    if not data:
        return True
    binary = len(data.translate(None, _TEXT_BYTES))
    return binary * 10 <= len(data)
