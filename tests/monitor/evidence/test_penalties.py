"""A penalty export with known truth (tests/support/evidence.py: each order's fate and the
judgement it must get), on SQLite and PostgreSQL: every line classified as it should be, the
amounts per class, a second import adding nothing, bad lines reported by number, the zip of
packs holding exactly the contestable lines, and the carrier's share in the scorecard."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.config import PenaltiesConfig
from monitor.daemon.service import Daemon
from monitor.evidence.documents import bundle, contestable_packs, report_csv
from monitor.evidence.pack import verify
from monitor.evidence.penalties import (
    PenaltyKind,
    carrier_costs,
    judge_lines,
    kind_of,
    store_lines,
    stored_lines,
)
from monitor.ingest.files import FileUnreadable
from monitor.ingest.penalty_file import parse_penalties, read_penalties
from monitor.scorecard import build_scorecard
from monitor.scorecard.render import as_dict, to_markdown
from tests.support.evidence import CASES, NOW, UNKNOWN_LINES, penalty_export, shop


@pytest.fixture
def daemon(engine: Engine, tmp_path: Path) -> Daemon:
    url = engine.url.render_as_string(hide_password=False)
    return shop(tmp_path, None if engine.dialect.name == "sqlite" else url)


def imported(daemon: Daemon, tmp_path: Path) -> list:  # type: ignore[type-arg]
    read = read_penalties(penalty_export(tmp_path / "违规.csv"), daemon.ctx.config.penalties)
    assert read.errors == []
    store_lines(daemon.engine, read.lines, NOW)
    return judge_lines(daemon.engine, daemon.ctx.config, stored_lines(daemon.engine), NOW)


def test_every_line_gets_its_known_judgement(daemon: Daemon, tmp_path: Path) -> None:
    judged = imported(daemon, tmp_path)
    got = {(j.penalty["order_id"], j.penalty["kind_text"]): j for j in judged}
    for case in CASES:
        line = got[(case.order_id, case.charge)]
        assert line.outcome.value == case.outcome, (case, line.verdict)
        assert line.verdict.at_fault == case.at_fault, (case, line.verdict)
    for order_id, charge, _ in UNKNOWN_LINES:
        assert got[(order_id, charge)].outcome.value == "unknown"
    totals: dict[str, float] = {}
    for line in judged:
        totals[line.outcome.value] = totals.get(line.outcome.value, 0) + line.amount
    assert totals == {"contestable": 26.0, "fair": 28.0, "unknown": 13.0}


def test_a_second_import_adds_nothing(daemon: Daemon, tmp_path: Path) -> None:
    path = penalty_export(tmp_path / "export.csv")
    read = read_penalties(path, PenaltiesConfig())
    assert store_lines(daemon.engine, read.lines, NOW) == (8, 0)
    assert store_lines(daemon.engine, read_penalties(path, PenaltiesConfig()).lines, NOW) == (0, 8)
    assert len(stored_lines(daemon.engine)) == 8


def test_the_zip_holds_a_verifiable_pack_per_contestable_line(
    daemon: Daemon, tmp_path: Path
) -> None:
    judged = imported(daemon, tmp_path)
    config = daemon.ctx.config
    data = bundle(contestable_packs(judged, config, NOW), report_csv(judged, config))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        packs = {n: archive.read(n) for n in names if n.endswith(".zip")}
        index = archive.read("penalties.csv").decode("utf-8-sig")
    assert sorted(packs) == [
        "evidence-pinduoduo-P1-late_shipment.zip",
        "evidence-pinduoduo-P3-fake_shipment.zip",
        "evidence-pinduoduo-P6-late_shipment.zip",
    ]
    for pack in packs.values():
        assert verify(pack) == []
    assert index.count("\n") == 1 + len(CASES) + len(UNKNOWN_LINES)
    assert "揽收扫描 11-25 18:00，在运单号 ZT1004 上传（11-24 12:00）后 30 小时" in index


def test_the_scorecard_charges_the_carrier_for_its_late_pickups(
    daemon: Daemon, tmp_path: Path
) -> None:
    judged = imported(daemon, tmp_path)
    assert carrier_costs(judged) == {("zto", "四川"): (1, 5.0)}
    card = build_scorecard(daemon.engine, daemon.ctx.config, "2026-W48", NOW)
    assert as_dict(card)["penalties"] == [
        {"carrier": "zto", "province": None, "lines": 1, "yuan": 5.0},
        {"carrier": "zto", "province": "四川", "lines": 1, "yuan": 5.0},
    ]
    assert "Penalties charged for the carrier's lateness" in to_markdown(card)
    rows = card.rows
    national = rows[(rows["carrier"] == "zto") & rows["province"].isna()]
    assert national["penalty_yuan"].tolist() == [5.0]


def test_bad_lines_are_reported_by_number_and_the_rest_read() -> None:
    text = ("订单号,违规类型,金额,时间\nA1,延迟发货,3.00,2026-11-27 10:00\n,延迟发货,3,\n"
            "A2,虚假发货,二十,2026-11-27\nA3,虚假发货,-20.00,\nA4,,3,\n")  # fmt: skip
    read = parse_penalties(text.encode(), Path("x.csv"), PenaltiesConfig(), "pinduoduo")
    assert [(line.order_id, line.amount) for line in read.lines] == [("A1", 3.0), ("A3", 20.0)]
    assert read.errors == [(3, "order_id: empty"), (4, "amount: not a number: '二十'"),
                           (6, "kind: empty")]  # fmt: skip
    assert all(line.platform == "pinduoduo" for line in read.lines)


def test_a_file_without_the_needed_columns_is_refused_whole() -> None:
    with pytest.raises(FileUnreadable, match="no column for amount"):
        parse_penalties("订单号,违规类型\nA1,延迟发货\n".encode(), Path("x.csv"),
                        PenaltiesConfig())  # fmt: skip


def test_the_config_names_further_headers_and_wordings() -> None:
    config = PenaltiesConfig(columns={"order_id": ["店铺订单"], "amount": ["扣罚"]},
                             kinds={"物流异常扣款": "late_pickup"})  # fmt: skip
    text = "店铺订单,违规类型,扣罚,平台\nX1,物流异常扣款,5,抖音\n"
    (line,) = parse_penalties(text.encode(), Path("dy.csv"), config).lines
    assert (line.order_id, line.kind, line.amount, line.platform) == (
        "X1", PenaltyKind.LATE_PICKUP, 5.0, "douyin")  # fmt: skip


@pytest.mark.parametrize(("text", "kind"), [
    ("虚假发货超时", PenaltyKind.FAKE_SHIPMENT),  # contains 发货超时, but is the fake one
    ("揽收超时赔付", PenaltyKind.LATE_PICKUP),
    ("延迟发货", PenaltyKind.LATE_SHIPMENT),
    ("发货超时", PenaltyKind.LATE_SHIPMENT),
    ("Late shipment", PenaltyKind.LATE_SHIPMENT),
    ("虚假签收", PenaltyKind.OTHER),
])  # fmt: skip
def test_the_platforms_wordings(text: str, kind: PenaltyKind) -> None:
    assert kind_of(text) is kind
