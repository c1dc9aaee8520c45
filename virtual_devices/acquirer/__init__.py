"""The reference acquirer host: authorisation, cryptogram checks, ledger, default tables.

Public API::

    from virtual_devices.acquirer import AcquirerHost, Ledger, default_terminal_config
    from virtual_devices.acquirer import verify_pin_block  # online PIN -> None/55/81
    from virtual_devices.acquirer import PinKeys  # DUKPT, or MK/WK and its working key
"""

from virtual_devices.acquirer.host import (
    AcquirerHost,
    CardFieldsDecision,
    CardRecord,
    make_acquirer,
    verify_pin_block,
)
from virtual_devices.acquirer.ledger import Entry, Ledger, LedgerError
from virtual_devices.acquirer.pinpad_keys import PinKeys
from virtual_devices.acquirer.rules import Rule, Rules, load_rules
from virtual_devices.acquirer.tables import default_terminal_config, parse_tables, table_version

__all__ = [
    "AcquirerHost",
    "CardFieldsDecision",
    "CardRecord",
    "Entry",
    "Ledger",
    "LedgerError",
    "PinKeys",
    "Rule",
    "Rules",
    "default_terminal_config",
    "load_rules",
    "make_acquirer",
    "parse_tables",
    "table_version",
    "verify_pin_block",
]
