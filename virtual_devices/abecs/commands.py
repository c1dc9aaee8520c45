"""Which ABECS commands block and which the pinpad knows (§4.2), and the link's delays.

Both ends of the link need these facts (the host to know when to wait without a
timeout, the pinpad to know what it answers), so they live here rather than in either
end's module.
"""

from __future__ import annotations

from simulator.timings import Timings
from virtual_devices.abecs.link import LinkTimings

BLOCKING = frozenset({"GCR", "GOC", "GPN", "GKY", "CKE", "RMC",
                      # the parameter-tagged and other 2.12 commands that wait for a person
                      "CEX", "CHP", "GCD", "MNU", "GCX", "GOX", "FCX"})
CLASSIC = frozenset({
    "OPN", "CLO", "GIN", "DSP", "DEX", "GKY", "CKE", "RMC", "GDU", "GPN", "GTS", "TLI", "TLR",
    "TLE", "GCR", "CNG", "GOC", "FNC",
})
# ABECS 2.12 §3.2-§3.8 beyond the classic set (the modules of virtual_devices.abecs.extended)
EXTENDED = frozenset({
    "GIX", "DWK", "CLX", "CEX", "CHP", "EBX", "ENB", "GCD", "GTK", "MNU", "MLI", "MLR", "MLE",
    "LMF", "DMF", "DSI", "GCX", "GED", "GOX", "FCX", "GEN",
})
KNOWN = CLASSIC | EXTENDED


def link_timings(t: Timings) -> LinkTimings:
    """The link's delays out of a device's ``timings.toml``."""
    return LinkTimings(t["ack_wait"], t["eot_wait"], t["response_wait"], t["inter_byte"],
                       t["resync_silence"])
