"""Offline data authentication as the terminal performs it (EMV 4.4 Book 2 §5-§6).

The card signs; the terminal recovers and checks. These functions are the terminal
half: RSA recovery with a CA public key from the terminal's tables, then the issuer
public key, then either the signed static data (SDA) or the ICC public key and a
signature over dynamic data (DDA, CDA, fDDA). Every check Book 2 lists is made and a
failure says which one, so a report can tell "no CAPK" from "bad hash".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import gmpy2


class OdaError(Exception):
    """An ODA check failed; the message names the step of Book 2 that failed."""


@dataclass(frozen=True)
class PublicKey:
    modulus: bytes
    exponent: bytes

    @property
    def length(self) -> int:
        return len(self.modulus)


def recover(key: PublicKey, signed: bytes) -> bytes:
    """RSA public operation: the recovered data, as long as the modulus."""
    if len(signed) != key.length:
        raise OdaError(f"signed data is {len(signed)} bytes, key modulus is {key.length}")
    n = int.from_bytes(key.modulus, "big")
    value = int.from_bytes(signed, "big")
    if value >= n:
        raise OdaError("signed data is not smaller than the modulus")
    # GMP's exponentiation gives the same number as ``pow`` several times faster
    out = int(gmpy2.powmod(value, int.from_bytes(key.exponent, "big"), n))
    return out.to_bytes(key.length, "big")


def _frame(recovered: bytes, fmt: int) -> bytes:
    if recovered[0] != 0x6A:
        raise OdaError("recovered data header is not 6A")
    if recovered[-1] != 0xBC:
        raise OdaError("recovered data trailer is not BC")
    if recovered[1] != fmt:
        raise OdaError(f"certificate format {recovered[1]:02X}, expected {fmt:02X}")
    return recovered


def _check_hash(recovered: bytes, extra: bytes) -> None:
    body = recovered[1:-21]
    if hashlib.sha1(body + extra).digest() != recovered[-21:-1]:
        raise OdaError("hash result does not match")


def _not_expired(mmyy: bytes, today: date, what: str) -> None:
    mm = int(mmyy[:1].hex())
    yy = int(mmyy[1:2].hex())
    if not 1 <= mm <= 12:
        raise OdaError(f"{what} expiry month {mm} invalid")
    year = 2000 + yy
    if (year, mm) < (today.year, today.month):
        raise OdaError(f"{what} certificate expired")


def _digits(data: bytes) -> str:
    return data.hex().upper().rstrip("F")


def recover_issuer_key(
    capk: PublicKey,
    certificate: bytes,
    remainder: bytes,
    exponent: bytes,
    pan: str,
    today: date,
) -> tuple[PublicKey, bytes]:
    """Issuer public key from tag 90 (+92, 9F32); returns (key, certificate serial)."""
    rec = _frame(recover(capk, certificate), 0x02)
    if rec[11] != 0x01:
        raise OdaError("issuer certificate hash algorithm is not SHA-1")
    _check_hash(rec, remainder + exponent)
    issuer_id = _digits(rec[2:6])
    if not 3 <= len(issuer_id) <= 8 or not pan.startswith(issuer_id):
        raise OdaError("issuer identifier does not match the PAN")
    _not_expired(rec[6:8], today, "issuer")
    serial = rec[8:11]
    if rec[12] != 0x01:
        raise OdaError("issuer public key algorithm is not RSA")
    key_len = rec[13]
    leftmost = rec[15 : 15 + capk.length - 36]
    modulus = (leftmost + remainder)[:key_len] if key_len > len(leftmost) else leftmost[:key_len]
    if len(modulus) != key_len:
        raise OdaError("issuer public key remainder missing or short")
    return PublicKey(modulus, exponent), serial


def verify_ssad(issuer: PublicKey, ssad: bytes, static_data: bytes) -> bytes:
    """SDA (Book 2 §5.4): returns the Data Authentication Code (9F45)."""
    rec = _frame(recover(issuer, ssad), 0x03)
    if rec[2] != 0x01:
        raise OdaError("SSAD hash algorithm is not SHA-1")
    _check_hash(rec, static_data)
    return rec[3:5]


def recover_icc_key(
    issuer: PublicKey,
    certificate: bytes,
    remainder: bytes,
    exponent: bytes,
    pan: str,
    static_data: bytes,
    today: date,
) -> PublicKey:
    """ICC public key from 9F46 (+9F48, 9F47) (Book 2 §6.4)."""
    rec = _frame(recover(issuer, certificate), 0x04)
    if rec[17] != 0x01:
        raise OdaError("ICC certificate hash algorithm is not SHA-1")
    _check_hash(rec, remainder + exponent + static_data)
    if _digits(rec[2:12]) != pan:
        raise OdaError("PAN in the ICC certificate does not match")
    _not_expired(rec[12:14], today, "ICC")
    key_len = rec[19]
    leftmost = rec[21 : 21 + issuer.length - 42]
    modulus = (leftmost + remainder)[:key_len]
    if len(modulus) != key_len:
        raise OdaError("ICC public key remainder missing or short")
    return PublicKey(modulus, exponent)


def verify_sdad(icc: PublicKey, sdad: bytes, signed_extra: bytes) -> bytes:
    """DDA/CDA/fDDA signature (format 05): returns the ICC Dynamic Data."""
    rec = _frame(recover(icc, sdad), 0x05)
    if rec[2] != 0x01:
        raise OdaError("unknown hash algorithm")
    body = rec[1:-21]
    if hashlib.sha1(body + signed_extra).digest() != rec[-21:-1]:
        raise OdaError("hash result does not match")
    ldd = rec[3]
    return rec[4 : 4 + ldd]
