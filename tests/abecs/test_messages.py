"""Byte layouts of §4.5–§4.10: the note's samples parse, and every message round-trips."""

from __future__ import annotations

import pytest

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.dukpt import decrypt_pin, ipek, load_test_keys, provision
from virtual_devices.abecs.fields import CodecError, Command, Response
from virtual_devices.abecs.rig import aid_records
from virtual_devices.abecs.secure import (
    SecureError,
    SecureSession,
    load_test_host_key,
    unwrap_session_key,
    wrap_session_key,
)
from virtual_devices.abecs.tables import AID_LEN, CAPK_LEN, TableStore, decode_record


def test_gcr_spec_sample_parses() -> None:
    raw = b"GCR052" + b"00" + b"00" + b"000000001000" + b"131207" + b"102355" + b"8765234568"
    raw += b"03" + b"0214" + b"0222" + b"0217"
    req = m.GcrRequest.from_command(Command.decode(raw))
    assert (req.amount, req.date, req.time, req.table_version) == (1000, "131207", "102355",
                                                                   "8765234568")
    assert req.apps == ((2, "14"), (2, "22"), (2, "17"))
    assert req.to_command().encode() == raw


def test_goc_spec_sample_parses() -> None:
    b1 = (b"000000001200" b"000000000200" b"0" b"0" b"1" b"3" b"01" + b"0" * 32
          + b"1" b"00001388" b"20" b"000003E8" b"80" b"000")
    raw = b"GOC086" + b1 + b"025" + b"011829F279F269F36958F9F37" + b"003" + b"000"
    req = m.GocRequest.from_command(Command.decode(raw))
    assert req.amount == 1200 and req.cashback == 200 and req.floor_limit == 5000
    assert req.tags == (0x82, 0x9F27, 0x9F26, 0x9F36, 0x95, 0x8F, 0x9F37)
    assert req.threshold == 1000 and req.target_pct == 20 and req.max_target_pct == 80


def test_fnc_spec_sample_parses() -> None:
    raw = b"FNC030" + b"0" b"0" b"00" b"010" b"9108E64A2FE21FD88672" b"000"
    raw += b"025" + b"011829F279F269F36958F9F37"
    req = m.FncRequest.from_command(Command.decode(raw))
    assert req.comm_status == 0 and req.arc == "00"
    assert req.issuer_data == bytes.fromhex("9108E64A2FE21FD88672")
    assert req.to_command().encode() == raw


@pytest.mark.parametrize("rsp", [
    m.GocResponse(2, online_pin=True, pin_block=b"\x11" * 8, ksn=b"\x22" * 10,
                  emv_data=bytes.fromhex("9F2701809F360200")),
    m.FncResponse(0, bytes.fromhex("9F270140"), b"\x20\x00\x00\x00\x00"),
    m.GcrResponse(3, 0, 1, 8, "01", "", "4761739001010010=28122011234", "", "4761739001010010",
                  1, "VISA CREDITO", "201", "SILVA/JOAO", "281231", "076", b"9F0702FF00"),
    m.CkeResponse(1, track1="B1^X^2812", track2="1=2812"),
    m.CkeResponse(0, keycode=13),
    m.PinResponse(b"\x01" * 8, b"\x02" * 10),
    m.GinResponse("CARDLOOP", "VPP;64M", False, "1", "2.12", "1.0", "SN1"),
])
def test_responses_round_trip(rsp: object) -> None:
    wire = rsp.to_response().encode()  # type: ignore[attr-defined]
    back = type(rsp).from_response(Response.decode(wire))  # type: ignore[attr-defined]
    assert back == rsp


def test_gcr_response_has_the_documented_length() -> None:
    rsp = m.GcrResponse(0, 0, 1, 8, "01", "", "1=2", "", "1", 0, "", "101", "", "281231", "076")
    assert len(rsp.to_response().blocks[0]) == 342


def test_status_only_error_is_six_bytes_and_bad_blocks_are_rejected() -> None:
    assert Response("GCR", 13, (b"ignored",)).encode() == b"GCR013"
    with pytest.raises(CodecError):
        Command.decode(b"DSP040short")
    with pytest.raises(CodecError):
        m.GpnRequest.from_command(Command("GPN", (b"3",)))


def test_table_records_have_spec_lengths_and_round_trip() -> None:
    assert (AID_LEN, CAPK_LEN) == (284, 611)
    for raw in aid_records():
        assert decode_record(raw).encode() == raw


def test_table_store_versions_unified_and_per_acquirer() -> None:
    store = TableStore()
    assert store.version(0) == "0000000000"
    assert store.begin(8, "AAAAAAAAAA") is False
    store.add(tuple(aid_records()) + (b"001X",))
    store.commit()
    assert store.version(8) == "AAAAAAAAAA" and store.version(0) == "0000000000"
    assert len(store.aids()) == 3 and store.dropped == 1
    store.begin(8, "BBBBBBBBBB")
    store.commit()  # TLE without TLR erases the acquirer's tables
    assert store.aids() == []


def test_secure_session_and_key_wrap() -> None:
    import random

    key = load_test_host_key()
    pub = key.public_key().public_numbers()
    ksec = bytes(range(16))
    crk = wrap_session_key(ksec, pub.n, pub.e, random.Random(1))
    assert len(crk) == 256 and unwrap_session_key(key, crk) == ksec
    s = SecureSession(ksec)
    sealed = s.seal(b"DSP000")
    assert sealed[0] == 0x12 and (len(sealed) - 1) % 16 == 0
    assert s.open(sealed) == b"DSP000"
    with pytest.raises(SecureError):
        s.open(sealed[:-1] + bytes((sealed[-1] ^ 1,)))


def test_dukpt_matches_the_x924_test_vector() -> None:
    keys = load_test_keys()[16]
    assert ipek(keys.bdk, keys.initial_ksn).hex().upper() == "6AC292FAA1315B4D858AB3A3D7D5933A"
    slot = provision(keys)
    block, ksn = slot.encrypt_pin("1234", "4012345678909")
    assert block.hex().upper() == "1B9C1845EB993A7A"
    assert ksn.hex().upper() == "FFFF9876543210E00001"
    assert decrypt_pin(keys.bdk, ksn, block, "4012345678909") == "1234"
