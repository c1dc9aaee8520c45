"""ANSI X9.24-1 TDES DUKPT and the ISO 9564 format 0 PIN block.

The pinpad holds an initial key (IPEK) derived from a test BDK and hands out one
future key per PIN entry; the host (in tests, the acquirer) derives the same key from
the BDK and the KSN the pinpad sends along, and decrypts the PIN block.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from psec import pinblock

_C0 = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
_PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")
_COUNTER_MASK = (1 << 21) - 1


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _tdes(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    """TDES-ECB; a 16-byte key is used as K1 K2 K1 (keying option 2)."""
    full = key + key[:8] if len(key) == 16 else key * 3 if len(key) == 8 else key
    cipher = Cipher(TripleDES(full), modes.ECB())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def _des(key8: bytes, block: bytes) -> bytes:
    return _tdes(key8, block)


def ipek(bdk: bytes, ksn: bytes) -> bytes:
    base = (int.from_bytes(ksn, "big") & ~_COUNTER_MASK).to_bytes(10, "big")[:8]
    left = _tdes(bdk, base)
    right = _tdes(_xor(bdk, _C0), base)
    return left + right


def _nrkgp(key: bytes, reg: bytes) -> bytes:
    right = _xor(_des(key[:8], _xor(reg, key[8:])), key[8:])
    k2 = _xor(key, _C0)
    left = _xor(_des(k2[:8], _xor(reg, k2[8:])), k2[8:])
    return left + right


def derive_key(initial_key: bytes, ksn: bytes) -> bytes:
    """The future key for the counter in ``ksn`` (the 21 low bits)."""
    reg = int.from_bytes(ksn[2:], "big") & ~_COUNTER_MASK
    counter = int.from_bytes(ksn, "big") & _COUNTER_MASK
    key = initial_key
    bit = 1 << 20
    while bit:
        if counter & bit:
            reg |= bit
            key = _nrkgp(key, reg.to_bytes(8, "big"))
        bit >>= 1
    return key


def pin_key(bdk: bytes, ksn: bytes) -> bytes:
    return _xor(derive_key(ipek(bdk, ksn), ksn), _PIN_VARIANT)


def encrypt_pin_block(key: bytes, pin: str, pan: str) -> bytes:
    """ISO 9564 format 0 (ANSI X9.8) under the DUKPT PIN key.

    PANs shorter than 13 digits are left-padded with zeros (§4.6 GPN note).
    """
    clear = pinblock.encode_pinblock_iso_0(pin, pan.rjust(13, "0"))
    return _tdes(key, clear)


def decrypt_pin(bdk: bytes, ksn: bytes, block: bytes, pan: str) -> str:
    clear = _tdes(pin_key(bdk, ksn), block, decrypt=True)
    return pinblock.decode_pinblock_iso_0(clear, pan.rjust(13, "0"))


@dataclass
class DukptKey:
    """One DUKPT slot: the IPEK and the transaction counter. The BDK stays out."""

    index: int
    initial_key: bytes
    initial_ksn: bytes
    counter: int = 0

    def next_ksn(self) -> bytes:
        """Advance to the next usable counter (at most ten one bits, X9.24-1 §A.2)."""
        c = self.counter + 1
        while bin(c).count("1") > 10:
            c += 1
        if c > _COUNTER_MASK:
            raise RuntimeError("DUKPT counter exhausted")
        self.counter = c
        return self.ksn

    @property
    def ksn(self) -> bytes:
        base = int.from_bytes(self.initial_ksn, "big") & ~_COUNTER_MASK
        return (base | self.counter).to_bytes(10, "big")

    def encrypt_pin(self, pin: str, pan: str) -> tuple[bytes, bytes]:
        ksn = self.next_ksn()
        key = _xor(derive_key(self.initial_key, ksn), _PIN_VARIANT)
        return encrypt_pin_block(key, pin, pan), ksn


@dataclass(frozen=True)
class TestKeys:
    bdk: bytes
    initial_ksn: bytes
    index: int


def load_test_keys() -> dict[int, TestKeys]:
    return dict(_test_keys())


@cache
def _test_keys() -> dict[int, TestKeys]:
    """The test keys file, read once per process (callers get their own dict)."""
    text = resources.files("virtual_devices.abecs").joinpath("data/keys.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    out: dict[int, TestKeys] = {}
    for idx, body in raw.get("dukpt", {}).items():
        out[int(idx)] = TestKeys(bytes.fromhex(body["bdk"]), bytes.fromhex(body["initial_ksn"]),
                                 int(idx))
    return out


def provision(keys: TestKeys) -> DukptKey:
    """What key injection does: derive the IPEK from the BDK and keep only the IPEK."""
    return DukptKey(keys.index, ipek(keys.bdk, keys.initial_ksn), keys.initial_ksn)
