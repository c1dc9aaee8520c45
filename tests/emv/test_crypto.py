"""Each scheme against pyemv's own per-CVN classes (an independent path)."""

from __future__ import annotations

import warnings

import pyemv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtual_devices.emv import crypto

warnings.filterwarnings("ignore", message=".*TripleDES.*")

PAN, PSN = "4761739001010010", "01"
IK = crypto.ISSUER_KEYS["visa"]
TERM = {
    0x9F02: bytes.fromhex("000000012345"),
    0x9F03: bytes(6),
    0x9F1A: bytes.fromhex("0076"),
    0x95: bytes.fromhex("0000008000"),
    0x5F2A: bytes.fromhex("0986"),
    0x9A: bytes.fromhex("261125"),
    0x9C: b"\x00",
    0x9F37: bytes.fromhex("CAFEBABE"),
    0x82: bytes.fromhex("3C00"),
}


def _pyemv_args(v: dict[int, bytes]) -> dict[str, bytes]:
    return {
        "tag_9f02": v[0x9F02], "tag_9f03": v[0x9F03], "tag_9f1a": v[0x9F1A], "tag_95": v[0x95],
        "tag_5f2a": v[0x5F2A], "tag_9a": v[0x9A], "tag_9c": v[0x9C], "tag_9f37": v[0x9F37],
        "tag_82": v[0x82], "tag_9f36": v[0x9F36],
    }


def test_master_key_option_a_matches_pyemv_cvn_class() -> None:
    ref = pyemv.cvn.VisaCVN10(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                              iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    keys = crypto.card_keys("visa", PAN, PSN)
    assert (keys.ac, keys.smi, keys.smc) == (ref.icc_mk_ac, ref.icc_mk_smi, ref.icc_mk_smc)


def test_master_key_known_vector() -> None:
    # pyemv's documented example of EMV option A
    mk = crypto.derive_icc_master_key(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
                                      "12345678901234567", "01")
    assert mk.hex().upper() == "73AD54688CEF2934B0979857E3C719F1"


@settings(max_examples=25, deadline=None)
@given(atc=st.binary(min_size=2, max_size=2), un=st.binary(min_size=4, max_size=4),
       amount=st.integers(0, 999999999))
def test_visa_cvn10(atc: bytes, un: bytes, amount: int) -> None:
    iad = bytes.fromhex("06010A03A4A000")
    v = {**TERM, 0x9F36: atc, 0x9F37: un, 0x9F02: bytes.fromhex(f"{amount:012d}"),
         0x9F10: iad}
    keys = crypto.card_keys("visa", PAN, PSN)
    sk = crypto.session_key("visa-cvn10", keys.ac, atc, un)
    ac = crypto.generate_cryptogram("visa-cvn10", sk, crypto.cryptogram_data("visa-cvn10", v))
    ref = pyemv.cvn.VisaCVN10(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                              iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    assert ac == ref.generate_ac(**_pyemv_args(v), cvr=iad[3:7])
    iad91 = crypto.issuer_authentication_data("visa-cvn10", keys.ac, atc, un, ac, True)
    assert iad91 == ref.generate_arpc(ac, b"00") + b"00"


@settings(max_examples=25, deadline=None)
@given(atc=st.binary(min_size=2, max_size=2), un=st.binary(min_size=4, max_size=4))
def test_visa_cvn18(atc: bytes, un: bytes) -> None:
    iad = bytes.fromhex("06011203A0B800")
    v = {**TERM, 0x9F36: atc, 0x9F37: un, 0x9F10: iad}
    keys = crypto.card_keys("visa", PAN, PSN)
    sk = crypto.session_key("visa-cvn18", keys.ac, atc)
    ac = crypto.generate_cryptogram("visa-cvn18", sk, crypto.cryptogram_data("visa-cvn18", v))
    ref = pyemv.cvn.VisaCVN18(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                              iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    assert ac == ref.generate_ac(**_pyemv_args(v), tag_9f10=iad)
    iad91 = crypto.issuer_authentication_data("visa-cvn18", keys.ac, atc, un, ac, True)
    assert iad91[:4] == ref.generate_arpc(tag_9f26=ac, tag_9f36=atc, csu=crypto.CSU_APPROVED)
    assert iad91[4:] == crypto.CSU_APPROVED


def test_pyemv_documented_cvn18_vector() -> None:
    # The example in pyemv's cvn module documentation, through our functions.
    imk = bytes.fromhex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    mk = crypto.derive_icc_master_key(imk, "1234567890123456", "00")
    atc = bytes.fromhex("0FFF")
    v = {
        0x9F02: bytes.fromhex("000000009999"), 0x9F03: bytes(6), 0x9F1A: bytes.fromhex("0840"),
        0x95: bytes.fromhex("8000048000"), 0x5F2A: bytes.fromhex("0840"),
        0x9A: bytes.fromhex("991231"), 0x9C: b"\x01", 0x9F37: bytes.fromhex("52BF4585"),
        0x82: bytes.fromhex("1800"), 0x9F36: atc, 0x9F10: bytes.fromhex("06011203A0B800"),
    }
    sk = crypto.session_key("visa-cvn18", mk, atc)
    arqc = crypto.generate_cryptogram("visa-cvn18", sk, crypto.cryptogram_data("visa-cvn18", v))
    assert arqc.hex().upper() == "769577B5ABE9FE62"
    assert crypto.arpc_method2(sk, arqc, bytes(4)).hex().upper() == "76503F48"


@settings(max_examples=25, deadline=None)
@given(atc=st.binary(min_size=2, max_size=2), un=st.binary(min_size=4, max_size=4))
def test_mc_cvn16(atc: bytes, un: bytes) -> None:
    ik = crypto.ISSUER_KEYS["mastercard"]
    pan, psn = "5413330089010012", "00"
    iad = bytes.fromhex("0110A00003220000000000000000000000FF")
    v = {**TERM, 0x9F36: atc, 0x9F37: un, 0x9F10: iad}
    keys = crypto.card_keys("mastercard", pan, psn)
    sk = crypto.session_key("mc-cvn16", keys.ac, atc, un)
    ac = crypto.generate_cryptogram("mc-cvn16", sk, crypto.cryptogram_data("mc-cvn16", v))
    ref = pyemv.cvn.MasterCardCVN16(iss_mk_ac=ik.imk_ac, iss_mk_smi=ik.imk_smi,
                                    iss_mk_smc=ik.imk_smc, pan=pan, psn=psn)
    assert ac == ref.generate_ac(**_pyemv_args(v), cvr=iad[2:8])
    iad91 = crypto.issuer_authentication_data("mc-cvn16", keys.ac, atc, un, ac, True)
    assert iad91 == ref.generate_arpc(ac, b"00") + b"00"


def test_mc_session_key_needs_un() -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.session_key("mc-cvn16", bytes(16), b"\x00\x01", None)
    with pytest.raises(crypto.CryptoError):
        crypto.session_key("visa-cvn99", bytes(16), b"\x00\x01")


@pytest.mark.parametrize("scheme", sorted(crypto.SCHEMES))
def test_arpc_accept_and_reject(scheme: str) -> None:
    keys = crypto.card_keys("visa", PAN, PSN)
    atc, un, arqc = b"\x00\x21", bytes.fromhex("01020304"), bytes.fromhex("1122334455667788")
    good = crypto.issuer_authentication_data(scheme, keys.ac, atc, un, arqc, True)
    check = crypto.verify_arpc(scheme, keys.ac, atc, un, arqc, good)
    assert check.valid and check.approved
    declined = crypto.issuer_authentication_data(scheme, keys.ac, atc, un, arqc, False)
    check = crypto.verify_arpc(scheme, keys.ac, atc, un, arqc, declined)
    assert check.valid and not check.approved
    tampered = bytes([good[0] ^ 1]) + good[1:]
    assert not crypto.verify_arpc(scheme, keys.ac, atc, un, arqc, tampered).valid
    other_arqc = bytes.fromhex("8877665544332211")
    assert not crypto.verify_arpc(scheme, keys.ac, atc, un, other_arqc, good).valid
    assert not crypto.verify_arpc(scheme, keys.ac, atc, un, arqc, good[:3]).valid


def test_script_mac_matches_pyemv_cvn_classes() -> None:
    atc, arqc = bytes.fromhex("0FFF"), bytes.fromhex("769577B5ABE9FE62")
    header = bytes.fromhex("841E000008")
    keys = crypto.card_keys("visa", PAN, PSN)
    ref10 = pyemv.cvn.VisaCVN10(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                                iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    ref18 = pyemv.cvn.VisaCVN18(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                                iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    assert crypto.script_mac("visa-cvn10", keys.smi, atc, arqc, header, b"") == \
        ref10.generate_command_mac(header, arqc, atc)
    assert crypto.script_mac("visa-cvn18", keys.smi, atc, arqc, header, b"") == \
        ref18.generate_command_mac(header, arqc, atc)
    ik = crypto.ISSUER_KEYS["mastercard"]
    pan = "5413330089010012"
    mkeys = crypto.card_keys("mastercard", pan, "00")
    ref16 = pyemv.cvn.MasterCardCVN16(iss_mk_ac=ik.imk_ac, iss_mk_smi=ik.imk_smi,
                                      iss_mk_smc=ik.imk_smc, pan=pan, psn="00")
    data = bytes.fromhex("05")
    put = bytes.fromhex("04DA9F1409")
    assert crypto.script_mac("mc-cvn16", mkeys.smi, atc, arqc, put, data) == \
        ref16.generate_command_mac(put, arqc, atc, data)


@pytest.mark.parametrize("scheme", sorted(crypto.SCHEMES))
def test_script_data_decrypts_what_pyemv_encrypts(scheme: str) -> None:
    keys = crypto.card_keys("visa", PAN, PSN)
    atc, arqc = bytes.fromhex("0010"), bytes.fromhex("0102030405060708")
    block = bytes.fromhex("241234FFFFFFFFFF")
    enc = crypto.encrypt_script_data(scheme, keys.smc, atc, arqc, block)
    plain = crypto.decrypt_script_data(scheme, keys.smc, atc, arqc, enc)
    assert plain[:8] == block
    assert enc != block


def test_vis_pin_change_command_is_accepted_by_card_decryption() -> None:
    # pyemv builds the whole Visa PIN change command; the card side must read it.
    atc, arqc = bytes.fromhex("0010"), bytes.fromhex("0102030405060708")
    ref = pyemv.cvn.VisaCVN10(iss_mk_ac=IK.imk_ac, iss_mk_smi=IK.imk_smi,
                              iss_mk_smc=IK.imk_smc, pan=PAN, psn=PSN)
    cmd = ref.generate_pin_change_command(pin="9999", tag_9f26=arqc, tag_9f36=atc)
    keys = crypto.card_keys("visa", PAN, PSN)
    header, enc, mac = cmd[:5], cmd[5:-8], cmd[-8:]
    assert crypto.script_mac("visa-cvn10", keys.smi, atc, arqc, header, enc) == mac
    plain = crypto.decrypt_script_data("visa-cvn10", keys.smc, atc, arqc, enc)
    block = bytes(x ^ y for x, y in zip(plain, bytes(4) + keys.ac[4:8], strict=True))
    assert block[0] == 4 and block[1:3].hex() == "9999"
