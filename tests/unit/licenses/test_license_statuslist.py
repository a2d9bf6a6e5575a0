"""The status list bitmap: 2 bits per index, least significant first, zlib-compressed."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.licenses import jose, statuslist
from charter.licenses.jose import VerifyError


def test_packing_matches_the_token_status_list_layout() -> None:
    # index 0 → bits 0-1 of byte 0, index 1 → bits 2-3, …, index 4 → byte 1.
    assert statuslist.pack({0: 1, 1: 2, 3: 1, 4: 2}) == bytes([0b01_00_10_01, 0b10])
    assert statuslist.pack({}) == b""


@given(st.dictionaries(st.integers(0, 5000), st.integers(0, 3), max_size=200))
def test_round_trip(values: dict[int, int]) -> None:
    data = statuslist.decode(statuslist.encode(values))
    for index in range(0, max(values, default=0) + 8):
        assert statuslist.status_at(data, index) == values.get(index, 0)


def test_decompression_bombs_and_garbage_are_refused() -> None:
    bomb = jose.b64url(zlib.compress(b"\0" * (statuslist.MAX_BYTES + 1)))
    for bad in (bomb, "@@@", jose.b64url(b"not zlib")):
        with pytest.raises(VerifyError) as err:
            statuslist.decode(bad)
        assert err.value.code == "status_list_invalid"


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError):
        statuslist.pack({0: 4})
