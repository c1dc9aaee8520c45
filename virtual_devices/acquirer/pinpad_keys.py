"""The acquirer's side of the pinpad key methods (ABECS 2.12 §5): it holds the same
test keys a key-injection facility put in the pinpad (``virtual_devices/abecs/data/
keys.toml``) and opens what the pinpad encrypted under each method.

Written against the specification, separately from the pinpad's own ``keys.py``, so a
round trip checks one implementation against another: MK/WK:TDES PIN blocks (the
acquirer chose the working key and sent it encrypted under the master key),
DUKPT:TDES:DAT#3 data, MK/WK:TDES data, the encrypted PAN of §5.3 and the end-to-end
tracks of §5.4.2 (including KRAND wrapped under the host's RSA key). :class:`PinKeys`
is the acquirer's choice of online-PIN method for its terminals, and opens MK/WK PIN
blocks that reach it (the card_hash path of mpos).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from psec import pinblock

from virtual_devices.abecs import dukpt

_DAT1 = bytes.fromhex("000000000000FF00000000000000FF00")  # §5.1.2 DUKPT:TDES:DAT#1
_DAT3 = bytes.fromhex("00000000FF00000000000000FF000000")


def _tdes_decrypt(key: bytes, data: bytes, iv: bytes | None) -> bytes:
    mode = modes.ECB() if iv is None else modes.CBC(iv)
    ctx = Cipher(TripleDES(key + key[:8]), mode).decryptor()
    return ctx.update(data) + ctx.finalize()


def _tdes_encrypt(key: bytes, data: bytes) -> bytes:
    ctx = Cipher(TripleDES(key + key[:8]), modes.ECB()).encryptor()
    return ctx.update(data) + ctx.finalize()


def wrap_working_key(master: bytes, working: bytes) -> str:
    """WKENC as the host sends it: the working key TDES-ECB-encrypted under the MK."""
    return _tdes_encrypt(master, working).hex().upper()


def open_mk_pin(working: bytes, block: bytes, pan: str) -> str:
    """The PIN in an MK/WK:TDES format 0 block (the host knows its working key)."""
    clear = _tdes_decrypt(working, block, None)
    return str(pinblock.decode_pinblock_iso_0(clear, pan.rjust(13, "0")))


def open_dukpt_dat3(bdk: bytes, ksn: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """Data the pinpad encrypted with DUKPT:TDES:DAT#3 (ECB, or CBC with ``iv``)."""
    future = dukpt.derive_key(dukpt.ipek(bdk, ksn), ksn)
    key = bytes(a ^ b for a, b in zip(future, _DAT3, strict=True))
    return _tdes_decrypt(key, data, iv)


def open_dukpt_dat1(bdk: bytes, ksn: bytes, data: bytes) -> bytes:
    """Data the pinpad encrypted with DUKPT:TDES:DAT#1 (ECB: EBX 30, GEN/03/03)."""
    future = dukpt.derive_key(dukpt.ipek(bdk, ksn), ksn)
    key = bytes(a ^ b for a, b in zip(future, _DAT1, strict=True))
    return _tdes_decrypt(key, data, None)


def open_mk_data(working: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    return _tdes_decrypt(working, data, iv)


def unwrap_krand(private_key: rsa.RSAPrivateKey, enckrand: bytes) -> bytes:
    """PP_ENCKRAND opened with the host's private key (PKCS#1 block of §5.2.1)."""
    krand = private_key.decrypt(enckrand, padding.PKCS1v15())
    if len(krand) != 16:
        raise ValueError("KRAND is a 16-byte TDES key")
    return krand


def open_track_nibbles(clear_digits: int, cryptogram: bytes, key: bytes,
                       iv: bytes | None = None) -> str:
    """PAN / track 2 / track 3 of §5.4.2.2: clear leading bytes, then the encrypted
    rest; ``D`` back to ``=`` and the ``F`` filler dropped."""
    head = cryptogram[: clear_digits // 2].hex().upper()
    body = _tdes_decrypt(key, cryptogram[clear_digits // 2:], iv).hex().upper().rstrip("F")
    return (head + body).replace("D", "=")


def open_track1(clear_chars: int, cryptogram: bytes, key: bytes, iv: bytes | None = None) -> str:
    """Track 1 of §5.4.2.1: the format character and ``clear_chars`` more in clear."""
    head = cryptogram[: 1 + clear_chars]
    body = _tdes_decrypt(key, cryptogram[1 + clear_chars:], iv).rstrip(b"\x00")
    return (head + body).decode("latin-1")


def open_wkpan_cryptogram(modulus: int, private_exponent: int, cryptogram: bytes) -> bytes:
    """DWK_CRYPT of modality 2 (§5.3.3) opened with the host's private key: the WKPAN.

    The clear block is ``"T" "1" N9 H32 N84 "X"``; header, version and trailer are
    checked, the sequence number ignored, as §5.3.3 says. The H32 field is the key in
    hexadecimal; the specification's own example instead carries the 16 key bytes
    followed by 16 other characters, so a field that is not hexadecimal is read that way
    (a host must open what pinpads built from that example send).
    """
    if len(cryptogram) != 128:
        raise ValueError("DWK_CRYPT is 128 bytes")
    block = pow(int.from_bytes(cryptogram, "big"), private_exponent, modulus).to_bytes(128, "big")
    if block[:2] != b"T1" or block[-1:] != b"X" or not block[2:11].isdigit():
        raise ValueError("not a WKPAN block of §5.3.3 (header, version or trailer wrong)")
    field = block[11:43]
    try:
        return bytes.fromhex(field.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return field[:16]


# -- the acquirer's online-PIN key setup -------------------------------------------------------

# The working key this acquirer chooses for terminals on master key / working key PIN
# encryption (a test value; it reaches the pinpad only wrapped under the master key).
TEST_PIN_WORKING_KEY = bytes.fromhex("4A5B6C7D8E9FA0B1C2D3E4F5061728F9")


def _test_master_keys(kind: str) -> dict[int, bytes]:
    """The MK:TDES test keys a key-injection facility loaded into the pinpads
    (``virtual_devices/abecs/data/keys.toml``), as the acquirer holds them."""
    import tomllib
    from importlib import resources

    text = resources.files("virtual_devices.abecs").joinpath("data/keys.toml").read_text("utf-8")
    return {int(i): bytes.fromhex(b["key"]) for i, b in tomllib.loads(text).get(kind, {}).items()}


@dataclass(frozen=True)
class PinKeys:
    """How this acquirer's terminals encrypt online PINs: the TMS ``acquirers[]`` row
    (``pin_encryption_method``, ``key_index``) and, for master key / working key, the
    working key the acquirer chose (libmpos's ``session_key``: sent to the terminal
    encrypted under the master key at ``key_index``).

    ``method`` is ABECS's SPE_MTHDPIN / GOC METHOD: 3 DUKPT:TDES, 1 MK/WK:TDES.
    """

    method: int = 3
    key_index: int = 16
    working_key: bytes | None = None

    @classmethod
    def master_key(cls, key_index: int = 1,
                   working_key: bytes = TEST_PIN_WORKING_KEY) -> PinKeys:
        return cls(1, key_index, working_key)

    @property
    def encryption_method(self) -> str:
        """The TMS spelling of the method."""
        return "dukpt" if self.method == 3 else "master_key"

    def session_key(self) -> str:
        """WKENC (H32) for the terminal: the working key under MK:TDES:PIN ``key_index``;
        zeros for DUKPT, which has none."""
        if self.method != 1 or self.working_key is None:
            return "0" * 32
        master = _test_master_keys("mk_pin").get(self.key_index)
        if master is None:
            raise ValueError(f"no MK:TDES:PIN test key at index {self.key_index:02d}")
        return wrap_working_key(master, self.working_key)

    def open_pin_block(self, block: bytes, ksn: bytes, pan: str) -> str | None:
        """The PIN in an MK/WK block (the pinpad sends a KSN of zeros with it, §3.3.11),
        or None when this setup is not master key / working key or the KSN is a DUKPT
        one. Raises ValueError for a block that is not format 0 under the working key."""
        if self.method != 1 or self.working_key is None or any(ksn):
            return None
        return open_mk_pin(self.working_key, block, pan)
