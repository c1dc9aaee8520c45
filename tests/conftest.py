"""Shared test configuration.

Test modules are imported by path (``--import-mode=importlib``) so that areas may
reuse file names; each area's folder is put on ``sys.path`` so that a test module can
import a helper module that sits beside it.
"""

import sys
from pathlib import Path

pytest_plugins = ["pytester"]

for _area in sorted(Path(__file__).parent.iterdir()):
    if _area.is_dir() and not _area.name.startswith((".", "_")):
        if str(_area) not in sys.path:
            sys.path.append(str(_area))
