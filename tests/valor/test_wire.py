"""The stream decoder: every framing, any split, junk reported once per run."""

from __future__ import annotations

import pytest

from protocol_servers.valor.wire import Frame, JsonStreamDecoder, Junk, encode

REQ = b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"100"}'


def frames(items: list[Frame | Junk]) -> list[tuple[bytes, str]]:
    return [(i.payload, i.style) for i in items if isinstance(i, Frame)]


@pytest.mark.parametrize("style", ["bare", "newline", "stx", "usb"])
def test_each_framing_round_trips(style: str) -> None:
    dec = JsonStreamDecoder()
    assert frames(dec.feed(encode(REQ, style))) == [(REQ, style)]  # type: ignore[arg-type]
    assert dec.buffered == 0


@pytest.mark.parametrize("style", ["bare", "newline", "stx", "usb"])
def test_byte_by_byte(style: str) -> None:
    dec = JsonStreamDecoder()
    wire = encode(REQ, style)  # type: ignore[arg-type]
    out: list[Frame | Junk] = []
    for i in range(len(wire)):
        out += dec.feed(wire[i:i + 1])
    got = frames(out)
    # a bare object is handed on at its brace; a newline arriving later marks the client
    assert got == [(REQ, "bare" if style == "newline" else style)]
    assert not [i for i in out if isinstance(i, Junk)]
    assert dec.newline_client == (style == "newline")


def test_braces_and_quotes_inside_strings() -> None:
    tricky = b'{"A":"} { \\" ]","B":{"C":["}"]}}'
    dec = JsonStreamDecoder()
    assert frames(dec.feed(tricky + tricky)) == [(tricky, "bare"), (tricky, "bare")]


def test_several_frames_in_one_read_keep_their_styles() -> None:
    dec = JsonStreamDecoder()
    wire = encode(REQ, "stx") + encode(REQ, "newline") + encode(REQ, "usb")
    assert [s for _, s in frames(dec.feed(wire))] == ["stx", "newline", "usb"]


def test_junk_is_one_item_per_run_and_reading_goes_on() -> None:
    dec = JsonStreamDecoder()
    out = dec.feed(b"hello world" + REQ)
    assert [type(i).__name__ for i in out] == ["Junk", "Frame"]


def test_bad_stx_frame_is_skipped_whole() -> None:
    dec = JsonStreamDecoder()
    out = dec.feed(b"\x02not json at all\x03" + encode(REQ, "stx"))
    assert [type(i).__name__ for i in out] == ["Junk", "Frame"]


def test_strict_refuses_bare() -> None:
    dec = JsonStreamDecoder(strict_stx=True)
    out = dec.feed(REQ + encode(REQ, "stx"))
    assert isinstance(out[0], Junk) and frames(out) == [(REQ, "stx")]


def test_limits() -> None:
    dec = JsonStreamDecoder(max_object=64)
    out = dec.feed(b'{"A":"' + b"x" * 100 + b'"}\n' + REQ)
    assert isinstance(out[0], Junk) and frames(out) == [(REQ, "bare")]
    deep = JsonStreamDecoder()
    out = deep.feed(b"[" * 40 + b"]" * 40 + b"\n" + REQ)
    assert isinstance(out[0], Junk) and frames(out)[-1] == (REQ, "bare")


def test_flush_gives_up_an_open_object() -> None:
    dec = JsonStreamDecoder()
    assert dec.feed(b'{"TRAN_MODE":"1"') == []
    assert dec.buffered
    out = dec.flush()
    assert len(out) == 1 and isinstance(out[0], Junk)
    assert frames(dec.feed(REQ)) == [(REQ, "bare")]


def test_junk_says_the_framing_its_bytes_show() -> None:
    from protocol_servers.valor.wire import JsonStreamDecoder, Junk

    cases = [(b"\x02not json\x03", "stx"), (b"<STX> nope <ETX>", "usb"),
             (b"nope\n", "newline"), (b"nope", None)]
    for raw, style in cases:
        (item,) = JsonStreamDecoder().feed(raw)
        assert isinstance(item, Junk) and item.style == style, (raw, item)
    dec = JsonStreamDecoder()
    dec.feed(b"\x02{")
    (cut,) = dec.flush()
    assert isinstance(cut, Junk) and cut.style == "stx"


def test_unreadable_input_is_answered_in_the_last_good_framing() -> None:
    from protocol_servers.valor.session import Reply, Session
    from protocol_servers.valor.wire import Frame, Junk

    s = Session({"EPI": "2000000001"}, last_style="bare")
    s.receive(Frame(b'{"TRAN_MODE":"96"}', "stx"))
    (act,) = s.receive(Junk("junk"))
    assert isinstance(act, Reply) and act.style == "stx"
    (act,) = s.receive(Junk("junk", "newline"))
    assert isinstance(act, Reply) and act.style == "newline"
