"""Fixtures for the ABECS tests: a host and a virtual pinpad in virtual mode."""

from __future__ import annotations

import warnings

import pytest

from virtual_devices.abecs.rig import Rig, make_rig, visa_swipe

# psec's DES helpers use the TripleDES class cryptography has moved; harmless here
warnings.filterwarnings("ignore", message=".*TripleDES.*")


@pytest.fixture
def rig() -> Rig:
    return make_rig(cards=[visa_swipe()])


def pytest_configure(config: pytest.Config) -> None:
    # the EMV libraries build two-key TDES through cryptography's moved class
    config.addinivalue_line(
        "filterwarnings", "ignore::cryptography.utils.CryptographyDeprecationWarning"
    )
