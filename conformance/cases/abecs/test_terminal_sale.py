"""mpos-bridge.md §4.8, §4.9 and §4.11: the host's whole sale over ABECS, judged by what
it leaves behind: the card's final answer, the acquirer's ledger and the RMC message.

The reference host (:func:`virtual_devices.abecs.flows.sale`, the terminal application the
servers share) drives the pinpad; these cases check what a real terminal must do around
the pinpad's answers: take back an approval the card refused, keep the second GENERATE
AC's results, honour the AID record's floor limit, fall back to the stripe, and say the
outcome on the display.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from conformance import case
from conformance.invariants import no_full_pan
from virtual_devices.abecs.customer import Customer
from virtual_devices.abecs.flows import sale
from virtual_devices.abecs.tables import AidRecord, decode_record, records_from_config

Gen = Any

# the host's RMC frame: RMC, its length (032, the 2x16 display) and the message
RMC_FRAME = re.compile(r"RMC032(.{0,32})")


def _setup(abecs_device: Any, card_name: str) -> tuple[Any, str, list[bytes]]:
    """Queue ``card_name`` with its cardholder; the acquirer and its tables."""
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()[card_name]
    abecs_device.present(VirtualCard(profile).place_in(abecs_device.world))
    abecs_device.need_virtual("a card").customer = Customer.for_profile(
        abecs_device.world, profile, presentation="insert")
    acquirer = make_acquirer(abecs_device.world)
    cfg = acquirer.terminal_config()
    return acquirer, cfg.table_version[:10].ljust(10, "0"), records_from_config(cfg)


def _rmc_messages(world: Any) -> list[str]:
    """The messages the host sent with RMC, as the line carried them."""
    out = []
    for e in world.transcript.select(direction="tx"):
        found = RMC_FRAME.search(e.label or "")
        if found:
            out.append(found.group(1).strip())
    return out


def _host_commands(world: Any) -> list[str]:
    """The commands the host sent, in order (consecutive repeats of one folded)."""
    out: list[str] = []
    for e in world.transcript.select(direction="tx"):
        if not e.port.endswith("host"):
            continue
        found = re.match(r"(?:\[sec\] )?([A-Z]{3})", e.label or "")
        if found and (not out or out[-1] != found.group(1)):
            out.append(found.group(1))
    return out


def _pan(card_name: str) -> str:
    from virtual_devices.emv.catalogue import catalogue

    return str(catalogue()[card_name].pan)


# card, whether the sale ends approved, whether the approval is taken back, RMC message
OUTCOMES = [
    ("visa-chip-pin", True, False, "OBRIGADO"),
    ("visa-card-decline-2nd-gac", False, True, "NEGADA"),
    ("mc-issuer-decline", False, False, "NEGADA"),
]


@pytest.mark.parametrize("card_name, approved, reversed_, message", OUTCOMES)
@case("abecs/4.11/300", title="a whole sale ends as the card and the issuer decided: an "
      "approval the card refuses at the second GENERATE AC is reversed at the acquirer; "
      "an approved sale stays booked; RMC says OBRIGADO or NEGADA", section="4.11",
      failure="the host keeps a charge the card refused, reverses a good sale, or tells "
      "the cardholder the wrong outcome")
def test_sale_outcome_at_the_acquirer(abecs_device: Any, card_name: str, approved: bool,
                                      reversed_: bool, message: str) -> None:
    acquirer, version, records = _setup(abecs_device, card_name)

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, 1000, version, records))

    res = abecs_device.run(flow)
    assert res.error is None, res.steps
    assert res.approved is approved, res.steps
    assert res.reversed is reversed_, res.steps
    # the issuer's response code as the card file sets it (mc_issuer_decline.toml: 51)
    assert res.host_answered and res.arc == ("51" if card_name == "mc-issuer-decline" else "00")
    # the host went online with every card here (GOC decision 2) and the issuer answered
    assert res.goc is not None and res.goc.decision == 2, res.steps
    sales = [e for e in acquirer.ledger.entries if e.kind == "sale"]
    reversals = [e for e in acquirer.ledger.entries if e.kind == "reversal"]
    assert len(sales) == 1, acquirer.ledger.entries
    issuer_approved = card_name != "mc-issuer-decline"
    assert sales[0].approved is issuer_approved
    assert res.reference == sales[0].ref
    # EMV Book 4 §12.2.2: an issuer approval the card declines at the second GENERATE AC
    # (AAC) must be reversed, exactly once; a completed sale is never reversed
    assert len(reversals) == (1 if reversed_ else 0), acquirer.ledger.entries
    assert bool(sales[0].reversed) is reversed_
    assert acquirer.ledger.balance()["net"] == (1000 if approved else 0)
    assert _rmc_messages(abecs_device.world) == [message]
    no_full_pan(abecs_device.world.transcript.entries, [_pan(card_name)])


@case("abecs/4.9/300", title="after an issuer approval the host's FNC brings back the "
      "second GENERATE AC's results: CID 40 (a TC), a new cryptogram, the same ATC, TVR, "
      "TSI and the ARC 00 it sent", section="4.9",
      failure="the host finishes a chip sale without the TC and its data, which clearing "
      "needs")
def test_fnc_returns_the_second_generate_ac(abecs_device: Any) -> None:
    from virtual_devices.emv import tlv

    acquirer, version, records = _setup(abecs_device, "visa-chip-pin")

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, 1000, version, records))

    res = abecs_device.run(flow)
    assert res.approved and res.fnc is not None and res.goc is not None, res.steps
    first, second = tlv.flatten(res.goc.emv_data), tlv.flatten(res.fnc.emv_data)
    # EMV Book 3 §6.5.5.4: CID bits 8-7 are 01 for a TC, 10 for the ARQC of the first AC
    assert first.get(0x9F27) == b"\x80" and second.get(0x9F27) == b"\x40", second
    # a new application cryptogram over the second AC's data, under the same ATC
    assert len(second.get(0x9F26, b"")) == 8 and second[0x9F26] != first[0x9F26]
    assert second.get(0x9F36) == first[0x9F36] and len(second[0x9F36]) == 2
    # the TVR (5 bytes) and the TSI (2 bytes) as they stand at the end of the sale. EMV
    # Book 3 Annex C.5, TSI byte 1: offline data authentication (bit 8), cardholder
    # verification (bit 7, the card's offline PIN), card risk management (bit 6), issuer
    # authentication (bit 5: the issuer's answer carried tag 91) and terminal risk
    # management (bit 4) were performed; no script came (bit 3), byte 2 is RFU
    assert len(second.get(0x95, b"")) == 5, second
    assert second.get(0x9B) == b"\xf8\x00", second.get(0x9B, b"").hex()
    # the ARC the host sent, "00" in ASCII
    assert second.get(0x8A) == b"00", second


def _with_floor_limit(records: list[bytes], floor: int) -> list[bytes]:
    out = []
    for raw in records:
        rec = decode_record(raw)
        if isinstance(rec, AidRecord):
            raw = dataclasses.replace(rec, floor_limit=floor).encode()
        out.append(raw)
    return out


@pytest.mark.parametrize("amount, decision", [(1000, 0), (6000, 2)])
@case("abecs/4.8/300", title="the host passes the chosen AID record's floor limit in GOC: "
      "under it a card that allows offline approval approves offline (decision 0, nothing "
      "booked online); over it the card goes online", section="4.8",
      failure="the host ignores the floor limit of its own tables")
def test_goc_uses_the_records_floor_limit(abecs_device: Any, amount: int,
                                          decision: int) -> None:
    acquirer, version, records = _setup(abecs_device, "mc-offline-approved")
    records = _with_floor_limit(records, 5000)  # R$ 50,00 in the tables, none in settings

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, amount, version, records))

    res = abecs_device.run(flow)
    assert res.error is None and res.goc is not None, res.steps
    assert res.goc.decision == decision, res.steps
    assert res.approved, res.steps
    online = [e for e in acquirer.ledger.entries if e.kind == "sale"]
    assert len(online) == (0 if decision == 0 else 1), acquirer.ledger.entries


@case("abecs/4.11/301", title="a chip that cannot be read falls back to the stripe: GCR "
      "076, GCR again, the swipe (STATCHIP 1) goes to the acquirer as a fallback and is "
      "approved", section="4.11",
      failure="a card whose chip fails cannot be paid with, or is not reported as a "
      "fallback")
def test_sale_falls_back_to_the_stripe(abecs_device: Any) -> None:
    acquirer, version, records = _setup(abecs_device, "mc-mute-chip-fallback")

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, 1000, version, records))

    res = abecs_device.run(flow)
    assert res.error is None and res.approved, res.steps
    assert res.steps[0].startswith("GCR 076"), res.steps
    assert res.entry_mode == "fallback" and res.card.stat_chip == 1
    assert res.goc is None and res.fnc is None  # no chip: no GOC, no FNC
    sales = [e for e in acquirer.ledger.entries if e.kind == "sale"]
    assert [(e.amount, e.approved, e.meta.get("interface")) for e in sales] == [
        (1000, True, "magstripe")], sales
    no_full_pan(abecs_device.world.transcript.entries, [_pan("mc-mute-chip-fallback")])


class _Merchant:
    """The merchant at the signature prompt: checks the slip and accepts it or not."""

    def __init__(self, accepts: bool) -> None:
        self.accepts = accepts
        self.asked = 0

    def choose_application(self, labels: Any) -> Gen:
        return 0
        yield  # pragma: no cover

    def confirm_signature(self) -> Gen:
        self.asked += 1
        return self.accepts
        yield  # pragma: no cover


@pytest.mark.parametrize("accepts", [True, False])
@case("abecs/4.11/302", title="signature CVM: after the approval the merchant checks the "
      "signature; a refused one declines the sale and reverses the approval", section="4.11",
      failure="a sale is kept although the merchant refused the signature, or a signature "
      "card is never checked")
def test_signature_checked_after_approval(abecs_device: Any, accepts: bool) -> None:
    from virtual_devices.terminal import Settings, Tables, Terminal

    acquirer, version, records = _setup(abecs_device, "mc-chip-signature")
    merchant = _Merchant(accepts)
    term = Terminal(abecs_device.world, abecs_device.host, acquirer, Settings(),
                    choices=merchant)

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from term.sale(1000, Tables(version, tuple(records))))

    res = abecs_device.run(flow)
    assert res.error is None and res.signature, res.steps
    assert merchant.asked == 1
    assert res.approved is accepts and res.reversed is (not accepts), res.steps
    sales = [e for e in acquirer.ledger.entries if e.kind == "sale"]
    assert len(sales) == 1 and sales[0].approved
    assert bool(sales[0].reversed) is (not accepts)
    assert acquirer.ledger.balance()["net"] == (1000 if accepts else 0)
    assert _rmc_messages(abecs_device.world) == ["OBRIGADO" if accepts else "NEGADA"]


@pytest.mark.parametrize("fault", ["down", "silent"])
@case("abecs/4.11/303", title="the host cannot reach the acquirer (connection refused, or "
      "no answer before its timeout): FNC says so (COMMST 1), the card declines, the sale "
      "is not approved and nothing stays booked", section="4.11",
      failure="a sale without the issuer's answer is approved, or a charge the terminal "
      "never heard about stays booked")
def test_sale_without_the_acquirer(abecs_device: Any, fault: str) -> None:
    from virtual_devices.acquirer.link import HostFault, set_line_fault

    acquirer, version, records = _setup(abecs_device, "visa-chip-pin")
    set_line_fault(abecs_device.world, HostFault(fault))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from sale(abecs_device.host, acquirer, 1000, version, records))

    try:
        res = abecs_device.run(flow)
    finally:
        set_line_fault(abecs_device.world, None)
    assert res.error is None and res.fnc is not None, res.steps
    assert not res.host_answered and not res.approved, res.steps
    # ABECS §4.9: COMMST 1 "no answer"; the card then decides alone (EMV Book 4 §12.2.1:
    # unable to go online) and this card's issuer action codes decline (AAC)
    assert res.fnc.decision != 0, res.steps
    commst = [re.search(r"FNC\d{3}(\d)", e.label or "") for e in
              abecs_device.world.transcript.select(direction="tx") if e.port.endswith("host")]
    assert [c.group(1) for c in commst if c] == ["1"], "FNC's COMMST is not 1 (no answer)"
    assert acquirer.ledger.balance()["net"] == 0, acquirer.ledger.entries
    assert _rmc_messages(abecs_device.world) == ["NEGADA"]


@pytest.mark.parametrize("card_name, presentation", [("visa-chip-pin", "insert"),
                                                     ("visa-contactless", "tap")])
@case("abecs/4.11/304", title="over the serial line alone the host works out the "
      "cardholder's steps from ABECS's answers, once each: the card presented (insert or "
      "tap, PAN masked), the PIN prompt, the sale going to the acquirer, the outcome shown "
      "at removal", section="4.11",
      failure="a server on a real pinpad cannot tell its POS that the card was presented, "
      "that the PIN is being typed or what the display said")
def test_steps_derived_from_abecs(abecs_device: Any, card_name: str,
                                  presentation: str) -> None:
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.terminal import Settings, Tables, Terminal, events

    acquirer, version, records = _setup(abecs_device, card_name)
    profile = catalogue()[card_name]
    if presentation != "insert":  # the same card, presented the other way
        pinpad = abecs_device.need_virtual("a card")
        pinpad.cards.clear()
        pinpad.queue_card(VirtualCard(profile).place_in(abecs_device.world))
        pinpad.customer = Customer.for_profile(abecs_device.world, profile,
                                               presentation=presentation)
    seen: list[Any] = []
    # no pinpad feed is attached: only what the serial line says reaches the observer
    term = Terminal(abecs_device.world, abecs_device.host, acquirer, Settings(),
                    observer=seen.append)

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from term.sale(1000, Tables(version, tuple(records))))

    res = abecs_device.run(flow)
    assert res.approved, res.steps
    # mpos-bridge.md §5 step 3: the host checks its table version (GTS) and loads the
    # tables it finds stale before it asks for the card, so GCR never answers 020 here
    commands = _host_commands(abecs_device.world)
    assert commands[:6] == ["OPN", "GTS", "TLI", "TLR", "TLE", "GCR"], commands
    pan = str(profile.pan)
    masked = pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    presented = [e for e in seen if isinstance(e, events.CardPresented)]
    assert [(e.how, e.masked_pan) for e in presented] == [(presentation, masked)]
    asked = [e for e in seen if isinstance(e, events.HostRequested)]
    assert [(e.amount, e.kind) for e in asked] == [(1000, "sale")]
    pins = [e for e in seen if isinstance(e, events.PinEntryStarted)]
    # the inserted card verifies an offline PIN at GOC; the tap under the contactless CVM
    # limit asks for none (the card file's cvm / cvm_contactless)
    assert [e.kind for e in pins] == (["offline"] if presentation == "insert" else [])
    texts = [e.text for e in seen if isinstance(e, events.DisplayChanged)]
    assert "OBRIGADO" in texts, texts
    removed = [i for i, e in enumerate(seen) if isinstance(e, events.CardRemoved)]
    shown = max(i for i, e in enumerate(seen)
                if isinstance(e, events.DisplayChanged) and e.text == "OBRIGADO")
    order = [seen.index(presented[0]), seen.index(asked[0]), shown]
    assert order == sorted(order) and len(removed) == 1 and removed[0] > shown, seen


@case("abecs/4.9/301", title="a chip that falls silent after GOC: FNC answers 061, and the "
      "host's finishing step still sends RMC, reports the pinpad's status and claims no "
      "verdict of the card", section="4.9",
      failure="a card that dies before the second GENERATE AC leaves the slot uncleared, "
      "hides the pinpad's status or is reported as having decided")
def test_finish_after_the_card_went_silent(abecs_device: Any) -> None:
    from virtual_devices.abecs import messages as m
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.terminal import HostAnswer, Settings, Tables, Terminal

    acquirer, version, records = _setup(abecs_device, "visa-chip-pin")
    pinpad = abecs_device.need_virtual("the card's chip is made to fall silent")
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(abecs_device.world)
    pinpad.cards.clear()
    pinpad.queue_card(card)
    term = Terminal(abecs_device.world, abecs_device.host, acquirer, Settings())

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        done = yield from term.process(1000, Tables(version, tuple(records)), app_type=99)
        card.mute_after_apdus(0)  # the chip answers nothing from the second GENERATE AC on
        fin = yield from term.finish(HostAnswer(0, "00"), approved=True)
        return done, fin

    done, fin = abecs_device.run(flow)
    assert done.goc is not None and done.goc.decision == 2
    assert [(e.code, e.command) for e in fin.errors] == [(m.ST_ERRCARD, "FNC")], fin.errors
    assert fin.fnc is None and not fin.declined_by_card
    assert _host_commands(abecs_device.world)[-2:] == ["FNC", "RMC"]
    assert len(_rmc_messages(abecs_device.world)) == 1


@pytest.mark.parametrize("card_name, presentation, interface", [
    ("visa-chip-pin", "insert", "contact"), ("visa-contactless", "tap", "contactless"),
    ("visa-chip-pin", "swipe", "magstripe"),
    # a tap in mag-stripe mode (GCR card type 05) is a tap, and its PAN is track 2's
    ("mc-paypass-magstripe", "tap", "contactless")])
@case("abecs/4.11/305", title="a card-present refund: GCR reads the card, the credit is "
      "booked to it at the acquirer with the amount, the currency and the interface it was "
      "read by, then RMC", section="4.11",
      failure="a refund is credited to the wrong card, in the wrong amount or currency, or "
      "booked as read by an interface the card never used")
def test_refund_to_the_card_read(abecs_device: Any, card_name: str, presentation: str,
                                 interface: str) -> None:
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.terminal import Settings, Tables, Terminal

    acquirer, version, records = _setup(abecs_device, card_name)
    profile = catalogue()[card_name]
    pinpad = abecs_device.need_virtual("a card")
    pinpad.cards.clear()
    pinpad.queue_card(VirtualCard(profile).place_in(abecs_device.world))
    pinpad.customer = Customer.for_profile(abecs_device.world, profile,
                                           presentation=presentation)
    term = Terminal(abecs_device.world, abecs_device.host, acquirer, Settings())
    tables = Tables(version, tuple(records))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from term.ensure_tables(tables)
        card = yield from term.read_for_refund(700, tables)
        entry = term.refund_to_card(card, 700, key="refund-300")
        yield from term.remove_card(bool(entry.approved))
        return entry

    entry = abecs_device.run(flow)
    pan = str(profile.pan)
    assert entry.approved and entry.kind == "refund", entry
    # BRL (ISO 4217 986): the reference host's currency, as its tables say (5F2A)
    assert (entry.amount, entry.currency) == (700, 986), entry
    assert entry.pan_masked == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    assert entry.meta.get("interface") == interface, entry.meta
    assert _rmc_messages(abecs_device.world) == ["OBRIGADO"]
    no_full_pan(abecs_device.world.transcript.entries, [pan])


# ABECS 2.12 §3.3.8, GCD's message table: the prompts keyed entry asks with, in order
KEYED_PROMPTS = ["DIGITE NÚMERO DO CARTÃO", "DIGITE O MÊS (MM)", "DIGITE O ANO (AA)",
                 "DIGITE CÓDIGO DE SEGURANÇA"]


@case("abecs/3.3.8/300", title="keyed entry asks with GCD's table prompts, in order: the "
      "card number, the expiry month, the expiry year, the security code; the card is "
      "taken as the cardholder typed it (expiry as YYMM)", section="3.3.8",
      failure="the cardholder is asked for the wrong thing at a keyed-entry prompt, or "
      "what was typed is put together wrongly")
def test_keyed_entry_prompts(abecs_device: Any) -> None:
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.emv.printed import printed
    from virtual_devices.terminal import Settings, Terminal, events

    pinpad = abecs_device.need_virtual("the prompts are read from the pinpad's display")
    profile = catalogue()["mc-chip-signature"]
    _setup(abecs_device, "mc-chip-signature")
    face = printed(profile)
    assert face is not None
    shown: list[str] = []
    pinpad.subscribe(lambda e: shown.append(e.text) if isinstance(e, events.DisplayChanged)
                     else None)
    term = Terminal(abecs_device.world, abecs_device.host, None, Settings())

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from term.key_card())

    card = abecs_device.run(flow)
    flat = [" ".join(t.replace("/", " ").split()) for t in shown]
    asked = [p for p in KEYED_PROMPTS if any(t == p for t in flat)]
    order = [next(i for i, t in enumerate(flat) if t == p) for p in asked]
    assert asked == KEYED_PROMPTS and order == sorted(order), flat
    assert card.pan == face.pan and card.security_code == face.security_code
    assert card.expiry == face.expiry_yy + face.expiry_mm, card.expiry
