"""The keyset query both SQL document stores page with (only the placeholder differs)."""

from __future__ import annotations


def page_query(
    model: str,
    limit: int,
    tag: str | None,
    after: str | None,
    descending: bool,
    mark: str,
    as_bytes: bool = False,
) -> tuple[str, tuple[object, ...]]:
    """``SELECT key, doc`` of one page: the primary key ``(model, key)`` (or the tag
    index, which ends in the key) serves the order, so no page costs more than its rows."""
    where, params = [f"model = {mark}"], [model]
    if tag is not None:
        where.append(f"tag = {mark}")
        params.append(tag)
    if after is not None:
        where.append(f"key {'<' if descending else '>'} {mark}")
        params.append(after)
    order = "DESC" if descending else "ASC"
    # SQLite reads bytes: one row of invalid UTF-8 would fail the whole SELECT.
    columns = "CAST(key AS BLOB), CAST(doc AS BLOB)" if as_bytes else "key, doc"
    sql = (
        f"SELECT {columns} FROM documents WHERE {' AND '.join(where)} "
        f"ORDER BY key {order} LIMIT {max(0, int(limit))}"
    )
    return sql, tuple(params)
