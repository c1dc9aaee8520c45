"""mpos-bridge.md §4.6–§4.9 (ABECS 2.12 §3.2–§3.6): every field of the pinpad's answers
read at the offset and width the specification gives, from commands written out byte by
byte.

``messages.py`` lays out both the pinpad's answers and the suite's own host's commands, so
a wrong width or value there can break both sides alike and stay green through the
host's codec. These cases write each command from the spec's layout, check every CRC with
:func:`binascii.crc_hqx` (the helpers of ``test_wire``) and slice the answer with widths
written here from the spec.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.cases.abecs.test_wire import ACK, CAN, answers, opened, send, wire
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.rig import aid_records, visa_swipe

Gen = Any
VERSION = b"CL00000042"
PAN = b"4761739001010010"  # visa_swipe(): expiry 2812, name SILVA/JOAO
SWIPE = Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1), presentation="swipe", pin="2468")

# CKE's and GCR's track fields (§4.6 CKE, §4.7): TRK1LEN N2, TRK1 A76, TRK2LEN N2,
# TRK2 A37, TRK3LEN N3, TRK3 A104
TRACKS = [("trk1len", 2), ("trk1", 76), ("trk2len", 2), ("trk2", 37), ("trk3len", 3),
          ("trk3", 104)]
# GCR's answer (§4.7): 342 characters before the acquirer's data
GCR_ANSWER = [("cardtype", 2), ("statchip", 1), ("apptype", 2), ("acqidx", 2), ("recidx", 2),
              *TRACKS, ("panlen", 2), ("pan", 19), ("panseqno", 2), ("applabel", 16),
              ("srvcode", 3), ("chname", 26), ("cardexp", 6), ("ruf", 29), ("isscntry", 3),
              ("acqrdlen", 3)]


def slice_fields(data: bytes, layout: list[tuple[str, int]]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    for name, width in layout:
        out[name] = data[pos : pos + width]
        pos += width
    assert pos == len(data), f"{len(data)} characters where the layout has {pos}"
    return out


def only(raw: bytes, head: bytes) -> bytes:
    """The one answer in ``raw`` that starts with ``head`` (RSP_ID + RSP_STAT)."""
    got = [p for p in answers(raw) if p[:3] == head[:3]]
    assert [p[:6] for p in got] == [head], f"expected one {head!r}, got {got!r}"
    return got[0]


def check_tracks(f: dict[str, bytes]) -> bytes:
    """The stripe's tracks as the spec lays them out; returns track 2."""
    n1, n2 = int(f["trk1len"]), int(f["trk2len"])
    assert 0 < n1 <= 76 and f["trk1"][n1:] == b" " * (76 - n1), f["trk1"]
    assert f["trk1"][:1] == b"B" and PAN in f["trk1"], "track 1 is not the card's"
    assert 0 < n2 <= 37 and f["trk2"][n2:] == b" " * (37 - n2), f["trk2"]
    track2 = f["trk2"][:n2]
    assert track2.startswith(PAN + b"=2812"), "track 2 is not the card's"
    assert f["trk3len"] == b"000" and f["trk3"] == b" " * 104, "a track 3 the card has not"
    return track2


@case("abecs/4.7/200", title="GCR written out from the spec for a swiped card: each of the "
      "answer's 21 fields at its offset and width, with the card's values (type 00, PAN, "
      "expiry YYMMDD, service code, RUF zeros)", section="4.7",
      failure="the pinpad's GCR answer is laid out or filled otherwise than the spec says, "
      "which a host sharing its codec would not notice")
def test_gcr_swipe_fields(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe(), SWIPE)
    # ACQIDXREQ 00, APPTYPREQ 01, AMOUNT 19,90, DATE, TIME, TABVER, QTDAPP 00, CTLSON 0
    gcr = b"GCR041" + b"00" + b"01" + b"000000001990" + b"261125" + b"101500" + VERSION
    gcr += b"00" + b"0"

    def flow() -> Gen:
        yield from opened(abecs_device)
        yield from abecs_device.host.load_tables(0, VERSION.decode(), aid_records())
        return (yield from send(abecs_device, wire(gcr), 15.0))

    raw = abecs_device.run(flow)
    assert raw[:1] == bytes((ACK,)), raw[:8].hex()
    pkt = only(raw[1:], b"GCR000")
    assert pkt[6:9] == b"342", f"RSP_LEN1 {pkt[6:9]!r} for a GCR without acquirer data"
    f = slice_fields(pkt[9:], GCR_ANSWER)
    assert (f["cardtype"], f["statchip"], f["apptype"]) == (b"00", b"0", b"01"), f
    assert f["acqidx"] == b"08", "the stripe's application is acquirer 08's (the tables)"
    track2 = check_tracks(f)
    assert f["panlen"] == b"16" and f["pan"] == PAN + b"   ", (f["panlen"], f["pan"])
    assert f["panseqno"] == b"00"
    assert f["srvcode"] == track2[21:24] and f["srvcode"].isdigit(), f["srvcode"]
    assert f["chname"] == b"SILVA/JOAO".ljust(26), f["chname"]
    assert f["cardexp"] == b"281231", f"CARDEXP {f['cardexp']!r}: YYMMDD of 2812"
    assert f["ruf"] == b"0" * 29, f["ruf"]
    assert f["isscntry"].isdigit() and f["acqrdlen"] == b"000"


@case("abecs/4.6/200", title="CKE 010 (stripe only) and a swipe, twice with the card kept in "
      "hand: event 1 with the three tracks in 225 characters at the spec's widths",
      section="4.6",
      failure="CKE ignores its stripe flag or lays the tracks out otherwise than the spec")
def test_cke_swipe_fields(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe(), SWIPE)

    def flow() -> Gen:
        yield from opened(abecs_device)
        out = []
        # twice: the customer keeps the card in hand and swipes it again (DECISIONS.md)
        for _ in range(2):
            out.append((yield from send(abecs_device, wire(b"CKE003" + b"010"), 10.0)))
        return out

    for raw in abecs_device.run(flow):
        assert raw[:1] == bytes((ACK,)), raw[:8].hex()
        pkt = only(raw[1:], b"CKE000")
        assert pkt[6:10] == b"2251", f"CKE stripe answer starts {pkt[6:10]!r}, not 225 + event 1"
        check_tracks(slice_fields(pkt[10:], TRACKS))


@case("abecs/4.6/201", title="GDU by method: 2 (DUKPT:DES) and 3 (DUKPT:TDES) are methods "
      "GDU knows, 0, 1 and 4 are refused with 011, and so are key indexes 00", section="4.6",
      failure="GDU takes a method or key index outside the spec's range, or refuses a "
      "DUKPT method")
def test_gdu_methods(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from opened(abecs_device)
        out = {}
        for body in (b"316", b"216", b"016", b"116", b"416", b"300"):
            out[body] = yield from send(abecs_device, wire(b"GDU003" + body))
        return out

    got = abecs_device.run(flow)
    for body, raw in got.items():
        assert raw[:1] == bytes((ACK,)), (body, raw[:8].hex())
    (ksn,) = answers(got[b"316"][1:])
    assert ksn[:9] == b"GDU000020" and len(ksn) == 29, ksn
    int(ksn[9:], 16)  # KSN H20
    (des,) = answers(got[b"216"][1:])
    assert des[:6] in (b"GDU000", b"GDU042"), f"method 2 is DUKPT:DES, answered {des!r}"
    for body in (b"016", b"116", b"416", b"300"):
        assert answers(got[body][1:]) == [b"GDU011"], (body, answers(got[body][1:]))


@case("abecs/4.6/202", title="GPN written out from the spec (METHOD, KEYIDX, WKENC H32, "
      "PANLEN, PAN A19, ENTRIES N1, MIN, MAX, MSG S32): 036 + PINBLK H16 + KSN H20, and the "
      "block decrypts to the typed PIN", section="4.6",
      failure="the pinpad reads GPN's fields at other widths than the spec's")
def test_gpn_fields(abecs_device: Any) -> None:
    from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys

    abecs_device.present(visa_swipe(), SWIPE)
    body = (b"3" + b"16" + b"0" * 32 + b"16" + PAN.ljust(19) + b"1" + b"04" + b"12"
            + b"DIGITE A SENHA".ljust(32))
    assert len(body) == 93

    def flow() -> Gen:
        yield from opened(abecs_device)
        return (yield from send(abecs_device, wire(b"GPN093" + body), 20.0))

    raw = abecs_device.run(flow)
    assert raw[:1] == bytes((ACK,)), raw[:8].hex()
    pkt = only(raw[1:], b"GPN000")
    assert pkt[6:9] == b"036" and len(pkt) == 45, pkt[:9]
    block, ksn = bytes.fromhex(pkt[9:25].decode()), bytes.fromhex(pkt[25:45].decode())
    bdk = load_test_keys()[16].bdk
    assert decrypt_pin(bdk, ksn, block, PAN.decode()) == "2468"


# GOC written out from §4.8: AMOUNT 15,00, CASHBACK 0, EXCLIST 0, CONNECT 0, RUF 0, METHOD 3
# (DUKPT:TDES), KEYIDX 16, WKENC zeros, RISKMAN 0, FLRLIMIT 0, TPBRS 00, TVBRS 0, MTPBRS 00,
# ACQPRLEN 000 (86 characters); TAGS1 = the spec sample's eleven bytes of tag ids
GOC_B1 = (b"000000001500" + b"000000000000" + b"0" + b"0" + b"0" + b"3" + b"16" + b"0" * 32
          + b"0" + b"00000000" + b"00" + b"00000000" + b"00" + b"000")
TAGS1 = b"011" + b"829F279F269F36958F9F37"
GCR_ICC = (b"GCR041" + b"00" + b"99" + b"000000001500" + b"261125" + b"120000" + b"0000000042"
           + b"00" + b"0")


def _emv_field(data: bytes, pos: int, width: int) -> tuple[bytes, int]:
    """A length (``width`` digits, in bytes) and that many bytes as hex."""
    n = int(data[pos : pos + width])
    raw = bytes.fromhex(data[pos + width : pos + width + 2 * n].decode())
    assert len(raw) == n, f"{n} bytes announced, {len(raw)} present"
    return raw, pos + width + 2 * n


@case("abecs/4.8/200", title="a chip sale written out from the spec: a CKE wait cancelled "
      "between GCR and GOC leaves the chip session; a GOC with a malformed tag list is "
      "refused 011, one without its third block 019, and a good one then answers DECISION 2 "
      "with an online PIN; FNC COMMST 1 (no host) is taken; a second FNC is refused 010",
      section="4.8",
      failure="the pinpad loses the card's session to a cancelled wait, crashes or hangs on "
      "a malformed GOC, misreads FNC's communication status or finishes a chip twice")
def test_chip_sale_literal(abecs_device: Any) -> None:
    from virtual_devices.abecs import messages as m
    from virtual_devices.abecs.fields import Response
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    card = VirtualCard(catalogue()["visa-online-pin"])
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1),
                                         presentation="insert"))
    # TAGS1LEN written in hex ("01A") where the spec has three decimal digits
    goc_bad = b"GOC086" + GOC_B1 + b"009" + b"01A829F27" + b"003000"
    goc = b"GOC086" + GOC_B1 + b"025" + TAGS1 + b"003000"
    goc_two_blocks = b"GOC086" + GOC_B1 + b"025" + TAGS1  # CMD_LEN3 and TAGS2 left out
    # COMMST 1 (host not reached: the other fields zero), ISSMODE 0, ARC 00, ISSDATLEN 000,
    # ACQPRLEN 000; TAGS as GOC's
    fnc = b"FNC010" + b"1" + b"0" + b"00" + b"000" + b"000" + b"025" + TAGS1

    def flow() -> Gen:
        yield from opened(abecs_device)
        yield from abecs_device.host.load_tables(0, "0000000042", aid_records())
        out = {"gcr": (yield from send(abecs_device, wire(GCR_ICC), 15.0))}
        # key, stripe and chip all off: nothing can end the wait but CAN
        out["cke"] = yield from send(abecs_device, wire(b"CKE003000"), 1.0)
        out["can"] = yield from send(abecs_device, bytes((CAN,)), 1.0)
        for name, pkt, wait in (("bad", goc_bad, 2.0), ("two", goc_two_blocks, 2.0),
                                ("goc", goc, 20.0),
                                ("fnc", fnc, 5.0), ("again", fnc, 2.0)):
            out[name] = yield from send(abecs_device, wire(pkt), wait)
        return out

    got = abecs_device.run(flow)
    for name in ("gcr", "cke", "bad", "two", "goc", "fnc", "again"):
        assert got[name][:1] == bytes((ACK,)), (name, got[name][:8].hex())
    assert only(got["gcr"][1:], b"GCR000")[9:11] == b"03", "the inserted card is not read as ICC"
    assert answers(got["cke"][1:]) == [], "CKE 000 answered without any event"
    assert got["can"] == bytes((0x04,)), f"CAN was not answered EOT alone: {got['can'].hex()}"
    # the pinpad's own record of what it answered (the servers' cases read it) keeps the
    # cancelled CKE apart from the commands it answered
    handled = abecs_device.pinpad.handled
    assert ("CKE", -1) in handled and not [h for h in handled if h[0] == "CKE" and h[1] >= 0]
    assert answers(got["bad"][1:]) == [b"GOC011"], answers(got["bad"][1:])
    # block 3 is one of GOC's fields (§3.6.3): without it a mandatory parameter is missing
    assert answers(got["two"][1:]) == [b"GOC019"], answers(got["two"][1:])
    pkt = only(got["goc"][1:], b"GOC000")
    data = pkt[9:]
    assert int(pkt[6:9]) == len(data)
    # DECISION 2 (online), SIGNAT 0, PINOFF 0, ERRPINOFF 0, PBLOCKED 0, PINONL 1
    assert data[:6] == b"200001", data[:6]
    assert data[6:22] != b"0" * 16 and int(data[22:42], 16), "no online PIN block or KSN"
    emv, pos = _emv_field(data, 42, 3)
    assert data[pos:] == b"000", "ACQRDLEN is not 000"
    assert emv[:1] == b"\x82" or b"\x9f\x27" in emv, "the asked tags are missing"
    # the terminal application reads the same flags from the pinpad's answer
    read = m.GocResponse.from_response(Response.decode(pkt))
    assert (read.decision, read.signature, read.offline_pin, read.wrong_offline_pins,
            read.pin_blocked, read.online_pin) == (2, False, False, 0, False, True), read
    fnc_pkt = only(got["fnc"][1:], b"FNC000")
    fdata = fnc_pkt[9:]
    assert int(fnc_pkt[6:9]) == len(fdata)
    assert fdata[:1] in (b"1", b"2"), f"FNC without the host approved: {fdata[:1]!r}"
    _, pos = _emv_field(fdata, 1, 3)
    _, pos = _emv_field(fdata, pos, 2)
    assert fdata[pos:] == b"000", "ACQRDLEN is not 000"
    assert answers(got["again"][1:]) == [b"FNC010"], answers(got["again"][1:])


@case("abecs/4.6/203", title="DSP shows all 32 characters of its message, the 32nd last on "
      "line 2, and nothing past them; GPN timed out (012) leaves the display blank",
      section="4.6", failure="the pinpad drops the last character of a message, shows "
      "characters past the 32nd, or leaves the PIN prompt up after a timeout")
def test_dsp_width_and_pin_timeout_display(abecs_device: Any, verdict: Any) -> None:
    abecs_device.present(visa_swipe(), Behaviour(walk_away_at="pin"))
    exact = b"PRIMEIRA LINHA 1" + b"SEGUNDA LINHA 2Z"
    longer = b"LINHA 1 DE 16 CH" + b"LINHA 2 DE 16 CH" + b"NAO MOSTRAR"
    gpn = (b"GPN093" + b"3" + b"16" + b"0" * 32 + b"16" + PAN.ljust(19) + b"1" + b"04" + b"12"
           + b"SENHA".ljust(32))

    def flow() -> Gen:
        yield from opened(abecs_device)
        seen = []
        for msg in (exact, longer):
            raw = yield from send(abecs_device, wire(b"DSP" + f"{len(msg):03d}".encode() + msg))
            screen = abecs_device.pinpad.display.current if abecs_device.virtual else None
            seen.append((raw, screen))
        raw = yield from send(abecs_device, wire(gpn), 70.0)
        screen = abecs_device.pinpad.display.current if abecs_device.virtual else None
        seen.append((raw, screen))
        return seen

    (dsp1, s1), (dsp2, s2), (gpn_raw, s3) = abecs_device.run(flow)
    for raw in (dsp1, dsp2):
        assert raw[:1] == bytes((ACK,)) and answers(raw[1:]) == [b"DSP000"], raw.hex()
    assert only(gpn_raw[1:], b"GPN012") == b"GPN012"
    if s1 is None or s2 is None or s3 is None:
        verdict.informational("the display is read on the virtual pinpad only")
        return
    assert (s1.line1, s1.line2) == ("PRIMEIRA LINHA 1", "SEGUNDA LINHA 2Z"), s1
    assert (s2.line1, s2.line2) == ("LINHA 1 DE 16 CH", "LINHA 2 DE 16 CH"), s2
    assert (s3.line1, s3.line2) == (" " * 16, " " * 16), f"after the PIN timeout: {s3}"


@pytest.mark.parametrize("wrong", [1, 2])
@case("abecs/4.8/201", title="GOC_ERRPINOFF counts the wrong offline PINs typed before the "
      "right one (1 and 2), read byte by byte", section="4.8",
      failure="the pinpad reports the number of invalid offline PIN presentations as a "
      "yes/no flag or not at all")
def test_goc_counts_wrong_offline_pins(abecs_device: Any, wrong: int) -> None:
    from virtual_devices.abecs.customer import Customer
    from virtual_devices.abecs.flows import sale
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()["visa-chip-pin"]  # offline PIN, three tries
    pinpad = abecs_device.present(VirtualCard(profile).place_in(abecs_device.world))
    pinpad.customer = Customer(abecs_device.world, Behaviour(
        pin=profile.pin, wrong_pins=wrong, presentation="insert", think_s=(0.2, 0.4),
        typing_s=(0.05, 0.1)))
    acquirer = make_acquirer(abecs_device.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")

    def flow() -> Gen:
        yield from opened(abecs_device)
        mark = len(abecs_device.host.received)
        yield from sale(abecs_device.host, acquirer, 1000, version, records_from_config(cfg))
        return bytes(abecs_device.host.received[mark:])

    raw = abecs_device.run(flow)
    gocs = [p for p in answers(raw) if p[:6] == b"GOC000"]
    assert len(gocs) == 1, f"expected one GOC answer, got {len(gocs)}"
    # DECISION 2, SIGNAT 0, PINOFF 1 (verified at last), ERRPINOFF = wrong, PBLOCKED 0, PINONL 0
    assert gocs[0][9:15] == b"201" + str(wrong).encode() + b"00", gocs[0][9:15]


@case("abecs/4.6/204", title="a letter where the spec has N digits (ACQIDX, METHOD/IDX, CKE's "
      "flags, MSGLEN, NREC) is answered RSP_ID + 011 by each classic command, and the pinpad "
      "keeps serving", section="4.6",
      failure="the pinpad takes a malformed number, answers it another way or stops answering")
def test_letters_in_numeric_fields(abecs_device: Any) -> None:
    bad = [b"TLI012" + b"0A" + VERSION, b"TLI012" + b"A0" + VERSION, b"GIN002" + b"0A",
           b"GTS002" + b"0A", b"GDU003" + b"3A6", b"CKE003" + b"0A1", b"DEX006" + b"00AXYZ",
           b"TLI012" + b"00" + VERSION, b"TLR002" + b"0A"]

    def flow() -> Gen:
        yield from opened(abecs_device)
        out = []
        for pkt in bad + [b"GTS00200"]:
            out.append((pkt, (yield from send(abecs_device, wire(pkt)))))
        return out

    got = abecs_device.run(flow)
    for pkt, raw in got:
        assert raw[:1] == bytes((ACK,)), (pkt, raw[:8].hex())
    answered = {pkt: answers(raw[1:]) for pkt, raw in got}
    for pkt in bad:
        if pkt[6:8] == b"00" and pkt[:3] == b"TLI":
            assert [a[:6] for a in answered[pkt]] in ([b"TLI000"], [b"TLI020"]), answered[pkt]
            continue
        assert answered[pkt] == [pkt[:3] + b"011"], (pkt, answered[pkt])
    assert [a[:9] for a in answered[b"GTS00200"]] == [b"GTS000010"]


def _iso0_block(pin: str, pan: str) -> bytes:
    """ISO 9564 format 0, written out: 0 | PIN length | PIN | F padding, XOR 0000 | the
    twelve PAN digits left of the check digit."""
    field = bytes.fromhex(f"0{len(pin):X}{pin}".ljust(16, "F"))
    account = bytes.fromhex("0000" + pan[-13:-1])
    return bytes(a ^ b for a, b in zip(field, account, strict=True))


@case("abecs/4.6/205", title="GPN with MK/WK:TDES (METHOD 1): the PIN block is ISO-0 under "
      "the working key that WKENC carries under the master key, the KSN is zeros; a WKENC "
      "that is not hexadecimal (H32) is answered 011", section="4.6",
      failure="the pinpad encrypts a master/working-key PIN otherwise than the spec, or fails "
      "on a working key it cannot use")
def test_gpn_master_working_key(abecs_device: Any) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    from virtual_devices.abecs.keys import TripleDES, load_master_keys

    abecs_device.present(visa_swipe(), SWIPE)
    wkenc = b"00112233445566778899AABBCCDDEEFF"
    tail = b"16" + PAN.ljust(19) + b"1" + b"04" + b"12" + b"SENHA".ljust(32)

    def flow() -> Gen:
        yield from opened(abecs_device)
        out = []
        for wk in (wkenc, b"ZZ" * 16):
            out.append((yield from send(abecs_device, wire(b"GPN093" + b"1" + b"01" + wk + tail),
                                        20.0)))
        return out

    good, bad = abecs_device.run(flow)
    pkt = only(good[1:], b"GPN000")
    assert pkt[6:9] == b"036" and pkt[25:45] == b"0" * 20, pkt[6:]
    mk = load_master_keys()["mk_pin"][1]

    def tdes(key: bytes, data: bytes, decrypt: bool) -> bytes:
        c = Cipher(TripleDES(key + key[:8]), modes.ECB())
        ctx = c.decryptor() if decrypt else c.encryptor()
        return ctx.update(data) + ctx.finalize()

    wk = tdes(mk, bytes.fromhex(wkenc.decode()), decrypt=True)
    assert tdes(wk, bytes.fromhex(pkt[9:25].decode()), decrypt=True) == _iso0_block(
        "2468", PAN.decode()), "the PIN block is not ISO-0 of the typed PIN under the WK"
    assert only(bad[1:], b"GPN011") == b"GPN011"


def _goc_risk(amount: int, floor: str, tpbrs: str, tvbrs: str, mtpbrs: str) -> bytes:
    """GOC (§3.6.3) with RISKMAN 1 and the four risk parameters as the spec writes them:
    FLRLIMIT and TVBRS in hexadecimal (H8), TPBRS and MTPBRS in decimal (N2)."""
    b1 = (b"%012d" % amount + b"0" * 12 + b"0" + b"0" + b"0" + b"3" + b"16" + b"0" * 32
          + b"1" + floor.encode() + tpbrs.encode() + tvbrs.encode() + mtpbrs.encode() + b"000")
    assert len(b1) == 86
    return b"GOC086" + b1 + b"025" + TAGS1 + b"003000"


# (amount, FLRLIMIT, TPBRS, TVBRS, MTPBRS, DECISION). EMV Book 3 §10.6: at or over the floor
# limit the transaction goes online; under the threshold it is picked at random with TPBRS
# percent; between the two the percentage runs from TPBRS to MTPBRS. 99 % always picks
# (the draw is 1 to 99), 0 % never does, so each row has one outcome.
RISK_ROWS = [
    # 1099 (0x44B) is under the floor 0x44C = 1100 and over the threshold 0x3E8 = 1000,
    # where the percentage has fallen from 99 to 0: not picked, approved offline
    (1099, "0000044C", "99", "000003E8", "00", b"0"),
    # 999 is under the threshold 0x3E8 = 1000: picked with 99 %, online
    (999, "000003E8", "99", "000003E8", "00", b"2"),
    # 1000 reaches the floor limit 0x3E8 = 1000: online whatever the percentages
    (1000, "000003E8", "00", "00000000", "00", b"2"),
]


@pytest.mark.parametrize("row", range(len(RISK_ROWS)))
@case("abecs/4.8/202", title="GOC's terminal risk management reads FLRLIMIT and TVBRS as "
      "hexadecimal cents and TPBRS/MTPBRS as decimal percentages: the floor limit, the "
      "threshold and the biased random selection decide as EMV Book 3 §10.6 says",
      section="4.8", failure="the pinpad reads the floor limit or the random-selection "
      "threshold in another base, so offline approvals happen over the acquirer's limits")
def test_goc_risk_parameters(abecs_device: Any, row: int) -> None:
    from virtual_devices.abecs.tables import AID_V21_LEN, AidRecord
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    amount, floor, tpbrs, tvbrs, mtpbrs, decision = RISK_ROWS[row]
    # the Mastercard record with a TAC-online that asks for "randomly selected for online
    # processing" (TVR byte 4 bit 5), as the brands' own TACs do
    records = [r for r in aid_records() if b"A0000000041010" not in r] + [
        AidRecord(8, "03", bytes.fromhex("A0000000041010"), 1, "MASTERCARD",
                  tac_online="D84004F800", layout=AID_V21_LEN).encode()]
    card = VirtualCard(catalogue()["mc-offline-approved"])
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1),
                                         presentation="insert"))
    gcr = (b"GCR041" + b"00" + b"99" + b"%012d" % amount + b"261125" + b"120000"
           + b"0000000042" + b"00" + b"0")

    def flow() -> Gen:
        yield from opened(abecs_device)
        yield from abecs_device.host.load_tables(0, "0000000042", records)
        read = yield from send(abecs_device, wire(gcr), 15.0)
        goc = yield from send(abecs_device, wire(_goc_risk(amount, floor, tpbrs, tvbrs,
                                                            mtpbrs)), 20.0)
        return read, goc

    read, goc = abecs_device.run(flow)
    assert only(read[1:], b"GCR000")[9:11] == b"03"
    pkt = only(goc[1:], b"GOC000")
    assert pkt[9:10] == decision, f"DECISION {pkt[9:10]!r}, expected {decision!r}"


@case("abecs/4.9/200", title="FNC with an issuer script (tag 72, script id 00000001) in ISSDAT: "
      "the answer carries FNC_ISRLEN N2 and five bytes of Issuer Script Results naming the "
      "script, before ACQRDLEN 000; the terminal reads the same results", section="4.9",
      failure="the pinpad drops or misplaces the issuer script results, or the terminal "
      "misreads them")
def test_fnc_issuer_script_results(abecs_device: Any) -> None:
    from virtual_devices.abecs import messages as m
    from virtual_devices.abecs.fields import Response
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    card = VirtualCard(catalogue()["visa-online-pin"])
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1),
                                         presentation="insert"))
    goc = b"GOC086" + GOC_B1 + b"025" + TAGS1 + b"003000"
    # 72 0E: 9F18 04 00000001 (script id), 86 05 80CA9F1700 (GET DATA, PIN try counter)
    script = bytes.fromhex("720E9F180400000001860580CA9F1700")
    issdat = script.hex().upper().encode()
    b1 = b"0" + b"0" + b"00" + b"%03d" % len(script) + issdat + b"000"
    fnc = b"FNC" + b"%03d" % len(b1) + b1 + b"025" + TAGS1

    def flow() -> Gen:
        yield from opened(abecs_device)
        yield from abecs_device.host.load_tables(0, "0000000042", aid_records())
        yield from send(abecs_device, wire(GCR_ICC), 15.0)
        yield from send(abecs_device, wire(goc), 20.0)
        return (yield from send(abecs_device, wire(fnc), 5.0))

    raw = abecs_device.run(flow)
    pkt = only(raw[1:], b"FNC000")
    data = pkt[9:]
    assert int(pkt[6:9]) == len(data)
    _, pos = _emv_field(data, 1, 3)
    isr, end = _emv_field(data, pos, 2)
    assert data[pos : pos + 2] == b"05" and isr[1:] == bytes.fromhex("00000001"), data[pos:]
    assert data[end:] == b"000", "ACQRDLEN is not 000"
    read = m.FncResponse.from_response(Response.decode(pkt))
    assert read.script_results == isr and read.decision == int(data[:1])
