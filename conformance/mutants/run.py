"""Run mutants: each worker owns a copy of the tree, mutates one file, runs the cases.

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

from conformance.mutants.plan import Mutation

IGNORED = shutil.ignore_patterns(".git", ".nox", "reports", ".cache", "mutants-work",
                                 ".mypy_cache", ".ruff_cache", "*.egg-info")


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | timeout
    stage: int  # the stage that killed it (-1 when none did)
    seconds: float


def copy_tree(root: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root, dest, ignore=IGNORED, symlinks=True)
    return dest


def stage_command(stage: tuple[str, ...], reports: Path) -> list[str]:
    return [sys.executable, "-m", "conformance", *stage, "-x", "-q",
            "-p", "no:cacheprovider", "--reports", str(reports)]


def run_stage(tree: Path, stage: tuple[str, ...], timeout: float) -> tuple[int | None, float]:
    """The exit code of one stage in ``tree`` (None on timeout) and its duration."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
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


def run_mutant(tree: Path, mutation: Mutation, stages: tuple[tuple[str, ...], ...],
               timeouts: list[float]) -> Outcome:
    target = tree / mutation.mutant.file
    original = target.read_text(encoding="utf-8")
    started = time.monotonic()
    try:
        target.write_text(mutation.source, encoding="utf-8")
        _drop_bytecode(target)
        for i, stage in enumerate(stages):
            code, _ = run_stage(tree, stage, timeouts[i])
            if code is None:
                return Outcome(mutation, "timeout", i, time.monotonic() - started)
            if code != 0:
                return Outcome(mutation, "killed", i, time.monotonic() - started)
        return Outcome(mutation, "survived", -1, time.monotonic() - started)
    finally:
        target.write_text(original, encoding="utf-8")
        _drop_bytecode(target)


def run_all(trees: list[Path], jobs: list[tuple[Mutation, tuple[tuple[str, ...], ...]]],
            timeouts: dict[tuple[str, ...], float],
            report: Callable[[Outcome], None]) -> list[Outcome]:
    """Run every job, one worker per private tree; ``report`` sees each outcome."""
    todo: queue.Queue[tuple[Mutation, tuple[tuple[str, ...], ...]]] = queue.Queue()
    for job in jobs:
        todo.put(job)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def worker(tree: Path) -> None:
        while True:
            try:
                mutation, stages = todo.get_nowait()
            except queue.Empty:
                return
            outcome = run_mutant(tree, mutation, stages, [timeouts[s] for s in stages])
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


def baseline(trees: list[Path], stages: list[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    """Each stage run once unmutated (spread over the trees): it must pass, and its time
    sets its timeout."""
    todo: queue.Queue[tuple[str, ...]] = queue.Queue()
    for stage in stages:
        todo.put(stage)
    seconds: dict[tuple[str, ...], float] = {}
    failed: list[str] = []

    def worker(tree: Path) -> None:
        while True:
            try:
                stage = todo.get_nowait()
            except queue.Empty:
                return
            code, took = run_stage(tree, stage, timeout=1800)
            if code != 0:
                failed.append(f"{' '.join(stage)} (exit {code})")
            seconds[stage] = took

    _in_threads(worker, trees)
    if failed:
        raise SystemExit("mutants: the unmutated tree fails " + "; ".join(failed)
                         + ": fix that first")
    # a mutant that hangs is killed; three times the clean run leaves room for load
    return {stage: 3 * took + 30 for stage, took in seconds.items()}
