"""What the adapters share: the hostile-class weights and a request that waits for its answer.

See :mod:`conformance.soak` for the adapter interface.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire
from conformance.strategies import HOSTILE_CLASSES

# Oversize frames cost a mebibyte each on the loopback; one input in a hundred is plenty
# to prove the limit answers, and keeps the soak's 10,000 inputs quick.
_WEIGHTS = {k: (1 if k == "oversize" else 14) for k in HOSTILE_CLASSES}


def kind(rng: random.Random) -> str:
    """A hostile class, drawn with the soak's weights."""
    return rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]


async def request(wire: Wire, text: str, done: Callable[[Any], bool], session: Session) -> Any:
    """Send, then read until ``done(message)`` says the answer came; None if none did."""
    session.requests += 1
    await wire.send(text)
    while True:
        try:
            raw = await wire.recv(ANSWER_TIMEOUT)
        except TimeoutError:
            session.unanswered += 1
            return None
        if raw is None:
            session.unanswered += 1
            return None
        msg = json.loads(raw)
        if done(msg):
            return msg
