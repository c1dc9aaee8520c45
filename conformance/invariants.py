"""Invariants checked after every step of a flow, faults included.

They are the promises of ARCHITECTURE.md's house rules, made checkable:

* :func:`one_final_answer` - every request gets exactly one final answer;
* :func:`ledger_balanced` - what the acquirer booked is what the POS was told
  (nothing lost, nothing doubled);
* :func:`serves_fresh_client` - after whatever happened, a new client is served;
* :func:`no_full_pan` - no card number in clear anywhere in a transcript (Luhn scan).

Each raises :class:`InvariantViolation` (an ``AssertionError``, so a case fails with a
readable message) and is protocol-agnostic: the protocol cases say what a request,
an answer and a ledger entry are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Generator, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from simulator.masking import luhn_ok, mask_pan

if TYPE_CHECKING:
    from simulator.transcript import Transcript
    from simulator.world import World

_RUN = re.compile(r"(?<![0-9])([1-9][0-9]{12,18})(?![0-9])")


class InvariantViolation(AssertionError):
    """An invariant of the house rules does not hold."""


def one_final_answer(requests: Iterable[Hashable], finals: Iterable[Hashable]) -> None:
    """Each request id in ``requests`` has exactly one final answer in ``finals``.

    ``finals`` lists the request id each final answer was for, in arrival order;
    an answer to a request nobody sent is a violation too.
    """
    asked = Counter(requests)
    answered = Counter(finals)
    missing = sorted(str(r) for r in asked if answered[r] == 0)
    doubled = sorted(str(r) for r, n in answered.items() if n > 1)
    unasked = sorted(str(r) for r in answered if r not in asked)
    problems = []
    if missing:
        problems.append(f"no final answer for {', '.join(missing)}")
    if doubled:
        problems.append(f"more than one final answer for {', '.join(doubled)}")
    if unasked:
        problems.append(f"final answer to unknown request {', '.join(unasked)}")
    if problems:
        raise InvariantViolation("one final answer per request: " + "; ".join(problems))


def ledger_balanced(
    ledger: Iterable[tuple[Any, int]], told: Mapping[Any, int]
) -> None:
    """The acquirer's ledger nets, per transaction, to what the POS was told.

    ``ledger`` is every booking as ``(transaction id, amount in minor units)``, a
    reversal or refund being a negative amount. ``told`` maps each transaction the
    POS was told is approved to its amount. A transaction netting to zero (approved
    then reversed) counts as not booked, so the POS must not hold it as approved.
    """
    net: dict[Hashable, int] = {}
    for txn, amount in ledger:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise InvariantViolation(f"ledger amount for {txn!r} is not integer minor units")
        net[txn] = net.get(txn, 0) + amount
    booked = {t: a for t, a in net.items() if a != 0}
    problems = []
    for txn, amount in told.items():
        if txn not in booked:
            problems.append(f"{txn!r}: POS told approved for {amount} but nothing booked")
        elif booked[txn] != amount:
            problems.append(f"{txn!r}: POS told {amount} but the ledger holds {booked[txn]}")
    for txn, amount in booked.items():
        if txn not in told:
            problems.append(f"{txn!r}: {amount} booked but the POS was never told")
    if problems:
        raise InvariantViolation("ledger does not balance: " + "; ".join(problems))


def full_pans(text: str) -> list[str]:
    """Card-number-like digit runs found in ``text``: 13-19 digits, Luhn valid, led by a
    payment major industry identifier (2-6), the same test the transcript masking uses."""
    return [m for m in _RUN.findall(text) if m[0] in "23456" and luhn_ok(m)]


# bytes to the characters the PAN scan reads: printable ASCII as is, the rest a space
_TEXT_OF_BYTE = bytes(b if 32 <= b < 127 else 32 for b in range(256))


def _hex_to_text(hexed: str) -> str:
    """A transcript's hex back to text; masked nibbles (``*``) become ``*``.

    Every entry is scanned after every step of a state machine, so unmasked hex (the
    common case) is converted in C: ``bytes.fromhex`` and one ``translate``.
    """
    even = hexed[: len(hexed) - len(hexed) % 2]
    if even.isalnum():  # no '*', no spaces: fromhex reads it pair by pair as below
        try:
            return bytes.fromhex(even).translate(_TEXT_OF_BYTE).decode("ascii")
        except ValueError:
            pass  # a letter that is not hex: the careful path below says so
    out = []
    for i in range(0, len(hexed) - 1, 2):
        pair = hexed[i : i + 2]
        if "*" in pair:
            out.append("*")
            continue
        b = int(pair, 16)
        out.append(chr(b) if 32 <= b < 127 else " ")
    return "".join(out)


def preview(hexed: str, limit: int = 80) -> str:
    """Printable view of a transcript's (already masked) hex, for report steps."""
    text = _hex_to_text(hexed[: limit * 2])
    return repr(text + ("..." if len(hexed) > limit * 2 else ""))


def no_full_pan(
    transcript: Transcript | Iterable[Any], known_pans: Iterable[str] = ()
) -> None:
    """No card number in clear in the transcript: labels, ASCII payloads, and (for the
    PANs the run knows) packed BCD.

    The ASCII scan is generic (any Luhn-valid 13-19 digit run); BCD is only checked
    for ``known_pans``, since binary data is full of digit-looking nibbles.
    """
    known = [p.strip().rstrip("Ff") for p in known_pans if p.strip()]
    found: list[str] = []
    for e in transcript:
        label = getattr(e, "label", "")
        hexed = getattr(e, "hex", "")
        where = f"#{getattr(e, 'seq', '?')} {getattr(e, 'port', '?')}"
        for pan in full_pans(label):
            found.append(f"{where} label: {mask_pan(pan)}")
        for pan in full_pans(_hex_to_text(hexed)):
            found.append(f"{where} bytes: {mask_pan(pan)}")
        for pan in known:
            if pan in label or pan in _hex_to_text(hexed) or pan in hexed:
                found.append(f"{where}: known card {mask_pan(pan)}")
    if found:
        raise InvariantViolation("full PAN in transcript: " + "; ".join(sorted(set(found))))


class PanWatch:
    """:func:`no_full_pan` after every step of a state machine, over what is new.

    Entries are only ever appended, and earlier ones passed the same scan, so
    rescanning the whole transcript after every step (quadratic in the steps of an
    example, most of a state machine's time) finds nothing more. When the known PANs
    change, every entry is scanned again for them.
    """

    def __init__(self) -> None:
        self._pans: tuple[str, ...] = ()
        self._scanned = 0

    def check(self, transcript: Transcript, known_pans: Iterable[str] = ()) -> None:
        pans = tuple(known_pans)
        entries = transcript.entries
        if isinstance(entries, list) and pans == self._pans and self._scanned <= len(entries):
            no_full_pan(entries[self._scanned :], pans)
        else:
            no_full_pan(list(entries), pans)  # new PANs, or a bounded tail: all there is
        self._pans, self._scanned = pans, len(entries)


def fresh_client_within() -> float:
    """The default ``within`` of :func:`serves_fresh_client` (conformance/timings.toml)."""
    from simulator.timings import load_timings

    return load_timings("conformance")["fresh_client"]


def serves_fresh_client(
    world: World,
    probe: Callable[[], Generator[Any, Any, Any]],
    within: float,
) -> Generator[Any, Any, Any]:
    """A SimPy process body: ``probe`` (a new client's whole exchange) ends in time.

    Use as ``yield world.process(serves_fresh_client(world, probe, t))``; in virtual
    mode :func:`check_serves_fresh_client` runs it for you. ``within`` is a named
    timing of the protocol (how long a healthy server may take to answer).
    """
    proc = world.process(probe())
    limit = world.timeout(within)
    try:
        yield world.any_of([proc, limit])
    except Exception as exc:  # noqa: BLE001 - the probe's own failure, whatever it is
        raise InvariantViolation(f"fresh client failed: {exc!r}") from exc
    if not proc.triggered:
        # the probe is left waiting, not interrupted: an interrupt it does not handle
        # would crash the world later, far from this check
        raise InvariantViolation(f"server did not serve a fresh client within {within} s")
    return proc.value


def check_serves_fresh_client(
    world: World, probe: Callable[[], Generator[Any, Any, Any]], within: float
) -> Any:
    """Virtual mode: run :func:`serves_fresh_client` to its end and return the probe's value."""
    proc = world.process(serves_fresh_client(world, probe, within))
    return world.run(until=proc)


CHARGE_KINDS = ("sale", "authorisation", "preauth")


def no_charge_left_unreversed(entries: Iterable[Any], told_approved: int) -> None:
    """At most ``told_approved`` charges stand at the acquirer (approved, not reversed).

    The back-end faults' half of the ledger invariant: a charge the host booked while
    the terminal gave up on it (silent host, late answer, failure after the approval)
    must have been reversed, so only the charges the POS was told approved remain.
    """
    standing = [e for e in entries
                if getattr(e, "kind", "") in CHARGE_KINDS and e.approved and not e.reversed]
    if len(standing) > told_approved:
        refs = ", ".join(f"{e.ref} {e.kind} {e.amount}" for e in standing)
        raise InvariantViolation(f"{len(standing)} charges stand at the acquirer but the "
                                 f"POS was told {told_approved} approved: {refs}")
