"""Pure functions between AfterShip's Tracking API (2025-01) and carriers/base.py types. Answers are
`{"meta": {"code", "message"}, "data": ...}`; `meta.code` repeats the HTTP status or refines it
(4003 tracking already exists, 4004 tracking does not exist: AfterShip's long-standing codes, not in
docs/tracking-apis.md "AfterShip" [I]).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

from carriers.aftership.status import map_code
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
from carriers.registry import normalize_carrier
from carriers.status import ParcelStatus
from carriers.zones import country_in, zone_for

API: Final = "aftership"

ALREADY_EXISTS: Final = "4003"
DOES_NOT_EXIST: Final = "4004"
# Our carrier code rides along in the tracking's custom fields, so a webhook for a courier
# whose slug we have no mapping for still comes back under the right carrier [I].
CARRIER_FIELD: Final = "parcelwatch_carrier"

CarrierLookup = Callable[[str], str | None]  # AfterShip slug → our code


def webhook_hmac(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(raw body, webhook secret)) (docs/tracking-apis.md "AfterShip webhook")."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- envelopes ------------------------------------------------------------------------------


def _envelope(status_code: int, body: bytes | str) -> tuple[str, str, Any]:
    """(meta code, message, data); a 4xx without a JSON body is permanent, not malformed."""
    try:
        obj = as_object(decode_json(body, API), API, "answer")
    except MalformedBody:
        if 400 <= status_code < 500:
            raise PermanentCarrierError(
                f"{API}: HTTP {status_code} without a JSON body; check base_url",
                status_code=status_code,
            ) from None
        raise
    meta = obj.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    code = opt_str(meta.get("code")) or str(status_code)
    return code, opt_str(meta.get("message")) or "", obj.get("data")


def _raise_for(status_code: int, code: str, message: str) -> None:
    """4xx other than the per-number codes the caller handled: retrying will not help
    (401/403 a bad PARCELWATCH_AFTERSHIP_KEY, 400/422 a request AfterShip refuses)."""
    if status_code >= 400 or not code.startswith("2"):
        hint = "; check PARCELWATCH_AFTERSHIP_KEY" if status_code in (401, 403) else ""
        raise PermanentCarrierError(
            f"{API}: HTTP {status_code}, meta.code {code}: {message}{hint}",
            status_code=status_code,
        )


def parse_track_response(
    status_code: int,
    body: bytes | str,
    *,
    tracking_number: str,
    carrier: str,
    slug: str | None,
    carrier_for: CarrierLookup,
    report: UnknownCodeHook | None = None,
) -> TrackResult:
    """A `GET /trackings?tracking_numbers=` (or `GET /trackings/:id`) answer for one number."""
    code, message, data = _envelope(status_code, body)
    if code == DOES_NOT_EXIST:
        return TrackResult(problems=[_not_created(tracking_number, message)])
    _raise_for(status_code, code, message)
    data = as_object(data, API, "data")
    if "trackings" in data:
        candidates = [
            as_object(t, API, "trackings[]") for t in as_list(data["trackings"], API, "trackings")
        ]
    else:
        candidates = [as_object(data.get("tracking", data), API, "tracking")]
    wanted = tracking_number.casefold()
    matches = [
        t for t in candidates if (opt_str(t.get("tracking_number")) or "").casefold() == wanted
    ]
    if slug is not None:
        matches = [t for t in matches if opt_str(t.get("slug")) == slug] or matches
    if not matches:
        return TrackResult(problems=[_not_created(tracking_number, message)])
    update = parse_tracking(
        matches[0], carrier_for=carrier_for, fallback_carrier=carrier, source="poll", report=report
    )
    return TrackResult(updates=[update])


def _not_created(number: str, message: str) -> TrackingProblem:
    return TrackingProblem(
        number,
        DOES_NOT_EXIST,
        f"{API}: {number} is not tracked by AfterShip yet; subscribe (create) it first"
        + (f" ({message})" if message else ""),
    )


def parse_create_response(
    status_code: int, body: bytes | str, *, tracking_number: str
) -> SubscribeResult:
    """A `POST /trackings` answer; "already exists" means it is tracked: accepted."""
    code, message, _ = _envelope(status_code, body)
    if code == ALREADY_EXISTS:
        return SubscribeResult(accepted=[tracking_number])
    _raise_for(status_code, code, message)
    return SubscribeResult(accepted=[tracking_number])


# --- tracking object → TrackingUpdate -------------------------------------------------------------
# (docs/tracking-apis.md "AfterShip subtags" + "AfterShip webhook")


def _resolve(
    code: str | None, tag: str | None, report: UnknownCodeHook | None
) -> tuple[ParcelStatus, str | None, str | None]:
    """(status, sub_reason, raw code): the subtag when known; an unknown subtag is reported
    and its tag (the `Tag_` prefix, docs/tracking-apis.md "AfterShip subtags") used instead."""
    if code is not None:
        status, sub_reason, known = map_code(code)
        if known:
            return status, sub_reason, code
        if report is not None:
            report(API, code)
    prefix = tag or (code.split("_", 1)[0] if code else None)
    if prefix is not None:
        status, sub_reason, known = map_code(prefix)
        if not known and report is not None and prefix != code:
            report(API, prefix)
        return status, sub_reason, code or prefix
    return ParcelStatus.UNKNOWN, None, None


def _location(checkpoint: Mapping[str, Any]) -> str | None:
    location = opt_str(checkpoint.get("location"))
    if location is not None:
        return location
    parts = [opt_str(checkpoint.get(k)) for k in ("city", "state")]
    return ", ".join(p for p in parts if p) or None


# Estimate fields, best first (docs/tracking-apis.md "AfterShip webhook"): AfterShip's latest EDD,
# its older `aftership_estimated_delivery_date`, the courier's own, the legacy `expected_delivery`,
# a custom one, the first EDD. (field, keys inside an object, best first).
ESTIMATE_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("latest_estimated_delivery", ("datetime", "datetime_max", "datetime_min")),
    ("aftership_estimated_delivery_date", (
        "estimated_delivery_date", "estimated_delivery_date_max", "estimated_delivery_date_min",
    )),
    ("courier_estimated_delivery_date", (
        "estimated_delivery_date", "estimated_delivery_date_max", "estimated_delivery_date_min",
    )),
    ("expected_delivery", ()),
    ("custom_estimated_delivery_date", ("datetime", "datetime_max", "datetime_min")),
    ("first_estimated_delivery", ("datetime", "datetime_max", "datetime_min")),
)  # fmt: skip

UNCLASSIFIED: Final = "event:unclassified"  # reported for a checkpoint nothing classified
# A checkpoint with no subtag and no tag, or only this coarse a tag, is classified from its
# message when the message names a stage: older answers tag a billing notice and a pickup scan
# InTransit alike (docs/statuses.md "Events without a code").
COARSE_TAGS: Final = frozenset({None, "InTransit"})


def _expected(tracking: Mapping[str, Any]) -> Any:
    """The best estimate any documented field gives, current or older version."""
    for name, keys in ESTIMATE_FIELDS:
        value = tracking.get(name)
        if isinstance(value, dict):
            value = next((value[k] for k in keys if opt_str(value.get(k))), None)
        if opt_str(value):
            return value
    return None


def _our_carrier(
    slug: str | None, carrier_for: CarrierLookup, report: UnknownCodeHook | None
) -> str:
    """Our code for an AfterShip slug (the config's mapping, else a slug that is one of our
    names, e.g. "yunda"), or "": an unmapped slug ("fedex") is reported as "slug:<slug>" and
    never returned as the update's carrier (docs/tracking-apis.md "Carrier identity")."""
    if not slug:
        return ""
    ours = carrier_for(slug) or normalize_carrier(slug)
    if ours is None and report is not None:
        report(API, f"slug:{slug}")
    return ours or ""


def _checkpoint_zone(checkpoint: Mapping[str, Any], tracking: Mapping[str, Any]) -> ZoneInfo | None:
    """The zone a checkpoint time without offset is read in
    (docs/tracking-apis.md "Event times without an offset"): the checkpoint's country (and state),
    its free-text `country_name`, else
    the tracking's origin, else the parcelwatch default (China)."""
    places = (
        (checkpoint, ("country_iso3", "country_region", "country_name"), "state"),
        (tracking, ("origin_country_iso3", "origin_country_region", "origin_country_name"),
         "origin_state"),
    )  # fmt: skip
    for obj, country_keys, state_key in places:
        for key in country_keys:
            zone = zone_for(country_in(opt_str(obj.get(key))), opt_str(obj.get(state_key)))
            if zone is not None:
                return zone
    return None


def _checkpoint(
    checkpoint: Mapping[str, Any], tracking: Mapping[str, Any], report: UnknownCodeHook | None
) -> CarrierEvent | None:
    when = opt_str(checkpoint.get("checkpoint_time"))
    if when is None:
        return None  # a checkpoint without a time cannot be placed on the timeline
    text = opt_str(checkpoint.get("message")) or ""
    sub, tag = opt_str(checkpoint.get("subtag")), opt_str(checkpoint.get("tag"))
    inferred = False
    if sub is None and tag in COARSE_TAGS and (found := classify_text(text)) is not None:
        (status, reason), code, inferred = found, tag, True
    else:
        status, reason, code = _resolve(sub, tag, report)
        if code is None and report is not None:
            report(API, UNCLASSIFIED)
    zone = _checkpoint_zone(checkpoint, tracking)
    return CarrierEvent(
        occurred_at=parse_iso_time(when, API, zone) if zone else parse_iso_time(when, API),
        status=status,
        raw_text=text,
        raw_code=code,
        sub_reason=reason,
        location=_location(checkpoint),
        inferred=inferred,
    )


def parse_tracking(
    tracking: Mapping[str, Any],
    *,
    carrier_for: CarrierLookup,
    fallback_carrier: str | None,
    source: str,
    report: UnknownCodeHook | None,
) -> TrackingUpdate:
    number = opt_str(tracking.get("tracking_number"))
    if number is None:
        raise MalformedBody(f"{API}: malformed body: tracking without tracking_number")
    slug = opt_str(tracking.get("slug"))
    custom = tracking.get("custom_fields")
    tagged = opt_str(custom.get(CARRIER_FIELD)) if isinstance(custom, dict) else None
    carrier = _our_carrier(slug, carrier_for, report) or tagged or fallback_carrier or ""

    tag = opt_str(tracking.get("tag"))
    status, sub_reason, raw = _resolve(opt_str(tracking.get("subtag")), tag, report)

    events: list[CarrierEvent] = []
    for raw_checkpoint in as_list(tracking.get("checkpoints"), API, "checkpoints"):
        event = _checkpoint(as_object(raw_checkpoint, API, "checkpoints[]"), tracking, report)
        if event is not None:
            events.append(event)
    ordered = forward_only(order_events(events))
    if raw is None and ordered:
        # A tracking without tag or subtag (AfterShip's v3 answers) is where its newest
        # checkpoint left it (docs/tracking-apis.md "AfterShip tags").
        status, sub_reason = ordered[-1].status, ordered[-1].sub_reason

    # `active` false: AfterShip stopped tracking (delivered, expired, or 30 days without
    # news) [I, tracking object field].
    stopped = tracking.get("active") is False
    return TrackingUpdate(
        tracking_number=number,
        carrier=carrier,
        status=status,
        events=tuple(ordered),
        raw_status=raw,
        sub_reason=sub_reason,
        expected_delivery_at=parse_estimate(_expected(tracking), API),
        stopped=stopped,
        stop_reason=f"AfterShip stopped tracking ({tag})" if stopped else None,
        source=source,
    )


# --- webhook (docs/tracking-apis.md "AfterShip webhook") ------------------------------------------


def parse_push(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    carrier_for: CarrierLookup,
    report: UnknownCodeHook | None = None,
) -> PushResult:
    """A webhook (`tracking_update`, `edd_revise`, `tracking_pending_time`): `msg` is the
    tracking object; header `aftership-hmac-sha256` = base64(HMAC-SHA256(body, secret))."""
    given = header(headers, "aftership-hmac-sha256")
    if not given:
        raise SignatureError(f"{API}: webhook without an aftership-hmac-sha256 header")
    expected = webhook_hmac(body, secret)
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise SignatureError(f"{API}: webhook HMAC does not match the webhook secret")
    try:
        obj = as_object(decode_json(body, API), API, "webhook")
        tracking = as_object(obj.get("msg"), API, "msg")
        update = parse_tracking(
            tracking, carrier_for=carrier_for, fallback_carrier=None, source="push", report=report
        )
    except MalformedBody as exc:
        raise PushFormatError(str(exc)) from exc
    return PushResult(updates=[update], reply_body=b"", reply_content_type="text/plain")
