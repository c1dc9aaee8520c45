"""BER-TLV as EMV uses it (EMV 4.4 Book 3 Annex B), plus Data Object Lists.

Cards answer in BER-TLV templates and terminals build command data from DOLs, so both
sides of the simulator share this one codec. It is strict: anything a real kernel would
reject (truncated tag, length running past the data, indefinite lengths) raises
:class:`TLVError` instead of being guessed at, so malformed card answers surface as
errors in the kernel rather than as silently wrong values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "TLV",
    "TLVError",
    "decode",
    "encode",
    "encode_many",
    "find",
    "find_all",
    "flatten",
    "parse_dol",
    "build_dol",
    "tag_name",
    "tag_bytes",
    "is_constructed",
]


class TLVError(ValueError):
    """Malformed BER-TLV or DOL data."""


@dataclass
class TLV:
    """One data object; ``children`` holds the parsed content of constructed tags."""

    tag: int
    value: bytes
    children: list[TLV] = field(default_factory=list)

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def to_bytes(self) -> bytes:
        return encode(self.tag, self.value)


def tag_bytes(tag: int) -> bytes:
    """The tag's wire bytes (``0x9F02`` -> ``b'\\x9f\\x02'``)."""
    if tag < 0:
        raise TLVError(f"negative tag {tag}")
    n = max(1, (tag.bit_length() + 7) // 8)
    return tag.to_bytes(n, "big")


def is_constructed(tag: int) -> bool:
    """Bit 6 of the first tag byte marks a constructed (template) object."""
    return bool(tag_bytes(tag)[0] & 0x20)


def _length_bytes(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(body) > 4:
        raise TLVError(f"length {n} too large")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    """Encode one data object with a definite (short or long form) length."""
    return tag_bytes(tag) + _length_bytes(len(value)) + bytes(value)


def encode_many(items: Iterable[tuple[int, bytes]]) -> bytes:
    return b"".join(encode(t, v) for t, v in items)


def _read_tag(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise TLVError("truncated tag")
    first = data[i]
    tag = first
    i += 1
    if first & 0x1F == 0x1F:
        while True:
            if i >= len(data):
                raise TLVError("truncated multi-byte tag")
            b = data[i]
            tag = (tag << 8) | b
            i += 1
            if not b & 0x80:
                break
            if tag > 0xFFFFFFFF:
                raise TLVError("tag longer than 4 bytes")
    return tag, i


def _read_length(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise TLVError("missing length")
    b = data[i]
    i += 1
    if b < 0x80:
        return b, i
    n = b & 0x7F
    if n == 0:
        raise TLVError("indefinite length is not allowed in EMV")
    if n > 4:
        raise TLVError(f"length of length {n} too large")
    if i + n > len(data):
        raise TLVError("truncated length")
    return int.from_bytes(data[i : i + n], "big"), i + n


def decode(data: bytes) -> list[TLV]:
    """Parse a sequence of data objects; templates are parsed recursively.

    Padding bytes ``00`` / ``FF`` between objects are skipped (Book 3 Annex B1).
    """
    out: list[TLV] = []
    data = bytes(data)
    i, n = 0, len(data)
    while i < n:
        first = data[i]
        if first in (0x00, 0xFF):
            i += 1
            continue
        # one-byte tags and short-form lengths are most of every card answer: read
        # them here; the helpers read (and refuse) the rest
        if first & 0x1F != 0x1F:
            tag, i = first, i + 1
        else:
            tag, i = _read_tag(data, i)
        if i < n and data[i] < 0x80:
            length, i = data[i], i + 1
        else:
            length, i = _read_length(data, i)
        if i + length > n:
            raise TLVError(f"tag {tag:X}: length {length} runs past the data")
        value = data[i : i + length]
        i += length
        # the first tag byte's bit 6 marks a template (what is_constructed reads)
        out.append(TLV(tag, value, decode(value) if first & 0x20 else []))
    return out


def _as_tlvs(data_or_tlvs: bytes | Sequence[TLV]) -> Sequence[TLV]:
    if isinstance(data_or_tlvs, bytes | bytearray):
        return decode(bytes(data_or_tlvs))
    return data_or_tlvs


def find_all(data_or_tlvs: bytes | Sequence[TLV], tag: int) -> list[bytes]:
    """Every value of ``tag`` in depth-first order, looking inside templates."""
    found: list[bytes] = []
    for t in _as_tlvs(data_or_tlvs):
        if t.tag == tag:
            found.append(t.value)
        if t.children:
            found.extend(find_all(t.children, tag))
    return found


def find(data_or_tlvs: bytes | Sequence[TLV], tag: int) -> bytes | None:
    """First value of ``tag`` (depth-first, inside 70/77/A5/BF0C/61/6F and any template)."""
    hits = find_all(data_or_tlvs, tag)
    return hits[0] if hits else None


def flatten(data: bytes | Sequence[TLV]) -> dict[int, bytes]:
    """All primitive tags; the first occurrence wins, as a kernel would keep it."""
    out: dict[int, bytes] = {}

    def walk(items: Sequence[TLV]) -> None:
        for t in items:
            if t.constructed:
                walk(t.children)
            elif t.tag not in out:
                out[t.tag] = t.value

    walk(_as_tlvs(data))
    return out


def parse_dol(dol: bytes) -> list[tuple[int, int]]:
    """A Data Object List: tags followed by lengths, no values (Book 3 §5.4)."""
    out: list[tuple[int, int]] = []
    dol = bytes(dol)
    i = 0
    while i < len(dol):
        tag, i = _read_tag(dol, i)
        length, i = _read_length(dol, i)
        out.append((tag, length))
    return out


# Numeric ('n') data elements are right-justified and padded with leading zeros when
# shortened or lengthened; everything else is left-justified (Book 3 §5.4).
_NUMERIC_TAGS = frozenset(
    {0x9F02, 0x9F03, 0x5F2A, 0x9F1A, 0x9A, 0x9C, 0x9F21, 0x5F36, 0x9F15, 0x9F41, 0x9F3C,
     0x9F3D, 0x9F11, 0x5F28, 0x5F34, 0x9F42, 0x9F44, 0x5F25, 0x5F24, 0x9F7C}
)


def build_dol(dol: bytes, values: Mapping[int, bytes]) -> bytes:
    """Concatenate values for a DOL, padding/truncating each per Book 3 §5.4.

    Missing tags are zero-filled; constructed tags are always zero-filled; numeric
    values keep their rightmost digits, others their leftmost bytes.
    """
    out = bytearray()
    for tag, length in parse_dol(dol):
        v = values.get(tag)
        if v is None or is_constructed(tag):
            out += bytes(length)
        elif len(v) == length:
            out += v
        elif tag in _NUMERIC_TAGS:
            out += v[-length:] if len(v) > length else bytes(length - len(v)) + v
        else:
            out += v[:length] if len(v) > length else v + bytes(length - len(v))
    return bytes(out)


TAG_NAMES: dict[int, str] = {
    0x42: "IIN", 0x4F: "AID", 0x50: "Application Label", 0x56: "Track 1 Data",
    0x57: "Track 2 Equivalent Data", 0x5A: "PAN", 0x5F20: "Cardholder Name",
    0x5F24: "Application Expiration Date", 0x5F25: "Application Effective Date",
    0x5F28: "Issuer Country Code", 0x5F2A: "Transaction Currency Code",
    0x5F2D: "Language Preference", 0x5F30: "Service Code", 0x5F34: "PAN Sequence Number",
    0x61: "Application Template", 0x6F: "FCI Template", 0x70: "Record Template",
    0x71: "Issuer Script Template 1", 0x72: "Issuer Script Template 2",
    0x77: "Response Message Template Format 2", 0x80: "Response Message Template Format 1",
    0x82: "AIP", 0x84: "DF Name", 0x86: "Issuer Script Command", 0x87: "Application Priority",
    0x88: "SFI", 0x8A: "Authorisation Response Code", 0x8C: "CDOL1", 0x8D: "CDOL2",
    0x8E: "CVM List", 0x8F: "CA Public Key Index", 0x90: "Issuer Public Key Certificate",
    0x91: "Issuer Authentication Data", 0x92: "Issuer Public Key Remainder",
    0x93: "Signed Static Application Data", 0x94: "AFL", 0x95: "TVR", 0x97: "TDOL",
    0x9A: "Transaction Date", 0x9B: "TSI", 0x9C: "Transaction Type",
    0x9F02: "Amount, Authorised", 0x9F03: "Amount, Other", 0x9F07: "Application Usage Control",
    0x9F08: "Application Version Number", 0x9F0D: "IAC - Default", 0x9F0E: "IAC - Denial",
    0x9F0F: "IAC - Online", 0x9F10: "Issuer Application Data", 0x9F11: "Issuer Code Table Index",
    0x9F12: "Application Preferred Name", 0x9F13: "Last Online ATC Register",
    0x9F14: "Lower Consecutive Offline Limit", 0x9F17: "PIN Try Counter",
    0x9F1A: "Terminal Country Code", 0x9F1F: "Track 1 Discretionary Data",
    0x9F21: "Transaction Time", 0x9F23: "Upper Consecutive Offline Limit",
    0x9F26: "Application Cryptogram", 0x9F27: "Cryptogram Information Data",
    0x9F2D: "ICC PIN Encipherment PK Certificate", 0x9F2E: "ICC PIN Encipherment PK Exponent",
    0x9F2F: "ICC PIN Encipherment PK Remainder", 0x9F32: "Issuer Public Key Exponent",
    0x9F33: "Terminal Capabilities", 0x9F34: "CVM Results", 0x9F35: "Terminal Type",
    0x9F36: "ATC", 0x9F37: "Unpredictable Number", 0x9F38: "PDOL",
    0x9F42: "Application Currency Code",
    0x9F44: "Application Currency Exponent", 0x9F45: "Data Authentication Code",
    0x9F46: "ICC Public Key Certificate", 0x9F47: "ICC Public Key Exponent",
    0x9F48: "ICC Public Key Remainder", 0x9F49: "DDOL", 0x9F4A: "SDA Tag List",
    0x9F4B: "Signed Dynamic Application Data", 0x9F4C: "ICC Dynamic Number",
    0x9F4D: "Log Entry", 0x9F4E: "Merchant Name", 0x9F5D: "Available Offline Spending Amount",
    0x9F66: "TTQ", 0x9F6C: "CTQ", 0x9F6E: "Form Factor Indicator", 0x9F1E: "IFD Serial Number",
    0x9F7C: "Customer Exclusive Data", 0xA5: "FCI Proprietary Template",
    0xBF0C: "FCI Issuer Discretionary Data", 0x9F4F: "Log Format", 0x9F6B: "Track 2 Data (CL)",
    0x9F69: "Card Authentication Related Data", 0x9F5B: "Issuer Script Results",
    0x9F1D: "Terminal Risk Management Data", 0x9F40: "Additional Terminal Capabilities",
    0x9F09: "Application Version Number (terminal)", 0x9F53: "Transaction Category Code",
    0xDF8129: "Outcome Parameter Set",
}


def tag_name(tag: int) -> str:
    """Human name for transcript labels; unknown tags show as hex."""
    return TAG_NAMES.get(tag, f"tag {tag:X}")
