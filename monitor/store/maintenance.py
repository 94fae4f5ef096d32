"""Maintenance windows made through the API, kept in the store (`maintenance_window`) so that
they outlive a restart and are shared by every replica. The config's `[[maintenance]]` are the
others; detection judges by both (docs/rules.md "Maintenance windows")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update

from monitor.maintenance import MaintenanceWindow
from monitor.store.tables import MAINTENANCE

M = MAINTENANCE.c
# How long an ended window still matters: longer than any clock it pauses (lost after 7 days)
# and than the incident baselines' 28 days.
ENDED_KEPT = timedelta(days=60)


@dataclass(frozen=True)
class StoredWindow:
    id: int
    window: MaintenanceWindow
    created_by: str
    created_at: datetime
    ended_at: datetime | None


def as_config(window: MaintenanceWindow) -> dict[str, Any]:
    """The window as `[[maintenance]]` would write it (and as the API takes it)."""
    values = window.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    for key, value in (("from", window.from_), ("to", window.to)):
        if isinstance(value, time):
            values[key] = value.strftime("%H:%M")
    values.setdefault("timezone", window.timezone)
    return values


def _stored(row: Any) -> StoredWindow:
    return StoredWindow(
        int(row.id),
        MaintenanceWindow.model_validate(row.window),
        row.created_by,
        row.created_at,
        row.ended_at,
    )


def add_window(engine: Engine, window: MaintenanceWindow, by: str, now: datetime) -> StoredWindow:
    with engine.begin() as conn:
        row = conn.execute(
            insert(MAINTENANCE)
            .values(window=as_config(window), created_by=by, created_at=now)
            .returning(MAINTENANCE)
        ).one()
    return _stored(row)


def end_window(engine: Engine, window_id: int, now: datetime) -> StoredWindow | None:
    """Ends it now (its past stretches still paused the clocks they paused); None: no such
    window, or already ended."""
    with engine.begin() as conn:
        row = conn.execute(
            update(MAINTENANCE)
            .where(M.id == window_id, M.ended_at.is_(None))
            .values(ended_at=now)
            .returning(MAINTENANCE)
        ).first()
    return _stored(row) if row else None


def list_windows(engine: Engine, ended: bool = False) -> list[StoredWindow]:
    query = select(MAINTENANCE).order_by(M.id)
    if not ended:
        query = query.where(M.ended_at.is_(None))
    with engine.connect() as conn:
        return [_stored(row) for row in conn.execute(query)]


def stored_windows(engine: Engine, now: datetime) -> list[MaintenanceWindow]:
    """The windows detection adds to the config's. One a lead ended stops at that moment
    (`until`): the hours it already paused stay paused, none are added after."""
    query = select(MAINTENANCE).where(or_(M.ended_at.is_(None), M.ended_at > now - ENDED_KEPT))
    with engine.connect() as conn:
        rows = [_stored(row) for row in conn.execute(query.order_by(M.id))]
    return [
        w.window if w.ended_at is None else w.window.model_copy(update={"until": w.ended_at})
        for w in rows
    ]
