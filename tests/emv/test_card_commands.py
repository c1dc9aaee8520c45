"""Each card command and the status words a card answers to bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_card_support import open_app, raw_tx, tx

from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command, Response
from virtual_devices.emv.card import PSE, CardError, CardMute, load_card

VISA = bytes.fromhex("A0000000031010")


def powered(name: str = "visa-chip-pin", interface: str = "contact"):  # type: ignore[no-untyped-def]
    card = load_card(name)
    card.power_on(interface)
    return card


def test_atr_t1_and_t0() -> None:
    atr = load_card("visa-chip-pin").power_on("contact")
    assert atr[0] == 0x3B and atr[-1] == _xor(atr[1:-1])  # TCK makes the XOR zero
    assert load_card("visa-t0").power_on("contact") == bytes.fromhex("3B600000")


def _xor(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def test_mute_chip_and_missing_interfaces() -> None:
    with pytest.raises(CardMute):
        load_card("mc-mute-chip-fallback").power_on("contact")
    with pytest.raises(CardMute):
        load_card("visa-pin-blocked").power_on("contactless")
    with pytest.raises(CardError):
        load_card("visa-chip-pin").transmit(Command.select(PSE).to_bytes())


def test_pse_directory_lists_applications() -> None:
    card = powered("elo-combo")
    r = tx(card, Command.select(PSE))
    assert r.ok and tlv.find(r.data, 0x88) == b"\x01"
    rec = tx(card, Command.read_record(1, 1))
    aids = tlv.find_all(rec.data, 0x4F)
    assert aids == [bytes.fromhex("A0000004941010"), bytes.fromhex("A0000004942010")]
    prios = tlv.find_all(rec.data, 0x87)
    assert all(p[0] & 0x80 for p in prios)  # cardholder confirmation required
    assert tx(card, Command.read_record(1, 2)).sw == 0x6A83
    assert tx(card, Command.read_record(2, 1)).sw == 0x6A82


def test_ppse_not_on_contact_and_pse_not_on_contactless() -> None:
    assert tx(powered(), Command.select("2PAY.SYS.DDF01")).sw == 0x6A82
    assert tx(powered(interface="contactless"), Command.select(PSE)).sw == 0x6A82


def test_select_by_aid_returns_fci() -> None:
    card = powered()
    r = tx(card, Command.select(VISA))
    assert r.ok
    [fci] = tlv.decode(r.data)
    assert fci.tag == 0x6F
    assert tlv.find(r.data, 0x84) == VISA
    assert tlv.find(r.data, 0x50) == b"VISA CREDITO"
    assert tlv.find(r.data, 0x87) == b"\x01"


def test_partial_selection_and_next_occurrence() -> None:
    card = powered("elo-combo")
    rid = bytes.fromhex("A000000494")
    first = tx(card, Command.select(rid))
    assert tlv.find(first.data, 0x84) == bytes.fromhex("A0000004941010")
    second = tx(card, Command.select(rid, next_occurrence=True))
    assert tlv.find(second.data, 0x84) == bytes.fromhex("A0000004942010")
    assert tx(card, Command.select(rid, next_occurrence=True)).sw == 0x6A82
    # starting over with P2 = 00 finds the first one again
    assert tlv.find(tx(card, Command.select(rid)).data, 0x84) == bytes.fromhex("A0000004941010")


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00A40400", 0x6700),  # SELECT with no name
        ("00A4000007A000000003101000", 0x6A86),  # SELECT by file id: unsupported P1
        ("00A4040107A000000003101000", 0x6A86),  # bad P2
        ("00A4040007A000000099999900", 0x6A82),  # unknown AID
        ("00FF000000", 0x6D00),  # unknown INS
        ("B0A4040007A000000003101000", 0x6E00),  # unknown CLA
        ("80A4040007A000000003101000", 0x6E00),  # known INS under a wrong CLA
        ("00A404", 0x6700),  # shorter than a header
        ("00A4040009A0000000", 0x6700),  # Lc larger than the data
        ("80A8000002830000", 0x6985),  # GPO before any SELECT
        ("00B2010C00", 0x6985),  # READ RECORD with nothing selected
        ("80CA9F3600", 0x6985),  # GET DATA with nothing selected
        ("00C0000010", 0x6985),  # GET RESPONSE on a T=1 card
    ],
)
def test_bad_input_status_words(apdu: str, sw: int) -> None:
    card = powered()
    assert Response.from_bytes(card.transmit(bytes.fromhex(apdu))).sw == sw


def test_gpo_checks_pdol_length_and_template() -> None:
    card = powered("visa-contactless", "contactless")
    sel = tx(card, Command.select(VISA))
    pdol = tlv.find(sel.data, 0x9F38)
    assert pdol is not None
    assert tx(card, Command.gpo(b"\x00" * 3)).sw == 0x6700
    bad = Command(0x80, 0xA8, 0, 0, b"\x84\x00", 0)
    assert tx(card, bad).sw == 0x6A80
    assert tx(card, Command(0x80, 0xA8, 1, 0, b"\x83\x00", 0)).sw == 0x6A86


def test_gpo_twice_is_refused_and_atc_increments() -> None:
    card = load_card("visa-chip-pin")
    before = card.atc()
    o = open_app(card, read=False)
    assert o.gpo.ok and card.atc() == before + 1
    assert tx(card, Command.gpo(b"")).sw == 0x6985
    o = open_app(card, read=False)  # a new session (power on again)
    assert card.atc() == before + 2


def test_gpo_format_1_and_2() -> None:
    v = open_app(load_card("visa-chip-pin"), read=False)
    assert tlv.decode(v.gpo.data)[0].tag == 0x80
    m = open_app(load_card("mc-chip-signature"), read=False)
    assert tlv.decode(m.gpo.data)[0].tag == 0x77
    assert tlv.find(m.gpo.data, 0x82) == m.tags[0x82]


def test_read_record_errors_and_content() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    assert tlv.find(tx(card, Command.read_record(2, 1)).data, 0x5A) == bytes.fromhex(
        card.pan)
    assert tx(card, Command.read_record(2, 9)).sw == 0x6A83
    assert tx(card, Command.read_record(9, 1)).sw == 0x6A82
    assert tx(card, Command.read_record(0, 1)).sw == 0x6A86  # SFI 0
    assert tx(card, Command(0x00, 0xB2, 1, 0x10, b"", 0)).sw == 0x6A86  # P2 not "SFI" mode
    assert tx(card, Command(0x00, 0xB2, 0, 0x0C, b"", 0)).sw == 0x6A86  # record 0
    assert o.tags[0x5F24] == bytes.fromhex("311231")
    assert o.tags[0x5F20] == b"CARDLOOP/VISA"


def test_get_data() -> None:
    card = load_card("visa-chip-pin")
    open_app(card, read=False)
    atc = tx(card, Command.get_data(0x9F36))
    assert atc.data == tlv.encode(0x9F36, card.atc().to_bytes(2, "big"))
    assert tx(card, Command.get_data(0x9F17)).data == bytes.fromhex("9F170103")
    assert tx(card, Command.get_data(0x9F13)).ok
    assert tx(card, Command.get_data(0x9F4F)).ok  # log format
    assert tx(card, Command.get_data(0x9F7F)).sw == 0x6A88


def test_get_challenge_is_random_but_reproducible() -> None:
    a, b = powered(), powered()
    ca = tx(a, Command.get_challenge()).data
    cb = tx(b, Command.get_challenge()).data
    assert len(ca) == 8 and ca == cb  # same profile, same default seed
    assert tx(a, Command.get_challenge()).data != ca
    assert tx(a, Command(0x00, 0x84, 1, 0, b"", 0)).sw == 0x6A86


def test_internal_authenticate_errors() -> None:
    card = load_card("visa-online-pin")  # SDA only: no ICC key
    open_app(card, read=False)
    assert tx(card, Command.internal_authenticate(b"\x01\x02\x03\x04")).sw == 0x6985
    card = load_card("visa-chip-pin")
    open_app(card, read=False)
    assert tx(card, Command(0x00, 0x88, 0, 0, b"", 0)).sw == 0x6700
    assert tx(card, Command(0x00, 0x88, 1, 0, b"\x01", 0)).sw == 0x6A86


class TestT0:
    def test_case4_answer_needs_get_response(self) -> None:
        card = powered("visa-t0")
        r = raw_tx(card, Command.select(VISA))
        assert r.sw1 == 0x61
        n = r.sw2
        full = raw_tx(card, Command.get_response(n))
        assert full.ok and len(full.data) == n and tlv.find(full.data, 0x84) == VISA
        assert raw_tx(card, Command.get_response(n)).sw == 0x6985  # nothing left

    def test_get_response_in_pieces(self) -> None:
        card = powered("visa-t0")
        n = raw_tx(card, Command.select(VISA)).sw2
        part = raw_tx(card, Command.get_response(10))
        assert len(part.data) == 10 and part.sw1 == 0x61 and part.sw2 == n - 10
        rest = raw_tx(card, Command.get_response(n - 10))
        assert rest.ok
        assert tlv.find(part.data + rest.data, 0x84) == VISA

    def test_case2_wrong_le_gets_6cxx(self) -> None:
        card = powered("visa-t0")
        sel = raw_tx(card, Command.select(VISA))
        raw_tx(card, Command.get_response(sel.sw2))
        gpo = raw_tx(card, Command.gpo(b""))
        assert gpo.sw1 == 0x61
        raw_tx(card, Command.get_response(gpo.sw2))
        r = raw_tx(card, Command.read_record(1, 1))  # Le = 00
        assert r.sw1 == 0x6C
        again = raw_tx(card, Command(0x00, 0xB2, 1, 0x0C, b"", r.sw2))
        assert again.ok and len(again.data) == r.sw2
        assert raw_tx(card, Command.read_record(1, 7)).sw == 0x6A83  # errors pass through


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6),
       st.sampled_from(["visa-chip-pin", "mc-chip-signature", "visa-t0", "elo-combo"]))
def test_any_bytes_get_a_status_word_never_an_exception(apdus: list[bytes], name: str) -> None:
    card = load_card(name)
    open_app(card, read=False)
    for raw in apdus:
        out = card.transmit(raw)
        assert len(out) >= 2
        assert out[-2] in (0x90, 0x61, 0x62, 0x63, 0x65, 0x67, 0x69, 0x6A, 0x6B, 0x6C, 0x6D,
                           0x6E, 0x6F)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
       st.binary(max_size=60))
def test_known_instructions_with_random_parameters(ins_i: int, p1: int, p2: int,
                                                   data: bytes) -> None:
    ins = [(0x00, 0xA4), (0x80, 0xA8), (0x00, 0xB2), (0x80, 0xCA), (0x00, 0x20), (0x00, 0x84),
           (0x00, 0x88), (0x80, 0xAE), (0x00, 0x82), (0x84, 0x24), (0x04, 0xDA)]
    cla, code = ins[ins_i % len(ins)]
    card = load_card("mc-wrong-pin-then-right")
    open_app(card, read=False)
    r = Response.from_bytes(card.transmit(Command(cla, code, p1, p2, data, 0).to_bytes()))
    assert r.sw1 in (0x90, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6D, 0x6E)
    assert card.pin_tries_left >= 2  # at most one try lost to a random VERIFY


def test_transaction_log_newest_first() -> None:
    from test_card_support import cdol_data

    card = load_card("mc-offline-approved")
    amounts = ["000000000100", "000000000200", "000000000300"]
    for amount in amounts:
        o = open_app(card)
        r = tx(card, Command.generate_ac(0x40, cdol_data(o, 1, {0x9F02: bytes.fromhex(amount)})))
        assert r.ok
        card.power_off()
    o = open_app(card, read=False)
    assert o.tags[0x9F4D] == bytes([11, 10])  # log entry in the FCI: SFI 11, 10 records
    fmt = tlv.find(tx(card, Command.get_data(0x9F4F)).data, 0x9F4F)
    assert fmt is not None
    offsets, pos = {}, 0
    for tag, length in tlv.parse_dol(fmt):
        offsets[tag] = (pos, pos + length)
        pos += length
    recs = [tx(card, Command.read_record(11, i)) for i in (1, 2, 3, 4)]
    assert [r.sw for r in recs] == [0x9000, 0x9000, 0x9000, 0x6A83]
    a, b = offsets[0x9F02]
    assert [r.data[a:b].hex() for r in recs[:3]] == list(reversed(amounts))
    a, b = offsets[0x9F27]
    assert all(r.data[a:b] == b"\x40" for r in recs[:3])
    a, b = offsets[0x9F36]
    atcs = [int.from_bytes(r.data[a:b], "big") for r in recs[:3]]
    assert atcs == sorted(atcs, reverse=True) and len(set(atcs)) == 3
