"""Cardholder verification by CVM list (EMV 4.4 Book 3 §10.5, Book 4 §6.3.4).

The list (8E) is amount X (4) || amount Y (4) || pairs of CVM code and condition.
Rules are tried in order; a rule whose condition is met is performed; when it fails,
bit 7 of the code says whether to go on to the next rule. The terminal's capabilities
(9F33 byte 2) decide which methods it can perform at all.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import gmpy2

from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command, sw_pin_tries
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel import oda
from virtual_devices.emv.kernel.messages import CANCEL, EnterPin, KernelStop, Request, Status

if TYPE_CHECKING:
    from virtual_devices.emv.kernel.contact import ContactKernel

Gen = Generator[Request, Any, Any]

FAIL_CVM = 0x00
PLAINTEXT_PIN = 0x01
ONLINE_PIN = 0x02
PLAINTEXT_PIN_SIGNATURE = 0x03
ENCIPHERED_PIN = 0x04
ENCIPHERED_PIN_SIGNATURE = 0x05
SIGNATURE = 0x1E
NO_CVM = 0x1F

RESULT_UNKNOWN = 0x00
RESULT_FAILED = 0x01
RESULT_SUCCESSFUL = 0x02

_NAMES = {
    FAIL_CVM: "fail-cvm",
    PLAINTEXT_PIN: "offline-plaintext-pin",
    ONLINE_PIN: "online-pin",
    PLAINTEXT_PIN_SIGNATURE: "offline-plaintext-pin+signature",
    ENCIPHERED_PIN: "offline-enciphered-pin",
    ENCIPHERED_PIN_SIGNATURE: "offline-enciphered-pin+signature",
    SIGNATURE: "signature",
    NO_CVM: "no-cvm",
}


def cvm_name(code: int) -> str:
    return _NAMES.get(code & 0x3F, f"cvm-{code & 0x3F:02X}")


def _supported(k: ContactKernel, method: int) -> bool | None:
    """True/False for methods the terminal knows; None for unrecognised codes."""
    assert k.app is not None
    caps = k.cvm_capabilities()
    need = {
        PLAINTEXT_PIN: [B.CAP_PLAINTEXT_PIN],
        PLAINTEXT_PIN_SIGNATURE: [B.CAP_PLAINTEXT_PIN, B.CAP_SIGNATURE],
        ENCIPHERED_PIN: [B.CAP_ENCIPHERED_PIN],
        ENCIPHERED_PIN_SIGNATURE: [B.CAP_ENCIPHERED_PIN, B.CAP_SIGNATURE],
        ONLINE_PIN: [B.CAP_ONLINE_PIN],
        SIGNATURE: [B.CAP_SIGNATURE],
        NO_CVM: [B.CAP_NO_CVM],
        FAIL_CVM: [],
    }.get(method)
    if need is None:
        return None
    if method == ONLINE_PIN and not k.online_capable:
        return False
    return all(B.has(caps, b) for b in need)


def _condition_met(k: ContactKernel, cond: int, method: int, x: int, y: int) -> bool | None:
    """Book 3 Annex C3; None when the condition code is not understood (skip rule)."""
    assert k.app is not None
    t = k.txn
    same_currency = k.card.tags.get(0x9F42) == bytes.fromhex(str(k.app.currency).rjust(4, "0"))
    unattended = k.app.terminal_type % 100 // 10 == 2 or k.app.terminal_type in (14, 15, 16)
    cash = t.type in (0x01, 0x17)
    if cond == 0x00:
        return True
    if cond == 0x01:
        return unattended and cash
    if cond == 0x02:
        return not cash and t.type != 0x09
    if cond == 0x03:
        return bool(_supported(k, method))
    if cond == 0x04:
        return cash and not unattended
    if cond == 0x05:
        return t.type == 0x09
    if cond in (0x06, 0x07, 0x08, 0x09):
        if not same_currency:
            return False
        limit = x if cond in (0x06, 0x07) else y
        return t.amount < limit if cond in (0x06, 0x08) else t.amount > limit
    return None


def run_cvm_list(k: ContactKernel) -> Gen:
    cvm_list = k.card.tags.get(0x8E)
    if not cvm_list or len(cvm_list) < 10 or len(cvm_list) % 2:
        # Book 3 §10.5: no usable list: ICC data missing, verification not performed.
        k.tvr.set(B.TVR_ICC_DATA_MISSING)
        k.cvm_results = bytes.fromhex("3F0000")
        return
    k.tsi.set(B.TSI_CVM_PERFORMED)
    x = int.from_bytes(cvm_list[0:4], "big")
    y = int.from_bytes(cvm_list[4:8], "big")
    rules = [(cvm_list[i], cvm_list[i + 1]) for i in range(8, len(cvm_list), 2)]
    last_failed: tuple[int, int] | None = None
    for code, cond in rules:
        method = code & 0x3F
        met = _condition_met(k, cond, method, x, y)
        if not met:
            continue
        supported = _supported(k, method)
        ok: bool
        if supported is None:
            k.tvr.set(B.TVR_UNRECOGNISED_CVM)
            ok = False
            result = RESULT_FAILED
        elif not supported:
            ok = False
            result = RESULT_FAILED
            if method in (PLAINTEXT_PIN, ENCIPHERED_PIN, ONLINE_PIN,
                          PLAINTEXT_PIN_SIGNATURE, ENCIPHERED_PIN_SIGNATURE):
                k.tvr.set(B.TVR_PIN_PAD_NOT_PRESENT)
        else:
            ok, result = yield from _perform(k, method)
        if ok:
            k.cvm = cvm_name(method)
            k.cvm_results = bytes([code, cond, result])
            return
        last_failed = (code, cond)
        if not code & 0x40:
            break
    k.tvr.set(B.TVR_CV_NOT_SUCCESSFUL)
    k.cvm = "failed"
    if last_failed is None:
        k.cvm_results = bytes.fromhex("3F0001")
    else:
        k.cvm_results = bytes([last_failed[0], last_failed[1], RESULT_FAILED])


def _perform(k: ContactKernel, method: int) -> Generator[Request, Any, tuple[bool, int]]:
    if method == FAIL_CVM:
        return False, RESULT_FAILED
    if method == NO_CVM:
        return True, RESULT_SUCCESSFUL
    if method == SIGNATURE:
        k.signature = True
        return True, RESULT_UNKNOWN
    if method == ONLINE_PIN:
        pin = yield EnterPin("online", k.txn.amount)
        if pin == CANCEL:
            raise KernelStop(Status.CANCELLED, "cardholder cancelled at the PIN prompt")
        if pin is None:
            k.tvr.set(B.TVR_PIN_NOT_ENTERED)
            return False, RESULT_FAILED
        k.online_pin = str(pin)
        k.tvr.set(B.TVR_ONLINE_PIN_ENTERED)
        return True, RESULT_UNKNOWN
    enciphered = method in (ENCIPHERED_PIN, ENCIPHERED_PIN_SIGNATURE)
    ok = yield from _offline_pin(k, enciphered)
    if ok and method in (PLAINTEXT_PIN_SIGNATURE, ENCIPHERED_PIN_SIGNATURE):
        k.signature = True
        return True, RESULT_UNKNOWN
    return ok, RESULT_SUCCESSFUL if ok else RESULT_FAILED


def pin_block(pin: str) -> bytes:
    """Plaintext offline PIN block (Book 3 §6.5.12): 2 | length | digits | F padding."""
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError("a PIN is 4 to 12 digits")
    return bytes.fromhex(("2" + format(len(pin), "X") + pin).ljust(16, "F"))


def _offline_pin(k: ContactKernel, enciphered: bool) -> Generator[Request, Any, bool]:
    tries: int | None = None
    r = yield from k._xfer(Command.get_data(0x9F17), "GET DATA 9F17")
    if r.ok:
        try:
            v = tlv.find(r.data, 0x9F17)
        except tlv.TLVError:
            v = None
        if v:
            tries = v[0]
    if tries == 0:
        k.tvr.set(B.TVR_PIN_TRY_LIMIT_EXCEEDED)
        return False
    key: oda.PublicKey | None = None
    if enciphered:
        key = _pin_key(k)
        if key is None:
            return False
    wrong = False
    while True:
        pin = yield EnterPin(
            "offline-enciphered" if enciphered else "offline-plaintext",
            k.txn.amount,
            tries_left=tries,
            last_wrong=wrong,
        )
        if pin == CANCEL:
            raise KernelStop(Status.CANCELLED, "cardholder cancelled at the PIN prompt")
        if pin is None:
            k.tvr.set(B.TVR_PIN_NOT_ENTERED)
            return False
        try:
            block = pin_block(str(pin))
        except ValueError:
            wrong = True
            continue
        if enciphered:
            assert key is not None
            ch = yield from k._xfer(Command.get_challenge(), "GET CHALLENGE")
            if not ch.ok or len(ch.data) != 8:
                return False
            data = _encipher(k, key, block, ch.data)
            resp = yield from k._xfer(Command.verify(0x88, data), "VERIFY (enciphered PIN)")
        else:
            resp = yield from k._xfer(Command.verify(0x80, block), "VERIFY (plaintext PIN)")
        if resp.ok:
            return True
        left = sw_pin_tries(resp.sw)
        if left is None or left == 0 or resp.sw in (0x6983, 0x6984):
            k.tvr.set(B.TVR_PIN_TRY_LIMIT_EXCEEDED)
            return False
        tries = left
        wrong = True


def _pin_key(k: ContactKernel) -> oda.PublicKey | None:
    """ICC PIN encipherment key (9F2D) or else the ICC public key (Book 2 §7.1)."""
    try:
        issuer = k._issuer_key()
        if 0x9F2D in k.card.tags:
            return oda.recover_icc_key(
                issuer,
                k.card.tags[0x9F2D],
                k.card.tags.get(0x9F2F, b""),
                k.card.tags.get(0x9F2E, b"\x03"),
                k.card.pan,
                b"",
                k.txn.today,
            )
        if k.icc_key is not None:
            return k.icc_key
        return k._icc_key(issuer, k._static_data())
    except oda.OdaError:
        return None


def _encipher(k: ContactKernel, key: oda.PublicKey, block: bytes, challenge: bytes) -> bytes:
    """Book 2 §7.2: RSA over 7F | PIN block | ICC unpredictable number | random pad."""
    pad = bytes(k.rng.getrandbits(8) for _ in range(key.length - 17))
    plain = b"\x7f" + block + challenge + pad
    n = int.from_bytes(key.modulus, "big")
    value = int(gmpy2.powmod(int.from_bytes(plain, "big"), int.from_bytes(key.exponent, "big"), n))
    return value.to_bytes(key.length, "big")
