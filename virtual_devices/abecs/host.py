"""The host side of ABECS: a SimPy driver over a ByteEnd (in-memory, pty or real serial).

``AbecsHost(world, end)`` runs the sans-I/O :class:`HostLink` and the secure layer;
its generator methods (``yield from host.gcr(req)``) return typed responses or raise
:class:`AbecsError` with the pinpad's status code. Link failures (no ACK, three NAKs,
no response in time) raise :class:`AbecsLinkError`. ``cancel()`` sends CAN and waits
for EOT; a blocking command running meanwhile ends with ``AbecsError(13)``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

import simpy
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.streams import ByteEnd
from simulator.timings import Timings, load_timings
from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.commands import BLOCKING, link_timings
from virtual_devices.abecs.driver import LinkDriver
from virtual_devices.abecs.fields import CodecError, Command, Response
from virtual_devices.abecs.link import (
    DC2,
    Cancelled,
    Failed,
    HostLink,
    LinkError,
    ResponseReceived,
)
from virtual_devices.abecs.secure import (
    SecureError,
    SecureSession,
    load_test_host_key,
    unwrap_session_key,
)

Gen = Generator[Any, Any, Any]


class AbecsError(Exception):
    """The pinpad answered a status other than 000 (or the exchange could not finish)."""

    def __init__(self, code: int, command: str = "", detail: str = "") -> None:
        # args are the constructor's arguments: SimPy re-raises failures as type(e)(*e.args)
        super().__init__(code, command, detail)
        self.code = code
        self.command = command
        self.detail = detail

    def __str__(self) -> str:
        text = f"{self.command or 'ABECS'} status {self.code:03d}"
        return text + (f": {self.detail}" if self.detail else "")


class AbecsLinkError(AbecsError):
    """The link gave up: no ACK, three NAKs, no response or no EOT in time."""

    def __init__(self, reason: str, command: str = "") -> None:
        super().__init__(-1, command, reason)
        self.args = (reason, command)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.command or 'ABECS'} link failure: {self.reason}"


# The 1024-bit RSA key of the DWK modality-2 example (§3.2.5): KMOD, KPUB and the KPRV
# the specification gives "for validation". A test key, public in the specification.
DWK_SPEC_MODULUS = int(
    "C0E4E6AAD9DC81E2EBF8AC126E7EEE65680898BBAC30063DCD543D705040E916D93EE316B9EC492B796F1721"
    "425F0F028834251AAD51CEB1783308EC7D5072D84813BDA59B3161CB4879464EB5AF71969865FD34745A711D"
    "1DA3DDB4D29D29D0422C6E17C25F17C0B5B39E688C4D06123DDB5F558EF0316B3F744C7071F29791", 16)
DWK_SPEC_EXPONENT = 0x010001
DWK_SPEC_PRIVATE = int(
    "653CBDC395AC218F5381A3EDD8884DDE73077001AF9154F542BA9FB43EAA92AB2741D635AB46D3F0393F90C8"
    "27E9741B4418FA10523EC958635985A978EBAC19E425CE7F6B78667E9CC185C81A0BF2FFA74ACC33FFA36FDB"
    "95668012FF324EBD580460C32D76618BE8169861F5332B835CFC311F7CC54165870D789D6B7268F1", 16)


class AbecsHost:
    def __init__(
        self,
        world: World,
        end: ByteEnd,
        name: str = "host",
        timings: Timings | None = None,
        private_key: rsa.RSAPrivateKey | None = None,
        on_notification: Callable[[str], None] | None = None,
        blocking_limit: float | None = None,
    ) -> None:
        self.world = world
        self.end = end
        self.name = name
        self.t = timings or load_timings("virtual_devices.abecs")
        self.link = HostLink(link_timings(self.t))
        self.private_key = private_key
        self.session: SecureSession | None = None
        self.notifications: list[str] = []
        self.on_notification = on_notification
        self.listeners: list[Callable[[str], None]] = []  # more NTM readers (a terminal)
        # A host's own patience for blocking commands (the link has none, §4.2): after
        # this many seconds it cancels with CAN and reports the command as failed. Every
        # host has one (timings.toml host_blocking_limit unless told), so a pinpad that
        # lost power after ACKing a blocking command cannot hold its host forever.
        if blocking_limit is None:
            blocking_limit = self.t.get("host_blocking_limit")
        self.blocking_limit = blocking_limit
        self._pending: simpy.Event | None = None
        self._pending_cmd = ""
        self._cancel_done: simpy.Event | None = None
        self._lock = simpy.Resource(world.env, capacity=1)
        self.received = bytearray()  # every byte from the pinpad, for byte-level checks
        self.driver = LinkDriver(world, end, self.link, {
            ResponseReceived: self._on_response,
            Failed: self._on_failed,
            Cancelled: self._on_cancelled,
            LinkError: self._on_link_error,
        }, on_closed=self._on_closed, on_bytes=self.received.extend)
        self._apply = self.driver.apply
        self.reader = self.driver.start()

    # -- plumbing ---------------------------------------------------------------------
    def _on_closed(self) -> None:
        self._fail_pending(AbecsLinkError("link closed", self._pending_cmd))
        if self._cancel_done is not None and not self._cancel_done.triggered:
            self._cancel_done.fail(AbecsLinkError("link closed", "CAN"))

    def send_raw(self, data: bytes) -> int:
        """Write bytes as they are, outside any exchange; returns the mark of
        :attr:`received` to read the answer from."""
        mark = len(self.received)
        self.end.write(data)
        return mark

    def _on_response(self, out: ResponseReceived) -> None:
        self._on_packet(out.pktdata)

    def _on_failed(self, out: Failed) -> None:
        if self._cancel_done is not None and not self._cancel_done.triggered:
            self._cancel_done.fail(AbecsLinkError(out.reason, "CAN"))
            self._cancel_done = None
        self._fail_pending(AbecsLinkError(out.reason, self._pending_cmd))

    def _on_cancelled(self, out: Cancelled) -> None:
        self._fail_pending(AbecsError(m.ST_CANCEL, self._pending_cmd, "cancelled (CAN)"))
        if self._cancel_done is not None and not self._cancel_done.triggered:
            self._cancel_done.succeed()
            self._cancel_done = None

    def _on_link_error(self, out: LinkError) -> None:
        self.world.transcript.event(self.name, f"link: {out.reason}, NAK sent")

    def _fail_pending(self, exc: AbecsError) -> None:
        ev, self._pending = self._pending, None
        if ev is not None and not ev.triggered:
            ev.fail(exc)

    def _on_packet(self, pktdata: bytes) -> None:
        try:
            if pktdata[:1] == bytes((DC2,)):
                if self.session is None:
                    raise SecureError("encrypted response without a session")
                pktdata = self.session.open(pktdata)
            rsp = Response.decode(pktdata)
        except (SecureError, CodecError) as exc:
            self._fail_pending(AbecsError(m.ST_ERRPKTSEC, self._pending_cmd, str(exc)))
            return
        if rsp.cmd_id == "NTM":
            text = m.Notification.from_response(rsp).text
            self.notifications.append(text)
            self.world.transcript.event(self.name, f"NTM {text.strip()!r}")
            if self.on_notification is not None:
                self.on_notification(text)
            for listener in self.listeners:
                listener(text)
            self._apply(self.link.continue_waiting())
            return
        ev, self._pending = self._pending, None
        if ev is not None and not ev.triggered:
            ev.succeed(rsp)

    # -- exchanges ----------------------------------------------------------------------
    def exchange(self, cmd: Command, blocking: bool | None = None, clear: bool = False) -> Gen:
        """Send one command and return its :class:`Response` (any status)."""
        with self._lock.request() as turn:
            yield turn
            yield from self._after_cancel()
            raw = cmd.encode()
            if self.session is not None and not clear:
                raw = self.session.seal(raw)
            ev = self.world.event()
            self._pending = ev
            self._pending_cmd = cmd.cmd_id
            if blocking is None:
                blocking = cmd.cmd_id in BLOCKING
            self._apply(self.link.send_command(raw, blocking=blocking))
            if blocking and self.blocking_limit is not None:
                self.world.process(self._watchdog(ev, self.blocking_limit))
            rsp = yield ev
            return rsp

    def _watchdog(self, ev: simpy.Event, seconds: float) -> Gen:
        yield self.world.timeout(seconds)
        if ev.triggered or self._pending is not ev:
            return
        self.world.transcript.event(self.name, f"no answer in {seconds:g} s: CAN")
        try:
            yield from self.cancel()  # EOT ends the command with 013, silence with a link error
        except AbecsError:
            pass

    def raw_exchange(self, pktdata: bytes, blocking: bool = False) -> Gen:
        """Send PKTDATA exactly as given (conformance cases send malformed packets)."""
        with self._lock.request() as turn:
            yield turn
            yield from self._after_cancel()
            ev = self.world.event()
            self._pending = ev
            self._pending_cmd = pktdata[:3].decode("latin-1")
            self._apply(self.link.send_command(pktdata, blocking=blocking))
            rsp = yield ev
            return rsp

    def _after_cancel(self) -> Gen:
        """A command never overlaps a CAN in flight: wait for its EOT (or give-up)."""
        done = self._cancel_done
        if done is not None and not done.triggered:
            try:
                yield done
            except AbecsError:
                pass

    def call(self, cmd: Command, blocking: bool | None = None) -> Gen:
        """Exchange and raise :class:`AbecsError` unless the status is 000."""
        rsp = yield from self.exchange(cmd, blocking)
        if rsp.status != 0 or rsp.cmd_id != cmd.cmd_id:
            if rsp.cmd_id in ("CLO", "ERR", "OPN") and rsp.status in (m.ST_ERRPKTSEC,
                                                                      m.ST_NOSEC):
                self.session = None
            raise AbecsError(rsp.status, rsp.cmd_id)
        return rsp

    def cancel(self) -> Gen:
        """CAN → EOT (retried up to three times). Aborts any running command."""
        done = self._cancel_done
        if done is None or done.triggered:
            done = self.world.event()
            self._cancel_done = done
            self._apply(self.link.cancel())
        yield done

    # -- commands -----------------------------------------------------------------------
    def opn(self, secure: bool = True) -> Gen:
        """Open; secure by default with the test host key. Returns True when secure."""
        self.session = None
        if not secure:
            yield from self.call(m.OpnRequest(None).to_command())
            return False
        if self.private_key is None:
            self.private_key = load_test_host_key()
        pub = self.private_key.public_key().public_numbers()
        rsp = yield from self.call(m.OpnRequest(pub.n, pub.e).to_command())
        got = m.OpnResponse.from_response(rsp)
        if got.crksec is None:
            return False  # an "obsolete" pinpad: classic mode, stay in clear
        ksec = unwrap_session_key(self.private_key, got.crksec)
        self.world.redactor.add_secret(ksec)
        self.session = SecureSession(ksec)
        return True

    def clo(self, message: str = "") -> Gen:
        try:
            yield from self.call(m.MessageRequest("CLO", message).to_command())
        finally:
            self.session = None

    def gin(self, acq_idx: int = 0) -> Gen:
        rsp = yield from self.call(m.GinRequest(acq_idx).to_command())
        return m.GinResponse.from_response(rsp) if acq_idx == 0 else rsp.data

    def dsp(self, message: str) -> Gen:
        yield from self.call(m.MessageRequest("DSP", message).to_command())

    def dex(self, message: str) -> Gen:
        yield from self.call(m.DexRequest(message).to_command())

    def gky(self) -> Gen:
        """Returns the key's status code (000 enter, 013 cancel, 008 clear, 004–007 F1–F4)."""
        rsp = yield from self.exchange(Command("GKY"))
        return rsp.status

    def cke(self, req: m.CkeRequest) -> Gen:
        rsp = yield from self.call(req.to_command())
        return m.CkeResponse.from_response(rsp)

    def rmc(self, message: str = "") -> Gen:
        yield from self.call(m.MessageRequest("RMC", message).to_command())

    def gdu(self, key_idx: int = 16, method: int = 3) -> Gen:
        rsp = yield from self.call(m.GduRequest(method, key_idx).to_command())
        return m.KsnResponse.from_response(rsp).ksn

    def gpn(self, req: m.GpnRequest) -> Gen:
        rsp = yield from self.call(req.to_command())
        return m.PinResponse.from_response(rsp)

    def gts(self, acq_idx: int = 0) -> Gen:
        rsp = yield from self.call(m.GtsRequest(acq_idx).to_command())
        return rsp.data.decode("latin-1")

    def tli(self, acq_idx: int, version: str) -> Gen:
        """Returns True when the pinpad already held ``version`` (000), False on 020."""
        rsp = yield from self.exchange(m.TliRequest(acq_idx, version).to_command())
        if rsp.status not in (0, m.ST_TABVERDIF) or rsp.cmd_id != "TLI":
            raise AbecsError(rsp.status, rsp.cmd_id)
        return rsp.status == 0

    def tlr(self, records: Iterable[bytes]) -> Gen:
        yield from self.call(m.TlrRequest(tuple(records)).to_command())

    def tle(self) -> Gen:
        yield from self.call(Command("TLE"))

    def load_tables(self, acq_idx: int, version: str, records: Iterable[bytes]) -> Gen:
        """TLI, as many TLR as the 999-byte block limit needs, TLE."""
        yield from self.tli(acq_idx, version)
        batch: list[bytes] = []
        size = 2
        for rec in records:
            if batch and (size + len(rec) > 999 or len(batch) == 99):
                yield from self.tlr(batch)
                batch, size = [], 2
            batch.append(rec)
            size += len(rec)
        if batch:
            yield from self.tlr(batch)
        yield from self.tle()

    def gcr(self, req: m.GcrRequest | None = None) -> Gen:
        """GCR; ``None`` sends the bare GCR that resumes after 020 (§4.7)."""
        cmd = req.to_command() if req is not None else Command("GCR")
        rsp = yield from self.call(cmd)
        return m.GcrResponse.from_response(rsp)

    def cng(self, emv_data: bytes) -> Gen:
        yield from self.call(m.CngRequest(emv_data).to_command())

    def goc(self, req: m.GocRequest) -> Gen:
        rsp = yield from self.call(req.to_command())
        return m.GocResponse.from_response(rsp)

    def fnc(self, req: m.FncRequest) -> Gen:
        rsp = yield from self.call(req.to_command())
        return m.FncResponse.from_response(rsp)

    # -- encrypted-PAN mode (§3.2.5, §5.3) ----------------------------------------------
    def dwk_master(self, mk_idx: int, wkenc: str) -> Gen:
        """DWK modality 1: the WKPAN the host chose, under MK:TDES:DAT ``mk_idx``."""
        data = f"11{mk_idx:02d}{wkenc}".encode("ascii")
        yield from self.call(Command("DWK", (data,)))

    def dwk_random(self, modulus: int = DWK_SPEC_MODULUS, exponent: int = DWK_SPEC_EXPONENT,
                   private_exponent: int = DWK_SPEC_PRIVATE) -> Gen:
        """DWK modality 2: the pinpad draws the WKPAN and sends it under the host's
        1024-bit RSA key (by default the key of the specification's example); the host
        opens it (§5.3.3) and returns the WKPAN for §5.3.2."""
        from virtual_devices.acquirer.pinpad_keys import open_wkpan_cryptogram

        data = f"2{modulus:0256X}{exponent:06X}".encode("ascii")
        rsp = yield from self.call(Command("DWK", (data,)))
        crypt = rsp.data.decode("latin-1")
        if len(crypt) != 256:
            raise AbecsError(m.ST_INVPARM, "DWK", "DWK_CRYPT is not H256")
        wkpan = open_wkpan_cryptogram(modulus, private_exponent, bytes.fromhex(crypt))
        self.world.redactor.add_secret(wkpan)
        return wkpan

    # -- parameter-tagged commands (ABECS 2.12 §3.1.3) ---------------------------------
    def abecs(self, cmd_id: str, items: Iterable[tuple[int, bytes]] = ()) -> Gen:
        """Send a parameter-tagged command; returns the response's :class:`tagged.Params`
        (raises :class:`AbecsError` unless 000)."""
        rsp = yield from self.call(Command(cmd_id, t.encode_params(items)))
        return t.decode_params(rsp.blocks)

    def gix(self, ids: Iterable[int] | None = None) -> Gen:
        items = [] if ids is None else [(t.SPE_IDLIST, b"".join(i.to_bytes(2, "big")
                                                                 for i in ids))]
        return (yield from self.abecs("GIX", items))

    def clx(self, message: str | None = None, image: str | None = None) -> Gen:
        items = []
        if message is not None:
            items.append((t.SPE_DSPMSG, message.encode("latin-1")))
        if image is not None:
            items.append((t.SPE_MFNAME, image.encode("latin-1")))
        rsp = yield from self.exchange(Command("CLX", t.encode_params(items)))
        self.session = None  # CLX, like CLO, ends secure communication
        if rsp.status:
            raise AbecsError(rsp.status, "CLX")

    def cex(self, options: str, timeout: int | None = None, panmask: str | None = None) -> Gen:
        items = [(t.SPE_CEXOPT, options.encode())]
        if timeout is not None:
            items.append((t.SPE_TIMEOUT, bytes((timeout,))))
        if panmask is not None:
            items.append((t.SPE_PANMASK, panmask.encode()))
        return (yield from self.abecs("CEX", items))

    def gcd(self, msg_idx: int, min_digits: int | None = None, max_digits: int | None = None,
            timeout: int | None = None) -> Gen:
        """GCD: the digits the cardholder typed at table message ``msg_idx``."""
        items = [(t.SPE_MSGIDX, msg_idx.to_bytes(2, "big"))]
        if min_digits is not None:
            items.append((t.SPE_MINDIG, bytes((min_digits,))))
        if max_digits is not None:
            items.append((t.SPE_MAXDIG, bytes((max_digits,))))
        if timeout is not None:
            items.append((t.SPE_TIMEOUT, bytes((timeout,))))
        got = yield from self.abecs("GCD", items)
        return got.need(t.PP_VALUE).decode("ascii")

    def mnu(self, options: Iterable[str], title: str | None = None,
            timeout: int | None = None) -> Gen:
        """MNU: the 1-based index of the option chosen."""
        items = [(t.SPE_MNUOPT, o.encode("latin-1")) for o in options]
        if title is not None:
            items.append((t.SPE_DSPMSG, title.encode("latin-1")))
        if timeout is not None:
            items.append((t.SPE_TIMEOUT, bytes((timeout,))))
        got = yield from self.abecs("MNU", items)
        return int(got.need(t.PP_VALUE))

    def gtk(self, tracks: str | None = None) -> Gen:
        items = [] if tracks is None else [(t.SPE_TRACKS, tracks.encode())]
        return (yield from self.abecs("GTK", items))

    def gcx(self, items: Iterable[tuple[int, bytes]]) -> Gen:
        return (yield from self.abecs("GCX", items))

    def ged(self, tags: bytes) -> Gen:
        got = yield from self.abecs("GED", [(t.SPE_TAGLIST, tags)])
        return got.get(t.PP_EMVDATA) or b""

    def gox(self, items: Iterable[tuple[int, bytes]]) -> Gen:
        return (yield from self.abecs("GOX", items))

    def fcx(self, items: Iterable[tuple[int, bytes]]) -> Gen:
        return (yield from self.abecs("FCX", items))

    def load_image(self, name: str, kind: int, data: bytes) -> Gen:
        """MLI, MLR (blocks of 432 bytes, two per command), MLE."""
        from virtual_devices.abecs.link import crc16

        info = len(data).to_bytes(4, "big") + crc16(data).to_bytes(2, "big") + bytes(
            (kind, 0, 0, 0))
        yield from self.abecs("MLI", [(t.SPE_MFNAME, name.encode()), (t.SPE_MFINFO, info)])
        for i in range(0, len(data), 864):
            part = data[i : i + 864]
            yield from self.abecs("MLR", [(t.SPE_DATAIN, part[j : j + 432])
                                          for j in range(0, len(part), 432)])
        yield from self.abecs("MLE")

    def lmf(self) -> Gen:
        got = yield from self.abecs("LMF")
        return [n.decode("latin-1").strip() for n in got.all(t.PP_MFNAME)]

    def dmf(self, *names: str) -> Gen:
        yield from self.abecs("DMF", [(t.SPE_MFNAME, n.encode()) for n in names])

    def dsi(self, name: str) -> Gen:
        yield from self.abecs("DSI", [(t.SPE_MFNAME, name.encode())])

    # -- the card commands of either family, as the classic typed results ------------------
    def gcx_as_gcr(self, req: m.GcrRequest, panmask: str | None = None) -> Gen:
        """GCX (and GTK for the full tracks) for a GCR request; answers a GcrResponse."""
        items = [(t.SPE_TRNDATE, req.date.encode()), (t.SPE_TRNTIME, req.time.encode()),
                 (t.SPE_AMOUNT, f"{req.amount:012d}".encode()),
                 # GCR's antenna is on unless the request says 0; GCX's is off unless "1xxxx"
                 (t.SPE_GCXOPT, b"00000" if req.ctls is False else b"10000")]
        if req.apps:
            items.append((t.SPE_AIDLIST, "".join(f"{a:02d}{r:>2}" for a, r in req.apps)
                          .encode()))
        else:
            if req.acq_idx:
                items.append((t.SPE_ACQREF, f"{req.acq_idx:02d}".encode()))
            if req.app_type not in (0, 99):
                items.append((t.SPE_APPTYPE, f"{req.app_type:02d}".encode()))
        if panmask is not None:
            items.append((t.SPE_PANMASK, panmask.encode()))
        got = yield from self.gcx(items)
        full = yield from self.gtk()
        card_type = int(got.need(t.PP_CARDTYPE))
        info = (got.get(t.PP_AIDTABINFO) or b"0000" + f"{req.app_type % 99:02d}".encode())
        info_text = info.decode("latin-1")
        track1 = (full.get(t.PP_TRACK1) or b"").decode("latin-1")
        track2 = (full.get(t.PP_TRACK2) or b"").hex().upper().rstrip("F").replace("D", "=")
        pan = (full.get(t.PP_ENCPAN) or b"").hex().upper().rstrip("F") or track2.split("=")[0]
        rest = track2.split("=", 1)[1] if "=" in track2 else ""
        return m.GcrResponse(
            card_type=card_type, stat_chip=int(got.get(t.PP_ICCSTAT) or b"0"),
            app_type=int(info_text[4:6] or 0), acq_idx=int(info_text[:2] or 0),
            rec_idx=info_text[2:4], track1=track1, track2=track2, track3="", pan=pan,
            pan_seq=int(got.get(t.PP_PANSEQNO) or b"0"),
            app_label=(got.get(t.PP_LABEL) or b"").decode("latin-1"),
            service_code=rest[4:7] or "000",
            holder_name=(got.get(t.PP_CHNAME) or b"").decode("latin-1"),
            expiry=(got.get(t.PP_CARDEXP) or b"000000").decode(),
            issuer_country=(got.get(t.PP_ISSCNTRY) or b"000").decode(),
        )

    def gox_as_goc(self, req: m.GocRequest, acq_idx: int = 0) -> Gen:
        """GOX for a GOC request; answers a GocResponse."""
        trm = (req.floor_limit.to_bytes(4, "big") + bytes((req.target_pct,))
               + req.threshold.to_bytes(4, "big") + bytes((req.max_target_pct,)))
        tags = b"".join(tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
                        for tag in (*req.tags, *req.tags2))
        items = [(t.SPE_ACQREF, f"{acq_idx:02d}".encode()),
                 (t.SPE_AMOUNT, f"{req.amount:012d}".encode()),
                 (t.SPE_GOXOPT, f"{int(req.blacklisted)}{int(req.force_online)}000".encode()),
                 (t.SPE_MTHDPIN, str(req.method).encode()),
                 (t.SPE_KEYIDX, f"{req.key_idx:02d}".encode()),
                 (t.SPE_TRMPAR, trm), (t.SPE_TAGLIST, tags)]
        if req.cashback:  # present means a cashback sale when no type is given (§3.7.3)
            items.append((t.SPE_CASHBACK, f"{req.cashback:012d}".encode()))
        if req.method in (0, 1):
            items.append((t.SPE_WKENC, bytes.fromhex(req.working_key)))
        got = yield from self.gox(items)
        res = got.need(t.PP_GOXRES).decode()
        return m.GocResponse(
            decision=int(res[0]), signature=res[1] == "1", offline_pin=res[2] == "1",
            online_pin=res[2] == "2", pin_block=got.get(t.PP_PINBLK) or bytes(8),
            ksn=got.get(t.PP_KSN) or bytes(10), emv_data=got.get(t.PP_EMVDATA) or b"",
        )

    def fcx_as_fnc(self, req: m.FncRequest) -> Gen:
        """FCX for an FNC request; answers an FncResponse (decision 0 or 1)."""
        if req.comm_status == 1:
            items = [(t.SPE_FCXOPT, b"2000")]
        else:
            approved = req.arc == "00" or req.comm_status == 9
            items = [(t.SPE_FCXOPT, b"0000" if approved else b"1000"),
                     (t.SPE_ARC, req.arc.encode("latin-1"))]
            if req.issuer_data:
                items.append((t.SPE_EMVDATA, req.issuer_data))
        tags = b"".join(tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
                        for tag in req.tags)
        items.append((t.SPE_TAGLIST, tags))
        got = yield from self.fcx(items)
        res = got.need(t.PP_FCXRES).decode()
        return m.FncResponse(int(res[0]), got.get(t.PP_EMVDATA) or b"",
                             got.get(t.PP_ISRESULTS) or b"")
