"""The schedules of requests out of order and in races draw what the property cases need."""

from __future__ import annotations

from hypothesis import given, settings

from conformance.strategies import (
    ORDER_VOCABULARIES,
    Schedule,
    Send,
    play,
    request_bursts,
    request_orders,
    request_schedules,
)
from simulator.world import World

VOCAB = ORDER_VOCABULARIES["mpos"]


def test_every_protocol_has_a_vocabulary() -> None:
    assert set(ORDER_VOCABULARIES) == {"mpos", "p3", "connect", "valor", "gochip", "abecs"}
    assert all(len(v) >= 5 and len(set(v)) == len(v) for v in ORDER_VOCABULARIES.values())


@settings(max_examples=50, database=None)
@given(schedule=request_bursts(VOCAB, clients=3))
def test_a_burst_goes_out_at_one_instant_from_several_connections(schedule: Schedule) -> None:
    assert len(schedule.sends) >= 2 and all(s.gap == 0 for s in schedule.sends)
    assert len(schedule.bursts()) == 1
    assert {s.request for s in schedule.sends} <= set(VOCAB)
    assert schedule.clients == min(3, len(schedule.sends))


@settings(max_examples=50, database=None)
@given(schedule=request_orders(VOCAB, clients=2))
def test_orders_stay_in_the_vocabulary_and_on_the_connections(schedule: Schedule) -> None:
    assert all(s.request in VOCAB and 0 <= s.client < 2 for s in schedule.sends)
    assert sum(len(b) for b in schedule.bursts()) == len(schedule.sends)


def test_orders_reach_every_request_and_both_shapes() -> None:
    seen: set[str] = set()
    shapes: set[bool] = set()

    @settings(max_examples=300, database=None)
    @given(schedule=request_schedules(VOCAB))
    def draw(schedule: Schedule) -> None:
        seen.update(s.request for s in schedule.sends)
        shapes.add(len(schedule.bursts()) == 1 and len(schedule.sends) > 1)

    draw()
    assert seen == set(VOCAB)
    assert shapes == {True, False}  # bursts and spread-out sequences both come up


def test_play_sends_at_the_gaps_on_the_world_clock() -> None:
    world = World(seed=1)
    at: list[tuple[str, float]] = []
    schedule = Schedule((Send("a", 0, 0.0), Send("b", 1, 0.0), Send("c", 0, 2.5)))
    world.run(until=play(world, schedule, lambda s: at.append((s.request, world.now))))
    assert at == [("a", 0.0), ("b", 0.0), ("c", 2.5)]
    assert [len(b) for b in schedule.bursts()] == [2, 1]

