"""What the bridge does with a pinpad: the libmpos flows of mpos-bridge.md §3.3 and §5.

One :class:`PinpadSession` per initialized context runs the terminal application
(:class:`virtual_devices.terminal.Terminal`) over the serial line; this module keeps
only the libmpos mapping. Each method is a SimPy generator: initialize (OPN), table
sync (GDU probe, then the terminal's GTS, TLI/TLR.../TLE), process (the terminal's
split step one, then the card_hash), finish (its split step two: FNC then RMC),
display (DSP), close (CLO) and cancel (CAN).

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
* GCR's date and time come from the world's clock on the simulation's fixed calendar
  (the terminal application's :data:`~virtual_devices.terminal.SIM_EPOCH`, shared with
  the other servers' card readers), so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
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
from simulator.timings import load_timings
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.host import AbecsError
from virtual_devices.terminal import (
    SIM_EPOCH,
    HostAnswer,
    Processed,
    Settings,
    Tables,
    Terminal,
)

if TYPE_CHECKING:
    from simulator.streams import ByteEnd
    from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]

DUKPT_TDES, PIN_KEY_INDEX = 3, 16
ST_CANCEL = 13
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
        self.terminal = Terminal(world, self.host, settings=_SETTINGS)
        self.on_error = on_error or (lambda code: None)
        self._rng = world.rng(f"mpos-bridge.card-hash.{end.name}")

    def _call(self, cmd: m.Command) -> Gen:
        try:
            return (yield from self.host.call(cmd))
        except AbecsError as err:
            raise PinpadError(err.command or cmd.cmd_id, err.code) from None

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
        try:
            return (yield from self.terminal.ensure_tables(_tables(tables), force))
        except AbecsError as err:
            raise PinpadError(err.command, err.code) from None

    def process_payment(
        self,
        amount: int,
        filters: tuple[ApplicationFilter, ...] | None,
        magstripe_method: PaymentMethod,
        tables: TerminalTables,
        card_hash_key: tuple[str, rsa.RSAPublicKey],
    ) -> Gen:
        term = self.terminal
        term.chip_pending = False
        # the acquirer's PIN keys come with its tables (TMS acquirers[], §3.5), as
        # libmpos's mpos_acquirer_data {cryptography_method, key_index, session_key}
        term.settings = replace(_SETTINGS, floor_limit=tables.floor_limit,
                                target_pct=tables.target_percent, threshold=tables.threshold,
                                max_target_pct=tables.max_target_percent,
                                pin_method=tables.pin_method, pin_key=tables.pin_key,
                                working_key=tables.working_key)
        rows = tables.select(
            None if filters is None else tuple((f.brand, int(f.payment_method)) for f in filters)
        )

        def wants_pin(card: m.GcrResponse) -> bool:
            """Debit, or a service code that says PIN (third digit 0, 5 or 6); a tap in
            mag-stripe mode (05) also over its record's contactless CVM limit."""
            service = card.service_code or _service_code(card.track2)
            if card.card_type == m.CARD_CTLS_MAG:
                # GCR leaves the service code zero for type 05 (§6.8.1.3): the track has it
                service = _service_code(card.track2)
                limit = _ctls_cvm_limit(tables, card)
                if limit is not None and amount > limit:
                    return True
            return magstripe_method == PaymentMethod.Debit or (
                len(service) == 3 and service[2] in "056")

        try:
            done = yield from term.process(
                amount, _tables(tables), app_type=99 if filters is None else 0,
                apps=() if filters is None else tuple((r.acquirer, r.record_index) for r in rows),
                stripe_pin=wants_pin,
            )
        except AbecsError as err:
            status = PaymentStatus.Canceled if err.code == ST_CANCEL else PaymentStatus.Errored
            self.on_error(err.code)
            return ProcessOutcome(PaymentResult(status, error_code=err.code))
        if not done.chip:
            return self._magstripe(done, magstripe_method, card_hash_key)
        return self._chip(done, card_hash_key)

    def _magstripe(
        self, done: Processed, method: PaymentMethod, key: tuple[str, rsa.RSAPublicKey]
    ) -> ProcessOutcome:
        card, pin = done.card, done.pin
        fields = CardFields(
            capture_method="magstripe",
            payment_method="debit_card" if method == PaymentMethod.Debit else "credit_card",
            card_number=card.pan,
            expiration_yymmdd=_expiry(card),
            sequence_number=None,
            track_2=card.track2,
            track_1=_present(card.track1),
            track_3=_present(card.track3),
            holder_name=card.holder_name or None,
            pin_mode="online" if pin is not None else None,
            pin_block=pin.pin_block.hex().upper() if pin is not None else None,
            pin_ksn=pin.ksn.hex().upper() if pin is not None else None,
            entry_mode=done.entry_mode,
        )
        result = PaymentResult(
            PaymentStatus.Accepted,
            card_hash=build_card_hash(fields, key[0], key[1], self._rng),
            payment_method=int(method),
            card_holder_name=holder_name_display(card.holder_name),
            is_online_pin=pin is not None,
        )
        return ProcessOutcome(result, fields)

    def _chip(self, done: Processed, key: tuple[str, rsa.RSAPublicKey]) -> ProcessOutcome:
        card, res = done.card, done.goc
        assert res is not None
        method = 2 if card.app_type == 2 else 1
        pin_mode = "online" if res.online_pin else ("offline" if res.offline_pin else None)
        fields = CardFields(
            capture_method="emv",
            payment_method="debit_card" if method == 2 else "credit_card",
            card_number=card.pan,
            expiration_yymmdd=_expiry(card),
            sequence_number=card.pan_seq,
            track_2=card.track2,
            track_1=_present(card.track1),
            track_3=_present(card.track3),
            holder_name=card.holder_name or None,
            emv_data=res.emv_data.hex().upper(),
            pin_mode=pin_mode,
            pin_block=res.pin_block.hex().upper() if res.online_pin else None,
            pin_ksn=res.ksn.hex().upper() if res.online_pin else None,
            entry_mode=done.entry_mode,
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
        try:
            issuer = bytes.fromhex(emv_hex) if emv_hex else b""
        except ValueError:
            issuer = b""
        answer = HostAnswer(int(status), f"{response_code % 100:02d}", issuer)
        done = yield from self.terminal.finish(answer)
        for err in done.errors:
            self.on_error(err.code)
        return done.declined_by_card

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


# How libmpos words its commands (§3.5): the TMS tag lists, DUKPT:TDES key 16, risk
# management on; a 076 is reported to the POS rather than retried; RMC clears the
# display whatever the outcome.
_SETTINGS = Settings(goc_tags=AUTHORIZATION_TAGS, fnc_tags=FINISH_TAGS, pin_method=DUKPT_TDES,
                     pin_key=PIN_KEY_INDEX, risk_management=True, floor_limit=0,
                     approved_text=None, declined_text=None, removal_text=CLEAR_LINE,
                     retry_after_fallback=False, epoch=SIM_EPOCH)


def _tables(tables: TerminalTables) -> Tables:
    return Tables(tables.version, tuple(tables.records), tables.acquirer_index)


def _ctls_cvm_limit(tables: TerminalTables, card: m.GcrResponse) -> int | None:
    """T1_CTLSCVMLIM of the AID record GCR named (None: no such record, no limit known)."""
    from virtual_devices.abecs.tables import AidRecord, decode_record

    for raw in tables.records:
        try:
            rec = decode_record(raw)
        except (m.CodecError, ValueError):
            continue
        if (isinstance(rec, AidRecord) and rec.acquirer == card.acq_idx
                and rec.record_index == card.rec_idx):
            return rec.ctls_cvm_limit
    return None


def _service_code(track2: str) -> str:
    """The three digits after ``PAN=YYMM`` (ISO 7813); shorter when the track is cut
    short, which ``wants_pin`` reads as no service code (it needs all three)."""
    return track2.partition("=")[2][4:7]


def _present(track: str) -> str | None:
    """A track GCR left blank (TRKnLEN 00) is absent from the card_hash (§3.4)."""
    return track or None


def _expiry(card: m.GcrResponse) -> str:
    if card.expiry and card.expiry.strip("0"):
        return card.expiry
    # the month's last day is never read: the card_hash writes MMYY (§3.4)
    yymm = card.track2.partition("=")[2][:4]
    return yymm + "31" if len(yymm) == 4 else "000000"
