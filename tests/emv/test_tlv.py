from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtual_devices.emv import tlv

# Primitive tags: one byte with low 5 bits != 1F and bit 6 clear, or two bytes 9F xx / 5F xx.
one_byte = st.integers(0x01, 0xFF).filter(lambda b: b & 0x1F != 0x1F and not b & 0x20
                                          and b not in (0x00, 0xFF))
two_byte = st.tuples(st.sampled_from([0x5F, 0x9F, 0xDF]), st.integers(0x00, 0x7F)).map(
    lambda t: (t[0] << 8) | t[1]
)
prim_tags = st.one_of(one_byte, two_byte)


@given(prim_tags, st.binary(max_size=600))
def test_primitive_round_trip(tag: int, value: bytes) -> None:
    [obj] = tlv.decode(tlv.encode(tag, value))
    assert (obj.tag, obj.value, obj.children) == (tag, value, [])


@given(st.lists(st.tuples(prim_tags, st.binary(max_size=40)), max_size=8))
def test_template_round_trip_and_find(items: list[tuple[int, bytes]]) -> None:
    inner = tlv.encode_many(items)
    data = tlv.encode(0x70, inner)
    [t] = tlv.decode(data)
    assert t.constructed and [(c.tag, c.value) for c in t.children] == items
    for tag, value in items:
        # first occurrence wins, depth-first
        first = next(v for tg, v in items if tg == tag)
        assert tlv.find(data, tag) == first
        assert tlv.flatten(data)[tag] == first
        assert value in tlv.find_all(data, tag)


@given(st.binary(max_size=64))
def test_decode_never_crashes_on_garbage(data: bytes) -> None:
    try:
        objs = tlv.decode(data)
    except tlv.TLVError:
        return
    # whatever parsed re-encodes to a subsequence of the input's information
    for o in objs:
        assert isinstance(o.tag, int) and isinstance(o.value, bytes)


@pytest.mark.parametrize(
    "raw",
    [
        "9F",  # truncated multi-byte tag
        "9F02",  # no length
        "5A0512",  # length runs past the data
        "5A8105",  # truncated long-form length
        "5A80",  # indefinite length
        "5A85000000000100",  # length of length too large
        "700412345A01",  # child runs past its template
    ],
)
def test_malformed_raises(raw: str) -> None:
    with pytest.raises(tlv.TLVError):
        tlv.decode(bytes.fromhex(raw))


def test_long_form_lengths() -> None:
    v = bytes(200)
    enc = tlv.encode(0x90, v)
    assert enc[:3] == bytes.fromhex("9081C8")
    enc2 = tlv.encode(0x90, bytes(300))
    assert enc2[:4] == bytes.fromhex("90820 12C".replace(" ", ""))
    assert tlv.decode(enc2)[0].value == bytes(300)


def test_padding_between_objects_is_skipped() -> None:
    data = bytes.fromhex("5A0112" "00FF" "5F340101")
    assert tlv.flatten(data) == {0x5A: b"\x12", 0x5F34: b"\x01"}


def test_find_inside_fci_templates() -> None:
    fci = bytes.fromhex("6F1A840E315041592E5359532E4444463031A5088801015F2D02656E")
    assert tlv.find(fci, 0x88) == b"\x01"
    assert tlv.find(fci, 0x5F2D) == b"en"
    assert tlv.find(fci, 0x9F38) is None


def test_parse_dol() -> None:
    dol = bytes.fromhex("9F02069F1A0295059F3704")
    assert tlv.parse_dol(dol) == [(0x9F02, 6), (0x9F1A, 2), (0x95, 5), (0x9F37, 4)]
    with pytest.raises(tlv.TLVError):
        tlv.parse_dol(bytes.fromhex("9F"))


def test_build_dol_pads_and_truncates_per_format() -> None:
    dol = bytes.fromhex("9F0204" "9F3702" "5003" "9F4C02")
    values = {
        0x9F02: bytes.fromhex("000000001234"),  # numeric: keep rightmost
        0x9F37: bytes.fromhex("AABBCCDD"),  # binary: keep leftmost
        0x50: b"V",  # an: pad right with 00
    }
    out = tlv.build_dol(dol, values)
    assert out == bytes.fromhex("00001234" "AABB" "560000" "0000")


def test_build_dol_numeric_pad_left() -> None:
    assert tlv.build_dol(bytes.fromhex("9F0206"), {0x9F02: b"\x12\x34"}) == bytes.fromhex(
        "000000001234"
    )


@given(st.lists(st.tuples(prim_tags, st.integers(0, 20)), max_size=6),
       st.dictionaries(prim_tags, st.binary(max_size=30), max_size=6))
def test_build_dol_length_always_matches(dol_items: list[tuple[int, int]],
                                         values: dict[int, bytes]) -> None:
    dol = b"".join(tlv.tag_bytes(t) + bytes([n]) for t, n in dol_items)
    assert len(tlv.build_dol(dol, values)) == sum(n for _, n in dol_items)


def test_tag_names() -> None:
    assert tlv.tag_name(0x9F26) == "Application Cryptogram"
    assert tlv.tag_name(0x5A) == "PAN"
    assert tlv.tag_name(0xDF7F) == "tag DF7F"
