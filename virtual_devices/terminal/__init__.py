"""The terminal's payment application, on top of any ABECS pinpad end.

A server (mpos, p3, Connect, Valor, GoChip, a console) keeps only the mapping to its
own protocol and runs payments through this one application::

    from virtual_devices.terminal import (
        Terminal, Tables, Settings, HostAnswer, Processed, Finished, SaleResult,
        pinpad_end, events,
    )

    end = pinpad_end(world, "memory", cards=[card], customer=Behaviour())  # or "pty",
    # or "serial" with device="/dev/ttyUSB0" (a real pinpad: end.pinpad is None)
    term = end.terminal(acquirer, settings=Settings(), observer=print, choices=None)
    tables = Tables(version, tuple(records))                 # acquirer_index=0

    yield from term.host.opn()                               # the session is the caller's
    res = yield from term.sale(1000, tables)                 # whole: tables, GCR, GOC,
                                                             # acquirer, FNC, RMC -> SaleResult
    res = yield from term.sale(1000, tables, kind="preauth", key="k1")  # booked as a hold
    entry = term.capture(res.reference, 1000, key="k2")     # completion of the hold
    term.reverse(res.reference)                             # reversal at the acquirer
    card = yield from term.read_for_refund(500, tables)     # card-present refund: GCR,
    entry = term.refund_to_card(card, 500, key="k3")         # credit to the card, then RMC

    card = yield from term.key_card()                        # keyed entry: GCD for the
    rsp = yield from term.authorise_keyed(card, 1000)        # number, month, year, code

    done = yield from term.process(1000, tables, app_type=99)  # split step 1: GCR + GOC
    #   done.card (GcrResponse), done.goc (GocResponse: decision, emv_data, PIN block)
    #   or done.pin (GPN for a stripe); done.auth_request(amount, currency)
    fin = yield from term.finish(HostAnswer(0, "00", issuer_tlv), approved=True)
    #   split step 2: FNC when a chip waits, then RMC -> Finished(fnc, declined_by_card)
    yield from term.cancel()                                 # CAN: a blocking command ends 013

Finer steps, for servers that run each command as its own process (so an abort can
CANcel it): ``ensure_tables``, ``load_tables``, ``read_card`` (020 reload + bare GCR,
076 GCR again), ``enter_pin`` (GPN), ``go_on_chip``, ``authorise``, ``finish_chip``
(FNC), ``remove_card`` (RMC), ``reverse``, ``read_for_refund``, ``refund_to_card``.
Each raises :class:`~virtual_devices.abecs.host.AbecsError` with the pinpad's status.
``HostAnswer.from_issuer(rsp)`` turns the acquirer's answer (or None) into FNC's input.

Events (:mod:`virtual_devices.terminal.events`) go to every observer
(``Terminal.subscribe``): ``DisplayChanged``, ``CardPresented`` (insert/tap/swipe),
``PinEntryStarted``, ``PinEntered`` (masked), ``CardRemoved`` from the pinpad (in
memory, as they happen) or derived from ABECS (pty, serial); and the application's own
``TablesLoaded``, ``CardRequested``, ``CardRead``, ``HostRequested``, ``HostAnswered``,
``CardDecided``, ``SignatureRequired``, ``Reversed``, ``Cancelled``, ``TransactionEnded``.

Choices (:class:`~virtual_devices.terminal.app.Choices`): ``choose_application(labels)``
(asked by a pinpad in memory when the card offers several applications) and
``confirm_signature()`` (after an approval with a signature CVM; False reverses it).
Both are SimPy generators, so a server may wait on its POS for the answer.
"""

from virtual_devices.terminal import events
from virtual_devices.terminal.app import (
    FNC_TAGS,
    GOC_TAGS,
    SIM_EPOCH,
    AcceptAll,
    Choices,
    Finished,
    HostAnswer,
    KeyedCard,
    Processed,
    SaleResult,
    Settings,
    Tables,
    Terminal,
)
from virtual_devices.terminal.ends import PinpadEnd, pinpad_end

__all__ = [
    "FNC_TAGS", "GOC_TAGS", "SIM_EPOCH", "AcceptAll", "Choices", "Finished", "HostAnswer",
    "KeyedCard", "PinpadEnd", "Processed", "SaleResult", "Settings", "Tables", "Terminal", "events",
    "pinpad_end",
]
