"""Pages: walking `next` visits every item once; cursors are opaque and anything else is a 4xx naming `cursor`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.core.pages import MAX_LIMIT, decode_cursor, encode_cursor, from_window, paginate, window


@given(n=st.integers(0, 60), limit=st.integers(1, 25))
def test_walking_the_pages_visits_each_item_once(n: int, limit: int) -> None:
    items, seen, cursor = list(range(n)), [], None
    for _ in range(n + 2):
        page = paginate(items, cursor, limit)
        assert len(page.items) <= limit
        seen += page.items
        cursor = page.next
        if cursor is None:
            break
    assert seen == items


@given(n=st.integers(0, 60), limit=st.integers(1, 25), cap=st.integers(1, 40))
def test_newest_n_sources_page_up_to_their_cap(n: int, limit: int, cap: int) -> None:
    source, seen, cursor = list(range(n)), [], None
    for _ in range(n + 2):
        start, fetch = window(cursor, limit, cap)
        assert 1 <= fetch <= cap
        page = from_window(source[:fetch], start, limit, cap)
        seen += page.items
        cursor = page.next
        if cursor is None:
            break
    assert seen == source[:cap]


def test_cursor_round_trip_and_last_page() -> None:
    assert decode_cursor(None) == 0
    assert decode_cursor(encode_cursor(1234)) == 1234
    assert paginate([1, 2, 3], None, 3).next is None
    assert paginate([1, 2, 3], None, 2).model_dump() == {"items": [1, 2], "next": encode_cursor(2)}


@pytest.mark.parametrize(
    "bad", ["", "x", "bzEy=", "b3g", encode_cursor(1) + "A", "by0x", "bzk5OTk5OTk5OTk5", "b-1", "bzEuMA"]
)
def test_foreign_cursors_are_invalid_input_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_cursor(bad)
    assert err.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limit_out_of_range_is_invalid_input(limit: int) -> None:
    with pytest.raises(InvalidInput) as err:
        paginate([1], None, limit)
    assert err.value.field == "limit"
