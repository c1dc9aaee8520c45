"""Whatever parameters a host sends to the non-blocking 2.12 commands, the pinpad answers
in the protocol's shape (its own RSP_ID, a status, data only with 000) and keeps
serving: no handler may stop the pinpad on odd input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtual_devices.abecs.rig import make_rig

# non-blocking commands of the parameter-tagged family and their parameter ids
COMMANDS = ["GIX", "CLX", "EBX", "GTK", "MLI", "MLR", "MLE", "LMF", "DMF", "DSI", "GED"]
PARAM = st.tuples(st.integers(0, 0x30), st.binary(max_size=40))


def _packet(cmd: str, items: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(pid.to_bytes(2, "big") + len(v).to_bytes(2, "big") + v for pid, v in items)
    return cmd.encode() + b"%03d" % len(body) + body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(COMMANDS), st.lists(PARAM, max_size=5)),
                min_size=1, max_size=8))
def test_answers_keep_the_protocol_shape(calls: list[tuple[str, list[tuple[int, bytes]]]]
                                         ) -> None:
    rig = make_rig()

    def flow() -> Any:
        yield from rig.host.opn(secure=False)
        out = []
        for cmd, items in calls:
            out.append((cmd, (yield from rig.host.raw_exchange(_packet(cmd, items))).encode()))
        out.append(("GIX", (yield from rig.host.raw_exchange(b"GIX")).encode()))
        return out

    for cmd, raw in rig.run(flow):
        assert raw[:3] == cmd.encode() and raw[3:6].isdigit()
        assert raw[3:6] == b"000" or len(raw) == 6
    assert rig.pinpad.process is not None and rig.pinpad.process.is_alive
