"""cardloop's conformance suite: numbered cases per protocol and their engine.

Case authors need only :func:`case` and the fixtures of :mod:`conformance.fixtures`::

    from conformance import case

    @case("abecs/4.2/1", title="CRC error is answered by NAK", section="4.2",
          failure="the pinpad accepts corrupted packets")
    def test_crc_error_nak(world, verdict): ...
"""

from conformance.registry import CaseInfo, case
from conformance.verdict import Verdict

__all__ = ["CaseInfo", "Verdict", "case"]
