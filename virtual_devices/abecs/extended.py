"""The ABECS 2.12 commands beyond the classic eighteen (§3.2–§3.8, behaviour §6).

Control: GIX, DWK, CLX. Basic: CEX, CHP, EBX, ENB, GCD, GTK, MNU. Multimedia: MLI,
MLR, MLE, LMF, DMF, DSI. Card: GCX, GED, GOX, FCX, which run the same card session as
GCR/GOC/FNC (:mod:`.gcr`): GCX builds a GCR request and converts the answer, and so
on. Generic: GEN/02/K3, GEN/03/02, GEN/04/01, /02 and /04 (GEN/04/03, a PIN sent to the
chip, answers 010 here; CHP operation 3 does the same).

Handlers are registered with :func:`handles`; the pinpad looks a command up in
:data:`HANDLERS` before its own classic handlers. Each handler is a SimPy generator
taking the pinpad and the decoded command and returning a
:class:`~virtual_devices.abecs.fields.Response`. The parameter-tagged format lives in
:mod:`.tagged`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from virtual_devices.abecs import gcr
from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.cards import stripe_of
from virtual_devices.abecs.customer import CANCEL_KEY
from virtual_devices.abecs.fields import CodecError, Command, Response
from virtual_devices.abecs.link import crc16

Gen = Generator[Any, Any, Any]
Handler = Callable[[Any, Command], Gen]

HANDLERS: dict[str, Handler] = {}

ST_RSPOVRFL = 45
ST_NOSAM = 51
ST_MFNFOUND, ST_MFERRFMT, ST_MFERR = 100, 101, 102


def handles(cmd_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[cmd_id] = fn
        return fn
    return register


def tagged(cmd_id: str, items: list[tuple[int, bytes]], status: int = 0) -> Response:
    """A parameter-tagged response; one longer than a packet allows is ST_RSPOVRFL."""
    if status:
        return Response(cmd_id, status)
    blocks = t.encode_params(items)
    rsp = Response(cmd_id, 0, blocks)
    if len(rsp.encode()) > 2044:
        return Response(cmd_id, ST_RSPOVRFL)
    return rsp


def params(cmd: Command) -> t.Params:
    return t.decode_params(cmd.blocks)


# -- the pinpad's extra state -------------------------------------------------------------

@dataclass
class MediaFile:
    name: str
    kind: int  # 01 PNG, 02 JPG, 03 GIF
    data: bytes


@dataclass
class ExtendedState:
    """What these commands remember between commands (on the pinpad, one per device)."""

    tracks: tuple[str, str, str] | None = None  # the last CEX/GCX read, for GTK (once)
    pan: str = ""
    gcx_card_type: int | None = None
    files: dict[str, MediaFile] = field(default_factory=dict)  # non-volatile
    loading: tuple[str, int, int, int] | None = None  # name, size, crc, kind
    received: bytearray = field(default_factory=bytearray)
    trncurr: bytes | None = None  # GCX's currency, GOX's default


def state(pinpad: Any) -> ExtendedState:
    got = getattr(pinpad, "extended", None)
    if got is None:
        got = ExtendedState()
        pinpad.extended = got
    return got


def _wait_for(pinpad: Any, action: Gen, seconds: float | None) -> Gen:
    """Run a customer action; returns its value, or None on timeout (None: no limit)."""
    acting = pinpad.act(action)
    waits: list[simpy.Event] = [acting]
    if seconds:
        waits.append(pinpad.world.timeout(seconds))
    try:
        yield pinpad.world.any_of(waits)
    except simpy.Interrupt:
        if acting.is_alive:
            acting.interrupt("aborted")
        raise
    if not acting.triggered:
        acting.interrupt("timeout")
        return None
    return acting.value


# -- control ------------------------------------------------------------------------------

GIX_DEFAULT = (
    t.PP_SERNUM, t.PP_PARTNBR, t.PP_MODEL, t.PP_MNNAME, t.PP_CAPAB, t.PP_SOVER, t.PP_SPECVER,
    t.PP_MANVERS, t.PP_APPVERS, t.PP_GENVERS, t.PP_KRNLVER, t.PP_CTLSVER, t.PP_MCTLSVER,
    t.PP_VCTLSVER, t.PP_AECTLSVER, t.PP_DPCTLSVER, t.PP_PUREVER, t.PP_DSPTXTSZ, t.PP_DSPGRSZ,
    t.PP_MFSUP, t.PP_MKDESP, t.PP_MKDESD, t.PP_MKTDESP, t.PP_MKTDESD, t.PP_DKPTDESP,
    t.PP_DKPTTDESP, t.PP_DKPTTDESD, t.PP_TLRMEM,
)
CTLS_IDS = {t.PP_CTLSVER, t.PP_MCTLSVER, t.PP_VCTLSVER, t.PP_AECTLSVER, t.PP_DPCTLSVER,
            t.PP_PUREVER}
# Display: a 2x16 text display on a 240-line x 320-column colour screen (a common
# colour pinpad screen); DSI takes PNG, JPG and GIF.
DISPLAY_GRAPHIC = (240, 320)
MFSUP = "111"
TLR_MEMORY = 100_000  # bytes left for table records (PP_TLRMEM), a typical pinpad's


def key_map(present: set[int], supported: bool = True) -> str:  # DES methods: all "2"
    """PP_MK*/PP_DKPT* A100: per index 00-99, 0 absent, 1 present, 2 unsupported."""
    if not supported:
        return "2" * 100
    return "".join("1" if i in present else "0" for i in range(100))


def _presence(pinpad: Any, kind: str) -> str:
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
        t.PP_MKTDESP: a(_presence(pinpad, "mk_pin")),
        t.PP_MKTDESD: a(_presence(pinpad, "mk_dat")),
        t.PP_DKPTDESP: a(key_map(set(), False)),
        t.PP_DKPTTDESP: a(_presence(pinpad, "dukpt_pin")),
        t.PP_DKPTTDESD: a(_presence(pinpad, "dukpt_dat")),
        t.PP_TLRMEM: TLR_MEMORY.to_bytes(4, "big"),
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
        shown = _show_file(pinpad, name.decode("latin-1")) == 0
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
    DES method "0" names keys ABECS 2.10 removed: 042). From then on GCR and CKE encrypt
    the PAN (the card commands do it, :func:`virtual_devices.abecs.keys.encrypt_pan_in`),
    until CLO/CLX. Modality 2 (WKPAN generated by the pinpad, sent under the host's RSA
    key in the block of §5.3.3) is not offered: 011.
    """
    from virtual_devices.abecs.keys import KeyError_, KeyStore

    data = cmd.data
    if pinpad.session is not None:
        return Response("DWK", m.ST_INVCALL)
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


# -- basic ----------------------------------------------------------------------------------

EVENT_KEYS = {"enter": "00", "up": "02", "down": "03", "f1": "04", "f2": "05", "f3": "06",
              "f4": "07", "clear": "08", "cancel": "13", CANCEL_KEY: "13"}


def incomplete_tracks(track1: str, track2: str, panmask: str | None) -> list[tuple[int, bytes]]:
    """PP_TRKnINC: the tracks up to the service code (§5.4), PAN masked per SPE_PANMASK.

    Track 2 keeps ``PAN=YYMMSSS`` (the spec's examples: ``4444333322221111=1608201``);
    track 1 keeps format code, PAN, name, expiry and service code. Discretionary data
    (where the card verification values live) never leaves the pinpad in clear.
    """
    out: list[tuple[int, bytes]] = []
    if track1 and track1.count("^") >= 2:
        head, name, rest = track1.split("^", 2)
        pan1 = head[1:]
        out.append((t.PP_TRK1INC, f"{head[:1]}{t.mask_pan(pan1, panmask)}^{name}^{rest[:7]}"
                    .encode("latin-1")))
    if track2 and "=" in track2:
        pan2, rest2 = track2.split("=", 1)
        out.append((t.PP_TRK2INC, f"{t.mask_pan(pan2, panmask)}={rest2[:7]}".encode("latin-1")))
    return out


def _panmask(p: t.Params) -> str | None:
    return p.digits(t.SPE_PANMASK, 4)


@handles("CEX")
def cex(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    opt = p.need(t.SPE_CEXOPT).decode("latin-1")
    if (len(opt) != 6 or opt[0] not in "01" or opt[1] not in "01" or opt[2] not in "012"
            or opt[3] not in "01"):
        return Response("CEX", m.ST_INVPARM)
    panmask = _panmask(p)
    timeout = p.number(t.SPE_TIMEOUT) or None
    keys, mag, icc, ctls = opt[0] == "1", opt[1] == "1", opt[2], opt[3] == "1"
    ctls = ctls and bool(pinpad.info.ctls)  # no antenna: nothing to switch on
    if icc == "1" and pinpad.inserted is not None:
        return tagged("CEX", [(t.PP_EVENT, b"92")])
    if icc == "2":
        if pinpad.inserted is None:
            return tagged("CEX", [(t.PP_EVENT, b"91")])
        got = yield from _wait_for(pinpad, pinpad.customer.remove_card(pinpad), timeout)
        if got is None and timeout:
            return Response("CEX", m.ST_TIMEOUT)
        pinpad.slot.remove()
        return tagged("CEX", [(t.PP_EVENT, b"91")])
    if (mag or icc == "1" or ctls) and pinpad.has_card():
        # the antenna, when on, gives up after two minutes with event 93 (§3.3.1)
        ctls_wait = float(pinpad.t["ctls_wait"]) if ctls else None
        limit = min(x for x in (timeout, ctls_wait) if x) if (timeout or ctls_wait) else None
        pinpad.slot.antenna_on = ctls
        try:
            got = yield from _wait_for(pinpad, pinpad.customer.present_card(pinpad), limit)
        finally:
            pinpad.slot.antenna_on = False
        if got is None:
            if ctls and limit == ctls_wait:
                return tagged("CEX", [(t.PP_EVENT, b"93")])
            return Response("CEX", m.ST_TIMEOUT)
        if got == CANCEL_KEY:
            return tagged("CEX", [(t.PP_EVENT, b"13")]) if keys else Response("CEX", m.ST_CANCEL)
        card, how = got
        if how == "tap" and ctls:
            pinpad.slot.tapped(card)  # in the customer's hand for the card command next
            return tagged("CEX", [(t.PP_EVENT, b"94")])
        if how == "insert" and icc == "1":
            pinpad.slot.insert(card)
            return tagged("CEX", [(t.PP_EVENT, b"92")])
        yield pinpad.world.timeout(pinpad.t["magstripe_read"])
        pinpad.card_event("swipe", card)
        t1, t2 = stripe_of(card)
        st = state(pinpad)
        st.tracks, st.pan, st.gcx_card_type = (t1 or "", t2 or "", ""), "", None
        # no track read: ST_OK with the event alone (unlike CKE's 041, §3.3.1)
        return tagged("CEX", [(t.PP_EVENT, b"90"), *incomplete_tracks(t1 or "", t2 or "",
                                                                      panmask)])
    if keys:
        got = yield from _wait_for(pinpad, pinpad.customer.press_key(pinpad), timeout)
        if got is None:
            return Response("CEX", m.ST_TIMEOUT)
        return tagged("CEX", [(t.PP_EVENT, EVENT_KEYS.get(got, "00").encode())])
    if not (mag or icc == "1" or ctls):
        # nothing to wait for: a real pinpad rejects the options rather than hang
        return Response("CEX", m.ST_INVPARM)
    # only card events enabled and nobody holds a card: wait for the timeout or CAN
    yield pinpad.world.timeout(timeout) if timeout else pinpad.world.event()
    return Response("CEX", m.ST_TIMEOUT)


GCD_MESSAGES: dict[int, str] = {
    0x01: "DIGITE O DDD", 0x02: "REDIGITE O DDD", 0x03: "DIGITE O TELEFONE",
    0x04: "REDIGITE O TELEFONE", 0x05: "DIGITE DDD+TELEFONE", 0x06: "REDIGITE DDD+TELEFONE",
    0x07: "DIGITE O CPF", 0x08: "REDIGITE O CPF", 0x09: "DIGITE O RG", 0x0A: "REDIGITE O RG",
    0x0B: "DIGITE OS 4 ÚLTIMOS DÍGITOS", 0x0C: "DIGITE CÓDIGO DE SEGURANÇA",
    0x0D: "DIGITE O CNPJ", 0x0E: "REDIGITE O CNPJ", 0x0F: "DIGITE A DATA (DDMMAAAA)",
    0x10: "DIGITE A DATA (DDMMAA)", 0x11: "DIGITE A DATA (DDMM)", 0x12: "DIGITE O DIA (DD)",
    0x13: "DIGITE O MÊS (MM)", 0x14: "DIGITE O ANO (AA)", 0x15: "DIGITE O ANO (AAAA)",
    0x16: "DATA DE NASCIMENTO (DDMMAAAA)", 0x17: "DATA DE NASCIMENTO (DDMMAA)",
    0x18: "DATA DE NASCIMENTO (DDMM)", 0x19: "DIA DO NASCIMENTO (DD)",
    0x1A: "MÊS DO NASCIMENTO (MM)", 0x1B: "ANO DO NASCIMENTO (AA)",
    0x1C: "ANO DO NASCIMENTO (AAAA)", 0x1D: "DIGITE IDENTIFICAÇÃO",
    0x1E: "CÓDIGO DE FIDELIDADE", 0x1F: "NÚMERO DA MESA", 0x20: "QUANTIDADE DE PESSOAS",
    0x21: "DIGITE QUANTIDADE", 0x22: "NÚMERO DA BOMBA", 0x23: "NÚMERO DA VAGA",
    0x24: "NÚMERO DO GUICHÊ/CAIXA", 0x25: "CÓDIGO DO VENDEDOR", 0x26: "CÓDIGO DO GARÇOM",
    0x27: "NOTA DO ATENDIMENTO", 0x28: "NÚMERO DA NOTA FISCAL", 0x29: "NÚMERO DA COMANDA",
    0x2A: "PLACA DO VEÍCULO", 0x2B: "DIGITE QUILOMETRAGEM", 0x2C: "QUILOMETRAGEM INICIAL",
    0x2D: "QUILOMETRAGEM FINAL", 0x2E: "DIGITE PORCENTAGEM",
    0x2F: "PESQUISA DE SATISFAÇÃO (0 a 10)", 0x30: "AVALIE ATENDIMENTO (0 a 10)",
    0x31: "DIGITE O TOKEN", 0x32: "DIGITE NÚMERO DO CARTÃO", 0x33: "NÚMERO DE PARCELAS",
    0x34: "CÓDIGO DO PLANO", 0x35: "CÓDIGO DO PRODUTO",
}


def _two_lines(text: str) -> tuple[str, str]:
    """A table message on a 16-column display: wrapped at a space when it is longer."""
    if len(text) <= 16:
        return text, ""
    cut = text.rfind(" ", 0, 17)
    cut = cut if cut > 0 else 16
    return text[:cut], text[cut:].strip()[:16]


@handles("GCD")
def gcd(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    idx = int.from_bytes(p.need(t.SPE_MSGIDX), "big")
    if idx not in GCD_MESSAGES:
        return Response("GCD", m.ST_INVPARM)
    lo = p.number(t.SPE_MINDIG, 0)
    hi = p.number(t.SPE_MAXDIG, 32)
    if not 0 <= lo <= 32 or not 1 <= hi <= 32 or hi < lo:
        return Response("GCD", m.ST_INVPARM)
    timeout = p.number(t.SPE_TIMEOUT) or None
    prompt = GCD_MESSAGES[idx]
    pinpad.display.show_lines(*_two_lines(prompt))
    got = yield from _wait_for(pinpad, pinpad.customer.type_digits(pinpad, prompt, lo, hi),
                               timeout)
    if got is None:
        pinpad.display.clear()
        return Response("GCD", m.ST_TIMEOUT)
    if got == CANCEL_KEY:
        pinpad.display.clear()
        return Response("GCD", m.ST_CANCEL)
    pinpad.display.clear()
    return tagged("GCD", [(t.PP_VALUE, str(got).encode("ascii"))])


@handles("MNU")
def mnu(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    options = [o.decode("latin-1") for o in p.all(t.SPE_MNUOPT)]
    if not options:
        return Response("MNU", m.ST_MANDAT)
    if len(options) > 20 or any(not 0 < len(o) <= 24 for o in options):
        return Response("MNU", m.ST_INVPARM)
    title = p.get(t.SPE_DSPMSG)
    timeout = p.number(t.SPE_TIMEOUT) or None
    # a 2x16 display shows the title (or the first option) and the option under the cursor
    head = title.decode("latin-1") if title is not None else ""
    pinpad.display.show_lines(head or options[0], options[0] if head else
                              (options[1] if len(options) > 1 else ""))
    got = yield from _wait_for(pinpad, pinpad.customer.choose_option(pinpad, head, options),
                               timeout)
    if got is None:
        pinpad.display.clear()
        return Response("MNU", m.ST_TIMEOUT)
    if got == CANCEL_KEY:
        pinpad.display.clear()
        return Response("MNU", m.ST_CANCEL)
    pinpad.display.show_lines(head, options[int(got)])
    return tagged("MNU", [(t.PP_VALUE, f"{int(got) + 1:02d}".encode())])


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
        if method_text in ("50", "51"):
            items.append((ksn_id, ksn))
    return tagged("GTK", items + extra)
    yield  # pragma: no cover


def _track_sealer(pinpad: Any, p: t.Params, method: int) -> Any:
    """How GTK encrypts (§5.4.2): a data key of the pinpad, or a fresh random TDES key
    sent under the host's RSA key (9x). Returns (seal, extra items) or an error response."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from virtual_devices.abecs.keys import e2e_encrypt, new_krand

    if method not in (10, 11, 50, 51, 90, 91):
        # 00/01 (DES) and 30 (DAT#1) are methods ABECS 2.10 removed: no such key here
        return Response("GTK", m.ST_ERRKEY if method in (0, 1, 30) else m.ST_INVPARM)
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


@handles("EBX")
def ebx(pinpad: Any, cmd: Command) -> Gen:
    from virtual_devices.abecs.keys import KeyError_

    p = params(cmd)
    data = p.need(t.SPE_DATAIN)
    method = p.need(t.SPE_MTHDDAT).decode("latin-1")
    idx_text = p.digits(t.SPE_KEYIDX, 2)
    if idx_text is None:
        raise CodecError("SPE_KEYIDX missing", 19)
    if method not in ("00", "01", "10", "11", "30", "50", "51"):
        return Response("EBX", m.ST_INVPARM)
    if method[0] in "01" and p.get(t.SPE_WKENC) is None:
        return Response("EBX", m.ST_MANDAT)
    if not data or len(data) % 8 or len(data) > 256:
        return Response("EBX", m.ST_INVPARM)
    try:
        crypt, ksn = pinpad.key_store.encrypt_data(
            int(method), int(idx_text), data, p.get(t.SPE_WKENC) or b"",
            p.get(t.SPE_IVCBC) or bytes(8))
    except KeyError_:
        return Response("EBX", m.ST_ERRKEY)
    items = [(t.PP_DATAOUT, crypt)]
    if method[0] in "35":
        items.append((t.PP_KSN, ksn))
    return tagged("EBX", items)
    yield  # pragma: no cover


@handles("ENB")
def enb(pinpad: Any, cmd: Command) -> Gen:
    """8 bytes under MK/WK:TDES:DAT (method "1"); the DES method "0" has no keys: 042."""
    from virtual_devices.abecs.keys import KeyError_

    data = cmd.data
    if len(data) != 51 or data[:1] not in (b"0", b"1") or not data[1:3].isdigit():
        return Response("ENB", m.ST_INVPARM)
    try:
        wkenc, block = bytes.fromhex(data[3:35].decode()), bytes.fromhex(data[35:51].decode())
    except ValueError:
        return Response("ENB", m.ST_INVPARM)
    if data[:1] == b"0":
        return Response("ENB", m.ST_ERRKEY)
    try:
        crypt, _ = pinpad.key_store.encrypt_data(10, int(data[1:3]), block, wkenc)
    except KeyError_:
        return Response("ENB", m.ST_ERRKEY)
    return Response("ENB", 0, (crypt.hex().upper().encode(),))
    yield  # pragma: no cover


@handles("CHP")
def chp(pinpad: Any, cmd: Command) -> Gen:
    """Direct chip access (§3.3.2): the ICC in the main coupler; no SAM is fitted."""
    data = cmd.data
    if (len(data) < 5 or not data[:1].isdigit() or data[1:2] not in b"0123"
            or not data[2:5].isdigit()):
        return Response("CHP", m.ST_INVPARM)
    slot, oper, n = int(data[:1]), int(data[1:2]), int(data[2:5])
    try:
        apdu = bytes.fromhex(data[5 : 5 + 2 * n].decode("latin-1"))
    except ValueError:
        return Response("CHP", m.ST_INVPARM)
    if len(apdu) != n:
        return Response("CHP", m.ST_INVPARM)
    if 1 <= slot <= 8:
        return Response("CHP", ST_NOSAM)
    if slot == 9:
        if not pinpad.info.ctls:
            return Response("CHP", m.ST_NOCARD)
        return Response("CHP", m.ST_NOCARD)  # nothing at the antenna outside a card command
    card = pinpad.inserted
    if card is None:
        return Response("CHP", m.ST_NOCARD)

    def answer(raw: bytes) -> Response:
        return Response("CHP", 0, (f"{len(raw):03d}{raw.hex().upper()}".encode(),))

    try:
        if oper == 0:
            card.power_off()
            return answer(b"")
        if oper == 1:
            atr = card.power_on("contact")
            yield pinpad.world.timeout(pinpad.t["card_power_up"])
            return answer(atr)
        if oper == 2:
            if len(apdu) < 4:
                return Response("CHP", m.ST_INVPARM)
            return answer(card.transmit(apdu))
        # oper 3: capture a PIN and send it to the card in the chosen block format
        if len(apdu) != 4:
            return Response("CHP", m.ST_INVPARM)
        fmt = data[5 + 2 * n : 6 + 2 * n]
        msg = data[6 + 2 * n : 38 + 2 * n].decode("latin-1")
        if fmt not in (b"0", b"1", b"2", b"9"):
            return Response("CHP", m.ST_INVPARM)
        pinpad.display.show(msg)
        got = yield from pinpad.pin_entry(4, 12, None)
        if isinstance(got, int):
            return Response("CHP", got)
        pinpad.world.redactor.add_secret(got.encode())
        if fmt == b"9":
            body = got.encode("ascii")
        else:
            head = {b"0": "0", b"1": "2", b"2": ""}[fmt]
            nib = (head + (f"{len(got):X}" if head else "") + got).ljust(16, "F")
            body = bytes.fromhex(nib[:16])
        pinpad.world.redactor.add_secret(body)
        return answer(card.transmit(apdu + bytes((len(body),)) + body))
    except Exception as exc:  # noqa: BLE001 - the card model's mute/comm errors
        pinpad.world.transcript.event(pinpad.name, f"CHP: card error: {exc}")
        return Response("CHP", m.ST_DUMBCARD if oper == 1 else m.ST_ERRCARD)


# -- multimedia ---------------------------------------------------------------------------

def _file_name(raw: bytes) -> str:
    name = raw.decode("latin-1")
    if not 0 < len(name) <= 8 or not name.isalnum():
        raise CodecError(f"multimedia file name {name!r} is not 1-8 letters/digits", 11)
    return name.upper()


def image_size(kind: int, data: bytes) -> tuple[int, int] | None:
    """(width, height) from the file's own header, or None when it is not that format."""
    if kind == 1 and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if kind == 3 and data[:4] == b"GIF8" and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return w, h
    if kind == 2 and data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, seg = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return None


def _show_file(pinpad: Any, name: str) -> int:
    f = state(pinpad).files.get(name.upper())
    if f is None:
        return ST_MFNFOUND
    size = image_size(f.kind, f.data)
    if size is None or size[0] > DISPLAY_GRAPHIC[1] or size[1] > DISPLAY_GRAPHIC[0]:
        return ST_MFERRFMT
    kind = {1: "PNG", 2: "JPG", 3: "GIF"}[f.kind]
    # the text model of the screen: what is shown, its format and size, centred
    pinpad.display.show_lines(f"[{f.name}]", f"{kind} {size[0]}x{size[1]}")
    return 0


@handles("MLI")
def mli(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    name = _file_name(p.need(t.SPE_MFNAME))
    info = p.need(t.SPE_MFINFO)
    if len(info) != 10 or info[6] not in (1, 2, 3) or info[7:] != b"\x00\x00\x00":
        return Response("MLI", m.ST_INVPARM)
    size, crc = int.from_bytes(info[:4], "big"), int.from_bytes(info[4:6], "big")
    st = state(pinpad)
    st.loading = (name, size, crc, info[6])
    st.received = bytearray()
    return Response("MLI")
    yield  # pragma: no cover


MEDIA_MEMORY = 4 * 1024 * 1024  # bytes of file memory (a typical colour pinpad's)


@handles("MLR")
def mlr(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    st = state(pinpad)
    if st.loading is None:
        return Response("MLR", m.ST_INVCALL)
    chunks = p.all(t.SPE_DATAIN)
    if not chunks:
        return Response("MLR", m.ST_MANDAT)
    for c in chunks:
        st.received += c
    if len(st.received) > MEDIA_MEMORY:
        st.loading, st.received = None, bytearray()
        return Response("MLR", m.ST_INTERR)
    return Response("MLR")
    yield  # pragma: no cover


@handles("MLE")
def mle(pinpad: Any, cmd: Command) -> Gen:
    """Accept the file when its size and CRC match MLI's. The CRC is the link's own
    CRC-16 (§2.2, polynomial 1021h, initial 0), the one CRC the specification defines."""
    st = state(pinpad)
    if st.loading is None:
        return Response("MLE", m.ST_INVCALL)
    name, size, crc, kind = st.loading
    data = bytes(st.received)
    st.loading, st.received = None, bytearray()
    if len(data) != size or crc16(data) != crc:
        return Response("MLE", ST_MFERR)
    st.files[name] = MediaFile(name, kind, data)
    return Response("MLE")
    yield  # pragma: no cover


@handles("LMF")
def lmf(pinpad: Any, cmd: Command) -> Gen:
    names = sorted(state(pinpad).files)
    return tagged("LMF", [(t.PP_MFNAME, n.ljust(8).encode("latin-1")) for n in names])
    yield  # pragma: no cover


@handles("DMF")
def dmf(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    names = p.all(t.SPE_MFNAME)
    if not names:
        return Response("DMF", m.ST_MANDAT)
    for raw in names:
        state(pinpad).files.pop(raw.decode("latin-1").strip().upper(), None)
    return Response("DMF")
    yield  # pragma: no cover


@handles("DSI")
def dsi(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    name = _file_name(p.need(t.SPE_MFNAME))
    status = _show_file(pinpad, name)
    return Response("DSI", status)
    yield  # pragma: no cover


# -- card processing (§3.7, §6.9) -----------------------------------------------------------

def _amount_text(cents: int) -> str:
    return f"R$ {cents // 100},{cents % 100:02d}"


def _gcx_request(pinpad: Any, p: t.Params) -> tuple[m.GcrRequest, bool]:
    date = p.digits(t.SPE_TRNDATE, 6)
    time = p.digits(t.SPE_TRNTIME, 6)
    if date is None or time is None:
        raise CodecError("GCX needs SPE_TRNDATE and SPE_TRNTIME", 19)
    amount = int(p.digits(t.SPE_AMOUNT, 12) or 0)
    opt = p.digits(t.SPE_GCXOPT, 5) or "00000"
    acq = int(p.digits(t.SPE_ACQREF, 2) or 0)
    app_type = 99
    apps: tuple[tuple[int, str], ...] = ()
    aidlist = p.get(t.SPE_AIDLIST)
    if aidlist is not None:
        text = aidlist.decode("latin-1")
        if len(text) % 4 or not text:
            raise CodecError("SPE_AIDLIST is not a list of 4-character entries", 11)
        apps = tuple((int(text[i : i + 2]), text[i + 2 : i + 4]) for i in range(0, len(text), 4))
        app_type, acq = 0, 0  # the list wins over SPE_ACQREF and SPE_APPTYPE (§3.7.1)
    elif (types := p.digits(t.SPE_APPTYPE)) is not None:
        if len(types) % 2:
            raise CodecError("SPE_APPTYPE is not two-digit ids", 11)
        wanted = {int(types[i : i + 2]) for i in range(0, len(types), 2)}
        if len(wanted) == 1:
            app_type = wanted.pop()
        else:
            apps = tuple((r.acquirer, r.record_index) for r in pinpad.tables.aids()
                         if r.app_type in wanted and acq in (0, r.acquirer))
            app_type, acq = 0, 0
    # GCX does no table version control (§3.7.1): the request carries the loaded one
    req = m.GcrRequest(amount, date, time, pinpad.tables.version(acq), acq, app_type, apps,
                       ctls=opt[0] == "1")
    return req, opt[1] == "1"


def _emv_data(session: Any, tags: list[int]) -> bytes:
    kernel = getattr(session, "kernel", None)
    if kernel is None or not tags:
        return b""
    return bytes(kernel.requested_tags(tags))


def _tag_list(raw: bytes) -> list[int]:
    return list(m._parse_tag_list(f"{len(raw):03d}{raw.hex().upper()}".encode()))


def _apply_emv_params(session: Any, p: t.Params, cashback_given: bool) -> None:
    """SPE_EMVDATA and SPE_TRNTYPE as transaction data for the card session (the kernel
    takes amount, other amount and type; other terminal objects are its constants)."""
    data = p.get(t.SPE_EMVDATA) or b""
    trntype = p.get(t.SPE_TRNTYPE)
    if trntype is None and cashback_given:
        trntype = b"\x09"
    if trntype is not None:
        data += b"\x9c\x01" + trntype[:1]
    if data and session is not None:
        session.change_parameters(data)


@handles("GCX")
def gcx(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    req, hide_amount = _gcx_request(pinpad, p)
    panmask = _panmask(p)
    timeout = p.number(t.SPE_TIMEOUT) or None
    msg = p.get(t.SPE_DSPMSG)
    if msg is not None:
        lines = msg.decode("latin-1").replace("\r", "\n").split("\n")
        prompt = lines[0][:16].ljust(16) + (lines[1][:16] if len(lines) > 1 else "")
        if len(lines) == 1:
            prompt = lines[0]
    elif req.amount and not hide_amount:
        wait = "APROXIME/INSIRA" if req.ctls and pinpad.info.ctls else "INSIRA OU PASSE"
        prompt = _amount_text(req.amount)[:16].ljust(16) + wait
    else:
        prompt = None
    st = state(pinpad)
    st.tracks, st.pan, st.gcx_card_type = None, "", None
    st.trncurr = p.get(t.SPE_TRNCURR)
    reading = pinpad.world.process(_guard(gcr.read_card(pinpad, req, prompt)))
    waits: list[simpy.Event] = [reading]
    if timeout:
        waits.append(pinpad.world.timeout(timeout))
    try:
        yield pinpad.world.any_of(waits)
    except simpy.Interrupt:
        if reading.is_alive:
            reading.interrupt("aborted")
        raise
    if not reading.triggered:
        reading.interrupt("timeout")
        pinpad.display.clear()
        return Response("GCX", m.ST_TIMEOUT)
    rsp: Response = reading.value
    if rsp is None or rsp.status:
        return Response("GCX", rsp.status if rsp is not None else m.ST_TIMEOUT)
    read = m.GcrResponse.from_response(rsp)
    session = pinpad.slot.chip
    _apply_emv_params(session, p, p.get(t.SPE_CASHBACK) is not None)
    st.tracks = (read.track1, read.track2, read.track3)
    st.gcx_card_type = read.card_type
    items: list[tuple[int, bytes]] = [(t.PP_CARDTYPE, f"{read.card_type:02d}".encode())]
    if read.card_type == m.CARD_MAGSTRIPE:
        items.append((t.PP_ICCSTAT, str(read.stat_chip).encode()))
        items += incomplete_tracks(read.track1, read.track2, panmask)
        return tagged("GCX", items)
    st.pan = read.pan
    info = f"{read.acq_idx:02d}{read.rec_idx:>2}{read.app_type:02d}"
    items += [(t.PP_AIDTABINFO, info.encode("latin-1")),
              (t.PP_LABEL, read.app_label.encode("latin-1"))]
    if read.card_type in (m.CARD_ICC, m.CARD_CTLS_EMV):
        items += [(t.PP_PAN, t.mask_pan(read.pan, panmask).encode("latin-1")),
                  (t.PP_PANSEQNO, f"{read.pan_seq:02d}".encode())]
    items += incomplete_tracks(read.track1, read.track2, panmask)
    if read.card_type in (m.CARD_ICC, m.CARD_CTLS_EMV):
        if read.holder_name:
            items.append((t.PP_CHNAME, read.holder_name.encode("latin-1")))
        if read.issuer_country.strip("0"):
            items.append((t.PP_ISSCNTRY, read.issuer_country.encode()))
        if read.expiry.strip("0"):
            items.append((t.PP_CARDEXP, read.expiry.encode()))
    if read.card_type in (m.CARD_CTLS_MAG, m.CARD_CTLS_EMV):
        # 01 a phone (the card model's mobile-device profile), else 00 a card (§3.7.1)
        profile = getattr(getattr(session, "card", None), "profile", None)
        items.append((t.PP_DEVTYPE, b"01" if getattr(profile, "phone", False) else b"00"))
    taglist = p.get(t.SPE_TAGLIST)
    if taglist is not None:
        items.append((t.PP_EMVDATA, _emv_data(session, _tag_list(taglist))))
    return tagged("GCX", items)


def _guard(action: Gen) -> Gen:
    """A sub-process that an interrupt (timeout, CAN) ends quietly with None."""
    try:
        return (yield from action)
    except simpy.Interrupt:
        return None


@handles("GED")
def ged(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    tags = _tag_list(p.need(t.SPE_TAGLIST))
    st = state(pinpad)
    if pinpad.slot.chip is None or st.gcx_card_type not in (3, 5, 6):
        return Response("GED", m.ST_INVCALL)
    return tagged("GED", [(t.PP_EMVDATA, _emv_data(pinpad.slot.chip, tags))])
    yield  # pragma: no cover


@handles("GOX")
def gox(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    acq = p.digits(t.SPE_ACQREF, 2)
    method = p.digits(t.SPE_MTHDPIN, 1)
    key_idx = p.digits(t.SPE_KEYIDX, 2)
    if acq is None or method is None or key_idx is None:
        return Response("GOX", m.ST_MANDAT)
    wk = p.get(t.SPE_WKENC)
    if method in "01" and wk is None:
        return Response("GOX", m.ST_MANDAT)
    if method not in "0123":
        return Response("GOX", m.ST_INVPARM)
    if not pinpad.slot.can_go_on_chip():
        return Response("GOX", m.ST_INVCALL)
    opt = p.digits(t.SPE_GOXOPT, 5) or "00000"
    trm = p.get(t.SPE_TRMPAR) or bytes(10)
    if len(trm) != 10:
        return Response("GOX", m.ST_INVPARM)
    floor, tp, thr, mtp = struct.unpack(">IBIB", trm)
    taglist = p.get(t.SPE_TAGLIST)
    tags = tuple(_tag_list(taglist)) if taglist is not None else ()
    _apply_emv_params(pinpad.slot.chip, p, p.get(t.SPE_CASHBACK) is not None)
    req = m.GocRequest(
        amount=int(p.digits(t.SPE_AMOUNT, 12) or 0), tags=tags,
        cashback=int(p.digits(t.SPE_CASHBACK, 12) or 0), blacklisted=opt[0] == "1",
        force_online=opt[1] == "1", method=int(method), key_idx=int(key_idx),
        risk_management=True, floor_limit=floor, target_pct=tp, threshold=thr,
        max_target_pct=mtp, working_key=(wk or bytes(16)).hex().upper().ljust(32, "0")[:32],
    )
    msg = p.get(t.SPE_DSPMSG)
    pinpad.pin_prompt = msg.decode("latin-1") if msg is not None else None
    # the PIN screen's inactivity limit: SPE_TIMEOUT, else one minute (§3.7.3, PCI)
    pinpad.pin_timeout = float(p.number(t.SPE_TIMEOUT) or 60)
    try:
        rsp = yield from gcr.go_on(pinpad, req)
    finally:
        pinpad.pin_prompt, pinpad.pin_timeout = None, None
    if rsp.status:
        return Response("GOX", rsp.status)
    goc = m.GocResponse.from_response(rsp)
    pin = "1" if goc.offline_pin else "2" if goc.online_pin else "0"
    kernel = getattr(pinpad.slot.chip, "kernel", None)
    cdcvm = "1" if getattr(kernel, "cvm", None) == "cdcvm" else "0"  # verified on the phone
    items = [(t.PP_GOXRES, f"{goc.decision}{int(goc.signature)}{pin}{cdcvm}00".encode())]
    if goc.online_pin:
        items.append((t.PP_PINBLK, goc.pin_block))
        if method in "23":
            items.append((t.PP_KSN, goc.ksn))
    if taglist is not None:
        items.append((t.PP_EMVDATA, goc.emv_data))
    return tagged("GOX", items)


@handles("FCX")
def fcx(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    opt = p.digits(t.SPE_FCXOPT, 4)
    if opt is None:
        return Response("FCX", m.ST_MANDAT)
    if opt[0] not in "012":
        return Response("FCX", m.ST_INVPARM)
    arc = p.get(t.SPE_ARC)
    if opt[0] in "01" and arc is None:
        return Response("FCX", m.ST_MANDAT)
    if not pinpad.slot.can_finish():
        return Response("FCX", m.ST_INVCALL)
    arc_text = (arc or b"00").decode("latin-1")[:2]
    if opt[0] == "2":
        comm, arc_text, issuer = 1, "00", b""
    else:
        # approved with a response code other than "00" is the classic COMMST 9
        comm = 9 if opt[0] == "0" and arc_text != "00" else 0
        issuer = p.get(t.SPE_EMVDATA) or b""
    taglist = p.get(t.SPE_TAGLIST)
    tags = tuple(_tag_list(taglist)) if taglist is not None else ()
    wait = p.number(t.SPE_TIMEOUT)
    rsp = yield from gcr.finish(pinpad, m.FncRequest(comm, arc_text, issuer, tags, via_fcx=True,
                                                     card_wait=float(wait) if wait else None))
    if rsp.status:
        return Response("FCX", rsp.status)
    fnc = m.FncResponse.from_response(rsp)
    items = [(t.PP_FCXRES, b"000" if fnc.decision == 0 else b"100")]
    if taglist is not None:
        items.append((t.PP_EMVDATA, fnc.emv_data))
    if fnc.script_results:
        items.append((t.PP_ISRESULTS, fnc.script_results))
    return tagged("FCX", items)


# -- generic (§3.8) -----------------------------------------------------------------------

@handles("GEN")
def gen(pinpad: Any, cmd: Command) -> Gen:
    data = cmd.data
    if len(data) < 7 or not data[:5].isdigit() or int(data[2:5]) != len(data) - 5:
        return Response("GEN", m.ST_INVPARM)
    acq, sub, body = data[:2].decode(), data[5:7].decode("latin-1"), data[7:]

    def out(text: str) -> Response:
        return Response("GEN", 0, (f"{len(text):03d}{text}".encode("latin-1"),))

    if (acq, sub) == ("02", "K3"):
        if len(body) != 6 or not body.isdigit():
            return Response("GEN", m.ST_INVPARM)
        kind, use, lo, hi = int(body[:1]), int(body[1:2]), int(body[2:4]), int(body[4:6])
        if lo > hi or kind > 3 or use > 1:
            return Response("GEN", m.ST_INVPARM)
        if kind in (0, 2):
            states = key_map(set(), False)  # DES keys: removed in ABECS 2.10
        elif kind == 1:
            states = _presence(pinpad, "mk_dat" if use else "mk_pin")
        else:
            states = _presence(pinpad, "dukpt_dat" if use else "dukpt_pin")
        return out(states[lo : hi + 1])
    if (acq, sub) in (("04", "04"), ("03", "02")):
        session = pinpad.slot.chip
        if session is None:
            return Response("GEN", m.ST_INVCALL)
        text = body.decode("latin-1")
        hexed = text[3:] if acq == "04" else text
        try:
            raw = bytes.fromhex(hexed)
        except ValueError:
            return Response("GEN", m.ST_INVPARM)
        emv = _emv_data(session, _tag_list(raw))
        return out(f"{len(emv):03d}{emv.hex().upper()}")
    if (acq, sub) == ("04", "01"):
        if len(body) != 2 or body[:1] not in b"1234" or not body[1:].isdigit():
            return Response("GEN", m.ST_INVPARM)
        slot = body[1:].decode()
        if slot != "0":
            return out(f"{slot}4" + "00" + "0" * 72)  # no SAM reader: "4"
        card = pinpad.inserted
        if card is None:
            return out("00" + "00" + "0" * 72)
        if body[:1] == b"3":
            card.power_off()
            return out("01" + "00" + "0" * 72)
        try:
            atr = card.power_on("contact")
        except Exception:  # noqa: BLE001 - a mute chip
            return out("02" + "00" + "0" * 72)
        return out("03" + f"{len(atr):02d}" + atr.hex().upper().ljust(72, "0"))
    if (acq, sub) == ("04", "02"):
        card = pinpad.inserted
        if card is None:
            return Response("GEN", m.ST_NOCARD)
        text = body.decode("latin-1")
        try:
            head = bytes.fromhex(text[1:9])
            lc = int(text[9:12])
            cdata = bytes.fromhex(text[12 : 12 + 2 * lc])
            le = int(text[12 + 2 * lc : 15 + 2 * lc])
        except ValueError:
            return Response("GEN", m.ST_INVPARM)
        apdu = head + (bytes((lc,)) + cdata if lc else b"") + (bytes((le % 256,)) if le else b"")
        try:
            rsp = card.transmit(apdu)
        except Exception:  # noqa: BLE001
            return Response("GEN", m.ST_ERRCARD)
        dat, sw = rsp[:-2], rsp[-2:]
        return out(f"{text[:1]}{sw.hex().upper()}{len(dat):03d}{dat.hex().upper()}")
    return Response("GEN", m.ST_INVCALL)
    yield  # pragma: no cover
