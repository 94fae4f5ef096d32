"""`parcelwatch evidence` and `parcelwatch penalties import|report` as a lead runs them, on a
store the daemon filled from real webhook pushes."""

from __future__ import annotations

import io
import sys
import types
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.support.evidence import penalty_export, shop


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shop(tmp_path)
    (tmp_path / "parcelwatch.toml").write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "pw.db"}"\n\n[[warehouses]]\nid = "hz1"\n'
        "\n[platforms.pinduoduo]\nship_promise_hours = 48\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCELWATCH_DATABASE_URL", raising=False)
    return tmp_path


def test_evidence_writes_a_pack_and_verify_checks_it(workdir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["evidence", "P3", "--format", "zip"])
    assert result.exit_code == 0, result.output
    pack = workdir / "evidence-pinduoduo-P3.zip"
    assert pack.is_file()
    checked = runner.invoke(main, ["evidence", "--verify", str(pack)])
    assert checked.exit_code == 0 and "every file matches" in checked.output
    with zipfile.ZipFile(pack) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["evidence.pdf"] = b"%PDF-1.7 forged"
    with zipfile.ZipFile(pack, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    forged = runner.invoke(main, ["evidence", "--verify", str(pack)])
    assert forged.exit_code == 1 and "evidence.pdf: SHA-256" in forged.output


def test_evidence_as_pdf_html_and_for_one_charge(workdir: Path) -> None:
    runner = CliRunner()
    pdf = runner.invoke(main, ["evidence", "P1", "--out", "p1.pdf"])
    assert pdf.exit_code == 0 and (workdir / "p1.pdf").read_bytes().startswith(b"%PDF-")
    html = runner.invoke(main, ["evidence", "P4", "--format", "html", "--kind", "late_pickup",
                                "--lang", "en", "--out", "p4.html"])  # fmt: skip
    assert html.exit_code == 0
    page = (workdir / "p4.html").read_text(encoding="utf-8")
    assert "<strong>fair</strong>: pickup scan 11-25 18:00" in page


def test_evidence_for_an_unknown_order_says_so(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["evidence", "NOPE"])
    assert result.exit_code == 1 and "no order 'NOPE'" in result.output


def test_penalties_import_then_report(workdir: Path) -> None:
    runner = CliRunner()
    export = penalty_export(workdir / "拼多多违规.csv")
    first = runner.invoke(main, ["penalties", "import", str(export), "--platform", "pinduoduo"])
    assert first.exit_code == 0, first.output
    assert "8 lines: 8 new, 0 already imported, 0 rejected" in first.output
    assert "charge type '虚假签收' is not one parcelwatch judges" in first.output
    again = runner.invoke(main, ["penalties", "import", str(export), "--platform", "pinduoduo"])
    assert "0 new, 8 already imported" in again.output
    # Without --platform, a line takes its order's platform from the store: only the line of
    # the order the store does not hold cannot be told from the first import's.
    unnamed = runner.invoke(main, ["penalties", "import", str(export)])
    assert "1 new, 7 already imported" in unnamed.output
    report = runner.invoke(main, ["penalties", "report", "--out", "packs.zip"])
    assert report.exit_code == 0, report.output
    assert "contestable: 3 lines, ¥26.00" in report.output
    assert "fair: 3 lines, ¥28.00" in report.output
    assert "unknown: 3 lines, ¥16.00" in report.output
    with zipfile.ZipFile(io.BytesIO((workdir / "packs.zip").read_bytes())) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".zip")]) == 3


def test_penalties_import_refuses_a_file_it_cannot_read(workdir: Path) -> None:
    (workdir / "bad.csv").write_text("订单号,备注\nA1,x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["penalties", "import", "bad.csv"])
    assert result.exit_code == 2 and "no column for kind" in result.output


def test_without_pango_the_pdf_command_says_what_to_install(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = types.ModuleType("weasyprint")
    broken.__getattr__ = _no_pango  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "weasyprint", broken)
    result = CliRunner().invoke(main, ["evidence", "P1"])
    assert result.exit_code == 1 and "libpango-1.0-0" in result.output
    assert not (workdir / "evidence-pinduoduo-P1.pdf").exists()
    html = CliRunner().invoke(main, ["evidence", "P1", "--format", "html"])
    assert html.exit_code == 0


def _no_pango(name: str) -> object:
    raise OSError("cannot load library 'libpango-1.0-0': not found")
