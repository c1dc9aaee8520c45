"""Offline PIN: plaintext and enciphered VERIFY, try counter, blocking."""

from __future__ import annotations

from test_card_support import open_app, tx

from virtual_devices.emv import pki
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.card import load_card, pin_block


def test_wrong_then_right_pin_resets_counter() -> None:
    card = load_card("mc-wrong-pin-then-right")
    open_app(card, read=False)
    assert tx(card, Command.verify(0x80, pin_block("1357"))).sw == 0x63C2
    assert card.pin_tries_left == 2
    assert tx(card, Command.get_data(0x9F17)).data[-1] == 2
    assert tx(card, Command.verify(0x80, pin_block("2468"))).ok
    assert card.pin_tries_left == 3


def test_three_wrong_pins_block_and_survive_power_cycle() -> None:
    card = load_card("visa-chip-pin")
    open_app(card, read=False)
    sws = [tx(card, Command.verify(0x80, pin_block("0000"))).sw for _ in range(3)]
    assert sws == [0x63C2, 0x63C1, 0x63C0]
    assert tx(card, Command.verify(0x80, pin_block("1234"))).sw == 0x6983
    card.power_off()
    open_app(card, read=False)
    assert tx(card, Command.verify(0x80, pin_block("1234"))).sw == 0x6983
    assert card.pin_tries_left == 0


def test_blocked_profile_answers_6983() -> None:
    card = load_card("visa-pin-blocked")
    open_app(card, read=False)
    assert tx(card, Command.get_data(0x9F17)).data[-1] == 0
    assert tx(card, Command.verify(0x80, pin_block("1234"))).sw == 0x6983


def test_malformed_pin_blocks() -> None:
    card = load_card("visa-chip-pin")
    open_app(card, read=False)
    assert tx(card, Command.verify(0x80, bytes.fromhex("241234FFFF"))).sw == 0x6700
    assert tx(card, Command.verify(0x80, bytes.fromhex("141234FFFFFFFFFF"))).sw == 0x6A80
    assert tx(card, Command.verify(0x80, bytes.fromhex("2412A4FFFFFFFFFF"))).sw == 0x6A80
    assert tx(card, Command.verify(0x81, pin_block("1234"))).sw == 0x6A86
    assert card.pin_tries_left == 3  # unreadable blocks do not cost a try


def _encipher(card_tags: dict[int, bytes], pan: str, static: bytes, block: bytes,
              challenge: bytes) -> bytes:
    issuer = pki.recover_issuer_pk(pki.capk_for("visa"), card_tags[0x90],
                                   card_tags.get(0x92, b""), card_tags[0x9F32], pan)
    icc = pki.recover_icc_pk(issuer, card_tags[0x9F46], card_tags.get(0x9F48, b""),
                             card_tags[0x9F47], static, pan)
    msg = b"\x7f" + block + challenge + b"\x55" * (icc.size - 17)
    return pow(int.from_bytes(msg, "big"), icc.e, icc.n).to_bytes(icc.size, "big")


def test_enciphered_pin_with_icc_key() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    static = o.oda_data + o.tags[0x82]
    ch = tx(card, Command.get_challenge()).data
    enc = _encipher(o.tags, card.pan, static, pin_block("9999"), ch)
    assert tx(card, Command.verify(0x88, enc)).sw == 0x63C2
    # the challenge is good for one VERIFY only
    assert tx(card, Command.verify(0x88, enc)).sw == 0x6985
    ch = tx(card, Command.get_challenge()).data
    enc = _encipher(o.tags, card.pan, static, pin_block("1234"), ch)
    assert tx(card, Command.verify(0x88, enc)).ok
    # a block made for another challenge is refused without costing a try
    tx(card, Command.get_challenge())
    assert tx(card, Command.verify(0x88, enc)).sw == 0x6985
    assert card.pin_tries_left == 3
    assert tx(card, Command.verify(0x88, enc[:-1])).sw == 0x6700


def test_enciphered_pin_needs_an_icc_key() -> None:
    card = load_card("visa-online-pin")  # SDA card
    open_app(card, read=False)
    tx(card, Command.get_challenge())
    assert tx(card, Command.verify(0x88, bytes(128))).sw == 0x6985


def test_enciphered_pin_with_pin_encipherment_key() -> None:
    card = load_card("visa-sda-pin-key")
    o = open_app(card)
    issuer = pki.recover_issuer_pk(pki.capk_for("visa"), o.tags[0x90], o.tags.get(0x92, b""),
                                   o.tags[0x9F32], card.pan)
    # 9F2D binds no static data (Book 2 §7.1)
    key = pki.recover_icc_pk(issuer, o.tags[0x9F2D], o.tags.get(0x9F2F, b""), o.tags[0x9F2E],
                             b"", card.pan)
    assert 0x9F46 not in o.tags  # an SDA card: no ICC key

    def enc(pin: str, ch: bytes) -> bytes:
        msg = b"\x7f" + pin_block(pin) + ch + b"\x00" * (key.size - 17)
        return pow(int.from_bytes(msg, "big"), key.e, key.n).to_bytes(key.size, "big")

    assert tx(card, Command.verify(0x88, enc("1111", tx(card, Command.get_challenge()).data))
              ).sw == 0x63C2
    assert tx(card, Command.verify(0x88, enc("5555", tx(card, Command.get_challenge()).data))).ok
