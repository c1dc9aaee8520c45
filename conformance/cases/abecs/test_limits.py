"""Limits and screens of the pinpad: DEX at its length limit and one past it, CKE with the
antenna on and a chip card inserted, and what the display shows around a PIN prompt.

Commands are written byte by byte from ABECS 2.12 (§3.2 DEX, §6.5.3 CKE, §3.6.3 GOC) and
the expected answers spelled out the same way, so the pinpad's codec never judges itself.
The screens are the virtual pinpad's display, what the cardholder reads.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs.customer import Behaviour

from .test_contactless import OVER, answer, gcr_command, goc_command, prepared, tap

Gen = Any


@case("abecs/4.6/21", title="DEX takes a message of 160 characters; 161, or a MSGLEN that "
      "disagrees with the message, is ST_INVPARM (011)", section="4.6",
      failure="DEX refuses its longest message, or takes one past the limit")
def test_dex_length_limit(abecs_device: Any) -> None:
    text = b"ABCDEFGHIJ" * 16  # 160 characters

    def flow() -> Gen:
        out = []
        for body in (b"160" + text, b"161" + text + b"K", b"159" + text):
            size = b"%03d" % len(body)
            out.append((yield from answer(abecs_device, b"DEX" + size + body, 10)))
        return out

    at_limit, past, wrong = abecs_device.run(flow)
    # a response without data is the command id and the status alone
    assert at_limit == b"DEX000", at_limit
    assert past == b"DEX011", past
    assert wrong == b"DEX011", wrong
    if abecs_device.virtual:
        assert abecs_device.pinpad.display.history[-1].line1 == "ABCDEFGHIJABCDEF"


@case("abecs/6.5.3/2", title="CKE with the antenna on and insertion enabled reports a chip "
      "card inserted as event 2, status 1", failure="a card inserted while the antenna is on "
      "is reported as a swipe or not at all")
def test_cke_antenna_on_insert(abecs_device: Any) -> None:
    tap(abecs_device, "visa-chip-pin", Behaviour(pin="1234", presentation="insert"))

    def flow() -> Gen:
        # KEY 0, MAG 0, ICC 1 (insertion), CTLS 1 (antenna on)
        return (yield from answer(abecs_device, b"CKE004" + b"0011", 15))

    assert abecs_device.run(flow) == b"CKE000002" + b"21"


@case("abecs/6.8.4.2/6", title="the PIN prompt of GOC shows the amount as 'VALOR: 90,00' over "
      "'SENHA:', then a star per digit typed", failure="the cardholder is asked for a PIN "
      "without the amount, or with another amount")
def test_goc_pin_prompt_screen(abecs_device: Any) -> None:
    tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        yield from answer(abecs_device, gcr_command(OVER), 15)
        return (yield from answer(abecs_device, goc_command(OVER), 90))

    goc = abecs_device.run(flow)
    assert goc[:9] == b"GOC000048", goc[:15]
    screens = [(s.line1.rstrip(), s.line2.rstrip()) for s in abecs_device.pinpad.display.history]
    # OVER is R$ 90,00: the prompt, then the four digits of the PIN as stars
    assert ("VALOR: 90,00", "SENHA:") in screens, screens
    assert ("", "SENHA: ****") in screens, screens


@case("abecs/6.8.4.2/5", title="a PIN prompt nobody answers: GOC ends with ST_TIMEOUT (012) "
      "and the display is cleared", failure="after a PIN timeout the prompt stays on screen "
      "or GOC answers another status")
def test_goc_pin_timeout_screen(abecs_device: Any) -> None:
    tap(abecs_device, "visa-contactless", Behaviour(pin="1234", walk_away_at="pin"))

    def flow() -> Gen:
        yield from prepared(abecs_device)
        yield from answer(abecs_device, gcr_command(OVER), 15)
        return (yield from answer(abecs_device, goc_command(OVER), 400))

    goc = abecs_device.run(flow)
    assert goc == b"GOC012", goc
    last = abecs_device.pinpad.display.history[-1]
    assert (last.line1.strip(), last.line2.strip()) == ("", ""), last
