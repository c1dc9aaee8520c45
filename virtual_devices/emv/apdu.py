"""ISO/IEC 7816-4 command and response APDUs (short length only, as EMV uses).

Both the card (which parses commands) and the kernel (which builds them) use these
types, so a malformed command is rejected by exactly one parser: :meth:`Command.from_bytes`
raises :class:`APDUError` carrying the status word the card answers with.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "APDUError",
    "Command",
    "Response",
    "SW_OK",
    "SW_WRONG_LENGTH",
    "SW_SECURITY_NOT_SATISFIED",
    "SW_AUTH_METHOD_BLOCKED",
    "SW_REFERENCED_DATA_INVALIDATED",
    "SW_CONDITIONS_NOT_SATISFIED",
    "SW_FUNCTION_NOT_SUPPORTED",
    "SW_FILE_NOT_FOUND",
    "SW_RECORD_NOT_FOUND",
    "SW_INCORRECT_P1P2",
    "SW_WRONG_P1P2",
    "SW_WRONG_DATA",
    "SW_REFERENCED_DATA_NOT_FOUND",
    "SW_INS_NOT_SUPPORTED",
    "SW_CLA_NOT_SUPPORTED",
    "SW_SELECTED_FILE_INVALIDATED",
    "SW_NO_PRECISE_DIAGNOSIS",
    "SW_MEMORY_FAILURE",
    "sw_name",
    "sw_pin_tries",
    "describe_command",
    "describe_response",
]

SW_OK = 0x9000
SW_SELECTED_FILE_INVALIDATED = 0x6283  # SELECT of a blocked application
SW_MEMORY_FAILURE = 0x6581
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCED_DATA_INVALIDATED = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_INCORRECT_P1P2 = 0x6A86
SW_REFERENCED_DATA_NOT_FOUND = 0x6A88
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_NO_PRECISE_DIAGNOSIS = 0x6F00

_SW_NAMES = {
    SW_OK: "OK",
    SW_SELECTED_FILE_INVALIDATED: "selected file invalidated",
    SW_MEMORY_FAILURE: "memory failure",
    SW_WRONG_LENGTH: "wrong length",
    SW_SECURITY_NOT_SATISFIED: "security status not satisfied",
    SW_AUTH_METHOD_BLOCKED: "authentication method blocked",
    SW_REFERENCED_DATA_INVALIDATED: "referenced data invalidated",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW_WRONG_DATA: "incorrect data",
    SW_FUNCTION_NOT_SUPPORTED: "function not supported",
    SW_FILE_NOT_FOUND: "file not found",
    SW_RECORD_NOT_FOUND: "record not found",
    SW_INCORRECT_P1P2: "incorrect P1 P2",
    SW_REFERENCED_DATA_NOT_FOUND: "referenced data not found",
    SW_WRONG_P1P2: "wrong P1 P2",
    SW_INS_NOT_SUPPORTED: "INS not supported",
    SW_CLA_NOT_SUPPORTED: "CLA not supported",
    SW_NO_PRECISE_DIAGNOSIS: "no precise diagnosis",
}


def sw_name(sw: int) -> str:
    if sw in _SW_NAMES:
        return _SW_NAMES[sw]
    if sw & 0xFF00 == 0x6100:
        return f"{sw & 0xFF} bytes available"
    if sw & 0xFF00 == 0x6C00:
        return f"wrong Le, use {sw & 0xFF}"
    if sw & 0xFFF0 == 0x63C0:
        return f"verify failed, {sw & 0x0F} tries left"
    return f"SW {sw:04X}"


def sw_pin_tries(sw: int) -> int | None:
    """Tries left from a ``63Cx`` answer to VERIFY, else None."""
    return sw & 0x0F if sw & 0xFFF0 == 0x63C0 else None


class APDUError(ValueError):
    """A command the card cannot parse; ``sw`` is the status word to answer."""

    def __init__(self, message: str, sw: int = SW_WRONG_LENGTH) -> None:
        super().__init__(message)
        self.sw = sw


@dataclass
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            v = getattr(self, name)
            if not 0 <= v <= 0xFF:
                raise APDUError(f"{name} {v} is not a byte", SW_WRONG_P1P2)
        if len(self.data) > 255:
            raise APDUError("short APDU data longer than 255 bytes", SW_WRONG_LENGTH)
        if self.le is not None and not 0 <= self.le <= 256:
            raise APDUError(f"Le {self.le} out of range", SW_WRONG_LENGTH)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Command:
        """Parse cases 1-4 (short). ``Le = 00`` means 256.

        Ambiguous lengths follow ISO 7816-3 §12.1.3: a single byte after the header is
        Le (case 2); otherwise the first byte is Lc and must match the data, optionally
        followed by exactly one Le byte.
        """
        raw = bytes(raw)
        if len(raw) < 4:
            raise APDUError(f"APDU of {len(raw)} bytes is shorter than a header")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256)
        lc = body[0]
        if lc == 0:
            raise APDUError("Lc = 0 with more bytes following (extended length unsupported)")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, body[1:], None)
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
        raise APDUError(f"Lc {lc} does not match {len(body) - 1} data bytes")

    def to_bytes(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le & 0xFF])
        return out

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    # --- builders the kernel uses -----------------------------------------------------

    @classmethod
    def select(cls, aid: bytes | str, next_occurrence: bool = False) -> Command:
        """SELECT by DF name; ``next_occurrence`` asks for the next partial match."""
        name = aid.encode() if isinstance(aid, str) else aid
        return cls(0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, name, 0)

    @classmethod
    def gpo(cls, pdol_data: bytes = b"") -> Command:
        """GET PROCESSING OPTIONS with the PDOL data wrapped in tag 83."""
        return cls(0x80, 0xA8, 0x00, 0x00, bytes([0x83, len(pdol_data)]) + pdol_data, 0)

    @classmethod
    def read_record(cls, sfi: int, rec: int) -> Command:
        return cls(0x00, 0xB2, rec, (sfi << 3) | 0x04, b"", 0)

    @classmethod
    def get_data(cls, tag: int) -> Command:
        return cls(0x80, 0xCA, (tag >> 8) & 0xFF, tag & 0xFF, b"", 0)

    @classmethod
    def verify(cls, p2: int, data: bytes) -> Command:
        """VERIFY: ``p2`` 0x80 plaintext PIN block, 0x88 enciphered PIN."""
        return cls(0x00, 0x20, 0x00, p2, data, None)

    @classmethod
    def generate_ac(cls, p1: int, cdol: bytes) -> Command:
        """GENERATE AC: ``p1`` 0x00 AAC, 0x40 TC, 0x80 ARQC; bit 0x10 asks for CDA."""
        return cls(0x80, 0xAE, p1, 0x00, cdol, 0)

    @classmethod
    def get_challenge(cls) -> Command:
        return cls(0x00, 0x84, 0x00, 0x00, b"", 0)

    @classmethod
    def internal_authenticate(cls, ddol_data: bytes) -> Command:
        return cls(0x00, 0x88, 0x00, 0x00, ddol_data, 0)

    @classmethod
    def external_authenticate(cls, arpc_data: bytes) -> Command:
        return cls(0x00, 0x82, 0x00, 0x00, arpc_data, None)

    @classmethod
    def get_response(cls, le: int) -> Command:
        return cls(0x00, 0xC0, 0x00, 0x00, b"", le)


@dataclass
class Response:
    data: bytes
    sw1: int
    sw2: int

    @classmethod
    def status(cls, sw: int, data: bytes = b"") -> Response:
        return cls(data, sw >> 8, sw & 0xFF)

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def to_bytes(self) -> bytes:
        return bytes(self.data) + bytes([self.sw1, self.sw2])

    @classmethod
    def from_bytes(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise APDUError(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    def __str__(self) -> str:
        extra = f" ({len(self.data)} bytes)" if self.data else ""
        return f"{self.sw:04X} {sw_name(self.sw)}{extra}"


_INS_NAMES = {
    0xA4: "SELECT", 0xA8: "GET PROCESSING OPTIONS", 0xB2: "READ RECORD", 0xCA: "GET DATA",
    0x20: "VERIFY", 0x84: "GET CHALLENGE", 0x88: "INTERNAL AUTHENTICATE",
    0xAE: "GENERATE AC", 0x82: "EXTERNAL AUTHENTICATE", 0xC0: "GET RESPONSE",
    0x24: "PIN CHANGE/UNBLOCK", 0x1E: "APPLICATION BLOCK", 0x18: "APPLICATION UNBLOCK",
    0x16: "CARD BLOCK", 0xDA: "PUT DATA",
}


def describe_command(raw: bytes) -> str:
    """A transcript label for a command APDU that never shows card data.

    Only the header and public identifiers (AIDs, DF names, tags) are named; PIN
    blocks, DOL data and script data are summarised by length.
    """
    try:
        c = Command.from_bytes(raw)
    except APDUError as e:
        return f"malformed command ({e})"
    name = _INS_NAMES.get(c.ins, f"CLA {c.cla:02X} INS {c.ins:02X}")
    if c.ins == 0xA4:
        try:
            dfn = c.data.decode("ascii") if c.data.endswith(b"DDF01") else c.data.hex().upper()
        except UnicodeDecodeError:
            dfn = c.data.hex().upper()
        return f"SELECT {dfn}" + (" (next)" if c.p2 == 0x02 else "")
    if c.ins == 0xB2:
        return f"READ RECORD SFI {c.p2 >> 3} record {c.p1}"
    if c.ins == 0xCA:
        from virtual_devices.emv.tlv import tag_name

        tag = (c.p1 << 8) | c.p2
        return f"GET DATA {tag:04X} ({tag_name(tag)})"
    if c.ins == 0x20:
        kind = {0x80: "plaintext", 0x88: "enciphered"}.get(c.p2, f"P2 {c.p2:02X}")
        return f"VERIFY {kind} PIN"
    if c.ins == 0xAE:
        kind = {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}.get(c.p1 & 0xC0, "RFU")
        return f"GENERATE AC {kind}" + (" with CDA" if c.p1 & 0x10 else "")
    if c.data:
        return f"{name} ({len(c.data)} bytes)"
    return name


def describe_response(raw: bytes) -> str:
    """A transcript label for a response: status word and the tags it carries."""
    try:
        r = Response.from_bytes(raw)
    except APDUError:
        return "malformed response"
    label = f"{r.sw:04X} {sw_name(r.sw)}"
    if not r.data:
        return label
    from virtual_devices.emv.tlv import TLVError, decode, tag_name

    try:
        top = decode(r.data)
    except TLVError:
        return f"{label} ({len(r.data)} bytes)"
    parts = []
    for t in top:
        inner = ", ".join(f"{c.tag:X}" for c in t.children)
        parts.append(f"{t.tag:X} {tag_name(t.tag)}" + (f" [{inner}]" if inner else ""))
    return f"{label}: " + "; ".join(parts)
