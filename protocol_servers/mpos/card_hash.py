"""The ``card_hash`` of mpos-bridge.md §3.4: the card as the merchant backend receives it.

The card fields are form-encoded in a fixed order, encrypted with RSA PKCS#1 v1.5 in
chunks of (modulus bytes - 11) under the acquirer host's public key, concatenated,
Base64-encoded and prefixed with the key id: ``<id>_<base64>``. Only the acquirer host
(which holds the private key) can read it back, which lets tests check that the hash
carries the very card that was presented.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

import gmpy2
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from virtual_devices.abecs.secure import nonzero_bytes


@dataclass(frozen=True)
class CardFields:
    """What the pinpad told the host about the card (GCR, GOC/GPN answers)."""

    capture_method: str  # "emv" | "magstripe"
    payment_method: str  # "credit_card" | "debit_card"
    card_number: str
    expiration_yymmdd: str
    sequence_number: int | None
    track_2: str
    track_1: str | None = None
    track_3: str | None = None
    holder_name: str | None = None
    emv_data: str | None = None  # hex TLV from GOC, EMV only
    pin_mode: str | None = None  # "online" | "offline" when a PIN was required
    pin_block: str | None = None  # 16 hex, online PIN only
    pin_ksn: str | None = None  # 20 hex, online PIN only
    # How the pinpad read the card ("chip", "contactless", "magstripe", "fallback", ...).
    # Pagar.me's capture_method has only "emv" and "magstripe", so a tap stays "emv" there
    # and this extra form field carries what the pinpad saw; an unknown key is ignored
    # by a form reader that does not know it.
    entry_mode: str = ""


def holder_name_display(raw: str | None) -> str | None:
    """``SURNAME/GIVEN`` -> ``GIVEN SURNAME`` (§2.5 ``card_holder_name``)."""
    if raw is None:
        return None
    name = raw.strip()
    if not name:
        return None
    if "/" in name:
        parts = [p.strip() for p in name.split("/") if p.strip()]
        return " ".join(reversed(parts))
    return name


def form_fields(card: CardFields) -> list[tuple[str, str]]:
    """The (key, value) pairs in the order of §3.4 step 1."""
    exp = card.expiration_yymmdd
    pairs: list[tuple[str, str]] = [
        ("capture_method", card.capture_method),
        ("payment_method", card.payment_method),
        ("card_number", card.card_number),
        ("card_expiration_date", exp[2:4] + exp[0:2]),  # YYMMDD -> MMYY
        ("card_sequence_number", str(card.sequence_number or 0)),
        ("card_track_2", card.track_2),
    ]
    if card.track_1:
        pairs.append(("card_track_1", card.track_1))
    if card.track_3:
        pairs.append(("card_track_3", card.track_3))
    name = holder_name_display(card.holder_name)
    if name:
        pairs.append(("card_holder_name", name))
    if card.capture_method == "emv" and card.emv_data:
        pairs.append(("card_emv_data", card.emv_data))
    if card.entry_mode:
        pairs.append(("card_entry_mode", card.entry_mode))
    if card.pin_mode:
        pairs.append(("card_pin_mode", card.pin_mode))
        if card.pin_mode == "online":
            pairs.append(("card_pin", card.pin_block or ""))
            pairs.append(("card_pin_kek", card.pin_ksn or ""))
    return pairs


def form_encode(pairs: list[tuple[str, str]]) -> str:
    # Uri.EscapeDataString leaves only the RFC 3986 unreserved characters alone
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def _pkcs1v15_block(chunk: bytes, public_key: rsa.RSAPublicKey, rng: random.Random) -> bytes:
    """PKCS#1 v1.5 type 2 (RFC 8017 §7.2.1) with padding drawn from ``rng``.

    The padding is random by design; drawing it from the world's seeded stream keeps a
    virtual run byte-identical for a seed. The result is ordinary PKCS#1 v1.5 that any
    RSA library decrypts.
    """
    numbers = public_key.public_numbers()
    k = (public_key.key_size + 7) // 8
    pad = nonzero_bytes(rng, k - 3 - len(chunk))
    em = b"\x00\x02" + pad + b"\x00" + chunk
    # GMP's exponentiation gives the same number as ``pow`` several times faster
    c = int(gmpy2.powmod(int.from_bytes(em, "big"), numbers.e, numbers.n))
    return c.to_bytes(k, "big")


def encrypt_card_hash(
    plain: str, key_id: str | int, public_key: rsa.RSAPublicKey, rng: random.Random | None = None
) -> str:
    """Encrypt in chunks of (modulus bytes - 11); ``rng`` makes the padding reproducible."""
    data = plain.encode("utf-8")
    block = public_key.key_size // 8 - 11
    chunks = [data[i : i + block] for i in range(0, len(data), block)]
    if rng is None:
        cipher = b"".join(public_key.encrypt(c, padding.PKCS1v15()) for c in chunks)
    else:
        cipher = b"".join(_pkcs1v15_block(c, public_key, rng) for c in chunks)
    return f"{key_id}_{base64.b64encode(cipher).decode('ascii')}"


def build_card_hash(
    card: CardFields,
    key_id: str | int,
    public_key: rsa.RSAPublicKey,
    rng: random.Random | None = None,
) -> str:
    return encrypt_card_hash(form_encode(form_fields(card)), key_id, public_key, rng)


def split_card_hash(card_hash: str) -> tuple[str, bytes]:
    key_id, sep, b64 = card_hash.partition("_")
    if not sep or not key_id:
        raise ValueError("card_hash is '<key id>_<base64>'")
    try:
        return key_id, base64.b64decode(b64, validate=True)
    except ValueError:
        raise ValueError("card_hash body is not Base64") from None


def decrypt_card_hash(card_hash: str, private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The acquirer side: the card fields back as a dict (raises ValueError if unreadable)."""
    _, cipher = split_card_hash(card_hash)
    size = private_key.key_size // 8
    if not cipher or len(cipher) % size:
        raise ValueError("card_hash length is not a multiple of the key size")
    plain = b"".join(
        private_key.decrypt(cipher[i : i + size], padding.PKCS1v15())
        for i in range(0, len(cipher), size)
    )
    return dict(parse_qsl(plain.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
