"""Evidence bundles: a conformance run a vendor can hand over and anyone can verify.

A bundle is a gzip'd tar with ``manifest.json`` at its root and the run's files
under ``run/`` (``summary.json``, ``matrix.html``, ``junit.xml``, ``transcripts/``,
``allure-results/`` when present). The manifest lists every file with its SHA-256
and size, the exact versions of cardloop, Python and the libraries that decide a
verdict, and the run's target(s), seed, mode and totals (from ``summary.json``).

:func:`verify_bundle` recomputes every digest and checks that the bundle holds
exactly the files listed: a changed, missing or added file is reported. The
manifest is integrity, not authenticity; a vendor who wants the latter signs the
bundle file with their own key.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import tarfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "cardloop-evidence/1"
LIBRARIES = (
    "cardloop", "simpy", "websockets", "pyserial", "cryptography", "pyemv", "psec",
    "jsonschema", "hypothesis", "pytest", "allure-pytest",
)
INCLUDE = ("summary.json", "matrix.html", "junit.xml", "transcripts", "allure-results")


class EvidenceError(Exception):
    """The reports directory cannot be bundled."""


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def source_revision() -> str | None:
    """The git commit of the cardloop checkout in use (an editable install), if any."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(reports: Path) -> list[Path]:
    files: list[Path] = []
    for name in INCLUDE:
        p = reports / name
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
    return files


def build_manifest(reports: Path) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    summary_path = reports / "summary.json"
    if not summary_path.is_file():
        raise EvidenceError(f"{summary_path} not found: run 'python -m conformance' first")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    contents: list[tuple[str, bytes]] = []
    entries = []
    for f in _files(reports):
        rel = "run/" + f.relative_to(reports).as_posix()
        data = f.read_bytes()
        contents.append((rel, data))
        entries.append({"path": rel, "sha256": _sha256(data), "size": len(data)})
    run = summary.get("run", {})
    manifest = {
        "format": FORMAT,
        "versions": versions(),
        "cardloop_revision": source_revision(),
        "run": {
            "seed": run.get("seed"),
            "mode": run.get("mode"),
            "factor": run.get("factor"),
            "strict": run.get("strict"),
            "profile": run.get("profile"),
            "targets": run.get("targets", {}),
            "serial": run.get("serial"),
            "wall_s": run.get("wall_s"),
        },
        "passed": summary.get("passed"),
        "totals": summary.get("totals", {}),
        "files": entries,
    }
    return manifest, contents


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # the same run packs to the same bytes
    tar.addfile(info, io.BytesIO(data))


def make_bundle(reports: Path, out: Path) -> dict[str, Any]:
    """Pack ``reports`` into ``out`` (a .tar.gz); returns the manifest."""
    manifest, contents = build_manifest(reports)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
        for name, data in contents:
            _add(tar, name, data)
    return manifest


@dataclass
class Verification:
    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _safe(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts


def verify_bundle(bundle: Path) -> Verification:
    """Check every file of ``bundle`` against its manifest (nothing is extracted)."""
    result = Verification()
    try:
        tar = tarfile.open(bundle, "r:*")
    except (OSError, tarfile.TarError) as exc:
        result.problems.append(f"not a readable bundle: {exc}")
        return result
    with tar:
        members: dict[str, bytes] = {}
        for m in tar.getmembers():
            if not m.isfile():
                result.problems.append(f"unexpected non-file entry {m.name!r}")
                continue
            if not _safe(m.name):
                result.problems.append(f"unsafe path {m.name!r}")
                continue
            fh = tar.extractfile(m)
            members[m.name] = fh.read() if fh is not None else b""
    raw = members.pop(MANIFEST, None)
    if raw is None:
        result.problems.append("no manifest.json")
        return result
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        result.problems.append(f"manifest.json is not JSON: {exc}")
        return result
    result.manifest = manifest
    if manifest.get("format") != FORMAT:
        result.problems.append(f"unknown format {manifest.get('format')!r}")
    listed = {e["path"]: e for e in manifest.get("files", [])}
    for path, entry in listed.items():
        data = members.get(path)
        if data is None:
            result.problems.append(f"missing {path}")
            continue
        result.checked += 1
        if _sha256(data) != entry.get("sha256") or len(data) != entry.get("size"):
            result.problems.append(f"changed {path} (digest does not match the manifest)")
    for path in sorted(set(members) - set(listed)):
        result.problems.append(f"unlisted {path}")
    summary = members.get("run/summary.json")
    if summary is not None and "run/summary.json" in listed:
        try:
            if json.loads(summary).get("totals") != manifest.get("totals"):
                result.problems.append("manifest totals differ from run/summary.json")
        except ValueError:
            result.problems.append("run/summary.json is not JSON")
    return result
