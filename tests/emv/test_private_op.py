"""The fast raw RSA private operation gives the number the textbook formula gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from virtual_devices.emv import pki


@settings(max_examples=50)
@given(st.sampled_from(["ca_visa", "issuer_visa", "icc_01"]), st.integers(min_value=0))
def test_private_op_is_value_to_the_d_mod_n(name: str, value: int) -> None:
    key = pki.private_key(name)
    nums = key.private_numbers()
    n = nums.public_numbers.n
    value %= n
    assert pki.private_op(key, value) == pow(value, nums.d, n)
    # and the public exponent undoes it
    assert pow(pki.private_op(key, value), nums.public_numbers.e, n) == value
