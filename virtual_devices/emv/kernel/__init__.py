"""The reader's EMV kernel: sans-I/O phases, the SimPy reader that drives them.

Public API::

    from virtual_devices.emv.kernel import (
        ContactKernel, ContactlessKernel, Txn, GocParams, Outcome, Status,
        run_transaction, run_virtual, Reader, PlainLoop,
    )

    # one payment on the world's clock (cardholder, reader, card, host)
    outcome = yield from run_transaction(world, card, config, Txn(1234), holder, host)
    outcome = run_virtual(world, card, config, Txn(1234), holder, host)

    # the ABECS split: GCR / GOC / FNC, each a generator of requests
    k = ContactKernel(config, Txn(1234), world.rng("kernel"))
    yield from reader.drive(k.select_and_read(), ...)      # raises KernelStop
    decision = ... k.go_on_chip(GocParams(...))             # 0 / 1 / 2
    tags = k.requested_tags([0x9F26, 0x9F27, ...])          # never PAN/track
    outcome = ... k.finish(IssuerResponse(...) or None)     # FNC
"""

from virtual_devices.emv.kernel.contact import (
    DECISION_APPROVED,
    DECISION_DECLINED,
    DECISION_ONLINE,
    ContactKernel,
    GocParams,
    Txn,
)
from virtual_devices.emv.kernel.contactless import ContactlessKernel
from virtual_devices.emv.kernel.loop import PlainLoop
from virtual_devices.emv.kernel.messages import (
    CANCEL,
    NO_ANSWER,
    Apdu,
    AuthRequest,
    Candidate,
    ChooseApp,
    Display,
    EnterPin,
    GoOnline,
    IssuerResponse,
    KernelStop,
    Outcome,
    Status,
)
from virtual_devices.emv.kernel.reader import Reader, run_transaction, run_virtual

__all__ = [
    "CANCEL",
    "NO_ANSWER",
    "DECISION_APPROVED",
    "DECISION_DECLINED",
    "DECISION_ONLINE",
    "Apdu",
    "AuthRequest",
    "Candidate",
    "ChooseApp",
    "ContactKernel",
    "ContactlessKernel",
    "Display",
    "EnterPin",
    "GoOnline",
    "GocParams",
    "IssuerResponse",
    "KernelStop",
    "Outcome",
    "PlainLoop",
    "Reader",
    "Status",
    "Txn",
    "run_transaction",
    "run_virtual",
]
