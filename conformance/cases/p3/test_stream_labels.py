"""payworks-p3.md §2.2 and the house rule on transcripts: a run's transcript names what each
chunk of the framed-TCP stream holds -- every whole P3 message by its type and tag, the
bytes of an unfinished or empty frame as such -- and never a payload. A vendor reading the
transcript of a failed run must see which frames the POS sent."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from conformance import case
from protocol_servers.p3 import tcpframes

from .test_transport import LOGIN

POS = "pos-labels"


def _frame(payload: bytes) -> bytes:
    """The 4-byte big-endian length, then the payload (§2.2), written here from the spec."""
    return struct.pack(">I", len(payload)) + payload


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/8", title="the transcript names each framed-TCP chunk's contents: a one-byte "
      "frame as a message that is not JSON, whole logins by type and tag, an empty frame "
      "and a cut frame as bytes of a frame, never the payload", section="2.2",
      failure="the transcript mislabels a chunk of the TCP stream: a frame read as a message "
      "it is not, or a message left out")
def test_stream_chunk_labels(p3: Any) -> None:
    p3.need_reference("the transcript of the reference's in-memory stream is read")
    c = p3.client(POS)
    two = LOGIN.replace(b"t-1", b"t-2")
    chunks = [
        _frame(b"x"),  # a whole frame of one byte: a message, not JSON
        _frame(LOGIN) + _frame(two)[:6],  # a whole login, then the start of the next
        _frame(two)[6:],
        b"\x00\x00\x00\x00",  # an empty frame: the server gives up on the stream
    ]
    assert tcpframes.encode(b"x") == chunks[0], "the suite's framing disagrees with §2.2"

    def script():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            c.send_raw(chunk)
            yield p3.world.timeout(0.05)
        yield from c.wait_for(lambda m: len(c.received) >= 4, timeout=5)

    p3.run(script)
    sent = [e.label for e in p3.world.transcript
            if e.port == POS and e.direction == "tx" and e.label.strip()]
    assert sent[:4] == [
        "P3 <not JSON>",
        "P3 LOGIN_MERCHANT_REQUEST tag=t-1; (6 bytes of a frame)",
        f"({len(_frame(two)) - 6} bytes of a frame)",
        "(4 bytes of a frame)",
    ], sent
    assert not any("merchantSecret" in label for label in sent)
