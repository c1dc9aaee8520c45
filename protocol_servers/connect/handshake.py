"""Who may open a socket: the query string of paymentsense-connect.md §2.1.

``check(query, path, accounts)`` returns the refusal ``(status, {"userMessage": …})``
of DECISIONS.md (401 for a wrong or missing token, 400 for an unknown api-version or a
missing id), or the accepted :class:`Session` settings. Sans-I/O: a dict in, a value
out, so the same rule serves the real WebSocket port and the in-memory links.

Choices where the note is silent: a missing ``api-version`` is v0, as a public client
library defaults to it and a third-party client says an unversioned socket gets v0
(§2.1, §12); v1 needs both partner ids (they were introduced in v1), v0 does not ask
for them; ``final-pos-receipt-request`` is a flag present or absent, any value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PATHS = ("/pac", "/pat")
VERSIONS = ("v1", "v0")


@dataclass(frozen=True)
class Accepted:
    integration: str  # "pac" or "pat"
    version: str  # "v1" or "v0"
    software_house_id: str
    installer_id: str
    final_receipt: bool


Refusal = tuple[int, dict[str, Any]]


def check(path: str, query: Mapping[str, str], tokens: tuple[str, ...]) -> Accepted | Refusal:
    def refuse(status: int, why: str) -> Refusal:
        return status, {"userMessage": why}

    if path.lower() not in PATHS:
        return refuse(400, f"unknown integration type {path!r}: use /pac or /pat")
    token = query.get("token")
    if not token or token not in tokens:
        return refuse(401, "missing or wrong API key (token)")
    version = query.get("api-version", "v0")
    if version not in VERSIONS:
        return refuse(400, f"api-version {version!r} is not supported: use v1 or v0")
    shid, inst = query.get("software-house-id", ""), query.get("installer-id", "")
    if version == "v1" and not (shid and inst):
        missing = [n for n, v in (("software-house-id", shid), ("installer-id", inst)) if not v]
        return refuse(400, "missing " + " and ".join(missing))
    return Accepted(path.lower().lstrip("/"), version, shid, inst,
                    "final-pos-receipt-request" in query)
