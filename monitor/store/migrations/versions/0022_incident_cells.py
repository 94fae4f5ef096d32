"""Incident cells: what each parcel counts for in the carrier and hub incidents, and the counts
per cell, so that every incremental tick judges the incidents without reading the book
(docs/architecture.md "Incident cells"; monitor/store/incident_cells.py)

`incident_member` (one row per parcel that counts in a carrier x province or carrier x hub
cell, with since when it is stalled or delayed) and `incident_cell` (the sums per cell) are
written by detection alone, in its own transactions. The partial indexes on the since columns
hold only the stalled and delayed parcels, so a cell's earliest trouble is an index read.

Both start empty. The stored config fingerprint is forgotten, so the first incremental tick
after the upgrade makes every row it still judges due and judges the whole book once
(docs/architecture.md "Incremental detection"), which fills them; until then nothing in them
is read as true.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.store.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# (name, place column, since column): a cell's parcels in the order of their trouble.
SINCE_INDEXES = (
    ("ix_incident_member_province_stalled", "province", "stalled_since"),
    ("ix_incident_member_province_delayed", "province", "delayed_since"),
    ("ix_incident_member_hub_stalled", "hub", "stalled_since"),
)


def upgrade() -> None:
    op.create_table(
        "incident_member",
        sa.Column(
            "shipment_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("carrier", sa.String(), nullable=False),
        sa.Column("province", sa.String(), nullable=True),
        sa.Column("hub", sa.String(), nullable=True),
        sa.Column("in_hands", sa.Boolean(), nullable=False),
        sa.Column("stalled_since", UTCDateTime(), nullable=True),
        sa.Column("delayed_since", UTCDateTime(), nullable=True),
    )
    for name, place, since in SINCE_INDEXES:
        where = sa.text(f"{since} IS NOT NULL AND {place} IS NOT NULL")
        op.create_index(name, "incident_member", ["carrier", place, since],
                        sqlite_where=where, postgresql_where=where)  # fmt: skip
    op.create_table(
        "incident_cell",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("carrier", sa.String(), nullable=False),
        sa.Column("place", sa.String(), nullable=False),
        sa.Column("parcels", sa.BigInteger(), nullable=False),
        sa.Column("stalled", sa.BigInteger(), nullable=False),
        sa.Column("delayed", sa.BigInteger(), nullable=False),
        sa.Column("affected", sa.BigInteger(), nullable=False),
    )
    # SQLite adds to one row per cell in place (a unique key for ON CONFLICT); PostgreSQL's
    # replicas append rows that the tick's keeper folds, so that no batch waits for another's
    # lock on a busy cell (monitor/store/incident_cells.py).
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_index("ix_incident_cell_key", "incident_cell", ["scope", "carrier", "place"],
                    unique=sqlite)  # fmt: skip
    op.execute("DELETE FROM detect_state WHERE key = 'context'")


def downgrade() -> None:
    op.drop_index("ix_incident_cell_key", table_name="incident_cell")
    op.drop_table("incident_cell")
    for name, _, _ in SINCE_INDEXES:
        op.drop_index(name, table_name="incident_member")
    op.drop_table("incident_member")
