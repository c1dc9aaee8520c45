"""Sessions: tests, conformance, lint, bench, demo, report, soak.

Every session installs what it needs, Python packages and system packages alike,
so that a fresh machine with only Python and pip can run any of them.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["tests", "conformance"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs under, in a fresh virtualenv per session


def ensure_system_packages(session: nox.Session, *packages: tuple[str, str]) -> None:
    """Install Debian packages whose command is missing: (command, package) pairs."""
    missing = [pkg for cmd, pkg in packages if shutil.which(cmd) is None]
    if not missing:
        return
    is_root = os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0
    if is_root and shutil.which("apt-get"):
        session.run("apt-get", "update", "-qq", external=True)
        session.run(
            "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing,
            external=True, env={"DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    session.error(
        "missing system package(s): " + ", ".join(missing)
        + f" (install them, e.g. 'sudo apt-get install {' '.join(missing)}')"
    )


def install_project(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests of the parts.

    The browser test of the reports needs Chromium and Allure: they are set up here,
    before pytest starts (one line says what is used), so that no test installs anything
    and none of them skips for want of a tool.
    """
    ensure_system_packages(session, ("socat", "socat"), ("node", "nodejs"), ("npm", "npm"),
                           ("chromium", "chromium"))
    install_project(session)
    session.run("python", "-m", "conformance.report", "--setup")
    session.run("pytest", "tests", *session.posargs)


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """The conformance suite in virtual mode; writes reports/."""
    ensure_system_packages(session, ("socat", "socat"))
    install_project(session)
    session.run("python", "-m", "conformance", *session.posargs)


@nox.session(python=PYTHON)
def merge(session: nox.Session) -> None:
    """Join the reports of shard runs: ``nox -s merge -- DIR1 DIR2 --reports reports``."""
    install_project(session)
    session.run("python", "-m", "conformance", "merge", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy."""
    install_project(session)
    session.run("ruff", "check", ".")
    session.run("mypy", "simulator", "virtual_devices", "protocol_servers", "conformance")


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """How many plausible server bugs the conformance suite catches, per package.

    Sampled mode by default (a seeded sample of mutants per package, about 20 minutes on
    two cores); ``nox -s mutants -- --full`` runs every mutant, ``-- --package p3`` one
    package. Prints the kill rate table, the equivalent mutants and every survivor.
    """
    ensure_system_packages(session, ("socat", "socat"))
    install_project(session)
    session.run("python", "-m", "conformance.mutants", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every benchmark in bench/, then one table of every figure beside its goal.

    ``nox -s bench -- --only mpos,abecs`` runs some; goals are in bench/goals.toml.
    """
    ensure_system_packages(session, ("socat", "socat"))
    install_project(session)
    session.run("python", os.path.join("bench", "_table.py"), *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """A reference server with virtual readers and a full sale, end to end."""
    ensure_system_packages(session, ("socat", "socat"))
    install_project(session)
    session.run("cardloop", "demo", *session.posargs)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """The last conformance run as a person opens it.

    Sets up the browser test's tools first (Chromium from Debian, Allure 3 from npm into
    .cache/allure; one line says what is used), checks the matrix and the Allure report
    in headless Chromium (a screenshot test that fails on the loading spinner), then
    serves the report on 127.0.0.1 until Ctrl-C. ``nox -s report -- --single-file``
    builds the one-file form that opens from disk instead.
    """
    ensure_system_packages(session, ("node", "nodejs"), ("npm", "npm"),
                           ("chromium", "chromium"))
    install_project(session)
    session.run("python", "-m", "conformance.report", "--setup")
    session.run("pytest", "-q", "-p", "pytester", "tests/conformance/test_report_browser.py")
    session.run("python", "-m", "conformance.report", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Per server: 10,000 malformed inputs and 1,000 concurrent POS sessions over loopback;
    prints inputs, answers, wedges, unanswered, ledger mismatches and RSS before/after."""
    ensure_system_packages(session, ("socat", "socat"))
    install_project(session)
    session.run("python", "-m", "conformance.soak", *session.posargs)
