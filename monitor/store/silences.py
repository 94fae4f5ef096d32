"""Silences in the store (the model and its matching are alerts/silences.py): make one, list
them, end one early, and release what an ended silence held.

Releasing runs at the start of every detection tick, in one transaction: each silence that
has ended and not been released announces the alerts it held that are still open (unless
another silence now holds them), once, with an idempotency key per (alert, silence), so a
crash in the middle releases them on the next tick and never twice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from alerts.silences import Silence, SilenceError, check_matchers, silencing
from monitor.store.announce import announce
from monitor.store.tables import ALERTS, SILENCES

S, A = SILENCES.c, ALERTS.c


def _silence(row: Any) -> Silence:
    return Silence(row.id, dict(row.matchers or {}), row.starts_at, row.ends_at,
                   row.reason or "", row.created_by or "",
                   {"created_at": row.created_at, "released_at": row.released_at})  # fmt: skip


def create_silence(
    engine: Engine,
    matchers: Mapping[str, Any],
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str,
    now: datetime,
) -> Silence:
    cleaned = check_matchers(matchers)
    if ends_at <= starts_at:
        raise SilenceError("ends_at", "the end must come after the start")
    if ends_at <= now:
        raise SilenceError("ends_at", "the end is already past")
    if not reason.strip():
        raise SilenceError("reason", "say why (it is shown on every alert it holds)")
    with engine.begin() as conn:
        sid = conn.execute(
            insert(SILENCES)
            .values(
                matchers=cleaned,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason.strip(),
                created_by=created_by,
                created_at=now,
            )
            .returning(S.id)
        ).scalar_one()
        row = conn.execute(select(SILENCES).where(S.id == sid)).one()
    return _silence(row)


def list_silences(engine: Engine, now: datetime, *, ended: bool = False) -> list[Silence]:
    query = select(SILENCES).order_by(S.id)
    if not ended:
        query = query.where(S.ends_at > now)
    with engine.connect() as conn:
        return [_silence(r) for r in conn.execute(query)]


def end_silence(engine: Engine, silence_id: int, now: datetime) -> Silence | None:
    """End it now (its alerts are announced on the next tick); None if there is no such
    silence. Ending one that has ended already changes nothing."""
    with engine.begin() as conn:
        conn.execute(
            update(SILENCES).where(S.id == silence_id, S.ends_at > now).values(ends_at=now)
        )
        row = conn.execute(select(SILENCES).where(S.id == silence_id)).first()
    return _silence(row) if row else None


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    rows = conn.execute(select(SILENCES).where(S.starts_at <= now, S.ends_at > now).order_by(S.id))
    return [_silence(r) for r in rows]


def release_ended(engine: Engine, now: datetime) -> int:
    """Announce what ended silences held; returns the number of alerts announced."""
    announced = 0
    with engine.begin() as conn:
        ended = list(conn.execute(
            select(SILENCES).where(S.ends_at <= now, S.released_at.is_(None)).order_by(S.id)
        ))  # fmt: skip
        if not ended:
            return 0
        active = active_silences(conn, now)
        for row in ended:
            held = conn.execute(select(ALERTS).where(A.silenced_by == row.id))
            for alert in (dict(r._mapping) for r in held):
                if alert["state"] == "resolved":
                    holder = None
                else:
                    next_silence = silencing(active, alert, now)
                    holder = next_silence.id if next_silence else None
                conn.execute(update(ALERTS).where(A.id == alert["id"]).values(silenced_by=holder))
                if alert["state"] == "resolved" or holder is not None:
                    continue
                if alert.get("inhibited_by") is not None:
                    continue  # an open incident still holds it; its release announces it
                announced += 1
                announce(
                    conn,
                    alert,
                    "opened",
                    now,
                    f"released-{row.id}",
                    extra={"released_from_silence": row.id},
                    action="unsilenced",
                    note=f"#{row.id}",
                )
            conn.execute(update(SILENCES).where(S.id == row.id).values(released_at=now))
    return announced
