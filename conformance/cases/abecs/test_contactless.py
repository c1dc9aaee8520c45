"""Contactless on the pinpad: ABECS 2.12 §6.8.1.3 (GCR), §6.8.4.2 (GOC), §6.8.5.4 (FNC),
§6.5.3 (CKE) and §3.2.3 (GIN).

These case ids cite the sections of the ABECS specification itself (version 2.12),
not the mpos-bridge note that the two-level ``abecs/4.x`` ids follow. Every command is
written here byte by byte from the specification's layouts and every expected answer
is spelled out the same way, so the pinpad's own codec is never the judge of itself.
Cases that need a card tapped by a person are informational against a real pinpad.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conformance import case
from conformance.cases.abecs.steps import frames_in, listen
from conformance.invariants import no_full_pan
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.link import frame
from virtual_devices.abecs.tables import records_from_config
from virtual_devices.acquirer.host import make_acquirer
from virtual_devices.emv.card import VirtualCard, load_card

Gen = Any
VERSION = "CTLS000001"
CVM_LIMIT = 5000  # T1_CTLSCVMLIM of the tables loaded below (R$ 50,00)
TXN_LIMIT = 20000  # T1_CTLSTRNLIM (R$ 200,00)
UNDER = 4200
OVER = 9000  # above the CVM limit, under the transaction limit


def gcr_command(amount: int, ctls_on: str = "1") -> bytes:
    """GCR (§3.6.1): ACQIDXREQ 00, APPTYPREQ 99, AMOUNT, DATE, TIME, TABVER, QTDAPP 00,
    CTLSON: 2 + 2 + 12 + 6 + 6 + 10 + 2 + 1 = 41 bytes."""
    return (b"GCR041" + b"00" + b"99" + b"%012d" % amount + b"261125" + b"120000"
            + VERSION.encode() + b"00" + ctls_on.encode())


def goc_command(amount: int) -> bytes:
    """GOC (§3.6.3) without tags: AMOUNT, CASHBACK, EXCLIST 0, CONNECT 0, RUF 0, METHOD 3
    (DUKPT:TDES), KEYIDX 16, WKENC zeros, RISKMAN 0, FLRLIMIT, TPBRS, TVBRS, MTPBRS,
    ACQPRLEN 000 = 86 bytes; blocks 2 and 3 hold an empty tag list ("000")."""
    block1 = (b"%012d" % amount + b"000000000000" + b"0" + b"0" + b"0" + b"3" + b"16"
              + b"0" * 32 + b"0" + b"00000000" + b"00" + b"00000000" + b"00" + b"000")
    assert len(block1) == 86
    return b"GOC086" + block1 + b"003000" + b"003000"


def fnc_command(commst: str, arc: str) -> bytes:
    """FNC (§3.6.4): COMMST, ISSMODE 0, ARC, ISSDATLEN 000, ACQPRLEN 000; no tags."""
    return b"FNC010" + commst.encode() + b"0" + arc.encode() + b"000" + b"000" + b"003000"


def tables(**ctls: Any) -> list[bytes]:
    """The acquirer's tables (340-byte AID records) with contactless limits set."""
    cfg = make_acquirer().terminal_config()
    knobs = {"ctls_txn_limit": TXN_LIMIT, "ctls_cvm_limit": CVM_LIMIT, **ctls}
    return records_from_config(cfg.with_aids(replace(a, **knobs) for a in cfg.aids))


def answer(device: Any, pktdata: bytes, seconds: float) -> Gen:
    """Send one command; the pinpad's last packet that is not a notification."""
    raw = yield from listen(device, frame(pktdata), seconds)
    got = [f for f in frames_in(raw) if not f.startswith(b"NTM")]
    return got[-1] if got else b""


def tap(device: Any, name: str, behaviour: Behaviour | None = None) -> Any:
    card = load_card(name)
    device.present(card, behaviour or Behaviour(pin="1234"))
    return card


def prepared(device: Any, records: list[bytes] | None = None) -> Gen:
    yield from device.host.load_tables(0, VERSION, records if records is not None else tables())


# -- GCR ---------------------------------------------------------------------------------

@case("abecs/6.8.1.3/1", title="a tapped card is read whole in GCR: card type 06, PAN, no track 1",
      failure="contactless cards cannot be read, or are reported as another card type")
def test_gcr_reads_a_tap_as_ctls_emv(abecs_device: Any) -> None:
    card = tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        return (yield from answer(abecs_device, gcr_command(UNDER), 15))

    got = abecs_device.run(flow)
    # RSP_ID, RSP_STAT, RSP_LEN1, then GCR_CARDTYPE "06" and GCR_STATCHIP "0"
    assert got[:6] == b"GCR000" and got[9:12] == b"060", got[:20]
    assert got[18:20] == b"00"  # GCR_TRK1LEN: no track 1 for CTLS EMV
    assert got[242:244] == b"16" and got[244:260] == card.pan.encode()  # PANLEN, PAN
    screens = [s.line1 + s.line2 for s in abecs_device.pinpad.display.history]
    assert "APROXIME, INSIRA OU PASSE CARTAO" in screens
    no_full_pan(abecs_device.world.transcript.entries, [card.pan])


@case("abecs/6.8.6.2/1", title="GCR with a zero amount is accepted: the inserted card is read",
      failure="the pinpad refuses a zero amount (077) instead of leaving the decision to the card")
def test_gcr_zero_amount_is_accepted(abecs_device: Any) -> None:
    card = load_card("visa-chip-pin")
    abecs_device.present(card, Behaviour(pin="1234"))  # the antenna stays off: inserted

    def flow() -> Gen:
        yield from prepared(abecs_device)
        return (yield from answer(abecs_device, gcr_command(0, ctls_on="0"), 30))

    got = abecs_device.run(flow)
    # RSP_ID, RSP_STAT 000, RSP_LEN1, then GCR_CARDTYPE "03" (ICC EMV), GCR_STATCHIP "0"
    assert got[:6] == b"GCR000" and got[9:12] == b"030", got[:20]
    assert got[242:244] == b"16" and got[244:260] == card.pan.encode()  # PANLEN, PAN
    no_full_pan(abecs_device.world.transcript.entries, [card.pan])


@case("abecs/6.8.1.3/2", title="with the antenna on, two minutes without a card answer GCR012",
      failure="a contactless prompt never gives up, or gives up at the wrong time")
def test_gcr_ctls_two_minute_timeout(abecs_device: Any) -> None:
    abecs_device.need_virtual("the card prompt must be left alone")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        start = abecs_device.world.now
        got = yield from answer(abecs_device, gcr_command(UNDER), 125)
        return got, abecs_device.world.now - start

    got, _ = abecs_device.run(flow)
    assert got == b"GCR012"


@case("abecs/6.8.1.3/3", title="two cards in the field answer GCR080 (ST_CTLSMULTIPLE)",
      failure="the pinpad reads one of two cards held together")
def test_gcr_080_two_cards(abecs_device: Any) -> None:
    tap(abecs_device, "visa-contactless", Behaviour(second_card_in_field=True))

    def flow() -> Gen:
        yield from prepared(abecs_device)
        return (yield from answer(abecs_device, gcr_command(UNDER), 15))

    assert abecs_device.run(flow) == b"GCR080"


@case("abecs/6.8.1.3/4", title="a card that stops answering in the field gives GCR081",
      failure="a broken tap is not reported as a contactless communication error")
def test_gcr_081_comm_error(abecs_device: Any) -> None:
    card = tap(abecs_device, "visa-contactless")
    card.mute_after_apdus(1)  # answers the PPSE, then falls silent

    def flow() -> Gen:
        yield from prepared(abecs_device)
        return (yield from answer(abecs_device, gcr_command(UNDER), 15))

    assert abecs_device.run(flow) == b"GCR081"


class _Answers(VirtualCard):
    """A catalogue card whose answer to one instruction is replaced by a status word."""

    def __init__(self, profile: Any, ins: int, sw: bytes, after_ppse: bool = True) -> None:
        super().__init__(profile)
        self.ins, self.sw, self.after_ppse = ins, sw, after_ppse
        self.selects = 0

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) > 1 and apdu[1] == self.ins:
            self.selects += 1
            if self.ins != 0xA4 or self.selects > 1:  # SELECT: the PPSE answers normally
                return self.sw
        return super().transmit(apdu)


def _status_case(device: Any, ins: int, sw: bytes) -> bytes:
    from virtual_devices.emv.catalogue import catalogue

    card = _Answers(catalogue()["visa-contactless"], ins, sw)
    device.present(card, Behaviour(pin="1234"))

    def flow() -> Gen:
        yield from prepared(device)
        return (yield from answer(device, gcr_command(UNDER), 15))

    got: bytes = device.run(flow)
    return got


@case("abecs/6.8.1.3/5", title="SELECT answered 6A81 gives GCR082 (ST_CTLSINVALIDAT)",
      failure="an invalidated contactless application is not reported as such")
def test_gcr_082_invalidated(abecs_device: Any) -> None:
    abecs_device.need_virtual("the card's answer is chosen by the suite")
    assert _status_case(abecs_device, 0xA4, b"\x6a\x81") == b"GCR082"


@case("abecs/6.8.1.3/6", title="a card that misbehaves (GPO 6F00) gives GCR083 (ST_CTLSPROBLEMS)",
      failure="a faulty contactless card is not reported as a card problem")
def test_gcr_083_problems(abecs_device: Any) -> None:
    abecs_device.need_virtual("the card's answer is chosen by the suite")
    assert _status_case(abecs_device, 0xA8, b"\x6f\x00") == b"GCR083"


@case("abecs/6.8.1.3/7", title="no contactless application in common gives GCR084",
      failure="a card the tables cannot take contactless is not reported as such")
def test_gcr_084_no_application(abecs_device: Any) -> None:
    tap(abecs_device, "mc-contactless")
    cfg = make_acquirer().terminal_config()
    visa_only = records_from_config(cfg.with_aids(
        replace(a, ctls_mode="2" if a.aid.startswith(bytes.fromhex("A000000003")) else "0",
                ctls_txn_limit=TXN_LIMIT, ctls_cvm_limit=CVM_LIMIT) for a in cfg.aids))

    def flow() -> Gen:
        yield from prepared(abecs_device, visa_only)
        return (yield from answer(abecs_device, gcr_command(UNDER), 15))

    assert abecs_device.run(flow) == b"GCR084"


@case("abecs/6.8.1.3/8", title="GPO answered 6985 gives GCR085 (ST_CTLSAPPNAUT)",
      failure="an application the card refuses is not reported as not authorised")
def test_gcr_085_not_authorised(abecs_device: Any) -> None:
    abecs_device.need_virtual("the card's answer is chosen by the suite")
    assert _status_case(abecs_device, 0xA8, b"\x69\x85") == b"GCR085"


@pytest.mark.parametrize("mobile_cvm, expected", [(True, b"GCR086"), (False, b"GCR081")])
@case("abecs/6.8.1.3/9", title="a locked phone over the CVM limit: 086 with "
      "T1_MOBCVM 1, 081 without", failure="on-device verification cannot complete")
def test_gcr_086_see_phone(abecs_device: Any, mobile_cvm: bool, expected: bytes) -> None:
    tap(abecs_device, "visa-phone-see-phone")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(mobile_cvm=mobile_cvm))
        return (yield from answer(abecs_device, gcr_command(OVER), 15))

    assert abecs_device.run(flow) == expected


@case("abecs/6.8.1.3/10", title="an amount equal to T1_CTLSTRNLIM gives GCR087; the card "
      "is inserted at the next GCR", failure="the contactless limit is not enforced, "
      "or the cardholder is never asked to use the chip")
def test_gcr_087_interface_change(abecs_device: Any) -> None:
    card = tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        first = yield from answer(abecs_device, gcr_command(TXN_LIMIT), 15)
        second = yield from answer(abecs_device, gcr_command(TXN_LIMIT), 15)
        return first, second

    first, second = abecs_device.run(flow)
    assert first == b"GCR087"  # "equal or above" (ABECS 2.10)
    assert second[:6] == b"GCR000" and second[9:12] == b"030"  # ICC EMV, inserted
    assert second[244:260] == card.pan.encode()


# -- GOC / FNC ---------------------------------------------------------------------------

def _tap_then(device: Any, *commands: bytes) -> list[bytes]:
    tap(device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(device)
        out = [(yield from answer(device, gcr_command(UNDER), 15))]
        for cmd in commands:
            out.append((yield from answer(device, cmd, 15)))
        return out

    got: list[bytes] = device.run(flow)
    return got


@case("abecs/6.8.4.2/1", title="GOC after a tap reports GCR's decision: online, no PIN "
      "under the CVM limit", failure="the contactless decision or the CVM is wrong")
def test_goc_reports_the_tap(abecs_device: Any) -> None:
    _, goc = _tap_then(abecs_device, goc_command(UNDER))
    # DECISION 2, SIGNAT/PINOFF/ERRPINOFF/PBLOCKED/PINONL 0, PINBLK and KSN zero,
    # EMVDTLEN 000, ACQRDLEN 000: 6 + 16 + 20 + 3 + 3 = 48
    assert goc == b"GOC000048" + b"200000" + b"0" * 36 + b"000" + b"000"


@case("abecs/6.8.4.2/2", title="GOC with an amount other than GCR's answers 011",
      failure="the pinpad accepts an amount the card never saw")
def test_goc_amount_changed(abecs_device: Any) -> None:
    _, goc = _tap_then(abecs_device, goc_command(UNDER + 100))
    assert goc == b"GOC011"


@case("abecs/6.8.4.2/3", title="over the CVM limit the online PIN is asked in GOC, under "
      "GOC's key", failure="a tap over the CVM limit is approved without the PIN")
def test_goc_online_pin_over_the_limit(abecs_device: Any) -> None:
    from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys

    card = tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        read = yield from answer(abecs_device, gcr_command(OVER), 15)
        goc = yield from answer(abecs_device, goc_command(OVER), 90)
        return read, goc

    read, goc = abecs_device.run(flow)
    assert read[9:12] == b"060"
    screens = [s.line2 for s in abecs_device.pinpad.display.history]
    assert any(line.startswith("SENHA") for line in screens)  # prompted in GOC, not GCR
    assert goc[:9] == b"GOC000048" and goc[9:15] == b"200001", goc[:15]  # online, PINONL 1
    block, ksn = bytes.fromhex(goc[15:31].decode()), bytes.fromhex(goc[31:51].decode())
    assert decrypt_pin(load_test_keys()[16].bdk, ksn, block, card.pan) == "1234"


@pytest.mark.parametrize("commst, arc, decision", [
    ("0", "00", b"0"), ("0", "51", b"2"), ("1", "00", b"1"), ("9", "51", b"0"),
])
@case("abecs/6.8.5.4/1", title="FNC after a tap echoes the host: 0 approved, 1 no host, "
      "2 declined; nothing else", failure="the contactless completion misreports the host")
def test_fnc_echoes_the_host(abecs_device: Any, commst: str, arc: str, decision: bytes) -> None:
    _, _, fnc = _tap_then(abecs_device, goc_command(UNDER), fnc_command(commst, arc))
    # DECISION, EMVDTLEN 000, ISRLEN 00, ACQRDLEN 000 (tags ignored for CTLS)
    assert fnc == b"FNC000009" + decision + b"000" + b"00" + b"000"


# -- CKE, GIN ----------------------------------------------------------------------------

@case("abecs/6.5.3/1", title="CKE with the antenna on reports a tap as event 3",
      failure="the host cannot wait for a contactless card")
def test_cke_contactless_event(abecs_device: Any) -> None:
    tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        return (yield from answer(abecs_device, b"CKE004" + b"0001", 15))

    assert abecs_device.run(flow) == b"CKE000002" + b"31"


@case("abecs/3.2.3/1", title="GIN says the pinpad has a contactless reader",
      failure="the host never turns the antenna on")
def test_gin_reports_ctls(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        return (yield from answer(abecs_device, b"GIN00200", 5))

    got = abecs_device.run(flow)
    assert got[:9] == b"GIN000100", got[:12]
    # GIN_MNAME A20, GIN_MODEL A19, GIN_CTLSSUP A1 ("C" when present)
    if got[48:49] != b"C":
        verdict.informational("this pinpad reports no contactless reader")


# -- card type 05: a tap in mag-stripe mode (§6.8.1.3 "CTLS simulando tarja") ------------

def _ms_read(device: Any, amount: int = UNDER) -> tuple[Any, bytes]:
    card = tap(device, "mc-paypass-magstripe")

    def flow() -> Gen:
        yield from prepared(device)
        return (yield from answer(device, gcr_command(amount), 15))

    got: bytes = device.run(flow)
    return card, got


def _gcr_tracks(got: bytes) -> tuple[bytes, bytes]:
    """GCR_TRK1LEN N2 + GCR_TRK1 A76 at 18, GCR_TRK2LEN N2 + GCR_TRK2 A37 at 96."""
    n1, n2 = int(got[18:20]), int(got[96:98])
    return got[20 : 20 + n1], got[98 : 98 + n2]


@case("abecs/6.8.1.3/11", title="a PayPass card in mag-stripe mode is GCR type 05: both tracks, "
      "the label, no PAN field; the issuer verifies its CVC3 once",
      failure="contactless mag-stripe cards cannot be read, or their tracks do not verify")
def test_gcr_type_05(abecs_device: Any) -> None:
    from virtual_devices.emv.kernel.messages import AuthRequest

    card, got = _ms_read(abecs_device)
    # RSP_ID, RSP_STAT, RSP_LEN1, GCR_CARDTYPE "05", GCR_STATCHIP "0"
    assert got[:6] == b"GCR000" and got[9:12] == b"050", got[:20]
    t1, t2 = _gcr_tracks(got)
    pan = card.pan.encode()
    assert t1.startswith(b"B" + pan + b"^CARDLOOP/MAGSTRIPE^3012101"), t1[:8]
    assert t2.startswith(pan + b"=3012101") and len(t2) == 37
    # "Outro...": GCR_PANLEN "00", GCR_SRVCODE "000", GCR_CARDEXP "000000"
    assert got[242:244] == b"00" and got[281:284] == b"000" and got[310:316] == b"000000"
    assert got[265:281] == b"MASTERCARD      "  # GCR_APPLABEL
    no_full_pan(abecs_device.world.transcript.entries, [card.pan])
    host = make_acquirer()
    req = AuthRequest("contactless", UNDER, 986, card.pan, "00", bytes.fromhex("A0000000041010"),
                      {}, track2=t2.decode())
    first = host.authorise(req)
    assert first is not None and first.approved and host.ledger.entries[0].meta["cryptogram_ok"]
    replay = host.authorise(req)  # the same track again: its ATC is not new
    assert replay is not None and not replay.approved and replay.arc == "82"


@case("abecs/6.8.1.3/12", title="two taps in mag-stripe mode give two different tracks 2 "
      "(UN and ATC change, so the CVC3 does)", failure="a contactless mag-stripe track repeats")
def test_gcr_type_05_dynamic(abecs_device: Any) -> None:
    card = tap(abecs_device, "mc-paypass-magstripe")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        first = yield from answer(abecs_device, gcr_command(UNDER), 15)
        abecs_device.present(card, Behaviour(pin="1234"))
        second = yield from answer(abecs_device, gcr_command(UNDER), 15)
        return first, second

    first, second = abecs_device.run(flow)
    assert first[9:11] == second[9:11] == b"05"
    assert _gcr_tracks(first)[1][:24] == _gcr_tracks(second)[1][:24]  # PAN=YYMMSSS100
    assert _gcr_tracks(first)[1] != _gcr_tracks(second)[1]


@case("abecs/6.8.4.2/4", title="GOC after a type 05 read is 010: the card is a stripe now",
      failure="chip processing is attempted on a contactless mag-stripe read")
def test_goc_after_type_05(abecs_device: Any) -> None:
    card = tap(abecs_device, "mc-paypass-magstripe")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        read = yield from answer(abecs_device, gcr_command(UNDER), 15)
        goc = yield from answer(abecs_device, goc_command(UNDER), 15)
        return read, goc

    read, goc = abecs_device.run(flow)
    assert read[9:11] == b"05" and goc == b"GOC010"
    assert card.pan  # the card itself is untouched by the refused GOC


@case("abecs/6.8.1.3/16", title="a Visa card that only does MSD gets GCR087: the TTQ never "
      "offers MSD (byte 1 bit 8 fixed 0); the customer then swipes it",
      failure="the pinpad offers Visa MSD, which ABECS 2.12 turned off")
def test_visa_msd_is_not_offered(abecs_device: Any) -> None:
    card = tap(abecs_device, "visa-msd")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        first = yield from answer(abecs_device, gcr_command(UNDER), 15)
        second = yield from answer(abecs_device, gcr_command(UNDER), 15)
        return first, second

    first, second = abecs_device.run(flow)
    assert first == b"GCR087"
    assert second[:6] == b"GCR000" and second[9:11] == b"00"  # swiped: no contact chip
    assert _gcr_tracks(second)[1].startswith(card.pan.encode() + b"=3112101")


@case("abecs/6.8.1.3/20", title="on a debit record (T1_APPTYPE 02, Maestro) PayPass mag-stripe "
      "mode is not supported: GCR087", failure="a debit tap is taken in mag-stripe mode")
def test_no_magstripe_mode_for_debit(abecs_device: Any) -> None:
    tap(abecs_device, "mc-paypass-magstripe")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(app_type=2))
        return (yield from answer(abecs_device, gcr_command(UNDER), 15))

    assert abecs_device.run(flow) == b"GCR087"


# -- the AID record's contactless fields change the tap (§4.1.1, §6.8.1.3) ----------------

def goc_with_tags(amount: int, tags: bytes) -> bytes:
    """GOC as :func:`goc_command`, block 2 asking for ``tags`` (TAGSLEN N3, hex ids)."""
    plain = goc_command(amount)
    hexed = tags.hex().upper().encode()
    block2 = b"%03d" % (len(tags)) + hexed
    head = plain[: 6 + 86]
    return head + b"%03d" % len(block2) + block2 + b"003000"


def _goc_emv(goc: bytes) -> dict[int, bytes]:
    from virtual_devices.emv import tlv

    n = int(goc[51:54])  # GOC_EMVDTLEN after the 42 bytes of decision, PIN block, KSN
    return dict(tlv.flatten(bytes.fromhex(goc[54 : 54 + 2 * n].decode())))


@pytest.mark.parametrize("name, trmcp, expected", [
    ("visa-contactless", "E06808", b"200001"),  # TTQ online PIN: the card asks for it
    ("visa-contactless", "E02808", b"210000"),  # no online PIN in the TTQ: a signature
    ("mc-contactless", "E06808", b"200001"),  # CVM Capability: the list's online PIN
    ("mc-contactless", "E02808", b"210000"),  # without it, the list's next rule: signature
])
@case("abecs/6.8.1.3/13", title="T1_CTLSTRMCP drives the brand's CVM: without online PIN a "
      "tap over the CVM limit is signed (Visa TTQ, PayPass CVM capability), with it the PIN "
      "is asked", failure="the contactless capabilities of the AID record are ignored")
def test_trmcp_drives_ttq(abecs_device: Any, name: str, trmcp: str, expected: bytes) -> None:
    tap(abecs_device, name)

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(ctls_capabilities=bytes.fromhex(trmcp)))
        read = yield from answer(abecs_device, gcr_command(OVER), 15)
        goc = yield from answer(abecs_device, goc_command(OVER), 90)
        return read, goc

    read, goc = abecs_device.run(flow)
    assert read[9:11] == b"06"
    assert goc[:9] == b"GOC000048" and goc[9:15] == expected, goc[:15]


@pytest.mark.parametrize("name, mobile_limit, amount, expected", [
    ("visa-phone-cdcvm", 50000, 30000, b"06"),  # a phone: T1_CTLSMBTLIM lets it through
    ("visa-contactless", 50000, 30000, b"087"),  # a card: T1_CTLSTRNLIM still applies
    ("visa-phone-cdcvm", 10000, 15000, b"087"),  # a phone over its own lower limit
    ("mc-phone-cdcvm", 50000, 30000, b"06"),  # PayPass: on-device CVM in the AIP, DF8125
    ("mc-contactless", 50000, 30000, b"087"),
])
@case("abecs/6.8.1.3/14", title="T1_CTLSMBTLIM is the limit of phones, T1_CTLSTRNLIM of cards",
      failure="phones are held to the card limit, or cards to the phone limit")
def test_mobile_limit(abecs_device: Any, name: str, mobile_limit: int, amount: int,
                      expected: bytes) -> None:
    tap(abecs_device, name)

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(ctls_mobile_limit=mobile_limit))
        return (yield from answer(abecs_device, gcr_command(amount), 15))

    got = abecs_device.run(flow)
    if expected == b"087":
        assert got == b"GCR087"
    else:
        assert got[:6] == b"GCR000" and got[9:11] == expected


@pytest.mark.parametrize("addtc, scripts, ttq_byte3", [
    (None, False, 0x40), ("F000F0A001", True, 0xC0),
])
@case("abecs/6.8.1.3/15", title="T1_CTLSADDTC is the tap's 9F40 and T1_CTLSISSSCR sets TTQ "
      "byte 3 bit 8 (issuer update)", failure="contactless table fields do not reach the kernel")
def test_addtc_and_issuer_scripts_flag(abecs_device: Any, addtc: str | None, scripts: bool,
                                       ttq_byte3: int) -> None:
    tap(abecs_device, "visa-contactless")
    knobs: dict[str, Any] = {"ctls_issuer_scripts": scripts}
    if addtc is not None:
        knobs["ctls_add_capabilities"] = bytes.fromhex(addtc)
    contact_addtc = make_acquirer().terminal_config().aids[0].additional_capabilities

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(**knobs))
        yield from answer(abecs_device, gcr_command(UNDER), 15)
        return (yield from answer(abecs_device, goc_with_tags(UNDER, b"\x9f\x40\x9f\x66"), 15))

    emv = _goc_emv(abecs_device.run(flow))
    assert emv[0x9F40] == (bytes.fromhex(addtc) if addtc else contact_addtc)
    assert emv[0x9F66][2] == ttq_byte3


@pytest.mark.parametrize("floor, decision", [(0, b"2"), (5000, b"0")])
@case("abecs/6.8.1.3/18", title="T1_CTLSFLRLIM: under it an offline-capable card approves in "
      "the tap (GOC decision 0); with floor 0 it goes online (2)",
      failure="the contactless floor limit is ignored")
def test_ctls_floor_limit(abecs_device: Any, floor: int, decision: bytes) -> None:
    tap(abecs_device, "visa-contactless-offline")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(ctls_floor_limit=floor))
        yield from answer(abecs_device, gcr_command(UNDER), 15)
        return (yield from answer(abecs_device, goc_command(UNDER), 15))

    goc = abecs_device.run(flow)
    assert goc[:9] == b"GOC000048" and goc[9:10] == decision, goc[:15]


@pytest.mark.parametrize("tac_denial, decision", [
    ("0000000000", b"2"),  # nothing denies: the ARQC goes online
    ("0000008000", b"1"),  # T1_CTLSTACDEN on "floor limit exceeded": declined in the tap
])
@case("abecs/6.8.1.3/19", title="T1_CTLSTACDEN decides a PayPass tap: a TVR bit it names "
      "declines offline", failure="the contactless action codes are ignored")
def test_ctls_tac_denial(abecs_device: Any, tac_denial: str, decision: bytes) -> None:
    tap(abecs_device, "mc-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(ctls_tac_denial=bytes.fromhex(tac_denial)))
        yield from answer(abecs_device, gcr_command(UNDER), 15)
        return (yield from answer(abecs_device, goc_command(UNDER), 15))

    goc = abecs_device.run(flow)
    assert goc[:9] == b"GOC000048" and goc[9:10] == decision, goc[:15]


@pytest.mark.parametrize("mobile_cvm, trmcp, enhanced", [
    (True, "E06808", "D8E00000"),  # mobile CVM, online PIN, signature
    (False, "E02808", "D8200000"),  # T1_MOBCVM 0 and no online PIN in T1_CTLSTRMCP
])
@case("abecs/6.8.1.3/21", title="an Amex ExpressPay tap gets 9F6D C0 and 9F6E from T1_MOBCVM "
      "and T1_CTLSTRMCP", failure="the ExpressPay reader parameters ignore the AID record")
def test_expresspay_reader_capabilities(abecs_device: Any, mobile_cvm: bool, trmcp: str,
                                        enhanced: str) -> None:
    tap(abecs_device, "amex-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(mobile_cvm=mobile_cvm,
                                                 ctls_capabilities=bytes.fromhex(trmcp)))
        read = yield from answer(abecs_device, gcr_command(UNDER), 15)
        goc = yield from answer(abecs_device, goc_with_tags(UNDER, b"\x9f\x6d\x9f\x6e"), 15)
        return read, goc

    read, goc = abecs_device.run(flow)
    assert read[9:11] == b"06" and goc[9:10] == b"2"
    emv = _goc_emv(goc)
    assert emv[0x9F6D] == b"\xc0" and emv[0x9F6E] == bytes.fromhex(enhanced)


# -- GCX / GOX / FCX: type 05 and issuer scripts on a second tap (§6.9) -----------------------

def _p(pid: int, value: bytes) -> bytes:
    return pid.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


def _cmd(name: bytes, *params: bytes) -> bytes:
    body = b"".join(params)
    return name + b"%03d" % len(body) + body


def _tagged(rsp: bytes) -> dict[int, bytes]:
    """RSP_ID RSP_STAT, then N3-length blocks of (id X2, length X2, value)."""
    out: dict[int, bytes] = {}
    pos = 6
    while pos < len(rsp):
        n = int(rsp[pos : pos + 3])
        blk, pos = rsp[pos + 3 : pos + 3 + n], pos + 3 + n
        i = 0
        while i < len(blk):
            pid = int.from_bytes(blk[i : i + 2], "big")
            plen = int.from_bytes(blk[i + 2 : i + 4], "big")
            out[pid] = blk[i + 4 : i + 4 + plen]
            i += 4 + plen
    return out


def gcx_tap(amount: int, panmask: bytes | None = None) -> bytes:
    """GCX (§3.7.1): SPE_AMOUNT (0013), SPE_TRNDATE (0015), SPE_TRNTIME (0016), SPE_GCXOPT
    (0017) "10000" (contactless on), optionally SPE_PANMASK (0023)."""
    params = [_p(0x13, b"%012d" % amount), _p(0x15, b"261125"), _p(0x16, b"120000"),
              _p(0x17, b"10000")]
    if panmask is not None:
        params.append(_p(0x23, panmask))
    return _cmd(b"GCX", *params)


def gox(amount: int, tags: bytes = b"") -> bytes:
    """GOX (§3.7.3): SPE_ACQREF (0010) "08", SPE_AMOUNT, SPE_MTHDPIN (0002) "3" (DUKPT
    TDES), SPE_KEYIDX (0009) "16", optionally SPE_TAGLIST (0004)."""
    params = [_p(0x10, b"08"), _p(0x13, b"%012d" % amount), _p(0x02, b"3"), _p(0x09, b"16")]
    if tags:
        params.append(_p(0x04, tags))
    return _cmd(b"GOX", *params)


@case("abecs/6.9.1.3/1", title="GCX reads a mag-stripe mode tap as type 05: incomplete tracks "
      "masked by SPE_PANMASK, no PP_PAN; GOX after it is 010",
      failure="the parameter-tagged flow mishandles contactless mag-stripe cards")
def test_gcx_type_05(abecs_device: Any) -> None:
    card = tap(abecs_device, "mc-paypass-magstripe")

    def flow() -> Gen:
        yield from prepared(abecs_device)
        read = yield from answer(abecs_device, gcx_tap(UNDER, b"0604"), 15)
        after = yield from answer(abecs_device, gox(UNDER), 15)
        return read, after

    read, after = abecs_device.run(flow)
    got = _tagged(read)
    masked = card.pan[:6] + "******" + card.pan[-4:]
    assert read[:6] == b"GCX000" and got[0x804F] == b"05"  # PP_CARDTYPE
    assert got[0x8042] == f"{masked}=3012101".encode()  # PP_TRK2INC, up to the service code
    assert got[0x8041].startswith(f"B{masked}^".encode())  # PP_TRK1INC
    assert 0x8052 not in got and got[0x805B] == b"MASTERCARD"  # no PP_PAN; PP_LABEL
    assert got[0x8060] == b"00"  # PP_DEVTYPE: a card
    assert after == b"GOX010"


@pytest.mark.parametrize("zero_allowed, prompt, card_type", [
    (False, "INSIRA OU PASSE O CARTAO", b"03"),  # antenna off: the customer inserts
    (True, "APROXIME, INSIRA OU PASSE CARTAO", b"06"),  # T1_CTLSZEROAM 1: tapped, online
])
@case("abecs/6.9.1.3/2", title="GCX with a zero amount turns the antenna on only with "
      "T1_CTLSZEROAM 1", failure="a zero-amount tap is taken against the table, or never offered")
def test_zero_amount(abecs_device: Any, zero_allowed: bool, prompt: str,
                     card_type: bytes) -> None:
    tap(abecs_device, "visa-contactless")

    def flow() -> Gen:
        yield from prepared(abecs_device, tables(ctls_zero_amount=zero_allowed))
        return (yield from answer(abecs_device, gcx_tap(0), 30))

    got = abecs_device.run(flow)
    screens = [s.line1 + s.line2 for s in abecs_device.pinpad.display.history]
    assert got[:6] == b"GCX000" and _tagged(got)[0x804F] == card_type, got[:12]
    assert any(sc.rstrip() == prompt for sc in screens), screens


def _gcx_status(device: Any, card: Any, behaviour: Behaviour, records: list[bytes],
                amount: int) -> bytes:
    device.present(card, behaviour)

    def flow() -> Gen:
        yield from prepared(device, records)
        return (yield from answer(device, gcx_tap(amount), 15))

    got: bytes = device.run(flow)
    return got


@pytest.mark.parametrize("status", ["080", "081", "082", "083", "084", "085", "086", "087"])
@case("abecs/6.9.1.3/3", title="GCX answers the contactless return codes as GCR does: two "
      "cards 080, comm error 081, invalidated 082, problems 083, no application 084, not "
      "authorised 085, "
      "see phone 086, interface change 087", failure="GCX hides why a tap failed")
def test_gcx_ctls_status_codes(abecs_device: Any, status: str) -> None:
    from virtual_devices.emv.catalogue import catalogue

    abecs_device.need_virtual("the card's behaviour is chosen by the suite")
    profiles = catalogue()
    quick = Behaviour(pin="1234")
    records, amount = tables(), UNDER
    card: Any = load_card("visa-contactless")
    if status == "080":
        quick = Behaviour(pin="1234", second_card_in_field=True)
    elif status == "081":
        card.mute_after_apdus(1)
    elif status == "082":
        card = _Answers(profiles["visa-contactless"], 0xA4, b"\x6a\x81")
    elif status == "083":
        card = _Answers(profiles["visa-contactless"], 0xA8, b"\x6f\x00")
    elif status == "084":
        card = load_card("mc-contactless")
        cfg = make_acquirer().terminal_config()
        records = records_from_config(cfg.with_aids(
            replace(a, ctls_mode="2" if a.aid.startswith(bytes.fromhex("A000000003")) else "0",
                    ctls_txn_limit=TXN_LIMIT, ctls_cvm_limit=CVM_LIMIT) for a in cfg.aids))
    elif status == "085":
        card = _Answers(profiles["visa-contactless"], 0xA8, b"\x69\x85")
    elif status == "086":
        card, amount = load_card("visa-phone-see-phone"), OVER
    else:
        amount = TXN_LIMIT
    assert _gcx_status(abecs_device, card, quick, records, amount) == b"GCX" + status.encode()


_AUTH_TAGS = bytes.fromhex("9F029F039F1A955F2A9A9C9F37829F369F109F269F27")


def _tap_online_then_fcx(device: Any, tables_scripts: bool, behaviour: Behaviour,
                         wait: int | None = None) -> tuple[Any, bytes, list[str], list[bytes]]:
    """A Visa tap that goes online for R$ 73,00 (the acquirer approves with an
    APPLICATION BLOCK script in template 72), then FCX with the acquirer's answer."""
    from virtual_devices.emv import tlv
    from virtual_devices.emv.kernel.messages import AuthRequest

    amount = 7300
    card = tap(device, "visa-contactless-issuer-update", behaviour)
    records = tables(ctls_cvm_limit=10000, ctls_issuer_scripts=tables_scripts)

    def flow() -> Gen:
        yield from prepared(device, records)
        read = yield from answer(device, gcx_tap(amount), 15)
        assert _tagged(read)[0x804F] == b"06"
        goxed = yield from answer(device, gox(amount, _AUTH_TAGS), 15)
        emv = dict(tlv.flatten(_tagged(goxed)[0x8054]))
        host = make_acquirer()
        rsp = host.authorise(AuthRequest("contactless", amount, 986, card.pan, "00",
                                         bytes.fromhex("A0000000031010"), emv))
        assert rsp is not None and rsp.approved and rsp.scripts_72
        issuer = tlv.encode(0x91, rsp.issuer_auth_data or b"") + b"".join(rsp.scripts_72)
        params = [_p(0x19, b"0000"), _p(0x1C, b"00"), _p(0x05, issuer)]
        if wait is not None:
            params.append(_p(0x0C, bytes([wait])))
        raw = yield from listen(device, frame(_cmd(b"FCX", *params)), 150)
        return frames_in(raw)

    frames = device.run(flow)
    notes = [f for f in frames if f.startswith(b"NTM")]
    fcx = [f for f in frames if not f.startswith(b"NTM")][-1]
    screens = [s.text for s in device.pinpad.display.history]
    return card, fcx, screens, notes


@case("abecs/6.9.4.4/1", title="FCX after an online tap with T1_CTLSISSSCR 1: the card is asked "
      "again, the issuer's script runs on it and PP_ISRESULTS reports it",
      failure="issuer scripts of a contactless approval never reach the card")
def test_fcx_scripts_on_a_second_tap(abecs_device: Any) -> None:
    card, fcx, screens, notes = _tap_online_then_fcx(abecs_device, True, Behaviour(pin="1234"))
    got = _tagged(fcx)
    assert fcx[:6] == b"FCX000" and got[0x8058] == b"000"  # PP_FCXRES: approved
    # PP_ISRESULTS: "script processed successfully" (2x) and the script id 00000001
    assert got[0x8059] == bytes.fromhex("2000000001")
    assert "REAPROXIME O / CARTAO" in screens
    # the notification to the operator: NTM_MSG [1..16] "SOLICITE CARTAO ", [17..] "NOVAMENTE"
    assert b"NTM000025SOLICITE CARTAO NOVAMENTE" in notes, notes
    assert card.app_blocked(bytes.fromhex("A0000000031010"))  # APPLICATION BLOCK ran


@case("abecs/6.9.4.4/2", title="FCX after an online tap with T1_CTLSISSSCR 0: no second tap, "
      "no script results, the host's decision echoed",
      failure="the pinpad asks for the card again against its tables")
def test_fcx_no_scripts_when_the_table_says_no(abecs_device: Any) -> None:
    card, fcx, screens, _ = _tap_online_then_fcx(abecs_device, False, Behaviour(pin="1234"))
    assert fcx == b"FCX000" + b"007" + b"\x80\x58\x00\x03" + b"000"
    assert not any("REAPROXIME" in s for s in screens)
    assert not card.app_blocked(bytes.fromhex("A0000000031010"))


@case("abecs/6.9.4.4/3", title="FCX whose second tap never comes still answers ST_OK after "
      "SPE_TIMEOUT, without script results", failure="issuer maintenance fails the sale")
def test_fcx_second_tap_timeout(abecs_device: Any) -> None:
    card, fcx, _, _ = _tap_online_then_fcx(abecs_device, True,
                                        Behaviour(pin="1234", follow_prompts=False), wait=5)
    assert fcx == b"FCX000" + b"007" + b"\x80\x58\x00\x03" + b"000"
    assert not card.app_blocked(bytes.fromhex("A0000000031010"))
