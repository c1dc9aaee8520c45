"""Serial pacing and the bounded receive buffer."""

from __future__ import annotations

import pytest

from simulator.pacing import FrameFormat, Pacing
from simulator.streams import byte_link
from simulator.world import World


@pytest.mark.parametrize(
    ("fmt", "bits"),
    [("8N1", 10), ("7E1", 10), ("8N2", 11), ("8E1", 11), ("7O2", 11), ("5N1.5", 7.5)],
)
def test_frame_formats(fmt, bits):
    assert FrameFormat.parse(fmt).bits_per_byte == bits


def test_bad_frame_format_is_a_clear_error():
    with pytest.raises(ValueError, match="bad serial frame format"):
        FrameFormat.parse("8X1")


@pytest.mark.parametrize(("baud", "fmt", "n"), [(9600, "8N1", 100), (115200, "8N2", 1000),
                                               (2400, "7E1", 37)])
def test_n_bytes_take_n_bits_over_baud(baud, fmt, n):
    w = World(seed=1)
    a, b = byte_link(w, "host", "pinpad", pacing=Pacing(baud, fmt))
    arrivals: list[float] = []
    count = 0

    def reader():
        nonlocal count
        while count < n:
            data = yield b.read()
            count += len(data)
            arrivals.append(w.now)

    a.write(bytes(range(256))[: n % 256] + bytes(n - n % 256))
    w.process(reader())
    w.run()
    bits = FrameFormat.parse(fmt).bits_per_byte
    assert count == n
    assert arrivals[-1] == pytest.approx(n * bits / baud, rel=1e-9)
    assert arrivals[0] == pytest.approx(bits / baud, rel=1e-9)  # first byte after one char time


def test_back_to_back_writes_queue_behind_each_other():
    w = World(seed=1)
    a, b = byte_link(w, "host", "pinpad", pacing=Pacing(1000, "8N1"))  # 10 ms a byte
    done: list[float] = []

    def reader():
        got = b""
        while len(got) < 4:
            got += yield b.read()
        done.append(w.now)
        assert got == b"abcd"

    a.write(b"ab")
    a.write(b"cd")
    w.process(reader())
    w.run()
    assert done == [pytest.approx(0.04)]


def test_close_waits_for_bytes_on_the_line():
    w = World(seed=1)
    a, b = byte_link(w, "host", "pinpad", pacing=Pacing(1000))
    got = []

    def reader():
        while True:
            data = yield b.read()
            got.append((round(w.now, 6), data))
            if not data:
                return

    a.write(b"xyz")
    a.close()
    w.process(reader())
    w.run()
    assert b"".join(d for _, d in got) == b"xyz"
    assert got[-1] == (0.03, b"")


def test_slow_reader_overruns_a_bounded_buffer():
    w = World(seed=1)
    a, b = byte_link(w, "host", "pinpad", pacing=Pacing(9600), rx_limit=16)

    def lazy_reader():
        yield w.timeout(1.0)  # 960 bytes arrive meanwhile; only 16 fit
        data = yield b.read()
        assert data == bytes(range(16))

    a.write(bytes(range(100)))
    w.process(lazy_reader())
    w.run()
    assert b.bytes_lost == 84
    assert b.overruns == 84  # one overrun per byte that found the FIFO full
    events = [e.label for e in w.transcript.select("pinpad", "event")]
    assert events[0] == "overrun: 1 byte(s) lost, receive buffer of 16 full"


def test_prompt_reader_never_overruns():
    w = World(seed=1)
    a, b = byte_link(w, "host", "pinpad", pacing=Pacing(9600), rx_limit=16)
    got = bytearray()

    def reader():
        while len(got) < 500:
            got.extend((yield b.read()))

    a.write(bytes(500))
    w.process(reader())
    w.run()
    assert b.overruns == 0 and len(got) == 500
