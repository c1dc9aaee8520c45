"""Control commands of ABECS 2.12 §3.2 beyond OPN, GIN and CLO: GIX, CLX and DWK."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.extended.base import Gen, handles, params, tagged
from virtual_devices.abecs.extended.multimedia import DISPLAY_GRAPHIC, MFSUP, show_file
from virtual_devices.abecs.extended.state import state
from virtual_devices.abecs.fields import Command, Response
from virtual_devices.abecs.keys import KeyError_, KeyStore, seal_wkpan

GIX_DEFAULT = (
    t.PP_SERNUM, t.PP_PARTNBR, t.PP_MODEL, t.PP_MNNAME, t.PP_CAPAB, t.PP_SOVER, t.PP_SPECVER,
    t.PP_MANVERS, t.PP_APPVERS, t.PP_GENVERS, t.PP_KRNLVER, t.PP_CTLSVER, t.PP_MCTLSVER,
    t.PP_VCTLSVER, t.PP_AECTLSVER, t.PP_DPCTLSVER, t.PP_PUREVER, t.PP_DSPTXTSZ, t.PP_DSPGRSZ,
    t.PP_MFSUP, t.PP_MKDESP, t.PP_MKDESD, t.PP_MKTDESP, t.PP_MKTDESD, t.PP_DKPTDESP,
    t.PP_DKPTTDESP, t.PP_DKPTTDESD, t.PP_TLRMEM,
)
CTLS_IDS = {t.PP_CTLSVER, t.PP_MCTLSVER, t.PP_VCTLSVER, t.PP_AECTLSVER, t.PP_DPCTLSVER,
            t.PP_PUREVER}


def key_map(present: set[int], supported: bool = True) -> str:  # DES methods: all "2"
    """PP_MK*/PP_DKPT* A100: per index 00-99, 0 absent, 1 present, 2 unsupported."""
    if not supported:
        return "2" * 100
    return "".join("1" if i in present else "0" for i in range(100))


def presence(pinpad: Any, kind: str) -> str:
    """A key map of :class:`~virtual_devices.abecs.keys.KeyStore` (positions it offers)."""
    return str(pinpad.key_store.presence(kind))


def gix_value(pinpad: Any, pid: int) -> bytes | None:
    i = pinpad.info
    ctls = bool(i.ctls)
    a = lambda s: s.encode("latin-1")  # noqa: E731
    fixed: dict[int, bytes] = {
        t.PP_SERNUM: a(i.serial[:32]), t.PP_PARTNBR: a(("PN-" + i.model.split(";")[0])[:32]),
        t.PP_MODEL: a(i.model[:20]), t.PP_MNNAME: a(i.manufacturer[:20]),
        t.PP_CAPAB: a(f"{int(ctls)}2" + "0" * 8), t.PP_SOVER: a(i.os_version[:20]),
        t.PP_SPECVER: a(i.spec_version[:4]), t.PP_MANVERS: a("001.00 190411   "),
        t.PP_APPVERS: a("001.00 190411   "), t.PP_GENVERS: a("001.00 190411   "),
        t.PP_KRNLVER: a("EMV 4.3 CL"), t.PP_DSPTXTSZ: b"0216",
        t.PP_DSPGRSZ: a(f"{DISPLAY_GRAPHIC[0]:04d}{DISPLAY_GRAPHIC[1]:04d}"),
        t.PP_MFSUP: a(MFSUP),
        t.PP_MKDESP: a(key_map(set(), False)), t.PP_MKDESD: a(key_map(set(), False)),
        t.PP_MKTDESP: a(presence(pinpad, "mk_pin")),
        t.PP_MKTDESD: a(presence(pinpad, "mk_dat")),
        t.PP_DKPTDESP: a(key_map(set(), False)),
        t.PP_DKPTTDESP: a(presence(pinpad, "dukpt_pin")),
        t.PP_DKPTTDESD: a(presence(pinpad, "dukpt_dat")),
        t.PP_TLRMEM: pinpad.tables.free_bytes.to_bytes(4, "big"),
    }
    if ctls:
        fixed.update({t.PP_CTLSVER: b"CL1.00", t.PP_MCTLSVER: b"MC1.00",
                      t.PP_VCTLSVER: b"VS1.00", t.PP_AECTLSVER: b"AE1.00",
                      t.PP_DPCTLSVER: b"DC1.00", t.PP_PUREVER: b"PURE1.00"})
    if pid in fixed:
        return fixed[pid]
    if pid == t.PP_BIGRAND:
        return bytes(pinpad.rng.randrange(256) for _ in range(900))
    if t.PP_KSNTDESP <= pid <= t.PP_KSNTDESP + 99:
        return pinpad.key_store.ksn("dukpt_pin", pid - t.PP_KSNTDESP)  # type: ignore[no-any-return]
    if t.PP_KSNTDESD <= pid <= t.PP_KSNTDESD + 99:
        return pinpad.key_store.ksn("dukpt_dat", pid - t.PP_KSNTDESD)  # type: ignore[no-any-return]
    if t.PP_TABVER <= pid <= t.PP_TABVER + 99:
        return a(pinpad.tables.version(pid - t.PP_TABVER)[:10])
    return None  # unknown, unsupported or absent: not returned (§3.2.4)


@handles("GIX")
def gix(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    raw = p.get(t.SPE_IDLIST)
    ids = t.id_list(raw) if raw is not None else list(GIX_DEFAULT)
    items = []
    for pid in ids:
        value = gix_value(pinpad, pid)
        if value is not None:
            items.append((pid, value))
    return tagged("GIX", items)
    yield  # pragma: no cover


@handles("CLX")
def clx(pinpad: Any, cmd: Command) -> Gen:
    """CLO with a free-format message or an image left on the display (§3.2.7)."""
    p = params(cmd)
    name = p.get(t.SPE_MFNAME)
    shown = False
    if name is not None:
        shown = show_file(pinpad, name.decode("latin-1")) == 0
    if not shown:
        msg = p.get(t.SPE_DSPMSG)
        if msg is None:
            pinpad.display.clear()
        else:
            pinpad.display.show_multiline(msg.decode("latin-1"))
    pinpad.slot.reset()
    pinpad.key_store.wkpan = None  # CLX, like CLO, ends encrypted-PAN mode (§3.2.5)
    st = state(pinpad)
    st.tracks, st.pan, st.gcx_card_type = None, "", None
    return Response("CLX")
    yield  # pragma: no cover


@handles("DWK")
def dwk(pinpad: Any, cmd: Command) -> Gen:
    """Encrypted-PAN mode (§3.2.5, §5.3); refused under secure communication (010).

    Modality 1: WKPAN comes encrypted under MK:TDES:DAT ``DWK_MKIDX`` (method "1"; the
    DES method "0" names keys ABECS 2.10 removed: 042). Modality 2: the pinpad draws a
    random TDES WKPAN and returns it in the RSA block of §5.3.3 under the host's
    1024-bit public key. Either way GCR and CKE encrypt the PAN from then on
    (:func:`virtual_devices.abecs.keys.encrypt_pan_in`), until CLO/CLX.
    """
    data = cmd.data
    if pinpad.session is not None:
        return Response("DWK", m.ST_INVCALL)
    if data[:1] == b"2":
        return _dwk_random(pinpad, data)
    if data[:1] != b"1" or len(data) != 36 or data[1:2] not in (b"0", b"1") \
            or not data[2:4].isdigit():
        return Response("DWK", m.ST_INVPARM)
    master = pinpad.key_store.mk_dat.get(int(data[2:4]))
    if data[1:2] == b"0" or master is None:
        return Response("DWK", m.ST_ERRKEY)
    try:
        wkpan = KeyStore.working_key(master, bytes.fromhex(data[4:36].decode("latin-1")))
    except (ValueError, KeyError_):
        return Response("DWK", m.ST_INVPARM)
    pinpad.world.redactor.add_secret(wkpan)
    pinpad.key_store.wkpan = wkpan
    return Response("DWK")
    yield  # pragma: no cover


def _dwk_random(pinpad: Any, data: bytes) -> Response:
    """Modality 2: ``"2" + DWK_RSAMOD (H256) + DWK_RSAEXP (H6)``, answered with
    ``RSP_LEN "256" + DWK_CRYPT (H256)``. A modulus that is not 128 bytes or whose
    first byte is not above 54h cannot carry the block: 011."""
    text = data.decode("latin-1")
    if len(text) != 263 or any(c not in HEX for c in text[1:]):
        return Response("DWK", m.ST_INVPARM)
    modulus, exponent = int(text[1:257], 16), int(text[257:263], 16)
    if modulus >> (8 * 127) <= 0x54 or exponent < 3 or not exponent % 2:
        return Response("DWK", m.ST_INVPARM)
    wkpan = bytes(pinpad.rng.randrange(256) for _ in range(16))
    pinpad.world.redactor.add_secret(wkpan)
    st = state(pinpad)
    st.dwk_sequence += 1
    try:
        crypt = seal_wkpan(st.dwk_sequence, wkpan, modulus, exponent)
    except KeyError_:
        return Response("DWK", m.ST_INVPARM)
    pinpad.key_store.wkpan = wkpan
    return Response("DWK", 0, (crypt.hex().upper().encode("ascii"),))


HEX = frozenset("0123456789ABCDEFabcdef")
