"""The terminal application over an in-memory pinpad: whole sales, the split steps,
refunds, pre-authorisation, cancel, and the events a server maps to its protocol."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import visa_swipe
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue
from virtual_devices.terminal import HostAnswer, Settings, Tables, events, pinpad_end

Gen = Generator[Any, Any, Any]


class Setup:
    def __init__(self, name: str | None = "visa-chip-pin", seed: int = 11,
                 device_feed: bool = True, settings: Settings | None = None,
                 **knobs: Any) -> None:
        self.world = World(seed=seed)
        self.end = pinpad_end(self.world, "memory")
        if name is not None:
            profile = catalogue()[name]
            self.end.pinpad.customer = Customer.for_profile(
                self.world, profile, **{"presentation": "insert", **knobs})
            self.end.pinpad.queue_card(VirtualCard(profile).place_in(self.world))
        self.acquirer = make_acquirer(self.world)
        cfg = self.acquirer.terminal_config()
        self.tables = Tables(cfg.table_version[:10].ljust(10, "0"),
                             tuple(records_from_config(cfg)))
        self.events: list[events.TerminalEvent] = []
        self.term = self.end.terminal(self.acquirer, settings, observer=self.events.append)
        if not device_feed:  # as over a pty: only what ABECS says
            self.term.device_feed = False
            self.end.pinpad.observers.clear()
            self.end.pinpad.display.listeners.clear()

    def run(self, flow: Gen) -> Any:
        def opened() -> Gen:
            yield from self.term.host.opn()
            return (yield from flow)

        proc = self.world.process(opened())
        self.world.run(until=proc)
        return proc.value

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


def test_whole_chip_sale_is_approved_online_and_booked_once() -> None:
    s = Setup()
    res = s.run(s.term.sale(1000, s.tables))
    assert res.approved and res.error is None
    assert res.goc.decision == m.DECISION_ONLINE and res.fnc.decision == 0 and res.arc == "00"
    assert [e.kind for e in s.acquirer.ledger.entries] == ["sale"]
    assert res.steps[-1] == "RMC"
    assert s.end.pinpad.inserted is None  # RMC: the card left the slot


def test_a_sale_reports_the_device_events_in_the_order_they_happen() -> None:
    s = Setup()
    s.run(s.term.sale(1000, s.tables))
    kinds = s.kinds()
    order = ["TablesLoaded", "CardRequested", "CardPresented", "CardRead", "PinEntryStarted",
             "PinEntered", "HostRequested", "HostAnswered", "CardDecided", "CardRemoved",
             "TransactionEnded"]
    positions = [kinds.index(k) for k in order]
    assert positions == sorted(positions), kinds
    assert "DisplayChanged" in kinds
    presented = next(e for e in s.events if isinstance(e, events.CardPresented))
    assert presented.how == "insert" and presented.masked_pan.startswith("476173")
    assert "*" in presented.masked_pan
    typed = next(e for e in s.events if isinstance(e, events.PinEntered))
    assert typed.masked == "****"
    started = next(e for e in s.events if isinstance(e, events.PinEntryStarted))
    assert started.kind == "offline"  # visa-chip-pin verifies its PIN offline


def test_over_abecs_alone_the_device_events_are_derived_once() -> None:
    s = Setup(device_feed=False)
    s.run(s.term.sale(1000, s.tables))
    kinds = s.kinds()
    for k in ("CardPresented", "PinEntryStarted", "PinEntered", "CardRemoved"):
        assert kinds.count(k) == 1, (k, kinds)


def test_split_steps_process_then_finish_with_the_hosts_answer() -> None:
    s = Setup()

    def flow() -> Gen:
        done = yield from s.term.process(1000, s.tables, app_type=99)
        rsp = s.acquirer.authorise(done.auth_request(1000, 986))
        fin = yield from s.term.finish(HostAnswer.from_issuer(rsp), approved=rsp.approved)
        return done, rsp, fin

    done, rsp, fin = s.run(flow())
    assert done.chip and done.goc.decision == m.DECISION_ONLINE
    assert rsp.approved
    assert fin.fnc is not None and fin.fnc.decision == 0 and not fin.declined_by_card
    assert not fin.errors
    assert not s.term.chip_pending


def test_finish_without_a_host_answer_lets_the_card_decline() -> None:
    s = Setup()

    def flow() -> Gen:
        yield from s.term.process(1000, s.tables, app_type=99)
        return (yield from s.term.finish(HostAnswer.NONE, approved=False))

    fin = s.run(flow())
    assert fin.fnc is not None and fin.fnc.decision != 0
    assert not fin.declined_by_card  # the host never approved: nothing to take back


def test_card_decline_after_host_approval_is_reversed() -> None:
    s = Setup("visa-card-decline-2nd-gac")
    res = s.run(s.term.sale(1000, s.tables))
    assert res.arc == "00" and not res.approved and res.reversed
    assert [e.kind for e in s.acquirer.ledger.entries] == ["sale", "reversal"]
    assert s.acquirer.ledger.balance()["net"] == 0
    assert any(isinstance(e, events.Reversed) for e in s.events)


def test_stale_tables_are_reloaded_on_020_and_a_bare_gcr_resumes() -> None:
    s = Setup()

    def flow() -> Gen:
        # the pinpad holds other tables, and GTS is skipped: GCR finds them stale
        yield from s.term.load_tables(Tables("0000000001", s.tables.records))
        return (yield from s.term.sale(1000, s.tables, check_tables=False))

    res = s.run(flow())
    assert "GCR 020: reload tables, bare GCR" in res.steps
    assert res.approved


def test_a_swiped_card_asks_for_a_pin_with_gpn() -> None:
    s = Setup(None)
    s.end.pinpad.customer = Customer(s.world, Behaviour(presentation="swipe"))
    s.end.pinpad.queue_card(visa_swipe())
    res = s.run(s.term.sale(1000, s.tables))
    assert res.card_type == m.CARD_MAGSTRIPE and res.pin is not None
    presented = next(e for e in s.events if isinstance(e, events.CardPresented))
    assert presented.how == "swipe"


def test_standalone_refund_credits_the_card_read() -> None:
    s = Setup()
    def flow() -> Gen:
        card = yield from s.term.read_for_refund(700, s.tables)
        entry = s.term.refund_to_card(card, 700, key="refund-1")
        yield from s.term.remove_card(entry.approved)
        return entry

    assert s.run(flow()).approved
    assert [e.kind for e in s.acquirer.ledger.entries] == ["refund"]
    assert s.end.pinpad.inserted is None


def test_preauthorisation_then_capture() -> None:
    s = Setup()
    res = s.run(s.term.sale(1000, s.tables, kind="preauth", key="hold-1"))
    assert res.approved and res.reference
    entry = s.term.capture(res.reference, 1000, key="capture-1")
    assert entry.approved
    assert [e.kind for e in s.acquirer.ledger.entries] == ["preauth", "capture"]


def test_void_reverses_an_approved_sale() -> None:
    s = Setup()
    res = s.run(s.term.sale(1000, s.tables))
    assert s.term.reverse(res.reference)
    assert s.acquirer.ledger.balance()["net"] == 0


def test_cancel_ends_a_waiting_card_read_with_013() -> None:
    s = Setup(None)  # no card comes: GCR waits until cancelled

    def flow() -> Gen:
        reading = s.world.process(s.term.read_card(1000, s.tables))

        def cancel_later() -> Gen:
            yield s.world.timeout(5)
            yield from s.term.cancel()

        s.world.process(cancel_later())
        try:
            yield reading
        except AbecsError as exc:
            return exc.code
        return None

    def loaded() -> Gen:
        yield from s.term.ensure_tables(s.tables)
        return (yield from flow())

    assert s.run(loaded()) == m.ST_CANCEL
    assert any(isinstance(e, events.Cancelled) for e in s.events)


class PickSecond:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def choose_application(self, labels: Any) -> Gen:
        self.asked.append(list(labels))
        return 1
        yield  # pragma: no cover

    def confirm_signature(self) -> Gen:
        return False
        yield  # pragma: no cover


def test_the_application_choice_goes_to_the_choices_hook() -> None:
    world = World(seed=11)
    end = pinpad_end(world, "memory")
    profile = catalogue()["elo-combo"]
    end.pinpad.customer = Customer.for_profile(world, profile, presentation="insert")
    end.pinpad.queue_card(VirtualCard(profile).place_in(world))
    acquirer = make_acquirer(world)
    cfg = acquirer.terminal_config()
    tables = Tables(cfg.table_version[:10].ljust(10, "0"), tuple(records_from_config(cfg)))
    picker = PickSecond()
    term = end.terminal(acquirer, choices=picker)

    def flow() -> Gen:
        yield from term.host.opn()
        return (yield from term.sale(1000, tables))

    proc = world.process(flow())
    world.run(until=proc)
    assert picker.asked and len(picker.asked[0]) == 2


def test_a_refused_signature_reverses_the_approval() -> None:
    s = Setup("mc-chip-signature")
    s.term.choices = PickSecond()  # refuses every signature
    res = s.run(s.term.sale(1000, s.tables))
    assert res.signature and not res.approved and res.reversed
    assert s.acquirer.ledger.balance()["net"] == 0
