"""What the mock device and gateway do for an amount: the Payworks test-card digits.

Rules are data (``outcomes.toml``); this module only reads them. A scenario may pass its
own :class:`OutcomeRules` to the server to override any of them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from protocol_servers.p3.money import exponent, to_minor


@dataclass(frozen=True)
class Behaviour:
    outcome: str  # APPROVE | DECLINE_OFFLINE | DECLINE_ONLINE | BLOCKED
    cvm: str  # NONE | SIGNATURE | OFFLINE_PIN | OFFLINE_PIN_AND_SIGNATURE | ONLINE_PIN
    pin_correct: bool
    question: str | None  # an extra action asked mid-flow, or None

    @property
    def needs_pin(self) -> bool:
        return self.cvm in ("OFFLINE_PIN", "OFFLINE_PIN_AND_SIGNATURE", "ONLINE_PIN")

    @property
    def needs_signature(self) -> bool:
        return self.cvm in ("SIGNATURE", "OFFLINE_PIN_AND_SIGNATURE")


class OutcomeRules:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.hundreds = {int(k): v for k, v in raw["hundreds"].items()}
        self.tens = {int(k): v for k, v in raw["tens"].items()}
        self.units = {int(k): v for k, v in raw["units"].items()}
        self.approve_from_major = int(raw["rules"]["approve_from_major"])
        self.pin_tries = int(raw["rules"]["pin_tries"])
        self.special = list(raw.get("special", []))
        self.minor_digits = {int(k): v for k, v in raw.get("minor_digits", {}).items()}

    @classmethod
    def default(cls) -> OutcomeRules:
        text = resources.files(__package__).joinpath("outcomes.toml").read_text("utf-8")
        return cls(tomllib.loads(text))

    def behaviour(self, amount_minor: int, currency: str) -> Behaviour:
        for rule in self.special:
            if to_minor(rule["amount"], currency) == amount_minor:
                return Behaviour(rule["outcome"], rule["cvm"], True, rule.get("question"))
        scale = 10 ** exponent(currency)
        major, minor = divmod(amount_minor, scale)
        question = self.minor_digits.get(minor) if scale > 1 else None
        if major >= self.approve_from_major:
            return Behaviour("APPROVE", "NONE", True, question)
        return Behaviour(
            outcome=self.hundreds.get(major // 100 % 10, "APPROVE"),
            cvm=self.tens.get(major // 10 % 10, "NONE"),
            pin_correct=self.units.get(major % 10, "PIN_CORRECT") == "PIN_CORRECT",
            question=question,
        )


def acquirer_rules(rules: OutcomeRules, profile: str = "default") -> Any:
    """The shared acquirer's rules with the test-card digits on top, for ABECS readers.

    Only the online outcome can be the host's: hundreds digit 2 ("declined after online
    authorisation") declines with ISO 8583 code 05. What the card itself does (offline
    decline, blocked card, its CVM) belongs to the virtual card in the pinpad, as with a
    real reader. The acquirer sees minor units only, so the digits are read with two
    decimals (every currency the test card page uses has two).
    """
    from virtual_devices.acquirer.rules import Decision, Rules, load_rules

    base = load_rules(profile)

    class PayworksDigits(Rules):
        def decide(self, amount: int, pan: str, card_rules: Any = ()) -> Decision:
            major = amount // 100
            if major < rules.approve_from_major and \
                    rules.hundreds.get(major // 100 % 10) == "DECLINE_ONLINE":
                return Decision("decline", "05")
            return super().decide(amount, pan, card_rules)

    return PayworksDigits(base.profile, list(base.rules), base.default_action, dict(base.scripts))
