"""`parcelwatch init`, `check-config`, `db upgrade` and `hash-password` (monitor/cli/setup.py):
their output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.support.cli import run


def test_init_then_check_config(workdir: Path) -> None:
    result = run("init", "--out", "example.toml")
    assert result.exit_code == 0
    assert run("init", "--out", "example.toml").exit_code == 2  # no silent overwrite
    checked = run("check-config", "--config", "example.toml")
    assert checked.exit_code == 0, checked.output
    assert "config OK" in checked.output
    assert "stall: in transit" in checked.output
    assert "carrier=ems, province=新疆" in checked.output  # the example's override column
    assert "96 h" in checked.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[warehouses]]\nid = "hz1"\ncutof = "16:00"\n', "warehouses[0].cutof: unknown key"),
        ('[[warehouses]]\nid = "hz1"\ncutoff = "25:00"\n', "warehouses[0].cutoff: expected"),
        ('[[warehouses]]\nid = "hz1"\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ('[[warehouses]]\nid = "hz1"\ncalendar = "lunar"\n', "warehouses[0].calendar"),
        ("[rules]\nlost_after_days = -1\n", "rules.lost_after_days"),
        ('[[rules.override]]\ncarrier = "feimaotui"\n', "unknown carrier 'feimaotui'"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(workdir: Path, text: str, expected: str) -> None:
    (workdir / "bad.toml").write_text(text, encoding="utf-8")
    result = run("check-config", "--config", "bad.toml")
    assert result.exit_code == 2
    assert "bad.toml" in result.output and expected in result.output


def test_missing_named_config_is_an_error(workdir: Path) -> None:
    result = run("check-config", "--config", "nope.toml")
    assert result.exit_code == 2 and "no such file" in result.output


def test_db_upgrade(workdir: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    assert (workdir / "pw.db").exists()
    helps = run("demo", "--help").output
    assert "--speed" in helps and "--port" in helps  # the demo itself: tests/test_e2e.py


def test_hash_password(workdir: Path) -> None:
    from monitor.config import parse_config
    from monitor.web.sessions import check_password

    result = CliRunner().invoke(main, ["hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0
    hashed = result.output.strip().splitlines()[-1]
    auth = parse_config(
        {"auth": {"users": [{"name": "lead", "role": "lead", "password_hash": hashed}]}}
    ).auth
    assert check_password(auth, "lead", "s3cret") is not None
    assert check_password(auth, "lead", "wrong") is None
