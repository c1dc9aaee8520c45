"""How the EPoS under test behaved: the client-under-test grades of the Connect server.

The server notes what every EPoS socket sent (fed by :class:`~session.Session`, the
signature stage of :mod:`pac` and the waiter of :mod:`pat`) and grades it per section of
paymentsense-connect.md; ``--serve connect`` writes the grades into its reports. One
:class:`Conduct` per server: the grades cover the whole run, every socket.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.connect import jsonrpc as rpc
from protocol_servers.connect.errors import TABLE
from protocol_servers.grading import Grade, Observation

SIGNATURE = "signatureVerificationRequest"
FRAMING_CODES = frozenset({rpc.PARSE_ERROR, rpc.INVALID_REQUEST})


def _terminal_work() -> frozenset[str]:
    """The methods that start work on a terminal (a transaction, a duplicate, a
    report): §7 allows one at a time. Asking for the terminal's details or cancelling
    (§4.6) while it works is what an EPoS should do."""
    from protocol_servers.connect.pac import REPORTS, TYPES

    return frozenset({*TYPES, *REPORTS, "duplicate"})


def _said(error: rpc.RpcError) -> str:
    data = error.data if isinstance(error.data, dict) else {}
    why = data.get("userMessage") or error.message
    return f"{error.code} {TABLE.get(error.code, error.message)}: {why}"[:200]


class Conduct:
    def __init__(self) -> None:
        self.framing = Grade(
            "connect/3/101", "every message the EPoS sent is JSON-RPC 2.0 as §3 has it: "
            '"jsonrpc": "2.0", an integer id 0-999999, no member the schemas lack',
            "a real Connect validates against its schemas and refuses the message")
        self.answers = Grade(
            "connect/3/102", "the EPoS answers only what Connect asked, by the request's id",
            "an answer with a wrong id is lost: the signature or the table waits in vain")
        self.methods = Grade(
            "connect/4.3/101", "every request names a method of its path and version (§4, "
            "§5, §10) with the parameters that method takes",
            "the request is refused; the sale, report or lookup never happens")
        self.signature = Grade(
            "connect/4.7/101", "signatureVerificationRequest is answered within its "
            'timeout with {"accepted": true|false}',
            "the terminal accepts every signature by itself: a forged one is paid")
        self.pat = Grade(
            "connect/5/101", "the Pay-At-Table requests (tables, lock, receipts, result, "
            "unlock) are answered within their timeout",
            "the waiter's terminal gives up on the table; the bill stays unpaid")
        self.busy = Grade(
            "connect/7/101", "no transaction, duplicate or report asked of a terminal busy "
            "with one (§7; terminalDetails and cancelTransaction are fine)",
            "a real Connect refuses it; a POS that counts on it loses the second sale")

    # -- fed by the session --------------------------------------------------------------
    def received(self) -> None:
        self.framing.saw()

    def refused(self, method: str | None, error: rpc.RpcError) -> None:
        """Connect answered the EPoS with ``error`` for something it sent."""
        what = f"{method}: " if method else ""
        if error.code in FRAMING_CODES:
            self.framing.fail(what + _said(error))
        elif error.code in (rpc.METHOD_NOT_FOUND, rpc.INVALID_PARAMS):
            self.methods.fail(what + _said(error))

    def request(self, method: str, tid: str | None, busy: bool) -> None:
        """A well-formed request for ``method`` naming terminal ``tid`` (None: no terminal),
        ``busy`` when that terminal was in a transaction or report."""
        self.methods.saw()
        if tid is None:
            return
        if busy and method in _terminal_work():
            self.busy.fail(f"{method} while terminal {tid} was busy")
        else:
            self.busy.saw()

    def _of(self, method: str) -> Grade:
        return self.signature if method == SIGNATURE else self.pat

    def asked(self, method: str) -> None:
        self._of(method).saw()

    def answered(self, response: rpc.Response) -> None:
        self.answers.saw()
        # a signature has one answer, a boolean (§4.7); a PAT request may be refused
        if response.error is not None and response.method == SIGNATURE:
            self.signature.fail(
                f"{response.method} (id {response.id}) answered with an error: "
                f"{response.error.code} {response.error.message}"[:200])

    def unexpected(self, rid: Any) -> None:
        self.answers.fail(f"an answer with id {rid!r}, which matches no request of ours")

    def unanswered(self, method: str, rid: Any) -> None:
        self._of(method).fail(f"{method} (id {rid}) not answered within its timeout")

    def not_understood(self, method: str, result: Any) -> None:
        self._of(method).fail(f"{method} answered {str(result)[:80]}, not the result its "
                              "schema has")

    def grades(self) -> list[Grade]:
        return [self.framing, self.answers, self.methods, self.signature, self.pat,
                self.busy]

    def observations(self) -> list[Observation]:
        return [g.observation() for g in self.grades()]
