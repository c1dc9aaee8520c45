"""Notifications (NTM) during blocking commands (ABECS 2.12 §2.3.3, §6.8.1.2): while a
card command runs, the pinpad tells the host what the cardholder sees, in NTM_MSG laid
out for two lines of 16 characters.

The expected text is the specification's layout: ``SELECIONADO:`` on the first line
(NTM_MSG[1..16]) and the application's label on the second (NTM_MSG[17..32]), the same
label the answer carries (PP_LABEL, GCR_APPLABEL); ``APLICACAO INVALIDA`` when an
application the cardholder chose is refused.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import GCX_EXAMPLE, _with_tables, params, person
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue


@case("abecs/6.8.1.2/1", title="GCX sends NTM 'SELECIONADO:' with the label on the second "
      "line, before its answer", failure="the host's operator is not told which application "
      "the card uses")
def test_gcx_ntm_selected(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    abecs_device.present(VirtualCard(catalogue()["visa-chip-pin"]).place_in(
        abecs_device.world), Behaviour(think_s=(0.2, 0.4), presentation="insert"))
    (rsp,) = _with_tables(abecs_device, GCX_EXAMPLE)
    label = params(rsp.encode())[0x805B]
    notes = list(abecs_device.host.notifications)
    assert ("SELECIONADO:    " + label.decode("latin-1")) in notes, notes
    assert len(notes[-1]) <= 32


@case("abecs/6.8.1.2/2", title="GCR with a wrong offline PIN in GOC: NTM 'SENHA INVALIDA' "
      "before the cardholder tries again", failure="the operator does not know the PIN was "
      "refused")
def test_goc_ntm_wrong_pin(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted and PINs typed"):
        return
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(abecs_device.world)
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1),
                                         presentation="insert", wrong_pins=1))
    gox = (b"GOX033" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c" + b"000000048300"
           + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16")
    gcx, went = _with_tables(abecs_device, GCX_EXAMPLE, gox)
    assert went.encode()[:6] == b"GOX000"
    assert "SENHA INVALIDA" in abecs_device.host.notifications


@case("abecs/6.8.1.2/3", title="an application menu: NTM with the highlighted option, again "
      "when the cardholder moves to another, none repeated at the end",
      failure="the operator cannot follow the cardholder's choice of application")
def test_menu_ntm(abecs_device: Any, verdict: Any) -> None:
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer import make_acquirer

    if not person(abecs_device, verdict, "a two-application card; the second is chosen"):
        return
    card = VirtualCard(catalogue()["elo-combo"]).place_in(abecs_device.world)
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), presentation="insert",
                                         app_choice=1))
    cfg = make_acquirer().terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    gcr = (b"GCR041" + b"00" + b"99" + b"000000000500" + b"261125" + b"120000"
           + version.encode() + b"00" + b"0")

    def flow() -> Any:
        yield from abecs_device.host.opn(secure=False)
        yield from abecs_device.host.load_tables(0, version, records_from_config(cfg))
        return (yield from abecs_device.host.raw_exchange(gcr, blocking=True))

    rsp = abecs_device.run(flow)
    assert rsp.encode()[:6] == b"GCR000"
    selected = [n for n in abecs_device.host.notifications if n.startswith("SELECIONADO:")]
    # the labels as the card spells them (Application Preferred Name, §6.8.1.2)
    assert [n.upper() for n in selected] == ["SELECIONADO:    ELO CREDITO",
                                             "SELECIONADO:    ELO DEBITO"]
