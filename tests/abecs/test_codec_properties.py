"""Every typed request survives encode → decode, whatever its field values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.fields import Command

DIGITS = st.text("0123456789", min_size=6, max_size=6)
TAGS = st.lists(st.sampled_from([0x82, 0x95, 0x9A, 0x9C, 0x5F2A, 0x9F02, 0x9F26, 0x9F27,
                                 0x9F36, 0x9F37, 0x9F10, 0x9F7C]), max_size=20).map(tuple)


def round_trip(req: object) -> object:
    wire = req.to_command().encode()  # type: ignore[attr-defined]
    return type(req).from_command(Command.decode(wire))  # type: ignore[attr-defined]


@given(st.integers(1, 999_999_999_999), DIGITS, DIGITS,
       st.text("ABCDEFGHIJ0123456789", min_size=10, max_size=10), st.integers(0, 99),
       st.sampled_from([0, 1, 2, 99]),
       st.lists(st.tuples(st.integers(1, 99), st.text("0123456789AZ", min_size=2,
                                                       max_size=2)), max_size=10).map(tuple),
       st.one_of(st.none(), st.booleans()))
def test_gcr_request(amount: int, date: str, time: str, version: str, acq: int, typ: int,
                     apps: tuple[tuple[int, str], ...], ctls: bool | None) -> None:
    req = m.GcrRequest(amount, date, time, version, acq, typ, apps, ctls)
    assert round_trip(req) == req


@given(st.integers(0, 999_999_999_999), TAGS, st.integers(0, 10**9), st.booleans(),
       st.booleans(), st.integers(0, 3), st.integers(0, 99), st.integers(0, 0xFFFFFFFF),
       TAGS)
def test_goc_request(amount: int, tags: tuple[int, ...], cashback: int, black: bool,
                     online: bool, method: int, key: int, floor: int,
                     tags2: tuple[int, ...]) -> None:
    req = m.GocRequest(amount, tags, cashback, black, online, method, key, True, floor,
                       tags2=tags2)
    assert round_trip(req) == req


@given(st.sampled_from([0, 1, 9]), st.text("0123456789AZ", min_size=2, max_size=2),
       st.binary(max_size=200), TAGS)
def test_fnc_request(commst: int, arc: str, iss: bytes, tags: tuple[int, ...]) -> None:
    req = m.FncRequest(commst, arc, iss, tags)
    assert round_trip(req) == req


@given(st.text("0123456789", min_size=8, max_size=19), st.integers(2, 3),
       st.integers(0, 99), st.integers(4, 12), st.text("ABCDE :", max_size=32))
def test_gpn_request(pan: str, method: int, key: int, lo: int, msg: str) -> None:
    req = m.GpnRequest(pan, method, key, lo, 12, msg.rstrip())
    assert round_trip(req) == req
