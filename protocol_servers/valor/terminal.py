"""The terminal's behaviour: what a Valor terminal does with each request, on the world clock.

One :class:`ValorTerminal` serves every connection of both roles and all transports (a
connection is a :class:`~protocol_servers.valor.link.Link`). It owns the STAN and the
charge-slip numbers, the open batch, the records a status query (TRAN_MODE 90) reads,
and the card path. One transaction runs at a time, as on a terminal with one card
slot; a second request meanwhile is refused with "PROCESSING ERROR" (§A.7).

Handlers are registered per (TRAN_MODE group, TRAN_CODE) with :func:`handles`; the
exchange around them (ACK, "Payload Request Received" with the STAN, the final frame,
the fault knobs of §A.9) is :meth:`ValorTerminal._run` and is the same for all of them.

Choices where the note is silent, made here:

* a request that fails validation gets its ACK and then a final ``STATE -1`` frame
  without a STAN frame (nothing was started, so there is nothing to recover);
* a status query (90) is ACKed and answered with the record's final frame as it was
  (or would have been) sent; a transaction still running answers ``STATE -2``;
* a cancel (99) gets one frame and no ACK; before the card is read it clears the sale
  (``STATE -2`` and "TRANSACTION CLEARED SUCCESSFULLY"), after it it changes nothing;
* a socket lost mid-transaction does not stop it: the card is in the terminal, so the
  transaction runs to its end and its record answers the POS's status query.
"""

from __future__ import annotations

import tomllib
from collections import OrderedDict, deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.valor import dictionary as d
from protocol_servers.valor.card import ENTRY_FIELDS, EPOCH, CardOutcome, CardPath
from protocol_servers.valor.conduct import Conduct
from simulator.timings import Timings, load_timings
from simulator.world import World

if TYPE_CHECKING:
    from protocol_servers.valor.link import Link

Gen = Generator[simpy.Event, Any, Any]
PROFILES = ("local", "cloud")
#: the fault knobs of §A.9 (role is a start option, not a knob)
KNOBS = {
    "no_ack": "the next request is never ACKed and never runs (it did not land)",
    "drop_after_stan": "close the POS's socket right after the 'Payload Request Received' frame",
    "final_indeterminate": "the next final frame says STATE -2 (the record keeps the truth)",
    "slow_final": "hold the next final frame back (timings: slow_final)",
    "hold_card": "the cardholder keeps the card back, so a cancel on 5001 clears the sale",
    "cancel_state_only": "answer a successful cancel with STATE -2 only, no ERROR_MSG",
    "ping_with_data": "answer the 96 ping with ACK and a data frame (real VP terminals: ACK only)",
    "foreign_final": "send a stray final frame with another REQ_TXN_ID before the real one",
    "strict_stx": "accept only STX/ETX-framed requests on TCP (switch, stays until cleared)",
    "bare_replies": "answer every TCP request with bare JSON, whatever its framing (switch)",
}
SWITCHES = ("strict_stx", "bare_replies")
#: our choice: the transactions a status query (TRAN_MODE 90) can still find by STAN. A
#: real terminal keeps a bounded journal; a thousand covers any POS's recovery (it asks
#: within seconds of losing the socket) and a whole day's batch of a busy counter.
JOURNAL = 1000
#: the prompts kept for the control API's state and the cases (the transcript has all)
SCREEN_LINES = 50


def _data(name: str) -> dict[str, Any]:
    text = resources.files("protocol_servers.valor").joinpath(name).read_text("utf-8")
    return tomllib.loads(text)


@dataclass
class Outcomes:
    """Test amounts the terminal itself decides (partial approval, indeterminate final)."""

    partial: dict[int, int]
    indeterminate: set[int]
    tip_percents: tuple[int, ...]

    @classmethod
    def load(cls) -> Outcomes:
        raw = _data("outcomes.toml")
        return cls({int(p["amount"]): int(p["approved"]) for p in raw.get("partial", [])},
                   {int(p["amount"]) for p in raw.get("indeterminate", [])},
                   tuple(int(x) for x in raw["tip"]["percents"]))


@dataclass
class Record:
    """One transaction as the terminal keeps it (what TRAN_MODE 90 reads back)."""

    stan: str
    tran_no: str
    batch_no: str
    kind: str  # sale | preauth | capture | refund | cash | cash-refund | void | ...
    mode: str
    req_txn_id: str
    amount: int = 0
    tip: int = 0
    status: str = "running"  # running | approved | declined | cancelled | voided
    final: dict[str, str] | None = None
    acquirer_ref: str = ""
    last4: str = ""
    card: CardOutcome | None = None
    parent: str = ""  # TRAN_NO of the original (void, ticket, tip adjust)
    completed: bool = False  # a pre-auth that a ticket captured

    @property
    def live(self) -> bool:
        return self.status == "approved"


Handler = Callable[["ValorTerminal", "Job"], Gen]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(modes: str, *codes: str) -> Callable[[Handler], Handler]:
    """Register a handler for TRAN_CODEs under the given TRAN_MODEs ("12" = modes 1 and 2)."""
    def deco(fn: Handler) -> Handler:
        for mode in modes.split(","):
            for code in codes:
                HANDLERS[(mode, code)] = fn
        return fn
    return deco


class Refusal(Exception):
    """A request the terminal refuses with STATE -1 and one of the §A.7 texts."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Job:
    """A request being worked on: who asked, how to answer, and its record once it has one."""

    link: Link
    request: d.Request
    style: str
    record: Record | None = None
    frame: dict[str, str] = field(default_factory=dict)  # the final frame being built
    proc: simpy.Process | None = None
    money_at: int = 0  # the grading's money-request count right after this request came


# Rule switches (``local+no-busy-rule``): each turns off one rule a vendor's terminal
# often gets wrong, so the suite's own tests can show that the case named for the rule
# notices. ``no-busy-rule`` starts a second request while one runs instead of refusing it
# (§A.7 "PROCESSING ERROR"); ``late-cancel`` answers a cancel that came after the card
# was read with CLEARED although the sale goes on (§A.4).
RULE_SWITCHES = ("no-busy-rule", "late-cancel")


def split_profile(spec: str) -> tuple[str, frozenset[str]]:
    """``"local+no-busy-rule"`` -> ("local", {"no-busy-rule"}); unknown names are errors."""
    base, *switches = spec.split("+")
    if base not in PROFILES:
        raise ValueError(f"unknown profile {base!r}; have {PROFILES}")
    unknown = [s for s in switches if s not in RULE_SWITCHES]
    if unknown:
        raise ValueError(f"unknown rule switch(es) {unknown}; known: {list(RULE_SWITCHES)}")
    return base, frozenset(switches)


class ValorTerminal:
    def __init__(self, world: World, acquirer: Any = None, profile: str = "local",
                 cards: tuple[str, ...] = ("visa-chip-pin",), timings: Timings | None = None,
                 customer: dict[str, Any] | None = None) -> None:
        from virtual_devices.acquirer import AcquirerHost

        profile, self.switches = split_profile(profile)
        self.world = world
        self.profile = profile
        self.acquirer = acquirer if acquirer is not None else AcquirerHost()
        self.t = timings or load_timings("protocol_servers.valor")
        self.outcomes = Outcomes.load()
        self.card = CardPath(world, self.acquirer, cards, customer)
        self.identity = {"EPI": "2000000001", "SERIAL_NO": "100000000001"}
        self.mid, self.tid = "887000003191", "75021674"  # ours: test merchant / terminal ids
        self.stan = 0
        self.tran_no = 0
        self.batch_no = 1
        #: by STAN, the newest :data:`JOURNAL` (the open batch holds its own)
        self.records: OrderedDict[str, Record] = OrderedDict()
        self.batch: list[Record] = []
        self.current: Job | None = None
        self.links: list[Link] = []
        self.knobs: dict[str, int] = {}  # name -> times left (-1: until cleared)
        #: what the terminal showed (prompts), newest last
        self.screen: deque[str] = deque(maxlen=SCREEN_LINES)
        self._conn = 0
        #: how the POS behaves (the client-under-test grades), folded as it happens
        self.conduct = Conduct()
        #: the transcript names of the connections served so far (newest kept)
        self.ports: deque[str] = deque(maxlen=JOURNAL)

    # -- knobs -----------------------------------------------------------------------------
    def set_knob(self, name: str, times: int = 1) -> None:
        if name not in KNOBS:
            raise ValueError(f"unknown fault {name!r}; have {sorted(KNOBS)}")
        if times == 0:
            self.knobs.pop(name, None)
        else:
            self.knobs[name] = -1 if name in SWITCHES else times

    def knob(self, name: str) -> bool:
        """Whether the knob is armed; a counted knob is used up by asking (a switch, -1,
        stays until it is cleared)."""
        left = self.knobs.get(name, 0)
        if left == 0:
            return False
        if left > 0:
            if left == 1:
                del self.knobs[name]
            else:
                self.knobs[name] = left - 1
        return True

    # -- connections -----------------------------------------------------------------------
    def accept(self, end: Any, transport: str, cancel_port: bool = False,
               name: str = "") -> Link:
        """Serve one connection (any end: WebSocket, TCP bytes, serial bytes, in-memory)."""
        from protocol_servers.valor.link import Link

        link = Link(self, end, transport, cancel_port=cancel_port)
        self.links.append(link)
        self.ports.append(link.name)
        link.start()
        return link

    def connect_local(self, transport: str = "tcp", cancel_port: bool = False,
                      baud: int | None = None) -> Any:
        """Virtual mode: a POS-side end wired to a new connection of this terminal.

        ``ws`` carries messages; ``tcp`` bytes; ``usb`` bytes over a serial line paced at
        ``baud`` (9600 by default, the rate of Valor's USB guide, §A.2; 0: not paced, for
        runs that test the USB framing alone).
        """
        from simulator.streams import byte_link, message_link

        self._conn += 1
        tag = f"valor.{transport}{'-cancel' if cancel_port else ''}#{self._conn}"
        pos_end: Any
        term_end: Any
        if transport == "ws":
            pos_end, term_end = message_link(self.world, f"{tag}.pos", tag)
        else:
            pacing = None
            if transport == "usb" and baud != 0:
                from simulator.pacing import Pacing

                pacing = Pacing(baud or 9600)
            pos_end, term_end = byte_link(self.world, f"{tag}.pos", tag, pacing=pacing)
        self.accept(term_end, transport, cancel_port=cancel_port)
        return pos_end

    def forget(self, link: Link) -> None:
        """A connection ended: its grades are folded in and nothing of it is kept."""
        if link in self.links:
            self.links.remove(link)
            self.conduct.session_closed(link.session)

    def show(self, line: str) -> None:
        self.screen.append(line)
        self.world.transcript.event("valor.screen", line)

    # -- dispatch (called by a link for each request) -------------------------------------
    def dispatch(self, link: Link, req: d.Request, style: str) -> None:
        self.conduct.request(self.world.now, req.mode, req.code, req.get("STAN_NO"))
        if req.mode == d.MODE_QUERY:
            link.send(d.ack(), style)
            if self.knob("ping_with_data"):
                link.send({"STATE": "0", **self.identity, "APP_VERSION": "3.0.46-cardloop",
                           "DATETIME": self._date()}, style)
            return
        if req.mode == d.MODE_CANCEL:
            self.world.process(self._cancel(link, req, style))
            return
        if req.mode == d.MODE_STATUS:
            link.send(d.ack(), style)
            link.send(self._status(req), style)
            return
        if self.knob("no_ack"):
            self.world.transcript.event(link.name, "fault no_ack: request dropped unanswered")
            self.conduct.dropped(self.world.now)
            return
        if self.current is not None and "no-busy-rule" not in self.switches:
            link.send(d.error_frame(d.BUSY, self.identity, req), style, final=True)
            return
        job = Job(link, req, style, money_at=self.conduct.money_requests)
        self.current = job
        job.proc = self.world.process(self._run(job))

    def _status(self, req: d.Request) -> dict[str, str]:
        stan = req.get("STAN_NO") or req.get("STAN_ID")
        rec = self.records.get(stan.lstrip("0") or "0") if stan else None
        if rec is None:
            return d.error_frame(d.NO_RECORD if stan else d.KEY_EMPTY, self.identity, req)
        if rec.final is None:
            frame = d.error_frame(d.IN_PROGRESS, self.identity, None, state="-2")
            frame["STAN_NO"] = rec.stan
            return frame
        return dict(rec.final)

    def _cancel(self, link: Link, req: d.Request, style: str) -> Gen:
        job = self.current
        if job is None or job.record is None or job.record.kind not in (
                "sale", "preauth", "refund"):
            link.send(d.error_frame(d.NOTHING_TO_CANCEL, self.identity, req), style)
            return
        if self.profile == "cloud" and req.req_txn_id != job.request.req_txn_id:
            link.send(d.error_frame(d.NO_RECORD, self.identity, req), style)
            return
        cleared = yield from self.card.cancel()
        if not cleared and "late-cancel" not in self.switches:
            link.send(d.error_frame(d.CANCEL_TOO_LATE, self.identity, req), style)
            return
        frame: dict[str, str] = {"STATE": "-2", **self.identity}
        if not self.knob("cancel_state_only"):
            frame["ERROR_MSG"] = d.CLEARED
        if req.req_txn_id:
            frame["MER_TXN_ID"] = req.req_txn_id
        link.send(frame, style)

    # -- the exchange around every money request ------------------------------------------
    def _run(self, job: Job) -> Gen:
        link, req, style = job.link, job.request, job.style
        try:
            yield self.world.timeout(self.t["ack_delay"])
            link.send(d.ack(), style)
            handler = self._handler(req)
            if self.profile == "cloud" and not req.req_txn_id:
                raise Refusal(d.TXN_ID_REQUIRED)
            if len(req.req_txn_id) > d.MAX_REQ_TXN_ID:
                raise Refusal(d.NOT_A_REQUEST)
            precheck = getattr(handler, "precheck", None)
            if precheck is not None:
                precheck(self, job)
            yield self.world.timeout(self.t["payload_received_delay"])
            if job.link.closed:
                # Choice: a POS gone before the STAN frame could never recover the
                # outcome, so nothing is started (the request did not take)
                self.world.transcript.event(link.name, "POS gone before the STAN: not started")
                return
            rec = self._new_record(job)
            link.send({"STATE": "0", **self.identity, "STAN_NO": rec.stan,
                       "MSG": "Payload Request Received"}, style)
            if self.knob("foreign_final"):
                # a final of some other transaction while this one runs (§A.7: drop it)
                stray = d.error_frame(d.TIMEOUT_CANCELLED, self.identity, None)
                stray["MER_TXN_ID"] = stray["REQ_TXN_ID"] = f"FOREIGN-{rec.stan}"
                link.send(stray, style)
                self.conduct.foreign_finals += 1
            if self.knob("drop_after_stan"):
                self.world.transcript.event(link.name, "fault drop_after_stan: socket closed")
                link.close_after_writes()
            try:
                yield from handler(self, job)
            except Refusal as refusal:
                rec.status = "declined" if rec.status == "running" else rec.status
                job.frame = self._refusal_frame(job, refusal.message)
            rec.final = self._finish_frame(job)
            if rec.status == "running":
                rec.status = "approved" if rec.final.get("STATE") == "0" else "declined"
            sent = dict(rec.final)
            if rec.kind in ("sale", "preauth") and rec.amount in self.outcomes.indeterminate:
                sent = self._indeterminate(rec)
            if self.knob("final_indeterminate"):
                sent = self._indeterminate(rec)
            if self.knob("slow_final"):
                yield self.world.timeout(self.t["slow_final"])
            if rec.kind in ("sale", "preauth", "refund", "capture") and not \
                    job.request.flag("EARLY_RESPONSE") and rec.status == "approved" \
                    and job.request.get("PAPER_RECEIPT", "0") != "1":
                self.show("Printing receipt")
                yield self.world.timeout(self.t["receipt_print"])
            self.current = None
            if link.closed or sent.get("STATE") == "-2":
                self.conduct.unresolved(rec.stan)
            link.send(sent, style, final=True)
        except Refusal as refusal:
            self.current = None
            link.send(d.error_frame(refusal.message, self.identity, req), style, final=True)
        finally:
            if self.current is job:
                self.current = None

    def _indeterminate(self, rec: Record) -> dict[str, str]:
        frame = d.error_frame(d.INDETERMINATE, self.identity, None, state="-2")
        frame["STAN_NO"] = rec.stan
        if rec.req_txn_id:
            frame["MER_TXN_ID"] = rec.req_txn_id
        return frame

    def _handler(self, req: d.Request) -> Handler:
        if req.mode not in ("0", "1", "2", "6"):
            raise Refusal(d.MODE_NOT_SUPPORTED)
        handler = HANDLERS.get((req.mode, req.code))
        if handler is None:
            raise Refusal(d.CODE_NOT_SUPPORTED)
        return handler

    def _new_record(self, job: Job) -> Record:
        self.stan += 1
        req = job.request
        kind = getattr(self._handler(req), "kind", "fetch")
        rec = Record(stan=str(self.stan), tran_no="", batch_no=str(self.batch_no), kind=kind,
                     mode=req.mode, req_txn_id=req.req_txn_id)
        if kind in ("sale", "preauth", "refund", "cash", "cash-refund", "capture"):
            self.tran_no += 1
            rec.tran_no = str(self.tran_no)
        self.records[rec.stan] = rec
        while len(self.records) > JOURNAL:
            self.records.popitem(last=False)
        self.conduct.started(rec.stan, job.money_at)
        job.record = rec
        return rec

    def _date(self) -> str:
        return (EPOCH + timedelta(seconds=self.world.now)).strftime("%d%m%Y %H:%M:%S")

    def _base(self, job: Job) -> dict[str, str]:
        rec = job.record
        assert rec is not None
        frame = {"STATE": "0", **self.identity}
        if rec.req_txn_id:
            frame["MER_TXN_ID"] = rec.req_txn_id
            frame["REQ_TXN_ID"] = rec.req_txn_id
        frame.update({"TRAN_TYPE": d.CARD_MODES.get(rec.mode, "Credit"),
                      "TRAN_METHOD": d.METHOD.get(job.request.code, ""),
                      "DATE": self._date(), "BATCH_NO": rec.batch_no, "STAN_ID": rec.stan,
                      "STAN_NO": rec.stan, "MID": self.mid, "TID": self.tid})
        return frame

    def _refusal_frame(self, job: Job, message: str) -> dict[str, str]:
        frame = d.error_frame(message, self.identity, job.request)
        if job.record is not None:
            frame["STAN_NO"] = job.record.stan
            frame["TRAN_METHOD"] = d.METHOD.get(job.request.code, "")
        return frame

    def _finish_frame(self, job: Job) -> dict[str, str]:
        return job.frame or self._refusal_frame(job, d.NOT_A_REQUEST)

    # -- lookups ---------------------------------------------------------------------------
    def find(self, req: d.Request, kinds: tuple[str, ...]) -> Record:
        """The original a fetch request names by TRAN_NO (or CARD_NO, last 4), in this batch."""
        tran_no, card_no = req.get("TRAN_NO").lstrip("0"), req.get("CARD_NO")
        if not tran_no and not card_no:
            raise Refusal(d.KEY_EMPTY)
        for rec in reversed(self.batch):
            if rec.kind not in kinds:
                continue
            if tran_no and rec.tran_no == tran_no:
                return rec
            if not tran_no and card_no and rec.last4 == card_no[-4:] and rec.live:
                return rec
        raise Refusal(d.NO_RECORD)

    def card_frame(self, job: Job, out: CardOutcome) -> dict[str, str]:
        """The final frame of a card transaction, from the kernel run and the acquirer."""
        rec = job.record
        assert rec is not None
        frame = self._base(job)
        mode, how = ENTRY_FIELDS.get(out.entry_mode, ("", ""))
        if out.approved:
            part = rec.amount < int(job.request.get("AMOUNT") or rec.amount)
            frame.update({
                "CARD_PROCESSED_AS": frame["TRAN_TYPE"], "CARD_TYPE": out.issuer,
                "TXN_ID": txn_id(out.acquirer_ref), "TXN_DETAILS_UPLOADED": "YES",
                "AMOUNT": str(rec.amount), "TIP_AMOUNT": str(rec.tip),
                "TOTAL_AMOUNT": str(rec.amount + rec.tip), "PARTIAL": "1" if part else "0",
                "MASKED_PAN": out.masked_pan, "ENTRY_MODE": mode, "ENTRY_TYPE": how,
                "EXPIRY_DATE": "**/**",
                "RRN": f"{633000000000 + int(rec.stan):012d}", "CODE": out.auth_code,
                "AUTH_RSP_TEXT": f"APPROVAL {out.auth_code}", "TRAN_NO": rec.tran_no,
                "ISSUER": out.issuer, "CARD_BRAND": out.issuer, "AID": out.aid,
                "TVR": out.tvr, "TSI": out.tsi, "CARDHOLDER_NAME": out.holder,
            })
            return frame
        message = {"cancelled": d.TIMEOUT_CANCELLED, "declined": d.DECLINED,
                   "no host": d.NO_HOST}.get(out.message, d.CARD_DECLINED)
        err = self._refusal_frame(job, message)
        err.update({"TRAN_TYPE": frame["TRAN_TYPE"], "AMOUNT": str(rec.amount)})
        if out.masked_pan:
            err.update({"MASKED_PAN": out.masked_pan, "ENTRY_MODE": mode, "ENTRY_TYPE": how})
        if out.arc:
            err["HOST_RESPONSE_CODE"] = out.arc  # ours: the issuer's ISO 8583 field 39
        rec.status = "cancelled" if out.cancelled else "declined"
        return err

    # -- bookkeeping for tests and the suite ----------------------------------------------
    def bookings(self) -> list[dict[str, Any]]:
        """What the terminal believes the acquirer holds (for the ledger invariant)."""
        out = []
        for rec in self.records.values():
            if rec.acquirer_ref:
                out.append({"key": rec.acquirer_ref, "approved": rec.live,
                            "amount": rec.amount + rec.tip})
        return out

    def state(self) -> dict[str, Any]:
        return {"profile": self.profile, "stan": self.stan, "batch_no": self.batch_no,
                "busy": self.current is not None, "knobs": dict(self.knobs),
                "connections": len(self.links), "screen": list(self.screen)[-5:],
                "batch": [{"tran_no": r.tran_no, "kind": r.kind, "status": r.status,
                           "amount": r.amount, "tip": r.tip} for r in self.batch],
                # what the POS did, for grading it (client-under-test role)
                "pos": self.conduct.counts([link.session for link in self.links])}


#: TXN_ID is the switch's 12-digit id (§A.6); ours is this base plus the acquirer's number
TXN_BASE = 900000000000


def txn_id(ref: str) -> str:
    """The 12-digit TXN_ID of an acquirer reference ``T000123`` (and back: :func:`ref_of`):
    the number counts, not its spelling, so ``T000123`` and ``T123`` name one transaction."""
    return f"{TXN_BASE + int(ref.lstrip('T')):012d}" if ref else ""


def ref_of(txn: str) -> str:
    return f"T{int(txn) - TXN_BASE:06d}" if txn else ""


# -- handlers ------------------------------------------------------------------------------
def _amount(req: d.Request, name: str = "AMOUNT") -> int:
    value = d.cents(req.get(name))
    if value is None or value <= 0:
        raise Refusal(d.INVALID_AMOUNT)
    return value


def _money_precheck(term: ValorTerminal, job: Job) -> None:
    _amount(job.request)


def _prompts(term: ValorTerminal, job: Job, rec: Record) -> Gen:
    req = job.request
    if req.flag("TIP_ENTRY"):
        term.show("Add a tip?")
        yield term.world.timeout(term.t["tip_entry"])
        pct = term.world.rng("valor.tip").choice(term.outcomes.tip_percents)
        rec.tip = rec.amount * pct // 100
        term.show(f"Tip {pct}%: {rec.tip}")
    elif req.get("TIP_AMOUNT"):
        tip = d.cents(req.get("TIP_AMOUNT"))
        if tip is None:
            raise Refusal(d.INVALID_AMOUNT)
        rec.tip = tip


@handles("1,2", d.CODE_SALE)
def sale(term: ValorTerminal, job: Job) -> Gen:
    yield from _card_purchase(term, job, "sale")


@handles("1", d.CODE_PREAUTH)
def preauth(term: ValorTerminal, job: Job) -> Gen:
    yield from _card_purchase(term, job, "preauth")


def _card_purchase(term: ValorTerminal, job: Job, kind: str) -> Gen:
    rec = job.record
    assert rec is not None
    rec.amount = _amount(job.request)
    yield from _prompts(term, job, rec)
    part = term.outcomes.partial.get(rec.amount) if rec.tip == 0 else None
    if term.knob("hold_card"):
        term.card.hold_card = True
        term.world.process(_give_up_holding(term, rec))
    term.show("Insert, tap or swipe card")
    out = yield from term.card.purchase(rec.amount + rec.tip, kind, f"valor-{rec.stan}",
                                        approve_part=None if part is None else part + rec.tip)
    rec.card, rec.last4 = out, out.last4
    if out.approved:
        rec.acquirer_ref = out.acquirer_ref
        rec.amount = out.amount - rec.tip
        term.batch.append(rec)
        if job.request.flag("SIGNATURE"):
            term.show("Please sign")
            yield term.world.timeout(term.t["signature_capture"])
    job.frame = term.card_frame(job, out)


def _give_up_holding(term: ValorTerminal, rec: Record) -> Gen:
    yield term.world.timeout(term.t["hold_card_limit"])
    if rec.status == "running" and not term.card.card_read:
        yield from term.card.cancel()


sale.kind = "sale"  # type: ignore[attr-defined]
sale.precheck = _money_precheck  # type: ignore[attr-defined]
preauth.kind = "preauth"  # type: ignore[attr-defined]
preauth.precheck = _money_precheck  # type: ignore[attr-defined]


@handles("1,2", d.CODE_REFUND)
def refund(term: ValorTerminal, job: Job) -> Gen:
    rec = job.record
    assert rec is not None
    rec.amount = _amount(job.request)
    if term.knob("hold_card"):
        term.card.hold_card = True
        term.world.process(_give_up_holding(term, rec))
    term.show("Insert, tap or swipe card for refund")
    out = yield from term.card.refund(rec.amount, f"valor-{rec.stan}")
    rec.card, rec.last4 = out, out.last4
    if out.approved:
        rec.acquirer_ref = out.acquirer_ref
        term.batch.append(rec)
    job.frame = term.card_frame(job, out)


refund.kind = "refund"  # type: ignore[attr-defined]
refund.precheck = _money_precheck  # type: ignore[attr-defined]


@handles("6", d.CODE_SALE, d.CODE_REFUND)
def cash(term: ValorTerminal, job: Job) -> Gen:
    """Cash: recorded in the batch for the totals; no card and nothing at the acquirer."""
    rec = job.record
    assert rec is not None
    rec.amount = _amount(job.request)
    if job.request.code == d.CODE_REFUND:
        rec.kind = "cash-refund"
    term.show("Cash tendered")
    yield term.world.timeout(term.t["fetch_processing"])
    term.batch.append(rec)
    frame = term._base(job)
    frame.update({"AMOUNT": str(rec.amount), "TIP_AMOUNT": "0",
                  "TOTAL_AMOUNT": str(rec.amount), "TRAN_NO": rec.tran_no, "PARTIAL": "0"})
    job.frame = frame


cash.kind = "cash"  # type: ignore[attr-defined]
cash.precheck = _money_precheck  # type: ignore[attr-defined]


def _void_precheck(term: ValorTerminal, job: Job) -> None:
    req = job.request
    if not req.get("TRAN_NO") and not req.get("CARD_NO"):
        raise Refusal(d.KEY_EMPTY)
    amount = req.get("AMOUNT")
    if term.profile == "cloud" or (amount not in ("", "0") and d.cents(amount) is None):
        _amount(req)


@handles("0", d.CODE_VOID)
def void(term: ValorTerminal, job: Job) -> Gen:
    """Void by TRAN_NO or CARD_NO. ``AMOUNT "0"`` (or none) means the original's amount
    (DECISIONS.md, local mode); another amount than the original's is refused."""
    req, rec = job.request, job.record
    assert rec is not None
    orig = term.find(req, ("sale", "preauth", "capture", "refund", "cash", "cash-refund"))
    if not orig.live:
        raise Refusal(d.NO_RECORD)
    amount = d.cents(req.get("AMOUNT") or "0") or 0
    if amount not in (0, orig.amount, orig.amount + orig.tip):
        raise Refusal(d.INVALID_AMOUNT)
    yield term.world.timeout(term.t["fetch_processing"])
    if orig.acquirer_ref:
        entry = term.acquirer.reverse(orig.acquirer_ref, key=f"valor-{rec.stan}")
        if not entry.approved:
            raise Refusal(d.NO_RECORD)
    orig.status = "voided"
    rec.amount, rec.parent = orig.amount + orig.tip, orig.tran_no
    frame = term._base(job)
    frame.update({"TRAN_TYPE": d.CARD_MODES.get(orig.mode, "Credit"), "TRAN_NO": orig.tran_no,
                  "AMOUNT": str(orig.amount), "TIP_AMOUNT": str(orig.tip),
                  "TOTAL_AMOUNT": str(orig.amount + orig.tip),
                  "TXN_ID": txn_id(orig.acquirer_ref)})
    if orig.card is not None:
        frame["MASKED_PAN"] = orig.card.masked_pan
    job.frame = frame


void.precheck = _void_precheck  # type: ignore[attr-defined]


@handles("0", d.CODE_TICKET)
def ticket(term: ValorTerminal, job: Job) -> Gen:
    """Ticket: capture a pre-auth (by TRAN_NO) for AMOUNT, at most what was authorised."""
    req, rec = job.request, job.record
    assert rec is not None
    orig = term.find(req, ("preauth",))
    amount = _amount(req)
    if not orig.live or orig.completed:
        raise Refusal(d.NO_RECORD)
    if amount > orig.amount + orig.tip:
        raise Refusal(d.INVALID_AMOUNT)
    yield term.world.timeout(term.t["fetch_processing"])
    entry = term.acquirer.capture(orig.acquirer_ref, amount, f"valor-{rec.stan}")
    if not entry.approved:
        raise Refusal(d.DECLINED)
    orig.completed = True
    rec.amount, rec.parent, rec.acquirer_ref = amount, orig.tran_no, entry.ref
    rec.last4, rec.card, rec.mode = orig.last4, orig.card, orig.mode
    term.batch.append(rec)
    frame = term._base(job)
    frame.update({"AMOUNT": str(amount), "TIP_AMOUNT": "0", "TOTAL_AMOUNT": str(amount),
                  "TRAN_NO": rec.tran_no, "TXN_ID": txn_id(entry.ref), "PARTIAL": "0",
                  "ORIGINAL_TRAN_NO": orig.tran_no})
    if orig.card is not None:
        frame["MASKED_PAN"] = orig.card.masked_pan
    job.frame = frame


ticket.kind = "capture"  # type: ignore[attr-defined]
ticket.precheck = _money_precheck  # type: ignore[attr-defined]


def _tip_precheck(term: ValorTerminal, job: Job) -> None:
    req = job.request
    if not req.get("TRAN_NO") and not req.get("CARD_NO"):
        raise Refusal(d.KEY_EMPTY)
    _amount(req, "TIP_AMOUNT")


@handles("0", d.CODE_TIP_ADJUST)
def tip_adjust(term: ValorTerminal, job: Job) -> Gen:
    req, rec = job.request, job.record
    assert rec is not None
    orig = term.find(req, ("sale", "capture", "preauth"))
    tip = _amount(req, "TIP_AMOUNT")
    if not orig.live:
        raise Refusal(d.NO_RECORD)
    yield term.world.timeout(term.t["fetch_processing"])
    entry = term.acquirer.tip_adjust(orig.acquirer_ref, tip, f"valor-{rec.stan}")
    if not entry.approved:
        raise Refusal(d.DECLINED)
    orig.tip += tip
    rec.amount, rec.parent = tip, orig.tran_no
    frame = term._base(job)
    frame.update({"TRAN_NO": orig.tran_no, "AMOUNT": str(orig.amount),
                  "TIP_AMOUNT": str(orig.tip), "TOTAL_AMOUNT": str(orig.amount + orig.tip),
                  "TXN_ID": txn_id(orig.acquirer_ref)})
    job.frame = frame


tip_adjust.precheck = _tip_precheck  # type: ignore[attr-defined]


@handles("0", d.CODE_SETTLE)
def settle(term: ValorTerminal, job: Job) -> Gen:
    """Batch close: totals of what is live in the batch; open pre-auths move to the next."""
    rec = job.record
    assert rec is not None
    live = [r for r in term.batch if r.live and r.kind != "preauth"]
    if not live:
        raise Refusal(d.NOTHING_TO_SETTLE)
    yield term.world.timeout(term.t["settlement_processing"])
    sales = [r for r in live if r.kind in ("sale", "capture", "cash")]
    refunds = [r for r in live if r.kind in ("refund", "cash-refund")]
    s_amt = sum(r.amount + r.tip for r in sales)
    r_amt = sum(r.amount for r in refunds)
    frame = term._base(job)
    frame.update({"TRAN_TYPE": "Credit", "BATCH_NO": str(term.batch_no),
                  "TOTAL_TRAN_COUNT": str(len(live)), "AMOUNT": str(s_amt - r_amt),
                  # ours: the split a batch report prints
                  "SALE_COUNT": str(len(sales)), "SALE_AMOUNT": str(s_amt),
                  "REFUND_COUNT": str(len(refunds)), "REFUND_AMOUNT": str(r_amt)})
    term.batch = [r for r in term.batch if r.kind == "preauth" and r.live and not r.completed]
    term.batch_no += 1
    job.frame = frame


@handles("0", d.CODE_REPRINT)
def reprint(term: ValorTerminal, job: Job) -> Gen:
    """Reprint the receipt of TRAN_NO (or of the last transaction); the frame is its own."""
    req = job.request
    if req.get("TRAN_NO") or req.get("CARD_NO"):
        orig = term.find(req, ("sale", "preauth", "capture", "refund", "cash", "cash-refund"))
    elif term.batch:
        orig = term.batch[-1]
    else:
        raise Refusal(d.NO_RECORD)
    term.show("Printing receipt copy")
    yield term.world.timeout(term.t["receipt_print"])
    frame = {**(orig.final or {}), "TRAN_METHOD": "Reprint", "STAN_NO": job.record.stan
             if job.record else ""}
    # the receipt's values are the original's, but the frame answers THIS request: its
    # reference is echoed (§A.6), else a POS drops the reprint as another's final (§A.7)
    frame.pop("MER_TXN_ID", None)
    frame.pop("REQ_TXN_ID", None)
    if req.req_txn_id:
        frame["MER_TXN_ID"] = frame["REQ_TXN_ID"] = req.req_txn_id
    job.frame = frame
