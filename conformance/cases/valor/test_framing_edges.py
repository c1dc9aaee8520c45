"""semi-and-websockets.md §A.3: the edges of the "JSON + newline" framing on TCP.

A client that ends each request with a newline may have that newline arrive in the next
read (a TCP segment boundary right after the closing brace). The terminal answers that
request at its brace, bare; once the newline shows up, the connection is a newline
client and every later answer carries the newline, even when the newline of a later
request is split off again. A client that never sends a newline keeps bare answers, and
blanks or a carriage return between bare requests change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

PING = b'{"TRAN_MODE":"96"}'
ACK = b'{"STATE":"0","MSG":"ACK"}'


def _answers(valor: Any, pos: Any, pieces: list[bytes]) -> bytes:
    """Send each piece in its own write, waiting for any answer in between; all that
    came back."""

    def script():  # type: ignore[no-untyped-def]
        for piece in pieces:
            n = len(pos.received)
            pos.send_raw(piece)
            if piece.endswith(b"}"):
                yield from pos.wait_frame(n, 5.0)
            yield valor.world.timeout(0.5)

    valor.run(script)
    return valor.arrived(pos)  # type: ignore[no-any-return]


@pytest.mark.parametrize("framing", ["bare"])
@case("valor/A.3/8", title="a newline that arrives in the next read makes the connection a "
      "newline client for good; a bare client's blanks change nothing", section="A.3",
      failure="a newline client whose newline is split off its request gets bare answers, "
      "and its line reader waits for ever; or a bare client gets newlines it never sent")
def test_split_newline_client(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("TCP segment boundaries are placed by the suite's in-memory line")
    newline = valor.pos()
    got = _answers(valor, newline, [PING, b"\n", PING, b"\n", PING, b"\n"])
    # the first answer went out bare at the brace; every later one carries the newline
    assert got == ACK + (ACK + b"\n") * 2, got
    crlf = valor.pos()  # a CR LF line ending, split off the same way
    got = _answers(valor, crlf, [PING, b"\r\n", PING, b"\r\n", PING, b"\r\n"])
    assert got == ACK + (ACK + b"\n") * 2, got
    bare = valor.pos()
    got = _answers(valor, bare, [PING, b" ", PING, b"\r", PING, b"\t", PING])
    assert got == ACK * 4, got
