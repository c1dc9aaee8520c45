"""Shared fixtures of the conformance suite.

``world`` is the one simulated world of a case, seeded from ``--seed`` and clocked by
``--mode``/``--factor``; the plugin attaches its transcript to the case's report.
Device fixtures import their parts lazily, so that loading the plugin never pulls
in the EMV or ABECS code of a project that only runs unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from conformance.options import Options, get_options
from conformance.verdict import VerdictRecorder

if TYPE_CHECKING:
    from simulator.transcript import Transcript
    from simulator.world import World


@pytest.fixture
def cardloop_options(request: pytest.FixtureRequest) -> Options:
    """The run's parsed options (targets, seed, mode, profile, ...)."""
    return get_options(request.config)


@pytest.fixture
def world(request: pytest.FixtureRequest, cardloop_options: Options) -> Iterator[World]:
    """A fresh world per case: same seed, same transcript, byte for byte."""
    from conformance.plugin import WORLD
    from simulator.world import World

    w = World(
        seed=cardloop_options.seed,
        mode=cardloop_options.mode,  # type: ignore[arg-type]
        factor=cardloop_options.factor,
    )
    request.node.stash[WORLD] = w
    yield w
    w.transcript.close()


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> VerdictRecorder:
    """Where a case says non-strict / informational / unimplemented."""
    from conformance.plugin import recorder_for

    return recorder_for(request.node)


@pytest.fixture
def case_transcript(world: World) -> Transcript:
    """The case's transcript (the world's); attached to the report automatically."""
    return world.transcript


def _optional(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            pytest.skip(f"{module} is not available in this installation")
        raise
