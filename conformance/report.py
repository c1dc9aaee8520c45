"""``python -m conformance.report``: render the Allure HTML report of the last run and
serve it on 127.0.0.1, or build its single-file form.

The Allure page loads its data with scripts, which a browser refuses for a page opened
as a file: ``index.html`` opened from disk shows only a spinner. So the report is
served over HTTP on loopback (the default), or built as one self-contained HTML file
(``--single-file``) that does open from disk.

Allure 3 is a pure Node package, so it comes from the npm registry into a
project-local folder (``.cache/allure`` by default, ignored by git; kept out of
``reports/``, which holds run output only), pinned to :data:`ALLURE_VERSION`; nothing is
installed globally. ``--setup`` does that (and finds Chromium for the browser test) and
says so in one line; ``nox -s report`` runs it before anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ALLURE_VERSION = "3.18.0"


class ReportError(Exception):
    pass


def allure_bin(tools: Path) -> Path:
    return tools / "node_modules" / ".bin" / "allure"


def ensure_allure(tools: Path) -> Path:
    """The allure CLI, installed from npm into ``tools`` when missing."""
    exe = allure_bin(tools)
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise ReportError(
            "npm is needed to install Allure (Debian: 'apt-get install nodejs npm')"
        )
    tools.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--prefix", str(tools), "--no-audit", "--no-fund", "--silent",
         f"allure@{ALLURE_VERSION}"],
        check=True,
    )
    if not exe.exists():
        raise ReportError(f"npm did not install the allure CLI into {tools}")
    return exe


DEFAULT_TOOLS = Path(".cache") / "allure"


def render(reports: Path, tools: Path | None = None, out: Path | None = None,
           single_file: bool = False) -> Path:
    """Render ``reports/allure-results`` into ``reports/allure-report``; returns index.html.

    ``single_file`` builds the form that opens from disk (everything inlined)."""
    results = reports / "allure-results"
    if not results.is_dir() or not any(results.iterdir()):
        raise ReportError(f"no Allure results in {results}: run 'python -m conformance' first")
    exe = ensure_allure(tools if tools is not None else DEFAULT_TOOLS)
    out = out if out is not None else reports / "allure-report"
    name = "cardloop conformance"
    summary = reports / "summary.json"
    if summary.is_file():
        run = json.loads(summary.read_text(encoding="utf-8")).get("run", {})
        name += f" (seed {run.get('seed')}, {run.get('mode')})"
    rc: dict[str, Any] = {"name": name, "output": str(out.resolve())}
    if single_file:
        rc["plugins"] = {"awesome": {"options": {"singleFile": True}}}
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "NO_COLOR": "1"}
    # the configuration is not run output: it lives outside reports/
    with tempfile.TemporaryDirectory(prefix="cardloop-allure-") as tmp:
        config = Path(tmp) / "allurerc.json"
        config.write_text(json.dumps(rc), encoding="utf-8")
        subprocess.run(
            [str(exe), "generate", str(results.resolve()), "--config", str(config),
             "--output", str(out.resolve())],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )
    index = out / "index.html"
    if not index.is_file():
        raise ReportError(f"allure wrote no {index}")
    return index


def chromium() -> str | None:
    """The Chromium the browser test drives, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def setup(tools: Path) -> str:
    """Install Allure if missing and find Chromium; one line saying what is used."""
    had = allure_bin(tools).exists()
    exe = ensure_allure(tools)
    browser = chromium()
    if browser is None:
        raise ReportError("Chromium is needed for the browser test "
                          "(Debian: 'apt-get install chromium')")
    verb = "using" if had else "installed"
    return f"report tools: {verb} Allure {ALLURE_VERSION} at {exe}; Chromium at {browser}"


def serve(directory: Path, pages: dict[str, str], host: str = "127.0.0.1",
          port: int = 0) -> None:
    """Serve ``directory`` over HTTP on loopback until Ctrl-C, printing each of ``pages``
    (label -> path inside ``directory``) as a URL."""
    import functools
    import http.server

    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ReportError("the report is served on loopback only (127.0.0.1 or ::1)")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    try:
        httpd = http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise ReportError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; "
                          "choose another with --port (0 picks a free one)") from None
    bound = httpd.server_address[1]
    for label, path in pages.items():
        print(f"{label}: http://{host}:{bound}/{path}", flush=True)
    print("Ctrl-C to stop", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reports", type=Path, default=Path("reports"),
                   help="reports directory of the run (default reports)")
    p.add_argument("--tools", type=Path, default=None,
                   help="where Allure is installed (default: .cache/allure)")
    p.add_argument("--out", type=Path, default=None,
                   help="where the report goes (default: <reports>/allure-report)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--single-file", action="store_true",
                     help="build one self-contained index.html that opens from disk; "
                     "do not serve")
    how.add_argument("--no-serve", action="store_true",
                     help="only build the report (it then needs a web server to open)")
    how.add_argument("--setup", action="store_true",
                     help="install Allure if missing, find Chromium, print one line; "
                     "build nothing")
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 to serve on (default: any free one)")
    args = p.parse_args(argv)
    tools = args.tools if args.tools is not None else DEFAULT_TOOLS
    try:
        if args.setup:
            print(setup(tools), flush=True)
            return 0
        index = render(args.reports, tools, args.out, single_file=args.single_file)
        if args.single_file:
            print(f"Allure report (one file, opens from disk): {index}")
            print(f"conformance matrix: {args.reports / 'matrix.html'}")
            return 0
        if args.no_serve:
            print(f"Allure report: {index} (serve it: opened as a file it shows a spinner)")
            print(f"conformance matrix: {args.reports / 'matrix.html'}")
            return 0
        if index.parent.parent.resolve() == args.reports.resolve():
            serve(args.reports, {"Allure report": f"{index.parent.name}/index.html",
                                 "conformance matrix": "matrix.html"}, port=args.port)
        else:
            serve(index.parent, {"Allure report": "index.html"}, port=args.port)
    except ReportError as exc:
        print(f"conformance.report: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"conformance.report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
