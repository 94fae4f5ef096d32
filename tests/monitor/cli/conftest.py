"""A working directory for the CLI tests: a config naming a SQLite store there, and an ERP
export."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import HEADER, ROWS


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCELWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARCELWATCH_CONFIG", raising=False)
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n\n[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n',
        encoding="utf-8",
    )
    (tmp_path / "orders.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return tmp_path
