"""The two behaviours a vendor can test against (DECISIONS.md, "Pagar.me mpos-bridge").

``documented`` follows the public README plus compatible additions, so a client written
from either the document or the shipped code works. ``bifrost-0.0.19`` reproduces the
shipped server's quirks (mpos-bridge.md §2.4–§2.7) so a client can be checked against
what it would really meet in the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    # responses also carry ``request_type`` (the README's key) beside ``response_type``
    echo_request_type: bool
    # the status body also carries ``status`` (the 06-27 README's key) beside ``code``
    status_field_alias: bool
    # ``request_type`` accepts the README's names (``listDevices``, ``close``...)
    accept_document_names: bool
    # a missing ``device_id`` on initialize picks the first free device
    pick_first_device: bool
    # "Another operation is in progress" leaves the context locked until closed (§2.6 quirk)
    busy_error_keeps_lock: bool
    # process also accepts ``payment_method`` for magstripe (0.0.27 spelling, §2.9)
    accept_payment_method_alias: bool
    # finish tells the POS when the card declined a sale the host approved (2019 SDK,
    # §7 item 4). Off in every profile: the document says finish answers 5, and real POS
    # pages send the README's placeholder ``emv_data`` and expect 5 (DECISIONS.md); a
    # user who wants the report turns it on with ``+card-decline-report``
    report_card_decline: bool = False
    # rules that a test may switch off to show the suite notices
    sequence_rule: bool = True
    device_ownership: bool = True


DOCUMENTED = Profile(
    name="documented",
    echo_request_type=True,
    status_field_alias=True,
    accept_document_names=True,
    pick_first_device=True,
    busy_error_keeps_lock=False,
    accept_payment_method_alias=True,
)

BIFROST_0_0_19 = Profile(
    name="bifrost-0.0.19",
    echo_request_type=False,
    status_field_alias=False,
    accept_document_names=False,
    pick_first_device=False,
    busy_error_keeps_lock=True,
    accept_payment_method_alias=False,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DOCUMENTED, BIFROST_0_0_19)}


def get_profile(name: str, **overrides: bool) -> Profile:
    """A profile by name, optionally with rules switched (``sequence_rule=False``)."""
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown mpos-bridge profile {name!r}; use one of {sorted(PROFILES)}"
        ) from None
    return replace(base, **overrides) if overrides else base  # type: ignore[arg-type]


# switch name -> (profile field, value it sets)
RULE_SWITCHES: dict[str, tuple[str, bool]] = {
    "no-sequence-rule": ("sequence_rule", False),
    "no-device-ownership": ("device_ownership", False),
    "card-decline-report": ("report_card_decline", True),
    "no-card-decline-report": ("report_card_decline", False),
}


def parse_profile(spec: str) -> Profile:
    """``documented``, ``bifrost-0.0.19``, optionally ``+card-decline-report`` etc."""
    name, *switches = spec.split("+")
    overrides: dict[str, bool] = {}
    for sw in switches:
        if sw not in RULE_SWITCHES:
            raise ValueError(f"unknown rule switch {sw!r}; use one of {sorted(RULE_SWITCHES)}")
        field_name, value = RULE_SWITCHES[sw]
        overrides[field_name] = value
    return get_profile(name, **overrides)
