"""`parcelwatch scorecard`: JSON on stdout, a file in the format of its suffix, exit 2 for a bad
week."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.support.scorecard import (
    shop,
)


@pytest.fixture
def shop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from monitor.store.db import make_engine, upgrade

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCELWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARCELWATCH_CONFIG", raising=False)
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n\n[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n'
        "\n[scorecard]\nmin_parcels = 10\nweights = { on_time = 40, speed = 20, stall = 10,"
        " loss = 15, damage = 10, pickup = 5 }\n",
        encoding="utf-8",
    )
    engine = make_engine("sqlite:///pw.db")
    upgrade(engine)
    shop(engine)
    engine.dispose()
    return tmp_path


def test_cli_prints_json(shop_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["scorecard", "--week", "2026-W47", "--format", "json", "--at", "2026-12-15T10:00"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["week", "rows", "recommendations", "penalties"]
    assert data["week"] == "2026-W47" and data["rows"] and data["recommendations"]


def test_cli_writes_a_file_in_the_format_of_its_suffix(shop_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["scorecard", "--week", "2026-W47", "--out", "report.html", "--at", "2026-12-15"]
    )
    assert result.exit_code == 0, result.output
    assert (shop_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-47", "2026-W47"),
        ("2025-W53", "no ISO week"),
        ("2027-W10", "not started"),
    ],
)
def test_cli_rejects_a_bad_week_with_exit_2(shop_dir: Path, week: str, message: str) -> None:
    result = CliRunner().invoke(main, ["scorecard", "--week", week, "--at", "2026-12-15"])
    assert result.exit_code == 2
    assert message in result.output
