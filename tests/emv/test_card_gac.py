"""GENERATE AC, issuer authentication and issuer scripts, against independent crypto."""

from __future__ import annotations

from typing import Any

import pyemv
import pytest
from test_card_support import TERMINAL, Opened, cdol_data, open_app, parse_gac, tx

from virtual_devices.emv import crypto, scripts, tlv
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.card import VirtualCard, load_card, pin_block

ARQC, TC, AAC = 0x80, 0x40, 0x00


def _ref(card: VirtualCard) -> Any:
    ik = crypto.ISSUER_KEYS[card.profile.brand]
    cls = {"visa-cvn10": pyemv.cvn.VisaCVN10, "visa-cvn18": pyemv.cvn.VisaCVN18,
           "mc-cvn16": pyemv.cvn.MasterCardCVN16}[card.profile.applications[0].scheme]
    return cls(iss_mk_ac=ik.imk_ac, iss_mk_smi=ik.imk_smi, iss_mk_smc=ik.imk_smc,
               pan=card.pan, psn=card.psn)


def _independent_ac(card: VirtualCard, o: Opened, atc: bytes, iad: bytes,
                    values: dict[int, bytes]) -> bytes:
    v = {**TERMINAL, **values}
    args = dict(tag_9f02=v[0x9F02], tag_9f03=v[0x9F03], tag_9f1a=v[0x9F1A], tag_95=v[0x95],
                tag_5f2a=v[0x5F2A], tag_9a=v[0x9A], tag_9c=v[0x9C], tag_9f37=v[0x9F37],
                tag_82=o.tags[0x82], tag_9f36=atc)
    scheme = card.profile.applications[0].scheme
    ref = _ref(card)
    if scheme == "visa-cvn10":
        return ref.generate_ac(**args, cvr=iad[3:7])
    if scheme == "mc-cvn16":
        return ref.generate_ac(**args, cvr=iad[2:8])
    return ref.generate_ac(**args, tag_9f10=iad)


@pytest.mark.parametrize("name", ["visa-chip-pin", "visa-online-pin", "mc-chip-signature",
                                  "elo-credit", "amex-chip-pin"])
def test_online_approval_with_external_authenticate_or_cdol2(name: str) -> None:
    card = load_card(name)
    o = open_app(card)
    g1 = parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    assert g1.cid == ARQC and g1.atc == card.atc().to_bytes(2, "big")
    assert g1.ac == _independent_ac(card, o, g1.atc, g1.iad, {})
    scheme = card.profile.applications[0].scheme
    keys = crypto.card_keys(card.profile.brand, card.pan, card.psn)
    assert g1.ac is not None
    iad91 = crypto.issuer_authentication_data(scheme, keys.ac, g1.atc, TERMINAL[0x9F37],
                                              g1.ac, True)
    extra = {0x8A: b"00", 0x91: iad91}
    if 0x91 not in {t for t, _ in tlv.parse_dol(o.tags[0x8D])}:
        assert tx(card, Command.external_authenticate(iad91)).ok
    g2 = parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 2, extra))))
    assert g2.cid == TC
    assert g2.ac == _independent_ac(card, o, g2.atc, g2.iad, {})
    assert tx(card, Command.get_data(0x9F13)).data[-2:] == g1.atc  # last online ATC
    assert tx(card, Command.generate_ac(TC, cdol_data(o, 2, extra))).sw == 0x6985


def test_wrong_arpc_is_rejected_and_card_declines() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    g1 = parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    keys = crypto.card_keys("visa", card.pan, card.psn)
    assert g1.ac is not None
    good = crypto.issuer_authentication_data("visa-cvn10", keys.ac, g1.atc, None, g1.ac, True)
    bad = bytes([good[0] ^ 0xFF]) + good[1:]
    assert tx(card, Command.external_authenticate(bad)).sw == 0x6300
    assert tx(card, Command.external_authenticate(good)).sw == 0x6985  # only once
    g2 = parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"00"}))))
    assert g2.cid == AAC
    assert g2.iad[4] & 0x08  # CVR: issuer authentication failed


def test_mc_arpc_in_cdol2_wrong_gives_aac() -> None:
    card = load_card("mc-chip-signature")
    o = open_app(card)
    parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    g2 = parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"00",
                                                                      0x91: b"\x11" * 10}))))
    assert g2.cid == AAC


def test_issuer_auth_missing_when_required_declines() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    g2 = parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"00"}))))
    assert g2.cid == AAC


def test_unable_to_go_online_follows_offline_permission() -> None:
    off = load_card("mc-offline-approved")
    o = open_app(off)
    parse_gac(tx(off, Command.generate_ac(ARQC, cdol_data(o, 1))))
    assert parse_gac(tx(off, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"Y3"})))).cid == TC
    on = load_card("visa-chip-pin")
    o = open_app(on)
    parse_gac(tx(on, Command.generate_ac(ARQC, cdol_data(o, 1))))
    assert parse_gac(tx(on, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"Y3"})))).cid == AAC


def test_card_declines_at_second_gac_despite_issuer_approval() -> None:
    card = load_card("visa-card-decline-2nd-gac")
    o = open_app(card)
    g1 = parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    keys = crypto.card_keys("visa", card.pan, card.psn)
    assert g1.ac is not None
    iad91 = crypto.issuer_authentication_data("visa-cvn10", keys.ac, g1.atc, None, g1.ac, True)
    assert tx(card, Command.external_authenticate(iad91)).ok
    assert parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 2, {0x8A: b"00"})))).cid == AAC


def test_issuer_decline_terminal_asks_aac() -> None:
    card = load_card("mc-issuer-decline")
    o = open_app(card)
    parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    assert parse_gac(tx(card, Command.generate_ac(AAC, cdol_data(o, 2, {0x8A: b"51"})))).cid \
        == AAC


def test_offline_tc_then_velocity_forces_online() -> None:
    card = load_card("mc-offline-approved")
    cids = []
    for _ in range(12):
        o = open_app(card)
        cids.append(parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 1)))).cid)
        card.power_off()
    ucol = card.profile.applications[0].ucol
    assert cids[:ucol] == [TC] * ucol and cids[ucol:] == [ARQC] * (12 - ucol)


def test_card_never_answers_above_the_request() -> None:
    card = load_card("mc-offline-approved")
    o = open_app(card)
    assert parse_gac(tx(card, Command.generate_ac(AAC, cdol_data(o, 1)))).cid == AAC
    card = load_card("visa-chip-pin")  # online-only card asked for TC
    o = open_app(card)
    assert parse_gac(tx(card, Command.generate_ac(TC, cdol_data(o, 1)))).cid == ARQC


def test_gac_errors() -> None:
    card = load_card("visa-chip-pin")
    o = open_app(card)
    data = cdol_data(o, 1)
    assert tx(card, Command.generate_ac(0xC0, data)).sw == 0x6A86
    assert tx(card, Command(0x80, 0xAE, 0x80, 0x01, data, 0)).sw == 0x6A86
    assert tx(card, Command.generate_ac(ARQC, data[:-1])).sw == 0x6700
    g = parse_gac(tx(card, Command.generate_ac(AAC, data)))
    assert g.cid == AAC
    assert tx(card, Command.generate_ac(TC, cdol_data(o, 2))).sw == 0x6985  # no 2nd after AAC
    fresh = load_card("visa-chip-pin")
    fresh.power_on("contact")
    tx(fresh, Command.select(o.aid))
    assert tx(fresh, Command.generate_ac(ARQC, data)).sw == 0x6985  # before GPO


def _online(card: VirtualCard) -> tuple[Opened, bytes, bytes]:
    o = open_app(card)
    g1 = parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1))))
    assert g1.ac is not None
    return o, g1.atc, g1.ac


@pytest.mark.parametrize("name", ["visa-chip-pin", "mc-wrong-pin-then-right", "elo-credit"])
def test_scripts_pin_unblock_and_change(name: str) -> None:
    card = load_card(name)
    o, atc, arqc = _online(card)
    for _ in range(3):
        tx(card, Command.verify(0x80, bytes.fromhex("240000FFFFFFFFFF")))
    assert card.pin_tries_left == 0
    assert tx(card, scripts.pin_unblock(card.profile, atc, arqc)).ok
    assert card.pin_tries_left == 3
    assert tx(card, scripts.pin_change(card.profile, "8642", atc, arqc)).ok
    card.power_off()
    open_app(card, read=False)
    assert tx(card, Command.verify(0x80, pin_block("8642"))).ok
    assert o.tags[0x5A].hex().rstrip("f") == card.pan


def test_script_with_bad_mac_changes_nothing() -> None:
    card = load_card("visa-chip-pin")
    _, atc, arqc = _online(card)
    cmd = bytearray(scripts.application_block(card.profile, atc, arqc))
    cmd[-1] ^= 0x01
    assert tx(card, bytes(cmd)).sw == 0x6988
    assert not card.app_blocked(card.profile.applications[0].aid)
    # a MAC made for another transaction's ARQC is also wrong
    assert tx(card, scripts.application_block(card.profile, atc, bytes(8))).sw == 0x6988


def test_scripts_need_an_online_transaction() -> None:
    card = load_card("visa-chip-pin")
    open_app(card)
    assert tx(card, scripts.application_block(card.profile, b"\x00\x01", bytes(8))).sw == 0x6985


def test_application_block_then_unblock() -> None:
    card = load_card("visa-chip-pin")
    aid = card.profile.applications[0].aid
    _, atc, arqc = _online(card)
    assert tx(card, scripts.application_block(card.profile, atc, arqc)).ok
    assert card.app_blocked(aid)
    card.power_off()
    card.power_on("contact")
    assert tx(card, Command.select(aid)).sw == 0x6283
    card.power_off()
    o = open_app(card)
    assert parse_gac(tx(card, Command.generate_ac(ARQC, cdol_data(o, 1)))).cid == AAC
    # the issuer can unblock it in a later online transaction
    card2 = load_card("visa-chip-pin")
    _, atc, arqc = _online(card2)
    tx(card2, scripts.application_block(card2.profile, atc, arqc))
    assert tx(card2, scripts.application_unblock(card2.profile, atc, arqc)).ok
    assert not card2.app_blocked(aid)


def test_card_block() -> None:
    card = load_card("mc-chip-signature")
    _, atc, arqc = _online(card)
    assert tx(card, scripts.card_block(card.profile, atc, arqc)).ok
    assert card.blocked
    card.power_off()
    card.power_on("contact")
    assert tx(card, Command.select(card.profile.applications[0].aid)).sw == 0x6A81


def test_put_data_updates_offline_limits() -> None:
    card = load_card("mc-offline-approved")
    _, atc, arqc = _online(card)
    assert tx(card, scripts.put_data(card.profile, 0x9F23, b"\x01", atc, arqc)).ok
    assert tx(card, Command.get_data(0x9F23)).data == bytes.fromhex("9F230101")
    assert tx(card, scripts.put_data(card.profile, 0x9F36, b"\x01", atc, arqc)).sw == 0x6A88


def test_csu_from_issuer_blocks_application_and_sets_pin_counter() -> None:
    card = load_card("visa-online-pin")  # CVN 18: ARPC method 2 with a Card Status Update
    o, atc, arqc = _online(card)
    keys = crypto.card_keys("visa", card.pan, card.psn)
    sk = crypto.session_key("visa-cvn18", keys.ac, atc)
    csu = bytes([0x02, 0x80 | 0x20 | 0x10, 0, 0])  # approved, block app, PIN tries := 2
    iad91 = crypto.arpc_method2(sk, arqc, csu) + csu
    assert tx(card, Command.external_authenticate(iad91)).ok
    assert card.app_blocked(o.aid) and card.pin_tries_left == 2
    # the same CSU under a wrong ARPC changes nothing
    card2 = load_card("visa-online-pin")
    o2, atc2, arqc2 = _online(card2)
    bad = bytes(4) + csu
    assert tx(card2, Command.external_authenticate(bad)).sw == 0x6300
    assert not card2.app_blocked(o2.aid) and card2.pin_tries_left == 3
