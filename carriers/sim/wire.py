"""The two wire formats, built from a plan and "now": pure functions, no I/O.

Kuaidi100 (docs/tracking-apis.md "Kuaidi100 lastResult shape" + "Kuaidi100 state codes"): the
query/`lastResult` body, `data` newest first, times in China time as "YYYY-MM-DD HH:MM:SS"; with
`resultv2` 4 or 8 each event carries the advanced `statusCode` and area fields, the top-level
`state` is the latest advanced code, and `routeInfo` is added. 17TRACK v2.2 (docs/tracking-apis.md
"17TRACK track_info" + "17TRACK status taxonomy"): the `track_info` object of `gettrackinfo` and of
the `TRACKING_UPDATED` webhook, events newest first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from carriers.registry import CARRIERS
from carriers.sim.codes import KUAIDI100_NAMES, SIGNED_KINDS, TRACK17_MILESTONES
from carriers.sim.geo import PROVINCES
from carriers.sim.model import ParcelPlan, ScanEvent
from carriers.sim.profiles import CHINA_TZ

# Kuaidi100 `com` codes -> parcelwatch codes (the registry's, plus known variants).
KUAIDI100_COMPANIES: Final[dict[str, str]] = {
    **{info.kuaidi100: code for code, info in CARRIERS.items()},
    "shunfengkuaiyun": "sf",
    "zhongtongkuaiyun": "zto",
    "debangwuliu": "debang",
    "youzhengbk": "youzheng",
}
# Kuaidi100 refuses to answer for these without the receiver's (or sender's) phone.
PHONE_REQUIRED: Final = frozenset({"shunfeng", "shunfengkuaiyun", "zhongtong"})

# 17TRACK carrier keys: the registry's, which are 17TRACK's own
# (docs/tracking-apis.md "17TRACK carrier keys"), and for couriers without one the simulator's
# placeholders in a range no real
# carrier uses. The simulator echoes whatever key a client sent, and identifies the courier by
# the registered parcel first, so a different table still works.
PLACEHOLDER_KEYS: Final[dict[str, int]] = {"yunda": 990004, "best": 990009, "danniao": 990010}
TRACK17_KEYS: Final[dict[str, int]] = {
    **{code: info.track17 for code, info in CARRIERS.items() if info.track17 is not None},
    **PLACEHOLDER_KEYS,
}
TRACK17_CARRIERS: Final[dict[int, str]] = {key: code for code, key in TRACK17_KEYS.items()}

T = TypeVar("T")
Perturb = Callable[[list[T]], list[T]]


def china(value: datetime) -> datetime:
    return value.astimezone(CHINA_TZ)


def _k100_time(value: datetime) -> str:
    return china(value).strftime("%Y-%m-%d %H:%M:%S")


def _area_name(event: ScanEvent) -> str:
    short = next((p.name for p in PROVINCES.values() if p.full_name == event.province), "")
    return f"{short},{event.location}" if short else event.location


def kuaidi100_advanced(resultv2: str | None) -> bool:
    return (resultv2 or "").strip() in {"4", "8"}


def kuaidi100_event(event: ScanEvent, resultv2: str | None) -> dict[str, Any]:
    at = _k100_time(event.time)
    item: dict[str, Any] = {
        "time": at,
        "ftime": at,
        "context": event.context,
        "location": event.location,
    }
    mode = (resultv2 or "").strip()
    if mode == "1":
        item["status"] = KUAIDI100_NAMES[event.kuaidi100_base]
    elif kuaidi100_advanced(mode):
        item.update(
            {
                "areaCode": event.area_code,
                "areaName": _area_name(event),
                "status": KUAIDI100_NAMES[event.kuaidi100_code],
                "statusCode": event.kuaidi100_code,
                "areaCenter": None,
                "areaPinYin": None,
            }
        )
    return item


def _route_point(event: ScanEvent) -> dict[str, str]:
    return {"number": event.area_code, "name": _area_name(event)}


def kuaidi100_body(
    plan: ParcelPlan,
    events: Sequence[ScanEvent],
    com: str,
    resultv2: str | None,
    perturb: Perturb[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The success body of `query.do`, which is also a push's `lastResult` (docs/tracking-apis.md
    "Kuaidi100 lastResult shape")."""
    if not events:
        raise ValueError("a Kuaidi100 body needs at least one event")
    latest = events[-1]
    advanced = kuaidi100_advanced(resultv2)
    data = [kuaidi100_event(e, resultv2) for e in reversed(events)]
    if perturb is not None:
        data = perturb(data)
    body: dict[str, Any] = {
        "message": "ok",
        "nu": plan.number,
        "ischeck": "1" if latest.kuaidi100_base in {"3", "4"} else "0",
        "com": com,
        "status": "200",
        "state": latest.kuaidi100_code if advanced else latest.kuaidi100_base,
        "condition": "F00",
        "isLoop": False,
        "data": data,
    }
    if advanced:
        first, last = plan.events[0], plan.events[-1]
        to = _route_point(last)
        if last.kind not in SIGNED_KINDS:  # a return or refusal: the buyer's city is "to"
            to = {"number": f"CN{_dest_code(plan)}000000", "name": _dest_name(plan)}
        body["routeInfo"] = {"from": _route_point(first), "cur": _route_point(latest), "to": to}
    return body


def _dest_code(plan: ParcelPlan) -> str:
    for city in PROVINCES[plan.destination].cities:
        if city.name == plan.destination_city:
            return city.code
    return PROVINCES[plan.destination].cities[0].code


def _dest_name(plan: ParcelPlan) -> str:
    return f"{plan.destination},{plan.destination_city}"


def kuaidi100_error(code: str, message: str) -> dict[str, Any]:
    return {"result": False, "returnCode": code, "message": message}


# --- 17TRACK -------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else china(value).isoformat()


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(province: str | None, city: str | None) -> dict[str, Any]:
    return {
        "country": "CN",
        "state": province,
        "city": city,
        "street": None,
        "postal_code": None,
        "coordinates": {"longitude": None, "latitude": None},
    }


def track17_event(event: ScanEvent) -> dict[str, Any]:
    local = china(event.time)
    return {
        "time_iso": local.isoformat(),
        "time_utc": _utc(event.time),
        "time_raw": {
            "date": local.strftime("%Y-%m-%d"),
            "time": local.strftime("%H:%M:%S"),
            "timezone": "+08:00",
        },
        "description": event.context,
        "description_translation": None,
        "location": event.location,
        "stage": event.stage,
        "sub_status": event.track17_sub_status,
        "address": _address(event.province, event.location),
    }


def stable_hash(value: object) -> int:
    """A signed 32-bit hash that is the same in every process (17TRACK's *_hash fields)."""
    raw = hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=4).digest()
    return int.from_bytes(raw, "big", signed=True)


def track17_info(
    plan: ParcelPlan,
    events: Sequence[ScanEvent],
    now: datetime,
    carrier_key: int,
    perturb: Perturb[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`track_info` as of `now` for the `events` seen so far
    (docs/tracking-apis.md "17TRACK track_info")."""
    latest = events[-1] if events else None
    items = [track17_event(e) for e in reversed(events)]
    if perturb is not None:
        items = perturb(items)
    delivered = next((e.time for e in events if e.kind in SIGNED_KINDS), None)
    day = timedelta(days=1)
    picked = events[0].time if events else None
    transit_end = delivered or now
    milestones = []
    for stage in TRACK17_MILESTONES:
        hit = next((e.time for e in events if e.stage == stage), None)
        milestones.append({"key_stage": stage, "time_iso": _iso(hit), "time_utc": _utc(hit)})
    p50, p90 = plan.expected_delivery
    profile_name = _brand(plan.carrier)
    origin_full = PROVINCES[plan.origin].full_name
    dest_full = PROVINCES[plan.destination].full_name
    return {
        "shipping_info": {
            "shipper_address": _address(origin_full, plan.origin_city),
            "recipient_address": _address(dest_full, plan.destination_city),
        },
        "latest_status": {
            "status": latest.track17_status if latest else "NotFound",
            "sub_status": latest.track17_sub_status if latest else "NotFound_Other",
            "sub_status_descr": None,
        },
        "latest_event": track17_event(latest) if latest else None,
        "time_metrics": {
            "days_after_order": max(0, (now - plan.handed_over_at) // day),
            "days_of_transit": (transit_end - picked) // day if picked else 0,
            "days_of_transit_done": (delivered - picked) // day if delivered and picked else 0,
            "days_after_last_update": (now - latest.time) // day if latest else 0,
            "estimated_delivery_date": {
                "source": "17TRACK" if picked else None,
                "from": _iso(p50) if picked else None,
                "to": _iso(p90) if picked else None,
            },
        },
        "milestone": milestones,
        "misc_info": {
            "risk_factor": 0,
            "service_type": "标准快递",
            "weight_raw": None,
            "weight_kg": None,
            "pieces": "1",
            "dimensions": None,
            "customer_number": None,
            "reference_number": None,
            "local_number": None,
            "local_provider": None,
            "local_key": 0,
        },
        "tracking": {
            "providers_hash": stable_hash([carrier_key]),
            "providers": [
                {
                    "provider": {
                        "key": carrier_key,
                        "name": profile_name,
                        "alias": profile_name,
                        "tel": None,
                        "homepage": None,
                        "country": "CN",
                    },
                    "service_type": None,
                    "latest_sync_status": "Success",
                    "latest_sync_time": _utc(now),
                    "events_hash": stable_hash([e["time_utc"] for e in items]),
                    "events": items,
                }
            ],
        },
    }


def _brand(code: str) -> str:
    info = CARRIERS.get(code)
    return info.name_en if info else code


def track17_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "data": {"errors": [{"code": code, "message": message}]}}


def to_bytes(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
