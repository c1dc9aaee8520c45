"""mpos-bridge.md §2.2 and §2.7: every kind of unreadable field, one request each.

The shipped bridge read requests with Newtonsoft into C# classes: a field that does not
convert to its type (an Int32, a bool, a string, an enum, an object, a list) throws
before the bridge acts, and the bridge answers the generic error naming the request type
(its enum name when the type itself was read, else ``UnknownCommand``), echoing the
context. Int32 bounds are inclusive: 2147483647 reads, 2147483648 does not. Each bad
request must leave the bridge serving and the context untouched.
"""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_all, first_device

GENERIC = "An error has occured with the [{}] request. See the log and contact the support."
CTX = "bad"


def _init(**body: Any) -> dict[str, Any]:
    return {"request_type": 2, "context_id": CTX, "initialize": body}


def _process(**body: Any) -> dict[str, Any]:
    return {"request_type": 4, "context_id": CTX, "process": {"amount": 1000, **body}}


def _finish(**body: Any) -> dict[str, Any]:
    return {"request_type": 5, "context_id": CTX,
            "finish": {"success": True, "response_code": 0, **body}}


# (request, the type name the generic error carries)
BAD: list[tuple[Any, str]] = [
    ({"request_type": 2, "context_id": CTX, "initialize": 5}, "Initialize"),
    ({"request_type": 2, "context_id": CTX, "initialize": [1]}, "Initialize"),
    (_init(baud_rate=True), "Initialize"),
    (_init(baud_rate=1.5), "Initialize"),
    (_init(baud_rate="2147483648"), "Initialize"),
    (_init(baud_rate=-2147483649), "Initialize"),
    (_init(baud_rate="1234567890123"), "Initialize"),
    (_init(timeout_milliseconds=2147483648), "Initialize"),
    (_init(timeout_milliseconds=10**50), "Initialize"),
    (_init(baud_rate="9" * 50), "Initialize"),
    (_init(baud_rate="fast" * 20), "Initialize"),
    (_init(baud_rate="\u0661\u0669\u0662\u0660\u0660"), "Initialize"),  # 19200, Arabic-Indic
    (_init(baud_rate="+-19200"), "Initialize"),
    (_init(baud_rate="9" * 5000), "Initialize"),
    (_init(timeout_milliseconds="12a"), "Initialize"),
    (_init(simple_initialize="yes"), "Initialize"),
    (_init(simple_initialize=1.5), "Initialize"),
    (_init(device_id={"id": 1}), "Initialize"),
    (_init(encryption_key=["ek"]), "Initialize"),
    (_process(amount=-1), "Process"),
    (_process(amount=True), "Process"),
    (_process(amount="R$10"), "Process"),
    (_process(amount=-(10**45)), "Process"),
    (_process(applications="visa"), "Process"),
    (_process(applications=[{"brand": "visa", "payment_method": 3}]), "Process"),
    (_process(applications=[{"brand": "visa", "payment_method": "cash"}]), "Process"),
    (_process(applications=[{"brand": {"n": 1}, "payment_method": 1}]), "Process"),
    (_process(applications=["visa"]), "Process"),
    (_process(magstripe_payment_method="cash"), "Process"),
    (_process(magstripe_payment_method=-1), "Process"),
    (_finish(success="maybe"), "Finish"),
    (_finish(success=0.5), "Finish"),
    (_finish(response_code="12a"), "Finish"),
    (_finish(response_code=2147483648), "Finish"),
    (_finish(emv_data={"91": "00"}), "Finish"),
    ({"request_type": 6, "context_id": CTX, "display_message": {"message": {"x": 1}}},
     "DisplayMessage"),
    ({"request_type": 6, "context_id": CTX, "display_message": "hello"}, "DisplayMessage"),
    ({"request_type": True, "context_id": CTX}, "UnknownCommand"),
    ({"request_type": 1.5, "context_id": CTX}, "UnknownCommand"),
    ({"request_type": 2147483648, "context_id": CTX}, "UnknownCommand"),
    ({"request_type": -2147483649, "context_id": CTX}, "UnknownCommand"),
    ({"request_type": [2], "context_id": CTX}, "UnknownCommand"),
]

# frames whose context cannot be read: the error's context_id is null
UNREADABLE: list[str] = [
    '{"request_type": 7, "context_id": {"id": "bad"}}',
    '{"request_type": 7, "context_id": ["bad"]}',
    "[7]",
    '"status"',
    "7",
    '{"request_type": 7, "context_id": "bad", "x": ' + "[" * 40 + "]" * 40 + "}",
]


@case(
    "mpos/2.7/10",
    title="each kind of unreadable field (wrong type, Int32 out of range, unknown enum "
    "value or name, non-object body, non-list applications) gets the generic error "
    "naming its request type; the context is untouched",
    section="2.7",
    failure="a malformed field is accepted as some value, or answered in another shape",
)
def test_every_bad_field(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        got = []
        for body, _ in BAD:
            got.append((yield from c.request(body)))
        loose = []
        for text in UNREADABLE:
            loose.append((yield from c.request(text)))
        status = yield from c.status(CTX)
        return got, loose, status

    got, loose, status = mpos_target.run(script)
    check_all(c)
    for (body, name), r in zip(BAD, got, strict=True):
        assert r["response_type"] == 9, (body, r)
        assert r["error"] == GENERIC.format(name), (body, r)
        assert r["context_id"] == CTX, (body, r)
        assert r["process"] is None and r["status"] is None, (body, r)
    for text, r in zip(UNREADABLE, loose, strict=True):
        assert r["response_type"] == 9 and r["context_id"] is None, (text, r)
        assert r["error"] == GENERIC.format("UnknownCommand"), (text, r)
    # no bad request moved the context: still fresh, so only initialize may follow
    assert status["status"]["code"] == 0 and status["status"]["connected_device_id"] is None


@case(
    "mpos/2.2/14",
    title="edge values that do read: Int32's ends (with any number of leading zeros), a "
    "signed number string with blanks, an integral float, a nonzero "
    "integer boolean, a null body, a boolean or number as a message, a null request_type",
    section="2.2",
    failure="a value Newtonsoft reads is refused, or read as another value",
)
def test_edge_values_read(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "edge")
        out: dict[str, Any] = {}
        out["init"] = yield from c.request({
            "request_type": 2, "context_id": "edge",
            "initialize": {"device_id": dev, "baud_rate": 19200.0, "simple_initialize": 2,
                           "timeout_milliseconds": "00000000002147483647"}})
        out["status"] = yield from c.status("edge")
        out["signed"] = yield from c.request({"request_type": " +0007 ", "context_id": "edge"})
        out["display"] = yield from c.request(
            {"request_type": 6, "context_id": "edge", "display_message": None})
        # a message that is not a string is written out as .NET would: True, False, 12
        out["shown"] = []
        for value in (True, False, 12):
            out["shown"].append((yield from c.request({
                "request_type": 6, "context_id": "edge",
                "display_message": {"message": value}})))
        out["null_type"] = yield from c.request({"request_type": None, "context_id": "edge"})
        # Int32's ends read as (undefined) request types: the sequence rule refuses them
        out["int32"] = []
        for end in (2147483647, -2147483648, "-2147483648"):
            out["int32"].append((yield from c.request(
                {"request_type": end, "context_id": "edge"})))
        out["close"] = yield from c.close("edge")
        return out

    out = mpos_target.run(script)
    check_all(c)
    assert out["init"]["response_type"] == 2, out["init"]
    assert out["status"]["status"]["code"] == 1
    assert out["signed"]["response_type"] == 7, out["signed"]
    # a null display_message shows an empty message (§2.5 type 6: null -> "")
    assert out["display"]["response_type"] == 6, out["display"]
    # a missing or null request_type is the enum's default, UnknownCommand (§2.7)
    assert out["null_type"]["response_type"] == 0, out["null_type"]
    assert out["null_type"]["context_id"] == "edge"
    assert out["close"]["response_type"] == 8
    for r in out["int32"]:
        assert r["response_type"] == 9 and r["context_id"] == "edge", r
        assert r["error"] == "Just follow operations allowed: Initialize, Process", r
    for r in out["shown"]:
        assert r["response_type"] == 6, r
    if mpos_target.reference:
        shown = [e.label for e in mpos_target.world.transcript if e.port.endswith("display")]
        for text in ("True", "False", "12"):
            assert any(s.startswith(f"[{text} ") for s in shown), (text, shown)
        # simple_initialize 2 is true: no table sync, so the pinpad was never asked GTS
        handled = [cmd for cmd, _ in mpos_target.lab.readers[0].pinpad.handled]
        assert "GTS" not in handled and "GDU" not in handled, handled
