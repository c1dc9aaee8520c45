"""``abecs``: virtual ABECS pinpads on ptys, served to a host application under test.

The other servers put a protocol in front of the terminal application; here the
device is the product under test's counterpart: a vendor's host software (a POS that
drives its pinpad itself) opens the pinpads' serial ports and speaks ABECS to them.
The protocol's sans-I/O codec and the pinpad live in :mod:`virtual_devices.abecs`;
this package holds only the contract (:mod:`.contract`).
"""
