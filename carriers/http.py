"""Shared helpers for the tracking-API adapters: HTTP error mapping and wire-format parsing.

Error hierarchy an adapter raises (see carriers/base.py for the contract):

    CarrierAPIError
    ├── RateLimited            HTTP 429 (Retry-After / X-RateLimit-Reset parsed into seconds)
    ├── TransientCarrierError  5xx, timeouts, connection errors
    │   └── MalformedBody      a body that is not the documented JSON shape: retry later
    └── PermanentCarrierError  bad key, no quota, bad base URL: retrying will not help

`send()` is the only place an adapter touches httpx; everything httpx raises is mapped here
with `raise ... from exc`, so httpx exceptions never escape an adapter.
"""

from __future__ import annotations

import codecs
import email.utils
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from carriers.base import (
    CarrierEvent,
    PermanentCarrierError,
    RateLimited,
    TransientCarrierError,
)

# Chinese carriers and Kuaidi100 give local times without a zone
# (docs/tracking-apis.md "Kuaidi100 lastResult shape").
SHANGHAI = ZoneInfo("Asia/Shanghai")


class MalformedBody(TransientCarrierError):
    """The API answered, but not in the documented shape (truncated, not JSON, wrong types).

    Transient: the simulator and real APIs produce these under load, and a retry usually
    gets a whole body."""


def required_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A credential from the environment (never from the config file: docs/contract.md
    "Credentials")."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise PermanentCarrierError(
            f"environment variable {name} is not set; tracking-API credentials come from the "
            "environment, never from the config file"
        )
    return value


# --- HTTP -----------------------------------------------------------------------------------


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    api: str,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request and map transport failures, 429 and 5xx to the base.py errors.

    Responses below 500 other than 429 are returned: each API says what its 4xx mean in its
    own envelope, so the adapter classifies those."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientCarrierError(f"{api}: {method} {url} timed out ({exc!r})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise PermanentCarrierError(
            f"{api}: base URL {url!r} is not http(s); check the adapter's base_url"
        ) from exc
    except httpx.RequestError as exc:  # connection refused/reset, DNS, protocol errors
        raise TransientCarrierError(f"{api}: {method} {url} failed: {exc!r}") from exc
    except httpx.InvalidURL as exc:
        raise PermanentCarrierError(
            f"{api}: invalid URL {url!r}; check the adapter's base_url"
        ) from exc
    status = response.status_code
    if status == 429:
        raise RateLimited(
            f"{api}: rate limited (HTTP 429) on {url}",
            retry_after=retry_after_seconds(response.headers),
            status_code=status,
        )
    if status >= 500:
        raise TransientCarrierError(
            f"{api}: HTTP {status} from {url}: {response.text[:200]!r}", status_code=status
        )
    return response


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (delta-seconds or an HTTP date, RFC 9110 §10.2.3),
    else from `X-RateLimit-Reset` (a unix time; AfterShip,
    docs/tracking-apis.md "AfterShip basics")."""
    now = time.time() if now is None else now
    value = header(headers, "retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, when.timestamp() - now)
    reset = header(headers, "x-ratelimit-reset")
    if reset is not None and reset.strip().isdigit():
        return max(0.0, float(reset.strip()) - now)
    return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value by case-insensitive name, from any mapping (httpx, Starlette or dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def decode_json(body: bytes | str, api: str) -> Any:
    """JSON from an API's answer or push. Nesting deep enough to exhaust the parser's
    recursion (no tracking API sends more than a few levels) is a malformed body too."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        snippet = body[:120] if isinstance(body, str) else body[:120].decode("utf-8", "replace")
        raise MalformedBody(f"{api}: malformed body (not JSON): {snippet!r}") from exc


# --- typed access to decoded JSON -------------------------------------------------------------


def as_object(value: Any, api: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedBody(f"{api}: malformed body: {what} is {type(value).__name__}, not object")
    return value


def as_list(value: Any, api: str, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedBody(f"{api}: malformed body: {what} is {type(value).__name__}, not array")
    return value


def opt_str(value: Any) -> str | None:
    """A JSON scalar as text (APIs send codes as strings or numbers); None/"" as None."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


# --- forms --------------------------------------------------------------------------------

_ESCAPE_RUNS = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def parse_form(body: bytes) -> dict[str, list[str]]:
    """application/x-www-form-urlencoded, as `urllib.parse.parse_qs` would read it.

    Carrier pushes are mostly percent-encoded Chinese text; `unquote` decodes escapes one
    dict look-up at a time (about 0.8 ms for a 3 kB Kuaidi100 push, most of a push's cost),
    whereas a run of escapes decodes in one `bytes.fromhex` call."""
    fields: dict[str, list[str]] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        key, _, value = pair.partition(b"=")
        fields.setdefault(_unquote(key), []).append(_unquote(value))
    return fields


def _unquote(raw: bytes) -> str:
    """`%XX` escapes become `\\xXX` ones (backslashes doubled first, so that nothing else
    is read as an escape), which the C `escape_decode` turns into bytes in one call: about
    15 times faster than one escape at a time. A `%` not followed by two hex digits (which
    parse_qs leaves as it is) makes that refuse, and the slow way keeps it."""
    spaced = raw.replace(b"+", b" ")
    try:
        decoded = codecs.escape_decode(spaced.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return _unquote_runs(spaced)
    return bytes(decoded).decode("utf-8")


def _unquote_runs(raw: bytes) -> str:
    text = raw.decode("latin-1")  # one character per byte, losslessly
    out = bytearray()
    position = 0
    for run in _ESCAPE_RUNS.finditer(text):
        out += text[position : run.start()].encode("latin-1")
        out += bytes.fromhex(run.group().replace("%", ""))
        position = run.end()
    out += text[position:].encode("latin-1")
    return out.decode("utf-8")


# --- times --------------------------------------------------------------------------------


def parse_local_time(value: str, api: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    """`YYYY-MM-DD HH:MM[:SS]` in the carrier's zone (Kuaidi100,
    docs/tracking-apis.md "Kuaidi100 lastResult shape")."""
    text = value.strip()
    if len(text) in (16, 19) and text[10:11] == " ":
        try:  # the C parser: strptime costs ~35 us a call, and a push carries dozens
            return datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            pass
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise MalformedBody(f"{api}: malformed body: time {value!r} is not YYYY-MM-DD HH:MM:SS")


def parse_iso_time(value: str, api: str, naive_tz: ZoneInfo = SHANGHAI) -> datetime:
    """An ISO 8601 time; a time without offset is taken in `naive_tz` (the parcels this product
    tracks are scanned in China)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedBody(f"{api}: malformed body: time {value!r} is not ISO 8601") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_tz)


def parse_estimate(value: Any, api: str, tz: ZoneInfo = SHANGHAI) -> datetime | None:
    """An estimated delivery: an ISO time, or a bare date meaning "by the end of that day"
    (so the `delayed` rule fires only once the whole day has passed)."""
    text = opt_str(value)
    if text is None:
        return None
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise MalformedBody(f"{api}: malformed body: date {text!r} is not ISO 8601") from exc
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return parse_iso_time(text, api, tz)


# --- events -------------------------------------------------------------------------------


def order_events(events: Iterable[CarrierEvent]) -> tuple[CarrierEvent, ...]:
    """Oldest first, duplicates (same time and same text) removed.

    APIs repeat a scan when several providers report it (17TRACK) or when a push re-sends the
    whole history (Kuaidi100 `updateall`); the first copy in API order is kept. The sort is
    stable, so two scans in the same second keep the order the API gave them."""
    seen: set[tuple[datetime, str]] = set()
    unique: list[CarrierEvent] = []
    for event in events:
        key = (event.occurred_at, event.raw_text.strip())
        if key in seen:
            continue
        seen.add(key)
        unique.append(event)
    return tuple(sorted(unique, key=lambda e: e.occurred_at))
