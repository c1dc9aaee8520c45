"""Secure ABECS sessions (mpos-bridge.md §4.5): RSA-wrapped KSEC and AES-128-CBC packets.

The pinpad draws KSEC and the PKCS#1 v1.5 type-2 padding from the world's seeded
random stream and applies the RSA public operation to the padded block itself, so a
virtual run stays byte-identical for a seed (the library's own padding would draw from
the operating system). The host unwraps with ``cryptography``'s PKCS#1 v1.5 decryption.
Encrypted PKTDATA is ``DC2 + AES-CBC(KSEC, IV=0)[DATALEN X2 | CRC16 X2 | data | 00…]``.
"""

from __future__ import annotations

import random
from functools import cache
from importlib import resources
from itertools import repeat

import gmpy2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from virtual_devices.abecs.link import DC2, crc16


class SecureError(ValueError):
    """An encrypted packet that does not decode (ABECS answers ERR009)."""


def nonzero_bytes(rng: random.Random, count: int) -> bytes:
    """``count`` random bytes from 1 to 255: PKCS#1 v1.5 type-2 padding.

    The same bytes as ``bytes(rng.randrange(1, 256) for _ in range(count))``, which draws
    eight bits and draws again on 255; here the draws run in C, as many at a time as
    bytes are still missing, so none is drawn that randrange would not have drawn. A
    padding is a few hundred bytes and every session key and card hash draws one.
    """
    out = b""
    while len(out) < count:
        drawn = bytes(map(rng.getrandbits, repeat(8, count - len(out))))
        out += drawn.replace(b"\xff", b"").translate(_PLUS_ONE)
    return out


_PLUS_ONE = bytes(range(1, 256)) + b"\x00"  # 255 never reaches it


def wrap_session_key(ksec: bytes, modulus: int, exponent: int, rng: random.Random) -> bytes:
    """RSA-encrypt ``ksec`` under (modulus, exponent) with PKCS#1 v1.5 type-2 padding."""
    k = (modulus.bit_length() + 7) // 8
    if len(ksec) > k - 11:
        raise SecureError("RSA modulus too small for the session key")
    if modulus % 2 == 0 or exponent < 3 or exponent % 2 == 0:
        raise SecureError("not an RSA public key (even modulus, or exponent even or below 3)")
    pad = nonzero_bytes(rng, k - 3 - len(ksec))
    block = b"\x00\x02" + pad + b"\x00" + ksec
    rsa.RSAPublicNumbers(exponent, modulus).public_key()  # refuses a malformed key
    # GMP's exponentiation gives the same number as ``pow`` several times faster
    return int(gmpy2.powmod(int.from_bytes(block, "big"), exponent, modulus)).to_bytes(k, "big")


@cache
def load_test_host_key() -> rsa.RSAPrivateKey:
    """The host's RSA-2048 test key (a data file; never a production key).

    Loaded once per process, without OpenSSL's consistency check (tens of ms; the key
    is ours, checked when it was made).
    """
    pem = resources.files("virtual_devices.abecs").joinpath("data/host_test_rsa.pem").read_bytes()
    key = serialization.load_pem_private_key(
        pem, password=None, unsafe_skip_rsa_key_validation=True
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def unwrap_session_key(private_key: rsa.RSAPrivateKey, crksec: bytes) -> bytes:
    ksec = private_key.decrypt(crksec, padding.PKCS1v15())
    if len(ksec) != 16:
        raise SecureError("session key is not 16 bytes")
    return ksec


class SecureSession:
    """AES-128-CBC with IV 0 under KSEC, both directions.

    Every packet starts a fresh CBC chain from IV 0. Making a cipher context per packet
    cost more than the packet's AES, so each direction keeps one CBC context for the
    session and never finalizes it; the context then chains a new packet from the last
    ciphertext block of the one before. XOR-ing that block into the new packet's first
    plaintext block (encrypting), or into its first decrypted block (decrypting), undoes
    the carried chain: the bytes are those of a fresh context with IV 0.
    """

    def __init__(self, ksec: bytes) -> None:
        if len(ksec) != 16:
            raise ValueError("KSEC is 16 bytes")
        cipher = Cipher(algorithms.AES(ksec), modes.CBC(bytes(16)))
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()
        self._enc_chain = 0  # the last ciphertext block each context has chained from
        self._dec_chain = 0

    def seal(self, clear: bytes) -> bytes:
        body = len(clear).to_bytes(2, "big") + crc16(clear).to_bytes(2, "big") + clear
        body += bytes(-len(body) % 16)
        first = int.from_bytes(body[:16], "big") ^ self._enc_chain
        out = self._enc.update(first.to_bytes(16, "big") + body[16:])
        self._enc_chain = int.from_bytes(out[-16:], "big")
        return bytes((DC2,)) + out

    def open(self, pktdata: bytes) -> bytes:
        if not pktdata or pktdata[0] != DC2:
            raise SecureError("not an encrypted packet")
        data = pktdata[1:]
        if not data or len(data) % 16:
            raise SecureError("encrypted length is not a multiple of 16")
        plain = self._dec.update(data)
        first = int.from_bytes(plain[:16], "big") ^ self._dec_chain
        self._dec_chain = int.from_bytes(data[-16:], "big")
        body = first.to_bytes(16, "big") + plain[16:]
        n = int.from_bytes(body[:2], "big")
        if n + 4 > len(body) or len(body) - (n + 4) >= 16:
            raise SecureError("DATALEN does not match the packet")
        clear = body[4 : 4 + n]
        if crc16(clear) != int.from_bytes(body[2:4], "big") or any(body[4 + n :]):
            raise SecureError("DATACRC mismatch")
        return clear
