"""A session's packets are AES-CBC from IV 0 each, whatever came before on the session."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from virtual_devices.abecs.link import DC2, crc16
from virtual_devices.abecs.secure import SecureError, SecureSession


def _fresh_cbc(key: bytes, clear: bytes) -> bytes:
    body = len(clear).to_bytes(2, "big") + crc16(clear).to_bytes(2, "big") + clear
    body += bytes(-len(body) % 16)
    enc = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return bytes((DC2,)) + enc.update(body) + enc.finalize()


@pytest.mark.parametrize("seed", range(10))
def test_each_packet_is_a_fresh_cbc_chain(seed: int) -> None:
    rng = random.Random(seed)
    key = rng.randbytes(16)
    session = SecureSession(key)
    for _ in range(40):
        clear = rng.randbytes(rng.randrange(1, 700))
        sealed = session.seal(clear)
        assert sealed == _fresh_cbc(key, clear)
        if rng.random() < 0.3:  # a garbled packet read in between changes nothing after
            with pytest.raises(SecureError):
                session.open(bytes((DC2,)) + rng.randbytes(16 * rng.randrange(1, 4)))
        assert session.open(sealed) == clear
