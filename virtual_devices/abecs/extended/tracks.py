"""Tracks out of the pinpad: masked incomplete ones (§5.4) and GTK (§3.3.12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.extended.base import Gen, handles, params, tagged
from virtual_devices.abecs.extended.state import state
from virtual_devices.abecs.fields import Command, Response


def incomplete_tracks(track1: str, track2: str, panmask: str | None,
                      track3: str = "") -> list[tuple[int, bytes]]:
    """PP_TRK1INC/2INC/3INC (§5.4.1), the PAN masked as SPE_PANMASK says.

    Track 1 is cut seven positions after its second ``^`` and track 2 seven after its
    ``=`` (PAN, name, expiry and service code: the spec's example
    ``66733246732413=1512601``); when that cannot be done, and always for track 3, the
    first 19 positions are kept. Discretionary data (where the card verification
    values live) never leaves the pinpad in clear.
    """
    out: list[tuple[int, bytes]] = []
    for pid, track, sep, count in ((t.PP_TRK1INC, track1, "^", 2),
                                   (t.PP_TRK2INC, track2, "=", 1),
                                   (t.PP_TRK3INC, track3, "", 0)):
        if track:
            kept = t.mask_pan(_truncated(track, sep, count), panmask)
            out.append((pid, kept.encode("latin-1")))
    return out


def _truncated(track: str, sep: str, count: int) -> str:
    pos = -1
    for _ in range(count):
        pos = track.find(sep, pos + 1)
        if pos < 0:
            break
    if count == 0 or pos < 0:
        return track[:19]
    return track[: pos + 1 + 7]


@handles("GTK")
def gtk(pinpad: Any, cmd: Command) -> Gen:
    """The full tracks of the card the last CEX or GCX read, once (§3.3.12), in clear or
    encrypted end to end (§5.4.2) as SPE_MTHDDAT says."""
    p = params(cmd)
    st = state(pinpad)
    if st.tracks is None:
        return Response("GTK", m.ST_INVCALL)
    which = p.digits(t.SPE_TRACKS, 4) or "1111"
    method_text = p.digits(t.SPE_MTHDDAT, 2)
    seal: Callable[[str, bool], tuple[bytes, bytes]] | None = None
    extra: list[tuple[int, bytes]] = []
    if method_text is not None:
        got = _track_sealer(pinpad, p, int(method_text))
        if isinstance(got, Response):
            return got
        seal, extra = got
    t1, t2, t3 = st.tracks
    st.tracks = None  # GTK runs once per read
    items: list[tuple[int, bytes]] = []
    wanted = [(which[0] == "1" and bool(st.pan) and st.gcx_card_type in (3, 6), st.pan, True,
               t.PP_ENCPAN, t.PP_ENCPANKSN),
              (which[1] == "1" and bool(t1), t1, False, t.PP_TRACK1, t.PP_TRK1KSN),
              (which[2] == "1" and bool(t2), t2, True, t.PP_TRACK2, t.PP_TRK2KSN),
              (which[3] == "1" and bool(t3), t3, True, t.PP_TRACK3, t.PP_TRK3KSN)]
    from virtual_devices.abecs.keys import KeyError_

    for asked, text, packed, pid, ksn_id in wanted:
        if not asked:
            continue
        if seal is None:
            items.append((pid, t.nibbles(text) if packed else text.encode("latin-1")))
            continue
        try:
            crypt, ksn = seal(text, packed)
        except KeyError_:
            return Response("GTK", m.ST_ERRKEY)
        items.append((pid, crypt))
        if method_text in ("30", "50", "51"):
            items.append((ksn_id, ksn))
    return tagged("GTK", items + extra)
    yield  # pragma: no cover


def _track_sealer(pinpad: Any, p: t.Params, method: int) -> Any:
    """How GTK encrypts (§5.4.2): a data key of the pinpad, or a fresh random TDES key
    sent under the host's RSA key (9x). Returns (seal, extra items) or an error response."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from virtual_devices.abecs.keys import e2e_encrypt, new_krand

    if method not in (10, 11, 30, 50, 51, 90, 91):
        # 00/01 (DES) name keys ABECS 2.10 removed: no such key here
        return Response("GTK", m.ST_ERRKEY if method in (0, 1) else m.ST_INVPARM)
    opn = int(p.digits(t.SPE_OPNDIG, 1) or 0)
    iv = p.get(t.SPE_IVCBC) or bytes(8)
    store = pinpad.key_store
    if method // 10 == 9:
        mod, exp = p.get(t.SPE_PBKMOD), p.get(t.SPE_PBKEXP)
        if mod is None or exp is None:
            return Response("GTK", m.ST_MANDAT)
        krand = new_krand(pinpad.rng)
        pinpad.world.redactor.add_secret(krand)
        public = rsa.RSAPublicNumbers(int.from_bytes(exp, "big"),
                                      int.from_bytes(mod, "big")).public_key()
        wrapped = public.encrypt(krand, padding.PKCS1v15())

        def seal9(text: str, packed: bool) -> tuple[bytes, bytes]:
            return e2e_encrypt(store, method, 0, text, opn, packed, iv=iv,  # type: ignore[no-any-return]
                               krand=krand)

        return seal9, [(t.PP_ENCKRAND, wrapped)]
    idx = p.digits(t.SPE_KEYIDX, 2)
    wkenc = p.get(t.SPE_WKENC)
    if idx is None or (method in (10, 11) and wkenc is None):
        return Response("GTK", m.ST_MANDAT)

    def seal(text: str, packed: bool) -> tuple[bytes, bytes]:
        return e2e_encrypt(store, method, int(idx), text, opn, packed,  # type: ignore[no-any-return]
                           wkenc=wkenc or b"", iv=iv)

    return seal, []
