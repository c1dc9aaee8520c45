"""What the bridge does with a pinpad: the libmpos flows of mpos-bridge.md §3.3 and §5.

One :class:`PinpadSession` per initialized context drives an ABECS host over the
serial line (``virtual_devices.abecs.host.AbecsHost``). Each method is a SimPy
generator: initialize (OPN), table sync (GDU probe, GTS, TLI/TLR.../TLE), process
(GTS, GCR, then GOC for chip or GPN for a magstripe card that needs a PIN, then the
card_hash), finish (FNC then RMC), display (DSP), close (CLO) and cancel (CAN).

Choices where the sources are silent (mpos-bridge.md §8 lists them as not found):

* GCR asks for all acquirers (``00``) and any application type (``99``) when process
  has no ``applications`` filter, else the explicit list of matching records.
* GOC uses DUKPT:TDES key 16 (§3.5), the TMS tag list, and never forces online.
* A magstripe card asks for an online PIN (GPN) when it is debit or its service code
  says PIN (third digit 0, 5 or 6), as a Brazilian acquirer requires.
* The ARC for FNC is the response code's last two digits (``0000`` -> ``00``).
* FNC is sent only after a GOC that succeeded in this payment (a pinpad answers 010
  otherwise); RMC is always sent, so finish after a failed process still clears the
  card slot.
* Finish reports the card's own verdict (FNC DECISION, §4.9) as the 2019 SDK did
  (§3.3, §7 item 4): :meth:`PinpadSession.finish` says the card declined only when the
  host had approved (COMMST 0) and the card still answered DECISION 1 (2nd GENERATE AC
  gave an AAC). A decline after a host refusal or no host is what the host asked for.
* GCR's date and time come from the world's clock on a fixed calendar
  (:data:`SIM_EPOCH`), so a run is reproducible.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import simpy
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol_servers.mpos.card_hash import CardFields, build_card_hash, holder_name_display
from protocol_servers.mpos.codec import (
    ApplicationFilter,
    PaymentMethod,
    PaymentResult,
    PaymentStatus,
)
from protocol_servers.mpos.tables import (
    AUTHORIZATION_TAGS,
    FINISH_TAGS,
    TerminalTables,
)
from virtual_devices.abecs import messages as m
from simulator.timings import load_timings
from virtual_devices.abecs.host import AbecsError

if TYPE_CHECKING:
    from simulator.streams import ByteEnd
    from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]

SIM_EPOCH = datetime.datetime(2026, 11, 25, 12, 0, 0)
DUKPT_TDES, PIN_KEY_INDEX = 3, 16
ST_CANCEL = 13
ST_TABVERDIF = 20
CLEAR_LINE = " " * 32
_BRIDGE_TIMINGS = load_timings("protocol_servers.mpos")


class PinpadError(Exception):
    """The pinpad answered an ABECS status other than 000 (§4.4)."""

    def __init__(self, command: str, status: int) -> None:
        super().__init__(command, status)
        self.command = command
        self.status = status

    def __str__(self) -> str:
        return f"{self.command} answered {self.status:03d}"


class FinishStatus(IntEnum):
    """``mpos_finish_transaction_status_t`` (§3.2), the FNC COMMST."""

    Ok = 0
    Error = 1
    NonZero = 9


def finish_status(success: bool, response_code: int) -> FinishStatus:
    """The SDK's mapping of finish's body (§2.5 type 5)."""
    if not success:
        return FinishStatus.Error
    if response_code >= 1000:
        return FinishStatus.Error
    return FinishStatus.Ok if response_code == 0 else FinishStatus.NonZero


@dataclass(frozen=True)
class ProcessOutcome:
    result: PaymentResult
    card: CardFields | None = None
    decision: int | None = None  # GOC decision when a chip was read


class PinpadSession:
    def __init__(
        self, world: World, end: ByteEnd, on_error: Callable[[int], None] | None = None
    ) -> None:
        from virtual_devices.abecs.host import AbecsHost

        self.world = world
        self.end = end
        # the link itself waits forever on a blocking command (§4.2); the bridge does not:
        # a card that never comes ends the wait, so process is always answered
        self.host = AbecsHost(world, end, blocking_limit=_BRIDGE_TIMINGS["blocking_command_limit"])
        self.on_error = on_error or (lambda code: None)
        self._rng = world.rng(f"mpos-bridge.card-hash.{end.name}")
        self.chip_pending = False  # a GOC succeeded and FNC has not been sent yet

    # -- one command ---------------------------------------------------------------------
    def _exchange(self, cmd: m.Command, blocking: bool = False) -> Gen:
        """One command; any status comes back, a pinpad that gives up raises PinpadError."""
        try:
            rsp = yield from self.host.exchange(cmd, blocking=blocking)
        except AbecsError as err:
            raise PinpadError(err.command or cmd.cmd_id, err.code) from None
        return rsp

    def _call(self, cmd: m.Command, blocking: bool = False) -> Gen:
        rsp = yield from self._exchange(cmd, blocking)
        if rsp.status != 0 or rsp.cmd_id != cmd.cmd_id:
            raise PinpadError(rsp.cmd_id, rsp.status)
        return rsp

    # -- flows ----------------------------------------------------------------------------
    def initialize(self) -> Gen:
        """CAN first (a host should, §4.2), then OPN, secure by default (§4.5)."""
        try:
            yield from self.host.cancel()
            yield from self.host.opn(secure=True)
        except AbecsError as err:
            raise PinpadError(err.command or "OPN", err.code) from None

    def sync_tables(self, tables: TerminalTables, force: bool = False) -> Gen:
        """GDU probe for the PIN key, then load the tables unless the pinpad has them."""
        yield from self._call(m.GduRequest(DUKPT_TDES, PIN_KEY_INDEX).to_command())
        rsp = yield from self._call(m.GtsRequest(tables.acquirer_index).to_command())
        current = rsp.data.decode("latin-1")[:10]
        if force or current != tables.version:
            yield from self._load_tables(tables)
            return True
        return False

    def _load_tables(self, tables: TerminalTables) -> Gen:
        rsp = yield from self._exchange(
            m.TliRequest(tables.acquirer_index, tables.version).to_command()
        )
        if rsp.status not in (0, ST_TABVERDIF):  # 020 is informative, the load starts
            raise PinpadError("TLI", rsp.status)
        batch: list[bytes] = []
        size = 2
        for rec in tables.records:
            if batch and (size + len(rec) > 999 or len(batch) == 99):
                yield from self._call(m.TlrRequest(tuple(batch)).to_command())
                batch, size = [], 2
            batch.append(rec)
            size += len(rec)
        if batch:
            yield from self._call(m.TlrRequest(tuple(batch)).to_command())
        yield from self._call(m.Command("TLE", ()))

    def _now(self) -> datetime.datetime:
        return SIM_EPOCH + datetime.timedelta(seconds=self.world.now)

    def process_payment(
        self,
        amount: int,
        filters: tuple[ApplicationFilter, ...] | None,
        magstripe_method: PaymentMethod,
        tables: TerminalTables,
        card_hash_key: tuple[str, rsa.RSAPublicKey],
    ) -> Gen:
        self.chip_pending = False
        try:
            outcome = yield from self._process(
                amount, filters, magstripe_method, tables, card_hash_key
            )
        except PinpadError as err:
            status = PaymentStatus.Canceled if err.status == ST_CANCEL else PaymentStatus.Errored
            self.on_error(err.status)
            return ProcessOutcome(PaymentResult(status, error_code=err.status))
        return outcome

    def _process(
        self,
        amount: int,
        filters: tuple[ApplicationFilter, ...] | None,
        magstripe_method: PaymentMethod,
        tables: TerminalTables,
        key: tuple[str, rsa.RSAPublicKey],
    ) -> Gen:
        rsp = yield from self._call(m.GtsRequest(tables.acquirer_index).to_command())
        if rsp.data.decode("latin-1")[:10] != tables.version:
            yield from self._load_tables(tables)
        rows = tables.select(
            None if filters is None else tuple((f.brand, int(f.payment_method)) for f in filters)
        )
        now = self._now()
        gcr = m.GcrRequest(
            amount=amount,
            date=now.strftime("%y%m%d"),
            time=now.strftime("%H%M%S"),
            table_version=tables.version,
            acq_idx=0,
            app_type=99 if filters is None else 0,
            apps=() if filters is None else tuple((r.acquirer, r.record_index) for r in rows),
        )
        raw = yield from self._exchange(gcr.to_command(), blocking=True)
        if raw.status == ST_TABVERDIF:
            # tables changed under us: reload, then a bare GCR resumes (§4.7)
            yield from self._load_tables(tables)
            raw = yield from self._exchange(m.Command("GCR", ()), blocking=True)
        if raw.status != 0:
            raise PinpadError("GCR", raw.status)
        card = m.GcrResponse.from_response(raw)
        self.world.redactor.add_pan(card.pan)
        if card.track2:
            self.world.redactor.add_secret(card.track2)
        if card.track1:
            self.world.redactor.add_secret(card.track1)
        if card.card_type in (m.CARD_MAGSTRIPE, m.CARD_CTLS_MAG):
            return (yield from self._magstripe(card, magstripe_method, key))
        return (yield from self._chip(card, amount, tables, key))

    def _magstripe(
        self, card: m.GcrResponse, method: PaymentMethod, key: tuple[str, rsa.RSAPublicKey]
    ) -> Gen:
        service = card.service_code or _service_code(card.track2)
        needs_pin = method == PaymentMethod.Debit or (len(service) == 3 and service[2] in "056")
        pin_block = ksn = None
        if needs_pin:
            rsp = yield from self._call(
                m.GpnRequest(card.pan, DUKPT_TDES, PIN_KEY_INDEX).to_command(), blocking=True
            )
            pin = m.PinResponse.from_response(rsp)
            self.world.redactor.add_secret(pin.pin_block)
            self.world.redactor.add_secret(pin.pin_block.hex().upper())
            pin_block, ksn = pin.pin_block.hex().upper(), pin.ksn.hex().upper()
        fields = CardFields(
            capture_method="magstripe",
            payment_method="debit_card" if method == PaymentMethod.Debit else "credit_card",
            card_number=card.pan,
            expiration_yymmdd=_expiry(card),
            sequence_number=None,
            track_2=card.track2,
            track_1=card.track1 or None,
            track_3=card.track3 or None,
            holder_name=card.holder_name or None,
            pin_mode="online" if needs_pin else None,
            pin_block=pin_block,
            pin_ksn=ksn,
        )
        result = PaymentResult(
            PaymentStatus.Accepted,
            card_hash=build_card_hash(fields, key[0], key[1], self._rng),
            payment_method=int(method),
            card_holder_name=holder_name_display(card.holder_name),
            is_online_pin=needs_pin,
        )
        return ProcessOutcome(result, fields)

    def _chip(
        self,
        card: m.GcrResponse,
        amount: int,
        tables: TerminalTables,
        key: tuple[str, rsa.RSAPublicKey],
    ) -> Gen:
        goc = m.GocRequest(
            amount=amount,
            tags=AUTHORIZATION_TAGS,
            method=DUKPT_TDES,
            key_idx=PIN_KEY_INDEX,
            risk_management=True,
            floor_limit=tables.floor_limit,
            target_pct=tables.target_percent,
            threshold=tables.threshold,
            max_target_pct=tables.max_target_percent,
        )
        rsp = yield from self._call(goc.to_command(), blocking=True)
        res = m.GocResponse.from_response(rsp)
        self.chip_pending = True
        method = 2 if card.app_type == 2 else 1
        pin_mode = "online" if res.online_pin else ("offline" if res.offline_pin else None)
        if res.online_pin:
            self.world.redactor.add_secret(res.pin_block)
            self.world.redactor.add_secret(res.pin_block.hex().upper())
        fields = CardFields(
            capture_method="emv",
            payment_method="debit_card" if method == 2 else "credit_card",
            card_number=card.pan,
            expiration_yymmdd=_expiry(card),
            sequence_number=card.pan_seq,
            track_2=card.track2,
            track_1=card.track1 or None,
            track_3=card.track3 or None,
            holder_name=card.holder_name or None,
            emv_data=res.emv_data.hex().upper(),
            pin_mode=pin_mode,
            pin_block=res.pin_block.hex().upper() if res.online_pin else None,
            pin_ksn=res.ksn.hex().upper() if res.online_pin else None,
        )
        if res.decision == m.DECISION_DECLINED:
            status = PaymentStatus.Rejected
            digest = None
        else:
            status = PaymentStatus.Accepted
            digest = build_card_hash(fields, key[0], key[1], self._rng)
        result = PaymentResult(
            status,
            card_hash=digest,
            payment_method=method,
            card_holder_name=holder_name_display(card.holder_name),
            is_online_pin=res.online_pin,
        )
        return ProcessOutcome(result, fields, res.decision)

    def finish(self, status: FinishStatus, response_code: int, emv_hex: str) -> Gen:
        """FNC (when a chip is waiting for it) then RMC; pinpad errors go to ``on_error``.

        Returns True when the card declined a sale the host had approved (FNC DECISION 1
        after COMMST 0), so the bridge can tell the POS that the booked sale must go.
        """
        declined_by_card = False
        if self.chip_pending:
            self.chip_pending = False
            if status == FinishStatus.Error:
                req = m.FncRequest(1, "00", b"", FINISH_TAGS)
            else:
                try:
                    issuer = bytes.fromhex(emv_hex) if emv_hex else b""
                except ValueError:
                    issuer = b""
                req = m.FncRequest(int(status), f"{response_code % 100:02d}", issuer, FINISH_TAGS)
            try:
                rsp = yield from self._call(req.to_command())
            except PinpadError as err:
                self.on_error(err.status)
            else:
                decision = _fnc_decision(rsp)
                declined_by_card = (
                    status == FinishStatus.Ok and decision == m.DECISION_DECLINED
                )
        try:
            yield from self._call(m.MessageRequest("RMC", CLEAR_LINE).to_command(), blocking=True)
        except PinpadError as err:
            self.on_error(err.status)
        return declined_by_card

    def display(self, text: str) -> Gen:
        yield from self._call(m.MessageRequest("DSP", text).to_command())

    def close(self, text: str = "") -> Gen:
        yield from self._call(m.MessageRequest("CLO", text).to_command())

    def abort(self) -> Gen:
        """Abort a blocking command (CAN, the pinpad answers EOT); a silent pinpad is
        not an error here, the caller goes on closing regardless."""
        try:
            yield from self.host.cancel()
        except AbecsError:
            pass

    def shutdown(self) -> None:
        if not self.end.is_closed:
            self.end.close()


def _fnc_decision(rsp: m.Response) -> int | None:
    """FNC's DECISION, or None when the answer cannot be read (then nothing is claimed)."""
    try:
        return m.FncResponse.from_response(rsp).decision
    except (m.CodecError, ValueError, IndexError):
        return None


def _service_code(track2: str) -> str:
    _, sep, rest = track2.partition("=")
    return rest[4:7] if sep and len(rest) >= 7 else ""


def _expiry(card: m.GcrResponse) -> str:
    if card.expiry and card.expiry.strip("0"):
        return card.expiry
    _, sep, rest = card.track2.partition("=")
    return (rest[:4] + "31") if sep and len(rest) >= 4 else "000000"
