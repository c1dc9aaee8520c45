"""``cardloop fault``: add, list and remove faults on a running server's ports.

Like Toxiproxy's CLI, against the control API a ``cardloop serve`` prints: a fault is a
primitive of :mod:`simulator.faults` (``latency``, ``drop``, ``corrupt``, ``stall``,
``disconnect``, ``duplicate``, ``split``) on a port pattern, or an entry of the fault
catalogue (``--from transport.latency``), which this command turns into its primitive
and parameters. The server names each fault and writes its coming and going to the
transcript::

    cardloop fault add latency --port 'mpos*' --param seconds=0.5 --control URL
    cardloop fault add --from transport.half_open --port 'mpos*' --control URL
    cardloop fault list --control URL
    cardloop fault remove latency-1 --control URL

``--control`` defaults to ``$CARDLOOP_CONTROL``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

KINDS = ("latency", "drop", "corrupt", "stall", "disconnect", "duplicate", "split")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fault",
        help="add, list and remove faults on a running server's ports (like Toxiproxy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB")

    def control(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--control", default=os.environ.get("CARDLOOP_CONTROL"),
                            metavar="URL", help="control API of the running server, as its "
                            "banner prints it (default: $CARDLOOP_CONTROL)")

    add = verbs.add_parser("add", help="add a fault now",
                           description="Add a named fault to the running server's ports.")
    add.add_argument("kind", nargs="?", choices=KINDS,
                     help="the primitive (or give --from)")
    add.add_argument("--from", dest="entry", metavar="ENTRY",
                     help="a port fault of the catalogue, e.g. transport.latency, "
                     "serial.noise (see conformance/faults_catalogue.toml)")
    add.add_argument("--port", default="*", metavar="PATTERN",
                     help="port name or glob, e.g. 'mpos*', 'pinpad0', 'p3-tcp*' (default *: "
                     "every port; 'cardloop fault list' shows the names seen)")
    add.add_argument("--direction", choices=("tx", "rx", "*"), default=None,
                     help="only bytes this port sends (tx) or receives (rx) (default both, "
                     "or the catalogue entry's)")
    add.add_argument("--name", default=None, help="the fault's name (default <kind>-<n>)")
    add.add_argument("--for", dest="for_s", type=float, default=None, metavar="SECONDS",
                     help="remove it by itself after this many simulated seconds")
    add.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a field of the primitive, e.g. seconds=0.5, probability=0.2, "
                     "on=0,1 (repeatable; values are JSON where they parse)")
    control(add)
    lst = verbs.add_parser("list", help="the faults active now, and the ports seen",
                           description="List the faults added at runtime.")
    control(lst)
    rm = verbs.add_parser("remove", help="remove one fault by name",
                          description="Remove a fault added at runtime.")
    rm.add_argument("name", help="the name 'cardloop fault add' printed")
    control(rm)
    clear = verbs.add_parser("clear", help="remove every fault added at runtime",
                             description="Remove every fault added at runtime.")
    control(clear)
    p.set_defaults(func=run, fault_parser=p)


def _value(text: str) -> Any:
    if "," in text and not text.startswith(("[", "{", '"')):
        return [_value(part) for part in text.split(",")]
    try:
        return json.loads(text)
    except ValueError:
        return text


def fault_params(args: argparse.Namespace) -> dict[str, Any]:
    """The control API's ``fault`` parameters for ``cardloop fault add``."""
    from simulator.cli import CliError

    params: dict[str, Any] = {}
    kind = args.kind
    if args.entry:
        from conformance.faults import load_catalogue

        try:
            spec = load_catalogue()[args.entry]
        except KeyError:
            raise CliError(f"no fault {args.entry!r} in the catalogue") from None
        if spec.kind != "port" or spec.primitive is None:
            raise CliError(f"{args.entry} is a {spec.kind} fault, not one on a port; "
                           "port faults: " + ", ".join(
                               s.id for s in load_catalogue().of_kind("port")))
        kind = spec.primitive
        params.update(spec.params)
        params["direction"] = spec.direction
        params["name"] = args.entry
    if kind is None:
        raise CliError("name a kind (latency, drop, corrupt, stall, disconnect, ...) or --from")
    params["kind"] = kind
    params["port"] = args.port
    if args.direction is not None:
        params["direction"] = args.direction
    if args.name:
        params["name"] = args.name
    if args.for_s is not None:
        params["for_s"] = args.for_s
    for item in args.param:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param wants KEY=VALUE, not {item!r}")
        params[key] = _value(text)
    return params


def run(args: argparse.Namespace) -> int:
    from simulator.cli import CliError
    from simulator.control import ControlError
    from simulator.ports.control_api import ControlClient

    if args.verb is None:
        args.fault_parser.print_help()
        return 2
    if not args.control:
        raise CliError("--control URL is needed (the control API line of 'cardloop serve'), "
                       "or set CARDLOOP_CONTROL")
    try:
        client = ControlClient(args.control)
        if args.verb == "add":
            done = client.scenario("fault", **fault_params(args))
            print(f"added {done['name']}: {done['kind']} on {done['port']} "
                  f"{done['direction']} {json.dumps(done['params'])}")
        elif args.verb == "list":
            _print_listing(client._call("GET", "/faults"))
        elif args.verb == "remove":
            print(f"removed {client.scenario('remove-fault', name=args.name)['removed']}")
        else:
            gone = client.scenario("clear-faults")
            print(f"removed {gone['cleared']}: {', '.join(gone['removed']) or '-'}")
    except ControlError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot reach the control API at {args.control}: "
                       f"{exc.strerror or exc}") from None
    return 0


def _print_listing(answer: dict[str, Any]) -> None:
    faults = answer.get("faults", [])
    if not faults:
        print("no faults")
    for f in faults:
        until = f" until t={f['until']}" if f.get("until") is not None else ""
        print(f"{f['name']}: {f['kind']} on {f['port']} {f['direction']} "
              f"{json.dumps(f['params'])} since t={f['from']}{until}")
    ports = answer.get("ports")
    if ports:
        print("ports seen: " + ", ".join(ports))
