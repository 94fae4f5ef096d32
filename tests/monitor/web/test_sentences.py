"""The alert sentence of every kind, in both languages, from the detail its rule writes
(docs/rules.md "Alert kinds and defaults"); and the names of every canonical value."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.model import AlertKind, Severity
from carriers.registry import CARRIERS
from carriers.status import SUB_REASONS, ParcelStatus
from monitor.config import PLATFORMS
from monitor.web.i18n import (
    ACTION_NAMES,
    KIND_NAMES,
    PLATFORM_NAMES,
    STATUS_NAMES,
    SUB_REASON_NAMES,
    TEXT,
    Labels,
)
from monitor.web.sentences import BUILDERS, Facts, history_note, local_time, sentence, span

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 18, 51, tzinfo=SH)


def say(kind: str, detail: dict[str, Any], lang: str, **facts: Any) -> str:
    return sentence(Facts(kind=kind, detail=detail, now=NOW, zone=SH, **facts), lang)


CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("unshipped_past_cutoff", {"due_date": "2026-11-29", "ship_by": "2026-11-29T08:00:00+00:00"},
     {}, "应于 11-29 16:00 前发货，已超 3 小时", "Due to ship by 29 Nov 16:00, 3 h late"),
    ("ship_deadline_at_risk",
     {"deadline": "2026-11-29T15:51:00+00:00", "ship_promise_hours": 48.0}, {},
     "须在 11-29 23:51 前发货，还剩 5 小时（平台时限 48 小时）",
     "Must ship by 29 Nov 23:51, 5 h left (48 h promise)"),
    ("ship_deadline_breached",
     {"deadline": "2026-11-29T08:51:00+00:00", "ship_promise_hours": 48.0,
      "penalty_estimate_yuan": 5.0}, {},
     "应于 11-29 16:51 前发货（平台时限 48 小时），已超 2 小时 · 预计赔付 ¥5",
     "Should have shipped by 29 Nov 16:51 (48 h promise), 2 h late · estimated compensation ¥5"),
    ("no_pickup_scan", {"threshold_hours": 24.0, "penalty_estimate_yuan": 20.0},
     {"since": datetime(2026, 11, 29, 16, 51, tzinfo=SH)},
     "上传运单 26 小时仍无揽收扫描（阈值 24 小时） · 预计赔付 ¥20",
     "No pickup scan 26 h after upload (limit 24 h) · estimated compensation ¥20"),
    ("stalled",
     {"stage": "picked_up", "threshold_hours": 48.0, "last_scan_at": "2026-11-27T06:51:00+00:00"},
     {"last_location": "成都转运中心"},
     "揽收后 52 小时无新轨迹（阈值 48 小时） · 最后：11-27 14:51 成都转运中心",
     "No scan for 52 h since pickup (limit 48 h) · last: 27 Nov 14:51, 成都转运中心"),
    ("stalled",
     {"stage": "available_for_pickup", "threshold_hours": 72.0,
      "last_scan_at": "2026-11-25T18:51:00+00:00"}, {},
     "在驿站/快递柜 3 天 16 小时未取件（阈值 3 天） · 最后：11-26 02:51",
     "Uncollected at a locker for 3 d 16 h (limit 3 d) · last: 26 Nov 02:51"),
    ("delayed", {"expected_delivery_at": "2026-11-28T10:00:00+00:00", "basis": "lane_p90"}, {},
     "预计 11-28 18:00 前送达，已晚 25 小时（依据：该线路九成包裹的时效）",
     "Expected by 28 Nov 18:00, 25 h late (basis: 90 % of this lane's parcels)"),
    ("lost", {"basis": "no_scan", "last_scan_at": "2026-11-21T10:51:00+00:00"}, {},
     "8 天无任何轨迹，疑似丢件 · 最后：11-21 18:51", "No scan for 8 d: probably lost · last: 21 Nov 18:51"),
    ("lost", {"basis": "carrier_declared", "last_scan_at": None}, {},
     "快递公司报告丢件", "The carrier reports it lost"),
    ("delivery_failed", {"sub_reason": "unreachable", "carrier_status": "delivery_failed"}, {},
     "派送失败：联系不上收件人", "Delivery failed: buyer unreachable"),
    ("delivery_failed", {"sub_reason": "customs", "carrier_status": "exception"}, {},
     "快递异常：清关", "Carrier exception: customs hold"),
    ("returned", {"sub_reason": "refused", "carrier_status": "returning"}, {},
     "退回中（收件人拒收）", "Being returned to sender (refused by the buyer)"),
    ("rejected", {"sub_reason": None, "carrier_status": "rejected"}, {},
     "收件人拒收", "Refused by the buyer"),
    ("damaged", {"sub_reason": "damaged", "carrier_status": "exception"}, {},
     "快递公司报告破损", "The carrier reports damage"),
    ("carrier_incident",
     {"parcels": 120, "affected": 9, "share": 0.075, "baseline_rate": 0.012, "by_kind": {}},
     {"carrier": "sto", "province": "新疆"},
     "申通快递 发往 新疆：120 件中 9 件停滞或延误（7.5%，平时 1.2%）",
     "STO Express to 新疆: 9 of 120 parcels stalled or late (7.5%, usually 1.2%)"),
    ("hub_incident",
     {"hub": "杭州转运中心", "parcels": 312, "stalled": 140, "share": 0.4487, "usual_share": 0.021},
     {"carrier": "zto"},
     "中通快递 杭州转运中心：312 件中 140 件停滞（44.9%，其他转运中心 2.1%）",
     "ZTO Express 杭州转运中心: 140 of 312 parcels stalled (44.9%, other hubs 2.1%)"),
    ("carrier_api_failing",
     {"failing_since": "2026-11-29T06:51:00+00:00", "last_success_at": "2026-11-29T06:20:00+00:00",
      "consecutive_failures": 12, "last_error": "HTTP 503"}, {"carrier": "zto"},
     "中通快递 查询接口自 11-29 14:51 起调用失败（连续 12 次） · 最近成功：11-29 14:20",
     "ZTO Express tracking API failing since 29 Nov 14:51 (12 failures in a row) · "
     "last success: 29 Nov 14:20"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "detail", "facts", "zh", "en"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])  # fmt: skip
def test_each_kind_in_both_languages(
    kind: str, detail: dict[str, Any], facts: dict[str, Any], zh: str, en: str
) -> None:
    assert say(kind, detail, "zh", **facts) == zh
    assert say(kind, detail, "en", **facts) == en


def test_every_kind_has_a_sentence_and_cases_cover_them() -> None:
    assert set(BUILDERS) == {k.value for k in AlertKind}
    assert {c[0] for c in CASES} == {k.value for k in AlertKind}


@pytest.mark.parametrize("kind", [k.value for k in AlertKind])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_empty_or_broken_detail_still_reads(kind: str, lang: str) -> None:
    """Old alerts, hand-edited rows: never an exception, never 'None' or 'nan' on the page."""
    for detail in ({}, {"last_scan_at": "not a time", "threshold_hours": float("nan"),
                        "stage": None, "deadline": 17, "share": "x"}):  # fmt: skip
        text = say(kind, detail, lang)
        assert text and "None" not in text and "nan" not in text


def test_times_are_local_and_carry_the_year_only_when_it_differs() -> None:
    utc = "2026-11-29T06:51:00+00:00"
    assert local_time(utc, "zh", SH, NOW) == "11-29 14:51"
    assert local_time(utc, "en", SH, NOW) == "29 Nov 14:51"
    assert local_time("2025-12-31T10:00:00+00:00", "zh", SH, NOW) == "2025-12-31 18:00"
    assert local_time("2025-01-02T00:00:00+00:00", "en", SH, NOW) == "2 Jan 2025 08:00"
    assert local_time(utc, "en", ZoneInfo("Asia/Urumqi"), NOW) == "29 Nov 12:51"
    assert local_time(None, "zh", SH) == "" and local_time("2026-11-29T06:51", "zh", SH) == ""
    assert [span(h, "zh") for h in (0.5, 52, 72, 170)] == [
        "30 分钟",
        "52 小时",
        "3 天",
        "7 天 2 小时",
    ]
    assert [span(h, "en") for h in (0.5, 52, 72, 170)] == ["30 min", "52 h", "3 d", "7 d 2 h"]


def test_history_notes_are_named() -> None:
    assert history_note("escalated", "warning -> critical", "zh", SH) == "警告 → 严重"
    assert history_note("resolved", "superseded", "en", SH) == "superseded by a graver alert"
    assert history_note("snoozed", "2026-11-30T09:00:00+08:00", "en", SH, NOW) == "30 Nov 09:00"
    assert history_note("commented", "已联系网点", "en", SH) == "已联系网点"
    assert history_note("assigned", None, "zh", SH) == ""


def test_every_canonical_value_has_both_names() -> None:
    for lang in ("zh", "en"):
        names = Labels(lang)
        assert set(KIND_NAMES[lang]) == {k.value for k in AlertKind}
        assert set(STATUS_NAMES[lang]) == {s.value for s in ParcelStatus}
        assert set(SUB_REASON_NAMES[lang]) == set(SUB_REASONS)
        assert set(PLATFORM_NAMES[lang]) == set(PLATFORMS)
        assert {"opened", "escalated", "deescalated", "acknowledged", "assigned", "snoozed",
                "commented", "resolved"} <= set(ACTION_NAMES[lang])  # fmt: skip
        assert all(names.severity(s.value) != s.value for s in Severity)
        assert all(names.carrier(code) not in ("", code) for code in CARRIERS)
    assert set(TEXT["zh"]) == set(TEXT["en"])
    assert Labels("zh").status("in_transit") == "运输中"
    assert Labels("en").carrier("sto") == "STO Express"
    assert Labels("zh").platform("douyin") == "抖音"
    assert Labels("zh").actor("system") + " " + Labels("zh").action("opened") == "系统 打开"
