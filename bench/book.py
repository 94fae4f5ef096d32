"""Loading a benchmark's generated book into the store's tables with the stdlib driver.

The generators produce one row per order in the shape an ERP export has (order fields, and the
parcel's carrier, tracking number and scan times when it has shipped). `insert_orders` writes
each row as its order in `sales_order` and, when it has a tracking number, its one parcel in
`shipment` with the same id, linked in `order_parcel` (docs/orders-and-parcels.md "The
model"). Equal ids keep the generators' alert rows (which name a row id) pointing at the right
order or parcel. Times are integer microseconds (monitor/store/types.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

ORDER_COLUMNS = (
    "id", "platform", "order_id", "shop", "warehouse", "province", "city", "address", "phone",
    "amount", "paid_at", "ship_deadline_at", "shipped_at", "content_hash", "created_at",
    "updated_at",
)  # fmt: skip
ORDER_ONLY = ("amount", "paid_at", "ship_deadline_at")


def insert_orders(conn: sqlite3.Connection, columns: Sequence[str], rows: Sequence[Any]) -> None:
    """`rows` are tuples in `columns` order; the columns must include id, order_id, paid_at
    and tracking_number."""
    index = {name: i for i, name in enumerate(columns)}
    order_columns = [c for c in ORDER_COLUMNS if c in index]
    conn.executemany(
        f"INSERT INTO sales_order ({', '.join(order_columns)}, content_hash) "
        f"VALUES ({', '.join('?' * len(order_columns))}, '')"
        if "content_hash" not in index
        else f"INSERT INTO sales_order ({', '.join(order_columns)}) "
        f"VALUES ({', '.join('?' * len(order_columns))})",
        [tuple(row[index[c]] for c in order_columns) for row in rows],
    )
    parcel_columns = [c for c in columns if c not in ORDER_ONLY]
    shipped = [row for row in rows if row[index["tracking_number"]] is not None]
    conn.executemany(
        f"INSERT INTO shipment ({', '.join(parcel_columns)}, order_count) "
        f"VALUES ({', '.join('?' * len(parcel_columns))}, 1)",
        [tuple(row[index[c]] for c in parcel_columns) for row in shipped],
    )
    created = index.get("created_at", index["paid_at"])
    conn.executemany(
        "INSERT INTO order_parcel (sales_order_id, shipment_id, linked_at) VALUES (?, ?, ?)",
        [(row[index["id"]], row[index["id"]], row[created]) for row in shipped],
    )
