"""carrier_answer_number (the tracking numbers each kept answer speaks of) and penalty (lines
of the platforms' penalty exports)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 02:40:00

Answers kept before this revision are linked to their parcels here: every number-like token
of a body (after URL-decoding a form-encoded Kuaidi100 push) that is a stored tracking number.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op

from monitor.store.raw_answers import numbers_in
from monitor.store.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "carrier_answer_number",
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("tracking_number", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "tracking_number"),
    )
    op.create_index(
        "ix_carrier_answer_number_tracking_number", "carrier_answer_number", ["tracking_number"]
    )
    op.create_table(
        "penalty",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("kind_text", sa.String(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("charged_at", UTCDateTime(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("line_hash", sa.String(), nullable=False, unique=True),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_penalty_order_id", "penalty", ["order_id"])
    _link_kept_answers(op.get_bind())


def _link_kept_answers(conn: sa.Connection) -> None:
    last_id = 0
    links = sa.table("carrier_answer_number", sa.column("sha256"), sa.column("tracking_number"))
    while True:
        rows = conn.execute(
            sa.text("SELECT id, sha256, body FROM carrier_answer WHERE id > :last ORDER BY id "
                    "LIMIT :n"), {"last": last_id, "n": BATCH},
        ).all()  # fmt: skip
        if not rows:
            return
        last_id = rows[-1].id
        tokens = {row.sha256: numbers_in(zlib.decompress(row.body)) for row in rows}
        wanted = sorted(set().union(*tokens.values()))
        known: set[str] = set()
        for i in range(0, len(wanted), 1000):
            known.update(
                conn.execute(
                    sa.text("SELECT tracking_number FROM shipment WHERE tracking_number IN :n")
                    .bindparams(sa.bindparam("n", expanding=True)),
                    {"n": wanted[i : i + 1000]},
                ).scalars()
            )  # fmt: skip
        found = [{"sha256": sha, "tracking_number": number}
                 for sha, numbers in tokens.items() for number in sorted(numbers & known)]  # fmt: skip
        if found:
            op.bulk_insert(links, found)


def downgrade() -> None:
    op.drop_index("ix_penalty_order_id", table_name="penalty")
    op.drop_table("penalty")
    op.drop_index("ix_carrier_answer_number_tracking_number", table_name="carrier_answer_number")
    op.drop_table("carrier_answer_number")
