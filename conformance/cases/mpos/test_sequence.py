"""mpos-bridge.md §2.6: contexts, the sequence rule, device ownership."""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_all, first_device, ready

SEQ = "Just follow operations allowed: {}"


@case(
    "mpos/2.6/1",
    title="process before initialize breaks the sequence rule",
    section="2.6",
    failure="the bridge runs a payment on a context that was never initialized",
)
def test_process_first(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.process("seq1", 1000))

    r = mpos_target.run(script)
    assert r["response_type"] == 9, r
    assert r["error"] == SEQ.format("Initialize")
    check_all(c)


@case(
    "mpos/2.6/2",
    title="finish right after initialize breaks the sequence rule",
    section="2.6",
    failure="finish is accepted without a process before it",
)
def test_finish_after_initialize(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "seq2", simple=True)
        return (yield from c.finish("seq2", success=True, response_code=0, emv_data=None))

    r = mpos_target.run(script)
    assert r["response_type"] == 9
    assert r["error"] == SEQ.format("Initialize, Process")


@case(
    "mpos/2.6/3",
    title="an undefined request_type integer fails the sequence rule",
    section="2.6",
    failure="undefined types (3, 9, 42) are answered as if they meant something",
)
def test_undefined_integer(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        out = []
        for t in (3, 9, 42):
            out.append((yield from c.request({"request_type": t, "context_id": "seq3"})))
        return out

    for r in mpos_target.run(script):
        assert r["response_type"] == 9
        assert r["error"] == SEQ.format("Initialize")


@case(
    "mpos/2.6/4",
    title="contexts are shared across connections",
    section="2.6",
    failure="a context initialized on one socket is unknown on another",
)
def test_contexts_global(mpos_target: Any) -> None:
    a = mpos_target.client("pos-a")
    b = mpos_target.client("pos-b")

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(a, "shared", simple=True)
        st = yield from b.status("shared")
        again = yield from b.initialize("shared", dev, simple=True)
        closed = yield from b.close("shared")
        after = yield from a.status("shared")
        return dev, st, again, closed, after

    dev, st, again, closed, after = mpos_target.run(script)
    assert st["response_type"] == 7 and st["status"]["code"] == 1
    assert st["status"]["connected_device_id"] == dev
    assert again["response_type"] == 3, "initialize on a Ready context must say AlreadyInitialized"
    assert closed["response_type"] == 8
    assert after["status"]["code"] == 0 and after["status"]["connected_device_id"] is None
    check_all(a)
    check_all(b)


@case(
    "mpos/2.6/5",
    title="a device belongs to one context at a time",
    section="2.6",
    failure="two contexts drive the same pinpad at once",
)
def test_device_in_use(mpos_target: Any) -> None:
    a = mpos_target.client("pos-a")
    b = mpos_target.client("pos-b")

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(a, "owner", simple=True)
        taken = yield from b.initialize("intruder", dev, simple=True)
        yield from a.close("owner")
        free = yield from b.initialize("intruder", dev, simple=True)
        yield from b.close("intruder")
        return taken, free

    taken, free = mpos_target.run(script)
    assert taken["response_type"] == 9
    assert taken["error"] == "Device already in use by context owner"
    assert free["response_type"] == 2, "the device stays taken after its context closed"


@case(
    "mpos/2.6/6",
    title="list devices, status, display and close are allowed at any time",
    section="2.6",
    failure="untracked requests are refused by the sequence rule",
)
def test_untracked_anytime(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        out = [
            (yield from c.list_devices("any")),
            (yield from c.status("any")),
            (yield from c.close("any")),
        ]
        return out

    types = [r["response_type"] for r in mpos_target.run(script)]
    assert types == [1, 7, 8]


@case(
    "mpos/2.6/7",
    title="initialize may follow initialize, and answers 3 once Ready",
    section="2.6",
    failure="re-initializing a ready context re-opens the pinpad or fails",
)
def test_initialize_twice(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "twice")
        one = yield from c.initialize("twice", dev, simple=True)
        two = yield from c.initialize("twice", dev, simple=True)
        yield from c.close("twice")
        return one, two

    one, two = mpos_target.run(script)
    assert one["response_type"] == 2 and two["response_type"] == 3
