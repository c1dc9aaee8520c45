"""The generic command GEN (ABECS 2.12 §3.8): GEN/04/03, a PIN captured and sent to
the chip for offline verification (§3.8.4), and GEN/03/03, data under DUKPT:TDES:DAT#1
(§3.8.7).

The packets are written out from the command layout of §3.8.4 (CMD_LEN1 fixed "053",
GEN_INLEN fixed "048") and the answers from its response (RSP_LEN1 "008", GEN_OUTLEN
"005", slot, status words); none comes from the pinpad's codec.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import GCX_EXAMPLE, _with_tables, exchange, person
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

PINMSG = b"DIGITE A SENHA  " + b" " * 16  # S32, two lines of 16


def gen_0403(fmt: bytes, lo: bytes = b"04", hi: bytes = b"12", slot: bytes = b"0") -> bytes:
    """GEN053 04 048 03, slot, APDU header 00 20 00 80 (VERIFY, plaintext PIN), FORMAT,
    MIN, MAX, PINMSG."""
    return b"GEN053" + b"04" + b"048" + b"03" + slot + b"00200080" + fmt + lo + hi + PINMSG


def _chip_then_pin(dev: Any, pin: str, fmt: bytes) -> bytes:
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(dev.world)
    dev.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1), pin=pin))
    gcx, gen = _with_tables(dev, GCX_EXAMPLE, gen_0403(fmt))
    assert gcx.encode()[:6] == b"GCX000"
    return gen.encode()  # type: ignore[no-any-return]


@case("abecs/3.8.4/1", title="GEN/04/03 sends the PIN typed to the chip (ISO-2): the card "
      "answers 9000", failure="offline PIN verification through GEN never reaches the card")
def test_gen_0403_right_pin(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted and a PIN typed"):
        return
    assert _chip_then_pin(abecs_device, "1234", b"2") == b"GEN000" + b"008" + b"005" + b"0" + \
        b"9000"


@case("abecs/3.8.4/2", title="GEN/04/03 with a wrong PIN: the card's 63Cx comes back as "
      "G0403_SW", failure="the host cannot tell a wrong offline PIN from a right one")
def test_gen_0403_wrong_pin(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted and a PIN typed"):
        return
    got = _chip_then_pin(abecs_device, "9999", b"2")
    assert got[:13] == b"GEN000008005" + b"0" and got[13:16] == b"63C"


@case("abecs/3.8.4/3", title="GEN/04/03 refused: format 1 is 011, a SAM slot 051, no card "
      "043", failure="a PIN is asked for when it cannot reach a card")
def test_gen_0403_refused(abecs_device: Any) -> None:
    got = exchange(abecs_device, gen_0403(b"1"), gen_0403(b"2", slot=b"3"), gen_0403(b"2"))
    assert got == [b"GEN011", b"GEN051", b"GEN043"]


# GEN/03/03 (§3.8.7): GEN, CMD_LEN1, GEN_ACQ "03", GEN_INLEN, GEN_CMD "03", METHOD "3",
# IDX, INPUT (two 8-byte blocks here: "DADO A SER CRIPT" as hex)
DAT1_INPUT = b"DADO A SER CRIPT".hex().upper().encode()


def gen_0303(idx: bytes, data: bytes = DAT1_INPUT) -> bytes:
    inner = b"03" + b"3" + idx + data
    return b"GEN" + b"%03d" % (5 + len(inner)) + b"03" + b"%03d" % len(inner) + inner


@case("abecs/3.8.7/1", title="GEN/03/03 encrypts under DUKPT:TDES:DAT#1 (ECB): KSN and a "
      "cryptogram the acquirer opens", failure="obsolete hosts cannot encrypt data with DUKPT")
def test_gen_0303(abecs_device: Any, verdict: Any) -> None:
    from virtual_devices.abecs.keys import load_dukpt_dat_keys
    from virtual_devices.acquirer.pinpad_keys import open_dukpt_dat1

    (rsp,) = exchange(abecs_device, gen_0303(b"17"))
    if rsp == b"GEN042" and not abecs_device.virtual:
        verdict.informational("no DUKPT:TDES:DAT key at index 17 in this pinpad")
        return
    # RSP_LEN1 N3, GEN_OUTLEN N3, G0303_KSN H20, G0303_OUTPUT as long as the input
    assert rsp[:12] == b"GEN000" + b"055" + b"052", rsp[:12]
    ksn, crypt = bytes.fromhex(rsp[12:32].decode()), bytes.fromhex(rsp[32:].decode())
    assert len(crypt) == 16
    if abecs_device.virtual:
        bdk = load_dukpt_dat_keys()[17][0]
        assert open_dukpt_dat1(bdk, ksn, crypt) == b"DADO A SER CRIPT"


@case("abecs/3.8.7/2", title="GEN/03/03 refused: an index the pinpad lacks is 011, a "
      "position without a key 042, an input not in 8-byte blocks 011",
      failure="data is encrypted under a key that is not there")
def test_gen_0303_refused(abecs_device: Any) -> None:
    got = exchange(abecs_device, gen_0303(b"99"), gen_0303(b"05"), gen_0303(b"17", b"ABCD"))
    assert got[0] == b"GEN011" and got[2] == b"GEN011"
    if abecs_device.virtual:
        assert got[1] == b"GEN042"
