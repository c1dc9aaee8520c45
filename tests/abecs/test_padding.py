"""The session key's and the card hash's PKCS#1 v1.5 padding: the bytes a seed gives."""

from __future__ import annotations

import random

import pytest

from virtual_devices.abecs.secure import nonzero_bytes


@pytest.mark.parametrize("seed", range(20))
def test_padding_is_the_randrange_draw_of_the_seed(seed: int) -> None:
    """Transcripts of earlier runs hold this padding: it must stay the same bytes."""
    count = 200 + seed
    reference = random.Random(seed)
    expected = bytes(reference.randrange(1, 256) for _ in range(count))
    rng = random.Random(seed)
    got = nonzero_bytes(rng, count)
    assert got == expected and 0 not in got
    assert rng.random() == reference.random()  # the stream goes on where it would
