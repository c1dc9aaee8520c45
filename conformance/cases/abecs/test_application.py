"""mpos-bridge.md §4.3: commands, responses and status-only errors."""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs.fields import Command

Gen = Any


@case("abecs/4.3/1", title="an unknown command is answered ERR010", section="4.3",
      failure="unknown commands are not rejected the documented way")
def test_unknown_command(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        return (yield from abecs_device.host.exchange(Command("XYZ", (b"01",))))

    rsp = abecs_device.run(flow)
    assert (rsp.cmd_id, rsp.status) == ("ERR", 10)


@case("abecs/4.3/2", title="an error response is exactly six bytes", section="4.3",
      failure="error responses carry data the host does not expect")
def test_status_only_error(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        return (yield from abecs_device.host.exchange(Command("GDU", (b"399",))))

    rsp = abecs_device.run(flow)
    assert rsp.status != 0 and rsp.encode() == f"GDU{rsp.status:03d}".encode()


@case("abecs/4.3/3", title="a malformed block length is answered with the command's error",
      section="4.3", failure="malformed data is accepted or crashes the pinpad")
def test_bad_block(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        bad = yield from abecs_device.host.raw_exchange(b"DSP040SHORT")
        ok = yield from abecs_device.host.gts(0)
        return bad, ok

    bad, ok = abecs_device.run(flow)
    assert bad.cmd_id in ("DSP", "ERR") and bad.status in (10, 11, 19)
    assert len(ok) == 10
