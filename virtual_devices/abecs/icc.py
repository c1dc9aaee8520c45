"""Chip sessions: the pinpad's bridge from GCR/GOC/FNC to the EMV kernel.

One :class:`KernelChipSession` lives from an ICC GCR to FNC. It builds the kernel's
:class:`TerminalConfig` from the pinpad's loaded tables (candidate AID records of the
GCR and every CAPK), and serves the kernel's requests on the world's clock: APDUs go to
the inserted card (timed by the kernel's reader model), application menus and PINs go
to the customer on the pinpad's keypad, displays to the 2x16 display. Each ABECS
command runs one kernel phase: GCR ``select_and_read``, GOC ``go_on_chip``, FNC
``finish``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime
from functools import lru_cache
from typing import Any

import simpy

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import CANCEL_KEY
from virtual_devices.abecs.device import CardDevice, ChipRead
from virtual_devices.abecs.keys import KeyError_
from virtual_devices.abecs.tables import AidRecord, CapkRecord
from virtual_devices.emv.kernel.serve import serve

Gen = Generator[Any, Any, Any]


def default_chip_factory() -> Callable[..., Any] | None:
    try:
        import virtual_devices.emv.kernel  # noqa: F401
    except ImportError:  # pragma: no cover - the kernel ships with the package
        return None
    return KernelChipSession


@lru_cache(maxsize=256)
def aid_params(rec: AidRecord) -> Any:
    """An ABECS AID record as the kernel's AidParams (the fields map one to one).

    Both are immutable and every transaction of every pinpad of a run converts the same
    few records, so a conversion is remembered.
    """
    from virtual_devices.emv.terminal import AidParams

    versions = tuple(bytes.fromhex(v) for v in rec.app_versions if v.strip("0"))
    return AidParams(
        aid=rec.aid, acq_index=rec.acquirer, rec_index=rec.record_index,
        app_type=rec.app_type, label=rec.label,
        app_versions=versions or (bytes.fromhex(rec.app_versions[0]),),
        country=rec.country, currency=rec.currency, currency_exponent=rec.exponent,
        merchant_id=rec.merchant_id, mcc=rec.mcc, terminal_id=rec.terminal_id,
        capabilities=bytes.fromhex(rec.capabilities),
        additional_capabilities=bytes.fromhex(rec.add_capabilities),
        terminal_type=rec.terminal_type, tac_default=bytes.fromhex(rec.tac_default),
        tac_denial=bytes.fromhex(rec.tac_denial), tac_online=bytes.fromhex(rec.tac_online),
        floor_limit=rec.floor_limit, tcc=rec.tcc, ctls_mode=rec.ctls_mode,
        tdol=bytes.fromhex(rec.tdol), ddol=bytes.fromhex(rec.ddol),
        arc_offline=rec.arc_offline,
        ctls_zero_amount=rec.ctls_zero_amount == "1", ctls_txn_limit=rec.ctls_txn_limit,
        ctls_floor_limit=rec.ctls_floor_limit, ctls_cvm_limit=rec.ctls_cvm_limit,
        ctls_app_version=bytes.fromhex(rec.ctls_app_version),
        ctls_tac_default=_hex(rec.ctls_tac_default), ctls_tac_denial=_hex(rec.ctls_tac_denial),
        ctls_tac_online=_hex(rec.ctls_tac_online),
        ctls_capabilities=_hex(rec.ctls_capabilities), mobile_cvm=rec.mobile_cvm,
        ctls_add_capabilities=_hex(rec.ctls_add_capabilities),
        ctls_mobile_limit=rec.ctls_mobile_limit, ctls_issuer_scripts=rec.ctls_issuer_scripts,
        # §6.8.1.3 (PayPass): "Mag-Stripe mode contactless transactions not supported"
        # when the record is debit (T1_APPTYPE 2, Maestro)
        ctls_magstripe=rec.app_type != 2,
    )


def with_currency(params: Any, currency: int | None) -> Any:
    """An application's parameters with the host's transaction currency (5F2A), if any."""
    from dataclasses import replace

    return params if currency is None else replace(params, currency=currency)


def _hex(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


def capk(rec: CapkRecord) -> Any:
    from virtual_devices.emv.terminal import Capk

    return Capk(rid=rec.rid, index=rec.index, exponent=rec.exponent, modulus=rec.modulus,
                checksum=rec.checksum, acq_index=rec.acquirer, rec_index=rec.record_index)


def _when(date: str, time: str) -> datetime:
    try:
        return datetime.strptime(date + time, "%y%m%d%H%M%S")
    except ValueError:
        return datetime(2000, 1, 1)


def _not_accepted_code(trace: list[Any]) -> int:
    """Why no application could be used, from the card's own answers (§3.1.1):

    - 071 ST_CARDAPPNAUT: an application was selected but GET PROCESSING OPTIONS
      answered 6985 ("conditions of use not satisfied": it cannot be used here);
    - 067 ST_CARDINVALIDAT: every application the card offered answered SELECT with
      6283 ("selected file invalidated", ISO 7816-4);
    - 070 ST_CARDAPPNAV otherwise: nothing in common with the terminal's tables.
    """
    def sw(line: Any) -> bytes:
        return bytes(line.response[-2:])

    if any(line.label.startswith("GET PROCESSING") and sw(line) == b"\x69\x85"
           for line in trace):
        return m.ST_CARDAPPNAUT
    selects = [sw(line) for line in trace
               if line.label.startswith("SELECT ") and not line.label.startswith("SELECT 1PAY")
               and sw(line) in (b"\x90\x00", b"\x62\x83")]
    if selects and all(s == b"\x62\x83" for s in selects):
        return m.ST_CARDINVALIDAT
    return m.ST_CARDAPPNAV


def _gpo_outside_emv(trace: list[Any]) -> bool:
    """The card's last answer was to GET PROCESSING OPTIONS, with a status word other
    than 9000 and 6985 (the two EMV gives a meaning to)."""
    if not trace or not trace[-1].label.startswith("GET PROCESSING"):
        return False
    return bytes(trace[-1].response[-2:]) not in (b"\x90\x00", b"\x69\x85")


def _status_code(status: Any) -> int:
    """Kernel endings as ABECS return codes (§4.4)."""
    from virtual_devices.emv.kernel.messages import Status

    return {
        Status.NOT_ACCEPTED: m.ST_CARDAPPNAV,
        Status.CANCELLED: m.ST_CANCEL,
        Status.CARD_REMOVED: m.ST_CARDPROBLEMS,
        Status.CARD_ERROR: m.ST_CARDINVDATA,
        Status.CARD_BLOCKED: m.ST_CARDBLOCKED,
        Status.FALLBACK: m.ST_ERRFALLBACK,
        Status.INVALID_AMOUNT: m.ST_INVAMOUNT,
    }.get(status, m.ST_CARDPROBLEMS)


class _Stop(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class KernelChipSession:
    def __init__(self, pinpad: CardDevice, card: Any, pool: list[AidRecord],
                 req: m.GcrRequest) -> None:
        from virtual_devices.emv.kernel import ContactKernel, Reader, Txn
        from virtual_devices.emv.terminal import TerminalConfig

        self.pinpad = pinpad
        self.world = pinpad.world
        self.card = card
        config = TerminalConfig(
            aids=tuple(with_currency(aid_params(r), req.currency) for r in pool),
            capks=tuple(capk(c) for c in pinpad.tables.capks()),
            table_version=pinpad.tables.version(req.acq_idx),
            ifd_serial=pinpad.info.serial[-8:],
        )
        self.pool = pool
        self.kernel = ContactKernel(config, Txn(amount=req.amount, when=_when(req.date, req.time)),
                                    self.world.rng("kernel"))
        self.reader = Reader(self.world, port="card")
        self.goc_req: m.GocRequest | None = None
        self.pin_block = bytes(8)
        self.ksn = bytes(10)
        self.online_pin = False
        self.offline_pins_typed = 0  # offline PINs presented to the card in this GOC
        self.powered = False
        self.went_mute = False  # the card answered reset, then stopped answering
        self.notified = ""  # the label last sent in NTM "SELECIONADO:"

    # -- serving the kernel (virtual_devices.emv.kernel.serve) --------------------------
    def apdu(self, request: Any) -> Gen:
        from virtual_devices.emv.kernel.messages import NO_ANSWER

        if self.pinpad.inserted is not self.card:
            return None
        answer = yield from self.reader.transmit(self.card, "contact", request)
        if answer is NO_ANSWER:
            # it answered reset, then fell silent: the kernel ends with a communication error
            self.went_mute = True
        return answer

    def choose_app(self, request: Any) -> Gen:
        from virtual_devices.emv.kernel.messages import CANCEL

        labels = [c.label for c in request.candidates]
        self.pinpad.display.show_lines("SELECIONE:", labels[0] if labels else "")
        # §6.8.1.2: while the menu is up the host is told which option is highlighted,
        # and told again when the cardholder moves to another
        if labels:
            self._notify_selected(labels[0])
        chooser = self.pinpad.chooser
        if chooser is not None:
            choice = yield from chooser(labels)
        else:
            customer = self.pinpad.customer
            yield self.world.timeout(round(customer.rng.uniform(*customer.behaviour.think_s), 3))
            choice = customer.behaviour.app_choice
        if choice is None:
            return CANCEL
        index = min(choice, len(labels) - 1)
        if index != 0:
            self.pinpad.display.show_lines("SELECIONE:", labels[index])
            self._notify_selected(labels[index])
        return index

    def _notify_selected(self, label: str) -> None:
        """NTM_MSG on two lines of 16 (§2.3.3): "SELECIONADO:" above, the label below."""
        self.notified = label
        self.pinpad.notify("SELECIONADO:".ljust(16) + label[:16])

    def enter_pin(self, request: Any) -> Gen:
        from virtual_devices.emv.kernel.messages import CANCEL

        answer = yield from self._pin(request)
        return CANCEL if answer is CANCEL_KEY else answer

    def display(self, request: Any) -> Gen:
        if request.message in ("TRY AGAIN", "NOT ACCEPTED"):
            # the application was refused; ABECS tells the host (§4.7)
            self.pinpad.notify("APLICACAO INVALIDA")
        else:
            self.pinpad.display.show(request.message)
        return None
        yield  # pragma: no cover

    def go_online(self, request: Any) -> Gen:
        return None  # never reached: GOC and FNC run as separate phases
        yield  # pragma: no cover

    def _pin(self, request: Any) -> Gen:
        if request.last_wrong:
            self.pinpad.notify("SENHA INVALIDA")
        self.pinpad.pin_kind = "online" if request.kind == "online" else "offline"
        got = yield from self.pinpad.pin_entry(4, 12, self.kernel.txn.amount, bypass=True)
        if isinstance(got, int):
            raise _Stop(got)
        if got == "":
            return None  # bypassed: the kernel records "PIN not entered" and goes on
        if request.kind != "online":
            self.offline_pins_typed += 1
        if request.kind == "online":
            assert self.goc_req is not None
            req = self.goc_req
            try:
                self.pin_block, self.ksn = self.pinpad.encrypt_pin(
                    req.method, req.key_idx, req.working_key, got, self.kernel.card.pan)
            except KeyError_:
                raise _Stop(m.ST_ERRKEY) from None
            self.online_pin = True
        self.world.redactor.add_secret(got.encode())
        return got

    def _run(self, phase: Gen) -> Gen:
        from virtual_devices.emv.kernel import KernelStop
        from virtual_devices.emv.kernel.messages import Status

        try:
            return (yield from serve(phase, self))
        except KernelStop as stop:
            self.world.transcript.event("pinpad", f"kernel: {stop.status.value}: {stop.reason}")
            if self.went_mute:
                # 061 ST_ERRCARD "ICC/CTLS comm error", not 060 ST_DUMBCARD "ICC mute":
                # a pinpad reports 060 when the chip gives no ATR (here that is 076, the
                # fallback-able chip failure); a chip that answered reset and then timed
                # out mid-dialogue is a communication error on a working contact.
                return m.ST_ERRCARD
            if stop.status == Status.NOT_ACCEPTED:
                return _not_accepted_code(self.kernel.trace)
            if stop.status == Status.CARD_ERROR and _gpo_outside_emv(self.kernel.trace):
                # §6.8.1.2: a GPO status word whose handling EMV does not define is the
                # error a chip failure allows falling back to the stripe for
                return m.ST_ERRFALLBACK
            return _status_code(stop.status)
        except _Stop as stop:
            phase.close()
            return stop.code
        except simpy.Interrupt:
            phase.close()
            raise

    # -- the three ABECS phases ---------------------------------------------------------
    def read(self) -> Gen:
        try:
            atr = self.card.power_on("contact")
        except Exception as exc:  # noqa: BLE001 - mute chip: fallback to the stripe
            self.world.transcript.event("card", f"no ATR: {exc}")
            return m.ST_ERRFALLBACK
        self.powered = True
        self.world.transcript.record("card", "rx", atr, "ATR")
        got = yield from self._run(self.kernel.select_and_read())
        if isinstance(got, int):
            return got
        k = self.kernel
        assert k.selected is not None
        label = k.selected.label or (k.app.label if k.app else "")
        if label != self.notified:  # the kernel chose: tell the host now
            self._notify_selected(label)
        else:  # the menu already told the host; the display keeps the choice (§6.8.1.2)
            self.pinpad.display.show("SELECIONADO:".ljust(16) + label[:16])
        tags = k.card.tags
        rec = next((r for r in self.pool if k.app is not None and r.aid == k.app.aid), self.pool[0])
        track2 = tags.get(0x57, b"").hex().upper().rstrip("F").replace("D", "=")
        name = tags.get(0x5F20, b"").decode("latin-1", "replace").strip()
        return ChipRead(
            record=rec, track2=track2, pan=k.card.pan, pan_seq=int(k.card.psn or "0"),
            app_label=label[:16], service_code=tags.get(0x5F30, b"\x00\x00").hex()[-3:],
            holder_name=name, expiry=tags.get(0x5F24, b"\x00\x00\x00").hex(),
            issuer_country=tags.get(0x5F28, b"\x00\x00").hex()[-3:],
            aid=k.selected.aid,
        )

    def go_on_chip(self, req: m.GocRequest) -> Gen:
        from dataclasses import replace

        from virtual_devices.emv.kernel import GocParams

        self.goc_req = req
        self.kernel.txn = replace(self.kernel.txn, amount=req.amount, other_amount=req.cashback)
        params = GocParams(
            exception_file=req.blacklisted, force_online=req.force_online,
            risk_management=req.risk_management, floor_limit=req.floor_limit,
            target_percent=req.target_pct, threshold=req.threshold,
            max_percent=req.max_target_pct,
        )
        self.pinpad.display.show("PROCESSANDO...")
        decision = yield from self._run(self.kernel.go_on_chip(params))
        if isinstance(decision, int) and decision > 2:
            return decision
        k = self.kernel
        cvm = k.cvm or ""
        offline_pin = "offline" in cvm and "pin" in cvm
        return m.GocResponse(
            decision=decision, signature=bool(k.signature), offline_pin=offline_pin,
            # every offline PIN typed was wrong but the one that verified, if one did
            wrong_offline_pins=self.offline_pins_typed - int(offline_pin),
            pin_blocked="blocked" in cvm,
            online_pin=self.online_pin, pin_block=self.pin_block, ksn=self.ksn,
            emv_data=k.requested_tags(list(req.tags) + list(req.tags2)),
        )

    def finish(self, req: m.FncRequest) -> Gen:
        from virtual_devices.emv import tlv
        from virtual_devices.emv.kernel import IssuerResponse

        response = None
        if req.comm_status != 1:
            items = tlv.decode(req.issuer_data) if req.issuer_data else []
            s71 = tuple(i.to_bytes() for i in items if i.tag == 0x71)
            s72 = tuple(i.to_bytes() for i in items if i.tag == 0x72)
            iad = next((i.value for i in items if i.tag == 0x91), None)
            response = IssuerResponse(arc=req.arc, issuer_auth_data=iad,
                                      scripts_71=s71, scripts_72=s72)
        self.pinpad.display.show("PROCESSANDO...")
        outcome = yield from self._run(self.kernel.finish(response))
        if isinstance(outcome, int):
            return outcome
        if outcome.approved:
            decision = 0
        elif response is not None and not response.approved:
            decision = 2  # declined by the network (issuer)
        else:
            decision = 1  # declined by the card
        k = self.kernel
        return m.FncResponse(decision, k.requested_tags(list(req.tags)),
                             bytes(k.script_results))

    def change_parameters(self, data: bytes) -> None:
        """CNG: new transaction data for the kernel between GCR and GOC.

        Amount (9F02), other amount (9F03), transaction type (9C) and transaction
        currency (5F2A, which then replaces T1_TRNCURR for the application selected) are
        taken; GOC's own AMOUNT and CASHBACK then set the final amounts (the spec carries
        them in GOC so a host may change them after GCR). Other tags are terminal
        constants here.
        """
        from dataclasses import replace

        from virtual_devices.emv import tlv

        txn = self.kernel.txn
        for item in tlv.decode(data):
            if item.tag == 0x9F02:
                txn = replace(txn, amount=int(item.value.hex()))
            elif item.tag == 0x9F03:
                txn = replace(txn, other_amount=int(item.value.hex()))
            elif item.tag == 0x9C and len(item.value) == 1:
                txn = replace(txn, type=item.value[0])
            elif item.tag == 0x5F2A and len(item.value) == 2 and item.value.hex().isdigit():
                if self.kernel.app is not None:
                    self.kernel.app = with_currency(self.kernel.app, int(item.value.hex()))
        self.kernel.txn = txn
