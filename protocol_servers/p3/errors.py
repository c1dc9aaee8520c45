"""P3 errors: ``status: ERROR`` with ``error{type, message, developerMessage}``.

The types are the SDK ``ErrorType`` names (payworks-p3.md §9); the user-facing texts live
in ``errors.toml`` so that a vendor profile can change wording without touching code.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

_MESSAGES: dict[str, str] = {
    name: body["message"]
    for name, body in tomllib.loads(
        resources.files(__package__).joinpath("errors.toml").read_text(encoding="utf-8")
    ).items()
}

ERROR_TYPES = frozenset(_MESSAGES)


class P3Error(Exception):
    """A request that gets ``status: ERROR``; ``developer`` says what exactly was wrong."""

    def __init__(self, type_: str, developer: str, message: str | None = None) -> None:
        if type_ not in _MESSAGES:
            raise ValueError(f"unknown P3 error type {type_!r}")
        super().__init__(f"{type_}: {developer}")
        self.type = type_
        self.developer = developer
        # a case the SDK has no text for (a missing login) names itself instead
        self.message = message or _MESSAGES[type_]

    def body(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "developerMessage": self.developer,
        }
