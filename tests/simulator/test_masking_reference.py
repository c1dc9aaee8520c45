"""The redactor's precomputed forms against the straightforward rules they replace.

Bytes: one regular-expression alternation of every secret form, longest first.
Text: each secret's hex (lower, upper) and printable ASCII replaced in turn, then the
generic scan, the PANs, the generic scan again. The redactor must give the same
output for any data, including secrets that overlap, contain each other or repeat.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.masking import Redactor, mask_bytes, mask_pan, mask_text


def _pan_bcd(pan: str) -> bytes:
    return bytes.fromhex(pan if len(pan) % 2 == 0 else pan + "F")


def reference_bytes(pans: set[str], secrets: set[bytes], data: bytes) -> bytes:
    out = mask_bytes(data)
    table: dict[bytes, bytes] = {}
    for pan in pans:
        table[pan.encode()] = mask_pan(pan).encode()
        hidden = pan[:6] + "0" * (len(pan) - 10) + pan[-4:] if len(pan) > 10 else "0" * len(pan)
        table[_pan_bcd(pan)] = _pan_bcd(hidden)
    for secret in secrets:
        table[secret] = b"*" * len(secret)
    if not table:
        return out
    forms = sorted(table, key=len, reverse=True)
    pattern = re.compile(b"|".join(re.escape(f) for f in forms))
    return pattern.sub(lambda m: table[m.group(0)], out)


def reference_text(pans: set[str], secrets: set[bytes], text: str) -> str:
    for secret in secrets:
        for form in (secret.hex(), secret.hex().upper()):
            if form in text:
                text = text.replace(form, "[redacted]")
        try:
            plain = secret.decode("ascii")
        except UnicodeDecodeError:
            plain = ""
        if plain and plain.isprintable() and plain in text:
            text = text.replace(plain, "[redacted]")
    text = mask_text(text)
    for pan in pans:
        if pan in text:
            text = text.replace(pan, mask_pan(pan))
    return mask_text(text)


alphabet = b"AB01\x12\x13\x00"  # few symbols, so secrets overlap and repeat often
small = st.binary(min_size=4, max_size=8).map(lambda b: bytes(alphabet[c % 7] for c in b))
pans = st.sets(st.sampled_from(["4761739001010010", "476173900101001", "5413330089010608", "12"]))
# past 16 forms the redactor first checks four-byte heads: both paths are exercised
secret_lists = st.one_of(st.lists(small, max_size=5), st.lists(small, min_size=17, max_size=30))


@settings(max_examples=300)
@given(pans, secret_lists, st.lists(st.one_of(small, st.binary(max_size=6)), max_size=10))
def test_bytes_match_one_alternation(
    pan_set: set[str], secret_list: list[bytes], pieces: list[bytes]
) -> None:
    r = Redactor()
    for pan in pan_set:
        r.add_pan(pan)
    data = b"".join(pieces) + b"".join(p.encode() for p in pan_set)
    # registered in two steps: the tables must follow a registration after use
    half = len(secret_list) // 2
    for secret in secret_list[:half]:
        r.add_secret(secret)
    secrets = {s for s in secret_list[:half]}
    assert r.bytes(data) == reference_bytes(set(pan_set), secrets, data)
    for secret in secret_list[half:]:
        r.add_secret(secret)
    assert r.bytes(data) == reference_bytes(set(pan_set), set(secret_list), data)


@settings(max_examples=300)
@given(pans, secret_lists, st.lists(st.text("AB01ab9=D:\x12 ", max_size=12), max_size=6))
def test_text_matches_the_secret_by_secret_rules(
    pan_set: set[str], secret_list: list[bytes], words: list[str]
) -> None:
    r = Redactor()
    for pan in pan_set:
        r.add_pan(pan)
    for secret in secret_list:
        r.add_secret(secret)
    text = " ".join(words + [s.hex() for s in secret_list[:2]] + sorted(pan_set))
    # the reference iterates the redactor's own set so the order of secrets is the same
    assert r.text(text) == reference_text(set(pan_set), r._secrets, text)


def test_a_registration_after_use_is_honoured() -> None:
    r = Redactor()
    assert r.bytes(b"xxSECRETxx") == b"xxSECRETxx"
    r.add_secret(b"SECRET")
    assert r.bytes(b"xxSECRETxx") == b"xx******xx"
    assert r.text("key SECRET") == "key [redacted]"


def test_many_secrets_one_at_the_very_end() -> None:
    r = Redactor()
    secrets = [bytes((0x80 + i,)) * 4 for i in range(20)]  # more than the few-forms path
    for secret in secrets:
        r.add_secret(secret)
    for secret in secrets:
        assert r.bytes(b"xy" + secret) == b"xy****"
        assert r.bytes(secret) == b"****"
        assert r.text("key " + secret.hex()) == "key [redacted]"
