"""Pure functions between Kuaidi100's wire format and carriers/base.py types.

Query answers and push bodies come in; `TrackResult`, `SubscribeResult` and `PushResult` go
out. Per-number problems are data; whole-call failures raise a `CarrierAPIError`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
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
    TransientCarrierError,
    UnknownCodeHook,
)
from carriers.http import (
    MalformedBody,
    as_list,
    as_object,
    decode_json,
    opt_str,
    order_events,
    parse_form,
    parse_local_time,
)
from carriers.kuaidi100.status import STALENESS_CODES, code_for_name, map_code
from carriers.phrases import classify_text, forward_only
from carriers.status import ParcelStatus

API: Final = "kuaidi100"

# The push reply Kuaidi100 expects within 20 s, else it retries after 30 min (docs/tracking-apis.md
# "Kuaidi100 push callback").
PUSH_REPLY: Final = '{"result":true,"returnCode":"200","message":"成功"}'.encode()

# Couriers whose query and subscription need the receiver's or sender's phone (docs/tracking-apis.md
# "Kuaidi100 query").
PHONE_REQUIRED: Final = frozenset({"shunfeng", "shunfengkuaiyun", "zhongtong"})

CarrierLookup = Callable[[str], str | None]  # Kuaidi100 `com` → parcelwatch code


# --- signatures ---------------------------------------------------------------------------


def query_sign(param: str, key: str, customer: str) -> str:
    """Uppercase MD5 of param + key + customer, over the exact `param` string sent
    (docs/tracking-apis.md "Kuaidi100 query")."""
    return hashlib.md5((param + key + customer).encode()).hexdigest().upper()


def push_sign(param: str, salt: str) -> str:
    """MD5 of param + salt (docs/tracking-apis.md "Kuaidi100 push callback"); the case is
    unspecified, so it is compared ignoring case."""
    return hashlib.md5((param + salt).encode()).hexdigest().upper()


def encode_param(value: Mapping[str, Any]) -> str:
    """The `param` JSON string, compact and ASCII-only: what is signed is what is sent, and
    \\u escapes survive form encoding whatever charset the server assumes."""
    return json.dumps(value, separators=(",", ":"))


# --- query (docs/tracking-apis.md "Kuaidi100 query" + "Kuaidi100 lastResult shape") ---------------

# returnCode of a failed query → (kind, explanation). kind: "permanent" | "transient" |
# "problem" (this number, retry later) | "problem-final" (this number, fix data first).
QUERY_ERRORS: Final[Mapping[str, tuple[str, str]]] = {
    "400": (
        "permanent",
        "找不到对应公司: incomplete data, no quota, wrong customer, or not form-encoded",
    ),
    "408": (
        "problem-final",
        "验证码错误: the phone (last 4 digits) is missing or wrong; SF and ZTO require it",
    ),
    "500": ("problem", "查询无结果: no result yet, or the number is not of this company"),
    "501": ("transient", "Kuaidi100 server error"),
    "502": ("transient", "Kuaidi100 busy"),
    "503": ("permanent", "验证签名失败: check PARCELWATCH_KUAIDI100_KEY and _CUSTOMER"),
    "600": ("permanent", "bad key: check PARCELWATCH_KUAIDI100_KEY"),
    "601": ("permanent", "key expired or no quota left: renew the Kuaidi100 account"),
}

# returnCode of a subscription (docs/tracking-apis.md "Kuaidi100 subscription"). 501 = already
# subscribed and still polling: accepted.
SUBSCRIBE_ERRORS: Final[Mapping[str, tuple[str, str]]] = {
    "500": ("transient", "Kuaidi100 server error"),
    "600": ("permanent", "bad key: check PARCELWATCH_KUAIDI100_KEY"),
    "601": ("permanent", "key expired or no quota left: renew the Kuaidi100 account"),
    "700": ("permanent", "bad request data or callback URL: check the webhook URL"),
    "701": ("problem-final", "the courier refused the subscription"),
    "702": ("problem-final", "company code not recognised: check [carriers.<code>] code"),
}
SUBSCRIBE_ACCEPTED: Final = frozenset({"200", "501"})


def _classify(
    table: Mapping[str, tuple[str, str]], code: str, message: str, number: str
) -> TrackingProblem:
    """Raise for whole-call failures; return the per-number problem otherwise."""
    kind, why = table.get(code, ("transient" if code.startswith("5") else "permanent", ""))
    text = f"{API}: returnCode {code} {message}" + (f" ({why})" if why else "")
    if kind == "transient":
        raise TransientCarrierError(text)
    if kind == "permanent":
        raise PermanentCarrierError(text)
    return TrackingProblem(number, code, text, retryable=kind == "problem")


def parse_query_response(
    body: bytes | str,
    *,
    tracking_number: str,
    carrier: str,
    carrier_for: CarrierLookup,
    report: UnknownCodeHook | None = None,
) -> TrackResult:
    """A `poll/query.do` answer about one number (`carrier` is the one asked about)."""
    obj = as_object(decode_json(body, API), API, "answer")
    return_code = opt_str(obj.get("returnCode"))
    # A map-track answer with a result says `"result": false, "returnCode": null` beside its
    # data (recorded payload, docs/tracking-apis.md "Kuaidi100 lastResult shape"): it is an answer,
    # not an error.
    answered = return_code is None and "nu" in obj and "data" in obj
    if not answered and (obj.get("result") is False or return_code not in (None, "200")):
        if return_code is None:
            raise MalformedBody(f"{API}: malformed body: result false without returnCode")
        message = opt_str(obj.get("message")) or ""
        return TrackResult(
            problems=[_classify(QUERY_ERRORS, return_code, message, tracking_number)]
        )
    com = opt_str(obj.get("com"))
    resolved = (carrier_for(com) if com else None) or carrier  # the one asked about
    update = parse_last_result(obj, carrier=resolved, report=report, source="poll")
    # Report under the number asked about: Kuaidi100 may echo it in another case.
    if update.tracking_number != tracking_number:
        update = replace(update, tracking_number=tracking_number)
    return TrackResult(updates=[update])


def parse_subscribe_response(body: bytes | str, *, tracking_number: str) -> SubscribeResult:
    obj = as_object(decode_json(body, API), API, "answer")
    code = opt_str(obj.get("returnCode"))
    if code is None:
        raise MalformedBody(f"{API}: malformed body: subscription answer without returnCode")
    if code in SUBSCRIBE_ACCEPTED:
        return SubscribeResult(accepted=[tracking_number])
    message = opt_str(obj.get("message")) or ""
    return SubscribeResult(problems=[_classify(SUBSCRIBE_ERRORS, code, message, tracking_number)])


# --- lastResult → TrackingUpdate ------------------------------------------------------------------
# (docs/tracking-apis.md "Kuaidi100 lastResult shape" + "Kuaidi100 state codes")


def _lookup(code: str, report: UnknownCodeHook | None) -> tuple[ParcelStatus, str | None]:
    status, sub_reason, known = map_code(code)
    if not known and report is not None:
        report(API, code)
    return status, sub_reason


# What `report` receives for an event nothing classified: one fixed code, so the counter of
# unknown codes stays bounded (scan texts are free text).
UNCLASSIFIED: Final = "event:unclassified"
# A status name this coarse (在途) yields to the scan text when the text says more (代收:
# waiting at a station).
GENERIC_CODES: Final = frozenset({"0"})


def _classify_event(
    item: Mapping[str, Any], text: str, report: UnknownCodeHook | None
) -> tuple[str | None, ParcelStatus, str | None, bool]:
    """(raw code, status, sub_reason, inferred) of one `data[]` event (docs/tracking-apis.md
    "Kuaidi100 lastResult shape" + docs/statuses.md "Events without a code"): its own `statusCode`
    first; else the Chinese `status` name (answers without `resultv2=4`); else the scan text. Only a
    `statusCode` is the carrier's own code; the rest is inferred and may not move the parcel
    back a stage."""
    code = opt_str(item.get("statusCode"))
    if code is not None:
        status, sub_reason = _lookup(code, report)
        if status is not ParcelStatus.UNKNOWN:
            return code, status, sub_reason, False
    name = opt_str(item.get("status"))
    named = code_for_name(name) if name else None
    if named in GENERIC_CODES and (found := classify_text(text)) is not None:
        return code or named, found[0], found[1], True  # the text is finer than a bare 在途
    if named is not None:
        status, sub_reason = _lookup(named, None)
        return code or named, status, sub_reason, True
    found = classify_text(name or "") or classify_text(text)
    if found is not None:
        return code, found[0], found[1], True
    if report is not None and code is None:
        report(API, UNCLASSIFIED)
    return code, ParcelStatus.UNKNOWN, None, False


def _oldest_first(obj: Mapping[str, Any], number: str) -> list[tuple[datetime, Mapping[str, Any]]]:
    """`data[]` with each event's time, oldest first. `data` is newest first unless the query
    asked for `order=asc` (docs/tracking-apis.md "Kuaidi100 lastResult shape"), so its order is
    read from its times, not assumed; equal times keep the API's order."""
    timed: list[tuple[datetime, Mapping[str, Any]]] = []
    for raw in as_list(obj.get("data"), API, "data"):
        item = as_object(raw, API, "data[]")
        when = opt_str(item.get("time")) or opt_str(item.get("ftime"))
        if when is None:
            raise MalformedBody(f"{API}: malformed body: event without time in {number}")
        timed.append((parse_local_time(when, API), item))
    if len(timed) > 1 and timed[0][0] > timed[-1][0]:
        timed.reverse()
    return timed


def parse_last_result(
    obj: Mapping[str, Any],
    *,
    carrier: str,
    report: UnknownCodeHook | None,
    source: str,
    stopped: bool = False,
    stop_reason: str | None = None,
) -> TrackingUpdate:
    """One `lastResult` object (the query answer has the same shape); `carrier` is our code,
    already resolved by the caller (after any company correction)."""
    number = opt_str(obj.get("nu"))
    if number is None:
        raise MalformedBody(f"{API}: malformed body: result without `nu` (tracking number)")

    events: list[CarrierEvent] = []
    for when, item in _oldest_first(obj, number):
        text = opt_str(item.get("context")) or ""
        code, status, sub_reason, guessed = _classify_event(item, text, report)
        events.append(
            CarrierEvent(
                occurred_at=when,
                status=status,
                raw_text=text,
                raw_code=code,
                sub_reason=sub_reason,
                location=opt_str(item.get("location")) or opt_str(item.get("areaName")),
                inferred=guessed,
            )
        )
    events = forward_only(events)

    state = opt_str(obj.get("state"))
    newest = events[-1] if events and events[-1].status is not ParcelStatus.UNKNOWN else None
    if state is not None:
        status, sub_reason = _lookup(state, report)
    elif newest is not None:
        status, sub_reason = newest.status, newest.sub_reason
    else:
        status, sub_reason = ParcelStatus.UNKNOWN, None
    if state in STALENESS_CODES and newest is not None and newest.raw_code not in STALENESS_CODES:
        # 201/202 flag silence; the parcel is wherever its newest scan left it (status.py).
        status, sub_reason = newest.status, newest.sub_reason
    if not events and status is ParcelStatus.IN_TRANSIT:
        # Kuaidi100 says state 0 (在途) for a number with no scan at all (e.g. abort
        # 3天查询无记录); calling that in transit would hide a missing pickup scan.
        status, sub_reason = ParcelStatus.LABEL_CREATED, None
    if events and events[-1].status is ParcelStatus.UNKNOWN:
        # The newest scan that nothing else classified is what the top-level state describes.
        events[-1] = replace(events[-1], status=status, sub_reason=sub_reason)

    return TrackingUpdate(
        tracking_number=number,
        carrier=carrier,
        status=status,
        events=order_events(events),
        raw_status=state,
        sub_reason=sub_reason,
        expected_delivery_at=_arrival(obj),
        stopped=stopped,
        stop_reason=stop_reason,
        source=source,
    )


def _arrival(obj: Mapping[str, Any]) -> datetime | None:
    """The predicted arrival `arrivalTime` of map-track answers, "YYYY-MM-DD HH" in China time
    (docs/tracking-apis.md "Kuaidi100 lastResult shape"); the end of that hour, so "delayed" waits
    for it."""
    text = opt_str(obj.get("arrivalTime"))
    if text is None or len(text) != 13:
        return None
    try:
        return parse_local_time(text + ":59:59", API)
    except MalformedBody:
        return None


# --- push callback (docs/tracking-apis.md "Kuaidi100 push callback") ------------------------------


def _our_carrier(com: str, carrier_for: CarrierLookup, report: UnknownCodeHook | None) -> str:
    """Our carrier code for a Kuaidi100 `com`, or "" (the stored carrier stays) when it maps to
    none of ours: Kuaidi100's identifier is reported as "com:<code>", never stored as a
    carrier (docs/tracking-apis.md "Carrier identity").
    """
    ours = carrier_for(com)
    if ours is None and report is not None:
        report(API, f"com:{com}")
    return ours or ""


def parse_push(
    body: bytes,
    *,
    salt: str,
    carrier_for: CarrierLookup,
    report: UnknownCodeHook | None = None,
) -> PushResult:
    """A push: form fields `param` (JSON) and `sign` = md5(param + salt).

    - `polling` / `updateall`: an update (updateall re-sends the whole history).
    - `shutdown`: tracking ended (delivered or closed) → stopped.
    - `comNew` (on `abort`, and on `polling` as in the vendor's example): Kuaidi100 corrected
      the company and keeps tracking under the new code → the update carries the corrected
      carrier, not stopped. A `com` that maps to none of our carriers is reported as
      "com:<code>" and the update's carrier is "" (the stored one stays).
    - `abort` without `comNew` (e.g. 3天查询无记录, 60天无变化): monitoring stopped → stopped,
      with Kuaidi100's message as the reason; re-subscribe no sooner than 30 min later
      (docs/tracking-apis.md "Kuaidi100 subscription").
    """
    try:
        fields = parse_form(body)
    except UnicodeDecodeError as exc:
        raise PushFormatError(f"{API}: push body is not UTF-8 form data") from exc
    params = fields.get("param")
    signs = fields.get("sign")
    if not params:
        raise PushFormatError(f"{API}: push without a `param` field")
    if not signs:
        raise SignatureError(f"{API}: push without a `sign` field")
    param = params[0]
    expected = push_sign(param, salt)
    if not hmac.compare_digest(signs[0].strip().upper().encode(), expected.encode()):
        raise SignatureError(f"{API}: push signature does not match md5(param + salt)")

    try:
        obj = as_object(decode_json(param, API), API, "param")
        push_status = opt_str(obj.get("status")) or "polling"
        message = opt_str(obj.get("message"))
        last = as_object(obj.get("lastResult"), API, "lastResult")
        old_com = opt_str(obj.get("comOld")) or opt_str(last.get("com"))
        new_com = opt_str(obj.get("comNew"))
        # Kuaidi100 may send `comNew` with any status (its own example has it on `polling`):
        # the corrected company wins whenever we know it.
        carrier = _our_carrier(new_com, carrier_for, report) if new_com else ""
        if not carrier and old_com:
            carrier = _our_carrier(old_com, carrier_for, report)
        stopped, stop_reason = False, None
        if push_status == "shutdown":
            stopped, stop_reason = True, message or "shutdown"
        elif push_status == "abort" and not new_com:
            stopped, stop_reason = True, message or "abort"
        update = parse_last_result(
            last,
            carrier=carrier,
            report=report,
            source="push",
            stopped=stopped,
            stop_reason=stop_reason,
        )
        if push_status == "abort" and stopped:
            # re-subscribe 30 min later (docs/tracking-apis.md "Kuaidi100 subscription")
            update = replace(update, resubscribe=True)
    except MalformedBody as exc:
        raise PushFormatError(str(exc)) from exc
    return PushResult(
        updates=[update], reply_body=PUSH_REPLY, reply_content_type="application/json"
    )
