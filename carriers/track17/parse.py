"""Pure functions between 17TRACK's v2.x wire format and carriers/base.py types. HTTP is always 200
(docs/tracking-apis.md "17TRACK endpoints and auth"): a whole-call failure is a non-zero envelope
`code`; per-number failures are `data.rejected[]` items and come back as `TrackingProblem`s.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from carriers.base import (
    CarrierEvent,
    PermanentCarrierError,
    PushFormatError,
    PushResult,
    SignatureError,
    SubscribeResult,
    TrackingProblem,
    TrackingUpdate,
    TrackResult,
    UnknownCodeHook,
)
from carriers.http import (
    MalformedBody,
    as_list,
    as_object,
    decode_json,
    header,
    opt_str,
    order_events,
    parse_estimate,
    parse_iso_time,
)
from carriers.phrases import classify_text, forward_only
from carriers.status import ParcelStatus
from carriers.track17.status import map_code, map_stage
from carriers.zones import zone_for

API: Final = "17track"

INVALID_KEY: Final = "-18010002"  # docs/tracking-apis.md "17TRACK endpoints and auth"
# docs/tracking-apis.md "17TRACK endpoints and auth": gettrackinfo on a number never registered
NOT_REGISTERED: Final = "-18019902"
# docs/tracking-apis.md "17TRACK endpoints and auth": register again → it is tracked, accepted
ALREADY_REGISTERED: Final = "-18010012"

CarrierLookup = Callable[[str], str | None]  # 17TRACK numeric carrier key → our code

# What `report` receives for an event nothing classified (a bounded label, not its text).
UNCLASSIFIED: Final = "event:unclassified"


def our_carrier(key: str, carrier_for: CarrierLookup, report: UnknownCodeHook | None) -> str:
    """Our carrier code for a 17TRACK numeric key, or "" (the stored carrier stays): a key
    that maps to none of our carriers is reported as "carrier:<key>", never returned as the
    update's carrier (docs/tracking-apis.md "Carrier identity")."""
    ours = carrier_for(key)
    if ours is None and report is not None:
        report(API, f"carrier:{key}")
    return ours or ""


def webhook_sign(body: bytes, key: str) -> str:
    """Hex SHA-256 of the raw body + "/" + API key (docs/tracking-apis.md "17TRACK webhook")."""
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


# --- envelopes --------------------------------------------------------------------------


def _envelope(body: bytes | str) -> dict[str, Any]:
    """The `data` object of an answer whose envelope `code` is 0; raise otherwise."""
    obj = as_object(decode_json(body, API), API, "answer")
    code = opt_str(obj.get("code"))
    if code is None:
        raise MalformedBody(f"{API}: malformed body: answer without envelope `code`")
    if code != "0":
        message = _error_message(obj)
        if code == INVALID_KEY:
            raise PermanentCarrierError(
                f"{API}: invalid API key ({code} {message}); check PARCELWATCH_17TRACK_KEY"
            )
        # Other envelope codes are undocumented
        # (docs/tracking-apis.md "17TRACK endpoints and auth"); the API refused the call as a
        # whole with an answer, so repeating the same request would get the same answer.
        raise PermanentCarrierError(f"{API}: envelope code {code}: {message}")
    return as_object(obj.get("data") or {}, API, "data")


def _error_message(obj: Mapping[str, Any]) -> str:
    data = obj.get("data")
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return opt_str(errors[0].get("message")) or ""
    return opt_str(obj.get("message")) or ""


def _rejected(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(number, error code, message) of each rejected item."""
    out = []
    for raw in as_list(data.get("rejected"), API, "rejected"):
        item = as_object(raw, API, "rejected[]")
        number = opt_str(item.get("number"))
        if number is None:
            continue
        error = item.get("error")
        error = error if isinstance(error, dict) else {}
        out.append((number, opt_str(error.get("code")) or "", opt_str(error.get("message")) or ""))
    return out


def _problem(number: str, code: str, message: str) -> TrackingProblem:
    if code == NOT_REGISTERED:
        text = f"{API}: {number} is not registered ({code} {message}); subscribe it first"
    else:
        text = f"{API}: {number} rejected: {code} {message}".rstrip()
    return TrackingProblem(number, code or "rejected", text, retryable=True)


# --- gettrackinfo and register (docs/tracking-apis.md "17TRACK endpoints and auth") ---------------


def parse_track_response(
    body: bytes | str,
    *,
    carriers: Mapping[str, str],
    carrier_for: CarrierLookup,
    report: UnknownCodeHook | None = None,
) -> TrackResult:
    """A `gettrackinfo` answer; `carriers` maps each number asked about to our carrier code."""
    data = _envelope(body)
    result = TrackResult()
    answered: set[str] = set()
    for raw in as_list(data.get("accepted"), API, "accepted"):
        item = as_object(raw, API, "accepted[]")
        number = opt_str(item.get("number"))
        if number is None:
            raise MalformedBody(f"{API}: malformed body: accepted item without number")
        answered.add(number)
        key = opt_str(item.get("carrier"))
        carrier = (our_carrier(key, carrier_for, report) if key else "") or carriers.get(number, "")
        result.updates.append(parse_item(item, carrier=carrier, source="poll", report=report))
    for number, code, message in _rejected(data):
        answered.add(number)
        result.problems.append(_problem(number, code, message))
    for number in carriers:
        if number not in answered:
            result.problems.append(
                TrackingProblem(number, "missing", f"{API}: {number} missing from the answer")
            )
    return result


def parse_register_response(body: bytes | str, *, numbers: Iterable[str]) -> SubscribeResult:
    data = _envelope(body)
    result = SubscribeResult()
    for raw in as_list(data.get("accepted"), API, "accepted"):
        number = opt_str(as_object(raw, API, "accepted[]").get("number"))
        if number is not None:
            result.accepted.append(number)
    for number, code, message in _rejected(data):
        if code == ALREADY_REGISTERED:
            result.accepted.append(number)
        else:
            result.problems.append(_problem(number, code, message))
    seen = set(result.accepted) | {p.tracking_number for p in result.problems}
    for number in numbers:
        if number not in seen:
            result.problems.append(
                TrackingProblem(number, "missing", f"{API}: {number} missing from the answer")
            )
    return result


# --- track_info → TrackingUpdate ------------------------------------------------------------------
# (docs/tracking-apis.md "17TRACK track_info"; docs/tracking-apis.md "17TRACK status taxonomy")


def _lookup(code: str, report: UnknownCodeHook | None) -> tuple[ParcelStatus, str | None, bool]:
    status, sub_reason, known = map_code(code)
    if not known and report is not None:
        report(API, code)
    return status, sub_reason, known


def _latest(
    latest: Any, report: UnknownCodeHook | None
) -> tuple[ParcelStatus, str | None, str | None]:
    """(status, sub_reason, raw code) from `latest_status`: the finest known code wins; an
    unknown sub_status is reported and its main status used."""
    latest = latest if isinstance(latest, dict) else {}
    main = opt_str(latest.get("status"))
    sub = opt_str(latest.get("sub_status"))
    if sub is not None:
        status, sub_reason, known = _lookup(sub, report)
        if known or main is None:
            return status, sub_reason, sub
    if main is not None:
        status, sub_reason, _ = _lookup(main, report)
        return status, sub_reason, sub or main
    # No status at all: 17TRACK has nothing on the number yet
    # (NotFound, docs/tracking-apis.md "17TRACK status taxonomy").
    status, sub_reason, _ = map_code("NotFound")
    return status, sub_reason, None


def _event_time(item: Mapping[str, Any]) -> str | None:
    return opt_str(item.get("time_utc")) or opt_str(item.get("time_iso"))


def _event(item: Mapping[str, Any], report: UnknownCodeHook | None) -> CarrierEvent | None:
    """One provider event (docs/tracking-apis.md "17TRACK track_info"): its `sub_status`, else its
    milestone `stage` (some answers put a sub-status there), else its description's stage words
    (docs/statuses.md "Events without a code"). A time without offset is read in the zone of
    the event's `address` (docs/tracking-apis.md "Event times without an offset")."""
    when = _event_time(item)
    if when is None:
        return None  # an event without any time cannot be placed on the timeline
    sub = opt_str(item.get("sub_status"))
    stage = opt_str(item.get("stage"))
    text = opt_str(item.get("description")) or ""
    status, sub_reason, code, inferred = ParcelStatus.UNKNOWN, None, sub or stage, False
    if sub is not None:
        status, sub_reason, _ = _lookup(sub, report)
    elif stage is not None:
        status, known = map_stage(stage)
        if not known:
            status, sub_reason, known = map_code(stage)
        if not known and report is not None:
            report(API, stage)
    if status is ParcelStatus.UNKNOWN:
        found = classify_text(text)
        if found is not None:
            (status, sub_reason), inferred = found, True
        elif code is None and report is not None:
            report(API, UNCLASSIFIED)
    address = item.get("address")
    address = address if isinstance(address, dict) else {}
    zone = zone_for(opt_str(address.get("country")), opt_str(address.get("state")))
    return CarrierEvent(
        occurred_at=parse_iso_time(when, API, zone) if zone else parse_iso_time(when, API),
        status=status,
        raw_text=text,
        raw_code=code,
        sub_reason=sub_reason,
        location=opt_str(item.get("location")),
        inferred=inferred,
    )


def _part(item: Mapping[str, Any], track_info: Mapping[str, Any], key: str) -> Any:
    """A `track_info` part; some recorded webhooks carry it beside `track_info` instead
    (docs/tracking-apis.md "17TRACK track_info")."""
    value = track_info.get(key)
    return value if value is not None else item.get(key)


def _estimate(metrics: Any) -> Any:
    """`time_metrics.estimated_delivery_date`: `{source, from, to}`, or a bare time in older
    answers (docs/tracking-apis.md "17TRACK track_info"). `to`, the late end of the window, first:
    "delayed" only once it has passed."""
    if not isinstance(metrics, dict):
        return None
    estimate = metrics.get("estimated_delivery_date")
    if isinstance(estimate, dict):
        return estimate.get("to") or estimate.get("from")
    return estimate


def parse_item(
    item: Mapping[str, Any],
    *,
    carrier: str,
    source: str,
    report: UnknownCodeHook | None,
    stopped: bool = False,
    stop_reason: str | None = None,
) -> TrackingUpdate:
    """One `{number, carrier, tag, track_info}` item (gettrackinfo and webhook alike)."""
    number = opt_str(item.get("number"))
    if number is None:
        raise MalformedBody(f"{API}: malformed body: item without number")
    track_info = item.get("track_info")
    track_info = as_object(track_info, API, "track_info") if track_info is not None else {}
    status, sub_reason, raw = _latest(_part(item, track_info, "latest_status"), report)

    events: list[CarrierEvent] = []
    tracking = _part(item, track_info, "tracking")
    providers = tracking.get("providers") if isinstance(tracking, dict) else None
    for provider in as_list(providers, API, "tracking.providers"):
        provider = as_object(provider, API, "providers[]")
        for raw_event in as_list(provider.get("events"), API, "providers[].events"):
            event = _event(as_object(raw_event, API, "events[]"), report)
            if event is not None:
                events.append(event)
    ordered = forward_only(order_events(events))
    if ordered and ordered[-1].status is ParcelStatus.UNKNOWN:
        # The newest scan nothing else classified is what `latest_status` describes.
        ordered[-1] = replace(ordered[-1], status=status, sub_reason=sub_reason)
    expected = parse_estimate(_estimate(_part(item, track_info, "time_metrics")), API)

    return TrackingUpdate(
        tracking_number=number,
        carrier=carrier,
        status=status,
        events=tuple(ordered),
        raw_status=raw,
        sub_reason=sub_reason,
        expected_delivery_at=expected,
        stopped=stopped,
        stop_reason=stop_reason,
        source=source,
    )


# --- webhook (docs/tracking-apis.md "17TRACK webhook") --------------------------------------------


def parse_push(
    headers: Mapping[str, str],
    body: bytes,
    *,
    key: str,
    carrier_for: CarrierLookup,
    known_carriers: Iterable[str] = (),
    report: UnknownCodeHook | None = None,
) -> PushResult:
    """A webhook: `{"event": "TRACKING_UPDATED" | "TRACKING_STOPPED", "data": item}` signed
    with header `sign` = sha256(raw body + "/" + key).

    The carrier is our code for 17TRACK's numeric key, else the `tag` we registered the
    number with (our own carrier code), else "" (the stored carrier stays; an unmapped key is
    reported, docs/tracking-apis.md "Carrier identity"). TRACKING_STOPPED (30 days without news, or
    15 days after delivery, docs/tracking-apis.md "17TRACK limits") marks the update stopped."""
    sign = header(headers, "sign")
    if not sign:
        raise SignatureError(f"{API}: webhook without a `sign` header")
    expected = webhook_sign(body, key)
    if not hmac.compare_digest(sign.strip().lower().encode(), expected.encode()):
        raise SignatureError(f"{API}: webhook `sign` does not match sha256(body + '/' + key)")
    try:
        obj = as_object(decode_json(body, API), API, "webhook")
        event = opt_str(obj.get("event")) or ""
        data = as_object(obj.get("data"), API, "data")
        key_text = opt_str(data.get("carrier"))
        tag = opt_str(data.get("tag"))
        carrier = (our_carrier(key_text, carrier_for, report) if key_text else "") or (
            tag if tag in set(known_carriers) else ""
        )
        stopped = event == "TRACKING_STOPPED"
        update = parse_item(
            data,
            carrier=carrier,
            source="push",
            report=report,
            stopped=stopped,
            stop_reason=event if stopped else None,
        )
    except MalformedBody as exc:
        raise PushFormatError(str(exc)) from exc
    return PushResult(updates=[update], reply_body=b"", reply_content_type="text/plain")
