"""Real pty pairs: a device answering in realtime mode, and socat never left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from simulator.pacing import Pacing
from simulator.ports.pty import LinkInUse, PtyPair, open_serial_end
from simulator.world import World

pytestmark = pytest.mark.realtime


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


async def _echo_run(factor: float, think: float) -> tuple[bytes, float, float]:
    w = World(seed=1, mode="realtime", factor=factor)
    with PtyPair() as pair:
        device = open_serial_end(w, pair.device_path, name="device")
        host = open_serial_end(w, pair.host_path, name="host")

        def echo():
            while True:
                data = yield device.read()
                if not data:
                    return
                yield w.timeout(think)
                device.write(data.upper())

        def client():
            got = b""
            host.write(b"status?")
            while len(got) < 7:
                got += yield host.read()
            host.close()
            device.close()
            return got

        w.process(echo())
        t0 = time.monotonic()
        got = await asyncio.wait_for(w.run_realtime(until=w.process(client())), 30)
        return got, w.now, time.monotonic() - t0


@pytest.mark.parametrize("factor", [1.0, 0.05])
def test_device_answers_over_a_real_pty(factor):
    got, sim, wall = asyncio.run(_echo_run(factor, think=0.5))
    assert got == b"STATUS?"
    assert sim >= 0.5  # the device's think time passed on the world's clock
    assert wall >= 0.5 * factor  # and on the wall clock, scaled by the factor


def test_paced_serial_end_keeps_order_over_a_pty():
    async def run() -> bytes:
        w = World(seed=1, mode="realtime", factor=1.0)
        with PtyPair() as pair:
            device = open_serial_end(w, pair.device_path, name="device",
                                     pacing=Pacing(115200, "8N1"))
            host = open_serial_end(w, pair.host_path, name="host")
            payload = bytes(range(256)) * 8

            def client():
                got = b""
                device.write(payload)
                while len(got) < len(payload):
                    got += yield host.read()
                return got

            got = await asyncio.wait_for(w.run_realtime(until=w.process(client())), 30)
            assert w.now >= Pacing(115200).duration(len(payload)) * 0.99
            host.close()
            device.close()
            return got

    assert asyncio.run(run()) == bytes(range(256)) * 8


def test_pair_stops_socat_and_removes_links(tmp_path):
    with PtyPair(link_dir=tmp_path, names=("pos", "pinpad")) as pair:
        pid = pair.pid
        assert pid is not None and _alive(pid)
        assert Path(pair.host_path).is_symlink() and Path(pair.device_path).is_symlink()
        assert pair.host_path == str(tmp_path / "pos")
    assert _wait_gone(pid)
    assert not os.path.lexists(tmp_path / "pos") and not os.path.lexists(tmp_path / "pinpad")


def test_temporary_link_dir_is_removed():
    with PtyPair() as pair:
        d = Path(pair.host_path).parent
        assert d.is_dir()
    assert not d.exists()


def test_link_in_use_is_refused(tmp_path):
    (tmp_path / "host").write_text("someone else's file")
    with pytest.raises(LinkInUse, match="in use"):
        PtyPair(link_dir=tmp_path).open()
    assert (tmp_path / "host").read_text() == "someone else's file"


def test_dangling_link_from_a_dead_pair_is_replaced(tmp_path):
    os.symlink("/dev/pts/999999", tmp_path / "host")
    with PtyPair(link_dir=tmp_path) as pair:
        assert os.path.exists(pair.host_path)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from simulator.ports.pty import PtyPair
    pair = PtyPair(link_dir=sys.argv[1] if sys.argv[1] != "-" else None).open()
    print(pair.pid, pair.host_path, pair.device_path, flush=True)
    time.sleep(60)
    """
)


def _child(link_dir: str) -> tuple[subprocess.Popen[str], int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, link_dir], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    pid, host, device = proc.stdout.readline().split()
    return proc, int(pid), host, device


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_owner_leaves_no_socat_and_no_links(tmp_path, sig):
    proc, socat_pid, host, device = _child(str(tmp_path))
    assert _alive(socat_pid) and os.path.lexists(host)
    proc.send_signal(sig)
    proc.wait(10)
    assert _wait_gone(socat_pid), "socat outlived its owner"
    deadline = time.monotonic() + 5
    while (os.path.lexists(host) or os.path.lexists(device)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.lexists(host) and not os.path.lexists(device)


def test_temp_dir_of_a_killed_owner_is_swept_by_the_next_pair():
    proc, socat_pid, host, _ = _child("-")
    proc.kill()
    proc.wait(10)
    assert _wait_gone(socat_pid)
    stale = Path(host).parent
    with PtyPair():
        assert not stale.exists()
