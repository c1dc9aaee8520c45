"""pytest plugin of the mutation runs: record which case runs which line, run only those.

Loaded with ``-p conformance.mutants.select`` by the runner, never by an ordinary suite
run. Two switches, both environment variables so that the conformance command line
stays the one a person types:

``CARDLOOP_MUTANTS_COVER=DIR``
    the clean (baseline) run: Coverage.py measures the mutated files with one dynamic
    context per case (its node id), and each case's duration goes to
    ``DIR/durations.json``. A mutant then runs only the cases that executed its line.
``CARDLOOP_MUTANTS_SELECT=FILE``
    a mutant's run: only the node ids listed in FILE run, in FILE's order (the runner
    puts the quickest first, and ``-x`` stops at the first failing case).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

COVER = "CARDLOOP_MUTANTS_COVER"
SELECT = "CARDLOOP_MUTANTS_SELECT"
INCLUDE = "CARDLOOP_MUTANTS_INCLUDE"  # os.pathsep-separated files to measure

_cov: Any = None
_durations: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    global _cov
    out = os.environ.get(COVER)
    if not out:
        return
    import coverage

    Path(out).mkdir(parents=True, exist_ok=True)
    include = [p for p in os.environ.get(INCLUDE, "").split(os.pathsep) if p]
    _cov = coverage.Coverage(data_file=str(Path(out) / "coverage"), include=include or None,
                             config_file=False, branch=False)
    _cov.start()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Generator[None, None, None]:
    """One context per case, over its setup, call and teardown."""
    started = time.monotonic()
    if _cov is not None:
        _cov.switch_context(item.nodeid)
    yield
    if _cov is not None:
        _cov.switch_context("")
        _durations[item.nodeid] = time.monotonic() - started


def pytest_unconfigure(config: pytest.Config) -> None:
    global _cov
    if _cov is None:
        return
    _cov.stop()
    _cov.save()
    out = Path(os.environ[COVER])
    (out / "durations.json").write_text(json.dumps(_durations))
    _cov = None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    chosen = os.environ.get(SELECT)
    if not chosen:
        return
    order = {nodeid: i for i, nodeid in
             enumerate(Path(chosen).read_text(encoding="utf-8").splitlines())}
    keep = sorted((i for i in items if i.nodeid in order), key=lambda i: order[i.nodeid])
    if len(keep) != len(items):
        kept = set(map(id, keep))
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
    items[:] = keep
