"""The pinpad's key store and the key methods of ABECS 2.12 §5 and §6.3.

Four kinds of key, each addressed by a two-digit index (§5.1, §6.1.2 asks for at least
32 positions, "01" to "32"): MK:TDES:PIN and MK:TDES:DAT (master keys under which the
host sends a working key), DUKPT:TDES:PIN and DUKPT:TDES:DAT. DES keys were removed
in 2.10 and are reported as unsupported.

- PIN methods (SPE_MTHDPIN / GPN, GOC METHOD): ``1`` MK/WK:TDES, ``3`` DUKPT:TDES
  (``0`` and ``2``, the DES ones, answer ST_ERRKEY: no such key can exist).
- Data methods (SPE_MTHDDAT): ``10``/``11`` MK/WK:TDES ECB/CBC, ``30`` DUKPT:TDES:DAT#1
  ECB (the "message authentication, request or both ways" variant, constant
  ``000000000000FF00`` on both halves; also GEN/03/03), ``50``/``51`` DUKPT:TDES:DAT#3
  ECB/CBC (the "message authentication, response" variant, ``00000000FF000000``,
  §5.1.2); one KSN for every block of a call.
- Encrypted PAN (§5.3.1): the 16 rightmost PAN digits (spaces as ``E``, short PANs
  padded with ``F``) replaced by their TDES encryption under WKPAN.
- End-to-end tracks (§5.4.2): the first SPE_OPNDIG characters stay clear, the rest is
  encrypted by the data method (track 1 as ASCII padded with 00h, PAN and tracks 2/3 as
  nibbles padded with Fh); method ``9x`` uses a fresh random KRAND, returned wrapped
  under the host's RSA key (PKCS#1 block of §5.2.1).

The ciphers are ``cryptography``'s; the key data are test values in ``data/keys.toml``.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from psec import pinblock

from virtual_devices.abecs.dukpt import DukptKey, derive_key, ipek, load_test_keys, provision

POSITIONS = range(1, 33)  # the key indexes this pinpad supports, per kind (§6.1.2)
KINDS = ("mk_pin", "mk_dat", "dukpt_pin", "dukpt_dat")
DAT1_VARIANT = bytes.fromhex("000000000000FF00000000000000FF00")
DAT3_VARIANT = bytes.fromhex("00000000FF00000000000000FF000000")
ZERO_KSN = bytes(10)


class KeyError_(Exception):
    """No key of that kind at that index (ST_ERRKEY), or a method that has none."""


def tdes(key: bytes, data: bytes, decrypt: bool = False, cbc_iv: bytes | None = None) -> bytes:
    """TDES (K1 K2 K1) in ECB, or CBC when ``cbc_iv`` is given; data a multiple of 8."""
    mode = modes.CBC(cbc_iv) if cbc_iv is not None else modes.ECB()
    cipher = Cipher(TripleDES(key + key[:8] if len(key) == 16 else key), mode)
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def dukpt_dat3_key(initial_key: bytes, ksn: bytes) -> bytes:
    """The DUKPT:TDES:DAT#3 key for ``ksn`` (§5.1.2)."""
    return _xor(derive_key(initial_key, ksn), DAT3_VARIANT)


def dukpt_dat1_key(initial_key: bytes, ksn: bytes) -> bytes:
    """The DUKPT:TDES:DAT#1 key for ``ksn`` (§5.1.2)."""
    return _xor(derive_key(initial_key, ksn), DAT1_VARIANT)


def _read_toml() -> dict[str, dict[str, dict[str, str]]]:
    text = resources.files("virtual_devices.abecs").joinpath("data/keys.toml").read_text("utf-8")
    return tomllib.loads(text)  # type: ignore[return-value]


def load_master_keys() -> dict[str, dict[int, bytes]]:
    """The MK:TDES test keys by kind ("mk_pin", "mk_dat") and index."""
    raw = _read_toml()
    return {kind: {int(i): bytes.fromhex(b["key"]) for i, b in raw.get(kind, {}).items()}
            for kind in ("mk_pin", "mk_dat")}


def load_dukpt_dat_keys() -> dict[int, tuple[bytes, bytes]]:
    """DUKPT:TDES:DAT test keys: index -> (BDK, initial KSN)."""
    raw = _read_toml().get("dukpt_dat", {})
    return {int(i): (bytes.fromhex(b["bdk"]), bytes.fromhex(b["initial_ksn"]))
            for i, b in raw.items()}


@dataclass
class KeyStore:
    """Every key the pinpad holds, and the encryptions the commands ask of them."""

    mk_pin: dict[int, bytes] = field(default_factory=dict)
    mk_dat: dict[int, bytes] = field(default_factory=dict)
    dukpt_pin: dict[int, DukptKey] = field(default_factory=dict)
    dukpt_dat: dict[int, DukptKey] = field(default_factory=dict)
    wkpan: bytes | None = None  # §5.3: set by DWK; GCR/CKE then encrypt the PAN

    @classmethod
    def test_keys(cls) -> KeyStore:
        mks = load_master_keys()
        dat = {}
        for i, (bdk, ksn) in load_dukpt_dat_keys().items():
            dat[i] = DukptKey(i, ipek(bdk, ksn), ksn)
        return cls(mks["mk_pin"], mks["mk_dat"],
                   {i: provision(k) for i, k in load_test_keys().items()}, dat)

    # -- what GIX / GEN/02/K3 report (§3.2.4: "0" absent, "1" present, "2" unsupported) ----
    def presence(self, kind: str) -> str:
        held: dict[int, object] = {"mk_pin": self.mk_pin, "mk_dat": self.mk_dat,
                                   "dukpt_pin": self.dukpt_pin,
                                   "dukpt_dat": self.dukpt_dat}[kind]  # type: ignore[assignment]
        return "".join("1" if i in held else "0" if i in POSITIONS else "2" for i in range(100))

    def ksn(self, kind: str, index: int) -> bytes | None:
        """The current KSN of a DUKPT key (PP_KSNTDESPnn / PP_KSNTDESDnn), None if absent."""
        key = (self.dukpt_pin if kind == "dukpt_pin" else self.dukpt_dat).get(index)
        return key.ksn if key is not None else None

    # -- PIN -----------------------------------------------------------------------------
    def has_pin_key(self, method: int, index: int) -> bool:
        if method == 1:
            return index in self.mk_pin
        if method == 3:
            return index in self.dukpt_pin
        return False  # 0 and 2: DES keys, removed in ABECS 2.10

    def encrypt_pin(self, method: int, index: int, wkenc: bytes, pin: str,
                    pan: str) -> tuple[bytes, bytes]:
        """The ISO 9564 format 0 block and its KSN (zeros for MK/WK); KeyError_ if none."""
        if not self.has_pin_key(method, index):
            raise KeyError_(f"no PIN key for method {method} at index {index:02d}")
        if method == 3:
            return self.dukpt_pin[index].encrypt_pin(pin, pan)
        wk = self.working_key(self.mk_pin[index], wkenc)
        clear = pinblock.encode_pinblock_iso_0(pin, pan.rjust(13, "0"))
        return tdes(wk, clear), ZERO_KSN

    @staticmethod
    def working_key(master: bytes, wkenc: bytes) -> bytes:
        """WKENC decrypted under the master key (TDES-ECB); a 16-byte TDES key."""
        if len(wkenc) != 16:
            raise KeyError_("a TDES working key is 16 bytes")
        return tdes(master, wkenc, decrypt=True)

    # -- data (SPE_MTHDDAT) --------------------------------------------------------------------
    def encrypt_data(self, method: int, index: int, data: bytes, wkenc: bytes = b"",
                     iv: bytes = bytes(8)) -> tuple[bytes, bytes]:
        """``data`` (a multiple of 8) under a data method; returns (cryptogram, KSN)."""
        if len(data) % 8:
            raise ValueError("data to encrypt must be a multiple of 8 bytes")
        cbc = iv if method % 10 == 1 else None
        if method in (10, 11):
            master = self.mk_dat.get(index)
            if master is None:
                raise KeyError_(f"no MK:TDES:DAT key at index {index:02d}")
            return tdes(self.working_key(master, wkenc), data, cbc_iv=cbc), ZERO_KSN
        if method in (30, 50, 51):
            slot = self.dukpt_dat.get(index)
            if slot is None:
                raise KeyError_(f"no DUKPT:TDES:DAT key at index {index:02d}")
            ksn = slot.next_ksn()  # one transaction key for every block (§5.1.2)
            variant = dukpt_dat1_key if method == 30 else dukpt_dat3_key
            return tdes(variant(slot.initial_key, ksn), data, cbc_iv=cbc), ksn
        raise KeyError_(f"data method {method:02d} is not offered (the DES keys were removed)")


# -- §5.3 encrypted PAN -------------------------------------------------------------------------

def _pan_span(track: str) -> tuple[int, int] | None:
    """Where the PAN sits in a track or PAN field (§5.3.1): from the first digit or space
    to the separator (``^`` or ``=``) or the end."""
    start = next((i for i, c in enumerate(track) if c.isdigit() or c == " "), None)
    if start is None:
        return None
    end = start
    while end < len(track) and track[end] not in "^=":
        end += 1
    return start, end


def encrypt_pan_in(wkpan: bytes, track: str) -> str:
    """The track (or PAN) with its PAN's 16 rightmost digits encrypted (§5.3.1).

    Not encrypted: fewer than 13 digits, or a character other than a digit or a space.
    """
    span = _pan_span(track)
    if span is None:
        return track
    start, end = span
    pan = track[start:end]
    digits = pan.replace(" ", "")
    if len(digits) < 13 or not all(c.isdigit() or c == " " for c in pan):
        return track
    coded = pan.replace(" ", "E")
    head, tail = coded[:-16], coded[-16:]
    if len(tail) < 16:
        tail = tail.ljust(16, "F")
    crypt = tdes(wkpan, bytes.fromhex(tail)).hex().upper()
    return track[:start] + head + crypt + track[end:]


def decrypt_pan_in(wkpan: bytes, track: str) -> str:
    """The SPE's side (§5.3.2): the 16 characters before the first separator (or the
    end) are the cryptogram when they are hex and decrypt to digits, ``E`` (space) and at
    most three ``F`` of padding; otherwise the track was not encrypted."""
    end = next((i for i, c in enumerate(track) if c in "^="), len(track))
    block = track[end - 16:end] if end >= 16 else ""
    if len(block) < 16 or any(c not in "0123456789ABCDEF" for c in block):
        return track
    clear = tdes(wkpan, bytes.fromhex(block), decrypt=True).hex().upper()
    body = clear.rstrip("F")
    if len(clear) - len(body) > 3 or any(c not in "0123456789E" for c in body):
        return track
    return track[:end - 16] + body.replace("E", " ") + track[end:]


def decrypt_incoming_pan(wkpan: bytes, pan: str) -> str:
    """A PAN the SPE sent encrypted (GPN, §5.3): the SPE applies TDES⁻¹ to the 16
    rightmost digits, so the pinpad applies TDES to get them back."""
    if len(pan) < 16 or any(c not in "0123456789ABCDEF" for c in pan[-16:]):
        return pan  # fewer than 16 characters: may come in clear
    clear = tdes(wkpan, bytes.fromhex(pan[-16:])).hex().upper().rstrip("F")
    return pan[:-16] + clear.replace("E", " ")


# -- §5.4.2 end-to-end track encryption ---------------------------------------------------------

def e2e_encrypt(store: KeyStore, method: int, index: int, text: str, opn_digits: int,
                nibbles: bool, wkenc: bytes = b"", iv: bytes = bytes(8),
                krand: bytes | None = None) -> tuple[bytes, bytes]:
    """Track 1 (ASCII, ``nibbles`` False) or PAN/track 2/3 (nibbles): the first
    ``opn_digits`` stay clear, the rest padded (00h or Fh) and encrypted. Returns
    (PP_TRACKn bytes, KSN). Method ``9x`` encrypts with ``krand`` (TDES, ECB for 90,
    CBC for 91)."""
    if nibbles:
        digits = text.replace("=", "D").replace("^", "D")
        if opn_digits % 2:
            raise ValueError("SPE_OPNDIG is 0, 2, 4, 6 or 8: whole bytes stay clear")
        clear, rest = digits[:opn_digits], digits[opn_digits:]
        rest += "F" * (-len(rest) % 16)
        head, body = bytes.fromhex(clear), bytes.fromhex(rest)
    else:
        # the format character ("B") is not counted among the clear characters
        rest_b = text[1 + opn_digits:].encode("latin-1")
        head, body = text[: 1 + opn_digits].encode("latin-1"), rest_b + b"\x00" * (-len(rest_b) % 8)
    if method // 10 == 9:
        if krand is None:
            raise KeyError_("method 9x needs the pinpad's random KRAND")
        cbc = iv if method % 10 == 1 else None
        return head + tdes(krand, body, cbc_iv=cbc), ZERO_KSN
    crypt, ksn = store.encrypt_data(method, index, body, wkenc, iv)
    return head + crypt, ksn


def new_krand(rng: random.Random) -> bytes:
    """A fresh 16-byte TDES key for one GTK (never reused, §5.4.2)."""
    return bytes(rng.randrange(256) for _ in range(16))


# -- §5.3.3 DWK modality 2: a random WKPAN under the host's RSA key ------------------------------

WKPAN_BLOCK_LEN = 128  # the RSA block of §5.3.3 (a 1024-bit key, DWK_RSAMOD H256)


def wkpan_block(sequence: int, wkpan: bytes) -> bytes:
    """The 128-byte clear block of §5.3.3: ``"T"``, layout ``"1"``, an N9 sequence
    number, the WKPAN as H32, 84 zeros and ``"X"``."""
    return (b"T1" + f"{sequence % 1_000_000_000:09d}".encode() + wkpan.hex().upper().encode()
            + b"0" * 84 + b"X")


def seal_wkpan(sequence: int, wkpan: bytes, modulus: int, exponent: int) -> bytes:
    """DWK_CRYPT: the block raised to the public exponent, with no padding (the block is
    its own format; that is why §3.2.5 wants the modulus's first byte above 54h, "T")."""
    block = int.from_bytes(wkpan_block(sequence, wkpan), "big")
    if modulus.bit_length() != 8 * WKPAN_BLOCK_LEN or block >= modulus:
        raise KeyError_("DWK_RSAMOD must be 128 bytes with a first byte above 54h")
    return pow(block, exponent, modulus).to_bytes(WKPAN_BLOCK_LEN, "big")
