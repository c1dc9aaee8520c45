"""One record per case run, collected by the plugin and written by the reports."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.registry import CaseInfo, parse_case_id
from conformance.verdict import Verdict


@dataclass
class CaseResult:
    info: CaseInfo
    nodeid: str
    verdict: Verdict = Verdict.PASS
    duration_s: float = 0.0
    notes: list[dict[str, str]] = field(default_factory=list)
    message: str = ""
    transcript: str | None = None  # path relative to the reports directory
    replay: str | None = None  # the one command that replays a failure
    outcome: str = "passed"  # pytest's, for the record

    @property
    def param(self) -> str:
        """The parametrisation id (``[...]`` part of the node id), or ``""``."""
        m = re.search(r"\[(.*)\]$", self.nodeid)
        return m.group(1) if m else ""

    def to_json(self) -> dict[str, Any]:
        info = asdict(self.info)
        info.pop("where", None)
        return {
            "id": self.info.id,
            "protocol": self.info.protocol,
            "section": self.info.section,
            "title": self.info.title,
            "failure_means": self.info.failure,
            "param": self.param,
            "nodeid": self.nodeid,
            "verdict": self.verdict.value,
            "duration_s": round(self.duration_s, 6),
            "notes": self.notes,
            "message": self.message,
            "transcript": self.transcript,
            "replay": self.replay,
        }


    def to_wire(self) -> dict[str, Any]:
        """The record as plain data, for the trip from a pytest-xdist worker."""
        return {**self.to_json(), "outcome": self.outcome}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CaseResult:
        """The record again, from :meth:`to_wire` or from a ``summary.json`` case."""
        _, _, number = parse_case_id(data["id"])
        info = CaseInfo(
            id=data["id"], title=data["title"], section=data["section"],
            failure=data.get("failure_means", ""), protocol=data["protocol"], number=number,
        )
        verdict = Verdict(data["verdict"])
        return cls(
            info=info,
            nodeid=data["nodeid"],
            verdict=verdict,
            duration_s=float(data.get("duration_s", 0.0)),
            notes=list(data.get("notes", [])),
            message=data.get("message", ""),
            transcript=data.get("transcript"),
            replay=data.get("replay"),
            outcome=data.get("outcome", "failed" if verdict is Verdict.FAIL else "passed"),
        )


def safe_name(text: str) -> str:
    """A file name for a case id or node id (``mpos/2.6/3`` -> ``mpos_2.6_3``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:150] or "case"
