"""``cardloop evidence``: pack a conformance run into a verifiable bundle, or verify one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evidence",
        help="pack a conformance run (reports/) into a verifiable bundle, or verify one",
        description="Pack summary, reports and transcripts of a conformance run with a "
        "SHA-256 manifest, the exact versions, target and seed; or --verify a bundle.",
    )
    p.add_argument("--reports", default="reports", type=Path,
                   help="reports directory of the run (default: %(default)s)")
    p.add_argument("--out", "-o", default=None, type=Path,
                   help="bundle file to write (default: <reports>/evidence.tar.gz)")
    p.add_argument("--verify", metavar="BUNDLE", type=Path, default=None,
                   help="verify BUNDLE against its manifest instead of packing")
    p.set_defaults(func=run)
    register_fault(subparsers)


def register_fault(subparsers: Any) -> None:
    from conformance.fault_command import register as register_fault_command

    register_fault_command(subparsers)


def run(args: argparse.Namespace) -> int:
    from conformance.evidence import EvidenceError, make_bundle, verify_bundle
    from simulator.cli import CliError

    if args.verify is not None:
        if not args.verify.is_file():
            raise CliError(f"no such bundle: {args.verify}")
        result = verify_bundle(args.verify)
        run_info = result.manifest.get("run", {})
        if result.ok:
            versions = result.manifest.get("versions", {})
            print(
                f"OK {args.verify}: {result.checked} files verified; seed "
                f"{run_info.get('seed')}, mode {run_info.get('mode')}, targets "
                f"{run_info.get('targets') or 'reference'}; cardloop "
                f"{versions.get('cardloop')}, python {versions.get('python')}; "
                f"passed={result.manifest.get('passed')}"
            )
            return 0
        print(f"FAILED {args.verify}:")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    out = args.out if args.out is not None else args.reports / "evidence.tar.gz"
    try:
        manifest = make_bundle(args.reports, out)
    except EvidenceError as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {out}: {len(manifest['files'])} files, passed={manifest['passed']}")
    return 0
