"""Property test: any bytes as an import file give a file-level error (FileUnreadable, exit 2)
or rows, each either values or a row error with its line; the reader never raises anything
else, and the line numbers it reports exist in the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.ingest.files import FileUnreadable, open_rows

HEADER = "order_id,warehouse,paid_at,address\n"
cells = st.text(alphabet=st.sampled_from(list('ab,"\n\r 杭州\x00;')), max_size=40)
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def read(data: bytes, suffix: str = ".csv") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(data)
        try:
            source = open_rows(path)
        except FileUnreadable:
            return
        lines = data.count(b"\n") + 1
        for row in source.rows:
            assert 1 <= row.line <= lines
            assert row.error is None or isinstance(row.error, str)


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_rows_or_a_file_error(data: bytes) -> None:
    read(data)
    read(data, ".jsonl")


@SETTINGS
@given(st.lists(cells, max_size=12), st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]))
def test_arbitrary_csv_text_is_rows_or_a_file_error(rows: list[str], encoding: str) -> None:
    read((HEADER + "\n".join(rows)).encode(encoding, errors="replace"))
