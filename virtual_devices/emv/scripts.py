"""Issuer script commands as the issuer builds them (EMV Book 3 §6.5, Book 2 §9).

The acquirer host answers an online request with tag 71/72 scripts; each command is
protected by a MAC under the card's secure-messaging integrity session key (and PIN
data enciphered under the confidentiality key), so only the issuer that holds the
master keys can change a card's state. The card checks the same MAC in
``card.py``; building and checking share ``crypto.script_mac``.
"""

from __future__ import annotations

from virtual_devices.emv import crypto, tlv
from virtual_devices.emv.catalogue import CardProfile

__all__ = [
    "script_command",
    "pin_unblock",
    "pin_change",
    "application_block",
    "application_unblock",
    "card_block",
    "put_data",
    "script_template",
]


def _keys(profile: CardProfile) -> crypto.CardKeys:
    return crypto.card_keys(profile.brand, profile.pan, profile.psn)


def script_command(
    scheme: str,
    icc_mk_smi: bytes,
    atc: bytes,
    arqc: bytes,
    cla: int,
    ins: int,
    p1: int,
    p2: int,
    data: bytes = b"",
) -> bytes:
    """A command APDU with its 8-byte MAC appended (Lc counts the MAC)."""
    header = bytes([cla, ins, p1, p2, len(data) + 8])
    mac = crypto.script_mac(scheme, icc_mk_smi, atc, arqc, header, data)
    return header + data + mac


def _scheme(profile: CardProfile, aid: bytes | None, contactless: bool) -> str:
    app = next((a for a in profile.applications if aid is None or a.aid == aid),
               profile.applications[0])
    return app.ctls_scheme if contactless else app.scheme


def pin_unblock(profile: CardProfile, atc: bytes, arqc: bytes, aid: bytes | None = None,
                contactless: bool = False) -> bytes:
    k = _keys(profile)
    return script_command(_scheme(profile, aid, contactless), k.smi, atc, arqc,
                          0x84, 0x24, 0x00, 0x00)


def pin_change(profile: CardProfile, new_pin: str, atc: bytes, arqc: bytes,
               aid: bytes | None = None, contactless: bool = False) -> bytes:
    """PIN CHANGE without the current PIN (P2 02), PIN block enciphered for the scheme."""
    scheme = _scheme(profile, aid, contactless)
    k = _keys(profile)
    if crypto.SCHEMES[scheme].sm == "visa":
        # VIS PIN block: (len || PIN || F pad) xor (00000000 || ICC MK-AC bytes 5-8)
        block_b = bytes([len(new_pin)]) + bytes.fromhex(new_pin.ljust(14, "F"))
        block = bytes(x ^ y for x, y in zip(block_b, bytes(4) + k.ac[4:8], strict=True))
    else:
        block = bytes.fromhex(f"2{len(new_pin):X}{new_pin}".ljust(16, "F"))
    enc = crypto.encrypt_script_data(scheme, k.smc, atc, arqc, block)
    return script_command(scheme, k.smi, atc, arqc, 0x84, 0x24, 0x00, 0x02, enc)


def application_block(profile: CardProfile, atc: bytes, arqc: bytes,
                      aid: bytes | None = None, contactless: bool = False) -> bytes:
    k = _keys(profile)
    return script_command(_scheme(profile, aid, contactless), k.smi, atc, arqc,
                          0x84, 0x1E, 0x00, 0x00)


def application_unblock(profile: CardProfile, atc: bytes, arqc: bytes,
                        aid: bytes | None = None, contactless: bool = False) -> bytes:
    k = _keys(profile)
    return script_command(_scheme(profile, aid, contactless), k.smi, atc, arqc,
                          0x84, 0x18, 0x00, 0x00)


def card_block(profile: CardProfile, atc: bytes, arqc: bytes, aid: bytes | None = None,
               contactless: bool = False) -> bytes:
    k = _keys(profile)
    return script_command(_scheme(profile, aid, contactless), k.smi, atc, arqc,
                          0x84, 0x16, 0x00, 0x00)


def put_data(profile: CardProfile, tag: int, value: bytes, atc: bytes, arqc: bytes,
             aid: bytes | None = None, contactless: bool = False) -> bytes:
    k = _keys(profile)
    return script_command(_scheme(profile, aid, contactless), k.smi, atc, arqc,
                          0x04, 0xDA, (tag >> 8) & 0xFF, tag & 0xFF, value)


def script_template(commands: list[bytes], template: int = 0x72,
                    script_id: bytes | None = None) -> bytes:
    """Wrap commands in tag 71 (before second GENERATE AC) or 72 (after)."""
    body = tlv.encode(0x9F18, script_id) if script_id else b""
    body += b"".join(tlv.encode(0x86, c) for c in commands)
    return tlv.encode(template, body)
