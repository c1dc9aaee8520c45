"""The ``cardloop`` command.

Each area of the project contributes its subcommands through a module with a
``register(subparsers)`` function that returns nothing and sets ``func`` on its
parsers. Errors a user can cause (missing socat, port in use, bad arguments) are
raised as :class:`CliError` and printed as one line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "simulator.cli_world",
    "virtual_devices.emv.cli",
    "virtual_devices.abecs.cli",
    "protocol_servers.cli",
    "conformance.cli",
)


class CliError(Exception):
    """A problem the user can fix; shown as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


SEED_HELP = ("seed of the world's random source: the same seed and the same inputs "
             "give the same run")


def tcp_port(text: str) -> int:
    """argparse type for a TCP port: 0 (pick a free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535 (0 picks a free one), not {value}")
    return value


def _version() -> str:
    """The installed distribution's version (the source tree's when run from a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cardloop")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardloop",
        description="Card-present payments without hardware: virtual cards, readers and "
        "reference POS protocol servers, and a conformance suite.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print cardloop's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result = func(args)
    except CliError as exc:
        print(f"cardloop: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"cardloop: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    # run the imported module's main, so that this file's classes (CliError) are the
    # ones the subcommands raise, not a second copy made for __main__
    from simulator.cli import main as _main

    raise SystemExit(_main())
