"""The reader's EMV kernel: sans-I/O phases, the SimPy reader that drives them.

Public API::

    from virtual_devices.emv.kernel import (
        ContactKernel, ContactlessKernel, Txn, GocParams, Outcome, Status,
        run_transaction, run_virtual, Reader,
    )
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
from virtual_devices.emv.kernel.messages import (
    CANCEL,
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
    "Reader",
    "Status",
    "Txn",
    "run_transaction",
    "run_virtual",
]
