"""Offline data authentication PKI with test keys (EMV 4.4 Book 2 §5, §6, Annex A).

A real chain: per-brand test CA keys (exported to terminals as CAPK records), issuer
keys certified by the CA per BIN, and ICC keys certified by the issuer. The card uses
the signing side (issuer certificate, ICC certificate, SSAD for SDA, SDAD for DDA and
CDA); a terminal kernel uses the recovery side (``recover_issuer_pk``,
``recover_icc_pk``, ``verify_sda``, ``verify_dda``, ``verify_cda``). Both follow the
Book 2 record formats byte for byte, so a kernel verified here also works with a
real card, and a tampered byte anywhere breaks the chain.

EMV's signature scheme is raw RSA with its own message recovery format (not PKCS#1),
so signing and recovery are ``pow`` on the key numbers taken from ``cryptography``
key objects; hashing is SHA-1 as Book 2 prescribes.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import gmpy2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "OdaError",
    "Capk",
    "PublicKey",
    "RID_BY_BRAND",
    "CAPK_INDEX",
    "capk_records",
    "capk_for",
    "private_key",
    "issuer_certificate",
    "icc_certificate",
    "icc_pin_certificate",
    "sign_ssad",
    "sign_dynamic",
    "recover_issuer_pk",
    "recover_icc_pk",
    "verify_sda",
    "verify_dda",
    "verify_cda",
    "cda_transaction_hash",
    "CERT_EXPIRY",
]

RID_BY_BRAND: dict[str, bytes] = {
    "visa": bytes.fromhex("A000000003"),
    "mastercard": bytes.fromhex("A000000004"),
    "amex": bytes.fromhex("A000000025"),
    "elo": bytes.fromhex("A000000494"),
}
# Index of the test CA key per RID. Schemes keep high indexes for test keys; one
# index per RID keeps terminal CAPK tables simple.
CAPK_INDEX = 0xF1
# Certificate expiry MMYY. Far in the future so only the profiles that mean to be
# expired are expired (Book 2 §5.3 step 9 / §6.4 step 9 reject an expired certificate).
CERT_EXPIRY = bytes.fromhex("1249")
_HEADER, _TRAILER, _PAD = 0x6A, 0xBC, 0xBB
_SHA1 = 0x01
_RSA = 0x01


class OdaError(ValueError):
    """A signature or certificate does not verify (the step is named in the message)."""


@dataclass(frozen=True)
class PublicKey:
    modulus: bytes
    exponent: bytes

    @property
    def n(self) -> int:
        return int.from_bytes(self.modulus, "big")

    @property
    def e(self) -> int:
        return int.from_bytes(self.exponent, "big")

    @property
    def size(self) -> int:
        return len(self.modulus)


@dataclass(frozen=True)
class Capk:
    """A CA public key as terminals hold it (Book 2 §11.2.2)."""

    rid: bytes
    index: int
    modulus: bytes
    exponent: bytes
    checksum: bytes

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.modulus, self.exponent)


@lru_cache(maxsize=1)
def _key_file() -> dict[str, str]:
    text = resources.files("virtual_devices.emv").joinpath("keys/rsa_keys.toml").read_text()
    return {name: v["pem"] for name, v in tomllib.loads(text).items()}


@cache
def private_key(name: str) -> rsa.RSAPrivateKey:
    """A stored test key by name (``ca_visa``, ``issuer_elo``, ``icc_03``...)."""
    try:
        pem = _key_file()[name]
    except KeyError:
        raise OdaError(f"no test key named {name!r}") from None
    # our own test keys, checked when they were made: skipping OpenSSL's consistency
    # check (tens of ms per key) takes a second off every process that loads them all
    key = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def public_of(key: rsa.RSAPrivateKey) -> PublicKey:
    nums = key.public_key().public_numbers()
    size = (nums.n.bit_length() + 7) // 8
    e_len = 1 if nums.e < 256 else 3
    return PublicKey(nums.n.to_bytes(size, "big"), nums.e.to_bytes(e_len, "big"))


@lru_cache(maxsize=256)  # the test keys are a few dozen; extracting numbers costs a parse
def _private_numbers(key: rsa.RSAPrivateKey) -> rsa.RSAPrivateNumbers:
    return key.private_numbers()


def private_op(key: rsa.RSAPrivateKey, value: int) -> int:
    """``value ** d mod n`` by the Chinese remainder theorem, exponentiating with GMP.

    EMV signs and deciphers with raw RSA (no PKCS#1 padding), which ``cryptography``
    does not offer, so the private operation is done here: two half-size
    exponentiations mod p and q (Garner's recombination) instead of one full-size one,
    each in GMP (``gmpy2.powmod``), about thirty times faster than ``pow(value, d, n)``
    in Python; the number is the same.
    """
    nums = _private_numbers(key)
    p, q = nums.p, nums.q
    m1 = int(gmpy2.powmod(value, nums.dmp1, p))
    m2 = int(gmpy2.powmod(value, nums.dmq1, q))
    return m2 + (nums.iqmp * (m1 - m2) % p) * q


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """Raw RSA private operation on a message exactly the modulus length."""
    n = _private_numbers(key).public_numbers.n
    size = (n.bit_length() + 7) // 8
    if len(message) != size:
        raise OdaError(f"message of {len(message)} bytes for a {size}-byte key")
    return private_op(key, int.from_bytes(message, "big")).to_bytes(size, "big")


def _recover(pk: PublicKey, signature: bytes) -> bytes:
    if len(signature) != pk.size:
        raise OdaError(f"signature of {len(signature)} bytes for a {pk.size}-byte key")
    m = int(gmpy2.powmod(int.from_bytes(signature, "big"), pk.e, pk.n))
    return m.to_bytes(pk.size, "big")


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def capk_for(brand: str) -> Capk:
    pk = public_of(private_key(f"ca_{brand}"))
    rid = RID_BY_BRAND[brand]
    checksum = _sha1(rid + bytes([CAPK_INDEX]) + pk.modulus + pk.exponent)
    return Capk(rid, CAPK_INDEX, pk.modulus, pk.exponent, checksum)


def capk_records() -> list[Capk]:
    """The test CA keys a terminal loads, one per brand RID."""
    return [capk_for(b) for b in RID_BY_BRAND]


def _pan_field(pan: str, n: int) -> bytes:
    """PAN as cn padded with F to ``n`` bytes (Book 2 Table 6 / Table 14)."""
    digits = pan + "F" * (2 * n - len(pan))
    return bytes.fromhex(digits[: 2 * n])


def _issuer_id(pan: str) -> bytes:
    # The leftmost 6 digits (the BIN) padded with F: the terminal checks them against the PAN.
    return _pan_field(pan[:6], 4)


# --- signing side (card personalisation) --------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A certificate as a card carries it: tag 90/9F46, remainder 92/9F48, exponent."""

    certificate: bytes
    remainder: bytes
    exponent: bytes


def _certify(
    signer: rsa.RSAPrivateKey,
    fmt: int,
    ident: bytes,
    serial: bytes,
    subject: PublicKey,
    extra: bytes,
    header_len: int,
) -> Certificate:
    size = (signer.key_size + 7) // 8
    room = size - header_len
    leftmost, remainder = subject.modulus[:room], subject.modulus[room:]
    leftmost = leftmost + bytes([_PAD]) * (room - len(leftmost))
    body = (
        bytes([fmt]) + ident + CERT_EXPIRY + serial
        + bytes([_SHA1, _RSA, subject.size, len(subject.exponent)])
        + leftmost
    )
    digest = _sha1(body + remainder + subject.exponent + extra)
    cert = _sign(signer, bytes([_HEADER]) + body + digest + bytes([_TRAILER]))
    return Certificate(cert, remainder, subject.exponent)


def issuer_certificate(brand: str, pan: str) -> Certificate:
    """The issuer public key certificate for the PAN's BIN (Book 2 Table 6)."""
    return _issuer_certificate(brand, pan[:6])


@cache
def _issuer_certificate(brand: str, bin6: str) -> Certificate:
    subject = public_of(private_key(f"issuer_{brand}"))
    serial = bytes.fromhex("0000" + format(int(bin6) % 256, "02X"))
    return _certify(private_key(f"ca_{brand}"), 0x02, _issuer_id(bin6), serial, subject,
                    b"", 36)


@cache
def icc_certificate(
    brand: str, icc_key_name: str, pan: str, static_data: bytes
) -> Certificate:
    """The ICC public key certificate (Book 2 Table 14), binding the static data."""
    subject = public_of(private_key(icc_key_name))
    return _certify(private_key(f"issuer_{brand}"), 0x04, _pan_field(pan, 10),
                    bytes.fromhex("000001"), subject, static_data, 42)


@cache
def icc_pin_certificate(brand: str, pin_key_name: str, pan: str) -> Certificate:
    """ICC PIN Encipherment Public Key Certificate, tag 9F2D (Book 2 §7.1).

    Same format as the ICC certificate, but it binds no static data.
    """
    subject = public_of(private_key(pin_key_name))
    return _certify(private_key(f"issuer_{brand}"), 0x04, _pan_field(pan, 10),
                    bytes.fromhex("000002"), subject, b"", 42)


@cache
def sign_ssad(brand: str, dac: bytes, static_data: bytes) -> bytes:
    """Signed Static Application Data, tag 93 (Book 2 Table 7)."""
    key = private_key(f"issuer_{brand}")
    size = (key.key_size + 7) // 8
    body = bytes([0x03, _SHA1]) + dac + bytes([_PAD]) * (size - 26)
    digest = _sha1(body + static_data)
    return _sign(key, bytes([_HEADER]) + body + digest + bytes([_TRAILER]))


def sign_dynamic(icc_key_name: str, icc_dynamic_data: bytes, terminal_data: bytes) -> bytes:
    """Signed Dynamic Application Data, tag 9F4B (Book 2 Table 17 / Table 19).

    ``terminal_data`` is the DDOL data for DDA, the unpredictable number for CDA.
    """
    key = private_key(icc_key_name)
    size = (key.key_size + 7) // 8
    pad = size - len(icc_dynamic_data) - 25
    if pad < 0:
        raise OdaError("ICC dynamic data too long for the ICC key")
    body = bytes([0x05, _SHA1, len(icc_dynamic_data)]) + icc_dynamic_data + bytes([_PAD]) * pad
    digest = _sha1(body + terminal_data)
    return _sign(key, bytes([_HEADER]) + body + digest + bytes([_TRAILER]))


def cda_transaction_hash(pdol_data: bytes, cdol_data: bytes, response_tlvs: bytes) -> bytes:
    """Transaction Data Hash Code for CDA (Book 2 §6.6.1).

    ``cdol_data`` is CDOL1 data (first GENERATE AC) or CDOL1 || CDOL2 data (second);
    ``response_tlvs`` are the response's data objects in order, without 9F4B.
    """
    return _sha1(pdol_data + cdol_data + response_tlvs)


# --- recovery side (what a terminal kernel does) ------------------------------------


def _open(pk: PublicKey, signature: bytes, fmt: int, what: str) -> bytes:
    rec = _recover(pk, signature)
    if rec[0] != _HEADER or rec[-1] != _TRAILER:
        raise OdaError(f"{what}: recovered data header/trailer wrong")
    if rec[1] != fmt:
        raise OdaError(f"{what}: format {rec[1]:02X}, expected {fmt:02X}")
    return rec


def _pan_matches(field: bytes, pan: str) -> bool:
    digits = field.hex().upper().rstrip("F")
    return len(digits) >= 3 and pan.startswith(digits)


def recover_issuer_pk(
    capk: Capk,
    certificate: bytes,
    remainder: bytes,
    exponent: bytes,
    pan: str | None = None,
) -> PublicKey:
    """Book 2 §5.3: recover and check the issuer public key."""
    rec = _open(capk.public_key, certificate, 0x02, "issuer certificate")
    size = len(rec)
    body, digest = rec[1 : size - 21], rec[size - 21 : size - 1]
    if _sha1(body + remainder + exponent) != digest:
        raise OdaError("issuer certificate: hash mismatch")
    if pan is not None and not _pan_matches(rec[2:6], pan):
        raise OdaError("issuer certificate: issuer identifier does not match the PAN")
    pk_len, exp_len = rec[13], rec[14]
    if exp_len != len(exponent):
        raise OdaError("issuer certificate: exponent length mismatch")
    room = size - 36
    modulus = rec[15 : 15 + min(room, pk_len)] + (remainder if pk_len > room else b"")
    if len(modulus) != pk_len:
        raise OdaError("issuer certificate: remainder missing or wrong length")
    return PublicKey(modulus, exponent)


def recover_icc_pk(
    issuer_pk: PublicKey,
    certificate: bytes,
    remainder: bytes,
    exponent: bytes,
    static_data: bytes,
    pan: str | None = None,
) -> PublicKey:
    """Book 2 §6.4: recover and check the ICC public key (binds the static data)."""
    rec = _open(issuer_pk, certificate, 0x04, "ICC certificate")
    size = len(rec)
    body, digest = rec[1 : size - 21], rec[size - 21 : size - 1]
    if _sha1(body + remainder + exponent + static_data) != digest:
        raise OdaError("ICC certificate: hash mismatch")
    if pan is not None and rec[2:12].hex().upper().rstrip("F") != pan:
        raise OdaError("ICC certificate: PAN does not match")
    pk_len, exp_len = rec[19], rec[20]
    if exp_len != len(exponent):
        raise OdaError("ICC certificate: exponent length mismatch")
    room = size - 42
    modulus = rec[21 : 21 + min(room, pk_len)] + (remainder if pk_len > room else b"")
    if len(modulus) != pk_len:
        raise OdaError("ICC certificate: remainder missing or wrong length")
    return PublicKey(modulus, exponent)


def verify_sda(issuer_pk: PublicKey, ssad: bytes, static_data: bytes) -> bytes:
    """Book 2 §5.4: verify tag 93; returns the Data Authentication Code (9F45)."""
    rec = _open(issuer_pk, ssad, 0x03, "SSAD")
    size = len(rec)
    if _sha1(rec[1 : size - 21] + static_data) != rec[size - 21 : size - 1]:
        raise OdaError("SSAD: hash mismatch")
    return rec[3:5]


def _open_sdad(icc_pk: PublicKey, sdad: bytes, terminal_data: bytes) -> bytes:
    rec = _open(icc_pk, sdad, 0x05, "SDAD")
    size = len(rec)
    if _sha1(rec[1 : size - 21] + terminal_data) != rec[size - 21 : size - 1]:
        raise OdaError("SDAD: hash mismatch")
    ldd = rec[3]
    if 4 + ldd > size - 21:
        raise OdaError("SDAD: dynamic data length out of range")
    return rec[4 : 4 + ldd]


def verify_dda(icc_pk: PublicKey, sdad: bytes, ddol_data: bytes) -> bytes:
    """Book 2 §6.5: verify INTERNAL AUTHENTICATE's SDAD; returns the ICC dynamic number."""
    dyn = _open_sdad(icc_pk, sdad, ddol_data)
    return dyn[1 : 1 + dyn[0]]


@dataclass(frozen=True)
class CdaResult:
    icc_dynamic_number: bytes
    cid: int
    cryptogram: bytes


def verify_cda(
    icc_pk: PublicKey,
    sdad: bytes,
    unpredictable_number: bytes,
    cid: int,
    transaction_hash: bytes,
) -> CdaResult:
    """Book 2 §6.6.2: verify GENERATE AC's SDAD; returns the AC hidden in it."""
    dyn = _open_sdad(icc_pk, sdad, unpredictable_number)
    n = dyn[0]
    if len(dyn) < 1 + n + 1 + 8 + 20:
        raise OdaError("CDA: ICC dynamic data too short")
    got_cid = dyn[1 + n]
    ac = dyn[2 + n : 10 + n]
    tdhc = dyn[10 + n : 30 + n]
    if got_cid != cid:
        raise OdaError("CDA: CID in the signature differs from 9F27")
    if tdhc != transaction_hash:
        raise OdaError("CDA: transaction data hash code mismatch")
    return CdaResult(dyn[1 : 1 + n], got_cid, ac)
