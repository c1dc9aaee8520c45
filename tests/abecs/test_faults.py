"""Faults on the serial line, placed by Hypothesis: corrupted bytes, lost chunks, a slow
host, noise, CAN at any step. Whatever happens, every host call ends with a result or
an AbecsError, and the pinpad never wedges: once the line is clean it serves again."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.host import AbecsError, AbecsHost
from virtual_devices.abecs.linkfaults import CorruptByte, Delay, DropChunk, Noise
from virtual_devices.abecs.rig import VERSION, aid_records, make_rig, visa_swipe

FAULTS = st.sampled_from(["corrupt", "drop", "delay", "noise"])
PORTS = st.sampled_from(["host", "pinpad"])
PLACES = st.frozensets(st.integers(0, 30), min_size=1, max_size=4)


def build(kind: str, port: str, hits: frozenset[int], offset: int) -> Any:
    if kind == "corrupt":
        return CorruptByte(port, hits, offset=offset)
    if kind == "drop":
        return DropChunk(port, hits)
    if kind == "delay":
        return Delay(port, hits, seconds=1.0 + offset % 5)
    return Noise(port, hits)


def steps(host: AbecsHost) -> list[Any]:
    return [
        lambda: host.cancel(),
        lambda: host.opn(),
        lambda: host.dsp("TESTE"),
        lambda: host.load_tables(0, VERSION, aid_records()[:2]),
        lambda: host.gcr(m.GcrRequest(990, "261125", "120000", VERSION, app_type=2)),
        lambda: host.gpn(m.GpnRequest("4761739001010010")),
        lambda: host.clo("FIM"),
    ]


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.tuples(FAULTS, PORTS, PLACES, st.integers(0, 40)), min_size=1,
                      max_size=3),
       cancel_at=st.one_of(st.none(), st.floats(0.0, 8.0)))
def test_faults_never_wedge_the_pinpad(kinds: list[Any], cancel_at: float | None) -> None:
    rig = make_rig(seed=21, cards=[visa_swipe(), visa_swipe()],
                   behaviour=Behaviour(think_s=(0.5, 1.0)))
    rig.host.blocking_limit = 90.0
    for kind, port, hits, offset in kinds:
        rig.world.faults.add(build(kind, port, hits, offset))
    outcomes: list[str] = []

    def canceller() -> Any:
        assert cancel_at is not None
        yield rig.world.timeout(cancel_at)
        try:
            yield from rig.host.cancel()
        except AbecsError:
            pass

    def flow() -> Any:
        stray = rig.world.process(canceller()) if cancel_at is not None else None
        for step in steps(rig.host):
            try:
                yield from step()
                outcomes.append("ok")
            except AbecsError as exc:
                outcomes.append(f"error {exc.code}")
        if stray is not None:
            yield stray  # the stray CAN has been answered (or given up on)
        # a clean line again: the pinpad must answer at once
        rig.world.faults.faults.clear()
        # bytes still held back by a delay fault arrive first (a line keeps its order)
        yield rig.world.timeout(20.0)
        rig.host.session = None
        yield from rig.host.cancel()
        yield from rig.host.opn()
        return (yield from rig.host.gts(0))

    version = rig.run(flow)
    assert len(outcomes) == len(steps(rig.host))
    assert len(version) == 10


def test_lost_ack_is_recovered_by_the_response() -> None:
    rig = make_rig()
    rig.world.faults.add(DropChunk("pinpad", frozenset({0})))  # the pinpad's first ACK

    def flow() -> Any:
        return (yield from rig.host.gts(0))

    assert rig.run(flow) == "0000000000"


def test_corrupted_command_is_naked_and_resent() -> None:
    rig = make_rig()
    rig.world.faults.add(CorruptByte("host", frozenset({0}), offset=3))

    def flow() -> Any:
        yield from rig.host.dsp("OLA")

    rig.run(flow)
    sent = [e for e in rig.world.transcript.entries if e.port == "pinpad" and e.direction == "tx"]
    assert sent[0].label == "NAK" and sent[1].label == "ACK"
    assert rig.pinpad.display.current.line1.startswith("OLA")


def test_three_naks_end_the_exchange_with_a_link_error() -> None:
    rig = make_rig()
    rig.world.faults.add(CorruptByte("host", frozenset({0, 1, 2}), offset=3))

    def flow() -> Any:
        try:
            yield from rig.host.gts(0)
        except AbecsError as exc:
            return exc
        return None

    err = rig.run(flow)
    assert err is not None and err.code == -1 and "NAK" in str(err)


def test_slow_host_is_still_served() -> None:
    rig = make_rig()
    rig.world.faults.add(Delay("host", frozenset({1, 2, 3}), seconds=1.5))

    def flow() -> Any:
        yield from rig.host.opn(secure=False)
        yield from rig.host.dsp("DEVAGAR")
        return (yield from rig.host.gts(0))

    assert rig.run(flow) == "0000000000"
