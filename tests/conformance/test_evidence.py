"""Evidence bundles: packed from a real run, verified, and tampering is caught."""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path

import pytest

from conformance import cli
from conformance.evidence import verify_bundle

CASES = """
from conformance import case

@case("demo/1/1", title="ok")
def test_ok(world):
    world.transcript.event("pos", "card 4761739001010010 approved")

@case("demo/2/1", title="bad")
def test_bad(world):
    assert False, "declined"
"""


def _evidence(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["evidence", *argv])
    return int(args.func(args))


@pytest.fixture
def reports(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest("--cardloop-reports=rep", "--junitxml=rep/junit.xml",
                                "--seed", "11")
    assert result.ret == 1
    return pytester.path / "rep"


def _rewrite(bundle: Path, out: Path, change: dict[str, bytes | None]) -> None:
    with tarfile.open(bundle) as src, tarfile.open(out, "w:gz") as dst:
        names = []
        for m in src.getmembers():
            names.append(m.name)
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name in change:
                new = change[m.name]
                if new is None:
                    continue
                data = new
            info = tarfile.TarInfo(m.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
        for name, data in change.items():
            if name not in names and data is not None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))


def test_bundle_holds_run_versions_and_verifies(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "ev.tar.gz"
    assert _evidence(["--reports", str(reports), "--out", str(bundle)]) == 0
    with tarfile.open(bundle) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"run/summary.json", "run/matrix.html", "run/junit.xml",
            "run/transcripts/demo_1_1.jsonl"} <= names
    assert manifest["run"]["seed"] == 11 and manifest["run"]["mode"] == "virtual"
    assert manifest["passed"] is False
    assert manifest["totals"]["by_verdict"]["fail"] == 1
    assert manifest["versions"]["cardloop"] == "0.1.0" and manifest["versions"]["python"]
    assert "cardloop_revision" in manifest
    assert _evidence(["--verify", str(bundle)]) == 0
    assert "OK" in capsys.readouterr().out
    # the same run packs to the same file list and digests
    again = tmp_path / "again.tar.gz"
    _evidence(["--reports", str(reports), "--out", str(again)])
    assert verify_bundle(again).manifest["files"] == manifest["files"]


def test_tampered_bundles_fail_verification(reports: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "ev.tar.gz"
    _evidence(["--reports", str(reports), "--out", str(bundle)])
    changed = tmp_path / "changed.tar.gz"
    _rewrite(bundle, changed, {"run/transcripts/demo_2_1.jsonl": b'{"label":"forged"}\n'})
    result = verify_bundle(changed)
    assert not result.ok
    assert result.problems == ["changed run/transcripts/demo_2_1.jsonl "
                               "(digest does not match the manifest)"]
    assert _evidence(["--verify", str(changed)]) == 1

    removed = tmp_path / "removed.tar.gz"
    _rewrite(bundle, removed, {"run/junit.xml": None})
    assert verify_bundle(removed).problems == ["missing run/junit.xml"]

    added = tmp_path / "added.tar.gz"
    _rewrite(bundle, added, {"run/extra.txt": b"x"})
    assert verify_bundle(added).problems == ["unlisted run/extra.txt"]

    # a "passing" summary swapped in is caught by its digest
    forged = json.loads((reports / "summary.json").read_text())
    forged["passed"] = True
    swapped = tmp_path / "swapped.tar.gz"
    _rewrite(bundle, swapped, {"run/summary.json": json.dumps(forged).encode()})
    assert any("run/summary.json" in p for p in verify_bundle(swapped).problems)


def test_no_run_no_bundle(tmp_path: Path) -> None:
    from simulator.cli import CliError

    with pytest.raises(CliError, match="summary.json"):
        _evidence(["--reports", str(tmp_path), "--out", str(tmp_path / "x.tar.gz")])
