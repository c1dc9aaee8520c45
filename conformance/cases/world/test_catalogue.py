"""The fault catalogue's serial entries have the outcome it states, on the reference
ABECS link (host and virtual pinpad, mpos-bridge.md §4.2)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from conformance import case
from conformance.faults import load_catalogue, note
from simulator.world import World

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
