"""Contactless mag-stripe tracks with a dynamic CVC3 (Mastercard PayPass mag-stripe mode).

A card in mag-stripe mode does not make an application cryptogram. It hands the reader
a track template (tag 9F6B for track 2, 56 for track 1) and bitmaps that say where the
dynamic digits go in the discretionary data, then answers COMPUTE CRYPTOGRAPHIC
CHECKSUM with a CVC3 computed over the reader's unpredictable number (UN) and its
application transaction counter (ATC). The reader writes the CVC3, the UN and the ATC
into the discretionary data and sends the track online as if it had been swiped; the
issuer recomputes the CVC3 from the same track.

The three sides share only what the specifications make public:

* the card personalises ``PCVC3`` (positions of the CVC3 digits), ``PUNATC``
  (positions of the UN and ATC digits) and ``NATC`` (how many ATC digits) for each
  track; ``nUN``, the number of UN digits, is ``bits(PUNATC) - NATC``;
* the reader writes the ``q`` least significant decimal digits of the CVC3 at the
  positions of ``PCVC3``, the ``nUN`` digits of the UN at the lowest ``nUN`` positions
  of ``PUNATC`` and the ``NATC`` low digits of the ATC at the remaining ones, and
  ``nUN`` itself in the last digit of the discretionary data;
* the CVC3 is the EMV one (:func:`pyemv.cvv.generate_cvc3`): a 2-byte IV from a MAC
  over the static track template under the card's CVC3 key, then TDES of
  ``IV || UN || ATC``.

Bit 1 of a bitmap is the rightmost digit of the discretionary data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layout", "DEFAULT_LAYOUT", "fill", "read", "template", "un_digits"]


@dataclass(frozen=True)
class Layout:
    """Where one track's dynamic digits go (PCVC3, PUNATC, NATC of one track)."""

    pcvc3: int
    punatc: int
    natc: int

    @property
    def n_un(self) -> int:
        return bin(self.punatc).count("1") - self.natc

    @property
    def q(self) -> int:
        return bin(self.pcvc3).count("1")


# The layout the catalogue's mag-stripe cards are personalised with (13 discretionary
# digits): three fixed digits, six for the UN (3) and the ATC (3), three for the CVC3,
# and the last one for nUN. Issuers choose their own; this one keeps three CVC3 digits
# as Mastercard's own test cards do.
DEFAULT_LAYOUT = Layout(pcvc3=0x000E, punatc=0x03F0, natc=3)


def _positions(bitmap: int, length: int) -> list[int]:
    """String indexes of the set bits, least significant first (bit 1 = last digit)."""
    out = []
    for bit in range(length):
        if bitmap >> bit & 1:
            out.append(length - 1 - bit)
    return out


def un_digits(un: bytes, layout: Layout) -> str:
    """The ``nUN`` digits of a numeric UN (9F6A, BCD) that go into the track."""
    return un.hex()[-layout.n_un:] if layout.n_un else ""


def fill(dd: str, layout: Layout, cvc3: int, un: str, atc: int) -> str:
    """The discretionary data with CVC3, UN and ATC written where the layout says."""
    out = list(dd)
    cvc3_pos = _positions(layout.pcvc3, len(dd))
    digits = f"{cvc3:05d}"[::-1]
    for i, pos in enumerate(cvc3_pos):
        out[pos] = digits[i]
    unatc = _positions(layout.punatc, len(dd))
    for i, pos in enumerate(unatc[: layout.n_un]):
        out[pos] = un[::-1][i]
    atc_digits = f"{atc:05d}"[::-1]
    for i, pos in enumerate(unatc[layout.n_un :]):
        out[pos] = atc_digits[i]
    if dd:
        out[-1] = str(layout.n_un % 10)
    return "".join(out)


def read(dd: str, layout: Layout) -> tuple[str, str, str]:
    """(CVC3 digits, UN digits, ATC digits) as a reader wrote them, most significant first."""
    cvc3_pos = _positions(layout.pcvc3, len(dd))
    unatc = _positions(layout.punatc, len(dd))
    cvc3 = "".join(dd[p] for p in cvc3_pos)[::-1]
    un = "".join(dd[p] for p in unatc[: layout.n_un])[::-1]
    atc = "".join(dd[p] for p in unatc[layout.n_un :])[::-1]
    return cvc3, un, atc


def template(dd: str, layout: Layout) -> str:
    """The static discretionary data the card holds: dynamic positions and nUN zeroed."""
    out = list(dd)
    for pos in _positions(layout.pcvc3 | layout.punatc, len(dd)):
        out[pos] = "0"
    if out:
        out[-1] = "0"
    return "".join(out)
