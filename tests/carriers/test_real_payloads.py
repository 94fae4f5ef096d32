"""Real payloads (captured pushes and answers, vendor examples) from public repositories, each
with its provenance in tests/fixtures/carriers/real/<api>/README.md, through the parsers: every
event gets a status (docs/statuses.md "Events without a code"), the carrier is one of ours or
"" (docs/tracking-apis.md "Carrier identity"), times without an offset are read where the scan
happened (docs/tracking-apis.md "Event times without an offset")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from carriers.aftership import parse as aftership
from carriers.base import TrackingUpdate
from carriers.kuaidi100 import parse as kuaidi100
from carriers.registry import CARRIERS, normalize_carrier
from carriers.status import ParcelStatus
from carriers.track17 import parse as track17
from tests.support.paths import CARRIER_FIXTURES

REAL = CARRIER_FIXTURES / "real"
NOT_A_SCAN = {ParcelStatus.LABEL_CREATED, ParcelStatus.UNKNOWN}
KUAIDI100 = {info.kuaidi100: code for code, info in CARRIERS.items()}
TRACK17 = {str(info.track17): code for code, info in CARRIERS.items() if info.track17}


def _k100(com: str) -> str | None:
    return KUAIDI100.get(com) or normalize_carrier(com)


def normalise(api: str, name: str, calls: list[tuple[str, str]]) -> TrackingUpdate:
    doc: Any = json.loads((REAL / api / name).read_text(encoding="utf-8"))
    report = lambda api_name, code: calls.append((api_name, code))  # noqa: E731
    if api == "kuaidi100" and "lastResult" in doc:
        param = json.dumps(doc, ensure_ascii=False)
        body = urlencode({"param": param, "sign": kuaidi100.push_sign(param, "s")}).encode()
        (update,) = kuaidi100.parse_push(body, salt="s", carrier_for=_k100, report=report).updates
        return update
    if api == "kuaidi100":
        carrier = _k100(doc["com"]) or ""
        result = kuaidi100.parse_query_response(
            json.dumps(doc), tracking_number=doc["nu"], carrier=carrier, carrier_for=_k100,
            report=report,
        )  # fmt: skip
        return result.updates[0]
    if api == "track17":
        body = json.dumps(doc).encode()
        headers = {"sign": track17.webhook_sign(body, "k")}
        return track17.parse_push(headers, body, key="k", carrier_for=TRACK17.get, report=report)\
            .updates[0]  # fmt: skip
    return aftership.parse_tracking(
        doc["data"]["tracking"], carrier_for=lambda _: None, fallback_carrier=None,
        source="poll", report=report,
    )  # fmt: skip


def summary(update: TrackingUpdate) -> dict[str, Any]:
    scans = [e.occurred_at for e in update.events if e.status not in NOT_A_SCAN]
    delivered = [e.occurred_at for e in update.events if e.status is ParcelStatus.DELIVERED]
    return {
        "status": update.status.value,
        "stages": [e.status.value for e in update.events],
        "first_scan": scans[0].isoformat() if scans else None,
        "delivered": delivered[-1].isoformat() if delivered else None,
        "carrier": update.carrier,
        "estimate": update.expected_delivery_at.isoformat()
        if update.expected_delivery_at
        else None,
    }


# The normalised result of each payload, reviewed by hand against its texts.
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (REAL / "expected.json").read_text(encoding="utf-8")
)["cases"]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_real_payload_normalises_as_expected(case: str) -> None:
    api, name = case.split("/")
    calls: list[tuple[str, str]] = []
    update = normalise(api, name, calls)
    assert summary(update) == EXPECTED[case]
    assert all(e.status is not ParcelStatus.UNKNOWN for e in update.events)
    assert update.carrier == "" or update.carrier in CARRIERS


def test_every_real_fixture_has_an_expectation_and_a_provenance() -> None:
    files = {f"{p.parent.name}/{p.name}" for p in REAL.glob("*/*.json")}
    assert files == set(EXPECTED)
    for api in {f.split("/")[0] for f in files}:
        readme = (REAL / api / "README.md").read_text(encoding="utf-8")
        for name in (f.split("/")[1] for f in files if f.startswith(api + "/")):
            assert f"`{name}`" in readme


def test_unmapped_aggregator_identifiers_are_reported_not_stored() -> None:
    calls: list[tuple[str, str]] = []
    update = normalise("aftership", "pyaftership_get_fedex_delivered.json", calls)
    assert update.carrier == ""
    assert ("aftership", "slug:fedex") in calls


def test_a_yunda_push_without_codes_keeps_its_pickup_scan() -> None:
    """The issue's case: events with only `context` (here the recorded SF answer), the pickup
    scan (已收取快件) is the first scan, not the delivery."""
    calls: list[tuple[str, str]] = []
    update = normalise("kuaidi100", "sf_query_context_only.json", calls)
    assert update.events[0].status is ParcelStatus.PICKED_UP
    assert update.events[0].occurred_at == datetime.fromisoformat("2018-08-07T17:15:04+08:00")


def test_offsetless_checkpoint_times_are_read_where_the_scan_happened() -> None:
    """AfterShip's local checkpoint times without offset (docs/tracking-apis.md "Event times
    without an offset"): Hong Kong scans at +08:00, Melbourne ones at Australian summer time,
    the zone found from free-text `country_name` alone."""
    update = normalise("aftership", "sdk_ruby_readme_toll_hkg_aus.json", [])
    offsets = [e.occurred_at.utcoffset() for e in update.events]
    assert set(offsets[:4]) == {timedelta(hours=8)}
    assert set(offsets[4:]) == {timedelta(hours=11)}
    assert update.events[5].occurred_at == datetime(2013, 1, 20, 14, 1, tzinfo=UTC)
    ups = normalise("aftership", "nurelm_get_ups_nld_local_times.json", [])
    assert ups.events[1].raw_text == "PICKUP SCAN"
    assert ups.events[1].occurred_at == datetime(2013, 12, 5, 15, 9, tzinfo=UTC)
