"""The store side of signing in: server-side sessions (created at sign-in, ended at sign-out,
expired after a working day) and the throttle on failed sign-ins.

Throttle: a user key (`user:<name>`) may fail FREE_FAILURES times, an address key
(`addr:<ip>`) FREE_FAILURES_PER_ADDRESS times (a warehouse's leads often share one address
behind NAT: one person's typos must not lock the others out); every further failure locks the
key for twice as long as the last, from LOCK_BASE up to LOCK_MAX. While a key is locked the
password is not even checked, so a guessed password does not work "at once" after a run of
wrong ones. A success clears the user's key (not the address's: one address may be guessing
many names).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.tables import LOGIN_THROTTLE, WEB_SESSIONS

FREE_FAILURES = 5
FREE_FAILURES_PER_ADDRESS = 20
LOCK_BASE = timedelta(seconds=30)
LOCK_MAX = timedelta(minutes=15)
S, T = WEB_SESSIONS.c, LOGIN_THROTTLE.c


def create_session(engine: Engine, user: str, now: datetime, lifetime: timedelta) -> str:
    sid = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(WEB_SESSIONS).where(S.expires_at < now))  # keep the table small
        conn.execute(
            WEB_SESSIONS.insert().values(
                id=sid, user=user, created_at=now, expires_at=now + lifetime
            )
        )
    return sid


def session_user(engine: Engine, sid: str, now: datetime) -> str | None:
    """The user of a live session, else None (ended, expired or never made)."""
    with engine.connect() as conn:
        row = conn.execute(select(S.user, S.expires_at).where(S.id == sid)).first()
    if row is None or row.expires_at <= now:
        return None
    return str(row.user)


def end_session(engine: Engine, sid: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(WEB_SESSIONS).where(S.id == sid))


def end_sessions_of(engine: Engine, user: str) -> int:
    with engine.begin() as conn:
        return conn.execute(delete(WEB_SESSIONS).where(S.user == user)).rowcount or 0


def locked_until(engine: Engine, keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest lock among `keys` still in force, if any."""
    with engine.connect() as conn:
        rows = conn.execute(select(T.locked_until).where(T.key.in_(list(keys))))
        locks = [r.locked_until for r in rows if r.locked_until is not None]
    active = [lock for lock in locks if lock > now]
    return max(active) if active else None


def record_failure(engine: Engine, keys: Sequence[str], now: datetime) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        for key in keys:
            stmt = dialect.insert(LOGIN_THROTTLE).values(
                key=key, failures=0, locked_until=None, updated_at=now
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
            failures = conn.execute(
                update(LOGIN_THROTTLE)
                .where(T.key == key)
                .values(failures=T.failures + 1, updated_at=now)
                .returning(T.failures)
            ).scalar_one()
            free = FREE_FAILURES_PER_ADDRESS if key.startswith("addr:") else FREE_FAILURES
            if failures > free:
                wait = min(LOCK_BASE * 2 ** min(failures - free - 1, 20), LOCK_MAX)
                conn.execute(
                    update(LOGIN_THROTTLE).where(T.key == key).values(locked_until=now + wait)
                )


def clear_failures(engine: Engine, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(LOGIN_THROTTLE).where(T.key == key))
