"""The bridge answers every request, whatever order and whatever content they come in."""

from __future__ import annotations

import json
from typing import Any

from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from simulator.world import World


def _lab(cards: list[Any] | None = None) -> tuple[World, Any, MposClient]:
    w = World(seed=3)
    lab = build_lab(w, readers=1, cards=cards or [])
    return w, lab, MposClient(w, lab.connect())


def test_init_process_close_sent_without_waiting_are_all_answered_and_free_the_reader() -> None:
    w, lab, c = _lab()  # no card: the pinpad would wait for one forever
    dev = lab.readers[0].device
    out: list[dict[str, Any]] = []

    def flow():  # type: ignore[no-untyped-def]
        c.send({"request_type": 2, "context_id": "b", "initialize": {"device_id": dev.id}})
        c.send({"request_type": 4, "context_id": "b", "process": {"amount": 100}})
        c.send({"request_type": 8, "context_id": "b"})
        for _ in range(3):
            out.append((yield from c.next_answer(timeout=600)))
        # a later context may take the reader at once
        out.append((yield from c.initialize("c", dev.id)))

    w.run(until=w.process(flow()))
    types = [a["response_type"] for a in out]
    assert 8 in types[:3], types  # close answered, whatever the others said
    assert types[3] == 2, out[3]  # and the reader is free for the next context
    assert w.now < 120, w.now  # well within the card wait


def test_process_without_a_card_ends_within_the_blocking_limit() -> None:
    w, lab, c = _lab()
    dev = lab.readers[0].device
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        yield from c.initialize("s", dev.id)
        out["process"] = yield from c.process("s", 100)
        out["close"] = yield from c.close("s")

    w.run(until=w.process(flow()))
    assert out["process"]["response_type"] == 9  # an answer, not silence
    assert out["close"]["response_type"] == 8
    assert dev.owner is None


def test_deep_nesting_surrogates_and_huge_numbers_get_the_generic_error() -> None:
    w, lab, c = _lab()
    answers: list[dict[str, Any]] = []
    bad = [
        "[" * 10_000 + "]" * 10_000,
        '{"request_type":7,"context_id":"\\ud800"}',
        '{"request_type":4,"context_id":"x","process":{"amount":1e26}}',
        '{"request_type":4,"context_id":"x","process":{"amount":1E+999999}}',
        '{"request_type":2,"context_id":"x","initialize":{"baud_rate":"99999999999999"}}',
    ]

    def flow():  # type: ignore[no-untyped-def]
        for text in bad:
            answers.append((yield from c.request(text, timeout=5)))
        answers.append((yield from c.list_devices("after")))

    w.run(until=w.process(flow()))
    assert [a["response_type"] for a in answers[:1]] == [9]
    assert answers[1]["response_type"] == 7 and answers[1]["context_id"] == "\ud800"
    assert [a["response_type"] for a in answers[2:5]] == [9, 9, 9]
    assert answers[5]["response_type"] == 1  # still serving
    # the transcript holds the surrogate as escape text and is valid UTF-8 JSON Lines
    for line in w.transcript.jsonl().splitlines():
        json.loads(line.encode("utf-8"))


def test_contexts_named_once_by_stateless_requests_are_not_kept() -> None:
    w, lab, c = _lab()

    unused = lab.server.timings["context_unused_expiry"]
    counts: list[int] = []

    def flow():  # type: ignore[no-untyped-def]
        for i in range(200):
            yield from c.request({"request_type": 7, "context_id": f"s{i}"})
            yield from c.request({"request_type": 4, "context_id": f"p{i}",
                                  "process": {"amount": 1}})
        counts.append(len(lab.server.contexts))
        yield w.timeout(unused + 1)
        yield from c.request({"request_type": 1, "context_id": "later"})
        counts.append(len(lab.server.contexts))

    w.run(until=w.process(flow()))
    # refused processes leave nothing behind; status-only contexts go once unused long
    assert counts[0] <= 200 and counts[1] == 1, counts


def test_idle_contexts_expire_and_free_their_reader() -> None:
    w, lab, c = _lab()
    dev = lab.readers[0].device
    limit = lab.server.timings["context_idle_expiry"]
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        yield from c.initialize("forgotten", dev.id)
        assert dev.owner == "forgotten"
        yield w.timeout(limit + 1)
        out["init"] = yield from c.initialize("new", dev.id)

    w.run(until=w.process(flow()))
    assert out["init"]["response_type"] == 2
    assert lab.server.contexts.get("forgotten") is None
    assert dev.owner == "new"


def test_every_reader_gets_the_cards_asked_for() -> None:
    import asyncio
    import shutil

    import pytest

    if shutil.which("socat") is None:
        pytest.skip("socat makes the pty pairs")
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.runtime import start_bridge

    async def main() -> list[list[str]]:
        world = World(seed=1, mode="realtime", factor=0.05)
        running = await start_bridge(
            world, readers=2, merchant_port=None,
            cards=lambda i: [card_from_name(world, "visa-chip-pin"),
                             card_from_name(world, "mc-chip-signature")])
        try:
            return [[getattr(c, "name", "") or type(c).__name__ for c in r.pinpad.cards]
                    for r in running.lab.readers]
        finally:
            await running.close()

    queues = asyncio.run(main())
    assert len(queues) == 2 and all(len(q) == 2 for q in queues), queues
