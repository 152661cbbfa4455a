"""The API's opaque cursors (issue 10): one a client made up is a 422 with a reason,
never a key no store can compare (U+0000 failed PostgreSQL with a 500)."""

from __future__ import annotations

import pytest

from chargeledger.entrypoints.api.errors import ApiError
from chargeledger.entrypoints.api.paging import cursor_of, key_of


@pytest.mark.parametrize("cursor", ["AAAA", "A" * 1000, "QQA", "%%%", "_w"])
def test_a_cursor_that_is_no_key_of_ours_is_422(cursor: str) -> None:
    with pytest.raises(ApiError) as refused:
        key_of(cursor)
    assert (refused.value.status, refused.value.detail) == (
        422,
        "query.cursor: not a cursor of this list",
    )


@pytest.mark.parametrize("key", ["CP-1", "clé/✓", "00000000000000000042"])
def test_a_cursor_we_made_reads_back_as_its_key(key: str) -> None:
    assert key_of(cursor_of(key)) == key
