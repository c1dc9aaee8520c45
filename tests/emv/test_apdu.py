from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtual_devices.emv.apdu import (
    SW_WRONG_LENGTH,
    APDUError,
    Command,
    Response,
    sw_name,
    sw_pin_tries,
)


def test_case1() -> None:
    c = Command.from_bytes(bytes.fromhex("00A40400"))
    assert (c.cla, c.ins, c.p1, c.p2, c.data, c.le) == (0, 0xA4, 4, 0, b"", None)


def test_case2_le_zero_means_256() -> None:
    c = Command.from_bytes(bytes.fromhex("00B2010C00"))
    assert c.le == 256 and c.data == b""
    assert c.to_bytes() == bytes.fromhex("00B2010C00")


def test_case3_and_case4() -> None:
    c3 = Command.from_bytes(bytes.fromhex("0020008008241234FFFFFFFFFF"))
    assert c3.data == bytes.fromhex("241234FFFFFFFFFF") and c3.le is None
    c4 = Command.from_bytes(bytes.fromhex("00A404000EA000000003101000000000000000" "00"))
    assert len(c4.data) == 14 and c4.le == 256


@pytest.mark.parametrize("raw", ["", "00", "00A404", "00A4040005A0000000", "00A4040002A00000A1"])
def test_bad_lengths_raise_with_6700(raw: str) -> None:
    with pytest.raises(APDUError) as e:
        Command.from_bytes(bytes.fromhex(raw))
    assert e.value.sw == SW_WRONG_LENGTH


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
       st.binary(max_size=255), st.one_of(st.none(), st.integers(1, 256)))
def test_round_trip(cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None) -> None:
    c = Command(cla, ins, p1, p2, data, le)
    assert Command.from_bytes(c.to_bytes()) == c


def test_builders() -> None:
    assert Command.select("1PAY.SYS.DDF01").to_bytes().hex().upper() == (
        "00A404000E315041592E5359532E444446303100"
    )
    assert Command.select(bytes.fromhex("A000000003"), next_occurrence=True).p2 == 0x02
    assert Command.gpo(b"").to_bytes() == bytes.fromhex("80A8000002830000")
    assert Command.read_record(2, 1).to_bytes() == bytes.fromhex("00B2011400")
    assert Command.get_data(0x9F17).to_bytes() == bytes.fromhex("80CA9F1700")
    assert Command.generate_ac(0x90, b"\x01").to_bytes() == bytes.fromhex("80AE90000101" "00")
    assert Command.get_challenge().to_bytes() == bytes.fromhex("0084000000")
    assert Command.internal_authenticate(b"\x01\x02\x03\x04").to_bytes() == bytes.fromhex(
        "008800000401020304" "00"
    )
    assert Command.external_authenticate(bytes(10)).to_bytes()[:5] == bytes.fromhex("008200000A")
    assert Command.get_response(0x1C).to_bytes() == bytes.fromhex("00C000001C")
    assert Command.verify(0x80, bytes(8)).to_bytes()[:5] == bytes.fromhex("0020008008")


def test_response() -> None:
    r = Response.from_bytes(bytes.fromhex("6F009000"))
    assert r.ok and r.sw == 0x9000 and r.data == b"\x6f\x00"
    assert r.to_bytes() == bytes.fromhex("6F009000")
    assert not Response.status(0x6A82).ok
    with pytest.raises(APDUError):
        Response.from_bytes(b"\x90")


def test_sw_names() -> None:
    assert sw_pin_tries(0x63C2) == 2 and sw_pin_tries(0x9000) is None
    assert "2 tries" in sw_name(0x63C2)
    assert "28 bytes" in sw_name(0x611C)
    assert "use 28" in sw_name(0x6C1C)
    assert sw_name(0x6A82) == "file not found"


def test_transcript_labels_name_commands_without_card_data() -> None:
    from virtual_devices.emv.apdu import describe_command, describe_response

    assert describe_command(Command.select("1PAY.SYS.DDF01").to_bytes()) == \
        "SELECT 1PAY.SYS.DDF01"
    assert describe_command(Command.select(bytes.fromhex("A0000000031010")).to_bytes()) == \
        "SELECT A0000000031010"
    assert describe_command(Command.read_record(2, 1).to_bytes()) == "READ RECORD SFI 2 record 1"
    assert describe_command(Command.get_data(0x9F17).to_bytes()) == \
        "GET DATA 9F17 (PIN Try Counter)"
    pin = Command.verify(0x80, bytes.fromhex("241234FFFFFFFFFF")).to_bytes()
    assert describe_command(pin) == "VERIFY plaintext PIN"
    assert describe_command(Command.generate_ac(0x90, b"\x01").to_bytes()) == \
        "GENERATE AC ARQC with CDA"
    assert describe_command(b"\x00").startswith("malformed")
    label = describe_response(bytes.fromhex("770A82023C0094040801010090 00".replace(" ", "")))
    assert label == "9000 OK: 77 Response Message Template Format 2 [82, 94]"
    assert describe_response(bytes.fromhex("6A82")) == "6A82 file not found"
