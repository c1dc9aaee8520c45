"""ODA chain: CAPK -> issuer certificate -> ICC certificate / SSAD -> dynamic signatures."""

from __future__ import annotations

import hashlib

import pytest
from test_card_support import TERMINAL, cdol_data, open_app, parse_gac, tx

from virtual_devices.emv import pki, tlv
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.card import load_card


def test_capk_records_have_valid_checksums() -> None:
    records = pki.capk_records()
    assert {c.rid.hex().upper() for c in records} == {
        "A000000003", "A000000004", "A000000025", "A000000494"
    }
    for c in records:
        assert c.checksum == hashlib.sha1(
            c.rid + bytes([c.index]) + c.modulus + c.exponent
        ).digest()
        assert len(c.modulus) == 176 and c.exponent == b"\x03"


def _flip(b: bytes, i: int = 30) -> bytes:
    x = bytearray(b)
    x[i] ^= 0x80
    return bytes(x)


def _chain(opened_tags: dict[int, bytes], pan: str, brand: str) -> pki.PublicKey:
    capk = pki.capk_for(brand)
    assert opened_tags[0x8F] == bytes([capk.index])
    return pki.recover_issuer_pk(capk, opened_tags[0x90], opened_tags.get(0x92, b""),
                                 opened_tags[0x9F32], pan)


def test_sda_card_verifies_and_tamper_fails() -> None:
    card = load_card("visa-online-pin")
    o = open_app(card)
    static = o.oda_data + o.tags[0x82]  # 9F4A lists the AIP
    assert o.tags[0x9F4A] == b"\x82"
    issuer = _chain(o.tags, card.pan, "visa")
    dac = pki.verify_sda(issuer, o.tags[0x93], static)
    assert len(dac) == 2
    with pytest.raises(pki.OdaError):
        pki.verify_sda(issuer, o.tags[0x93], _flip(static, 5))
    with pytest.raises(pki.OdaError):
        pki.verify_sda(issuer, _flip(o.tags[0x93]), static)


def test_issuer_certificate_bound_to_bin_and_capk() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    with pytest.raises(pki.OdaError, match="PAN"):
        pki.recover_issuer_pk(pki.capk_for("visa"), o.tags[0x90], o.tags.get(0x92, b""),
                              o.tags[0x9F32], "5413330089010012")
    with pytest.raises(pki.OdaError):
        pki.recover_issuer_pk(pki.capk_for("mastercard"), o.tags[0x90],
                              o.tags.get(0x92, b""), o.tags[0x9F32])
    with pytest.raises(pki.OdaError, match="hash"):
        pki.recover_issuer_pk(pki.capk_for("visa"), o.tags[0x90], _flip(o.tags[0x92], 0),
                              o.tags[0x9F32])


def test_dda_chain_and_internal_authenticate() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    static = o.oda_data + o.tags[0x82]
    issuer = _chain(o.tags, card.pan, "visa")
    icc = pki.recover_icc_pk(issuer, o.tags[0x9F46], o.tags.get(0x9F48, b""), o.tags[0x9F47],
                             static, card.pan)
    assert icc == pki.public_of(pki.private_key("icc_01"))
    ddol_data = tlv.build_dol(o.tags[0x9F49], TERMINAL)
    r = tx(card, Command.internal_authenticate(ddol_data))
    assert r.ok
    sdad = tlv.find(r.data, 0x80)
    assert sdad is not None
    dn = pki.verify_dda(icc, sdad, ddol_data)
    assert len(dn) == 8
    with pytest.raises(pki.OdaError):
        pki.verify_dda(icc, sdad, ddol_data[:-1] + b"\x00")
    with pytest.raises(pki.OdaError, match="hash"):
        pki.recover_icc_pk(issuer, o.tags[0x9F46], o.tags.get(0x9F48, b""), o.tags[0x9F47],
                           _flip(static, 3), card.pan)


def test_profile_with_broken_icc_certificate_fails_dda() -> None:
    card = load_card("visa-oda-failure")
    o = open_app(card)
    issuer = _chain(o.tags, card.pan, "visa")
    with pytest.raises(pki.OdaError):
        pki.recover_icc_pk(issuer, o.tags[0x9F46], o.tags.get(0x9F48, b""), o.tags[0x9F47],
                           o.oda_data + o.tags[0x82], card.pan)


@pytest.mark.parametrize("name", ["mc-chip-signature", "mc-contactless"])
def test_cda_signature_carries_the_cryptogram(name: str) -> None:
    card = load_card(name)
    o = open_app(card)
    issuer = _chain(o.tags, card.pan, "mastercard")
    icc = pki.recover_icc_pk(issuer, o.tags[0x9F46], o.tags.get(0x9F48, b""), o.tags[0x9F47],
                             o.oda_data + o.tags[0x82], card.pan)
    cdol1 = cdol_data(o, 1)
    r = tx(card, Command.generate_ac(0x80 | 0x10, cdol1))
    g = parse_gac(r)
    assert g.ac is None and g.sdad is not None and g.cid == 0x80
    objs = [t for t in tlv.decode(r.data)[0].children if t.tag != 0x9F4B]
    response_tlvs = b"".join(t.to_bytes() for t in objs)
    tdhc = pki.cda_transaction_hash(o.pdol_data, cdol1, response_tlvs)
    res = pki.verify_cda(icc, g.sdad, TERMINAL[0x9F37], g.cid, tdhc)
    assert len(res.cryptogram) == 8
    with pytest.raises(pki.OdaError, match="hash code"):
        pki.verify_cda(icc, g.sdad, TERMINAL[0x9F37], g.cid,
                       pki.cda_transaction_hash(o.pdol_data, _flip(cdol1, 0), response_tlvs))
    with pytest.raises(pki.OdaError):
        pki.verify_cda(icc, g.sdad, bytes(4), g.cid, tdhc)
    with pytest.raises(pki.OdaError, match="CID"):
        pki.verify_cda(icc, g.sdad, TERMINAL[0x9F37], 0x40, tdhc)
