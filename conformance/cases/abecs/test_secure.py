"""mpos-bridge.md §4.5: secure OPN and the rules for packets in the wrong mode."""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs.fields import Command
from virtual_devices.abecs.secure import SecureSession

Gen = Any


def _secure(device: Any, verdict: Any) -> Gen:
    secure = yield from device.host.opn(secure=True)
    if not secure:
        verdict.unimplemented("the pinpad answers OPN000: no secure mode (obsolete pinpad)")
    return secure


@case("abecs/4.5/1", title="secure OPN returns KSEC wrapped under the host's RSA key",
      section="4.5", failure="no secure session can be opened")
def test_secure_open(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        if not (yield from _secure(abecs_device, verdict)):
            return None
        yield from abecs_device.host.dsp("SESSAO SEGURA")
        return (yield from abecs_device.host.gts(0))

    v = abecs_device.run(flow)
    if v is not None:
        assert len(v) == 10
        sent = [e for e in abecs_device.world.transcript.entries
                if e.port == "host" and e.direction == "tx"]
        assert bytes.fromhex(sent[-1].hex)[1] == 0x12, "commands after OPN are not encrypted"


@case("abecs/4.5/2", title="a clear command in a secure session is answered 009 in clear",
      section="4.5", failure="clear packets are accepted inside a secure session")
def test_clear_in_secure(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        if not (yield from _secure(abecs_device, verdict)):
            return None
        return (yield from abecs_device.host.exchange(Command("GTS", (b"00",)), clear=True))

    rsp = abecs_device.run(flow)
    if rsp is not None:
        assert (rsp.cmd_id, rsp.status) == ("GTS", 9)


@case("abecs/4.5/3", title="an encrypted packet without a session is answered ERR003",
      section="4.5", failure="encrypted packets are processed without a session")
def test_encrypted_without_session(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        rogue = SecureSession(bytes(16)).seal(b"GTS00200")
        return (yield from abecs_device.host.raw_exchange(rogue))

    rsp = abecs_device.run(flow)
    assert (rsp.cmd_id, rsp.status) == ("ERR", 3)


@case("abecs/4.5/4", title="an encrypted OPN is refused with OPN010 and closes the session",
      section="4.5", failure="OPN is accepted inside the encrypted channel")
def test_encrypted_opn(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        if not (yield from _secure(abecs_device, verdict)):
            return None
        rsp = yield from abecs_device.host.exchange(Command("OPN"))
        abecs_device.host.session = None
        after = yield from abecs_device.host.exchange(Command("GTS", (b"00",)))
        return rsp, after

    got = abecs_device.run(flow)
    if got is not None:
        rsp, after = got
        assert (rsp.cmd_id, rsp.status) == ("OPN", 10)
        assert after.status == 0, "the session was not closed after the encrypted OPN"


@case("abecs/4.5/5", title="CLO is answered in clear and ends the secure session",
      section="4.5", failure="the session survives CLO")
def test_clo_ends_session(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        if not (yield from _secure(abecs_device, verdict)):
            return None
        yield from abecs_device.host.clo("ATE LOGO")
        return (yield from abecs_device.host.gts(0))

    v = abecs_device.run(flow)
    if v is not None:
        assert len(v) == 10


@case("abecs/4.5/6", title="a corrupted encrypted packet is answered ERR009", section="4.5",
      failure="undecodable encrypted packets are not reported")
def test_bad_encrypted_packet(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        if not (yield from _secure(abecs_device, verdict)):
            return None
        sealed = bytearray(abecs_device.host.session.seal(b"GTS00200"))
        sealed[5] ^= 0xFF
        rsp = yield from abecs_device.host.raw_exchange(bytes(sealed))
        abecs_device.host.session = None
        return rsp

    rsp = abecs_device.run(flow)
    if rsp is not None:
        assert (rsp.cmd_id, rsp.status) == ("ERR", 9)
