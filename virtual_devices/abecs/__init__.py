"""A virtual ABECS pinpad and the host side of ABECS (mpos-bridge.md §4).

Public API::

    from virtual_devices.abecs.pinpad import Pinpad          # the device, a SimPy process
    from virtual_devices.abecs.host import AbecsHost, AbecsError, AbecsLinkError
    from virtual_devices.abecs import messages as m          # typed requests/responses
    from virtual_devices.abecs.customer import Customer, Behaviour, MagstripeCard
    from virtual_devices.abecs.tables import AidRecord, CapkRecord, records_from_config
    from virtual_devices.abecs.flows import sale             # the terminal's whole sale
    from virtual_devices.terminal import Terminal, pinpad_end  # the payment application
    from virtual_devices.abecs.labeler import FrameLabeler   # transcript labels
    from virtual_devices.abecs.rig import make_rig           # host + pinpad, in memory

    pinpad = Pinpad(world, end, cards=[card], customer=Customer(world), secure=True)
    pinpad.start(); pinpad.queue_card(card); pinpad.display.history
    host = AbecsHost(world, end)          # any ByteEnd: in-memory, pty, real serial
    yield from host.opn(); card = yield from host.gcr(m.GcrRequest(...))

Layers: :mod:`link` (sans-I/O framing, CRC, ACK/NAK, CAN), :mod:`fields` and
:mod:`messages` (byte layouts), :mod:`secure` (RSA-wrapped KSEC, AES-CBC packets),
:mod:`dukpt` (ANSI X9.24 PIN blocks), :mod:`tables`, :mod:`display`, :mod:`driver`
(applies the link machine's outputs for either role), :mod:`commands` (what blocks),
:mod:`slot` (the card slot, one owner), :mod:`device` (what the card commands see of the
pinpad), :mod:`gcr` and :mod:`icc` (GCR/GOC/FNC over the EMV kernel), :mod:`cli`
(``cardloop reader --pty``).
"""
