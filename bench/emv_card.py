"""How fast the virtual card answers, without a kernel or a world around it.

Measures, on the card alone (sans-I/O ``transmit``):

* ``load_card_ms``: making a fresh card from the catalogue (key derivation, records,
  certificates; certificates are cached per BIN/key after the first card);
* ``contact_txn_ms``: one whole contact transaction at the card (SELECT, GPO, READ
  RECORDs, VERIFY, first GENERATE AC, EXTERNAL AUTHENTICATE, second GENERATE AC);
* ``cda_gac_ms``: a first GENERATE AC with a CDA signature (one 1024-bit RSA private op);
* ``apdus_per_s``: READ RECORD throughput (the cheapest command).

The last line printed is a JSON object for CI to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

from virtual_devices.emv import crypto, tlv
from virtual_devices.emv.apdu import Command, Response
from virtual_devices.emv.card import VirtualCard, load_card, pin_block

warnings.filterwarnings("ignore", message=".*TripleDES.*")

TERMINAL = {
    0x9F02: bytes.fromhex("000000001000"), 0x9F1A: bytes.fromhex("0076"),
    0x5F2A: bytes.fromhex("0986"), 0x9A: bytes.fromhex("261125"), 0x9C: b"\x00",
    0x9F37: bytes.fromhex("1A2B3C4D"), 0x95: bytes(5), 0x9F35: b"\x22",
}


def _tx(card: VirtualCard, cmd: Command) -> Response:
    return Response.from_bytes(card.transmit(cmd.to_bytes()))


def contact_transaction(card: VirtualCard) -> int:
    """Run one online-approved transaction at the card; returns the APDU count."""
    app = card.profile.applications[0]
    card.power_on("contact")
    n = 0
    _tx(card, Command.select(app.aid))
    gpo = _tx(card, Command.gpo(b""))
    n += 2
    afl = tlv.decode(gpo.data)[0].value[2:] if gpo.data[0] == 0x80 else tlv.find(gpo.data, 0x94)
    assert afl is not None
    for i in range(0, len(afl), 4):
        for rec in range(afl[i + 1], afl[i + 2] + 1):
            _tx(card, Command.read_record(afl[i] >> 3, rec))
            n += 1
    _tx(card, Command.verify(0x80, pin_block(card.profile.pin or "1234")))
    g1 = _tx(card, Command.generate_ac(0x80, tlv.build_dol(app.cdol1, TERMINAL)))
    n += 2
    top = tlv.decode(g1.data)[0].value
    atc, arqc = top[1:3], top[3:11]
    keys = crypto.card_keys(card.profile.brand, card.pan, card.psn)
    iad91 = crypto.issuer_authentication_data(app.scheme, keys.ac, atc, TERMINAL[0x9F37],
                                              arqc, True)
    _tx(card, Command.external_authenticate(iad91))
    g2 = _tx(card, Command.generate_ac(0x40, tlv.build_dol(app.cdol2,
                                                           {**TERMINAL, 0x8A: b"00"})))
    n += 2
    assert tlv.decode(g2.data)[0].value[0] == 0x40, "card did not approve"
    card.power_off()
    return n


def _time(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    load_card("visa-chip-pin")  # warm the certificate caches
    load = _time(lambda: load_card("visa-chip-pin"), args.repeat)
    card = load_card("visa-chip-pin")
    apdus = contact_transaction(card)
    txn = _time(lambda: contact_transaction(card), args.repeat)

    mc = load_card("mc-chip-signature")
    mc.power_on("contact")
    _tx(mc, Command.select(mc.profile.applications[0].aid))
    _tx(mc, Command.gpo(b""))
    cdol = tlv.build_dol(mc.profile.applications[0].cdol1, TERMINAL)

    def cda() -> None:
        mc.power_off()
        mc.power_on("contact")
        _tx(mc, Command.select(mc.profile.applications[0].aid))
        _tx(mc, Command.gpo(b""))
        _tx(mc, Command.generate_ac(0x90, cdol))

    cda_t = _time(cda, args.repeat)
    rr = Command.read_record(2, 1).to_bytes()
    card.power_on("contact")
    _tx(card, Command.select(card.profile.applications[0].aid))
    _tx(card, Command.gpo(b""))
    n = args.repeat * 50
    t = time.perf_counter()
    for _ in range(n):
        card.transmit(rr)
    per_s = n / (time.perf_counter() - t)
    result = {
        "load_card_ms": round(statistics.median(load) * 1000, 3),
        "contact_txn_ms": round(statistics.median(txn) * 1000, 3),
        "contact_txn_apdus": apdus,
        "cda_gac_ms": round(statistics.median(cda_t) * 1000, 3),
        "apdus_per_s": round(per_s),
    }
    for k, v in result.items():
        print(f"{k:>20}: {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
