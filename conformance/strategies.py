"""Hypothesis strategies for payment flows and fault plans, and a state-machine base.

Property cases draw a flow (what the POS asks, how the cardholder behaves) and a
fault plan (which catalogue faults hit which ports, when), run them in a fresh
world, and check the house invariants after every step. On failure Hypothesis
shrinks to a minimal flow and the plugin prints the one command that replays it
(``python -m conformance -k NAME --seed N --replay BLOB``).

Budget and seed come from the run (``--examples``, ``--seed``): the plugin applies
them to ``@given`` cases; :func:`run_machine` does the same for state machines.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, run_state_machine_as_test

from conformance.faults import FaultSpec, load_catalogue
from conformance.invariants import PanWatch, ledger_balanced, one_final_answer
from simulator.timings import load_timings

if TYPE_CHECKING:
    from conformance.options import Options
    from simulator.faults import FaultPlan
    from simulator.world import World

ENTRY_MODES = ("chip", "contactless", "swipe")
MAX_AMOUNT = 99_999_999  # minor units; the widest amount field of the notes is 8 digits


def amounts(min_value: int = 1, max_value: int = MAX_AMOUNT) -> st.SearchStrategy[int]:
    """Amounts in integer minor units."""
    return st.integers(min_value=min_value, max_value=max_value)


@dataclass(frozen=True)
class FaultChoice:
    """One catalogue fault placed on one port, firing at chosen crossings."""

    spec: FaultSpec
    port: str
    direction: str
    on: tuple[int, ...] | None = None

    def build(self) -> Any:
        overrides: dict[str, Any] = {}
        if self.on is not None:
            overrides["on"] = self.on
        return self.spec.to_fault(self.port, self.direction, **overrides)

    def __repr__(self) -> str:  # what a shrunk example prints
        when = "always" if self.on is None else f"on {list(self.on)}"
        return f"FaultChoice({self.spec.id} @ {self.port}/{self.direction} {when})"


@dataclass(frozen=True)
class FaultDraw:
    choices: tuple[FaultChoice, ...] = ()

    def install(self, world: World) -> FaultPlan:
        """Add the drawn faults to the world's plan (before the ends are made)."""
        for c in self.choices:
            world.faults.add(c.build())
        return world.faults

    @property
    def expects(self) -> set[str]:
        return {c.spec.expect for c in self.choices}


def fault_specs(
    layers: Iterable[str] | None = None,
    kinds: Iterable[str] = ("port",),
    expect: Iterable[str] | None = None,
) -> st.SearchStrategy[FaultSpec]:
    cat = load_catalogue()
    ls = set(layers) if layers is not None else None
    ks = set(kinds)
    es = set(expect) if expect is not None else None
    pool = [
        s for s in cat.values()
        if s.kind in ks and (ls is None or s.layer in ls) and (es is None or s.expect in es)
    ]
    if not pool:
        raise ValueError("no catalogue fault matches")
    return st.sampled_from(pool)


def fault_plans(
    ports: Sequence[str],
    *,
    layers: Iterable[str] | None = None,
    expect: Iterable[str] | None = ("completes",),
    max_faults: int = 3,
    max_index: int = 8,
) -> st.SearchStrategy[FaultDraw]:
    """Port fault plans: up to ``max_faults`` catalogue faults on ``ports``.

    By default only faults the catalogue expects a flow to survive (``completes``),
    so a property can demand the normal final answer; pass ``expect=None`` to draw
    any fault and check only the invariants. Shrinks toward no fault at all.
    """
    choice = st.builds(
        FaultChoice,
        spec=fault_specs(layers=layers, kinds=("port",), expect=expect),
        port=st.sampled_from(list(ports)),
        direction=st.sampled_from(["rx", "tx"]),
        on=st.one_of(
            st.none(),
            st.lists(st.integers(0, max_index), min_size=1, max_size=3, unique=True).map(
                lambda xs: tuple(sorted(xs))
            ),
        ),
    )
    return st.lists(choice, max_size=max_faults).map(lambda cs: FaultDraw(tuple(cs)))


@dataclass(frozen=True)
class Flow:
    """One sale as a POS and a cardholder would make it."""

    amount: int
    entry: str = "chip"
    human: tuple[str, ...] = ()  # catalogue human actions, in order
    card: tuple[str, ...] = ()  # catalogue card actions
    installments: int = 1


def flows(
    *,
    entries: Sequence[str] = ENTRY_MODES,
    human: bool = True,
    card: bool = True,
    max_amount: int = MAX_AMOUNT,
) -> st.SearchStrategy[Flow]:
    cat = load_catalogue()
    human_actions = [s.action for s in cat.layer("human") if s.action] if human else []
    card_actions = [s.action for s in cat.layer("card") if s.action] if card else []
    return st.builds(
        Flow,
        amount=amounts(max_value=max_amount),
        entry=st.sampled_from(list(entries)),
        human=st.lists(st.sampled_from(human_actions), max_size=2).map(tuple)
        if human_actions else st.just(()),
        card=st.lists(st.sampled_from(card_actions), max_size=1).map(tuple)
        if card_actions else st.just(()),
        installments=st.integers(1, 12),
    )


def case_settings(options: Options, **overrides: Any) -> settings:
    """Hypothesis settings of the run: budget from ``--examples``, blobs printed,
    no example database (a run depends on its seed only)."""
    return settings(
        max_examples=options.examples,
        print_blob=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **overrides,
    )


@dataclass
class Book:
    """What a state machine tracks to check the house invariants.

    ``asked``/``answered`` are request ids (an answer is final); ``told`` is what the
    POS was told is approved (id -> amount). ``ledger`` is read from the acquirer.
    """

    asked: list[Any] = field(default_factory=list)
    answered: list[Any] = field(default_factory=list)
    told: dict[Any, int] = field(default_factory=dict)


class ProtocolMachine(RuleBasedStateMachine):
    """Base of a protocol's rule-based state machine.

    A subclass builds its server and clients in :meth:`setup_world` and writes
    rules that drive them, recording requests and final answers in :attr:`book`.
    After every step, :meth:`house_rules` runs the world until it settles and
    checks: one final answer per request, the ledger balances with what the POS
    was told, and no full PAN in the transcript. Subclasses add
    :meth:`ledger` (the acquirer's bookings) and may add their own invariants.
    """

    seed: int = 1
    settle_for: float = load_timings("conformance")["settle"]  # simulated s per step

    def __init__(self) -> None:
        super().__init__()
        from simulator.world import World

        self.world = World(seed=self.seed)
        self.book = Book()
        self._pans = PanWatch()  # the PAN scan reads each entry once
        self.setup_world()

    def setup_world(self) -> None:
        """Make the server, devices and clients (override)."""

    def ledger(self) -> Iterable[tuple[Hashable, int]]:
        """Every acquirer booking as (transaction id, amount) (override)."""
        return ()

    def known_pans(self) -> Iterable[str]:
        return ()

    def settle(self) -> None:
        self.world.run(until=self.world.now + self.settle_for)

    @invariant()
    def house_rules(self) -> None:
        self.settle()
        one_final_answer(self.book.asked, self.book.answered)
        ledger_balanced(self.ledger(), self.book.told)
        self._pans.check(self.world.transcript, self.known_pans())


def run_machine(
    machine: type[RuleBasedStateMachine] | Callable[[], RuleBasedStateMachine],
    options: Options,
    **overrides: Any,
) -> None:
    """Run a state machine as a conformance case, on the run's seed, budget and replay."""
    import hypothesis

    def factory() -> RuleBasedStateMachine:
        m = machine()
        return m

    if isinstance(machine, type) and issubclass(machine, ProtocolMachine):
        # each example's world uses the run's seed
        machine.seed = options.seed
    factory._hypothesis_internal_use_seed = options.seed  # type: ignore[attr-defined]
    if options.replay:
        blob = options.replay[2:-1] if options.replay.startswith("b'") else options.replay
        factory._hypothesis_internal_use_reproduce_failure = (  # type: ignore[attr-defined]
            hypothesis.__version__,
            blob.encode(),
        )
    # a factory, not the class: each example needs its world; Hypothesis calls it either way
    run_state_machine_as_test(
        factory,  # type: ignore[arg-type]
        settings=case_settings(options, **overrides),
    )


__all__ = [
    "Book",
    "FaultChoice",
    "FaultDraw",
    "Flow",
    "ProtocolMachine",
    "amounts",
    "case_settings",
    "fault_plans",
    "fault_specs",
    "flows",
    "run_machine",
]


# -- hostile input: the classes of malformed text every protocol server must answer ------
#
# Each class is a JSON value's *text* (what a client can put where a field's value goes),
# so every protocol's envelope can carry it: the soak (conformance/soak.py) and the
# Hypothesis strategy below draw from the same generator.

HOSTILE_CLASSES = (
    "surrogate",  # lone UTF-16 surrogates as JSON escapes: legal JSON, not encodable text
    "code_point",  # NUL, BOM, non-characters, RTL marks, the top of Unicode
    "numeric_extreme",  # 1e26, 1E+999999, -0, 1e-400, a 5,000-digit integer, NaN text
    "deep_nesting",  # ten thousand nested arrays or objects
    "oversize",  # a string past every frame limit we know (1 MiB and more)
    "wrong_type",  # objects, arrays, booleans and null where text or numbers belong
    "truncated",  # a message cut in the middle
    "invalid_utf8",  # bytes that are not UTF-8 at all
)

_ODD_POINTS = ("\\u0000", "\\ufeff", "\\uffff", "\\ufffe", "\\u202e", "\\udbff\\udfff",
               "\U0010ffff", "\u200b", "\x7f", "\\u0085")
_NUMBERS = ("1e26", "1E+999999", "-1E+999999", "-0", "1e-400", "9" * 5000, "0.0000001",
            "123456789012345678901234567890", "-1", "99999999999999.999", "2147483648",
            "-2147483649", "1.5", "0")


def hostile_value(rng: Any, kind: str | None = None) -> str | bytes:
    """The text of one hostile JSON value of class ``kind`` (drawn when None).

    ``invalid_utf8`` and ``truncated`` are not values: the first is raw bytes, the
    second a marker (``"\\x00TRUNCATE"``) telling the envelope builder to cut its
    message short.
    """
    kind = kind or rng.choice(HOSTILE_CLASSES)
    if kind == "surrogate":
        unit = rng.choice(("\\ud800", "\\udfff", "\\udbff", "\\udc00x", "a\\ud83d"))
        return f'"{unit * rng.randint(1, 3)}"'
    if kind == "code_point":
        return '"' + "".join(rng.choice(_ODD_POINTS) for _ in range(rng.randint(1, 6))) + '"'
    if kind == "numeric_extreme":
        return rng.choice(_NUMBERS)
    if kind == "deep_nesting":
        depth = rng.choice((40, 1000, 10_000))
        return "[" * depth + "]" * depth if rng.random() < 0.5 else \
            '{"a":' * depth + "1" + "}" * depth
    if kind == "oversize":
        return '"' + "x" * rng.choice((1 << 20, (1 << 20) + 17)) + '"'
    if kind == "wrong_type":
        return rng.choice(("{}", "[]", "true", "null", '{"$ref":"#"}', "[1,2,3]", '""'))
    if kind == "truncated":
        return "\x00TRUNCATE"
    if kind == "invalid_utf8":
        return bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randint(1, 12)))
    raise ValueError(f"unknown hostile class {kind!r}")


def hostile_message(rng: Any, envelope: Callable[[str], str], kind: str | None = None
                    ) -> str | bytes:
    """A whole malformed message: ``envelope(value_text)`` with one hostile value in it.

    ``envelope`` is the protocol's: it places the value in one of its fields (a tag,
    an amount, a type...). Raw-byte values are spliced into the UTF-8 of the message.
    """
    value = hostile_value(rng, kind)
    if isinstance(value, bytes):
        text = envelope('"@@"')
        head, _, tail = text.partition("@@")
        return head.encode() + value + tail.encode()
    if value == "\x00TRUNCATE":
        text = envelope('"cut"')
        return text[: rng.randint(1, max(1, len(text) - 1))]
    return envelope(value)


def hostile_messages(envelope: Callable[[str], str]) -> st.SearchStrategy[str | bytes]:
    """Hypothesis: malformed messages of every hostile class for one protocol."""
    return st.tuples(st.randoms(use_true_random=False), st.sampled_from(HOSTILE_CLASSES)).map(
        lambda pair: hostile_message(pair[0], envelope, pair[1]))


# -- requests out of order and in races -------------------------------------------------
#
# A POS that does not wait for answers sends a protocol's requests in any order, and
# several POS connections (or one POS pipelining) send at the same instant. A schedule is
# that: each send names a request of the protocol's vocabulary, the connection it goes
# on, and the simulated seconds since the previous send (0: the same instant, a burst).
# Each protocol's property case maps the names to its own requests and checks that every
# one is answered in the protocol's shape, that the server still serves afterwards, and
# the ledger invariant.

#: the requests each protocol's property case knows how to send (the names are its own)
ORDER_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "mpos": ("list", "initialize", "process", "finish", "display", "status", "close"),
    "p3": ("login", "charge", "refund", "abort", "signature", "abort_operation"),
    "connect": ("terminals", "details", "sale", "refund", "cancel", "duplicate", "report"),
    "gochip": ("ws_init", "configure", "init", "sale", "cancel", "amount", "info"),
    "valor": ("sale", "refund", "void", "status", "ping", "cancel", "settle"),
    "abecs": ("OPN", "GIN", "GTS", "DSP", "GCR", "GOC", "FNC", "RMC", "CLO", "CAN"),
}
#: gaps between sends: mostly none (a burst), sometimes a little, sometimes seconds
GAPS = (0.0, 0.0, 0.0, 0.01, 0.5, 3.0)


@dataclass(frozen=True)
class Send:
    """One request of a schedule: its name, the connection, the gap before it."""

    request: str
    client: int = 0
    gap: float = 0.0

    def __repr__(self) -> str:
        return f"{self.request}@{self.client}+{self.gap:g}"


@dataclass(frozen=True)
class Schedule:
    sends: tuple[Send, ...] = ()

    @property
    def clients(self) -> int:
        return 1 + max((s.client for s in self.sends), default=0)

    def bursts(self) -> list[list[Send]]:
        """The sends grouped by instant: each group goes out with no time between."""
        out: list[list[Send]] = []
        for s in self.sends:
            if not out or s.gap > 0:
                out.append([])
            out[-1].append(s)
        return out


def request_orders(vocabulary: Sequence[str], clients: int = 3, max_size: int = 8,
                   ) -> st.SearchStrategy[Schedule]:
    """Requests of ``vocabulary`` in any order, on up to ``clients`` connections, with
    mixed gaps. Shrinks toward fewer sends, the first request, one connection, no gap."""
    send = st.builds(Send, request=st.sampled_from(list(vocabulary)),
                     client=st.integers(0, max(0, clients - 1)), gap=st.sampled_from(GAPS))
    return st.lists(send, min_size=1, max_size=max_size).map(lambda s: Schedule(tuple(s)))


def request_bursts(vocabulary: Sequence[str], clients: int = 3, max_size: int = 6,
                   ) -> st.SearchStrategy[Schedule]:
    """Concurrent bursts: the same or different requests from every connection at the
    same instant (the same request from all of them is the race that matters most)."""
    def burst(draw_request: str, size: int, same: bool, others: list[str]) -> Schedule:
        names = [draw_request] * size if same else (others + [draw_request] * size)[:size]
        return Schedule(tuple(Send(n, i % clients, 0.0) for i, n in enumerate(names)))

    return st.builds(burst, st.sampled_from(list(vocabulary)), st.integers(2, max_size),
                     st.booleans(), st.lists(st.sampled_from(list(vocabulary)),
                                             max_size=max_size))


def request_schedules(vocabulary: Sequence[str], clients: int = 3, max_size: int = 8,
                      ) -> st.SearchStrategy[Schedule]:
    """Out-of-order sequences and concurrent bursts, for one protocol's property case."""
    return st.one_of(request_orders(vocabulary, clients, max_size),
                     request_bursts(vocabulary, clients, max(2, max_size - 2)))


def play(world: World, schedule: Schedule, send: Callable[[Send], object]) -> Any:
    """Run ``schedule`` in ``world``: ``send`` each request after its gap; returns the
    SimPy process (it ends when the last request went out)."""
    def script() -> Any:
        for s in schedule.sends:
            if s.gap > 0:
                yield world.timeout(s.gap)
            send(s)
        return len(schedule.sends)

    return world.process(script())


__all__ += ["GAPS", "ORDER_VOCABULARIES", "Schedule", "Send", "play", "request_bursts",
            "request_orders", "request_schedules"]
