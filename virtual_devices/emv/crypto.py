"""Card cryptography under test issuer keys: master keys, session keys, cryptograms, ARPC.

The card computes ARQC/TC/AAC and checks the issuer's ARPC with these functions, and
the acquirer host verifies the same ARQCs and makes the ARPC with them too, so both
sides agree by construction only if both follow the scheme. The primitives come from
``pyemv`` (TDES, ISO 9797-1 MACs, EMV key derivations); this module decides which
primitive each scheme uses and what data goes into it.

Schemes (named by brand and Cryptogram Version Number):

``visa-cvn10``
    ICC MK option A; no session key (the AC key is the ICC MK); AC over the CDOL1
    minimum set + AIP + ATC + CVR (IAD bytes 4-7), ISO 9797-1 padding method 1;
    ARPC method 1 under the ICC MK; secure messaging with the Visa SM session key
    (ATC-diversified), MAC over header || ATC || ARQC || data.
``visa-cvn18``
    EMV common session key (R = ATC || 00..00); AC over the minimum set + AIP + ATC +
    whole IAD, padding method 2; ARPC method 2 (ARPC || CSU); Visa secure messaging
    as for CVN 10.
``mc-cvn16``
    Mastercard session key (R = ATC || 00 00 || UN); AC over the minimum set + AIP +
    ATC + CVR (IAD bytes 3-8), padding method 2; ARPC method 1 under the ICC MK;
    SM session keys diversified by the ARQC, MAC over header || ATC || ARQC || data.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from pyemv import ac as _ac
from pyemv import cvv as _cvv
from pyemv import kd as _kd
from pyemv import sm as _sm

__all__ = [
    "IssuerKeys",
    "ISSUER_KEYS",
    "SCHEMES",
    "Scheme",
    "CryptoError",
    "derive_icc_master_key",
    "session_key",
    "cryptogram_data",
    "generate_cryptogram",
    "arpc_method1",
    "arpc_method2",
    "arpc_key",
    "issuer_authentication_data",
    "verify_arpc",
    "sm_integrity_key",
    "sm_confidentiality_key",
    "script_mac",
    "encrypt_script_data",
    "decrypt_script_data",
    "card_keys",
    "CardKeys",
    "ARC_APPROVED",
    "CSU_APPROVED",
    "cvc3",
    "dcvv",
]


class CryptoError(ValueError):
    """Unknown scheme or unusable key material."""


@dataclass(frozen=True)
class IssuerKeys:
    """Issuer master keys of one brand (test keys, from ``keys/issuer_keys.toml``)."""

    brand: str
    imk_ac: bytes
    imk_smi: bytes
    imk_smc: bytes
    cvk: bytes
    imk_cvc3: bytes = b""  # PayPass mag-stripe CVC3 master key (Mastercard only)
    imk_dcvv: bytes = b""  # Visa MSD dynamic CVV master key (Visa only)


def _load_issuer_keys() -> dict[str, IssuerKeys]:
    text = resources.files("virtual_devices.emv").joinpath("keys/issuer_keys.toml").read_text()
    raw = tomllib.loads(text)
    return {
        brand: IssuerKeys(
            brand,
            bytes.fromhex(v["imk_ac"]),
            bytes.fromhex(v["imk_smi"]),
            bytes.fromhex(v["imk_smc"]),
            bytes.fromhex(v["cvk"]),
            bytes.fromhex(v.get("imk_cvc3", "")),
            bytes.fromhex(v.get("imk_dcvv", "")),
        )
        for brand, v in raw.items()
    }


ISSUER_KEYS: dict[str, IssuerKeys] = _load_issuer_keys()


@dataclass(frozen=True)
class Scheme:
    name: str
    cvn: int
    sk_method: str  # "none" | "common" | "mastercard"
    padding: _ac.PaddingType
    iad_in_ac: str  # "cvr4" (IAD[3:7]) | "iad" (whole) | "cvr6" (IAD[2:8])
    arpc: str  # "method1-mk" | "method2-sk"
    sm: str  # "visa" | "common"


SCHEMES: dict[str, Scheme] = {
    "visa-cvn10": Scheme("visa-cvn10", 0x0A, "none", _ac.PaddingType.VISA, "cvr4",
                         "method1-mk", "visa"),
    "visa-cvn18": Scheme("visa-cvn18", 0x12, "common", _ac.PaddingType.EMV, "iad",
                         "method2-sk", "visa"),
    "mc-cvn16": Scheme("mc-cvn16", 0x10, "mastercard", _ac.PaddingType.EMV, "cvr6",
                       "method1-mk", "common"),
}

# Authorisation Response Code "00" (approved) as it travels in tag 8A / ARPC method 1.
ARC_APPROVED = b"00"
# Card Status Update (ARPC method 2, Visa): byte 2 bit 8 = issuer approved.
CSU_APPROVED = bytes.fromhex("00800000")


def _scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise CryptoError(f"unknown cryptogram scheme {name!r}") from None


def derive_icc_master_key(imk: bytes, pan: str, psn: str) -> bytes:
    """EMV Book 2 Annex A1.4.1 option A (PAN || PSN, rightmost 16 digits)."""
    return _kd.derive_icc_mk_a(imk, pan, psn)


@dataclass(frozen=True)
class CardKeys:
    """The three ICC master keys personalised into one card application."""

    ac: bytes
    smi: bytes
    smc: bytes


def card_keys(brand: str, pan: str, psn: str) -> CardKeys:
    ik = ISSUER_KEYS[brand]
    return CardKeys(
        derive_icc_master_key(ik.imk_ac, pan, psn),
        derive_icc_master_key(ik.imk_smi, pan, psn),
        derive_icc_master_key(ik.imk_smc, pan, psn),
    )


def session_key(scheme: str, icc_mk: bytes, atc: bytes, un: bytes | None = None) -> bytes:
    """The AC session key for ``scheme`` (ATC 2 bytes, UN 4 bytes where used)."""
    s = _scheme(scheme)
    if len(atc) != 2:
        raise CryptoError("ATC must be 2 bytes")
    if s.sk_method == "none":
        return icc_mk
    if s.sk_method == "common":
        return _kd.derive_common_sk(icc_mk, atc + bytes(6))
    if un is None or len(un) != 4:
        raise CryptoError(f"{scheme} session key needs a 4-byte unpredictable number")
    return _kd.derive_common_sk(icc_mk, atc + b"\x00\x00" + un)


# The minimum cryptogram data set (Book 2 §8.1.1), in order, with lengths.
_AC_TERMINAL_TAGS: tuple[tuple[int, int], ...] = (
    (0x9F02, 6), (0x9F03, 6), (0x9F1A, 2), (0x95, 5), (0x5F2A, 2), (0x9A, 3), (0x9C, 1),
    (0x9F37, 4),
)


def cryptogram_data(scheme: str, values: Mapping[int, bytes]) -> bytes:
    """Assemble the AC input from tag values: terminal data, AIP 82, ATC 9F36, IAD 9F10."""
    s = _scheme(scheme)
    out = bytearray()
    for tag, length in _AC_TERMINAL_TAGS:
        v = values.get(tag, b"")
        out += v[:length].rjust(length, b"\x00")
    out += values.get(0x82, bytes(2))
    out += values.get(0x9F36, bytes(2))
    iad = values.get(0x9F10, b"")
    if s.iad_in_ac == "cvr4":
        out += iad[3:7]
    elif s.iad_in_ac == "cvr6":
        out += iad[2:8]
    else:
        out += iad
    return bytes(out)


def generate_cryptogram(scheme: str, session_key: bytes, data: bytes) -> bytes:
    """ARQC / TC / AAC: ISO 9797-1 MAC algorithm 3 with the scheme's padding."""
    return _ac.generate_ac(session_key, data, _scheme(scheme).padding, 8)


def arpc_method1(key: bytes, arqc: bytes, arc: bytes) -> bytes:
    """Book 2 §8.2.1: 8-byte ARPC = TDES(key, ARQC xor (ARC || 00..00))."""
    return _ac.generate_arpc_1(key, arqc, arc)


def arpc_method2(key: bytes, arqc: bytes, csu: bytes, prop: bytes = b"") -> bytes:
    """Book 2 §8.2.2: 4-byte ARPC = MAC(ARQC || CSU || proprietary data)."""
    return _ac.generate_arpc_2(key, arqc, csu, prop)


def arpc_key(scheme: str, icc_mk_ac: bytes, atc: bytes, un: bytes | None = None) -> bytes:
    s = _scheme(scheme)
    if s.arpc == "method1-mk":
        return icc_mk_ac
    return session_key(scheme, icc_mk_ac, atc, un)


def issuer_authentication_data(
    scheme: str,
    icc_mk_ac: bytes,
    atc: bytes,
    un: bytes | None,
    arqc: bytes,
    approved: bool,
    arc: bytes | None = None,
) -> bytes:
    """The value of tag 91 the issuer returns: ARPC || ARC (method 1) or ARPC || CSU (2).

    ``arc`` defaults to ``"00"`` when approved and ``"05"`` when declined.
    """
    s = _scheme(scheme)
    key = arpc_key(scheme, icc_mk_ac, atc, un)
    if s.arpc == "method1-mk":
        code = arc if arc is not None else (ARC_APPROVED if approved else b"05")
        return arpc_method1(key, arqc, code) + code
    csu = CSU_APPROVED if approved else bytes(4)
    return arpc_method2(key, arqc, csu) + csu


@dataclass(frozen=True)
class ArpcCheck:
    """Result of checking tag 91: ``valid`` MAC, and whether the issuer approved."""

    valid: bool
    approved: bool
    code: bytes  # ARC (method 1) or CSU (method 2)


def verify_arpc(
    scheme: str,
    icc_mk_ac: bytes,
    atc: bytes,
    un: bytes | None,
    arqc: bytes,
    issuer_auth_data: bytes,
) -> ArpcCheck:
    """Check tag 91 against the ARQC the card produced (what the card does)."""
    s = _scheme(scheme)
    key = arpc_key(scheme, icc_mk_ac, atc, un)
    if s.arpc == "method1-mk":
        if len(issuer_auth_data) < 10:
            return ArpcCheck(False, False, b"")
        arpc, code = issuer_auth_data[:8], issuer_auth_data[8:10]
        ok = arpc == arpc_method1(key, arqc, code)
        return ArpcCheck(ok, ok and code in (ARC_APPROVED, b"10", b"11"), code)
    if len(issuer_auth_data) < 8:
        return ArpcCheck(False, False, b"")
    arpc, csu, prop = issuer_auth_data[:4], issuer_auth_data[4:8], issuer_auth_data[8:]
    ok = arpc == arpc_method2(key, arqc, csu, prop)
    return ArpcCheck(ok, ok and bool(csu[1] & 0x80), csu)


# --- secure messaging for issuer scripts ----------------------------------------------


def sm_integrity_key(scheme: str, icc_mk_smi: bytes, atc: bytes, arqc: bytes) -> bytes:
    s = _scheme(scheme)
    if s.sm == "visa":
        return _kd.derive_visa_sm_sk(icc_mk_smi, atc)
    return _kd.derive_common_sk(icc_mk_smi, arqc)


def sm_confidentiality_key(scheme: str, icc_mk_smc: bytes, atc: bytes, arqc: bytes) -> bytes:
    s = _scheme(scheme)
    if s.sm == "visa":
        return _kd.derive_visa_sm_sk(icc_mk_smc, atc)
    return _kd.derive_common_sk(icc_mk_smc, arqc)


def script_mac(
    scheme: str, icc_mk_smi: bytes, atc: bytes, arqc: bytes, header: bytes, data: bytes
) -> bytes:
    """8-byte command MAC; ``header`` is CLA INS P1 P2 Lc (Lc counting the MAC).

    Both VIS and M/Chip MAC the header, the ATC and the ARQC of the transaction that
    carried the script, then the command data; they differ in the session key.
    """
    key = sm_integrity_key(scheme, icc_mk_smi, atc, arqc)
    return _sm.generate_command_mac(key, header + atc + arqc + data, 8)


def encrypt_script_data(
    scheme: str, icc_mk_smc: bytes, atc: bytes, arqc: bytes, data: bytes
) -> bytes:
    s = _scheme(scheme)
    key = sm_confidentiality_key(scheme, icc_mk_smc, atc, arqc)
    kind = _sm.EncryptionType.VISA if s.sm == "visa" else _sm.EncryptionType.MASTERCARD
    return _sm.encrypt_command_data(key, data, kind)


def _tdes_decrypt(key: bytes, data: bytes, iv: bytes | None) -> bytes:
    # Keying option 2 written out as three keys (K1 K2 K1): same cipher, no deprecation.
    k = TripleDES(key + key[:8] if len(key) == 16 else key)
    d = (Cipher(k, modes.CBC(iv)) if iv is not None else Cipher(k, modes.ECB())).decryptor()
    return d.update(data) + d.finalize()


def decrypt_script_data(
    scheme: str, icc_mk_smc: bytes, atc: bytes, arqc: bytes, enc: bytes
) -> bytes:
    """Inverse of :func:`encrypt_script_data` (what the card does with PIN CHANGE data)."""
    s = _scheme(scheme)
    if len(enc) % 8:
        raise CryptoError("enciphered script data is not a multiple of 8 bytes")
    key = sm_confidentiality_key(scheme, icc_mk_smc, atc, arqc)
    if s.sm == "visa":
        plain = _tdes_decrypt(key, enc, None)
        n = plain[0]
        if n + 1 > len(plain):
            raise CryptoError("bad length byte in enciphered script data")
        return plain[1 : 1 + n]
    plain = _tdes_decrypt(key, enc, bytes(8))
    return plain  # caller strips ISO 9797-1 method 2 padding if it used any


def strip_pad_method2(data: bytes) -> bytes:
    """Remove ISO 9797-1 padding method 2 (80 00..00)."""
    i = data.rfind(b"\x80")
    if i < 0 or any(data[i + 1 :]):
        raise CryptoError("no ISO 9797-1 method 2 padding")
    return data[:i]



def cvc3(icc_mk_cvc3: bytes, track_template: bytes, atc: bytes, un: bytes) -> int:
    """PayPass mag-stripe CVC3 (2 bytes, as an integer) over a track template (9F6B BCD
    or 56 ASCII), the ATC and the numeric UN; the issuer recomputes the same value."""
    if len(icc_mk_cvc3) != 16:
        raise CryptoError("no CVC3 key for this card")
    return int(_cvv.generate_cvc3(icc_mk_cvc3, track_template, atc, un))


def dcvv(icc_key: bytes, pan: str, yymm: str, atc: int) -> str:
    """Visa MSD dynamic CVV: the CVV algorithm with the 4-digit ATC where the service
    code goes (PAN || expiry || ATC, zero filled to 32 digits), under the card's key.

    CVV algorithm: DES under key A of the first 16 digits, XOR the next 16, TDES
    (A, B, A) of the result, then the first three decimal digits of the hex output
    (digits first, then the letters less ten).
    """
    if len(icc_key) != 16:
        raise CryptoError("no dCVV key for this card")
    digits = f"{pan}{yymm}{atc % 10000:04d}".ljust(32, "0")[:32]
    block1, block2 = bytes.fromhex(digits[:16]), bytes.fromhex(digits[16:])
    single = Cipher(TripleDES(icc_key[:8] * 3), modes.ECB()).encryptor()
    step = single.update(block1) + single.finalize()
    mixed = bytes(a ^ b for a, b in zip(step, block2, strict=True))
    triple = Cipher(TripleDES(icc_key + icc_key[:8]), modes.ECB()).encryptor()
    out = (triple.update(mixed) + triple.finalize()).hex().upper()
    first = [c for c in out if c.isdigit()]
    second = [str(int(c, 16) - 10) for c in out if not c.isdigit()]
    return "".join(first + second)[:3]
