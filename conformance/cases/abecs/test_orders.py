"""Commands out of order and in bursts (ABECS 2.12 §4.2, §4.3, §6): a host that sends OPN,
GIN, GTS, DSP, GCR, GOC, FNC, RMC, CLO and CAN in any order, or several at the same
instant (queued by the host's library, CAN going through at once). Every command is
answered with a status in the command's shape (or ends with 013 when a CAN aborted it),
none is lost on the line, and the pinpad still opens and answers afterwards. A bare
pinpad moves no money: the ledger invariant is the servers' cases' to check."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.fields import Response
from virtual_devices.abecs.host import AbecsError, AbecsHost, AbecsLinkError
from virtual_devices.abecs.rig import VERSION, make_rig
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue


class _Lost(str):
    """A command the link gave up on (no ACK, no answer): not an answer at all."""


DONE_WITHIN = 400.0  # past the host's blocking-command limit and the PIN entry timeout


def _command(host: AbecsHost, name: str) -> Generator[Any, Any, Any]:
    if name == "OPN":
        return host.opn()
    if name == "GIN":
        return host.gin()
    if name == "GTS":
        return host.gts(0)
    if name == "DSP":
        return host.dsp("OLA")
    if name == "GCR":
        return host.gcr(m.GcrRequest(500, "261125", "120000", VERSION))
    if name == "GOC":
        return host.goc(m.GocRequest(500, (0x9F27,)))
    if name == "FNC":
        return host.fnc(m.FncRequest(1, "00", b"", (0x9F27,)))
    if name == "RMC":
        return host.rmc("RETIRE O CARTAO")
    if name == "CLO":
        return host.clo("ATE LOGO")
    return host.cancel()


@case("abecs/4.2/40", title="commands in any order and in bursts are all answered with a "
      "status (013 when a CAN aborted them), none is lost, and the pinpad answers afterwards",
      section="4.2", failure="a command sent out of order or right behind another goes "
      "unanswered, breaks the link, or leaves the pinpad unable to open again")
@given(schedule=request_schedules(ORDER_VOCABULARIES["abecs"], clients=1))
def test_orders_and_bursts(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("abecs") or options.serial or options.mode != "virtual":
        pytest.skip("the schedules run the virtual pinpad in virtual mode")
    world = World(seed=options.seed)
    rig = make_rig(world=world)
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(world)
    rig.pinpad.queue_card(card)
    ends: list[tuple[str, Any]] = []

    def run(s: Send) -> Generator[Any, Any, None]:
        try:
            got = yield from _command(rig.host, s.request)
        except AbecsLinkError as exc:
            ends.append((s.request, _Lost(str(exc))))
        except AbecsError as exc:
            ends.append((s.request, exc.code))
        else:
            ends.append((s.request, got))

    world.run(until=play(world, schedule, lambda s: world.process(run(s))))
    world.run(until=world.now + DONE_WITHIN)
    assert len(ends) == len(schedule.sends), f"commands never ended: {schedule.sends}, {ends}"
    lost = [(name, how) for name, how in ends if isinstance(how, _Lost)]
    assert not lost, f"lost on the line: {lost}"
    for name, how in ends:
        if isinstance(how, Response):
            assert how.cmd_id in (name, "ERR"), (name, how)
        elif isinstance(how, int):
            assert 0 <= how <= 999, (name, how)
    # nothing wedged: the host opens again and the pinpad answers
    def again() -> Generator[Any, Any, Any]:
        rig.host.session = None
        yield from rig.host.opn()
        return (yield from rig.host.gin())

    proc = world.process(again())
    world.run(until=proc)
    assert proc.value is not None
    no_full_pan(world.transcript, [card.pan])
