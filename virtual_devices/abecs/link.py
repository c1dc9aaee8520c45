"""ABECS link layer (mpos-bridge.md §4.2) as sans-I/O state machines.

Both roles live here: :class:`PinpadLink` (answers ACK/NAK, resends on NAK, answers
CAN with EOT) and :class:`HostLink` (sends a command, retries on NAK, waits for the
response, cancels with CAN). Neither reads a clock or touches a port: feed them bytes
with ``receive_data`` and timer expiries with ``timer_expired``; they return a list of
*outputs*. :class:`Send` carries bytes to write, :class:`Arm`/:class:`Disarm` drive the
machine's single timer, everything else is an event for the layer above. A driver (a
SimPy process) does the waiting on the world's clock.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

EOT = 0x04
ACK = 0x06
DC2 = 0x12
DC3 = 0x13
NAK = 0x15
SYN = 0x16
ETB = 0x17
CAN = 0x18

ESCAPED = (DC3, SYN, ETB)
MAX_PKTDATA = 2049  # unescaped PKTDATA limit, ABECS 2.12 §2.2.1
MAX_TRIES = 3  # a packet is sent at most three times (two resends after NAK)
CAN_INSIDE = "CAN inside packet"
# The parameter-tagged ("Abecs") commands carry binary ids, lengths and values (ABECS
# 2.12 §3.1.3; the CEX example's response holds a raw 18h length byte), so in their
# packets, as in encrypted ones, 0x18 is data.
BINARY_IDS = frozenset({
    b"GIX", b"CLX", b"CEX", b"EBX", b"GCD", b"GTK", b"MNU", b"MLI", b"MLR", b"MLE", b"LMF",
    b"DMF", b"DSI", b"GCX", b"GED", b"GOX", b"FCX",
})

# Bytes that end a run the reader can copy in one slice. Idle: SYN and the control
# bytes (everything else is noise). Inside clear PKTDATA: DC3, SYN, ETB and CAN; inside
# encrypted PKTDATA CAN is data, so only the first three.
_ESCAPED_ANY = re.compile(b"[\x13\x16\x17]")
_IDLE_STOP = re.compile(b"[\x04\x06\x15\x16\x18]")
_CLEAR_STOP = re.compile(b"[\x13\x16\x17\x18]")
_ENCRYPTED_STOP = _ESCAPED_ANY


def crc16(data: bytes, crc: int = 0) -> int:
    """CRC-16/XMODEM: polynomial 0x1021, initial 0, no reflection, no final XOR.

    ``binascii.crc_hqx`` is exactly this CRC, computed in C: a bit-by-bit loop in Python
    was half the wall time of a simulated sale.
    """
    return binascii.crc_hqx(data, crc)


def escape(data: bytes) -> bytes:
    """Replace each of DC3, SYN and ETB by DC3 followed by the byte plus 0x20.

    DC3 goes first: its replacement starts with DC3, and the other two replacements
    must not be escaped again.
    """
    data = bytes(data)
    if _ESCAPED_ANY.search(data) is None:
        return data
    return (
        data.replace(b"\x13", b"\x13\x33").replace(b"\x16", b"\x13\x36")
        .replace(b"\x17", b"\x13\x37")
    )


def frame(pktdata: bytes) -> bytes:
    """``SYN | escaped PKTDATA | ETB | CRC16 MSB first``; the CRC bytes are not escaped.

    The CRC covers the unescaped PKTDATA plus ETB (§4.2); the spec escapes PKTDATA only,
    and a receiver reads the two bytes after ETB raw, so the CRC goes out raw.
    """
    if not pktdata:
        raise ValueError("an ABECS packet carries at least one byte")
    if len(pktdata) > MAX_PKTDATA:
        raise ValueError(f"PKTDATA of {len(pktdata)} bytes exceeds {MAX_PKTDATA}")
    crc = crc16(pktdata + bytes((ETB,)))
    return bytes((SYN,)) + escape(pktdata) + bytes((ETB, crc >> 8, crc & 0xFF))


# -- outputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Arm:
    seconds: float
    reason: str


@dataclass(frozen=True)
class Disarm:
    pass


@dataclass(frozen=True)
class PacketReceived:
    """A packet with a good CRC; ``pktdata`` is unescaped (may start with DC2)."""

    pktdata: bytes


@dataclass(frozen=True)
class CancelReceived:
    """The host sent CAN; the pinpad has already answered EOT."""


@dataclass(frozen=True)
class LinkError:
    """A receive problem the layer above may want to log (bad CRC, overflow, timeout)."""

    reason: str


@dataclass(frozen=True)
class ResponseReceived:
    pktdata: bytes


@dataclass(frozen=True)
class Acked:
    """The pinpad accepted the command (ACK)."""


@dataclass(frozen=True)
class Failed:
    """The host's exchange ended without a response; ``reason`` says why."""

    reason: str


@dataclass(frozen=True)
class Cancelled:
    """The pinpad answered EOT to CAN."""


Output = (
    Send | Arm | Disarm | PacketReceived | CancelReceived | LinkError | ResponseReceived
    | Acked | Failed | Cancelled
)


# -- the receiver shared by both roles -----------------------------------------------


class _Rx(Enum):
    IDLE = "idle"  # between packets: control bytes count, other bytes are noise
    DATA = "data"  # after SYN, before ETB
    ESC = "esc"  # after DC3
    CRC1 = "crc1"
    CRC2 = "crc2"


@dataclass(frozen=True)
class Frame:
    pktdata: bytes
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Control:
    byte: int


class FrameReader:
    """Turns a byte stream into complete frames and bare control bytes.

    Bytes that are neither SYN nor a control byte while idle are noise and are dropped
    (a real UART sees line noise between packets). A frame that grows past
    :data:`MAX_PKTDATA` is reported as bad and the reader returns to idle.
    """

    def __init__(self) -> None:
        self.state = _Rx.IDLE
        self._buf = bytearray()
        self._crc = 0
        self._overflow = False
        self.trailing_can = False  # the last byte was 0x18 inside an encrypted packet

    @property
    def in_frame(self) -> bool:
        return self.state is not _Rx.IDLE

    @property
    def encrypted(self) -> bool:
        return self._buf[:1] == bytes((DC2,))

    @property
    def binary(self) -> bool:
        """Encrypted, or a parameter-tagged command or response: any byte is data."""
        return self.encrypted or bytes(self._buf[:3]) in BINARY_IDS

    def reset(self) -> None:
        self.state = _Rx.IDLE
        self._buf.clear()
        self._overflow = False
        self.trailing_can = False

    def feed(self, data: bytes) -> list[Frame | Control]:
        """Read ``data``; return the frames it completed and the bare control bytes.

        Runs of plain bytes (noise while idle, PKTDATA between special bytes) are found
        with one regular-expression search and copied as one slice; only the bytes that
        change state go through :meth:`_step` one at a time.
        """
        out: list[Frame | Control] = []
        i, n = 0, len(data)
        while i < n:
            st = self.state
            if st is _Rx.IDLE:
                m = _IDLE_STOP.search(data, i)
                if m is None:
                    break  # the rest is noise
                i = m.start()
                if data[i] == SYN:
                    end = self._whole_frame(data, i, out)
                    if end:
                        i = end
                        continue
            elif st is _Rx.DATA and self._buf:
                stop = _ENCRYPTED_STOP if self.binary else _CLEAR_STOP
                m = stop.search(data, i)
                j = n if m is None else m.start()
                if j > i:
                    self._extend(data[i:j])
                    # only binary PKTDATA copies a 0x18 (in classic clear PKTDATA it stops)
                    self.trailing_can = data[j - 1] == CAN
                    i = j
                    continue
            self._step(data[i], out)
            i += 1
        return out

    def _whole_frame(self, data: bytes, at: int, out: list[Frame | Control]) -> int:
        """A frame that lies whole in ``data`` from the SYN at ``at``, read in slices.

        Returns where the frame ends after adding it to ``out``, or 0 to let the state
        machine read it byte by byte (a frame cut across chunks, an escape first, an
        overflow, SYN or CAN before ETB). The frame and the state it leaves are those
        the byte-by-byte path gives.
        """
        first = at + 1
        n = len(data)
        if first >= n or data[first] in (DC3, SYN, ETB, CAN):
            return 0
        binary = data[first] == DC2 or data[first : first + 3] in BINARY_IDS
        stop = _ENCRYPTED_STOP if binary else _CLEAR_STOP
        pieces: list[bytes] = []
        size = 0
        start = first
        while True:
            m = stop.search(data, start)
            if m is None:
                return 0
            k = m.start()
            byte = data[k]
            if byte == DC3:
                if k + 1 >= n:
                    return 0
                pieces += (data[start:k], bytes(((data[k + 1] - 0x20) & 0xFF,)))
                size += k - start + 1
                start = k + 2
                continue
            if byte != ETB or k + 2 >= n:
                return 0
            pieces.append(data[start:k])
            size += k - start
            break
        if size > MAX_PKTDATA:
            return 0
        pkt = b"".join(pieces)
        self._crc = (data[k + 1] << 8) | data[k + 2]
        self.reset()
        if crc16(bytes((ETB,)), crc16(pkt)) != self._crc:
            out.append(Frame(pkt, False, "CRC mismatch"))
        else:
            out.append(Frame(pkt, True))
        return k + 3

    def _step(self, b: int, out: list[Frame | Control]) -> None:
        """One byte through the receive state machine."""
        st = self.state
        if st is _Rx.IDLE:
            if b == SYN:
                self.state = _Rx.DATA
                self._buf.clear()
                self._overflow = False
            elif b in (ACK, NAK, EOT, CAN):
                out.append(Control(b))
        elif st is _Rx.DATA:
            if b == ETB:
                self.state = _Rx.CRC1
            elif b == DC3:
                self.state = _Rx.ESC
            elif b == SYN:
                # a new start inside a packet: the earlier one was cut short
                out.append(Frame(bytes(self._buf), False, "SYN inside packet"))
                self._buf.clear()
                self._overflow = False
            elif b == CAN and not self.binary:
                # classic clear PKTDATA is ASCII (§4.3 field formats), so 0x18 in it can only
                # be the host's CAN after a packet cut short: CAN wins in any state
                out.append(Frame(bytes(self._buf), False, CAN_INSIDE))
                self.reset()
                out.append(Control(CAN))
            else:
                # binary PKTDATA may hold any byte but the escaped ones: there 0x18
                # is data, and only a stalled packet (inter-byte timeout) ends it
                self.trailing_can = b == CAN
                self._extend(bytes((b,)))
        elif st is _Rx.ESC:
            self._extend(bytes(((b - 0x20) & 0xFF,)))
            self.state = _Rx.DATA
        elif st is _Rx.CRC1:
            self._crc = b << 8
            self.state = _Rx.CRC2
        else:
            self._crc |= b
            pkt = bytes(self._buf)
            overflow = self._overflow
            self.reset()
            if overflow:
                out.append(Frame(b"", False, f"packet longer than {MAX_PKTDATA} bytes"))
            elif not pkt:
                out.append(Frame(pkt, False, "empty packet"))
            elif crc16(bytes((ETB,)), crc16(pkt)) != self._crc:
                out.append(Frame(pkt, False, "CRC mismatch"))
            else:
                out.append(Frame(pkt, True))

    def _extend(self, chunk: bytes) -> None:
        """Add unescaped PKTDATA; what goes past :data:`MAX_PKTDATA` is dropped."""
        room = MAX_PKTDATA - len(self._buf)
        if len(chunk) > room:
            self._overflow = True
            chunk = chunk[: max(room, 0)]
        self._buf += chunk


# -- pinpad role ---------------------------------------------------------------------


@dataclass
class LinkTimings:
    """The link's delays in seconds (loaded from timings.toml by the drivers)."""

    ack_wait: float = 2.0
    eot_wait: float = 2.0
    response_wait: float = 10.0
    inter_byte: float = 2.0
    resync_silence: float = 0.5


class PinpadLink:
    """The pinpad side: validates packets, ACKs or NAKs them, resends on NAK.

    Choices where the note is silent:
    - A complete packet with a bad CRC is NAKed at once (its boundaries are clear). A
      packet cut short (inter-byte timeout, overflow, SYN inside a packet) puts the
      receiver into resynchronisation: input is discarded until 500 ms of silence and
      only then NAK is sent, so the host's resend is not thrown away with the noise.
    - CAN is answered with EOT immediately, whatever the state, including during
      resynchronisation.
    """

    def __init__(self, timings: LinkTimings | None = None) -> None:
        self.t = timings or LinkTimings()
        self.reader = FrameReader()
        self.last_response: bytes | None = None
        self.resyncing = False
        self._frame_timer = False  # the inter-byte timer runs for the packet being read
        # rules a test may switch off to show that the conformance suite notices
        self.check_crc = True  # ``+no-crc-check``: take packets whatever their CRC
        self.resend_on_nak = True  # ``+no-nak-resend``: ignore the host's NAK

    def send_packet(self, pktdata: bytes) -> list[Output]:
        """Frame a response or notification; responses are kept for a NAK resend."""
        wire = frame(pktdata)
        self.last_response = wire
        return [Send(wire)]

    def forget_last(self) -> None:
        self.last_response = None

    def receive_data(self, data: bytes) -> list[Output]:
        out: list[Output] = []
        if self.resyncing:
            if CAN in data:
                self.resyncing = False
                self.reader.reset()
                out += [Disarm(), Send(bytes((EOT,))), CancelReceived()]
                rest = data[data.rindex(CAN) + 1 :]
                return out + (self.receive_data(rest) if rest else [])
            return [Arm(self.t.resync_silence, "resync")]
        for item in self.reader.feed(data):
            if isinstance(item, Control):
                if item.byte == CAN:
                    out += [Send(bytes((EOT,))), CancelReceived()]
                elif (item.byte == NAK and self.last_response is not None
                      and self.resend_on_nak):
                    out.append(Send(self.last_response))
                # ACK/EOT/stray NAK from the host: nothing to do
            elif item.ok or (item.reason == "CRC mismatch" and not self.check_crc):
                self.last_response = None
                self._frame_timer = False
                out += [Send(bytes((ACK,))), PacketReceived(item.pktdata)]
            elif item.reason == CAN_INSIDE:
                self._frame_timer = False
                out.append(LinkError(item.reason))  # the CAN itself follows
            elif item.reason == "CRC mismatch" or item.reason == "empty packet":
                self._frame_timer = False
                out += [Send(bytes((NAK,))), LinkError(item.reason)]
            else:
                out += self._start_resync(item.reason)
                return out
        if not self.reader.in_frame:
            self._frame_timer = False
            out.append(Disarm())
        elif not (self.reader.trailing_can and self._frame_timer):
            # a 0x18 at the end of what arrived may be the host's CAN after a stall: it
            # does not extend the inter-byte deadline, so the stall still times out
            self._frame_timer = True
            out.append(Arm(self.t.inter_byte, "inter-byte"))
        return out

    def _start_resync(self, reason: str) -> list[Output]:
        self.resyncing = True
        self._frame_timer = False
        self.reader.reset()
        return [LinkError(reason), Arm(self.t.resync_silence, "resync")]

    def timer_expired(self) -> list[Output]:
        if self.resyncing:
            self.resyncing = False
            return [Send(bytes((NAK,))), Disarm()]
        if self.reader.in_frame:
            return self._start_resync("inter-byte timeout")
        return []


# -- host role -----------------------------------------------------------------------


class _H(Enum):
    IDLE = "idle"
    WAIT_ACK = "wait-ack"
    WAIT_RESPONSE = "wait-response"
    WAIT_EOT = "wait-eot"


class HostLink:
    """The host side of one exchange at a time: command, ACK, (NTM…), response.

    ``send_command`` starts an exchange; ``blocking`` commands wait for the response
    without a deadline (the layer above cancels with :meth:`cancel`). The exchange ends
    with :class:`ResponseReceived`, :class:`Failed` or :class:`Cancelled`; notification
    packets arrive as :class:`ResponseReceived` too — telling NTM from the response is
    the application layer's business — and the layer above calls :meth:`continue_waiting`
    to keep waiting after one.
    """

    def __init__(self, timings: LinkTimings | None = None) -> None:
        self.t = timings or LinkTimings()
        self.reader = FrameReader()
        self.state = _H.IDLE
        self._wire = b""
        # the counters of one exchange: send_command (tries, NAKs) and cancel (CAN tries)
        # set them before anything reads them, so they have no value of their own here
        self._tries: int
        self._naks_sent: int
        self._can_tries: int
        self._blocking = False
        # frames read in the same chunk after a notification (NTM + response together)
        self._backlog: list[Frame | Control] = []

    @property
    def busy(self) -> bool:
        return self.state is not _H.IDLE

    def send_command(self, pktdata: bytes, blocking: bool = False) -> list[Output]:
        if self.state is not _H.IDLE:
            raise RuntimeError(f"an exchange is already running ({self.state.value})")
        self._wire = frame(pktdata)
        self._tries = 1
        self._naks_sent = 0
        self._blocking = blocking
        self.reader.reset()
        self._backlog = []
        self.state = _H.WAIT_ACK
        return [Send(self._wire), Arm(self.t.ack_wait, "ACK")]

    def cancel(self) -> list[Output]:
        """Send CAN (also when idle: a host should start every session with one)."""
        self.state = _H.WAIT_EOT
        self._can_tries = 1
        self.reader.reset()
        self._backlog = []
        return [Send(bytes((CAN,))), Arm(self.t.eot_wait, "EOT")]

    def continue_waiting(self) -> list[Output]:
        """After a notification: keep waiting for the real response."""
        self.state = _H.WAIT_RESPONSE
        out = [self._response_timer()]
        if self._backlog:
            out += self.receive_data(b"")  # the response that came in the same chunk
        return out

    def _response_timer(self) -> Output:
        if self._blocking:
            return Disarm()
        return Arm(self.t.response_wait, "response")

    def _finish(self, event: Output) -> list[Output]:
        self.state = _H.IDLE
        return [Disarm(), event]

    def receive_data(self, data: bytes) -> list[Output]:
        out: list[Output] = []
        if self.state is _H.IDLE:
            return out  # unsolicited bytes: the pinpad never talks unless asked
        if self.state is _H.WAIT_EOT:
            # every byte but EOT is ignored while waiting for it (§4.2), framing included
            if EOT in data:
                self.reader.reset()
                return self._finish(Cancelled())
            return out
        items = self._backlog + self.reader.feed(data)
        self._backlog = []
        for index, item in enumerate(items):
            st = self.state
            if isinstance(item, Control):
                if st is _H.WAIT_ACK and item.byte == ACK:
                    self.state = _H.WAIT_RESPONSE
                    out += [Acked(), self._response_timer()]
                elif st is _H.WAIT_ACK and item.byte == NAK:
                    if self._tries >= MAX_TRIES:
                        return out + self._finish(Failed("NAK three times"))
                    self._tries += 1
                    out += [Send(self._wire), Arm(self.t.ack_wait, "ACK")]
                continue
            if st is _H.WAIT_ACK:
                # a response before the ACK: the ACK was lost on the line; accept it
                self.state = _H.WAIT_RESPONSE
                out.append(Acked())
                st = _H.WAIT_RESPONSE
            if st is _H.WAIT_RESPONSE:
                if item.ok:
                    self.state = _H.IDLE
                    self._backlog = items[index + 1 :]
                    return out + [Disarm(), ResponseReceived(item.pktdata)]
                if self._naks_sent >= MAX_TRIES:
                    return out + self._finish(Failed(f"bad response three times ({item.reason})"))
                self._naks_sent += 1
                out += [Send(bytes((NAK,))), LinkError(item.reason), self._response_timer()]
        if self.reader.in_frame and self.state is _H.WAIT_RESPONSE:
            out.append(Arm(self.t.inter_byte, "inter-byte"))
        return out

    def timer_expired(self) -> list[Output]:
        st = self.state
        if st is _H.WAIT_ACK:
            return self._finish(Failed("no ACK within the wait"))
        if st is _H.WAIT_EOT:
            if self._can_tries >= MAX_TRIES:
                return self._finish(Failed("no EOT after three CAN"))
            self._can_tries += 1
            return [Send(bytes((CAN,))), Arm(self.t.eot_wait, "EOT")]
        if st is _H.WAIT_RESPONSE:
            if self.reader.in_frame:
                self.reader.reset()
                if self._naks_sent >= MAX_TRIES:
                    return self._finish(Failed("response cut short three times"))
                self._naks_sent += 1
                return [Send(bytes((NAK,))), LinkError("inter-byte timeout"),
                        self._response_timer()]
            return self._finish(Failed("no response within the wait"))
        return []


def describe(outputs: Iterable[Output]) -> str:
    """A short text of a batch of outputs, for debugging and transcripts."""
    return ", ".join(type(o).__name__ for o in outputs)
