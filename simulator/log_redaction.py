"""Keeping card data out of Python's own output: log records, warnings, tracebacks.

Transcripts and reports go through a world's :class:`~simulator.masking.Redactor`, but a
server also writes through :mod:`logging` (a failed request's traceback), through
:mod:`warnings`, and, when something escapes, through ``sys.excepthook``. An exception
raised while handling a card can carry the PAN or the PIN block in its message, so
those channels must be masked too, in every form a secret was registered in.

Every :class:`~simulator.world.World` registers its redactor here when it is made
(:func:`watch`). :func:`install` (idempotent, called by the first world) then wraps:

* the log record factory, so every record of every logger is redacted as it is made:
  its formatted message, its traceback text and its stack (whatever handler or
  formatter later writes it, pytest's capture included);
* :func:`warnings.formatwarning`, which both the default warning display and
  :func:`logging.captureWarnings` use;
* ``sys.excepthook`` and ``threading.excepthook``, for what nobody caught.

The generic card-number scan (:func:`~simulator.masking.mask_text`) runs on all of it
even with no world alive, so a Luhn-valid number nobody registered is still masked.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
import warnings
import weakref
from types import TracebackType
from typing import Any

from simulator.masking import Redactor, mask_text

_LIVE: weakref.WeakSet[Redactor] = weakref.WeakSet()
_INSTALLED = False
_FORMATTER = logging.Formatter()


def watch(redactor: Redactor) -> None:
    """Hide ``redactor``'s secrets in log output for as long as it lives."""
    _LIVE.add(redactor)
    install()


def redact(text: str) -> str:
    """``text`` with the secrets of every live redactor and any card number hidden."""
    for redactor in list(_LIVE):
        text = redactor.text(text)
    return mask_text(text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: message (args folded in), traceback text, stack."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is, as text
        message = f"{record.msg!r} % {record.args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
        # the exception object itself still holds the secret: handlers that format
        # exc_info again (instead of using exc_text) would print it in clear
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Wrap the record factory, warnings and excepthooks (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(redacting_factory)

    format_warning = warnings.formatwarning

    def redacting_formatwarning(message: Warning | str, category: type[Warning],
                                filename: str, lineno: int, line: str | None = None) -> str:
        return redact(format_warning(message, category, filename, lineno, line))

    warnings.formatwarning = redacting_formatwarning

    def redacting_excepthook(kind: type[BaseException], value: BaseException,
                             tb: TracebackType | None) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = redacting_excepthook

    def redacting_thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                  args.exc_traceback))
        name = args.thread.name if args.thread is not None else "?"
        sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))

    threading.excepthook = redacting_thread_hook
