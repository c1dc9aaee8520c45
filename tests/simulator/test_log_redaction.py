"""Python's own output (log records, tracebacks, warnings) never shows a registered secret.

A server logs a failed request with its traceback; the exception may carry the card
number or the PIN block in its message, in any of the forms a wire carries them. Each
test registers a PAN and a PIN block with a world, lets them escape through one channel
and scans what was written.
"""

from __future__ import annotations

import base64
import io
import logging
import subprocess
import sys
import textwrap

from simulator.masking import mask_pan, secret_forms
from simulator.world import World

# a PAN that fails Luhn, so only its registration can hide it (the generic scan would not)
PAN = "5067771234567890"
PIN_BLOCK = bytes.fromhex("3C1F0A9B7D2E4856")


def _leaks(text: str) -> list[str]:
    found = [PAN] if PAN in text else []
    for form in secret_forms(PIN_BLOCK):
        try:
            word = form.decode("ascii")
        except UnicodeDecodeError:
            continue
        if word.isprintable() and word in text:
            found.append(word)
    return found


def _every_form() -> str:
    return (f"card {PAN} pin {PIN_BLOCK.hex().upper()} / {PIN_BLOCK.hex()} / "
            f"{base64.b64encode(PIN_BLOCK).decode()}")


def test_a_logged_traceback_carrying_a_pan_and_pin_block_is_masked() -> None:
    world = World(seed=1)
    world.redactor.add_pan(PAN)
    world.redactor.add_secret(PIN_BLOCK)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("cardloop.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError(_every_form())
        except ValueError:
            log.exception("request for %s failed with %s", PAN, PIN_BLOCK.hex())
        log.warning("plain record: %s", _every_form())
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "Traceback" in text and "ValueError" in text  # the traceback was written...
    assert mask_pan(PAN) in text  # ...with the card number masked, not dropped
    assert "[redacted]" in text
    assert _leaks(text) == [], text


def test_warnings_and_uncaught_exceptions_are_masked_on_stderr() -> None:
    script = textwrap.dedent(f"""
        import logging, warnings
        from simulator.world import World
        world = World(seed=1)
        world.redactor.add_pan({PAN!r})
        world.redactor.add_secret(bytes.fromhex({PIN_BLOCK.hex()!r}))
        logging.basicConfig()
        logging.getLogger("cardloop").error("logged: %s", {_every_form()!r})
        warnings.warn({_every_form()!r})
        logging.captureWarnings(True)
        warnings.warn("captured " + {_every_form()!r})
        raise RuntimeError({_every_form()!r})
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    err = run.stderr
    assert run.returncode == 1
    assert "logged:" in err and "UserWarning" in err and "captured" in err
    assert "RuntimeError" in err and mask_pan(PAN) in err
    assert _leaks(err) == [], err
