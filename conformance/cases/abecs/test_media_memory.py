"""Multimedia files are kept in non-volatile memory (ABECS 2.12 §6.6.3): a file MLE
accepted is still listed by LMF and shown by DSI after the pinpad restarts, and DMF's
deletion lasts too.

A restart is a power cycle: against a real pinpad it needs a person, so the case is
informational there. The virtual pinpad is started twice on the same storage directory
(a temporary one), each time in a new world, as a pinpad is powered on twice. The
packets are those of §3.4 written out by hand (``test_abecs212._load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import _gif, _load, person
from virtual_devices.abecs.rig import make_rig


def power_on(state_dir: Path, *packets: bytes) -> list[bytes]:
    """A pinpad started on ``state_dir``: OPN in clear, then each packet."""
    rig = make_rig(state_dir=state_dir)

    def flow() -> Any:
        yield from rig.host.opn(secure=False)
        out = []
        for pkt in packets:
            out.append((yield from rig.host.raw_exchange(pkt)).encode())
        return out

    got: list[bytes] = rig.run(flow)
    return got


@case("abecs/6.6.3/1", title="a file loaded by MLE survives a restart: LMF lists it, DSI "
      "shows it; DMF's deletion lasts too", failure="the pinpad forgets its images at power-off")
def test_media_survives_restart(abecs_device: Any, verdict: Any, tmp_path: Path) -> None:
    if not person(abecs_device, verdict, "the pinpad is switched off and on"):
        return
    first = power_on(tmp_path, *_load(b"logo0001", _gif(40, 20)))
    assert first == [b"MLI000", b"MLR000", b"MLE000"]
    dsi = b"DSI012" + b"\x00\x1e\x00\x08" + b"LOGO0001"
    second = power_on(tmp_path, b"LMF", dsi)
    assert second[0] == b"LMF000012" + b"\x80\x5e\x00\x08" + b"LOGO0001"
    assert second[1] == b"DSI000"
    dmf = b"DMF012" + b"\x00\x1e\x00\x08" + b"LOGO0001"
    assert power_on(tmp_path, dmf) == [b"DMF000"]
    assert power_on(tmp_path, b"LMF", dsi) == [b"LMF000", b"DSI100"]


@case("abecs/6.6.1/1", title="MLI takes SPE_MFINFO of 7 bytes and a type it cannot show; "
      "the type is judged at DSI (101)", failure="hosts that send a short SPE_MFINFO or a "
      "new format cannot load files")
def test_mli_lenient(abecs_device: Any, verdict: Any) -> None:
    from conformance.cases.abecs.test_abecs212 import exchange
    from virtual_devices.abecs.link import crc16

    data = b"not an image at all"
    # SPE_MFINFO: size X4, CRC B2, type 04h (RUF), no RUF bytes: 7 bytes
    info = len(data).to_bytes(4, "big") + crc16(data).to_bytes(2, "big") + b"\x04"
    mli = b"MLI023" + b"\x00\x1e\x00\x08" + b"FUTURE01" + b"\x00\x1f\x00\x07" + info
    mlr = b"MLR" + b"%03d" % (4 + len(data)) + b"\x00\x0f" + len(data).to_bytes(2, "big") + data
    dsi = b"DSI012" + b"\x00\x1e\x00\x08" + b"FUTURE01"
    got = exchange(abecs_device, mli, mlr, b"MLE", dsi)
    if got[0] == b"MLI010" and not abecs_device.virtual:
        verdict.unimplemented("no multimedia commands (MLI answered 010)")
        return
    assert got == [b"MLI000", b"MLR000", b"MLE000", b"DSI101"]
