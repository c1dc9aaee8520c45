"""Mag-stripe mode of a tap: PayPass mag-stripe (Book C-2) and Visa MSD (Book C-3).

A Mastercard contactless card whose AIP does not say "EMV mode supported" (byte 2
bit 8) is read in mag-stripe mode: after GPO the reader reads the mag-stripe record
(track templates, PCVC3 / PUNATC / NATC of each track), picks a numeric unpredictable
number of ``nUN`` digits, asks the card for the CVC3 with COMPUTE CRYPTOGRAPHIC
CHECKSUM and writes CVC3, UN and ATC into the tracks' discretionary data
(:mod:`virtual_devices.emv.dynamic_track`). The transaction then always goes online
with those tracks, as a swipe would; there is no application cryptogram.

A Visa card in MSD answers GPO without a cryptogram when the reader offers MSD (TTQ
byte 1 bit 8); its track 2 equivalent data (57), read next, already holds a dynamic CVV
over the ATC, so the reader only sends it online.

CVM: over the contactless CVM limit the reader asks for the online PIN when its
contactless capabilities (9F33 byte 2 bit 7) allow it, else a signature (bit 6);
under it, no CVM.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from virtual_devices.emv import dynamic_track as dt
from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel.messages import KernelStop, Request, Status

if TYPE_CHECKING:
    from virtual_devices.emv.kernel.contactless import ContactlessKernel

CCC_DEFAULT_UDOL = bytes.fromhex("9F6A04")  # C-2: the default UDOL is the numeric UN
_TRACK2_NEEDS = (0x9F6B, 0x9F65, 0x9F66, 0x9F67)


def supported_by_card(aip: bytes) -> bool:
    """False when the card says "EMV mode supported" (AIP byte 2 bit 8)."""
    return len(aip) < 2 or not aip[1] & 0x80


def check_records(k: ContactlessKernel) -> None:
    needs = (0x57,) if k.path == "qvsdc" else _TRACK2_NEEDS
    missing = [t for t in needs if t not in k.card.tags]
    if missing:
        names = ", ".join(f"{t:X}" for t in missing)
        raise KernelStop(Status.CARD_ERROR, f"mag-stripe data missing: {names}")


def _layout(pcvc3: bytes, punatc: bytes, natc: bytes) -> dt.Layout:
    return dt.Layout(int.from_bytes(pcvc3, "big"), int.from_bytes(punatc, "big"),
                     natc[0] if natc else 0)


def run(k: ContactlessKernel) -> Generator[Request, Any, None]:
    """UN, COMPUTE CRYPTOGRAPHIC CHECKSUM, the two tracks and the CVM (MSD: the track
    as read, and the CVM)."""
    tags = k.card.tags
    if k.path == "qvsdc":
        k.ms_track2 = tags[0x57].hex().upper().rstrip("F").replace("D", "=")
        k.ms_track1 = ""
        yield from _cvm(k)
        k.first_cid = 0x80
        return
    lay2 = _layout(tags[0x9F65], tags[0x9F66], tags[0x9F67])
    if not 0 <= lay2.n_un <= 8:
        raise KernelStop(Status.CARD_ERROR, "PUNATC/NATC leave no room for the UN")
    digits = "".join(str(k.rng.randrange(10)) for _ in range(lay2.n_un))
    un = bytes.fromhex(digits.rjust(8, "0"))
    values = k.values()
    values[0x9F6A] = un
    udol = tags.get(0x9F69) or CCC_DEFAULT_UDOL
    data = tlv.build_dol(udol, values)
    resp = yield from k._xfer(Command(0x80, 0x2A, 0x8E, 0x80, data, 256),
                              "COMPUTE CRYPTOGRAPHIC CHECKSUM")
    k._check_sw(resp.sw, "COMPUTE CRYPTOGRAPHIC CHECKSUM")
    got = tlv.flatten(k._decode(resp.data, "CCC answer"))
    if 0x9F61 not in got or 0x9F36 not in got:
        raise KernelStop(Status.CARD_ERROR, "CCC answer lacks CVC3 or ATC")
    atc = int.from_bytes(got[0x9F36], "big")
    tags[0x9F36] = got[0x9F36]
    tags[0x9F6A] = un
    t2 = tags[0x9F6B].hex().upper().rstrip("F")
    pan, rest = t2.split("D", 1)
    dd = dt.fill(rest[7:], lay2, int.from_bytes(got[0x9F61], "big"), dt.un_digits(un, lay2), atc)
    k.ms_track2 = f"{pan}={rest[:7]}{dd}"
    k.ms_track1 = ""
    t1 = tags.get(0x56)
    if t1 and 0x9F60 in got and all(t in tags for t in (0x9F62, 0x9F63, 0x9F64)):
        lay1 = _layout(tags[0x9F62], tags[0x9F63], tags[0x9F64])
        text = t1.decode("ascii", "replace")
        head, sep, tail = text.rpartition("^")
        if sep and len(tail) >= 7:
            dd1 = dt.fill(tail[7:], lay1, int.from_bytes(got[0x9F60], "big"),
                          dt.un_digits(un, lay1), atc)
            k.ms_track1 = f"{head}^{tail[:7]}{dd1}"
    yield from _cvm(k)
    k.first_cid = 0x80  # online, always: the issuer checks the CVC3


def _cvm(k: ContactlessKernel) -> Generator[Request, Any, None]:
    assert k.app is not None
    if k.txn.amount <= k.app.ctls_cvm_limit:
        k.cvm, k.cvm_results = "no-cvm", bytes.fromhex("3F0002")
        return
    k.tsi.set(B.TSI_CVM_PERFORMED)
    # PayPass: CVM Capability - CVM Required; Visa MSD: what the TTQ offered (9F33)
    caps = k.cvm_capabilities() if k.path == "mchip" else k.terminal_tags().get(0x9F33, bytes(3))
    if len(caps) > 1 and caps[1] & 0x40:
        ok = yield from k._online_pin()
        if ok:
            return
    if len(caps) > 1 and caps[1] & 0x20:
        k.cvm, k.signature, k.cvm_results = "signature", True, bytes.fromhex("1E0000")
        return
    k.tvr.set(B.TVR_CV_NOT_SUCCESSFUL)
    k.cvm, k.cvm_results = "failed", bytes.fromhex("3F0001")
