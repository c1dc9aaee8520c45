"""``cardloop pty`` and ``cardloop world-demo`` from a shell: output and errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.realtime
CLI = [sys.executable, "-c", "import sys; from simulator.cli import main; sys.exit(main())"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


def test_socat_missing_names_the_debian_package(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no socat anywhere on PATH
    r = _cli("pty", env=env)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "cardloop: socat is not installed; install the Debian package 'socat' "
        "(sudo apt-get install socat)"
    ]


def test_link_in_use_is_one_line(tmp_path):
    (tmp_path / "host").write_text("busy")
    r = _cli("pty", "--link-dir", str(tmp_path))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "in use" in r.stderr


def test_wrong_number_of_names(tmp_path):
    r = _cli("pty", "a", "b", "c")
    assert r.returncode == 2 and "exactly two link names" in r.stderr


def test_pty_prints_paths_and_cleans_up_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([*CLI, "pty", "--link-dir", str(tmp_path), "pos", "pinpad"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(2)]
    assert lines == [f"pos: {tmp_path / 'pos'}", f"pinpad: {tmp_path / 'pinpad'}"]
    assert os.path.islink(tmp_path / "pos")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    time.sleep(0.1)
    assert not os.path.lexists(tmp_path / "pos") and not os.path.lexists(tmp_path / "pinpad")


def test_world_demo_echoes_on_the_world_clock():
    r = _cli("world-demo", "--probe", "2", "--factor", "0.2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("PING 0") and lines[1].startswith("PING 1")
    assert lines[-1].startswith("events ")
