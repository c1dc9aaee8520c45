"""What every 2.12 command handler shares: the registry, the tagged response, waits.

A handler is a SimPy generator taking the pinpad and the decoded command and returning
a :class:`~virtual_devices.abecs.fields.Response`; :func:`handles` registers it in
:data:`HANDLERS`, which the pinpad consults before its own classic handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.fields import Command, Response

Gen = Generator[Any, Any, Any]
Handler = Callable[[Any, Command], Gen]

HANDLERS: dict[str, Handler] = {}

ST_RSPOVRFL = m.ST_RSPOVRFL
ST_NOSAM = m.ST_NOSAM
ST_MFNFOUND, ST_MFERRFMT, ST_MFERR = 100, 101, 102


def handles(cmd_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[cmd_id] = fn
        return fn
    return register


def tagged(cmd_id: str, items: list[tuple[int, bytes]], status: int = 0) -> Response:
    """A parameter-tagged response; one longer than a packet allows is ST_RSPOVRFL."""
    if status:
        return Response(cmd_id, status)
    blocks = t.encode_params(items)
    rsp = Response(cmd_id, 0, blocks)
    if len(rsp.encode()) > 2044:
        return Response(cmd_id, ST_RSPOVRFL)
    return rsp


def params(cmd: Command) -> t.Params:
    return t.decode_params(cmd.blocks)


def wait_for(pinpad: Any, action: Gen, seconds: float | None) -> Gen:
    """Run a customer action; returns its value, or None on timeout (None: no limit)."""
    acting = pinpad.act(action)
    waits: list[simpy.Event] = [acting]
    if seconds:
        waits.append(pinpad.world.timeout(seconds))
    try:
        yield pinpad.world.any_of(waits)
    except simpy.Interrupt:
        if acting.is_alive:
            acting.interrupt("aborted")
        raise
    if not acting.triggered:
        acting.interrupt("timeout")
        return None
    return acting.value


def guard(action: Gen) -> Gen:
    """A sub-process that an interrupt (timeout, CAN) ends quietly with None."""
    try:
        return (yield from action)
    except simpy.Interrupt:
        return None


def panmask(p: t.Params) -> str | None:
    """SPE_PANMASK: how many leading and trailing PAN digits stay in clear (N4)."""
    return p.digits(t.SPE_PANMASK, 4)


def emv_data(session: Any, tags: list[int]) -> bytes:
    kernel = getattr(session, "kernel", None)
    if kernel is None or not tags:
        return b""
    return bytes(kernel.requested_tags(tags))


def tag_list(raw: bytes) -> list[int]:
    return list(m._parse_tag_list(f"{len(raw):03d}{raw.hex().upper()}".encode()))
