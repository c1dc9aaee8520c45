"""Terminal settings, amount calculation and the gateway simulator, all from data files.

``settings.toml`` is what ``RES_ON_SETTINGS_RETRIEVED`` carries (§B.4 step 3);
``gateways.toml`` picks the shared acquirer's rules for the First Data or TSYS Sierra
test amounts (§B.6). Percentages are decimal strings; amounts are minor units.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from protocol_servers.gochip.frames import Amount, FieldError

# ISO 4217 numeric codes of the currencies a GoChip install may be set up in: the
# terminal's 5F2A and what the gateway is asked in follow the settings' currency
ISO_4217 = {"USD": 840, "CAD": 124, "EUR": 978, "GBP": 826}


def _data(name: str) -> dict[str, Any]:
    text = resources.files("protocol_servers.gochip").joinpath(name).read_text("utf-8")
    return tomllib.loads(text)


def _minor(text: str) -> int:
    return int((Decimal(text) * 100).to_integral_value(ROUND_HALF_UP))


def percent_of(minor: int, percentage: str) -> int:
    """``percentage`` % of ``minor`` units, rounded half up to a whole cent."""
    return int((Decimal(minor) * Decimal(percentage) / 100).to_integral_value(ROUND_HALF_UP))


@dataclass(frozen=True)
class Settings:
    currency: str
    currency_symbol: str
    signature_collection: str
    features: dict[str, Any]
    merchant: dict[str, str]
    taxes: tuple[dict[str, str], ...]
    tips: tuple[dict[str, str], ...]

    @property
    def currency_code(self) -> int:
        """The currency as ISO 4217 numeric (the terminal's 5F2A)."""
        return ISO_4217[self.currency]

    @classmethod
    def load(cls, raw: dict[str, Any] | None = None) -> Settings:
        raw = raw if raw is not None else _data("settings.toml")
        if str(raw["currency"]) not in ISO_4217:
            raise ValueError(f"currency must be one of {', '.join(ISO_4217)}")
        return cls(
            currency=str(raw["currency"]), currency_symbol=str(raw["currency_symbol"]),
            signature_collection=str(raw.get("signature_collection", "AUTOMATIC")),
            features=dict(raw.get("features", {})), merchant=dict(raw.get("merchant", {})),
            taxes=tuple(dict(t) for t in raw.get("tax", ())),
            tips=tuple(dict(t) for t in raw.get("tip", ())),
        )

    def frame_data(self) -> dict[str, Any]:
        tips: list[dict[str, Any]] = []
        for t in self.tips:
            entry: dict[str, Any] = {"uid": t["uid"], "tipType": t["tipType"]}
            if "percentage" in t:
                entry["percentage"] = Amount(_minor(t["percentage"]))
            if "amount" in t:
                entry["amount"] = Amount(_minor(t["amount"]))
            tips.append(entry)
        return {"settings": {
            "currencySymbol": self.currency_symbol, "currency": self.currency,
            "features": dict(self.features), "merchantDetails": dict(self.merchant),
            "taxList": [{"name": t["name"], "percentage": Amount(_minor(t["percentage"])),
                         "uid": t["uid"]} for t in self.taxes],
            "tipList": tips,
            "signatureCollection": self.signature_collection,
        }}

    def calculate(self, amount: int, tip: str | None, taxes: list[str],
                  custom_tip: int | None) -> dict[str, Any]:
        """``REQ_GET_CALCULATED_AMOUNT``: tax on the amount, tip on the amount, total.

        Choice (the note names the fields only): ``tax`` is one tax uid or a list of
        them, each a percentage of the amount; ``tip`` is a tip uid (a percentage of the
        amount, or a fixed amount); ``customTipAmount`` (a decimal string) replaces it.
        """
        by_uid = {t["uid"]: t for t in self.taxes}
        tax_total = 0
        for uid in taxes:
            if uid not in by_uid:
                raise FieldError(f"tax {uid[:32]!r} is not in the settings' taxList")
            tax_total += percent_of(amount, by_uid[uid]["percentage"])
        tip_total = 0
        if custom_tip is not None:
            tip_total = custom_tip
        elif tip is not None:
            tips = {t["uid"]: t for t in self.tips}
            if tip not in tips:
                raise FieldError(f"tip {tip[:32]!r} is not in the settings' tipList")
            entry = tips[tip]
            tip_total = (_minor(entry["amount"]) if "amount" in entry
                         else percent_of(amount, entry["percentage"]))
        return {"calculatedAmount": {
            "amount": Amount(amount), "taxAmount": Amount(tax_total),
            "tipAmount": Amount(tip_total), "totalAmount": Amount(amount + tax_total + tip_total),
            "currency": self.currency,
        }}


@dataclass
class Gateway:
    """The gateway simulator chosen by the configuration (``first-data`` or ``tsys``)."""

    name: str
    description: str
    acquirer_profile: str
    brand_rules: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, name: str) -> Gateway:
        raw = _data("gateways.toml")
        if name not in raw:
            raise ValueError(f"unknown gateway {name!r}; known: {', '.join(sorted(raw))}")
        body = raw[name]
        return cls(name, str(body["description"]), str(body["acquirer_profile"]),
                   [dict(r) for r in body.get("brand_rule", ())])

    def acquirer(self) -> Any:
        """A shared acquirer host deciding by this gateway's test amounts."""
        from virtual_devices.acquirer.host import AcquirerHost
        from virtual_devices.acquirer.rules import Rule, load_rules
        from virtual_devices.emv.catalogue import catalogue

        rules = load_rules(self.acquirer_profile)
        for br in self.brand_rules:
            for profile in catalogue().values():
                if profile.brand == br["brand"]:
                    rules.add(Rule(action=str(br["action"]), amount=int(br["amount"]),
                                   pan=profile.pan, source=str(br["source"])))
        return AcquirerHost(rules)


GATEWAYS = ("first-data", "tsys")
