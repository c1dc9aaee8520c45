"""The contactless card session: one tap read whole in GCR, reported by GOC and FNC.

ABECS 2.12 §6.8.1.3 processes a contactless card entirely inside the card-read
command: the card is in the field for a fraction of a second, so selection, GPO, the
records, the CVM decision and the cryptogram all happen before GCR answers (type
``06``, CTLS EMV). GOC (§6.8.4.2) only reports that decision and, when the kernel
asked for an online PIN, captures it then, under the key GOC names; it refuses an
amount different from the one the card saw (ST_INVPARM). FNC (§6.8.5.4) echoes the
host's decision and never talks to the card.

The session lives in the pinpad's card slot like the contact one, so both command
families (GCR/GOC/FNC and the parameter-tagged GCX/GOX/FCX) drive the same code.

Kernel endings map onto the contactless return codes of §3.1.1 as §6.8.1.3 lists
them (see :func:`ctls_status`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.device import CardDevice, ChipRead
from virtual_devices.abecs.icc import Gen, KernelChipSession, _Stop
from virtual_devices.abecs.keys import KeyError_
from virtual_devices.abecs.tables import AidRecord
from virtual_devices.emv.kernel.serve import serve

if TYPE_CHECKING:
    from virtual_devices.emv.kernel.contactless import ContactlessKernel

# What the kernel is handed for the PIN while the card is in the field: the kernel
# only records that an online PIN is wanted; GOC prompts for it (§6.8.4.2).
PIN_IN_GOC = "pin-captured-in-goc"

# SELECT answers that mean "application invalidated" (§6.8.1.3: ST_CTLSINVALIDAT)
_INVALIDATED_SW = ("6A81", "6283")


# "Present the card again" for issuer update processing, by the card's language
# (ABECS 2.12 §6.9.4.4, chosen as for the PIN screens of §6.8.6.1). The specification
# writes three lines ("POR FAVOR / REAPROXIME O / CARTÃO"); a 2x16 display keeps the
# request itself and drops the courtesy word, as the texts would not fit otherwise.
_AGAIN = {
    "pt": ("REAPROXIME O", "CARTAO"),
    "en": ("PRESENT CARD", "AGAIN"),
    "es": ("ACERQUE TARJETA", "NUEVAMENTE"),
}


def _language(pref: bytes) -> str:
    """The first of pt/en/es in Language Preference (5F2D); Portuguese otherwise."""
    text = pref.decode("ascii", "replace").lower()
    for i in range(0, len(text) - 1, 2):
        if text[i : i + 2] in _AGAIN:
            return text[i : i + 2]
    return "pt"


def _never(world: Any) -> Gen:
    yield world.event()  # a cardholder who does not tap again: only the timer ends it


def ctls_status(status: Any, reason: str, mobile_cvm: bool) -> int:
    """A contactless kernel ending as the ABECS return code §6.8.1.3 gives for it."""
    from virtual_devices.emv.kernel.messages import Status

    if status == Status.COLLISION:
        return m.ST_CTLSMULTIPLE
    if status == Status.SEE_PHONE:
        # "Try Again" for on-device CVM: 086 when the AID allows mobile CVM; 081 keeps
        # an old host that does not know 086 working (footnote 2 of §6.8.1.3)
        return m.ST_CTLSEXTCVM if mobile_cvm else m.ST_CTLSCOMMERR
    if status == Status.CANCELLED:
        return m.ST_CANCEL
    if any(f"answered {sw}" in reason for sw in _INVALIDATED_SW) and "SELECT" in reason:
        return m.ST_CTLSINVALIDAT
    if "GPO answered 6985" in reason:
        return m.ST_CTLSAPPNAUT
    if status == Status.NOT_ACCEPTED or "no contactless application" in reason:
        return m.ST_CTLSAPPNAV
    if status in (Status.TRY_ANOTHER_INTERFACE, Status.INSERT_CARD):
        return m.ST_CTLSIFCHG
    return m.ST_CTLSPROBLEMS


class ContactlessSession(KernelChipSession):
    """The chip session of a tapped card (same services as the contact one)."""

    interface = "contactless"

    def __init__(self, pinpad: CardDevice, card: Any, pool: list[AidRecord],
                 req: m.GcrRequest) -> None:
        from virtual_devices.emv.kernel import ContactlessKernel

        super().__init__(pinpad, card, pool, req)
        self.tap: ContactlessKernel = ContactlessKernel(self.kernel.config, self.kernel.txn,
                                                        self.world.rng("kernel"))
        self.kernel = self.tap
        self.gcr_amount = req.amount
        self.decision = -1
        self.pin_wanted = False

    # -- serving the kernel while the card is in the field ------------------------------
    def apdu(self, request: Any) -> Gen:
        from virtual_devices.emv.kernel.messages import NO_ANSWER

        answer = yield from self.reader.transmit(self.card, "contactless", request)
        if answer is NO_ANSWER or answer is None:
            self.went_mute = True
        return answer

    def enter_pin(self, request: Any) -> Gen:
        self.pin_wanted = True
        return PIN_IN_GOC
        yield  # pragma: no cover

    def _run(self, phase: Gen) -> Gen:
        from virtual_devices.emv.kernel import KernelStop

        try:
            return (yield from serve(phase, self))
        except KernelStop as stop:
            self.world.transcript.event("pinpad", f"kernel: {stop.status.value}: {stop.reason}")
            if self.went_mute:
                return m.ST_CTLSCOMMERR
            app = self.kernel.app
            mobile = bool(app.mobile_cvm) if app is not None else any(
                r.mobile_cvm for r in self.pool)
            return ctls_status(stop.status, stop.reason, mobile)
        except _Stop as stop:
            phase.close()
            return stop.code

    # -- GCR: the whole tap ----------------------------------------------------------------
    def read(self) -> Gen:
        from virtual_devices.emv.kernel import GocParams

        holder = self.pinpad.customer
        field = holder.in_field(self.card) if hasattr(holder, "in_field") else self.card
        yield self.world.timeout(self.pinpad.t["ctls_activation"])
        try:
            if hasattr(field, "activate"):
                self.card, ats = field.activate()
            else:
                ats = field.power_on("contactless")
        except Exception as exc:  # noqa: BLE001 - what the antenna saw, as a status
            self.world.transcript.event("card", f"no contactless answer: {exc}")
            if type(exc).__name__ == "Collision":
                return m.ST_CTLSMULTIPLE
            return m.ST_CTLSCOMMERR
        self.powered = True
        self.world.transcript.record("card", "rx", ats, "ATS")
        got = yield from self._run(self.kernel.select_and_read())
        if isinstance(got, int):
            return got
        decision = yield from self._run(self.kernel.go_on_chip(GocParams()))
        if isinstance(decision, int) and decision > 2:
            return decision
        self.decision = int(decision)
        self.card.power_off()  # the card has left the field
        k = self.kernel
        assert k.selected is not None
        label = k.selected.label or (k.app.label if k.app else "")
        # the same two-line NTM layout as the contact path (§2.3.3)
        self.pinpad.notify("SELECIONADO:".ljust(16) + label[:16])
        tags = k.card.tags
        rec = next((r for r in self.pool if k.app is not None and r.aid == k.app.aid), self.pool[0])
        if self.tap.mode == "magstripe":
            # "CTLS simulando tarja" (type 05): the tracks as the brand builds them, the
            # label; every other field zeros or blanks (§6.8.1.3 "Dados de Saída")
            tap = self.tap
            self.world.redactor.add_secret(tap.ms_track2.encode())
            if tap.ms_track1:
                self.world.redactor.add_secret(tap.ms_track1.encode())
            return ChipRead(
                record=rec, track2=tap.ms_track2, pan="", pan_seq=0, app_label=label[:16],
                service_code="000", holder_name="", expiry="000000", issuer_country="000",
                aid=k.selected.aid, card_type=m.CARD_CTLS_MAG, track1=tap.ms_track1,
            )
        raw2 = tags.get(0x57) or tags.get(0x9F6B) or b""
        track2 = raw2.hex().upper().rstrip("F").replace("D", "=")
        name = tags.get(0x5F20, b"").decode("latin-1", "replace").strip()
        return ChipRead(
            record=rec, track2=track2, pan=k.card.pan, pan_seq=int(k.card.psn or "0"),
            app_label=label[:16], service_code=tags.get(0x5F30, b"\x00\x00").hex()[-3:],
            holder_name=name, expiry=tags.get(0x5F24, b"\x00\x00\x00").hex(),
            issuer_country=tags.get(0x5F28, b"\x00\x00").hex()[-3:],
            aid=k.selected.aid, card_type=m.CARD_CTLS_EMV,
        )

    # -- GOC: report, and the online PIN when the kernel wanted one ------------------------
    def go_on_chip(self, req: m.GocRequest) -> Gen:
        if self.tap.mode == "magstripe":
            return m.ST_INVCALL  # GOC/GOX continue types 03 and 06 only (§6.9.3)
        if req.amount != self.gcr_amount:
            return m.ST_INVPARM  # the card already signed the GCR amount (§6.8.4.2)
        self.goc_req = req
        if self.pin_wanted:
            if not self.pinpad.key_store.has_pin_key(req.method, req.key_idx):
                return m.ST_ERRKEY
            self.pinpad.pin_kind = "online"
            got = yield from self.pinpad.pin_entry(4, 12, self.gcr_amount)
            if isinstance(got, int):
                return got
            try:
                self.pin_block, self.ksn = self.pinpad.encrypt_pin(
                    req.method, req.key_idx, req.working_key, got, self.kernel.card.pan)
            except KeyError_:
                return m.ST_ERRKEY
            self.online_pin = True
            self.kernel.online_pin = None  # the kernel never holds the digits
        k = self.kernel
        return m.GocResponse(
            decision=self.decision, signature=bool(k.signature), offline_pin=False,
            wrong_offline_pins=0, pin_blocked=False, online_pin=self.online_pin,
            pin_block=self.pin_block, ksn=self.ksn,
            emv_data=k.requested_tags(list(req.tags) + list(req.tags2)),
        )

    # -- FNC: the host's decision, echoed ----------------------------------------------------
    def finish(self, req: m.FncRequest) -> Gen:
        """§6.8.5.4: 0 if COMMST > 1 or ARC "00"; 1 if the host was unreachable;
        2 if the host declined. No card, no EMV data, no script results."""
        from virtual_devices.emv.kernel import IssuerResponse

        if req.comm_status == 1:
            decision, response = 1, None
        elif req.comm_status > 1 or req.arc == "00":
            decision, response = 0, IssuerResponse(arc="00")
        else:
            decision, response = 2, IssuerResponse(arc=req.arc)
        if self.decision == 2:
            yield from self._run(self.kernel.finish(response))  # the kernel's outcome
        else:
            decision = self.decision  # finished offline in GCR: FNC only confirms it
        if req.via_fcx and req.issuer_data and self.tap.can_update():
            yield from self._issuer_update(req)
            return m.FncResponse(decision, b"", bytes(self.kernel.script_results))
        return m.FncResponse(decision, b"", b"")

    # -- FCX: issuer scripts on a second tap (§6.9.4.4) -------------------------------------
    def _issuer_update(self, req: m.FncRequest) -> Gen:
        """Ask for the card again and run the issuer's scripts on it.

        Maintenance only: whatever happens (no tap, cancel, a card error) FCX still
        answers ST_OK with the host's decision; script results only when scripts ran.
        """
        from virtual_devices.emv import tlv
        from virtual_devices.emv.kernel import IssuerResponse

        try:
            items = tlv.decode(req.issuer_data)
        except tlv.TLVError:
            return
        issuer = IssuerResponse(
            arc=req.arc, issuer_auth_data=next((i.value for i in items if i.tag == 0x91), None),
            scripts_71=tuple(tlv.encode(0x71, i.value) for i in items if i.tag == 0x71),
            scripts_72=tuple(tlv.encode(0x72, i.value) for i in items if i.tag == 0x72),
        )
        pinpad, slot = self.pinpad, self.pinpad.slot
        lines = _AGAIN.get(_language(self.kernel.card.tags.get(0x5F2D, b"")), _AGAIN["pt"])
        pinpad.display.show_lines(*lines)
        pinpad.notify("SOLICITE CARTAO NOVAMENTE")
        holder = pinpad.customer
        follows = getattr(getattr(holder, "behaviour", None), "follow_prompts", True)
        acting = pinpad.act(holder.present_card(pinpad) if follows else _never(self.world))
        wait = req.card_wait if req.card_wait else pinpad.t["ctls_wait"]
        slot.antenna_on = True
        try:
            yield self.world.any_of([acting, self.world.timeout(wait)])
        except simpy.Interrupt:
            if acting.is_alive:
                acting.interrupt("aborted")
            raise
        finally:
            slot.antenna_on = False
            pinpad.display.clear()
        if not acting.triggered:
            acting.interrupt("timeout")
            return
        got = acting.value
        if not isinstance(got, tuple) or got[1] != "tap":
            return  # cancelled, or the card was not tapped: nothing for the card
        card = got[0]
        field = holder.in_field(card) if hasattr(holder, "in_field") else card
        yield self.world.timeout(pinpad.t["ctls_activation"])
        try:
            if hasattr(field, "activate"):
                self.card, _ = field.activate()
            else:
                field.power_on("contactless")
                self.card = field
        except Exception as exc:  # noqa: BLE001 - what the antenna saw
            self.world.transcript.event("card", f"no contactless answer: {exc}")
            return
        self.went_mute = False
        yield from self._run(self.tap.issuer_update(issuer))
        self.card.power_off()

