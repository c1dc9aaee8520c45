"""Contactless paths: PPSE, qVSDC GPO with TTQ/CTQ, fDDA, phones, M/Chip path, the field."""

from __future__ import annotations

import pyemv
import pytest
from test_card_support import TERMINAL, cdol_data, open_app, parse_gac, tx

from virtual_devices.emv import crypto, pki, tlv
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.card import PPSE, CardMute, load_card
from virtual_devices.emv.field import Collision, Field, NoCard

# TTQ byte 1: qVSDC, contact chip, online PIN, signature; byte 3: CDCVM supported.
TTQ_NO_CVM = bytes.fromhex("36004000")
TTQ_CVM = bytes.fromhex("36404000")  # byte 2 bit 7: CVM required (over the CVM limit)
TTQ_CVM_SIG_ONLY = bytes.fromhex("22404000")


def test_ppse_lists_contactless_apps_with_kernel_ids() -> None:
    card = load_card("elo-combo")
    card.power_on("contactless")
    r = tx(card, Command.select(PPSE))
    assert r.ok
    assert tlv.find_all(r.data, 0x4F) == [bytes.fromhex("A0000004941010"),
                                          bytes.fromhex("A0000004942010")]
    assert tlv.find_all(r.data, 0x9F2A) == [b"\x03", b"\x03"]
    mc = load_card("mc-contactless")
    mc.power_on("contactless")
    assert tlv.find(tx(mc, Command.select(PPSE)).data, 0x9F2A) == b"\x02"


def test_contact_only_card_has_no_contactless_interface() -> None:
    with pytest.raises(CardMute):
        load_card("mc-chip-signature").power_on("contactless")


def _qvsdc(name: str, ttq: bytes, amount: str = "000000001000"):  # type: ignore[no-untyped-def]
    card = load_card(name)
    o = open_app(card, interface="contactless",
                 terminal={0x9F66: ttq, 0x9F02: bytes.fromhex(amount)}, read=False)
    return card, o


def test_qvsdc_under_cvm_limit_returns_arqc_in_gpo() -> None:
    card, o = _qvsdc("visa-contactless", TTQ_NO_CVM)
    assert o.gpo.ok
    f = tlv.flatten(o.gpo.data)
    assert f[0x9F27] == b"\x80" and f[0x9F6C] == b"\x00\x00"
    assert f[0x57].hex().upper().startswith(card.pan + "D")
    # the cryptogram is CVN 18 over the PDOL data (independent computation)
    ik = crypto.ISSUER_KEYS["visa"]
    ref = pyemv.cvn.VisaCVN18(iss_mk_ac=ik.imk_ac, iss_mk_smi=ik.imk_smi,
                              iss_mk_smc=ik.imk_smc, pan=card.pan, psn=card.psn)
    v = {**TERMINAL, 0x9F66: TTQ_NO_CVM}
    assert f[0x9F26] == ref.generate_ac(
        tag_9f02=v[0x9F02], tag_9f03=v[0x9F03], tag_9f1a=v[0x9F1A], tag_95=v[0x95],
        tag_5f2a=v[0x5F2A], tag_9a=v[0x9A], tag_9c=v[0x9C], tag_9f37=v[0x9F37],
        tag_82=f[0x82], tag_9f36=f[0x9F36], tag_9f10=f[0x9F10])
    # no GENERATE AC on this path: the transaction is already decided
    assert tx(card, Command.generate_ac(0x80, b"")).sw in (0x6700, 0x6985)


def test_qvsdc_fdda_signature_verifies() -> None:
    card, o = _qvsdc("visa-contactless", TTQ_NO_CVM)
    f = tlv.flatten(o.gpo.data)
    tags = dict(f)
    afl = f[0x94]
    oda = b""
    for i in range(0, len(afl), 4):
        for rec in range(afl[i + 1], afl[i + 2] + 1):
            r = tx(card, Command.read_record(afl[i] >> 3, rec))
            if rec < afl[i + 1] + afl[i + 3]:
                oda += tlv.decode(r.data)[0].value
            tags.update({k: v for k, v in tlv.flatten(r.data).items() if k not in tags})
    issuer = pki.recover_issuer_pk(pki.capk_for("visa"), tags[0x90], tags.get(0x92, b""),
                                   tags[0x9F32], card.pan)
    icc = pki.recover_icc_pk(issuer, tags[0x9F46], tags.get(0x9F48, b""), tags[0x9F47],
                             oda + tags[0x82], card.pan)
    terminal = TERMINAL[0x9F37] + TERMINAL[0x9F02] + TERMINAL[0x5F2A] + f[0x9F69]
    assert pki.verify_dda(icc, f[0x9F4B], terminal) == f[0x9F69][1:5]
    with pytest.raises(pki.OdaError):
        pki.verify_dda(icc, f[0x9F4B], terminal[:-1] + b"\x01")


def test_qvsdc_over_cvm_limit_asks_online_pin_or_signature() -> None:
    _, o = _qvsdc("visa-contactless", TTQ_CVM, "000000020000")
    assert tlv.find(o.gpo.data, 0x9F6C) == b"\x80\x00"  # online PIN required
    _, o = _qvsdc("visa-contactless", TTQ_CVM_SIG_ONLY, "000000020000")
    assert tlv.find(o.gpo.data, 0x9F6C) == b"\x40\x00"  # signature required


def test_insert_card_over_cvm_limit() -> None:
    _, o = _qvsdc("visa-contactless-insert-card", TTQ_CVM)
    assert o.gpo.sw == 0x6984
    _, o = _qvsdc("visa-contactless-insert-card", TTQ_NO_CVM)
    assert o.gpo.ok


def test_phone_with_cdcvm_needs_no_reader_cvm() -> None:
    _, o = _qvsdc("visa-phone-cdcvm", TTQ_CVM, "000000050000")
    f = tlv.flatten(o.gpo.data)
    assert f[0x9F6C][1] & 0x80 and not f[0x9F6C][0] & 0xC0  # CDCVM performed, no PIN/sig
    assert f[0x9F6E][0] == 0x23  # FFI version 1, form factor 00011: consumer mobile phone
    assert f[0x9F27] == b"\x80"


def test_locked_phone_says_see_phone_then_works_after_unlock() -> None:
    card, o = _qvsdc("visa-phone-see-phone", TTQ_CVM)
    assert o.gpo.sw == 0x6986
    card.power_off()
    card.confirm_cdcvm()
    o = open_app(card, interface="contactless", terminal={0x9F66: TTQ_CVM}, read=False)
    assert o.gpo.ok and tlv.find(o.gpo.data, 0x9F6C) == b"\x00\x80"
    # under the CVM limit a locked phone still pays
    card2, o2 = _qvsdc("visa-phone-see-phone", TTQ_NO_CVM)
    assert o2.gpo.ok


def test_mchip_contactless_path_runs_generate_ac_with_cda() -> None:
    card = load_card("mc-contactless")
    o = open_app(card, interface="contactless")
    assert tlv.decode(o.gpo.data)[0].tag == 0x77
    assert o.tags[0x82][1] & 0x80  # EMV mode on contactless
    g = parse_gac(tx(card, Command.generate_ac(0x90, cdol_data(o, 1))))
    assert g.cid == 0x80 and g.sdad is not None


def test_field_collision_and_no_card() -> None:
    f = Field()
    with pytest.raises(NoCard):
        f.poll()
    contact_only = load_card("mc-chip-signature")
    f.enter(contact_only)
    with pytest.raises(NoCard):
        f.poll()  # a card without an antenna does not answer
    a = load_card("visa-contactless")
    f.enter(a)
    card, ats = f.activate()
    assert card is a and ats and a.powered
    b = load_card("visa-phone-cdcvm")
    f.enter(b)
    with pytest.raises(Collision):
        f.poll()
    f.leave(a)
    assert not a.powered
    assert f.poll() is b


def test_mchip_phone_see_phone_when_reader_asks_cdcvm() -> None:
    card = load_card("mc-phone-see-phone")
    o = open_app(card, interface="contactless")
    assert o.tags[0x82][0] & 0x02  # AIP: on-device cardholder verification supported
    cdcvm = {0x9F34: bytes.fromhex("010002")}
    assert tx(card, Command.generate_ac(0x90, cdol_data(o, 1, cdcvm))).sw == 0x6986
    # under the CVM limit the reader asks for no CVM, and the locked phone pays
    g = parse_gac(tx(card, Command.generate_ac(0x90, cdol_data(o, 1, {0x9F34: bytes.fromhex(
        "3F0002")}))))
    assert g.cid == 0x80
    card.power_off()
    card.confirm_cdcvm()
    o = open_app(card, interface="contactless")
    assert parse_gac(tx(card, Command.generate_ac(0x90, cdol_data(o, 1, cdcvm)))).cid == 0x80


def test_qvsdc_offline_approval_spends_the_offline_amount() -> None:
    ttq_offline_ok = bytes.fromhex("36004000")  # no online cryptogram required
    card = load_card("visa-contactless-offline")
    spent = []
    for _ in range(4):
        o = open_app(card, interface="contactless",
                     terminal={0x9F66: ttq_offline_ok, 0x9F02: bytes.fromhex("000000003000")},
                     read=False)
        f = tlv.flatten(o.gpo.data)
        spent.append((f[0x9F27], f[0x9F5D]))
        card.power_off()
    # 100.00 available, 30.00 each: three offline TCs, then the card wants to go online
    assert [c for c, _ in spent] == [b"\x40", b"\x40", b"\x40", b"\x80"]
    assert spent[2][1] == bytes.fromhex("000000001000")
    o = open_app(card, interface="contactless",
                 terminal={0x9F66: bytes.fromhex("36804000")}, read=False)
    assert tlv.find(o.gpo.data, 0x9F27) == b"\x80"  # reader demands online: ARQC
    plain = load_card("visa-contactless")  # no offline spending amount: always online
    o = open_app(plain, interface="contactless", terminal={0x9F66: ttq_offline_ok}, read=False)
    assert tlv.find(o.gpo.data, 0x9F27) == b"\x80" and tlv.find(o.gpo.data, 0x9F5D) is None
