"""Keep the console of ``serve`` and ``demo`` for what the user asked to see.

pyemv and psec call ``cryptography``'s TripleDES under its old name; the resulting
deprecation warnings say nothing about the run and bury its output.
"""

from __future__ import annotations

import warnings


def quiet_third_party_warnings() -> None:
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - older cryptography
        return
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
