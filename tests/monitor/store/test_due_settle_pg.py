"""Settling a detection claim when claimed rows were deleted meanwhile (PostgreSQL,
docs/architecture.md "Detection across replicas"): a row deleted by another connection
between the claim and the settle, before its batch read it or after, was taken over by
nobody; the batch applies, settles every row that is still there and ends its claim. A row
another replica took over is still a lost lease, deleted neighbours or not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text

from monitor.daemon.incremental import Batch, judge_batch, reconcile
from monitor.daemon.tick import TickResult
from monitor.detection import load_due_orders, load_due_parcels
from monitor.store.due import Claim, LeaseLost, claim_due, read_marks
from monitor.store.lanes import load_lane_expectations
from monitor.store.tables import ALERTS, DETECT_DIRTY, ORDERS, SHIPMENTS
from tests.conftest import TABLES
from tests.support.claims import (
    NOW,
    book,
    expire_leases,
    open_per_fingerprint,
    opened_per_fingerprint,
    remove_order_and_parcel,
    still_claimed,
)
from tests.support.config import make_config

pytestmark = pytest.mark.postgres
CONFIG = make_config(daemon={"detect_batch_size": 50, "detect_lease_seconds": 5})
OWNER = "a:1:settle"


@pytest.fixture
def store(_postgres_engine: Engine) -> Iterator[Engine]:
    """The PostgreSQL store, emptied, with six parcels (three stalled) and their orders."""
    with _postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    book(_postgres_engine, CONFIG, 0, 6)
    yield _postgres_engine


def read(engine: Engine, claim: Claim) -> Batch:
    """What `batches` reads for a claim: its marks, then its rows."""
    parcels = load_due_parcels(engine, NOW, claim.shipments)
    return Batch(read_marks(engine, claim), parcels, load_due_orders(engine, NOW, claim.orders),
                 claim)  # fmt: skip


def apply(engine: Engine, batch: Batch) -> TickResult:
    result = TickResult(incremental=True)
    judge_batch(engine, CONFIG, NOW, load_lane_expectations(engine), batch, result)
    return result


def unsettled(engine: Engine) -> int:
    """Rows whose due moment was never written."""
    with engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).where(t.c.due_at.is_(None))).scalar_one())
            for t in (SHIPMENTS, ORDERS)
        )


def assert_settled_once(engine: Engine, drifted_cells: int = 0) -> None:
    assert still_claimed(engine) == 0 and unsettled(engine) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DETECT_DIRTY)).scalar_one() == 0
    opened = opened_per_fingerprint(engine)
    assert len(opened) == 3 and set(opened.values()) == {1}  # the three stalled parcels
    assert open_per_fingerprint(engine) == dict.fromkeys(opened, 1)
    found = reconcile(engine, CONFIG, NOW)
    assert found is not None and found.differences == drifted_cells
    assert reconcile(engine, CONFIG, NOW).differences == 0  # type: ignore[union-attr]


def test_a_row_deleted_before_its_batch_read_it_is_settled_as_gone(store: Engine) -> None:
    claim = claim_due(store, NOW, OWNER, lease_seconds=600, limit=50)
    assert len(claim.shipments) == 6 and len(claim.orders) == 6
    order, parcel = remove_order_and_parcel(store, 0)  # a recent parcel: no alert
    batch = read(store, claim)
    assert parcel not in set(batch.parcels["shipment_id"]) and len(batch.parcels) == 5
    assert order not in set(batch.orders["sales_order_id"]) and len(batch.orders) == 5
    result = apply(store, batch)  # no LeaseLost: nobody took the deleted rows over
    assert (result.parcels, result.orders, result.opened) == (5, 5, 3)
    assert_settled_once(store)


def test_a_row_deleted_after_its_batch_read_it_is_settled_as_gone(store: Engine) -> None:
    claim = claim_due(store, NOW, OWNER, lease_seconds=600, limit=50)
    batch = read(store, claim)
    assert len(batch.parcels) == 6 and len(batch.orders) == 6
    remove_order_and_parcel(store, 2)  # judged, then gone before the settle
    result = apply(store, batch)
    assert (result.parcels, result.orders, result.opened) == (6, 6, 3)
    # The batch counted the parcel in its incident cell as it judged it: a deletion behind
    # the daemon's back (nothing in parcelwatch deletes a parcel) is the reconciliation's to
    # find and repair.
    assert_settled_once(store, drifted_cells=1)


def test_a_row_taken_over_is_a_lost_lease_beside_a_deleted_one(store: Engine) -> None:
    claim = claim_due(store, NOW, OWNER, lease_seconds=600, limit=50)
    batch = read(store, claim)
    expire_leases(store, OWNER)
    remove_order_and_parcel(store, 0)
    other = claim_due(store, NOW, "b:2:settle", lease_seconds=600, limit=50)
    assert len(other.shipments) == 5 and len(other.orders) == 5  # the rest, taken over
    with pytest.raises(LeaseLost, match="5 of 5 shipment rows"):
        apply(store, batch)
    with store.connect() as conn:  # rolled back whole: no alert, no due moment
        assert conn.execute(select(func.count()).select_from(ALERTS)).scalar_one() == 0
    assert unsettled(store) == 10
    with store.connect() as conn:  # every row left is still the new holder's
        for table in (SHIPMENTS, ORDERS):
            owners = set(conn.execute(select(table.c.detect_owner)).scalars())
            assert owners == {other.owner}
