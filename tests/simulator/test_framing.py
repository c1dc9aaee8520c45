"""Framing codecs against split, merged and malformed input."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.framing import (
    ETX,
    STX,
    FramingError,
    LengthPrefixFraming,
    NewlineFraming,
    RawFraming,
    StxEtxFraming,
)

payload = st.binary(min_size=1, max_size=64)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _decode(codec, chunks: list[bytes]) -> list:
    out = []
    for c in chunks:
        out.extend(codec.events(c))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(payload, min_size=1, max_size=8), st.lists(st.integers(0, 10_000), max_size=12))
def test_length_prefix_any_split_or_merge(frames, cuts):
    codec = LengthPrefixFraming()
    wire = b"".join(codec.encode(f) for f in frames)
    assert _decode(LengthPrefixFraming(), _chunks(wire, cuts)) == frames


@settings(max_examples=150, deadline=None)
@given(
    st.lists(payload.map(lambda b: bytes(x for x in b if x not in (STX, ETX)) or b"x"), min_size=1,
             max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_stx_etx_any_split_or_merge(frames, cuts):
    wire = b"".join(StxEtxFraming().encode(f) for f in frames)
    assert _decode(StxEtxFraming(), _chunks(wire, cuts)) == frames


@settings(max_examples=150, deadline=None)
@given(
    st.lists(payload.map(lambda b: bytes(x for x in b if x not in b"\r\n") or b"x"), min_size=1,
             max_size=8),
    st.lists(st.integers(0, 10_000), max_size=12),
)
def test_newline_any_split_or_merge(frames, cuts):
    wire = b"".join(NewlineFraming().encode(f) for f in frames)
    assert _decode(NewlineFraming(), _chunks(wire, cuts)) == frames


@settings(deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 10_000), max_size=8))
def test_raw_keeps_every_byte_in_order(data, cuts):
    out = _decode(RawFraming(), _chunks(data, cuts))
    assert b"".join(out) == data
    assert all(out)  # no empty frames


def test_oversized_length_prefix_is_refused_before_the_payload_arrives():
    codec = LengthPrefixFraming(max_length=100)
    with pytest.raises(FramingError) as err:
        codec.feed(struct.pack(">I", 101))
    assert "exceeds the maximum of 100" in str(err.value)
    assert not err.value.recoverable
    assert codec.broken
    with pytest.raises(FramingError):  # a broken stream stays broken
        codec.feed(b"more")


def test_zero_length_prefix_is_bad_unless_allowed():
    with pytest.raises(FramingError, match="length prefix 0"):
        LengthPrefixFraming().feed(b"\x00\x00\x00\x00")
    assert LengthPrefixFraming(allow_empty=True).feed(b"\x00\x00\x00\x00") == [b""]


def test_frames_before_an_error_are_kept_in_order():
    good = LengthPrefixFraming().encode(b"ok")
    events = LengthPrefixFraming(max_length=10).events(good + b"\xff\xff\xff\xff")
    assert events[0] == b"ok"
    assert isinstance(events[1], FramingError)
    assert events[1].data == b"\xff\xff\xff\xff"


def test_length_prefix_encode_refuses_oversize():
    with pytest.raises(FramingError):
        LengthPrefixFraming(max_length=3).encode(b"abcd")


def test_stx_etx_reports_data_outside_and_resynchronises():
    codec = StxEtxFraming()
    events = codec.events(b'{"bare":1}\x02A\x03junk\x02B\x03')
    assert [e for e in events if isinstance(e, bytes)] == [b"A", b"B"]
    errors = [e for e in events if isinstance(e, FramingError)]
    assert [e.data for e in errors] == [b'{"bare":1}', b"junk"]
    assert all(e.recoverable for e in errors)
    assert "outside STX/ETX" in str(errors[0])


def test_stx_inside_open_frame_restarts_the_frame():
    events = StxEtxFraming().events(b"\x02cut\x02whole\x03")
    assert isinstance(events[0], FramingError) and "STX inside" in str(events[0])
    assert events[1] == b"whole"


def test_stx_etx_overlong_frame_is_skipped():
    codec = StxEtxFraming(max_length=4)
    events = codec.events(b"\x02toolong\x03\x02ok\x03")
    assert isinstance(events[0], FramingError)
    assert events[1] == b"ok"


def test_stx_etx_encode_refuses_markers_in_payload():
    with pytest.raises(FramingError):
        StxEtxFraming().encode(b"a\x03b")


def test_newline_strips_cr_skips_blank_lines_and_skips_overlong_lines():
    codec = NewlineFraming(max_length=5)
    events = codec.events(b"one\r\n\n")
    assert events == [b"one"]
    events = codec.events(b"muchtoolong")
    assert len(events) == 1 and isinstance(events[0], FramingError)
    assert codec.events(b"still\nok\n") == [b"ok"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([b"\x02", b"\x03", b"\n", b"\r", b"ab", b"{}", b"\x00\x00\x00\x02"]),
             max_size=30),
    st.lists(st.integers(0, 10_000), max_size=10),
    st.sampled_from([StxEtxFraming, NewlineFraming, LengthPrefixFraming]),
)
def test_malformed_streams_decode_the_same_however_split(parts, cuts, codec_cls):
    data = b"".join(parts)
    whole = codec_cls().events(data)
    pieces = _decode(codec_cls(), _chunks(data, cuts))
    frames_whole = [e for e in whole if isinstance(e, bytes)]
    frames_split = [e for e in pieces if isinstance(e, bytes)]
    assert frames_whole == frames_split
    if codec_cls is StxEtxFraming:
        assert all(STX not in f and ETX not in f for f in frames_whole)
    errors_whole = [e for e in whole if isinstance(e, FramingError)]
    errors_split = [e for e in pieces if isinstance(e, FramingError)]
    assert bool(errors_whole) == bool(errors_split)
