"""Command-line options of the conformance plugin and helpers to read them.

The plugin is loaded in every pytest run of a project that installs cardloop, so
every option lives in one ``cardloop`` group and reads through :func:`get_options`;
protocol conftests never touch ``config.getoption`` names directly.

Roles (see ARCHITECTURE.md):

* ``--target NAME=URL`` (repeatable): a server under test; the suite plays the POS.
* ``--serial PATH --baud N``: a device under test; the suite plays the host.
* ``--serve NAME``: a client under test; a reference server waits for the vendor's POS.

Without any of them every case runs against the reference implementation in
virtual mode.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import pytest

DEFAULT_SEED = 1
# Hypothesis examples per property case: 200 keep `nox -s conformance` within five
# minutes on a two-core machine (the state machines take most of it)
DEFAULT_EXAMPLES = 200


def _target(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not name.strip() or not url.strip():
        raise argparse.ArgumentTypeError(f"--target wants NAME=URL, got {value!r}")
    return name.strip(), url.strip()


def _positive_float(value: str) -> float:
    f = float(value)
    if f <= 0:
        raise argparse.ArgumentTypeError("--factor must be positive")
    return f


def _positive_int(value: str) -> int:
    n = int(value)
    if n <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return n


def _shard(value: str) -> tuple[int, int]:
    index, sep, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"--shard wants I/N with 1 <= I <= N, got {value!r}")
    return i, n


def _add(group: Any, names: tuple[str, ...], **kwargs: Any) -> None:
    """Add an option; if another plugin owns the short name, keep the prefixed one.

    ``--seed`` in particular is popular among pytest plugins; ``--cardloop-seed``
    always works.
    """
    try:
        group.addoption(*names, **kwargs)
    except (ValueError, argparse.ArgumentError):
        group.addoption(*[n for n in names if n.startswith("--cardloop-")], **kwargs)


def add_options(parser: pytest.Parser) -> None:
    g = parser.getgroup("cardloop", "cardloop conformance suite")
    _add(g, ("--target", "--cardloop-target"), dest="cardloop_target", action="append",
         type=_target, default=[], metavar="NAME=URL",
         help="server under test for protocol NAME (the suite plays the POS); repeatable")
    _add(g, ("--serial", "--cardloop-serial"), dest="cardloop_serial", default=None,
         metavar="PATH", help="serial device under test (the suite plays the host)")
    _add(g, ("--baud", "--cardloop-baud"), dest="cardloop_baud", type=_positive_int,
         default=None, metavar="N", help="baud rate for --serial")
    _add(g, ("--serve", "--cardloop-serve"), dest="cardloop_serve", default=None,
         metavar="NAME", help="client under test: serve reference server NAME with virtual "
         "devices and a control API, and wait for the vendor's POS")
    _add(g, ("--role", "--cardloop-role"), dest="cardloop_role", default=None,
         choices=("server", "client"), help="--serve: the reference's role where it has "
         "both (client: it dials the POS given with --pos)")
    _add(g, ("--pos", "--cardloop-pos"), dest="cardloop_pos", default=None, metavar="URL",
         help="--serve --role client: the POS's server the reference dials")
    _add(g, ("--control", "--cardloop-control"), dest="cardloop_control", default=None,
         metavar="URL", help="control API of the target (as --serve prints it): lets cases "
         "choose cards and cardholder behaviour on a served target")
    _add(g, ("--seed", "--cardloop-seed"), dest="cardloop_seed", type=int,
         default=DEFAULT_SEED, metavar="N", help="world seed (default %(default)s)")
    _add(g, ("--mode", "--cardloop-mode"), dest="cardloop_mode",
         choices=("virtual", "realtime"), default=None,
         help="clock mode (default: virtual, or realtime when a target/serial is given)")
    _add(g, ("--factor", "--cardloop-factor"), dest="cardloop_factor", type=_positive_float,
         default=1.0, metavar="F", help="realtime: wall seconds per simulated second")
    # pytest owns --strict (ini 'strict'); it counts as ours too (see get_options), and
    # ``python -m conformance --strict`` passes --cardloop-strict instead
    _add(g, ("--cardloop-strict",), dest="cardloop_strict", action="store_true",
         default=False, help="non-strict verdicts count as failures (also pytest's --strict)")
    _add(g, ("--profile", "--cardloop-profile"), dest="cardloop_profile", default=None,
         metavar="NAME", help="server profile (e.g. 'documented', 'bifrost-0.0.19')")
    _add(g, ("--protocol", "--cardloop-protocol"), dest="cardloop_protocol",
         action="append", default=[], metavar="NAME",
         help="run only the cases of this protocol; repeatable")
    _add(g, ("--case", "--cardloop-case"), dest="cardloop_case", action="append", default=[],
         metavar="ID", help="run only the case(s) with this id; globs allowed "
         "('abecs/4.2/1', 'mpos/2.6/*', 'p3/*'); repeatable")
    _add(g, ("--list-cases", "--cardloop-list-cases"), dest="cardloop_list_cases",
         action="store_true", default=False,
         help="print the id, section and title of every selected case and exit")
    _add(g, ("--examples", "--cardloop-examples"), dest="cardloop_examples",
         type=_positive_int, default=None, metavar="N",
         help=f"Hypothesis examples per property case (default {DEFAULT_EXAMPLES})")
    _add(g, ("--shard", "--cardloop-shard"), dest="cardloop_shard", type=_shard,
         default=None, metavar="I/N",
         help="run only share I of N of the cases (stable: a case's share depends on "
         "its id alone), so N machines split the suite; merge the reports with "
         "'python -m conformance merge'")
    _add(g, ("--replay", "--cardloop-replay"), dest="cardloop_replay", default=None,
         metavar="BLOB", help="replay one failing Hypothesis example (printed on failure)")
    g.addoption("--cardloop-reports", dest="cardloop_reports", default=None, metavar="DIR",
                help="write summary.json, the matrix and transcripts under DIR")


@dataclass(frozen=True)
class Options:
    """The plugin's options, parsed once per run."""

    targets: dict[str, str] = field(default_factory=dict)
    serial: str | None = None
    baud: int | None = None
    serve: str | None = None
    role: str | None = None
    pos: str | None = None
    control: str | None = None
    seed: int = DEFAULT_SEED
    mode: str = "virtual"
    factor: float = 1.0
    strict: bool = False
    profile: str | None = None
    protocols: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    list_cases: bool = False
    examples: int = DEFAULT_EXAMPLES
    replay: str | None = None
    reports: str | None = None
    shard: tuple[int, int] | None = None

    def target(self, name: str) -> str | None:
        """The URL given for protocol ``name`` with ``--target``, if any."""
        return self.targets.get(name)

    @property
    def against_reference(self) -> bool:
        """True when no real target, device or POS is under test."""
        return not self.targets and self.serial is None and self.serve is None


def get_options(config: pytest.Config) -> Options:
    cached = getattr(config, "_cardloop_options", None)
    if isinstance(cached, Options):
        return cached
    opt = config.getoption
    targets = dict(opt("cardloop_target") or [])
    serial = opt("cardloop_serial")
    mode = opt("cardloop_mode")
    if mode is None:
        # a real target or device lives on the wall clock; only a world of our own
        # can run virtual
        mode = "realtime" if (targets or serial or opt("cardloop_serve")) else "virtual"
    options = Options(
        targets=targets,
        serial=serial,
        baud=opt("cardloop_baud"),
        serve=opt("cardloop_serve"),
        role=opt("cardloop_role"),
        pos=opt("cardloop_pos"),
        control=opt("cardloop_control"),
        seed=int(opt("cardloop_seed")),
        mode=mode,
        factor=float(opt("cardloop_factor")),
        strict=bool(opt("cardloop_strict")) or _pytest_strict(config),
        profile=opt("cardloop_profile"),
        protocols=tuple(opt("cardloop_protocol") or ()),
        cases=tuple(opt("cardloop_case") or ()),
        list_cases=bool(opt("cardloop_list_cases")),
        examples=int(opt("cardloop_examples") or DEFAULT_EXAMPLES),
        replay=opt("cardloop_replay"),
        reports=opt("cardloop_reports"),
        shard=opt("cardloop_shard"),
    )
    config._cardloop_options = options  # type: ignore[attr-defined]
    return options


def _pytest_strict(config: pytest.Config) -> bool:
    try:
        return bool(config.getini("strict"))
    except (ValueError, KeyError):  # pytest < 9 has no 'strict' ini
        return False


def control_client(config: pytest.Config) -> Any:
    """A :class:`simulator.ports.control_api.ControlClient` for ``--control``, or None."""
    url = get_options(config).control
    if url is None:
        return None
    from simulator.ports.control_api import ControlClient

    return ControlClient(url)


def target_url(config: pytest.Config, name: str) -> str | None:
    """Shorthand for conftests: the ``--target`` URL for ``name`` or None."""
    return get_options(config).target(name)


def serial_port(config: pytest.Config) -> tuple[str, int | None] | None:
    """``(path, baud)`` when ``--serial`` was given, else None."""
    o = get_options(config)
    return None if o.serial is None else (o.serial, o.baud)
