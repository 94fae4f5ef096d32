"""Each tracking API's status table: every documented code maps to exactly one canonical
status, and an unknown code becomes UNKNOWN and is reported, never raised.

The code lists below are copied from docs/tracking-apis.md ("Kuaidi100 state codes",
"17TRACK status taxonomy", "AfterShip tags" and "AfterShip subtags"), not from the tables,
so a code dropped from a table fails here.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from carriers.aftership import parse as aftership_parse
from carriers.aftership import status as aftership_status
from carriers.kuaidi100 import parse as kuaidi100_parse
from carriers.kuaidi100 import status as kuaidi100_status
from carriers.status import SUB_REASONS, ParcelStatus
from carriers.track17 import parse as track17_parse
from carriers.track17 import status as track17_status

S = ParcelStatus

# docs/tracking-apis.md "Kuaidi100 state codes": base codes 0–8, 14; customs 10–13; advanced
# codes.
KUAIDI100_CODES = {
    *[str(c) for c in range(0, 9)],
    "10", "11", "12", "13", "14",
    "101", "102", "103",
    "1001", "1002", "1003",
    "501",
    "301", "302", "303", "304",
    "401",
    *[str(c) for c in range(201, 211)],
}  # fmt: skip

# docs/tracking-apis.md "17TRACK status taxonomy": 9 main statuses and every sub-status.
TRACK17_CODES = {
    "NotFound", "NotFound_Other", "NotFound_InvalidCode",
    "InfoReceived",
    "InTransit", "InTransit_PickedUp", "InTransit_Departure", "InTransit_Arrival",
    "InTransit_CustomsProcessing", "InTransit_CustomsReleased",
    "InTransit_CustomsRequiringInformation", "InTransit_Other",
    "Expired", "Expired_Other",
    "AvailableForPickup", "AvailableForPickup_Other",
    "OutForDelivery", "OutForDelivery_Other",
    "DeliveryFailure", "DeliveryFailure_NoBody", "DeliveryFailure_Security",
    "DeliveryFailure_Rejected", "DeliveryFailure_InvalidAddress", "DeliveryFailure_Other",
    "Delivered", "Delivered_Other",
    "Exception", "Exception_Returning", "Exception_Returned", "Exception_NoBody",
    "Exception_Security", "Exception_Damage", "Exception_Rejected", "Exception_Delayed",
    "Exception_Lost", "Exception_Destroyed", "Exception_Cancel", "Exception_Other",
}  # fmt: skip

# docs/tracking-apis.md "AfterShip tags" (9 tags) and "AfterShip subtags" (016–018 included).
AFTERSHIP_CODES = {
    "Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
    "AvailableForPickup", "Exception", "Expired",
    *[f"Delivered_00{i}" for i in range(1, 5)],
    "AvailableForPickup_001",
    *[f"Exception_{i:03d}" for i in range(1, 14)],
    "Exception_016", "Exception_017", "Exception_018",
    "AttemptFail_001", "AttemptFail_002", "AttemptFail_003",
    *[f"InTransit_00{i}" for i in range(1, 10)],
    "InfoReceived_001",
    "OutForDelivery_001", "OutForDelivery_002", "OutForDelivery_003", "OutForDelivery_004",
    *[f"Pending_00{i}" for i in range(1, 7)],
    "Expired_001",
}  # fmt: skip

TABLES = {
    "kuaidi100": (kuaidi100_status, KUAIDI100_CODES),
    "17track": (track17_status, TRACK17_CODES),
    "aftership": (aftership_status, AFTERSHIP_CODES),
}

# The judgement calls, pinned: (status, sub_reason).
PINNED = {
    "kuaidi100": {
        "2": (S.DELIVERY_FAILED, None),
        "201": (S.IN_TRANSIT, None),
        "202": (S.IN_TRANSIT, None),
        "203": (S.REJECTED, "refused"),
        "205": (S.AVAILABLE_FOR_PICKUP, None),
        "206": (S.DELIVERY_FAILED, "unreachable"),
        "207": (S.DELIVERY_FAILED, "out_of_area"),
        "208": (S.EXCEPTION, "held"),
        "209": (S.EXCEPTION, "damaged"),
        "210": (S.EXCEPTION, "other"),
        "6": (S.RETURNING, None),
        "4": (S.RETURNED, None),
        "401": (S.RETURNED, None),
        "14": (S.REJECTED, "refused"),
        "7": (S.IN_TRANSIT, None),
        "8": (S.IN_TRANSIT, "customs"),
        "10": (S.IN_TRANSIT, "customs"),
        "12": (S.IN_TRANSIT, "customs"),
        "13": (S.EXCEPTION, "customs"),
        "101": (S.LABEL_CREATED, None),
        "102": (S.LABEL_CREATED, None),
        "1": (S.PICKED_UP, None),
        "103": (S.PICKED_UP, None),
        "0": (S.IN_TRANSIT, None),
        "1003": (S.IN_TRANSIT, None),
        "5": (S.OUT_FOR_DELIVERY, None),
        "501": (S.AVAILABLE_FOR_PICKUP, None),
        "3": (S.DELIVERED, None),
        "304": (S.DELIVERED, None),
    },
    "17track": {
        "NotFound": (S.LABEL_CREATED, None),
        "InfoReceived": (S.LABEL_CREATED, None),
        "InTransit_PickedUp": (S.PICKED_UP, None),
        "InTransit_CustomsProcessing": (S.IN_TRANSIT, "customs"),
        "Exception_Lost": (S.EXCEPTION, "lost"),
        "Exception_Damage": (S.EXCEPTION, "damaged"),
        "Exception_Returning": (S.RETURNING, None),
        "Exception_Returned": (S.RETURNED, None),
        "DeliveryFailure_Rejected": (S.REJECTED, "refused"),
        "Exception_Rejected": (S.REJECTED, "refused"),
        "DeliveryFailure_InvalidAddress": (S.DELIVERY_FAILED, "bad_address"),
        "Expired": (S.EXCEPTION, "other"),
        "AvailableForPickup": (S.AVAILABLE_FOR_PICKUP, None),
        "Delivered_Other": (S.DELIVERED, None),
    },
    "aftership": {
        "Pending": (S.LABEL_CREATED, None),
        "InTransit_002": (S.PICKED_UP, None),
        "InTransit_005": (S.IN_TRANSIT, "customs"),
        "OutForDelivery_002": (S.AVAILABLE_FOR_PICKUP, None),
        "AttemptFail_002": (S.DELIVERY_FAILED, "unreachable"),
        "Exception_003": (S.REJECTED, "refused"),
        "Exception_008": (S.AVAILABLE_FOR_PICKUP, None),
        "Exception_009": (S.EXCEPTION, "other"),
        "Exception_010": (S.RETURNING, None),
        "Exception_011": (S.RETURNED, None),
        "Exception_012": (S.EXCEPTION, "damaged"),
        "Exception_013": (S.EXCEPTION, "lost"),
        "Exception_016": (S.EXCEPTION, "held"),
        "Exception_017": (S.EXCEPTION, "held"),
        "Exception_018": (S.EXCEPTION, "customs"),
        "Expired": (S.EXCEPTION, "other"),
    },
}


@pytest.mark.parametrize("api", sorted(TABLES))
def test_every_documented_code_is_in_the_table_and_nothing_else(api: str) -> None:
    module, documented = TABLES[api]
    assert set(module.STATUS_TABLE) == documented


@pytest.mark.parametrize(
    ("api", "code"), [(api, code) for api, (_, codes) in TABLES.items() for code in sorted(codes)]
)
def test_every_documented_code_maps_to_one_known_status(api: str, code: str) -> None:
    module, _ = TABLES[api]
    status, sub_reason, known = module.map_code(code)
    assert known
    assert status is not ParcelStatus.UNKNOWN
    assert sub_reason is None or sub_reason in SUB_REASONS
    if status is ParcelStatus.EXCEPTION:
        assert sub_reason is not None, "an exception always says why"


@pytest.mark.parametrize("api", sorted(TABLES))
def test_no_code_is_listed_twice(api: str) -> None:
    module, _ = TABLES[api]
    counts = Counter(row[0] for row in module.ROWS)
    assert [code for code, n in counts.items() if n > 1] == []
    assert len(module.STATUS_TABLE) == len(module.ROWS)


def test_kuaidi100_names_are_unique_and_point_back_to_their_code() -> None:
    names = Counter(name for _, name, _, _ in kuaidi100_status.ROWS)
    assert [name for name, n in names.items() if n > 1] == []
    for code, name, _, _ in kuaidi100_status.ROWS:
        assert kuaidi100_status.code_for_name(name) == code


def test_track17_stages_map_consistently_with_main_statuses() -> None:
    for stage, status in track17_status.STAGE_ROWS:
        if stage in track17_status.STATUS_TABLE:
            assert track17_status.STATUS_TABLE[stage][0] is status


@pytest.mark.parametrize(
    ("api", "code", "expected"),
    [(api, code, expected) for api, table in PINNED.items() for code, expected in table.items()],
)
def test_judgement_calls_are_pinned(
    api: str, code: str, expected: tuple[ParcelStatus, str | None]
) -> None:
    module, _ = TABLES[api]
    status, sub_reason, _ = module.map_code(code)
    assert (status, sub_reason) == expected


@pytest.mark.parametrize("api", sorted(TABLES))
def test_unknown_code_maps_to_unknown(api: str) -> None:
    module, _ = TABLES[api]
    assert module.map_code("no-such-code-42") == (ParcelStatus.UNKNOWN, None, False)


# --- unknown codes through a full parse: UNKNOWN, reported, never raised ----------------------


class Hook:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, api: str, code: str) -> None:
        self.calls.append((api, code))


def test_kuaidi100_unknown_state_is_unknown_and_reported() -> None:
    hook = Hook()
    answer = {
        "message": "ok",
        "nu": "YT1",
        "com": "yuantong",
        "status": "200",
        "state": "999",
        "data": [{"time": "2026-11-12 08:00:00", "context": "新状态", "statusCode": "998"}],
    }
    result = kuaidi100_parse.parse_query_response(
        json.dumps(answer), tracking_number="YT1", carrier="yto", carrier_for=lambda _: None,
        report=hook,
    )  # fmt: skip
    (update,) = result.updates
    assert update.status is ParcelStatus.UNKNOWN
    assert update.raw_status == "999"
    assert update.events[0].status is ParcelStatus.UNKNOWN
    assert update.events[0].raw_code == "998"
    assert sorted(hook.calls) == [("kuaidi100", "998"), ("kuaidi100", "999")]


def test_track17_unknown_status_is_unknown_and_reported() -> None:
    hook = Hook()
    answer = {
        "code": 0,
        "data": {
            "accepted": [
                {
                    "number": "N1",
                    "carrier": 3011,
                    "track_info": {
                        "latest_status": {"status": "Teleported", "sub_status": "Teleported_Moon"}
                    },
                }
            ],
            "rejected": [],
        },
    }
    result = track17_parse.parse_track_response(
        json.dumps(answer),
        carriers={"N1": "youzheng"},
        carrier_for={"3011": "youzheng"}.get,
        report=hook,
    )
    (update,) = result.updates
    assert update.status is ParcelStatus.UNKNOWN
    assert update.raw_status == "Teleported_Moon"
    assert hook.calls == [("17track", "Teleported_Moon"), ("17track", "Teleported")]


def test_track17_unknown_sub_status_falls_back_on_its_known_main_status() -> None:
    hook = Hook()
    item = {
        "number": "N1",
        "track_info": {"latest_status": {"status": "InTransit", "sub_status": "InTransit_Ferry"}},
    }
    update = track17_parse.parse_item(item, carrier="ems", source="poll", report=hook)
    assert update.status is ParcelStatus.IN_TRANSIT
    assert update.raw_status == "InTransit_Ferry"
    assert hook.calls == [("17track", "InTransit_Ferry")]


def test_aftership_unknown_tag_is_unknown_and_reported() -> None:
    hook = Hook()
    tracking = {"tracking_number": "A1", "slug": "x", "tag": "Mystery", "subtag": "Mystery_001"}
    update = aftership_parse.parse_tracking(
        tracking, carrier_for=lambda _: "zto", fallback_carrier="zto", source="poll", report=hook
    )
    assert update.status is ParcelStatus.UNKNOWN
    assert hook.calls == [("aftership", "Mystery_001"), ("aftership", "Mystery")]


def test_aftership_unknown_subtag_falls_back_on_its_tag_prefix() -> None:
    hook = Hook()
    tracking = {"tracking_number": "A1", "tag": "Delivered", "subtag": "Delivered_005"}
    update = aftership_parse.parse_tracking(
        tracking, carrier_for=lambda _: None, fallback_carrier="zto", source="poll", report=hook
    )
    assert update.status is ParcelStatus.DELIVERED
    assert update.raw_status == "Delivered_005"
    assert hook.calls == [("aftership", "Delivered_005")]


def test_every_phrase_maps_to_exactly_one_status() -> None:
    from carriers import phrases

    for table in (phrases.ZH_PHRASES, phrases.EN_PHRASES):
        counts = Counter(phrase for phrase, _, _ in table)
        assert [p for p, n in counts.items() if n > 1] == []
        for _, status, sub_reason in table:
            assert status is not ParcelStatus.UNKNOWN
            assert sub_reason is None or sub_reason in SUB_REASONS
