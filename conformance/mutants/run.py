"""Run mutants: each worker owns a copy of the tree, mutates one file, runs the cases
that executed the mutated line in the clean run (quickest first, stopping at the first
that fails).

A mutant is run in a private copy so that two workers never see each other's edits and
the developer's checkout is never touched. The mutated module's cached bytecode is
removed before each run and none is written, so a run always imports the mutant.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.mutants.cover import StageCoverage
from conformance.mutants.plan import Mutation
from conformance.mutants.select import COVER, INCLUDE, SELECT

IGNORED = shutil.ignore_patterns(".git", ".nox", "reports", ".cache", "mutants-work",
                                 ".mypy_cache", ".ruff_cache", "*.egg-info")


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | timeout | error (the run itself failed: not counted)
    stage: int  # the stage that killed it (-1 when none did)
    seconds: float
    cases: int = -1  # how many cases were chosen to judge it (-1: a whole stage)


def copy_tree(root: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root, dest, ignore=IGNORED, symlinks=True)
    return dest


def stage_command(stage: tuple[str, ...], reports: Path) -> list[str]:
    return [sys.executable, "-m", "conformance", *stage, "-x", "-q",
            "-p", "no:cacheprovider", "-p", "conformance.mutants.select",
            "--reports", str(reports)]


def narrowed(stage: tuple[str, ...], cases: list[str]) -> tuple[str, ...]:
    """The stage's options with its paths replaced by the files of the chosen cases, so
    that only those modules are collected."""
    options = [a for a in stage if not _is_path(a)]
    files = sorted({c.split("::", 1)[0] for c in cases})
    return (*options, *files)


def _is_path(arg: str) -> bool:
    """A test file or node id among a stage's arguments (option values are not)."""
    return not arg.startswith("-") and (arg.endswith(".py") or "::" in arg)


# pytest's exit codes: 1 some case failed (the mutant is killed); 2 interrupted, as by a
# collection error when the mutated module cannot even be imported, and 3 an internal
# error, are kills too. 4 (usage) and 5 (nothing collected) are faults of the run itself.
HARNESS_FAULTS = (4, 5)


def run_stage(tree: Path, stage: tuple[str, ...], timeout: float,
              extra_env: dict[str, str] | None = None) -> tuple[int | None, float]:
    """The exit code of one stage in ``tree`` (None on timeout) and its duration."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
    env.pop("PYTEST_XDIST_WORKER", None)
    started = time.monotonic()
    try:
        done = subprocess.run(stage_command(stage, tree / "reports"), cwd=tree, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started
    return done.returncode, time.monotonic() - started


def _drop_bytecode(path: Path) -> None:
    try:
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
    except (NotImplementedError, ValueError):
        pass


@dataclass(frozen=True)
class Step:
    """One stage of a mutant's run: the cases chosen (quickest first), or the whole
    stage when ``cases`` is None."""

    stage: tuple[str, ...]
    cases: tuple[str, ...] | None
    timeout: float


def run_mutant(tree: Path, mutation: Mutation, steps: list[Step]) -> Outcome:
    target = tree / mutation.mutant.file
    original = target.read_text(encoding="utf-8")
    started = time.monotonic()
    if all(s.cases == () for s in steps):
        # no case of any stage runs the line: nothing can judge the mutant
        return Outcome(mutation, "survived", -1, 0.0, cases=0)
    ran = 0
    try:
        target.write_text(mutation.source, encoding="utf-8")
        _drop_bytecode(target)
        for i, step in enumerate(steps):
            if step.cases == ():
                continue
            if step.cases is None:
                code, _ = run_stage(tree, step.stage, step.timeout)
                ran = -1
            else:
                chosen = tree / ".mutants-select"
                chosen.write_text("\n".join(step.cases), encoding="utf-8")
                code, _ = run_stage(tree, narrowed(step.stage, list(step.cases)),
                                    step.timeout, {SELECT: str(chosen)})
                ran = ran + len(step.cases) if ran >= 0 else ran
            if code is None:
                return Outcome(mutation, "timeout", i, time.monotonic() - started, ran)
            if code in HARNESS_FAULTS:
                return Outcome(mutation, "error", i, time.monotonic() - started, ran)
            if code != 0:
                return Outcome(mutation, "killed", i, time.monotonic() - started, ran)
        return Outcome(mutation, "survived", -1, time.monotonic() - started, ran)
    finally:
        target.write_text(original, encoding="utf-8")
        _drop_bytecode(target)


def run_all(trees: list[Path], jobs: list[tuple[Mutation, list[Step]]],
            report: Callable[[Outcome], None]) -> list[Outcome]:
    """Run every job, one worker per private tree; ``report`` sees each outcome."""
    todo: queue.Queue[tuple[Mutation, list[Step]]] = queue.Queue()
    for job in jobs:
        todo.put(job)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def worker(tree: Path) -> None:
        while True:
            try:
                mutation, steps = todo.get_nowait()
            except queue.Empty:
                return
            outcome = run_mutant(tree, mutation, steps)
            with lock:
                outcomes.append(outcome)
                report(outcome)

    _in_threads(worker, trees)
    return outcomes


def _in_threads(target: Callable[[Path], None], trees: list[Path]) -> None:
    threads = [threading.Thread(target=target, args=(t,)) for t in trees]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def prepare(root: Path, work: Path, workers: int) -> list[Path]:
    """One private copy of the tree per worker, taken before anything runs, so the
    checkout can be edited while a long run goes on."""
    return [copy_tree(root, work / f"w{n}") for n in range(max(1, workers))]


def baseline(trees: list[Path], stages: list[tuple[str, ...]], measured: list[str],
             out: Path) -> dict[tuple[str, ...], StageCoverage]:
    """Each stage run once unmutated (spread over the trees) under Coverage.py: it must
    pass; it records which case ran which line of ``measured`` (paths relative to the
    tree) and how long each case took."""
    todo: queue.Queue[tuple[int, tuple[str, ...]]] = queue.Queue()
    for n, stage in enumerate(stages):
        todo.put((n, stage))
    found: dict[tuple[str, ...], StageCoverage] = {}
    failed: list[str] = []

    def worker(tree: Path) -> None:
        while True:
            try:
                n, stage = todo.get_nowait()
            except queue.Empty:
                return
            where = out / f"stage{n}"
            include = os.pathsep.join(str(tree / m) for m in measured)
            code, _took = run_stage(tree, stage, timeout=3600,
                                    extra_env={COVER: str(where), INCLUDE: include})
            if code != 0:
                failed.append(f"{' '.join(stage)} (exit {code})")
                continue
            found[stage] = StageCoverage.load(where, tree)

    _in_threads(worker, trees)
    if failed:
        raise SystemExit("mutants: the unmutated tree fails " + "; ".join(failed)
                         + ": fix that first")
    return found
