"""The return codes of ABECS 2.12 §3.1.1 that no other case reaches: each is provoked
the way the specification's tables (§3.2–§3.8, §6.6–§6.8) describe, and the answer is
written out as the six bytes RSP_ID + RSP_STAT (§2.3.2: an error answer never carries
data).

Cases whose cause is the card's own answer (a status word the suite chooses) or a person
(a card pulled out, a chip inserted) run against the virtual pinpad and are informational
against a real one.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import _gif, _load, exchange, person
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.rig import aid_records
from virtual_devices.abecs.tables import AidRecord, CapkRecord
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

Gen = Any
VERSION = b"0000000042"
# GCR (§4.7 layout): ACQIDXREQ 00, APPTYPREQ 99, AMOUNT 15,00, DATE, TIME, TABVER,
# QTDAPP 00, CTLSON 0 (contact only: the card is inserted)
GCR = b"GCR041" + b"00" + b"99" + b"000000001500" + b"261125" + b"120000" + VERSION + b"00" + b"0"
INSERT = Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1), presentation="insert")


class _Answers(VirtualCard):
    """A catalogue chip card whose answer to one instruction becomes a status word
    (after ``skip`` normal answers to it)."""

    def __init__(self, profile: Any, ins: int, sw: bytes, skip: int = 0) -> None:
        super().__init__(profile)
        self.ins, self.sw, self.skip, self.seen = ins, sw, skip, 0

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) > 1 and apdu[1] == self.ins:
            self.seen += 1
            if self.seen > self.skip:
                return self.sw
        return super().transmit(apdu)


def _read(dev: Any, card: Any, *after: bytes, records: list[bytes] | None = None) -> list[bytes]:
    """Tables loaded (TLI/TLR/TLE), the card inserted at GCR, then ``after``."""
    dev.present(card.place_in(dev.world) if hasattr(card, "place_in") else card, INSERT)

    def flow() -> Gen:
        yield from dev.host.opn(secure=False)
        yield from dev.host.load_tables(0, VERSION.decode(), records or aid_records())
        out = []
        for pkt in (GCR, *after):
            out.append((yield from dev.host.raw_exchange(pkt, blocking=True)).encode())
        return out

    got: list[bytes] = dev.run(flow)
    return got


def _status_word(dev: Any, verdict: Any, ins: int, sw: bytes, skip: int = 0) -> bytes | None:
    if not person(dev, verdict, "a chip card answers with a chosen status word"):
        return None
    return _read(dev, _Answers(catalogue()["visa-chip-pin"], ins, sw, skip))[0]


@case("abecs/3.1.1/2", title="TLE with more records than the table memory: 021 "
      "(ST_TABERR), the old tables stay", failure="a table load that cannot fit is half kept")
def test_taberr(abecs_device: Any) -> None:
    # 170 CAPK records of 611 bytes (103 870 bytes) for acquirer 08: over the 96 KB that
    # §6.1.2 estimates for the required 160 AID + 80 CAPK records
    capks = [CapkRecord(8, f"{i // 36:01d}{'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i % 36]}",
                        bytes.fromhex("A000000003"), i % 250, b"\x03", bytes(176)).encode()
             for i in range(170)]

    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        yield from abecs_device.host.load_tables(0, "0000000042", aid_records())
        out = [(yield from abecs_device.host.raw_exchange(b"TLI012" + b"00" + b"0000000043"))]
        for rec in capks:
            out.append((yield from abecs_device.host.raw_exchange(
                b"TLR" + b"%03d" % (len(rec) + 2) + b"01" + rec)))
        out.append((yield from abecs_device.host.raw_exchange(b"TLE")))
        out.append((yield from abecs_device.host.raw_exchange(b"GTS00200")))
        return [r.encode() for r in out]

    got = abecs_device.run(flow)
    if abecs_device.virtual or got[-2] == b"TLE021":
        assert got[-2] == b"TLE021"
        assert got[-1] == b"GTS000010" + b"0000000042"


@case("abecs/3.1.1/3", title="a response longer than a packet allows is 045 (ST_RSPOVRFL): "
      "GIX asking PP_BIGRAND three times", failure="the pinpad sends a packet over 2044 bytes")
def test_rspovrfl(abecs_device: Any, verdict: Any) -> None:
    # SPE_IDLIST (0001h) = 805A 805A 805A: three times 900 random bytes > 2044
    (rsp,) = exchange(abecs_device, b"GIX010" + b"\x00\x01\x00\x06" + b"\x80\x5a" * 3)
    if abecs_device.virtual:
        assert rsp == b"GIX045"
    elif rsp != b"GIX045":
        assert len(rsp) <= 2044
        verdict.informational(f"GIX with PP_BIGRAND x3 answered {rsp[:6].decode()}")


@case("abecs/3.1.1/4", title="a secure OPN with a key that is no RSA public key (even "
      "modulus) is 046 (ST_ERRCRYPT); the pinpad goes on serving",
      failure="a bad host key crashes the pinpad or opens a session")
def test_errcrypt(abecs_device: Any, verdict: Any) -> None:
    # OPN_OPMODE 0, OPN_MODLEN 256, OPN_MOD (an even number), OPN_EXPLEN 1, OPN_EXP 03
    body = b"0" + b"256" + b"F" * 511 + b"E" + b"1" + b"03"
    got = exchange(abecs_device, b"OPN" + b"%03d" % len(body) + body, b"GIX006" +
                   b"\x00\x01\x00\x02\x80\x07")
    if abecs_device.virtual:
        assert got[0] == b"OPN046"
    else:
        assert len(got[0]) == 6 and got[0] != b"OPN000"
        if got[0] != b"OPN046":
            verdict.informational(f"OPN with an even modulus answered {got[0].decode()}")
    assert got[1] == b"GIX000008" + b"\x80\x07\x00\x04" + b"2.12"


@case("abecs/3.1.1/5", title="CHP power-on of a chip that gives no ATR is 060 (ST_DUMBCARD)",
      failure="a mute chip is reported as a communication error or a success")
def test_dumbcard(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card without an ATR is inserted"):
        return
    abecs_device.present(VirtualCard(catalogue()["mc-mute-chip-fallback"]).place_in(
        abecs_device.world), INSERT)
    # CEX "001000": wait for an ICC insertion; CHP slot 0, operation 1 (power on), no APDU
    got = exchange(abecs_device, b"CEX010" + b"\x00\x06\x00\x06" + b"001000", b"CHP005" +
                   b"0" + b"1" + b"000", blocking=True)
    assert got == [b"CEX000006" + b"\x80\x40\x00\x02" + b"92", b"CHP060"]


@case("abecs/3.1.1/6", title="every application answering SELECT with 6283 (invalidated) "
      "is 067 (ST_CARDINVALIDAT)", failure="an invalidated card is reported as unsupported")
def test_cardinvalidat(abecs_device: Any, verdict: Any) -> None:
    got = _status_word(abecs_device, verdict, 0xA4, b"\x62\x83", skip=1)
    if got is not None:
        assert got == b"GCR067"


class _PulledOut(VirtualCard):
    """A chip card the cardholder pulls out of the slot while it answers GET PROCESSING
    OPTIONS: the answer is lost with it, and the reader finds the slot empty."""

    def __init__(self, profile: Any, slot: Any) -> None:
        super().__init__(profile)
        self.slot = slot

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) > 1 and apdu[1] == 0xA8:
            self.slot.remove()
        return super().transmit(apdu)


@case("abecs/3.1.1/7", title="the card pulled out in the middle of GCR's chip dialogue: "
      "068 (ST_CARDPROBLEMS)", failure="a card gone mid-transaction hangs the pinpad")
def test_cardproblems(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "the card is pulled out during the chip read"):
        return
    card = _PulledOut(catalogue()["visa-chip-pin"], abecs_device.pinpad.slot)
    assert _read(abecs_device, card)[0] == b"GCR068"


@case("abecs/3.1.1/8", title="records without the mandatory data (READ RECORD answers an "
      "empty template 70): 069 (ST_CARDINVDATA)", failure="a card with inconsistent data "
      "is not stopped")
def test_cardinvdata(abecs_device: Any, verdict: Any) -> None:
    got = _status_word(abecs_device, verdict, 0xB2, b"\x70\x00\x90\x00")
    if got is not None:
        assert got == b"GCR069"


@case("abecs/3.1.1/15", title="GET PROCESSING OPTIONS answered 6F00, a status EMV does not "
      "define: 076 (ST_ERRFALLBACK, §6.8.1.2)", failure="a host is not offered the fallback "
      "to the stripe the specification allows")
def test_errfallback_gpo(abecs_device: Any, verdict: Any) -> None:
    got = _status_word(abecs_device, verdict, 0xA8, b"\x6f\x00")
    if got is not None:
        assert got == b"GCR076"


@case("abecs/3.1.1/9", title="a chip card with no application in the tables: 070 "
      "(ST_CARDAPPNAV)", failure="a card the tables do not cover is read anyway")
def test_cardappnav(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "an Amex chip card is inserted"):
        return
    # the tables hold Visa and Mastercard only
    assert _read(abecs_device, VirtualCard(catalogue()["amex-chip-pin"]))[0] == b"GCR070"


@case("abecs/3.1.1/10", title="GET PROCESSING OPTIONS answered 6985 for the only "
      "application: 071 (ST_CARDAPPNAUT)", failure="an application that refuses this "
      "transaction is reported as absent")
def test_cardappnaut(abecs_device: Any, verdict: Any) -> None:
    got = _status_word(abecs_device, verdict, 0xA8, b"\x69\x85")
    if got is not None:
        assert got == b"GCR071"


@case("abecs/3.1.1/11", title="GOX with a cashback above the amount is 077 (ST_INVAMOUNT)",
      failure="an impossible amount reaches the card")
def test_invamount(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    # GCX: SPE_TRNDATE, SPE_TRNTIME, SPE_AMOUNT; GOX: SPE_ACQREF 08, SPE_AMOUNT 10,00,
    # SPE_CASHBACK 20,00, SPE_MTHDPIN 3, SPE_KEYIDX 16
    gcx = (b"GCX036" + b"\x00\x15\x00\x06" + b"261125" + b"\x00\x16\x00\x06" + b"120000"
           + b"\x00\x13\x00\x0c" + b"000000001000")
    gox = (b"GOX049" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c" + b"000000001000"
           + b"\x00\x14\x00\x0c" + b"000000002000" + b"\x00\x02\x00\x01" + b"3"
           + b"\x00\x09\x00\x02" + b"16")
    abecs_device.present(VirtualCard(catalogue()["visa-chip-pin"]).place_in(
        abecs_device.world), INSERT)

    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        yield from abecs_device.host.load_tables(0, VERSION.decode(), aid_records())
        out = []
        for pkt in (gcx, gox):
            out.append((yield from abecs_device.host.raw_exchange(pkt, blocking=True)).encode())
        return out

    got = abecs_device.run(flow)
    assert got[0][:6] == b"GCX000" and got[1] == b"GOX077"


@case("abecs/3.1.1/12", title="more than 128 candidate AID records: 078 (ST_ERRMAXAID)",
      failure="the kernel is handed more candidates than it can take")
def test_errmaxaid(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    idx = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    many = [AidRecord(acq, f"{idx[i // 36]}{idx[i % 36]}",
                      bytes.fromhex("A0000000031010") + bytes((i,)), 1, "VISA").encode()
            for acq in (8, 9) for i in range(65)]  # 130 records, every one a candidate
    got = _read(abecs_device, VirtualCard(catalogue()["visa-chip-pin"]), records=many)
    assert got[0] == b"GCR078"


@case("abecs/3.1.1/13", title="SELECT of the payment directory answered 6A81: 079 "
      "(ST_CARDBLOCKED)", failure="a blocked card is reported as having no application")
def test_cardblocked(abecs_device: Any, verdict: Any) -> None:
    got = _status_word(abecs_device, verdict, 0xA4, b"\x6a\x81")
    if got is not None:
        assert got == b"GCR079"


@case("abecs/3.1.1/14", title="DSI of a file loaded as PNG whose bytes are a GIF: 101 "
      "(ST_MFERRFMT)", failure="a file in the wrong format is drawn")
def test_mferrfmt(abecs_device: Any, verdict: Any) -> None:
    mli, mlr, mle = _load(b"NOTPNG01", _gif(8, 8))
    mli = mli[:-4] + b"\x01\x00\x00\x00"  # SPE_MFINFO type 01h (PNG)
    got = exchange(abecs_device, mli, mlr, mle, b"DSI012" + b"\x00\x1e\x00\x08" + b"NOTPNG01")
    if got[0] == b"MLI010" and not abecs_device.virtual:
        verdict.unimplemented("no multimedia commands (MLI answered 010)")
        return
    assert got == [b"MLI000", b"MLR000", b"MLE000", b"DSI101"]


@case("abecs/3.1.1/16", title="PIN entries faster than PCI allows (120 within an hour): the "
      "next GPN is 044 (ST_PINBUSY) before any prompt; later it is served again",
      failure="the pinpad lets a host try PINs as fast as it likes")
def test_pinbusy(abecs_device: Any) -> None:
    from conformance.cases.abecs.test_keys import gpn_command
    from virtual_devices.abecs.customer import MagstripeCard

    pinpad = abecs_device.need_virtual("the pinpad's PIN rate is set for the case")
    pinpad.pin_rate_limit = 120  # what cardloop reader sets (PCI PTS POI B7)
    pinpad.customer.behaviour = Behaviour(think_s=(0.2, 0.3), typing_s=(0.05, 0.1))
    pinpad.hold_card(MagstripeCard("4761739001010010", "2812"))
    gpn = gpn_command(3, 16, "0" * 32)

    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        codes = []
        for _ in range(121):
            codes.append((yield from abecs_device.host.raw_exchange(gpn, blocking=True)).status)
        yield abecs_device.world.timeout(3600)
        codes.append((yield from abecs_device.host.raw_exchange(gpn, blocking=True)).status)
        return codes

    codes = abecs_device.run(flow)
    assert codes[:120] == [0] * 120 and codes[120] == 44 and codes[121] == 0


@case("abecs/3.1.1/17", title="a file larger than the multimedia memory left: MLR answers "
      "040 (ST_INTERR) and the load is over", failure="a load that cannot fit corrupts the "
      "pinpad's memory")
def test_interr(abecs_device: Any) -> None:
    pinpad = abecs_device.need_virtual("the pinpad's free memory is set for the case")
    pinpad.extended.files.capacity = 64  # as if the memory were nearly full
    mli, mlr, mle = _load(b"BIG00001", _gif(8, 8) + bytes(100))
    assert exchange(abecs_device, mli, mlr, mle) == [b"MLI000", b"MLR040", b"MLE010"]
