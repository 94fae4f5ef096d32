"""The helper process that reads SQLite through ADBC (see monitor/store/frames.py for why it
must be a separate process).

Protocol, one JSON object per line: the parent sends {"database", "sql", "spool"}; the helper
answers {"path": <Arrow IPC file>} or {"error": <message>}. It exits when stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile

BATCH_ROWS = "adbc.sqlite.query.batch_rows"
ONE_BATCH = 1 << 30  # the option is a positive 32-bit count


def read_to_ipc(database: str, sql: str, spool: str) -> str:
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    with adbc_driver_sqlite.dbapi.connect(database) as conn, conn.cursor() as cursor:
        # The driver types each column from its first batch (1,024 rows by default): a text
        # column NULL in all of them (sub_reason, last_hub) is typed as integers, and the
        # first string after them fails the whole read. One batch for the whole answer
        # types every column from every row.
        cursor.adbc_statement.set_options(**{BATCH_ROWS: str(ONE_BATCH)})
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    handle, path = tempfile.mkstemp(prefix="parcelwatch-frame-", suffix=".arrow", dir=spool)
    with os.fdopen(handle, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides when we stop (it closes
    # our stdin), so a terminal's interrupt must not kill a read halfway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):  # the parent is gone: nobody to answer
        serve()


def serve() -> None:
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply = {"path": read_to_ipc(request["database"], request["sql"], request["spool"])}
        except Exception as exc:  # every failure goes back to the caller, none kills the loop
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
