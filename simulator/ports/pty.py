"""Pseudo-terminal pairs: a serial cable between two programs, made by socat.

:class:`PtyPair` starts ``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``
through the ``sh`` package, so two symlinks (``A`` and ``B``) behave like the two
ends of a null-modem cable. A pinpad twin opens one end, the software under test
(or the host side of the world) the other.

socat must never outlive the pair, whatever happens to the owner:

* it runs in its own session and process group, so a Ctrl-C in the terminal reaches
  the owner only, and the owner stops socat in order (SIGTERM, which makes socat
  unlink its links, then SIGKILL after a grace period);
* the context manager, an ``atexit`` hook and SIGTERM/SIGHUP handlers all stop it;
* socat runs under a small ``sh`` supervisor that asks the kernel for a parent-death
  signal (``PR_SET_PDEATHSIG``), so even a SIGKILLed owner takes socat with it, and
  socat still unlinks its links. The supervisor is there because the kernel sends
  that signal once per owner thread that dies while it is the parent, and an owner
  has several (sh's readers, executors): socat 1.7 exits at once on a second SIGTERM
  that arrives while it is still handling the first, and leaves its links behind.
  The supervisor passes the first signal on, ignores the rest, and waits for socat;
* temporary link directories carry the owner's pid; the next pair made on the
  machine removes those whose owner is gone, and a dangling link at a chosen path is
  treated as stale and replaced.

:func:`open_serial_end` opens one end with pyserial and makes it a
:class:`~simulator.streams.ByteEnd` of a realtime world: bytes read by the event
loop enter the world through ``World.inject``; writes go to the OS at once,
non-blocking, with any remainder flushed when the descriptor is writable.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

import serial
import sh

from simulator.timings import load_timings

if TYPE_CHECKING:
    from simulator.streams import ByteEnd, Labeler
    from simulator.world import World

_T = load_timings("simulator.ports")
_TEMP_PREFIX = "cardloop-pty-"
_OWNER_FILE = ".owner"
_PR_SET_PDEATHSIG = 1


class PtyError(RuntimeError):
    """A pty pair could not be made or opened (the message says why and what to do)."""


class SocatNotFound(PtyError):
    pass


class LinkInUse(PtyError):
    pass


# -- clean-up on every way out ----------------------------------------------------
_live: dict[int, PtyPair] = {}
_live_lock = threading.RLock()  # re-entrant: the signal handler may interrupt a holder
_hooks_installed = False
_previous_handlers: dict[int, Any] = {}


def _stop_all() -> None:
    with _live_lock:
        pairs = list(_live.values())
    for pair in pairs:
        with contextlib.suppress(Exception):
            pair.close()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still runs
    for signum in (signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        _previous_handlers[signum] = current
        signal.signal(signum, _on_signal)


def _parent_death_signal(parent: int) -> Callable[[], None]:
    """Runs in the forked child before exec: die with the parent, even on SIGKILL."""

    def preexec() -> None:
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_dirs(tmp: str | None = None) -> list[Path]:
    """Remove temporary link directories whose owning process is gone."""
    removed: list[Path] = []
    base = Path(tmp or tempfile.gettempdir())
    for d in base.glob(f"{_TEMP_PREFIX}*"):
        owner = d / _OWNER_FILE
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(pid):
            continue
        for child in d.iterdir():
            if child.is_symlink() or child.name == _OWNER_FILE:
                with contextlib.suppress(OSError):
                    child.unlink()
        with contextlib.suppress(OSError):
            d.rmdir()
            removed.append(d)
    return removed


def default_link_dir(server: str) -> Path:
    """Where ``cardloop serve SERVER`` puts its pty links unless told otherwise.

    A fixed, per-user place, so a device keeps its name across restarts (a POS that
    saved "ttyVPP0" finds it again), as a real bridge names a port the same each time
    (DECISIONS.md). ``$XDG_RUNTIME_DIR/cardloop/<server>`` where the session has a
    runtime directory, else ``<tmp>/cardloop-<uid>/<server>``; in a shared temporary
    directory the folder must be this user's and private, or it is refused.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        root = Path(runtime) / "cardloop"
    else:
        root = Path(tempfile.gettempdir()) / f"cardloop-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    st = root.lstat()
    if root.is_symlink() or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PtyError(f"{root} is not a private directory of this user; choose --link-dir")
    return root / server


def _clear_link(path: Path) -> None:
    """A dangling link is a leftover of a killed pair; anything else is in use."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() and not path.exists():
        path.unlink()
        return
    raise LinkInUse(f"link path {path} is in use (remove it or choose another --link-dir)")


# The supervisor: socat in the background, exactly one SIGTERM passed on however many
# signals arrive, and the supervisor's exit status is socat's.
_SUPERVISOR = """
"$@" & socat=$!
stopping=
trap 'if [ -z "$stopping" ]; then stopping=1; kill -TERM "$socat" 2>/dev/null; fi' TERM HUP INT
while :; do
    wait "$socat"; status=$?
    kill -0 "$socat" 2>/dev/null || exit "$status"
done
"""


def _start_socat(socat: str, links: list[Path]) -> Any:
    """Start socat under its supervisor through ``sh``, in its own session, dying with us.

    sh ties a command started inside a running asyncio loop to that loop (it posts a
    completion event to it from its output thread), which fails noisily once the
    loop is closed while socat lives on. socat's life is managed here, not awaited,
    so the running loop is hidden from sh while it starts the command.
    """
    shell = shutil.which("sh") or "/bin/sh"
    # socat also dies with its supervisor if that is ever killed on its own; the
    # supervisor has one thread, so this signal comes once
    setpriv = shutil.which("setpriv")
    guard = [setpriv, "--pdeathsig", "TERM"] if setpriv else []
    running = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        return sh.Command(shell)(
            "-c",
            _SUPERVISOR,
            "cardloop-socat",
            *guard,
            socat,
            "-d",
            "-d",
            f"pty,raw,echo=0,link={links[0]}",
            f"pty,raw,echo=0,link={links[1]}",
            _bg=True,
            _bg_exc=False,
            _new_session=True,
            _preexec_fn=_parent_death_signal(os.getpid()),
            _out=os.devnull,
        )
    finally:
        asyncio.events._set_running_loop(running)


class PtyPair:
    """Two linked pseudo-terminals at ``link_dir/<names[0]>`` and ``link_dir/<names[1]>``.

    ``link_dir`` None makes a private temporary directory (removed on close). Use as
    a context manager, or call :meth:`open` and :meth:`close`.
    """

    def __init__(
        self,
        link_dir: str | os.PathLike[str] | None = None,
        names: tuple[str, str] = ("host", "device"),
    ) -> None:
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError("a pty pair needs two different link names")
        for n in names:
            if not n or "/" in n or n in (".", ".."):
                raise ValueError(f"bad link name {n!r}: a plain file name is needed")
        self._link_dir_arg = link_dir
        self.names = names
        self.link_dir: Path | None = None
        self._own_dir = False
        self._proc: Any = None
        # the supervisor's pid; it lives exactly as long as socat, which it waits for
        self.pid: int | None = None

    # -- paths --------------------------------------------------------------------
    @property
    def host_path(self) -> str:
        return str(self._require_dir() / self.names[0])

    @property
    def device_path(self) -> str:
        return str(self._require_dir() / self.names[1])

    @property
    def paths(self) -> tuple[str, str]:
        return self.host_path, self.device_path

    def _require_dir(self) -> Path:
        if self.link_dir is None:
            raise PtyError("the pty pair is not open")
        return self.link_dir

    # -- life cycle -----------------------------------------------------------------
    def open(self) -> PtyPair:
        if self._proc is not None:
            return self
        socat = shutil.which("socat")
        if socat is None:
            raise SocatNotFound(
                "socat is not installed; install the Debian package 'socat' "
                "(sudo apt-get install socat)"
            )
        _install_hooks()
        sweep_stale_dirs()
        if self._link_dir_arg is None:
            self.link_dir = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX))
            (self.link_dir / _OWNER_FILE).write_text(str(os.getpid()))
            self._own_dir = True
        else:
            self.link_dir = Path(self._link_dir_arg).expanduser().absolute()
            if self.link_dir.exists() and not self.link_dir.is_dir():
                raise PtyError(f"link directory {self.link_dir} is not a directory")
            self.link_dir.mkdir(parents=True, exist_ok=True)
        links = [self.link_dir / n for n in self.names]
        try:
            for link in links:
                _clear_link(link)
            self._proc = _start_socat(socat, links)
            self.pid = int(self._proc.pid)
            with _live_lock:
                _live[id(self)] = self
            self._wait_for_links(links)
        except BaseException:
            self.close()
            raise
        return self

    def _wait_for_links(self, links: list[Path]) -> None:
        # Wall-clock polling while socat starts: port set-up, outside any world.
        deadline = time.monotonic() + _T["socat_start"]
        while not all(link.exists() for link in links):
            if not self._alive():
                raise PtyError(f"socat exited while making the pty pair: {self._stderr_tail()}")
            if time.monotonic() > deadline:
                raise PtyError(f"socat did not make {links[0]} and {links[1]} in time")
            time.sleep(_T["socat_poll"])

    @property
    def alive(self) -> bool:
        """True while socat runs (it exits if, say, someone kills it)."""
        return self._alive()

    def _alive(self) -> bool:
        proc = self._proc
        if proc is None:
            return False
        try:
            return bool(proc.process.is_alive()[0])
        except Exception:
            return self.pid is not None and _pid_alive(self.pid)

    def _stderr_tail(self) -> str:
        try:
            text = self._proc.process.stderr.decode(errors="replace").strip()
        except Exception:
            return "no diagnostics"
        return text.splitlines()[-1] if text else "no diagnostics"

    def close(self) -> None:
        """Stop socat (TERM, then KILL after a grace period) and remove the links."""
        with _live_lock:
            _live.pop(id(self), None)
        proc, self._proc = self._proc, None
        if proc is not None and self.pid is not None:
            self._stop(proc, self.pid)
        if self.link_dir is not None:
            for n in self.names:
                link = self.link_dir / n
                if link.is_symlink():
                    with contextlib.suppress(OSError):
                        link.unlink()
            if self._own_dir:
                with contextlib.suppress(OSError):
                    (self.link_dir / _OWNER_FILE).unlink()
                with contextlib.suppress(OSError):
                    self.link_dir.rmdir()
        self.pid = None

    @staticmethod
    def _stop(proc: Any, pid: int) -> None:
        # SIGTERM to the supervisor alone (it passes one on to socat); SIGKILL to the
        # whole group, supervisor and socat, if that did not end them in time.
        steps = ((signal.SIGTERM, _T["socat_stop_grace"], False), (signal.SIGKILL, 5.0, True))
        for sig, wait, group in steps:
            try:
                if group:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
            except ProcessLookupError:
                return
            except PermissionError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except Exception:
                if not _pid_alive(pid):
                    return

    def __enter__(self) -> PtyPair:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"{self.host_path} <-> {self.device_path}" if self._proc else "closed"
        return f"PtyPair({state})"


# -- a pty end as a ByteEnd of a realtime world ---------------------------------------
class SerialPort:
    """The OS side of a serial :class:`ByteEnd`: reads via the event loop, writes at once."""

    def __init__(self, world: World, end: ByteEnd, ser: serial.Serial) -> None:
        self.world = world
        self.end = end
        self.serial = ser
        self.fd: int = ser.fileno()
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._loop = asyncio.get_running_loop()
        self._out: deque[memoryview] = deque()  # unsent chunks, the first partly sent
        self._writing = False
        self._closed = False
        self._loop.add_reader(self.fd, self._readable)
        end.connect(self.transmit, self.close)

    def _readable(self) -> None:
        chunks: list[bytes] = []
        eof = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            except OSError as exc:  # EIO: socat went away
                if exc.errno not in (errno.EIO, errno.EBADF):
                    raise
                eof = True
                break
            if not data:
                # a tty in raw mode (VMIN=0, VTIME=0) reads 0 bytes once drained; only a
                # readable descriptor with nothing at all to read is a hang-up
                eof = not chunks
                break
            chunks.append(data)
        if chunks:
            data = b"".join(chunks)
            self.world.inject(lambda: self.end.deliver(data))
        if eof:
            self._shutdown()
            self.world.inject(self.end.deliver_eof)

    def transmit(self, data: bytes) -> None:
        if self._closed:
            return
        if self._out:
            self._out.append(memoryview(data))
            return
        try:
            n = os.write(self.fd, data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._shutdown()
            self.world.inject(self.end.deliver_eof)
            return
        if n < len(data):
            self._out.append(memoryview(data)[n:])
            if not self._writing:
                self._writing = True
                self._loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        out = self._out
        while out:
            try:
                n = os.write(self.fd, out[0])
            except BlockingIOError:
                return
            except OSError:
                out.clear()
                break
            if n < len(out[0]):
                out[0] = out[0][n:]
                return
            out.popleft()
        if not out:
            self._loop.remove_writer(self.fd)
            self._writing = False
            if self._closed:
                self._release()

    def close(self) -> None:
        """The end was closed by its owner: flush what is queued, then close the fd."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self.fd)
        if not self._out:
            self._release()

    def _shutdown(self) -> None:
        self._closed = True
        self._out.clear()
        self._loop.remove_reader(self.fd)
        self._release()

    def _release(self) -> None:
        if self._writing:
            self._loop.remove_writer(self.fd)
            self._writing = False
        with contextlib.suppress(Exception):
            self.serial.close()


def open_serial_end(
    world: World,
    path: str | os.PathLike[str],
    name: str = "pinpad",
    baud: int | None = None,
    labeler: Labeler | None = None,
    pacing: Any = None,
    rx_limit: int | None = None,
) -> ByteEnd:
    """Open a serial device (a pty link, a USB adapter) as a world's :class:`ByteEnd`.

    Needs a realtime world and a running asyncio loop (call it from the coroutine
    that awaits ``world.run_realtime``, or from a process inside it). ``baud`` sets
    the OS line speed, 115200 when None (the rate mpos-bridge's examples open the port
    at, mpos-bridge.md §4; a pty ignores it, a USB adapter does not); ``pacing``
    (:class:`simulator.pacing.Pacing`) paces this end's writes in simulated time;
    ``rx_limit`` bounds the receive buffer (see :class:`~simulator.streams.ByteEnd`).
    ``end.close()`` closes the device.
    """
    from simulator.streams import ByteEnd

    if world.mode != "realtime":
        raise PtyError("serial ports need a realtime world (World(mode='realtime'))")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise PtyError(
            "open_serial_end needs a running asyncio loop: open the port from the coroutine "
            "that awaits world.run_realtime()"
        ) from None
    try:
        ser = serial.Serial(
            str(path), baudrate=baud or 115200, timeout=0, write_timeout=0, exclusive=False
        )
    except serial.SerialException as exc:
        raise PtyError(f"cannot open serial port {path}: {exc}") from None
    end = ByteEnd(world, name, labeler, rx_limit=rx_limit)
    SerialPort(world, end, ser)
    if pacing is not None:
        end.pace(pacing)
    world.transcript.event(name, f"opened serial port {path}")
    return end


__all__ = [
    "LinkInUse",
    "PtyError",
    "PtyPair",
    "SerialPort",
    "SocatNotFound",
    "open_serial_end",
    "sweep_stale_dirs",
]
