"""The ABECS 2.12 commands beyond the classic eighteen (§3.2–§3.8, behaviour §6).

One module per command group, each registering its handlers with
:func:`~virtual_devices.abecs.extended.base.handles`:

- :mod:`.control`: GIX, CLX, DWK (§3.2)
- :mod:`.card_events`, :mod:`.prompts`, :mod:`.tracks`, :mod:`.data_crypto`,
  :mod:`.chip_access`: CEX, GCD, MNU, GTK, EBX, ENB, CHP (§3.3)
- :mod:`.multimedia`: MLI, MLR, MLE, LMF, DMF, DSI (§3.4)
- :mod:`.card`: GCX, GED, GOX, FCX (§3.7, §6.9)
- :mod:`.generic`: GEN and its sub-commands (§3.8)

The pinpad looks a command up in :data:`HANDLERS` before its own classic handlers. The
parameter-tagged format lives in :mod:`virtual_devices.abecs.tagged`.
"""

from __future__ import annotations

from virtual_devices.abecs.extended import (  # noqa: F401 - imported to register handlers
    card,
    card_events,
    chip_access,
    control,
    data_crypto,
    generic,
    multimedia,
    prompts,
    tracks,
)
from virtual_devices.abecs.extended.base import HANDLERS, handles
from virtual_devices.abecs.extended.media_store import MediaFile, MediaStore
from virtual_devices.abecs.extended.state import ExtendedState, state

__all__ = ["HANDLERS", "ExtendedState", "MediaFile", "MediaStore", "handles", "state"]
