"""Key methods: ABECS 2.12 §5.1 (key map), §5.1.2 (DUKPT:TDES) and §6.1.2 (32 positions).

Case ids cite the ABECS specification's own sections (see ``test_contactless``). The
commands are spelled out byte by byte from §3.3.9 (GDU) and §3.3.11 (GPN); a real
pinpad's keys are unknown to the suite, so against one the cases check the shape of
the answers and the PIN cases (a person types the PIN) are informational.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.cases.abecs.steps import frames_in, listen
from virtual_devices.abecs.customer import Behaviour, MagstripeCard
from virtual_devices.abecs.link import frame
from virtual_devices.acquirer import pinpad_keys as acq

Gen = Any
PAN = "4761739001010010"
WORKING_KEY = bytes.fromhex("1122334455667788AABBCCDDEEFF0011")


def gpn_command(method: int, idx: int, wkenc: str) -> bytes:
    """GPN: METHOD N1, KEYIDX N2, WKENC H32, PANLEN N2, PAN A19, ENTRIES N1 "1",
    MIN1 N2 "04", MAX1 N2 "12", MSG1 S32 = 93 bytes."""
    body = (b"%d" % method + b"%02d" % idx + wkenc.encode() + b"16" + PAN.encode().ljust(19)
            + b"1" + b"04" + b"12" + b"SENHA:".ljust(32))
    assert len(body) == 93
    return b"GPN093" + body


def answer(device: Any, pktdata: bytes, seconds: float) -> Gen:
    raw = yield from listen(device, frame(pktdata), seconds)
    got = [f for f in frames_in(raw) if not f.startswith(b"NTM")]
    return got[-1] if got else b""


def _typed_pin(device: Any, command: bytes) -> bytes:
    device.need_virtual("a person types the PIN")
    device.pinpad.customer.behaviour = Behaviour(pin="2468")
    device.pinpad.queue_card(MagstripeCard(PAN, "2812"))

    def flow() -> Gen:
        return (yield from answer(device, command, 90))

    got: bytes = device.run(flow)
    return got


@case("abecs/5.1/1", title="GPN with MK/WK:TDES: the PIN under the host's working key, "
      "no KSN", failure="master key / working key PIN encryption does not work")
def test_gpn_master_key(abecs_device: Any) -> None:
    from virtual_devices.abecs.keys import load_master_keys

    wkenc = acq.wrap_working_key(load_master_keys()["mk_pin"][1], WORKING_KEY)
    got = _typed_pin(abecs_device, gpn_command(1, 1, wkenc))
    # RSP_LEN1 036: PINBLK H16 and KSN H20 (zeros: no KSN for a master key)
    assert got[:9] == b"GPN000036" and got[25:45] == b"0" * 20, got[:12]
    assert acq.open_mk_pin(WORKING_KEY, bytes.fromhex(got[9:25].decode()), PAN) == "2468"


@case("abecs/5.1.2/1", title="GPN with DUKPT:TDES at index 32, the last required position",
      failure="keys above the first positions cannot be used")
def test_gpn_dukpt_index_32(abecs_device: Any) -> None:
    from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys

    got = _typed_pin(abecs_device, gpn_command(3, 32, "0" * 32))
    assert got[:9] == b"GPN000036", got[:12]
    block, ksn = bytes.fromhex(got[9:25].decode()), bytes.fromhex(got[25:45].decode())
    assert decrypt_pin(load_test_keys()[32].bdk, ksn, block, PAN) == "2468"


@pytest.mark.parametrize("method", [0, 2])
@case("abecs/5.1/2", title="GPN with a DES method answers 042 before any prompt",
      failure="the pinpad offers DES keys that ABECS 2.10 removed, or prompts for nothing")
def test_gpn_des_methods_refused(abecs_device: Any, method: int) -> None:
    def flow() -> Gen:
        return (yield from answer(abecs_device, gpn_command(method, 1, "0" * 32), 10))

    assert abecs_device.run(flow) == b"GPN042"


@case("abecs/6.1.2/1", title="GDU addresses the 32 DUKPT:TDES positions: a KSN or 042, "
      "never 011", failure="a required key position cannot be addressed")
def test_gdu_every_position(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        out = []
        for idx in range(1, 33):
            out.append((yield from answer(abecs_device, b"GDU003" + b"3" + b"%02d" % idx, 5)))
        return out

    answers = abecs_device.run(flow)
    for idx, got in enumerate(answers, start=1):
        assert got == b"GDU042" or (got[:9] == b"GDU000020" and len(got) == 29), (idx, got)
    held = [i for i, got in enumerate(answers, start=1) if got[:6] == b"GDU000"]
    if abecs_device.virtual:
        assert held == [16, 32]
    elif not held:
        verdict.informational("no DUKPT:TDES PIN key is loaded in this pinpad")
