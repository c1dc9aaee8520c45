"""The fault catalogue's serial entries have the outcome it states, on the reference
ABECS link (host and virtual pinpad, mpos-bridge.md §4.2)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.faults import load_catalogue, note
from conformance.invariants import no_full_pan
from conformance.strategies import FaultDraw, fault_plans
from simulator.world import World

PAN = "4761739001010010"

SERIAL = [s.id for s in load_catalogue().layer("serial")]


@case("world/4/2", title="each serial fault of the catalogue has its stated outcome",
      failure="the catalogue promises vendors an outcome the reference link does not give")
@pytest.mark.parametrize("fault_id", SERIAL)
def test_serial_fault_outcome(world: World, fault_id: str) -> None:
    from virtual_devices.abecs.host import AbecsLinkError
    from virtual_devices.abecs.rig import make_rig

    spec = load_catalogue()[fault_id]
    world.faults.add(spec.to_fault("pinpad", "rx"))
    note(world, "pinpad", spec, "armed on the pinpad's receive side")
    rig = make_rig(world=world)

    def session() -> Generator[Any, Any, Any]:
        secure = yield from rig.host.opn()
        info = yield from rig.host.gin()
        yield from rig.host.clo("bye")
        return secure, info

    def again() -> Generator[Any, Any, Any]:
        info = yield from rig.host.gin()
        return info

    if spec.expect == "completes":
        secure, info = rig.run(session)
        assert secure is True and info is not None
        return
    assert spec.expect == "aborted", f"no check written for expect={spec.expect!r}"
    with pytest.raises(AbecsLinkError):
        rig.run(session)
    if rig.host_end.is_closed:
        return  # unplugged: nothing more can cross this line
    # the link recovers: the next command, with no fault left, goes through
    assert rig.run(again) is not None


@case("world/4/3", title="under any drawn serial fault plan, runs replay and stay masked",
      failure="faults make runs unrepeatable or leak card numbers")
@given(draw=fault_plans(["pinpad", "host"], layers=["serial"], expect=None))
def test_fault_plans_replay_and_mask(world: World, draw: FaultDraw) -> None:
    from virtual_devices.abecs.host import AbecsError
    from virtual_devices.abecs.rig import make_rig

    def run(w: World) -> str:
        draw.install(w)
        rig = make_rig(world=w)
        w.redactor.add_pan(PAN)

        def session() -> Generator[Any, Any, Any]:
            yield from rig.host.opn()
            yield from rig.host.dsp(f"CARD {PAN}")
            yield from rig.host.clo("bye")

        try:
            rig.run(session)
        except AbecsError:
            pass  # a fault may end the session; the record must still be clean
        return w.transcript.jsonl()

    first = run(world)
    assert first == run(World(seed=world.seed))
    no_full_pan(world.transcript, known_pans=[PAN])
