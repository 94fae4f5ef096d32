"""Carrier push bodies and poll answers kept as received (table `carrier_answer`).

Only pushes whose signature verified and whose body parsed are kept: an unsigned body is
anyone's, and keeping it would let a stranger fill the store. Every poll answer the parser
could read is kept (it came from the API's own address, asked by us). The body is compressed
with zlib (Chinese scan texts in JSON shrink about five times); its SHA-256 identifies it, so
a push the carrier sends again (or an unchanged poll answer) is kept once.

Rows older than the retention are deleted by the first write that finds one more than an hour
past it, in that write's own transaction: whether pruning is due is read from the table itself
(one look-up on the `received_at` index per write), not remembered by the process, so a write
that rolls back leaves the pruning due for the next one, and replicas need not agree on when
it last ran. While bodies keep coming, none outlives the retention by much more than an hour,
and pruning runs about once an hour, not once per write.

Each body is linked to the tracking numbers it speaks of (`carrier_answer_number`), so an
order's evidence pack reads its parcels' bodies by index rather than by opening every body
(docs/evidence-and-penalties.md "Raw bodies in the pack").
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.tables import CARRIER_ANSWER_NUMBERS, CARRIER_ANSWERS

C = CARRIER_ANSWERS.c
N = CARRIER_ANSWER_NUMBERS.c
# Tracking numbers are 6 to 40 letters and digits (SF1234567890123, EA123456789CN, JDVA...).
_NUMBER_LIKE = re.compile(rb"[A-Za-z0-9]{6,40}")
# How far past the retention the oldest body may get before a write prunes: at most one
# pruning an hour, not one per write.
PRUNE_EVERY = timedelta(hours=1)
# Headers a signature may be in; the rest (cookies, proxies' additions) is not kept.
SIGNATURE_HEADERS = ("sign", "aftership-hmac-sha256", "content-type", "user-agent")


@dataclass(frozen=True)
class RawAnswer:
    id: int
    api: str
    received_at: datetime
    sha256: str
    headers: dict[str, str]
    body: bytes  # decompressed
    source: str = "push"  # push | poll


@dataclass(frozen=True)
class RawPush:
    """A verified push, or a poll answer (`source="poll"`), as it arrived, waiting to be
    kept."""

    api: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    source: str = "push"
    numbers: tuple[str, ...] = ()  # the tracking numbers it speaks of

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def keep_raw(
    engine: Engine, pushes: Sequence[RawPush], now: datetime, retention: timedelta
) -> None:
    """Store bodies in one transaction of their own (the poller keeps a round's answers
    before it stores what they say)."""
    if not pushes:
        return
    with engine.begin() as conn:
        keep_raw_in(conn, pushes, now, retention)


def keep_raw_in(
    conn: Connection, pushes: Sequence[RawPush], now: datetime, retention: timedelta
) -> None:
    """Store bodies inside the caller's transaction: the push writer keeps a batch's bodies
    in the transaction that stores what they say, so that a crash keeps both or neither
    (docs/architecture.md "Push ingest")."""
    if not pushes:
        return
    rows = [
        {
            "api": p.api,
            "source": p.source,
            "received_at": p.received_at,
            "sha256": p.sha256,
            "headers": {
                k.lower(): v for k, v in p.headers.items() if k.lower() in SIGNATURE_HEADERS
            },
            "body": zlib.compress(p.body, 6),
        }
        for p in pushes
    ]
    pairs = sorted({(p.sha256, n) for p in pushes for n in p.numbers})
    links = [{"sha256": sha, "tracking_number": number} for sha, number in pairs]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(CARRIER_ANSWERS).on_conflict_do_nothing(index_elements=["sha256"])
    link = dialect.insert(CARRIER_ANSWER_NUMBERS).on_conflict_do_nothing()
    conn.execute(insert, rows)
    if links:
        conn.execute(link, links)
    if _due_for_pruning(conn, now - retention):
        prune_older(conn, now - retention)


def _due_for_pruning(conn: Connection, cutoff: datetime) -> bool:
    """Whether a body is more than PRUNE_EVERY past `cutoff`, as this transaction sees the
    table: a pruning rolled back with its transaction leaves that body, so the next write
    prunes."""
    overdue = select(C.id).where(C.received_at < cutoff - PRUNE_EVERY).limit(1)
    return conn.execute(overdue).first() is not None


def prune_older(conn: Connection, cutoff: datetime) -> None:
    """Delete the bodies received before `cutoff`, with their links to tracking numbers."""
    old = select(C.sha256).where(C.received_at < cutoff)
    conn.execute(delete(CARRIER_ANSWER_NUMBERS).where(N.sha256.in_(old)))
    conn.execute(delete(CARRIER_ANSWERS).where(C.received_at < cutoff))


def raw_answers(
    engine: Engine,
    since: datetime,
    api: str | None = None,
    batch: int = 500,
    source: str | None = None,
) -> Iterator[RawAnswer]:
    """Stored bodies received at or after `since`, oldest first, read in batches."""
    last_id = 0
    while True:
        query = select(CARRIER_ANSWERS).where(C.received_at >= since, C.id > last_id)
        if api is not None:
            query = query.where(C.api == api)
        if source is not None:
            query = query.where(C.source == source)
        with engine.connect() as conn:
            rows = list(conn.execute(query.order_by(C.id).limit(batch)))
        if not rows:
            return
        for row in rows:
            yield RawAnswer(row.id, row.api, row.received_at, row.sha256,
                            dict(row.headers or {}), zlib.decompress(row.body),
                            row.source)  # fmt: skip
        last_id = rows[-1].id


def count_raw(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CARRIER_ANSWERS)).scalar_one())


def numbers_in(body: bytes) -> set[str]:
    """Every number-like token of a body, a form-encoded one (a Kuaidi100 push) decoded
    first: what links answers kept before the links existed to their parcels."""
    if b"%22" in body or b"%7B" in body:
        body = unquote_plus(body.decode("utf-8", "replace")).encode()
    return {token.decode() for token in _NUMBER_LIKE.findall(body)}


def answers_about(engine: Engine, numbers: Iterable[str]) -> dict[str, list[RawAnswer]]:
    """The kept bodies that speak of each of these tracking numbers, oldest first."""
    wanted = sorted(set(numbers))
    found: dict[str, list[RawAnswer]] = {number: [] for number in wanted}
    if not wanted:
        return found
    query = (
        select(N.tracking_number, CARRIER_ANSWERS)
        .select_from(CARRIER_ANSWER_NUMBERS.join(CARRIER_ANSWERS, C.sha256 == N.sha256))
        .where(N.tracking_number.in_(wanted))
        .order_by(C.received_at, C.id)
    )
    with engine.connect() as conn:
        for row in conn.execute(query):
            found[row.tracking_number].append(
                RawAnswer(
                    row.id,
                    row.api,
                    row.received_at,
                    row.sha256,
                    dict(row.headers or {}),
                    zlib.decompress(row.body),
                    row.source,
                )
            )
    return found
