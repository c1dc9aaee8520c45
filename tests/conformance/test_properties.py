"""Property cases: a deliberately broken target is caught under the right case id,
failures shrink and print a replay command, and the replay reproduces them."""

from __future__ import annotations

import re

import pytest

# A toy sale server, only to exercise the engine: the POS sends {"id", "amount"},
# the server books the amount with its acquirer and answers once. A repeated id
# (a POS retry, a duplicated message) must be answered again without booking twice.
TOY = '''
import json

IDEMPOTENT = {idempotent}


class ToyServer:
    def __init__(self, world):
        self.world = world
        self.ledger = []
        self.results = {{}}

    def accept(self, end):
        self.world.process(self._serve(end))

    def _serve(self, end):
        while True:
            msg = yield end.recv()
            if msg is None:
                return
            req = json.loads(msg)
            rid = req["id"]
            if rid not in self.results or not IDEMPOTENT:
                self.ledger.append((rid, req["amount"]))
                self.results[rid] = {{"id": rid, "approved": True, "amount": req["amount"]}}
            yield self.world.timeout(0.2)
            end.send(json.dumps(self.results[rid]))


def sale(world, server, requests):
    """Run a POS that sends ``requests`` (JSON texts); return (asked, finals, told)."""
    from simulator.streams import message_link

    pos, srv = message_link(world, "pos", "server")
    server.accept(srv)
    finals, told = [], {{}}
    asked = [json.loads(r)["id"] for r in requests]

    def client():
        for r in requests:
            pos.send(r)
        seen = set()
        while len(seen) < len(set(asked)):
            ans = yield pos.recv()
            if ans is None:
                return
            a = json.loads(ans)
            if a["id"] in seen:
                continue  # a repeated answer to a retried request is not a new final
            seen.add(a["id"])
            finals.append(a["id"])
            if a["approved"]:
                told[a["id"]] = a["amount"]

    world.run(until=world.process(client()))
    return sorted(set(asked)), finals, told
'''

CASES = '''
import json
import random

from hypothesis import given

from conformance import case
from conformance import mutations
from conformance.invariants import ledger_balanced, one_final_answer
from conformance.strategies import amounts
from toyserver import ToyServer, sale


@case("toy/1/1", title="a sale is booked once", failure="sales are lost")
def test_sale(world):
    srv = ToyServer(world)
    asked, finals, told = sale(world, srv, [json.dumps({"id": "t1", "amount": 1500})])
    one_final_answer(asked, finals)
    ledger_balanced(srv.ledger, told)


@case("toy/2/1", title="a duplicated request is not booked twice",
      failure="a POS retry charges the cardholder twice")
def test_duplicate(world):
    srv = ToyServer(world)
    reqs = mutations.duplicate([json.dumps({"id": "t1", "amount": 700})], world.rng("mut"))
    asked, finals, told = sale(world, srv, reqs)
    one_final_answer(asked, finals)
    ledger_balanced(srv.ledger, told)


@case("toy/3/1", title="any amount is booked as told", failure="amounts change on the way")
@given(amount=amounts())
def test_amounts(world, amount):
    srv = ToyServer(world)
    asked, finals, told = sale(world, srv, [json.dumps({"id": "p", "amount": amount})])
    ledger_balanced(srv.ledger, told)
'''

PROPERTY = '''
from hypothesis import given, strategies as st

from conformance import case
from conformance.strategies import amounts


@case("toy/9/1", title="amounts stay below the floor limit", failure="limit ignored")
@given(amount=amounts())
def test_limit(world, amount):
    assert amount < {limit}
'''


def _ids(text: str, verdict: str) -> set[str]:
    return set(re.findall(rf"^{verdict.upper()} (\S+) ", text, flags=re.M))


def test_reference_target_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(toyserver=TOY.format(idempotent=True), test_toy=CASES)
    result = pytester.runpytest("--examples", "20")
    assert result.ret == 0, result.stdout.str()


def test_broken_target_caught_with_the_right_case_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(toyserver=TOY.format(idempotent=False), test_toy=CASES)
    result = pytester.runpytest("--examples", "20")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert _ids(out, "fail") == {"toy/2/1"}, out
    assert "ledger does not balance" in out
    assert "a POS retry charges the cardholder twice" in out


def _replay_line(out: str) -> list[str]:
    m = re.search(r"replay: python -m conformance (.*)$", out, flags=re.M)
    assert m, out
    return m.group(1).split()


def test_failure_shrinks_and_replays(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_prop=PROPERTY.format(limit=5000))
    first = pytester.runpytest("--seed", "3", "--examples", "200")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    out = first.stdout.str()
    assert "amount=5000" in out  # shrunk to the boundary
    args = _replay_line(out)
    assert args[:4] == ["-k", "test_limit", "--seed", "3"]
    assert "--replay" in args

    # the printed command replays the very example, whatever the budget
    again = pytester.runpytest(*args, "--examples", "1")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert "amount=5000" in again.stdout.str()

    # and it really is a replay: once fixed, the recorded example no longer fails
    pytester.makepyfile(test_prop=PROPERTY.format(limit=10**9))
    fixed = pytester.runpytest(*args)
    assert fixed.ret == pytest.ExitCode.TESTS_FAILED
    assert "DidNotReproduce" in fixed.stdout.str()


def test_same_seed_same_search(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_prop=PROPERTY.format(limit=5000))
    a = pytester.runpytest("--seed", "4", "--examples", "200").stdout.str()
    b = pytester.runpytest("--seed", "4", "--examples", "200").stdout.str()
    assert _replay_line(a) == _replay_line(b)


MACHINE = '''
import json

from hypothesis.stateful import rule

from conformance import case
from conformance.strategies import ProtocolMachine, amounts, run_machine
from simulator.streams import message_link
from toyserver import ToyServer


class ToyMachine(ProtocolMachine):
    settle_for = 5.0

    def setup_world(self):
        self.server = ToyServer(self.world)
        self.pos, srv = message_link(self.world, "pos", "server")
        self.server.accept(srv)
        self.n = 0
        self.world.process(self._listen())

    def _listen(self):
        while True:
            ans = yield self.pos.recv()
            if ans is None:
                return
            a = json.loads(ans)
            if a["id"] not in self.book.answered:
                self.book.answered.append(a["id"])
                self.book.told[a["id"]] = a["amount"]

    def ledger(self):
        return self.server.ledger

    @rule(amount=amounts(max_value=10_000))
    def sale(self, amount):
        self.n += 1
        self.last = json.dumps({"id": f"t{self.n}", "amount": amount})
        self.book.asked.append(f"t{self.n}")
        self.pos.send(self.last)

    @rule()
    def retry(self):
        if self.n:
            self.pos.send(self.last)


@case("toy/5/1", title="sales and retries in any order", failure="retries double-book")
def test_machine(cardloop_options):
    run_machine(ToyMachine, cardloop_options)
'''


def test_state_machine_checks_invariants_after_every_step(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(toyserver=TOY.format(idempotent=True), test_m=MACHINE)
    assert pytester.runpytest("--examples", "15").ret == 0
    pytester.makepyfile(toyserver=TOY.format(idempotent=False))
    result = pytester.runpytest("--examples", "50", "--seed", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "ledger does not balance" in out
    # shrunk to the minimal flow: one sale, one retry
    assert "state.sale(" in out and "state.retry()" in out
    # Hypothesis may print the shrunk example more than once (newer releases repeat it
    # in the summary); each printed example must hold exactly one sale
    examples = [
        chunk.split("state.teardown()")[0] for chunk in out.split("state = ToyMachine()")[1:]
    ]
    assert examples and all(e.count("state.sale(") == 1 for e in examples), out
    args = _replay_line(out)
    again = pytester.runpytest(*args)
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert "ledger does not balance" in again.stdout.str()


def test_fault_plans_draw_catalogue_faults() -> None:
    from hypothesis import given, settings

    from conformance.strategies import FaultDraw, fault_plans
    from simulator.world import World

    seen: set[str] = set()

    @settings(max_examples=60, database=None)
    @given(fault_plans(["pinpad", "host"], expect=None))
    def check(draw: FaultDraw) -> None:
        w = World(seed=1)
        plan = draw.install(w)
        assert len(plan.faults) == len(draw.choices)
        for c, f in zip(draw.choices, plan.faults, strict=True):
            assert f.port == c.port and type(f).__name__.lower() == c.spec.primitive
            seen.add(c.spec.layer)

    check()
    # every layer that has port faults is drawn
    from conformance.faults import load_catalogue

    assert seen == {s.layer for s in load_catalogue().of_kind("port")}


FRESH = '''
from hypothesis import given, strategies as st

from conformance import case


@case("toy/6/1", title="each example starts in a fresh world")
@given(n=st.integers(1, 10))
def test_fresh(world, case_transcript, n):
    assert world.now == 0 and len(world.transcript) == 0
    assert case_transcript is world.transcript
    world.transcript.event("pos", f"example {n}")
    world.run(until=world.timeout(n))
'''


def test_every_example_gets_a_fresh_world(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fresh=FRESH)
    result = pytester.runpytest("--examples", "30", "--cardloop-reports=rep")
    assert result.ret == 0, result.stdout.str()
    lines = (pytester.path / "rep" / "transcripts" / "toy_6_1.jsonl").read_text().splitlines()
    assert len(lines) == 1  # the transcript of one example, not of all of them


def test_flows_draw_sales_with_catalogue_actions() -> None:
    from hypothesis import given, settings

    from conformance.faults import load_catalogue
    from conformance.strategies import ENTRY_MODES, MAX_AMOUNT, Flow, flows

    cat = load_catalogue()
    human = {s.action for s in cat.layer("human")}
    card = {s.action for s in cat.layer("card")}
    seen_human: set[str] = set()

    @settings(max_examples=80, database=None)
    @given(flows())
    def check(flow: Flow) -> None:
        assert isinstance(flow.amount, int) and 1 <= flow.amount <= MAX_AMOUNT
        assert flow.entry in ENTRY_MODES and 1 <= flow.installments <= 12
        assert set(flow.human) <= human and set(flow.card) <= card
        seen_human.update(flow.human)

    check()
    assert len(seen_human) >= 2

    @settings(max_examples=20, database=None)
    @given(flows(entries=("contactless",), human=False, card=False, max_amount=5000))
    def plain(flow: Flow) -> None:
        assert flow.entry == "contactless" and flow.human == () and flow.card == ()
        assert flow.amount <= 5000

    plain()
