"""Where a pinpad keeps what survives a restart: one directory per pinpad on disk.

A real pinpad stores multimedia files (§6.6.3: "armazenado em memória não volátil") in
flash; the virtual one keeps them under a per-pinpad directory named after its serial
number. The root is configurable (``cardloop reader --state-dir``, or the
``CARDLOOP_STATE_DIR`` environment variable) and defaults to the XDG state directory
(``$XDG_STATE_HOME``, else ``~/.local/state``): state that outlives the process and a
reboot, unlike the runtime directory. A pinpad built without a directory (the library
default, what tests and the conformance suite's own pinpads use unless they pass a
temporary one) keeps its memory in the process only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

STATE_ENV = "CARDLOOP_STATE_DIR"


def default_state_root() -> Path:
    """``$CARDLOOP_STATE_DIR``, else ``$XDG_STATE_HOME/cardloop``, else
    ``~/.local/state/cardloop``."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "cardloop"


def pinpad_dir(root: Path, serial: str) -> Path:
    """The directory of one pinpad: ``<root>/pinpads/<serial>`` (the serial made safe
    for a file name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", serial) or "pinpad"
    return root / "pinpads" / safe


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new content, never a
    part: a pinpad losing power in the middle of MLE keeps its previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
