"""The incident cells' counts (monitor/rules/incidents.py `cell_counts`), against a plain
count of the same member rows: whether the rows come from the rules (categoricals) or from
the store (Python strings and None), and whether they are counted at once or in parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.incidents import (
    COUNT_COLUMNS,
    HUB,
    MEMBER_COLUMNS,
    PROVINCE,
    TIME,
    cell_counts,
    summed_counts,
)

START = datetime(2026, 11, 20, tzinfo=UTC)
moments = st.one_of(st.none(), st.integers(0, 500).map(lambda h: START + timedelta(hours=h)))
member = st.fixed_dictionaries(
    {
        "carrier": st.sampled_from(["sf", "zto", "jd"]),
        "province": st.one_of(st.none(), st.sampled_from(["浙江", "广东", "山东"])),
        "hub": st.one_of(st.none(), st.sampled_from(["上海青浦转运中心", "杭州转运中心"])),
        "in_hands": st.booleans(),
        "stalled_since": moments,
        "delayed_since": moments,
    }
)


def frame(rows: list[dict[str, Any]], categorical: bool) -> pd.DataFrame:
    members = pd.DataFrame(
        {name: pd.Series([r[name] for r in rows], dtype=object) for name in MEMBER_COLUMNS[1:]}
    )
    members.insert(0, "shipment_id", pd.Series(range(len(rows)), dtype="int64"))
    for name in ("stalled_since", "delayed_since"):
        members[name] = pd.to_datetime(members[name], utc=True).astype(TIME)
    members["in_hands"] = members["in_hands"].astype(bool)
    if categorical:  # as the rules leave them
        members = members.astype({"carrier": "category", "province": "category", "hub": "category"})
    return members


def plain_counts(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    cells: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        for scope, place in ((PROVINCE, r["province"]), (HUB, r["hub"])):
            if place is None:
                continue
            stalled = r["stalled_since"] is not None
            delayed = r["delayed_since"] is not None and scope == PROVINCE
            parcels = r["in_hands"] if scope == PROVINCE else True
            troubles = [r["stalled_since"]] + ([r["delayed_since"]] if scope == PROVINCE else [])
            first = min((t for t in troubles if t is not None), default=None)
            cell = cells.setdefault((scope, r["carrier"], place), [0, 0, 0, 0, None])
            for i, add in enumerate((parcels, stalled, delayed, stalled or delayed)):
                cell[i] += int(add)
            if first is not None and (cell[4] is None or first < cell[4]):
                cell[4] = first
    return {key: tuple(value) for key, value in cells.items()}


def as_dict(cells: pd.DataFrame) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    found = {}
    for row in cells.itertuples(index=False):
        first = None if pd.isna(row.first) else row.first.to_pydatetime()
        counts = tuple(int(getattr(row, name)) for name in COUNT_COLUMNS)
        found[(row.scope, row.carrier, row.place)] = (*counts, first)
    return found


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(member, max_size=40), categorical=st.booleans(), cut=st.integers(0, 40))
def test_counts_are_the_plain_count(
    rows: list[dict[str, Any]], categorical: bool, cut: int
) -> None:
    expected = plain_counts(rows)
    whole = cell_counts(frame(rows, categorical))
    assert as_dict(whole) == expected
    assert list(whole.columns) == ["scope", "carrier", "place", *COUNT_COLUMNS, "first"]
    assert str(whole["first"].dtype) == TIME
    # Counted in two parts (the reconciliation counts the judged book and the rows still
    # pending apart), the sum is the same.
    parts = summed_counts(
        cell_counts(frame(rows[:cut], categorical)), cell_counts(frame(rows[cut:], False))
    )
    assert as_dict(parts) == expected


def test_no_members_no_cells() -> None:
    assert cell_counts(frame([], categorical=False)).empty
    assert summed_counts(cell_counts(frame([], False)), cell_counts(frame([], True))).empty
