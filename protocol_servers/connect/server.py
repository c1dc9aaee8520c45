"""The Connect reference server: an account's terminals and the EPoS sockets on it.

``ConnectServer(world, config)`` builds one card machine per terminal of
``terminals.toml`` (virtual pinpads in-memory by default; :mod:`live` puts them on ptys
and the sockets on real ports). :meth:`check` is the handshake rule for the port's
refusal hook; :meth:`attach` makes a :class:`Session` for an accepted socket;
:meth:`connect_local` opens an in-memory socket (virtual mode) the same way.

Rule switches (``+no-busy-rule``, ``+notify-after-result``) turn one behaviour off, so
the conformance suite can show it notices a broken server (as mpos has).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from protocol_servers.connect import errors, handshake
from protocol_servers.connect.card_machine import CardMachine, make_machine
from protocol_servers.connect.conduct import Conduct
from protocol_servers.connect.session import Session
from protocol_servers.connect.terminal import Terminal
from simulator.streams import MessageEnd, message_link
from simulator.timings import Timings, load_timings
from simulator.world import World

TEST_TOKEN = "6a3c1d7e-0b4f-4c2e-9a51-2f8e7d6c5b40"  # ours; never a real account's key
SWITCHES = ("no-busy-rule", "notify-after-result")
REFUSALS = ("http", "close")
POLICY_VIOLATION = 1008  # RFC 6455 close code


@dataclass(frozen=True)
class TerminalSpec:
    tid: str
    currency: str
    card: str
    presentation: str | None = None
    silent: bool = False


def default_terminals() -> tuple[TerminalSpec, ...]:
    raw = tomllib.loads(resources.files("protocol_servers.connect")
                        .joinpath("terminals.toml").read_text())
    return tuple(TerminalSpec(t["tid"], t["currency"], t["card"], t.get("presentation"),
                              bool(t.get("silent", False))) for t in raw["terminal"])


@dataclass(frozen=True)
class ServerConfig:
    tokens: tuple[str, ...] = (TEST_TOKEN,)
    terminals: tuple[TerminalSpec, ...] = field(default_factory=default_terminals)
    wrapped_terminals: bool = False  # connectedTerminals as {"terminals": [...]}
    signature_lines: str = "object"  # receiptLines of the signature request: object|array
    busy_rule: bool = True
    notify_after_result: bool = False
    #: how a bad handshake is refused (§2.2): "http" answers the upgrade with 401/400
    #: and a JSON body (the default, DECISIONS.md); "close" accepts the upgrade and then
    #: closes with 1008 (policy violation), the other path the note asks to exercise
    refuse_by: str = "http"
    #: §2.3's optional JSON-RPC ping (off by default, DECISIONS.md: RFC 6455 pings are
    #: the keep-alive): a ``ping`` request every ping_interval, 1011 without an answer
    rpc_ping: bool = False
    timing_overrides: Mapping[str, float] = field(default_factory=dict)


def with_switches(config: ServerConfig, spec: str) -> ServerConfig:
    """``"documented+no-busy-rule"`` -> the config with those rules switched off."""
    _, *switches = spec.split("+")
    for s in switches:
        if s == "no-busy-rule":
            config = replace(config, busy_rule=False)
        elif s == "notify-after-result":
            config = replace(config, notify_after_result=True)
        else:
            raise ValueError(f"unknown rule switch {s!r}; known: {', '.join(SWITCHES)}")
    return config


class ConnectServer:
    def __init__(self, world: World, config: ServerConfig | None = None,
                 acquirer: Any = None, machines: dict[str, CardMachine] | None = None) -> None:
        from virtual_devices.acquirer.host import AcquirerHost

        self.world = world
        self.config = config or ServerConfig()
        self.acquirer = acquirer if acquirer is not None else AcquirerHost()
        self.timings: Timings = load_timings("protocol_servers.connect", "timings.toml")
        if self.config.timing_overrides:
            self.timings = self.timings.override(**self.config.timing_overrides)
        self.terminals: dict[str, Terminal] = {}
        for spec in self.config.terminals:
            machine = (machines or {}).get(spec.tid) or make_machine(
                world, spec.tid, self.acquirer, [spec.card], self._behaviour(spec),
                currency=spec.currency)
            machine.use_timings(self.timings)  # PAC and PAT pay on the same PDQ clock
            self.terminals[spec.tid] = Terminal(spec.tid, spec.currency, machine, spec.silent)
        self.sessions: list[Session] = []
        self.conduct = Conduct()  # how the EPoS under test behaves, graded for --serve
        self.pat: Session | None = None
        self.waiters: list[Any] = []  # every waiter's PatOutcome, in the order started
        self._transactions = 0
        self._local = 0
        from protocol_servers.connect import pac, pat  # noqa: F401  (register handlers)

    @staticmethod
    def _behaviour(spec: TerminalSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"think_s": (0.5, 1.5)}
        if spec.presentation:
            out["presentation"] = spec.presentation
        return out

    def next_transaction(self) -> int:
        self._transactions += 1
        return self._transactions

    # -- sockets ---------------------------------------------------------------------------
    def check(self, path: str, query: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
        """The HTTP refusal of the upgrade, or None to accept it (in the "close" mode a
        socket on a known path is accepted and refused by :meth:`attach`)."""
        verdict = handshake.check(path, query, self.config.tokens)
        if isinstance(verdict, handshake.Accepted):
            return None
        if self.config.refuse_by == "close" and path.lower() in handshake.PATHS:
            return None
        return verdict

    def attach(self, end: MessageEnd, path: str, query: Mapping[str, str]) -> Session | None:
        verdict = handshake.check(path, query, self.config.tokens)
        if not isinstance(verdict, handshake.Accepted):
            self._refuse_open(end, verdict[1].get("userMessage", "refused"))
            return None
        session = Session(self, end, verdict)
        self.sessions.append(session)
        if verdict.integration == "pat":
            old, self.pat = self.pat, session
            if old is not None and old.open:
                self._discontinue(old)
        return session

    @staticmethod
    def _refuse_open(end: MessageEnd, why: str) -> None:
        """Close an accepted socket whose handshake is bad: 1008 with the userMessage as
        the reason (a close reason holds 123 bytes)."""
        from simulator.ports.ws import WsEnd

        if isinstance(end, WsEnd):
            end.close(POLICY_VIOLATION, why.encode()[:123].decode(errors="ignore"))
        else:
            end.close()

    def _discontinue(self, old: Session) -> None:
        """§2.4: one PAT socket; the newest wins, the older hears it and is closed."""
        err = errors.error(errors.CONNECTION_DISCONTINUED,
                           "Connection discontinued: another EPoS connected for Pay-At-Table")
        old.endpoint._queue({"jsonrpc": "2.0", "id": None, "error": err.to_json()})
        old.flush()
        old.close(4000, "Connection discontinued")

    def detach(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        if self.pat is session:
            self.pat = None

    def connect_local(self, url: str, name: str = "pos") -> tuple[MessageEnd, Any]:
        """Virtual mode: an in-memory socket to ``url``'s path and query.

        Returns the EPoS's end and the refusal ``(status, body)`` or None when accepted.
        """
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        refusal = self.check(parts.path, query)
        self._local += 1
        client, server = message_link(self.world, name, f"connect#{self._local}")
        if refusal is not None:
            client.deliver_eof()
            return client, refusal
        self.attach(server, parts.path, query)
        return client, None

    def url(self, base: str = "ws://127.0.0.1", path: str = "/pac", version: str = "v1",
            final_receipt: bool = False) -> str:
        q = f"?token={self.config.tokens[0]}&api-version={version}"
        if version == "v1":
            q += "&software-house-id=CARDLOOP&installer-id=CARDLOOP"
        if final_receipt:
            q += "&final-pos-receipt-request"
        return f"{base}{path}{q}"

    def start_waiter(self, tid: str, plan: Any = None) -> Any:
        """A waiter takes terminal ``tid`` to a table (a SimPy process; value PatOutcome)."""
        from protocol_servers.connect.pat import Waiter, WaiterPlan

        term = self.terminals.get(tid)
        if term is None:
            raise ValueError(f"no terminal {tid!r}")
        waiter = Waiter(self, term, plan or WaiterPlan(), len(self.waiters) + 1)
        self.waiters.append(waiter.outcome)
        return self.world.process(waiter.run())

    def waiter_outcome(self, number: int) -> Any:
        """Waiter ``number``'s :class:`PatOutcome` (None: no such waiter)."""
        for outcome in self.waiters:
            if outcome.number == number:
                return outcome
        return None

    def state(self) -> dict[str, Any]:
        return {"terminals": [{"tid": t.tid, "currency": t.currency, "status": t.status,
                               "journal": len(t.journal)} for t in self.terminals.values()],
                "sockets": len(self.sessions), "pat": self.pat is not None,
                "ledger": self.acquirer.ledger.balance(),
                "waiters": [w.to_json() for w in self.waiters[-10:]]}

    def close(self) -> None:
        for term in self.terminals.values():
            term.machine.close()
