"""A POS's side of the mpos-bridge protocol, as SimPy process helpers.

The protocol has no request ids (mpos-bridge.md §2.1): a client correlates answers by
order, and must set aside the unsolicited ``Error: <code>`` frames the bridge sends
when the pinpad reports an error (§2.7). This helper does exactly that, so the demo,
the benchmarks and the conformance cases all read the wire the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from simulator.streams import MessageEnd
    from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]

_UNSOLICITED = re.compile(r"^Error: (-?\d+|\[-?\d+\].*)$")


class NoAnswer(Exception):
    """The connection closed, or the wait ran out, before an answer came."""


def is_unsolicited(frame: dict[str, Any]) -> bool:
    """The SDK's ``Errored`` frame: type 9, null context, null process, ``Error: <n>``."""
    return (
        frame.get("response_type") == 9
        and frame.get("context_id") is None
        and frame.get("process") is None
        and isinstance(frame.get("error"), str)
        and bool(_UNSOLICITED.match(frame["error"]))
    )


@dataclass
class MposClient:
    world: World
    end: MessageEnd
    unsolicited: list[dict[str, Any]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    raw_answers: list[str] = field(default_factory=list)
    # a read abandoned by a timeout; the next read reuses it so no frame is lost
    _pending: simpy.Event | None = None

    def _recv(self) -> simpy.Event:
        got, self._pending = self._pending, None
        return got if got is not None else self.end.recv()

    def send(self, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        self.sent.append(text)
        self.end.send(text)

    def next_answer(self, timeout: float | None = None) -> Gen:
        """The next frame that answers a request (unsolicited frames are set aside)."""
        while True:
            got = self._recv()
            if timeout is not None:
                limit = self.world.timeout(timeout)
                yield self.world.any_of([got, limit])
                if not got.triggered:
                    # leave the pending read in place: the frame may still come later
                    self._pending = got
                    raise NoAnswer(f"no answer within {timeout} s")
            else:
                yield got
            text = got.value
            if text is None:
                raise NoAnswer("connection closed")
            frame = json.loads(text)
            if is_unsolicited(frame):
                self.unsolicited.append(frame)
                continue
            self.raw_answers.append(text if isinstance(text, str) else text.decode())
            self.answers.append(frame)
            return frame

    def request(self, body: dict[str, Any] | str, timeout: float | None = None) -> Gen:
        self.send(body)
        return (yield from self.next_answer(timeout))

    def drain_unsolicited(self, wait: float) -> Gen:
        """Collect unsolicited frames that arrive within ``wait`` simulated seconds."""
        deadline = self.world.now + wait
        while self.world.now < deadline:
            got = self._recv()
            limit = self.world.timeout(deadline - self.world.now)
            yield self.world.any_of([got, limit])
            if not got.triggered:
                self._pending = got
                return list(self.unsolicited)
            if got.value is None:
                return list(self.unsolicited)
            frame = json.loads(got.value)
            if is_unsolicited(frame):
                self.unsolicited.append(frame)
            else:
                self.answers.append(frame)
        return list(self.unsolicited)

    # -- the requests of §2.5, spelled as the shipped example page spells them ----------
    def list_devices(self, context: str | None = None) -> Gen:
        return (yield from self.request({"request_type": 1, "context_id": context}))

    def initialize(
        self,
        context: str | None,
        device_id: str | None,
        *,
        baud_rate: int = 19200,
        encryption_key: str = "ek_test_cardloop",
        simple: bool = False,
        timeout_ms: int = 0,
    ) -> Gen:
        body: dict[str, Any] = {
            "encryption_key": encryption_key,
            "baud_rate": baud_rate,
            "simple_initialize": simple,
            "timeout_milliseconds": timeout_ms,
        }
        if device_id is not None:
            body["device_id"] = device_id
        return (
            yield from self.request({"request_type": 2, "context_id": context, "initialize": body})
        )

    def process(
        self,
        context: str | None,
        amount: int,
        *,
        applications: list[dict[str, Any]] | None = None,
        magstripe_payment_method: int = 1,
    ) -> Gen:
        body: dict[str, Any] = {
            "amount": amount,
            "magstripe_payment_method": magstripe_payment_method,
        }
        if applications is not None:
            body["applications"] = applications
        return (
            yield from self.request({"request_type": 4, "context_id": context, "process": body})
        )

    def finish(
        self, context: str | None, *, success: bool, response_code: int, emv_data: str | None
    ) -> Gen:
        return (
            yield from self.request(
                {
                    "request_type": 5,
                    "context_id": context,
                    "finish": {
                        "success": success,
                        "response_code": response_code,
                        "emv_data": emv_data,
                    },
                }
            )
        )

    def display(self, context: str | None, message: str) -> Gen:
        return (
            yield from self.request(
                {"request_type": 6, "context_id": context, "display_message": {"message": message}}
            )
        )

    def status(self, context: str | None) -> Gen:
        return (yield from self.request({"request_type": 7, "context_id": context}))

    def close(self, context: str | None) -> Gen:
        return (yield from self.request({"request_type": 8, "context_id": context}))
