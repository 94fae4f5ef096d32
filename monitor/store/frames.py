"""Read a query's result straight into a pandas frame, column by column.

Detection reads every active parcel on every tick. Row-by-row DB-API fetching builds a Python
tuple and an object for every cell (about 4 s per million parcels here); the ADBC drivers hand
over Arrow columns instead (under 1 s), from SQLite and from PostgreSQL (COPY binary) alike.

SQLite needs care: the ADBC driver carries its own copy of the SQLite library, and two copies
of SQLite in one process corrupt each other's POSIX file locks (closing a file in one copy
drops the locks the other holds; see sqlite.org/howtocorrupt.html, "multiple copies of
SQLite linked into the same application"). So SQLite reads run in a small helper process
that hands the Arrow table back through a memory-mapped IPC file. PostgreSQL's driver speaks
libpq and runs in-process. Anything else falls back to pandas over SQLAlchemy.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.sql import Select


class SQLiteReadError(RuntimeError):
    pass


class _SQLiteReader:
    """A long-lived `python -m monitor.store.sqlite_reader`, restarted if it dies."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.store.sqlite_reader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            close_fds=True,  # it must not inherit this process's open SQLite files
        )

    def read(self, database: str, sql: str) -> str:
        request = json.dumps({"database": database, "sql": sql, "spool": _spool_dir()}) + "\n"
        with self._lock:
            for attempt in (1, 2):
                if self._process is not None and self._process.poll() is not None:
                    self.close()  # it exited since the last request
                if self._process is None:
                    self._process = self._start()
                assert self._process.stdin and self._process.stdout
                try:
                    self._process.stdin.write(request)
                    self._process.stdin.flush()
                    line = self._process.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = ""
                if line:
                    break
                self.close()  # it died mid-request (killed, out of memory): once more
                if attempt == 2:
                    raise SQLiteReadError("the SQLite reader process exited without answering")
        reply = json.loads(line)
        if "error" in reply:
            raise SQLiteReadError(f"{database}: {reply['error']}")
        return str(reply["path"])

    def peak_rss_mib(self) -> float | None:
        """The helper's own high-water memory (Linux), while it runs: benchmarks report it
        beside their own, since the parent's RUSAGE_CHILDREN counts the image it forked."""
        process = self._process
        if process is None or process.poll() is not None:
            return None
        return high_water_mib(process.pid)

    def close(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                if self._process.stdin:
                    self._process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None


_reader = _SQLiteReader()
atexit.register(_reader.close)


def high_water_mib(pid: int) -> float | None:
    """A process's high-water resident memory in MiB (Linux `VmHWM`), None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def reader_peak_rss_mib() -> float | None:
    return _reader.peak_rss_mib()


def compile_sql(engine: Engine, statement: Select[Any] | str) -> str:
    if isinstance(statement, str):
        return statement
    return str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _spool_dir() -> str:
    # tmpfs when the machine has one, so the hand-over never touches a disk.
    return (
        "/dev/shm"
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        else tempfile.gettempdir()
    )


def _read_sqlite(database: str, sql: str) -> pa.Table:
    path = _reader.read(database, sql)
    try:
        # Zero-copy: the table's buffers point into the mapping, which lives as long as they
        # do; unlinking the file now only frees its name.
        return pa.ipc.open_file(pa.memory_map(path)).read_all()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


class _PostgresConnections:
    """Idle ADBC connections to each database, reused: opening one costs about 60 ms (libpq
    start-up, authentication, type catalogue), more than reading a detection batch of a few
    thousand rows. Autocommit, so that an idle connection holds no transaction open; one
    that failed is closed rather than put back."""

    KEEP = 4  # idle connections kept per database (one per concurrent reader is plenty)

    def __init__(self) -> None:
        self._idle: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def read(self, uri: str, sql: str) -> pa.Table:
        import adbc_driver_postgresql.dbapi

        with self._lock:
            idle = self._idle.setdefault(uri, [])
            conn = idle.pop() if idle else None
        if conn is None:
            conn = adbc_driver_postgresql.dbapi.connect(uri, autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                table: pa.Table = cursor.fetch_arrow_table()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        with self._lock:
            idle = self._idle.setdefault(uri, [])
            if len(idle) < self.KEEP:
                idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        return table

    def close(self) -> None:
        with self._lock:
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


_postgres = _PostgresConnections()
atexit.register(_postgres.close)


def _read_postgresql(engine: Engine, sql: str) -> pa.Table:
    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return _postgres.read(uri, sql)


def reads_in_another_process(engine: Engine) -> bool:
    """Whether `read_frame` has a helper process read and decode (an SQLite file), so that
    this process may judge one piece of the book while the helper reads the next. An
    in-memory SQLite store is seen by one connection only; PostgreSQL's rows are decoded
    here, with the server on the same cores (measured there: 0.4 s saved of a 5.2 s
    reconciliation for 170 MiB more)."""
    url = engine.url
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def read_frame(
    engine: Engine,
    statement: Select[Any] | str,
    time_columns: Iterable[str] = (),
    categories: Iterable[str] = (),
) -> pd.DataFrame:
    """The rows of `statement` as a frame; `time_columns` (UTCDateTime columns) come back as
    datetime64[us, UTC] whatever the backend stores; `categories` (low-cardinality text:
    status, carrier, province ...) come back as pandas Categoricals, dictionary-encoded in
    Arrow, so that the rules compare small integer codes instead of a million strings."""
    sql = compile_sql(engine, statement)
    url = engine.url
    backend = url.get_backend_name()
    times = list(time_columns)
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        table = _read_sqlite(os.path.abspath(str(url.database)), sql)
    elif backend == "postgresql":
        table = _read_postgresql(engine, sql)
    else:
        with engine.connect() as conn:
            frame = pd.read_sql_query(sql, conn)
        for column in times:
            frame[column] = as_utc_times(frame[column])
        for column in categories:
            frame[column] = frame[column].astype("category")
        return frame
    table = _with_utc_times(table, times)
    for name in categories:
        index = table.schema.get_field_index(name)
        column = table.column(index)
        if column.null_count == len(column) and not pa.types.is_string(column.type):
            # NULL in every row: SQLite's reader guesses a numeric type; it is still text.
            column = pa.nulls(len(column), pa.string())
        if not pa.types.is_dictionary(column.type):
            table = table.set_column(index, name, column.dictionary_encode())
    return table.to_pandas()


def _with_utc_times(table: pa.Table, columns: list[str]) -> pa.Table:
    """Integer microseconds (SQLite, see store/types.py) become UTC timestamps in Arrow, a
    zero-copy cast; an all-NULL column (typed null) becomes an all-null timestamp column."""
    target = pa.timestamp("us", tz="UTC")
    for name in columns:
        index = table.schema.get_field_index(name)
        column = table.column(index)
        if pa.types.is_timestamp(column.type):
            cast = column.cast(target)
        elif pa.types.is_null(column.type):
            cast = pa.nulls(len(column), target)
        else:
            cast = column.cast(pa.int64()).cast(target)
        table = table.set_column(index, name, cast)
    return table


def as_utc_times(values: pd.Series) -> pd.Series:
    """SQLite hands back integer microseconds (see store/types.py), PostgreSQL timestamptz."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    numbers = pd.to_numeric(values.astype(object), errors="raise")
    return pd.to_datetime(numbers, unit="us", utc=True).astype("datetime64[us, UTC]")
