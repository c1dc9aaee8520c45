"""The generic command GEN (ABECS 2.12 §3.8): GEN/04/03, a PIN captured and sent to
the chip for offline verification (§3.8.4).

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
