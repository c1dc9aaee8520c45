"""Shared fixtures of the conformance suite.

``world`` is the one simulated world of a case, seeded from ``--seed`` and clocked by
``--mode``/``--factor``; the plugin attaches its transcript to the case's report.
Device fixtures import their parts lazily, so that loading the plugin never pulls
in the EMV or ABECS code of a project that only runs unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from conformance.options import Options, get_options
from conformance.verdict import VerdictRecorder

DEFAULT_CARD = "visa-chip-pin"
MARKERS = (
    "card(name): the catalogue card the 'card' fixture loads",
    "cardholder(**behaviour): virtual_devices.cardholder.Behaviour for 'cardholder'",
    "customer(**behaviour): virtual_devices.abecs.customer.Behaviour for 'reader'",
    "acquirer(rules=NAME): acquirer rule set for 'acquirer'",
    "reader(**pinpad options): options of the virtual pinpad of 'reader'",
)

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


def _marker(request: pytest.FixtureRequest, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    m = request.node.get_closest_marker(name)
    return (tuple(m.args), dict(m.kwargs)) if m is not None else ((), {})


@pytest.fixture
def card(request: pytest.FixtureRequest, world: World) -> Any:
    """A fresh virtual card from the catalogue; ``@pytest.mark.card("visa-chip-pin")``.

    Its PAN is registered with the world's redactor before anything can log it.
    """
    from virtual_devices.emv.card import load_card

    args, _ = _marker(request, "card")
    name = args[0] if args else DEFAULT_CARD
    c = load_card(name, rng=world.rng(f"card/{name}"))
    world.redactor.add_pan(c.pan)
    return c


@pytest.fixture
def cardholder(request: pytest.FixtureRequest, world: World) -> Any:
    """The human at the terminal; ``@pytest.mark.cardholder(pins=("0000",), ...)`` sets
    :class:`virtual_devices.cardholder.Behaviour` fields."""
    from virtual_devices.cardholder import Behaviour, Cardholder

    _, kwargs = _marker(request, "cardholder")
    pin = kwargs.pop("pin", "1234")
    return Cardholder(world, Behaviour(**kwargs), pin=pin)


@pytest.fixture
def acquirer(request: pytest.FixtureRequest) -> Any:
    """The shared acquirer host; ``@pytest.mark.acquirer(rules="default")``."""
    from virtual_devices.acquirer.host import AcquirerHost

    _, kwargs = _marker(request, "acquirer")
    return AcquirerHost(kwargs.get("rules", "default"))


@dataclass
class SerialReader:
    """The device under test on ``--serial``: only the host side is ours."""

    world: Any
    host: Any
    host_end: Any
    pinpad: None = None


@pytest.fixture
def reader(
    request: pytest.FixtureRequest, world: World, card: Any, cardholder_pinpad: Any,
    cardloop_options: Options,
) -> Iterator[Any]:
    """A host (the suite) talking ABECS to a pinpad.

    Virtual mode: a virtual pinpad on an in-memory serial line, holding ``card``
    (``@pytest.mark.reader(secure=False)`` for a legacy pinpad), as
    :class:`virtual_devices.abecs.rig.Rig`. With ``--serial PATH`` the pinpad is the
    real device on that port and only ``host``/``host_end`` are set.
    """
    if cardloop_options.serial is not None:
        from simulator.ports.pty import open_serial_end
        from virtual_devices.abecs.host import AbecsHost

        end = open_serial_end(
            world, cardloop_options.serial, name="host", baud=cardloop_options.baud
        )
        try:
            yield SerialReader(world, AbecsHost(world, end), end)
        finally:
            end.close()
        return
    from virtual_devices.abecs.rig import make_rig

    _, kwargs = _marker(request, "reader")
    yield make_rig(world=world, cards=[card], behaviour=cardholder_pinpad, **kwargs)


@pytest.fixture
def cardholder_pinpad(request: pytest.FixtureRequest) -> Any:
    """How the customer acts at an ABECS pinpad:
    ``@pytest.mark.customer(wrong_pins=1, cancel_at="pin")``."""
    from virtual_devices.abecs.customer import Behaviour

    _, kwargs = _marker(request, "customer")
    return Behaviour(**kwargs)
