"""The acquirer's decision rules, loaded from ``rules.toml``.

Magic amounts and test cards are data: a profile is an ordered rule list plus a
default; the catalogue cards' ``[host]`` tables add per-PAN rules (their documented
issuer outcomes, e.g. 51 for the issuer-decline card). A scenario picks a profile or
adds rules without touching code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Rule:
    action: str  # approve | decline | no-response | last-three-digits
    response_code: str = ""
    amount: int | None = None
    above: int | None = None
    cents: int | None = None
    pan: str | None = None
    scripts_71: tuple[str, ...] = ()
    scripts_72: tuple[str, ...] = ()
    source: str = ""

    def matches(self, amount: int, pan: str) -> bool:
        if self.pan is not None and self.pan != pan:
            return False
        if self.amount is not None and self.amount != amount:
            return False
        if self.above is not None and not amount > self.above:
            return False
        if self.cents is not None and amount % 100 != self.cents:
            return False
        return True


@dataclass(frozen=True)
class Script:
    name: str
    command: bytes  # CLA INS P1 P2 Lc-less header + (Lc placeholder)
    data: bytes


@dataclass(frozen=True)
class Decision:
    action: str
    response_code: str
    scripts_71: tuple[str, ...] = ()
    scripts_72: tuple[str, ...] = ()
    rule: Rule | None = None


@dataclass(frozen=True)
class KeyedRules:
    """How a keyed card is checked (``[keyed]`` of rules.toml): the response code of
    each failed check, and whether a payment needs the security code."""

    invalid_number: str = "14"
    expired: str = "54"
    security_code: str = "N7"
    require_security_code: bool = True

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> KeyedRules:
        def code(name: str, default: str) -> str:
            return str(raw.get(name, {}).get("response_code", default))

        return cls(code("invalid_number", cls.invalid_number), code("expired", cls.expired),
                   code("security_code", cls.security_code),
                   bool(raw.get("require_security_code", True)))


@dataclass
class Rules:
    profile: str
    rules: list[Rule]
    default_action: str
    scripts: dict[str, Script] = field(default_factory=dict)
    keyed: KeyedRules = field(default_factory=KeyedRules)

    def decide(self, amount: int, pan: str, card_rules: Sequence[Rule] = ()) -> Decision:
        for rule in [*self.rules, *card_rules]:
            if rule.matches(amount, pan):
                action, code = rule.action, rule.response_code
                if action == "last-three-digits":
                    code = f"{amount % 100:02d}"
                    action = "approve" if code == "00" else "decline"
                if not code:
                    code = "00" if action == "approve" else "05"
                return Decision(action, code, rule.scripts_71, rule.scripts_72, rule)
        code = "00" if self.default_action == "approve" else "05"
        return Decision(self.default_action, code)

    def add(self, rule: Rule) -> None:
        """A scenario's own rule, checked before the profile's."""
        self.rules.insert(0, rule)


def _rule(raw: dict[str, Any]) -> Rule:
    return Rule(
        action=str(raw["action"]),
        response_code=str(raw.get("response_code", "")),
        amount=raw.get("amount"),
        above=raw.get("above"),
        cents=raw.get("cents"),
        pan=raw.get("pan"),
        scripts_71=tuple(raw.get("scripts_71", ())),
        scripts_72=tuple(raw.get("scripts_72", ())),
        source=str(raw.get("source", "")),
    )


@cache
def _shipped_rules() -> dict[str, Any]:
    """The packaged rules file, parsed once per process (read only from here on)."""
    text = resources.files("virtual_devices.acquirer").joinpath("rules.toml").read_text()
    return tomllib.loads(text)


def load_rules(profile: str = "default", text: str | None = None) -> Rules:
    raw = _shipped_rules() if text is None else tomllib.loads(text)
    profiles = raw.get("profiles", {})
    if profile not in profiles:
        raise KeyError(f"unknown acquirer rules profile {profile!r}; have {sorted(profiles)}")
    body = profiles[profile]
    scripts = {
        name: Script(name, bytes.fromhex(s["command"]), bytes.fromhex(s.get("data", "")))
        for name, s in raw.get("scripts", {}).items()
    }
    return Rules(
        profile=profile,
        rules=[_rule(r) for r in body.get("rule", [])],
        default_action=str(body.get("default_action", "approve")),
        scripts=scripts,
        keyed=KeyedRules.from_toml(raw.get("keyed", {})),
    )
