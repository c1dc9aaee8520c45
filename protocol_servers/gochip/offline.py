"""Offline mode and the terminal health listener (W-ADV offline mode; §B.5 "Modes").

From the material: ``REQ_SET_OFFLINE_MODE_ENABLED {enabled}`` answers
``RES_ON_SET_OFFLINE_MODE_ENABLED``; in offline mode a sale is not sent to the gateway:
the card is read (with an offline expiry check) and the POS gets the sale's data in
``RES_ON_OFFLINE_SALE_REQUEST`` (the SDK's ``onOfflineSaleRequest``), to submit later
itself through the REST connector - there is no WebSocket message for that, so the agent
books nothing and the gateway's transaction list does not show the sale.
``processOfflineWhenCommsDown`` of ``REQ_INIT_WITH_CONFIGURATION`` processes a sale
offline when the gateway does not answer. The health checker "performs a constant
connectivity test" and switches the terminal to offline mode when connectivity drops;
``REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED`` answers ``RES_ON_TERMINAL_HEALTH_LISTENER_
STARTED`` / ``_STOPPED``, and ``_ERROR`` is one of the error frames of §B.6.

Ours: the body ``{enabled}`` of both requests and answers; the offline sale's shape
(``{sale: {...}}`` with the sale response's card fields, ``maskedPAN`` and
``transactionInputMethod`` as the SDK's sale object names them); on a chip the card
still makes its first GENERATE AC (the ARQC the later submission carries) and is then
finished as "unable to go online", its second answer not deciding anything (the
submission does); a stripe asks no PIN (nothing could check an online PIN offline);
the health test runs every ``health_check_interval`` simulated seconds against
:attr:`Agent.gateway_up`, and a failed test sends ``RES_ON_TERMINAL_HEALTH_LISTENER_ERROR``
(``{error: "GATEWAY_UNREACHABLE"}``) then ``RES_ON_SET_OFFLINE_MODE_ENABLED {enabled:
true, reason: "TERMINAL_HEALTH"}``; the first good test after that turns offline mode
off again the same way.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.gochip import frames
from protocol_servers.gochip.agent import handles
from protocol_servers.gochip.frames import Frame

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Session

Gen = Generator[simpy.Event, Any, Any]
SET_ANSWER = "RES_ON_SET_OFFLINE_MODE_ENABLED"
STARTED = "RES_ON_TERMINAL_HEALTH_LISTENER_STARTED"
STOPPED = "RES_ON_TERMINAL_HEALTH_LISTENER_STOPPED"
HEALTH_ERROR = "RES_ON_TERMINAL_HEALTH_LISTENER_ERROR"


@handles("REQ_SET_OFFLINE_MODE_ENABLED")
def set_offline(session: Session, frame: Frame) -> None:
    session.offline = frames.flag(frame.data, "enabled")
    session.send(frames.response(SET_ANSWER, {"enabled": session.offline}))


@handles("REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED")
def set_health(session: Session, frame: Frame) -> None:
    enabled = frames.flag(frame.data, "enabled")
    running = session.health is not None and session.health.is_alive
    if enabled and not running:
        session.health = session.world.process(_listen(session))
    elif not enabled and running:
        assert session.health is not None
        session.health.interrupt("stopped")
        session.health = None
    session.send(frames.response(STARTED if enabled else STOPPED, {"enabled": enabled}))


def _listen(session: Session) -> Gen:
    """The connectivity test, until the listener is stopped or the POS leaves."""
    agent = session.agent
    switched = False  # offline mode is on because of this listener
    try:
        while session.alive:
            up = agent.gateway_up
            if not up and not session.offline:
                session.send(frames.error(HEALTH_ERROR, "the gateway did not answer the "
                                          "connectivity test", None,
                                          {"error": "GATEWAY_UNREACHABLE"}))
                session.offline, switched = True, True
                session.send(frames.response(SET_ANSWER, {"enabled": True,
                                                          "reason": "TERMINAL_HEALTH"}))
            elif up and switched and session.offline:
                session.offline, switched = False, False
                session.send(frames.response(SET_ANSWER, {"enabled": False,
                                                          "reason": "TERMINAL_HEALTH"}))
            yield session.world.timeout(agent.timings["health_check_interval"])
    except simpy.Interrupt:
        return
