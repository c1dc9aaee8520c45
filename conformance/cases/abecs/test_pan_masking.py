"""Incomplete tracks and PAN masking (ABECS 2.12 §5.4.1), with the specification's own
examples: each track is swiped at a CEX that waits for a stripe (SPE_CEXOPT "010000")
with the SPE_PANMASK of the example, and PP_TRK1INC / PP_TRK2INC must be the example's
value byte for byte (spaces in a PAN kept and not counted, ``*`` for hidden digits,
the first 19 positions when the separator rule cannot apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import QUICK, exchange, person


@dataclass(frozen=True)
class _Stripe:
    """A card with only a stripe, as the example gives its tracks."""

    pan: str
    track1: str
    track2: str


# (track 1, track 2, SPE_PANMASK or None, expected PP_TRKnINC id, expected value)
EXAMPLES = [
    ("", "66733246732413=1512601234879534275432", None, 0x8042, b"66733246732413=1512601"),
    ("B9994444333322221111^NOME^1512601234879", "", None, 0x8041,
     b"B9994444333322221111^NOME^1512601"),
    ("", "667332467324131512601234879534275432", None, 0x8042, b"6673324673241315126"),
    ("B3764 329710 01006^JOE^2108100265123756", "", b"0604", 0x8041,
     b"B3764 32**** *1006^JOE^2108100"),
    ("", "4444333322221111=2212601019923625524", b"0700", 0x8042,
     b"4444333*********=2212601"),
    ("A756325325535^PROPRIETARYFORMAT=6562532", "", b"0005", 0x8041, b"A*******25535^PROPR"),
]


def cex(panmask: bytes | None) -> bytes:
    body = b"\x00\x06\x00\x06" + b"010000"
    if panmask is not None:
        body += b"\x00\x23\x00\x04" + panmask
    return b"CEX" + b"%03d" % len(body) + body


@case("abecs/5.4.1/1", title="PP_TRK1INC/PP_TRK2INC for each example of §5.4.1: cut after "
      "the separator or at 19 positions, PAN masked as SPE_PANMASK says",
      failure="tracks leave the pinpad longer than allowed, or a PAN is masked wrongly")
def test_spec_examples(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "cards are swiped"):
        return
    pinpad = abecs_device.pinpad
    pinpad.customer.behaviour = QUICK
    for t1, t2, _, _, _ in EXAMPLES:
        digits = "".join(c for c in (t1 or t2) if c.isdigit())
        pinpad.queue_card(_Stripe(digits[:16], t1, t2))
    got = exchange(abecs_device, *(cex(mask) for _, _, mask, _, _ in EXAMPLES), blocking=True)
    for rsp, (_, _, _, pid, want) in zip(got, EXAMPLES, strict=True):
        item = pid.to_bytes(2, "big") + len(want).to_bytes(2, "big") + want
        event = b"\x80\x40\x00\x02" + b"90"
        assert rsp == b"CEX000" + b"%03d" % (len(event) + len(item)) + event + item, rsp
