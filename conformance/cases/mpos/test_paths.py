"""mpos-bridge.md §2.5–§2.7: paths a plain session never takes — a pinpad that fails
initialize, the busy-context rule of each profile, undefined request types past a
switched-off sequence rule, finish's mapping to FNC, a close that ends queued work,
and the forgetting of idle contexts.

Expected answers are written from the note (the exact strings of §2.7, the FNC COMMST of
§2.5 type 5 and §4.9), never taken from the bridge's codec.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conformance import case
from conformance.options import get_options

from .conftest import MposTarget
from .steps import check_all, check_response, first_device, ready

GENERIC = "An error has occured with the [{}] request. See the log and contact the support."
SEQ = "Just follow operations allowed: {}"
IN_USE = "Device already in use by context {}"
AMOUNT = 2590


def _reference(request: pytest.FixtureRequest, world: Any, spec: str) -> Iterator[MposTarget]:
    """A reference bridge with the profile ``spec``: the quirks a profile switches are the
    reference's own, so a foreign target skips these cases."""
    if get_options(request.config).target("mpos") is not None:
        pytest.skip("a profile's quirks belong to the reference")
    from protocol_servers.mpos.profiles import parse_profile

    target = MposTarget(world, None, parse_profile(spec))
    try:
        yield target
    finally:
        target.close()


def _need_lab(target: Any) -> None:
    if target.lab is None or target.world.mode != "virtual":
        pytest.skip("the pinpads are inside the reference")


@case(
    "mpos/2.5/52",
    title="a pinpad that fails initialize (no PIN key: GDU 042; no room for the tables: "
    "TLE 021; power lost as OPN arrives): "
    "the generic error, the context stays Uninitialized and the device free",
    section="2.5",
    failure="a failed initialize is reported as done, leaves the context Ready or keeps "
    "the device bound to it",
)
def test_initialize_fails_at_the_pinpad(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    from conformance.faults import power_timings
    from virtual_devices.abecs import power

    pad = mpos_target.lab.readers[0].pinpad
    c = mpos_target.client()
    out: dict[str, Any] = {}
    key16 = pad.keys.pop(16)  # a pinpad loaded without the acquirer's DUKPT PIN key

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "nokey")
        out["dev"] = dev
        out["full"] = yield from c.initialize("nokey", dev)
        out["status"] = yield from c.status("nokey")
        # simple_initialize skips the key probe and the tables: the same pinpad opens
        out["simple"] = yield from c.initialize("other", dev, simple=True)
        out["other_status"] = yield from c.status("other")
        yield from c.close("other")
        pad.keys[16] = key16
        # a pinpad whose table memory cannot hold the acquirer's tables: TLE 021
        room = pad.tables.capacity
        pad.tables.capacity = 1000
        out["full_tables"] = yield from c.initialize("small", dev)
        out["small_status"] = yield from c.status("small")
        out["small_simple"] = yield from c.initialize("small", dev, simple=True)
        yield from c.close("small")
        pad.tables.capacity = room
        out["retry"] = yield from c.initialize("nokey", dev)
        yield from c.close("nokey")
        # power goes as OPN arrives: the pinpad answers nothing until it has booted
        power.arm(mpos_target.world, power.PowerFault(at="OPN", off=0.0))
        out["dark"] = yield from c.initialize("dark", dev)
        out["dark_status"] = yield from c.status("dark")
        yield mpos_target.world.timeout(power_timings()["boot_time"] + 1.0)
        out["taken"] = yield from c.initialize("dark2", dev, simple=True)
        yield from c.close("dark2")
        yield from c.close("dark")
        return None

    mpos_target.run(script)
    check_all(c)
    for key, ctx in (("full", "nokey"), ("full_tables", "small"), ("dark", "dark")):
        assert out[key]["response_type"] == 9, (key, out[key])
        assert out[key]["error"] == GENERIC.format("Initialize"), (key, out[key])
        assert out[key]["context_id"] == ctx
    assert ("TLE", 21) in pad.handled, "the small pinpad never refused the tables"
    assert out["small_simple"]["response_type"] == 2, out["small_simple"]
    for key in ("status", "small_status", "dark_status"):
        st = out[key]["status"]
        assert st["code"] == 0 and st["connected_device_id"] is None, (key, st)
    assert ("GDU", 42) in pad.handled, "the bridge never asked for its PIN key"
    assert out["simple"]["response_type"] == 2, "the device stayed bound to the failed context"
    assert out["other_status"]["status"]["connected_device_id"] == out["dev"]
    assert out["retry"]["response_type"] == 2, out["retry"]
    assert out["taken"]["response_type"] == 2, "the device stayed bound after a dark pinpad"


@pytest.fixture(params=["documented", "bifrost-0.0.19"])
def profiled(request: pytest.FixtureRequest, world: Any) -> Iterator[MposTarget]:
    yield from _reference(request, world, request.param)


@case(
    "mpos/2.6/30",
    title="process on a context whose initialize failed: 'Another operation is in "
    "progress' as the generic error; bifrost-0.0.19 then keeps the context locked until "
    "close, the documented profile does not",
    section="2.6",
    failure="the busy rule is not applied, or the shipped lock quirk is wrong for a profile",
)
def test_busy_context(profiled: Any) -> None:
    c = profiled.client()
    out: dict[str, Any] = {}

    def answer_within(seconds: float):  # type: ignore[no-untyped-def]
        try:
            return (yield from c.next_answer(timeout=seconds))
        except Exception:  # noqa: BLE001 - NoAnswer: the context is locked
            return None

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "busy")
        out["bad_init"] = yield from c.initialize("busy", "no-such-device")
        out["process"] = yield from c.process("busy", AMOUNT)
        c.send({"request_type": 2, "context_id": "busy", "initialize": {
            "device_id": dev, "simple_initialize": True}})
        out["init"] = yield from answer_within(30.0)
        out["status"] = yield from c.status("busy")
        # past the idle limits (15 min, §2.6 note): another context's request lets the
        # bridge sweep; a locked context is not forgotten, an idle Ready one is
        yield profiled.world.timeout(1000.0)
        yield from c.status("elsewhere")
        out["late_status"] = yield from c.status("busy")
        c.send({"request_type": 2, "context_id": "busy", "initialize": {
            "device_id": dev, "simple_initialize": True}})
        out["init2"] = yield from answer_within(30.0)
        out["close"] = yield from c.close("busy")
        yield from c.drain_unsolicited(2.0)
        out["after"] = yield from c.initialize("busy", dev, simple=True)
        yield from c.close("busy")
        return None

    profiled.run(script)
    check_all(c)
    assert out["bad_init"]["error"] == GENERIC.format("Initialize"), out["bad_init"]
    # the sequence rule lets process follow a (failed) initialize; the context is not Ready
    assert out["process"]["response_type"] == 9
    assert out["process"]["error"] == GENERIC.format("Process"), out["process"]
    assert out["process"]["process"] is None
    assert out["close"]["response_type"] == 8
    assert out["after"]["response_type"] == 2, "close did not free the context's name"
    st, late = out["status"]["status"], out["late_status"]["status"]
    if profiled.profile.busy_error_keeps_lock:
        assert out["init"] is None, "bifrost-0.0.19 left the lock of a busy context free"
        assert st["code"] == 0 and st["connected_device_id"] is None, st
        assert out["init2"] is None, "a locked context was forgotten or unlocked while idle"
    else:
        assert out["init"] is not None and out["init"]["response_type"] == 2, out["init"]
        assert st["code"] == 1 and st["connected_device_id"] is not None, st
        # Ready and idle past the limit: forgotten, so initialize starts it afresh
        assert late["code"] == 0 and late["connected_device_id"] is None, late
        assert out["init2"] is not None and out["init2"]["response_type"] == 2, out["init2"]


@case(
    "mpos/2.5/54",
    title="initialize without device_id: the documented profile takes the first free "
    "device, bifrost-0.0.19 answers the generic error",
    section="2.5",
    failure="a missing device_id is handled against the profile",
)
def test_initialize_without_device(profiled: Any) -> None:
    c = profiled.client()

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "nodev")
        r = yield from c.initialize("nodev", None, simple=True)
        st = yield from c.status("nodev")
        yield from c.close("nodev")
        return dev, r, st

    dev, r, st = profiled.run(script)
    check_all(c)
    if profiled.profile.pick_first_device:
        assert r["response_type"] == 2, r
        assert st["status"]["code"] == 1 and st["status"]["connected_device_id"] == dev
    else:
        assert r["response_type"] == 9 and r["error"] == GENERIC.format("Initialize"), r
        assert st["status"]["code"] == 0 and st["status"]["connected_device_id"] is None


@case(
    "mpos/2.5/55",
    title="initialize without device_id when every device is taken (one still opening) "
    "answers the generic error; the owners keep their devices",
    section="2.5",
    failure="a context without a device id takes another context's device",
)
def test_no_free_device(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    if not mpos_target.profile.pick_first_device:
        pytest.skip("the profile never picks a device")
    c = mpos_target.client()
    slow = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("a")
        ids = [d["id"] for d in r["device_list"]]
        silent = [d["id"] for d in r["device_list"] if d["port"].startswith("/dev/ttyS")]
        out = {}
        out["a"] = yield from c.initialize("a", mpos_target.lab.readers[0].device.id, simple=True)
        out["b"] = yield from c.initialize("b", mpos_target.lab.readers[1].device.id, simple=True)
        # the third port has nothing behind it: its initialize waits for the pinpad
        slow.send({"request_type": 2, "context_id": "s", "initialize": {
            "device_id": silent[0], "simple_initialize": True}})
        yield mpos_target.world.timeout(0.5)
        out["d"] = yield from c.initialize("d", None, simple=True)
        out["a_st"] = yield from c.status("a")
        out["b_st"] = yield from c.status("b")
        out["s"] = yield from slow.next_answer(timeout=600.0)
        for ctx in ("a", "b", "d", "s"):
            yield from c.close(ctx)
        return ids, out

    ids, out = mpos_target.run(script)
    check_all(c)
    assert len(ids) == 3, ids
    assert out["a"]["response_type"] == 2 and out["b"]["response_type"] == 2
    assert out["d"]["response_type"] == 9 and out["d"]["error"] == GENERIC.format("Initialize")
    assert out["a_st"]["status"]["code"] == 1 and out["b_st"]["status"]["code"] == 1
    assert out["s"]["response_type"] == 9, out["s"]


@pytest.fixture(params=["documented", "documented+card-decline-report"])
def reporting(request: pytest.FixtureRequest, world: Any) -> Iterator[MposTarget]:
    yield from _reference(request, world, request.param)


@case(
    "mpos/2.5/56",
    title="a card that declines at FNC: finish answers 5, or with +card-decline-report a "
    "type 9 'Transaction ...' — only when the host had approved (code 0, success true)",
    section="2.5",
    failure="finish reports a card decline the host caused, or hides one the card made",
)
def test_card_decline_report(reporting: Any) -> None:
    c = reporting.client()
    answers: list[dict[str, Any]] = []
    # host approved; host refused (51); host not reached; a card that accepts the approval
    runs = [(True, 0), (True, 51), (False, 0), (True, 0)]
    cards = ["visa-card-decline-2nd-gac"] * 3 + ["visa-chip-pin"]

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "cd")
        for (success, code), card in zip(runs, cards, strict=True):
            reporting.present(card)
            reporting.cardholder(presentation="insert")
            p = yield from c.process("cd", AMOUNT)
            assert p["response_type"] == 4, p
            # the host's own answer (its ARPC for the card), as the POS's backend gets it
            txn = reporting.merchant(p["process"]["card_hash"], AMOUNT)
            answers.append((yield from c.finish("cd", success=success, response_code=code,
                                                emv_data=txn.get("card_emv_response"))))
        yield from c.close("cd")
        yield from c.drain_unsolicited(1.0)

    reporting.run(script)
    check_all(c)
    first, *rest = answers
    if reporting.profile.report_card_decline:
        assert first["response_type"] == 9 and first["error"].startswith("Transaction "), first
        assert first["context_id"] == "cd"
    else:
        assert first["response_type"] == 5 and first["error"] is None, first
    for a in rest:
        assert a["response_type"] == 5 and a["error"] is None, [x["error"] for x in answers]


@pytest.fixture
def no_sequence(request: pytest.FixtureRequest, world: Any) -> Iterator[MposTarget]:
    yield from _reference(request, world, "documented+no-sequence-rule")


@case(
    "mpos/2.6/31",
    title="with the sequence rule switched off, an undefined request_type (3, 9, 42) gets "
    "the generic error naming its number, and the bridge keeps serving",
    section="2.6",
    failure="an undefined type past the sequence check is answered as a command, not at "
    "all, or ends the connection",
)
def test_undefined_type_without_sequence_rule(no_sequence: Any) -> None:
    c = no_sequence.client()

    def script():  # type: ignore[no-untyped-def]
        out = []
        for t in (3, 9, 42, "3"):
            out.append((yield from c.request({"request_type": t, "context_id": "u"})))
        # process before initialize, now allowed by the (absent) rule: not Ready -> busy
        out.append((yield from c.process("u", AMOUNT)))
        out.append((yield from c.status("u")))
        return out

    got = no_sequence.run(script)
    check_all(c)
    # an undefined enum value prints as its number (.NET Enum.ToString)
    for r, name in zip(got[:4], ("3", "9", "42", "3"), strict=True):
        assert r["response_type"] == 9 and r["context_id"] == "u", r
        assert r["error"] == GENERIC.format(name), r
    assert got[4]["response_type"] == 9 and got[4]["error"] == GENERIC.format("Process")
    assert got[5]["response_type"] == 7 and got[5]["status"]["code"] == 0


ISSUER_SAMPLE = "9108E64A2FE21FD88672"


def _fnc_sent(world: Any, port: str) -> list[str]:
    """The FNC command frames the bridge sent (transcript labels, ``[sec]`` stripped)."""
    out = []
    for line in world.transcript.jsonl().splitlines():
        rec = json.loads(line)
        label = str(rec["label"]).removeprefix("[sec] ")
        if rec["port"] == port and rec["dir"] == "tx" and label.startswith("FNC"):
            out.append(label)
    return out


@case(
    "mpos/2.5/53",
    title="finish's success and response_code become FNC's COMMST: 0 for code 0, 9 for "
    "1..999, 1 for 1000 and up or success false (absent: code 0, success false); emv_data "
    "that is not hex is left out",
    section="2.5",
    failure="finish tells the card the host approved when it did not (or the reverse)",
)
def test_finish_commst(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    c = mpos_target.client()
    cases = [  # (success, response_code, emv_data, COMMST the card must get)
        (True, 0, None, "0"),
        (True, 5, None, "9"),
        (True, 999, None, "9"),
        (True, 1000, None, "1"),
        (True, 1001, None, "1"),
        (False, 0, None, "1"),
        (True, 0, "not hex", "0"),
        (True, 0, ISSUER_SAMPLE, "0"),  # the note's FNC sample issuer data (§4.9)
        (True, None, None, "0"),     # no response_code: 0
        (None, 0, None, "1"),        # no success: false
    ]
    answers: list[dict[str, Any]] = []

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "fnc")
        for success, code, emv, _ in cases:
            mpos_target.present("visa-chip-pin")
            mpos_target.cardholder(presentation="insert")
            p = yield from c.process("fnc", AMOUNT)
            assert p["response_type"] == 4, p
            body = {"success": success, "response_code": code, "emv_data": emv}
            answers.append((yield from c.request({
                "request_type": 5, "context_id": "fnc",
                "finish": {k: v for k, v in body.items() if v is not None}})))
        yield from c.close("fnc")
        yield from c.drain_unsolicited(1.0)

    mpos_target.run(script)
    check_all(c)
    for a in answers:
        assert a["response_type"] == 5 and a["error"] is None, a
    sent = _fnc_sent(mpos_target.world, "bridge.serial0")
    assert len(sent) == len(cases), sent
    # FNC block 1: CMD_ID, CMD_LEN1 (3), then COMMST (§4.9)
    got = [label[6] for label in sent]
    assert got == [want for *_, want in cases], got
    # then ISSMODE (0) and ARC: "00" with COMMST 1 (§4.9: the host was not reached,
    # the other fields are zero); else the response code's last two digits, the
    # reference's reading of a four-digit Pagar.me code as the two-character ARC
    arcs = [label[7:10] for label in sent]
    want_arcs = ["0" + ("00" if st == "1" else f"{code or 0:04d}"[-2:])
                 for _, code, _, st in cases]
    assert arcs == want_arcs, (arcs, want_arcs)
    # ISSDATLEN counts the issuer data's bytes: 10 for the sample; 000 without (none
    # given, not hex)
    lens = [label[10:13] for label in sent]
    assert lens == ["010" if emv == ISSUER_SAMPLE else "000" for _, _, emv, _ in cases], lens


@case(
    "mpos/2.6/32",
    title="close while process waits for a card: status says InUse meanwhile; close "
    "answers 8, the process and a display queued behind it are each answered once, and "
    "the device is free again",
    section="2.6",
    failure="close leaves queued requests unanswered or the device bound",
)
def test_close_ends_queued_work(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    c = mpos_target.client()
    other = mpos_target.client()
    out: dict[str, Any] = {}

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(c, "q")
        out["dev"] = dev
        mpos_target.lab.readers[0].pinpad.cards.clear()  # nobody presents a card
        c.send({"request_type": 4, "context_id": "q", "process": {"amount": AMOUNT}})
        yield mpos_target.world.timeout(5.0)
        # status answers at once during the payment (§2.5 type 7: 2 InUse)
        out["busy"] = yield from other.status("q")
        c.send({"request_type": 6, "context_id": "q",
                "display_message": {"message": "queued"}})
        yield mpos_target.world.timeout(1.0)
        c.send({"request_type": 8, "context_id": "q"})
        seen = len(c.answers)
        got = []
        for _ in range(3):
            got.append((yield from c.next_answer(timeout=30.0)))
        out["answers"] = got
        yield from c.drain_unsolicited(5.0)
        out["extra"] = c.answers[seen + len(got):]
        out["status"] = yield from other.status("q")
        out["again"] = yield from other.initialize("q2", dev, simple=True)
        yield from other.close("q2")

    mpos_target.run(script)
    check_all(c)
    by_type: dict[int, list[dict[str, Any]]] = {}
    for a in out["answers"]:
        check_response(a)
        by_type.setdefault(a["response_type"], []).append(a)
    assert len(by_type.get(8, [])) == 1, out["answers"]
    assert not out["extra"], f"answered twice: {out['extra']}"
    errors = by_type.get(9, [])
    assert len(errors) == 2, out["answers"]
    texts = sorted(e["error"] for e in errors)
    assert GENERIC.format("DisplayMessage") in texts, texts
    assert any(t.startswith("Transaction ") or t == GENERIC.format("Process") for t in texts)
    busy = out["busy"]["status"]
    assert busy["code"] == 2 and busy["connected_device_id"] == out["dev"], busy
    assert out["status"]["status"]["code"] == 0
    assert out["again"]["response_type"] == 2, "close left the device bound"


@case(
    "mpos/2.6/33",
    title="a context idle for 15 minutes is forgotten and its device freed; one named "
    "within that time is kept; one that never got a device is forgotten after a minute",
    section="2.6",
    failure="idle contexts keep their devices forever, or live ones are dropped",
)
def test_idle_context_expires(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    if mpos_target.profile.busy_error_keeps_lock:
        pytest.skip("a busy error locks the context in this profile (mpos/2.6/30)")
    c = mpos_target.client()
    out: dict[str, Any] = {}

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(c, "idle", simple=True)
        yield from c.status("idle")
        yield mpos_target.world.timeout(890.0)  # under the limit (900 s)
        out["kept"] = yield from c.initialize("idle2", dev, simple=True)
        out["kept_status"] = yield from c.status("idle2")
        yield mpos_target.world.timeout(920.0)  # "idle" last named 1810 s ago
        out["freed"] = yield from c.initialize("idle2", dev, simple=True)
        out["gone"] = yield from c.status("idle")
        yield from c.close("idle2")
        yield from c.close("idle")
        # late in the run, a context idle for a short while is kept
        yield from ready(c, "late", simple=True)
        yield mpos_target.world.timeout(100.0)
        out["late"] = yield from c.status("late")
        yield from c.close("late")
        # a context whose initialize failed holds nothing but its place in the sequence
        # (Initialize done, so process may follow): kept while named within a minute...
        yield from c.initialize("nodev", "no-such-device")
        yield mpos_target.world.timeout(20.0)
        yield from c.status("other")
        # a refused request does not make the bridge forget a context it knows
        out["refused"] = yield from c.finish("nodev", success=False, response_code=0,
                                             emv_data=None)
        out["kept_seq"] = yield from c.process("nodev", 1000)
        # ...and forgotten after a minute unnamed: a process then starts afresh
        yield mpos_target.world.timeout(70.0)
        yield from c.status("other")
        out["fresh_seq"] = yield from c.process("nodev", 1000)
        yield from c.close("other")

    mpos_target.run(script)
    check_all(c)
    assert out["kept"]["response_type"] == 9, out["kept"]
    assert out["kept"]["error"] == IN_USE.format("idle"), out["kept"]
    assert out["kept_status"]["status"]["code"] == 0
    assert out["freed"]["response_type"] == 2, out["freed"]
    assert out["late"]["status"]["code"] == 1, "a context idle 100 s was forgotten"
    assert out["refused"]["error"] == SEQ.format("Initialize, Process"), out["refused"]
    assert out["kept_seq"]["error"] == GENERIC.format("Process"), out["kept_seq"]
    assert out["fresh_seq"]["error"] == SEQ.format("Initialize"), out["fresh_seq"]
    gone = out["gone"]["status"]
    assert gone["code"] == 0 and gone["connected_device_id"] is None, gone


# every spelling of each request type: (value, type it names, read by bifrost-0.0.19 too).
# Newtonsoft reads an enum from its integer, a numeric string or its member name in any
# case (§2.2); the README's names (``close``, ``list_devices``, ``display_message``) are
# not member names, which the documented profile accepts as well.
ALIASES: list[tuple[Any, int, bool]] = [
    ("ListDevices", 1, True), ("listDevices", 1, True), ("LISTDEVICES", 1, True),
    ("list_devices", 1, False), ("1", 1, True),
    ("Initialize", 2, True), ("initialize", 2, True), ("2", 2, True),
    ("Process", 4, True), ("process", 4, True), ("4", 4, True),
    ("Finish", 5, True), ("finish", 5, True), ("5", 5, True),
    ("DisplayMessage", 6, True), ("displayMessage", 6, True), ("display_message", 6, False),
    ("6", 6, True),
    ("Status", 7, True), ("status", 7, True), ("7", 7, True),
    ("CloseContext", 8, True), ("closecontext", 8, True), ("close", 8, False), ("8", 8, True),
    ("UnknownCommand", 0, True), ("unknowncommand", 0, True), ("0", 0, True),
]
# a body each type refuses, so the generic error names the type it was read as
UNREADABLE_BODY: dict[int, tuple[str, Any]] = {
    2: ("initialize", {"baud_rate": "fast"}),
    4: ("process", {"amount": -1}),
    5: ("finish", {"response_code": "12a"}),
    6: ("display_message", "not an object"),
}
TYPE_NAMES = {2: "Initialize", 4: "Process", 5: "Finish", 6: "DisplayMessage"}
ANSWER_TYPE = {0: 0, 1: 1, 7: 7, 8: 8}


@case(
    "mpos/2.2/15",
    title="every spelling of every request type (member name in any case, numeric string, "
    "the README's names) is read as that type; bifrost-0.0.19 refuses the README's names",
    section="2.2",
    failure="a request type spelling is read as another type, or refused against the profile",
)
def test_every_request_type_alias(profiled: Any) -> None:
    c = profiled.client()

    def script():  # type: ignore[no-untyped-def]
        got = []
        for value, rtype, _ in ALIASES:
            body: dict[str, Any] = {"request_type": value, "context_id": "alias"}
            if rtype in UNREADABLE_BODY:
                key, bad = UNREADABLE_BODY[rtype]
                body[key] = bad
            got.append((yield from c.request(body)))
        return got

    got = profiled.run(script)
    check_all(c)
    documented = profiled.profile.accept_document_names
    for (value, rtype, shipped), r in zip(ALIASES, got, strict=True):
        assert r["context_id"] == "alias", (value, r)
        if not shipped and not documented:
            assert r["response_type"] == 9, (value, r)
            assert r["error"] == GENERIC.format("UnknownCommand"), (value, r)
        elif rtype in UNREADABLE_BODY:
            assert r["response_type"] == 9, (value, r)
            assert r["error"] == GENERIC.format(TYPE_NAMES[rtype]), (value, r)
        else:
            assert r["response_type"] == ANSWER_TYPE[rtype], (value, r)
            assert r["error"] is None, (value, r)


@case(
    "mpos/2.7/11",
    title="a POS that disconnects, even with a request running, leaves the bridge serving "
    "the others and its context usable from another connection",
    section="2.7",
    failure="a closed connection stops the bridge or leaves the context locked",
)
def test_disconnect_keeps_serving(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    a = mpos_target.client("pos-a")
    b = mpos_target.client("pos-b")
    out: dict[str, Any] = {}

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(a, "gone", simple=True)
        out["dev"] = dev
        yield from a.status("gone")
        a.send({"request_type": 6, "context_id": "gone",
                "display_message": {"message": "bye"}})
        a.end.close()
        yield mpos_target.world.timeout(2.0)
        out["list"] = yield from b.list_devices("still")
        out["status"] = yield from b.status("gone")
        out["display"] = yield from b.display("gone", "hello")
        out["close"] = yield from b.close("gone")
        out["again"] = yield from b.initialize("new", dev, simple=True)
        yield from b.close("new")

    mpos_target.run(script)
    check_all(b)
    assert out["list"]["response_type"] == 1 and out["list"]["device_list"]
    st = out["status"]["status"]
    assert st["code"] == 1 and st["connected_device_id"] == out["dev"], st
    assert out["display"]["response_type"] == 6, out["display"]
    assert out["close"]["response_type"] == 8
    assert out["again"]["response_type"] == 2


@case(
    "mpos/2.6/34",
    title="the reference's housekeeping to the second: a context with no device is "
    "forgotten once idle past 60 s, one in use once idle past 900 s (exactly 60 or 900 "
    "is not past), looked for at most every 6 s, at the first request after that",
    section="2.6",
    failure="contexts are forgotten early, late, or at another pace than documented",
)
def test_housekeeping_edges(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    profile = mpos_target.profile
    if profile.busy_error_keeps_lock or not profile.sequence_rule:
        pytest.skip("the busy lock or the missing sequence rule hides what is kept")
    # the reference's documented choices (protocol_servers/mpos/timings.toml):
    # context_unused_expiry 60 s, context_idle_expiry 900 s, a sweep at most every 6 s.
    # Message links deliver at once in virtual time, so requests land at exact times.
    world = mpos_target.world
    c = mpos_target.client()
    out: dict[str, Any] = {}

    def at(t: float):  # type: ignore[no-untyped-def]
        yield world.timeout(t - world.now)

    def failed_initialize(ctx: str):  # type: ignore[no-untyped-def]
        r = yield from c.initialize(ctx, "no-such-device")
        assert r["error"] == GENERIC.format("Initialize"), r

    def script():  # type: ignore[no-untyped-def]
        assert world.now == 0.0, world.now
        yield from c.status("tick")                 # t=0: the first sweep
        yield from failed_initialize("U")           # U: no device, named at 0
        yield from at(55.0)
        yield from c.status("tick")                 # sweep: U idle 55, kept
        yield from at(61.0)
        out["U"] = yield from c.process("U", 1000)  # 6 s on: sweep, U idle 61: gone
        yield from failed_initialize("V")           # V named at 61
        yield from at(117.0)
        yield from c.status("tick")                 # sweep: V idle 56, kept
        yield from at(122.5)
        out["V"] = yield from c.process("V", 1000)  # 5.5 s on: no sweep, V kept
        yield from at(130.0)
        yield from failed_initialize("W")           # sweep; W named at 130
        yield from at(190.0)
        yield from c.status("tick")                 # sweep: W idle exactly 60, kept
        out["W"] = yield from c.process("W", 1000)
        yield from at(200.0)
        dev = yield from ready(c, "R", simple=True)
        yield from at(300.0)
        yield from c.status("R")                    # R in use, named at 300
        yield from at(1200.0)
        yield from c.status("tick")                 # sweep: R idle exactly 900, kept
        out["R_kept"] = yield from c.status("R")
        yield from at(2106.0)
        yield from c.status("tick")                 # sweep: R idle 906, gone
        out["R_gone"] = yield from c.status("R")
        out["dev"] = dev
        for ctx in ("R", "tick", "U", "V", "W"):
            yield from c.close(ctx)

    mpos_target.run(script)
    check_all(c)
    assert out["U"]["error"] == SEQ.format("Initialize"), ("U was kept", out["U"])
    assert out["V"]["error"] == GENERIC.format("Process"), ("V was forgotten", out["V"])
    assert out["W"]["error"] == GENERIC.format("Process"), ("W was forgotten", out["W"])
    kept = out["R_kept"]["status"]
    assert kept["code"] == 1 and kept["connected_device_id"] == out["dev"], kept
    gone = out["R_gone"]["status"]
    assert gone["code"] == 0 and gone["connected_device_id"] is None, gone


@case(
    "mpos/2.6/35",
    title="close while process waits on a pinpad that lost power (no EOT to CAN, no CLO "
    "answer): close still answers 8, process is answered once, and once the pinpad is "
    "back a new context is served",
    section="2.6",
    failure="a dark pinpad makes close fail or hang, or leaves the device bound",
)
def test_close_on_a_dark_pinpad(mpos_target: Any) -> None:
    _need_lab(mpos_target)
    from conformance.faults import power_timings
    from virtual_devices.abecs import power

    c = mpos_target.client()
    out: dict[str, Any] = {}
    world = mpos_target.world

    def script():  # type: ignore[no-untyped-def]
        dev = yield from ready(c, "dark")
        mpos_target.present("visa-chip-pin")
        fault = power.arm(world, power.PowerFault(at="GCR", off=30.0, kind="power_loss"))
        c.send({"request_type": 4, "context_id": "dark", "process": {"amount": AMOUNT}})
        yield world.timeout(0.5)
        c.send({"request_type": 8, "context_id": "dark"})
        seen = len(c.answers)
        got = []
        for _ in range(2):
            got.append((yield from c.next_answer(timeout=120.0)))
        yield from c.drain_unsolicited(5.0)
        out["extra"] = c.answers[seen + len(got):]
        out["answers"] = got
        out["fired"] = bool(fault.fired)
        out["status"] = yield from c.status("dark")
        yield world.timeout(30.0 + power_timings()["boot_time"] + 1.0)
        out["again"] = yield from c.initialize("back", dev, simple=True)
        yield from c.close("back")

    mpos_target.run(script)
    check_all(c)
    assert out["fired"], "the pinpad never lost power"
    kinds = sorted(a["response_type"] for a in out["answers"])
    assert kinds == [8, 9], out["answers"]
    assert not out["extra"], out["extra"]
    assert out["status"]["status"]["code"] == 0
    assert out["again"]["response_type"] == 2, out["again"]
