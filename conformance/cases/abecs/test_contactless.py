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
