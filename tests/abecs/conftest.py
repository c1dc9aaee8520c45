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
