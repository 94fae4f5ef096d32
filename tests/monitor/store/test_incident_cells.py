"""The incident cells' counts in the store (monitor/store/incident_cells.py, docs/architecture.md
"Incident cells"): changes add up per cell, a cell brought back to nothing is not read, and on
PostgreSQL the rows concurrent batches append fold into one per cell without losing a count
committed meanwhile."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from monitor.store.incident_cells import (
    CELL_NAMES,
    INCIDENT_CELLS,
    add_to_cells,
    fold_cells,
    read_cells,
)


def deltas(*rows: tuple[str, str, str, int, int, int, int]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(CELL_NAMES))


def stored_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(INCIDENT_CELLS)).scalar_one())


def test_changes_add_up_per_cell_and_an_empty_cell_is_not_read(engine: Engine) -> None:
    with engine.begin() as conn:
        add_to_cells(conn, deltas(("province", "zto", "江苏", 30, 10, 0, 10),
                                  ("hub", "zto", "杭州转运中心", 5, 5, 0, 5)))  # fmt: skip
    with engine.begin() as conn:
        add_to_cells(conn, deltas(("province", "zto", "江苏", -1, -1, 0, -1),
                                  ("hub", "zto", "杭州转运中心", -5, -5, 0, -5)))  # fmt: skip
    assert read_cells(engine).to_dict("records") == [
        {"scope": "province", "carrier": "zto", "place": "江苏", "parcels": 29, "stalled": 9,
         "delayed": 0, "affected": 9},
    ]  # fmt: skip
    fold_cells(engine)
    assert stored_rows(engine) == 1  # one row per cell with something in it, either store
    assert read_cells(engine)["parcels"].tolist() == [29]


def test_concurrent_batches_append_without_waiting_and_the_fold_keeps_every_count(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("one process writes SQLite's cells, in place")
    first = engine.connect()
    first.begin()
    add_to_cells(first, deltas(("province", "zto", "江苏", 7, 1, 0, 1)))
    done = threading.Event()

    def second_batch() -> None:  # would wait for the first's lock on an updated-in-place cell
        with engine.begin() as conn:
            add_to_cells(conn, deltas(("province", "zto", "江苏", 3, 2, 0, 2)))
        done.set()

    worker = threading.Thread(target=second_batch)
    worker.start()
    assert done.wait(10), "the second batch waited for the first"
    assert fold_cells(engine) == 0  # only the committed row is folded: nothing to merge yet
    first.commit()
    first.close()
    worker.join()
    assert stored_rows(engine) == 2
    assert fold_cells(engine) == 1  # the two rows of the cell become one
    [cell] = read_cells(engine).to_dict("records")
    assert (cell["parcels"], cell["stalled"], cell["affected"]) == (10, 3, 3)
