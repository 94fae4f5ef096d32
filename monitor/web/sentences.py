"""One sentence per alert, in Chinese or English, built from its kind and `detail`
(docs/rules.md "Alert kinds and defaults" lists what each kind's detail holds): what went
wrong, by how much against which limit, and the fact the lead acts on next (the last scan
and where, the compensation at stake, the carrier's reason).

Pure: the caller passes the moment "now", the warehouse's zone and the facts a detail does
not carry (the last scan's place, the carrier and province of a carrier-wide alert). Times
are local to the warehouse; a missing or unreadable value leaves its clause out rather than
failing the page. The raw detail stays in the API and behind a disclosure on the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.web.i18n import KIND_NAMES, Labels

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BANDS = {
    "zh": {"same_province": "省内", "adjacent": "相邻省份", "cross_region": "跨区域",
           "remote": "偏远地区"},
    "en": {"same_province": "same province", "adjacent": "neighbouring province",
           "cross_region": "cross-region", "remote": "remote area"},
}  # fmt: skip
SEP = " · "


@dataclass(frozen=True)
class Facts:
    """What the sentence is about, beyond the detail itself."""

    kind: str
    detail: Mapping[str, Any]
    now: datetime
    zone: ZoneInfo
    carrier: str | None = None
    province: str | None = None
    since: datetime | None = None
    last_location: str | None = None  # where the last scan was, from the tracking events


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def local_time(value: Any, lang: str, zone: ZoneInfo, now: datetime | None = None) -> str:
    """`11-29 14:51` / `29 Nov 14:51`, with the year when it is not this year's."""
    moment = parse_time(value)
    if moment is None:
        return ""
    at = moment.astimezone(zone)
    other_year = now is not None and now.astimezone(zone).year != at.year
    if lang == "zh":
        return f"{at:%Y-%m-%d %H:%M}" if other_year else f"{at:%m-%d %H:%M}"
    day = f"{at.day} {MONTHS[at.month - 1]}" + (f" {at.year}" if other_year else "")
    return f"{day} {at:%H:%M}"


def span(hours: float | None, lang: str) -> str:
    """52 小时 / 52 h; from three days on, 3 天 4 小时 / 3 d 4 h; under an hour, minutes."""
    if hours is None or hours != hours:  # NaN
        return ""
    hours = max(hours, 0.0)
    if hours < 1:
        minutes = round(hours * 60)
        return f"{minutes} 分钟" if lang == "zh" else f"{minutes} min"
    whole = round(hours)
    if whole < 72:
        return f"{whole} 小时" if lang == "zh" else f"{whole} h"
    days, rest = divmod(whole, 24)
    if lang == "zh":
        return f"{days} 天" + (f" {rest} 小时" if rest else "")
    return f"{days} d" + (f" {rest} h" if rest else "")


def money(value: Any) -> str:
    number = _number(value)
    if number is None:
        return ""
    return f"¥{number:.0f}" if float(number).is_integer() else f"¥{number:.2f}"


def percent(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{number * 100:.1f}%"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _hours_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600


class _Writer:
    """The sentence parts of one language."""

    def __init__(self, facts: Facts, lang: str) -> None:
        self.f = facts
        self.d = facts.detail
        self.lang = lang
        self.names = Labels(lang)
        self.zh = lang == "zh"

    def time(self, key: str) -> str:
        return local_time(self.d.get(key), self.lang, self.f.zone, self.f.now)

    def ago(self, key: str) -> float | None:
        return _hours_between(parse_time(self.d.get(key)), self.f.now)

    def limit(self, key: str = "threshold_hours") -> str:
        hours = span(_number(self.d.get(key)), self.lang)
        if not hours:
            return ""
        return f"（阈值 {hours}）" if self.zh else f" (limit {hours})"

    def last_scan(self, fallback_since: bool = False) -> str:
        """The last scan, when and where; the carrier-reported kinds start at the carrier's
        last word, so their `since` is that scan's time."""
        when = self.time("last_scan_at")
        if not when and fallback_since and self.f.since is not None:
            when = local_time(self.f.since, self.lang, self.f.zone, self.f.now)
        where = self.f.last_location or ""
        if not when and not where:
            return ""
        if self.zh:
            return "最后：" + " ".join(p for p in (when, where) if p)
        return "last: " + ", ".join(p for p in (when, where) if p)

    def penalty(self) -> str:
        amount = money(self.d.get("penalty_estimate_yuan"))
        if not amount:
            return ""
        return f"预计赔付 {amount}" if self.zh else f"estimated compensation {amount}"

    def reason(self) -> str:
        reason = self.d.get("sub_reason")
        return self.names.sub_reason(str(reason)) if reason else ""


def _join(*parts: str) -> str:
    return SEP.join(p for p in parts if p)


def _unshipped(w: _Writer) -> str:
    due, late = w.time("ship_by"), span(w.ago("ship_by"), w.lang)
    if w.zh:
        head = f"应于 {due} 前发货" if due else "未按时发货"
        return head + (f"，已超 {late}" if late else "")
    head = f"Due to ship by {due}" if due else "Not shipped in time"
    return head + (f", {late} late" if late else "")


def _at_risk(w: _Writer) -> str:
    due = w.time("deadline")
    deadline = parse_time(w.d.get("deadline"))
    left = span(_hours_between(w.f.now, deadline), w.lang) if deadline else ""
    promise = span(_number(w.d.get("ship_promise_hours")), w.lang)
    if w.zh:
        head = f"须在 {due} 前发货" if due else "发货时限将到"
        return (
            head
            + (f"，还剩 {left}" if left else "")
            + (f"（平台时限 {promise}）" if promise else "")
        )
    head = f"Must ship by {due}" if due else "Ship deadline close"
    return head + (f", {left} left" if left else "") + (f" ({promise} promise)" if promise else "")


def _breached(w: _Writer) -> str:
    due, late = w.time("deadline"), span(w.ago("deadline"), w.lang)
    promise = span(_number(w.d.get("ship_promise_hours")), w.lang)
    if w.zh:
        head = f"应于 {due} 前发货" if due else "已超平台发货时限"
        head += f"（平台时限 {promise}）" if promise else ""
        return _join(head + (f"，已超 {late}" if late else ""), w.penalty())
    head = f"Should have shipped by {due}" if due else "Platform ship promise missed"
    head += f" ({promise} promise)" if promise else ""
    return _join(head + (f", {late} late" if late else ""), w.penalty())


def _no_pickup(w: _Writer) -> str:
    threshold = _number(w.d.get("threshold_hours"))
    since = w.f.since
    waited = None
    if threshold is not None and since is not None:
        waited = threshold + (w.f.now - since).total_seconds() / 3600
    hours = span(waited, w.lang)
    if w.zh:
        head = f"上传运单 {hours}仍无揽收扫描" if hours else "上传运单后仍无揽收扫描"
        return _join(head + w.limit(), w.penalty())
    head = f"No pickup scan {hours} after upload" if hours else "No pickup scan since upload"
    return _join(head + w.limit(), w.penalty())


STALL_STAGE = {
    "zh": {"picked_up": "揽收后", "in_transit": "运输途中", "out_for_delivery": "派件中"},
    "en": {"picked_up": "since pickup", "in_transit": "in transit",
           "out_for_delivery": "while out for delivery"},
}  # fmt: skip


def _stalled(w: _Writer) -> str:
    stage = str(w.d.get("stage") or "")
    quiet = span(w.ago("last_scan_at"), w.lang)
    if stage == "available_for_pickup":
        head = f"在驿站/快递柜 {quiet}未取件" if w.zh else f"Uncollected at a locker for {quiet}"
    elif w.zh:
        head = f"{STALL_STAGE['zh'].get(stage, '')} {quiet}无新轨迹".strip()
    else:
        where = STALL_STAGE["en"].get(stage, "")
        head = f"No scan for {quiet}" + (f" {where}" if where else "")
    return _join(head + w.limit(), w.last_scan())


def _basis(w: _Writer) -> str:
    basis = str(w.d.get("basis") or "")
    if basis == "carrier_estimate":
        return "快递公司预计" if w.zh else "carrier's estimate"
    if basis == "lane_p90":
        return "该线路九成包裹的时效" if w.zh else "90 % of this lane's parcels"
    if basis.startswith("distance_band:"):
        band = BANDS[w.lang].get(basis.split(":", 1)[1], "")
        return f"{band}默认时效" if w.zh else f"{band} default"
    return ""


def _delayed(w: _Writer) -> str:
    due, late, basis = (
        w.time("expected_delivery_at"),
        span(w.ago("expected_delivery_at"), w.lang),
        _basis(w),
    )
    if w.zh:
        head = f"预计 {due} 前送达" if due else "未按预计送达"
        return head + (f"，已晚 {late}" if late else "") + (f"（依据：{basis}）" if basis else "")
    head = f"Expected by {due}" if due else "Later than expected"
    return head + (f", {late} late" if late else "") + (f" (basis: {basis})" if basis else "")


def _lost(w: _Writer) -> str:
    if w.d.get("basis") == "carrier_declared":
        head = "快递公司报告丢件" if w.zh else "The carrier reports it lost"
    else:
        quiet = span(w.ago("last_scan_at"), w.lang)
        head = f"{quiet}无任何轨迹，疑似丢件" if w.zh else f"No scan for {quiet}: probably lost"
    return _join(head, w.last_scan())


def _failed(w: _Writer) -> str:
    reason = w.reason()
    if w.d.get("carrier_status") == "exception":
        head = "快递异常" if w.zh else "Carrier exception"
    else:
        head = "派送失败" if w.zh else "Delivery failed"
    return _join(
        head + ((f"：{reason}" if w.zh else f": {reason}") if reason else ""), w.last_scan(True)
    )


def _returned(w: _Writer) -> str:
    done = w.d.get("carrier_status") == "returned"
    if w.zh:
        head = "已退回发件地" if done else "退回中"
    else:
        head = "Returned to sender" if done else "Being returned to sender"
    reason = w.reason()
    return _join(
        head + ((f"（{reason}）" if w.zh else f" ({reason})") if reason else ""), w.last_scan(True)
    )


def _rejected(w: _Writer) -> str:
    return _join("收件人拒收" if w.zh else "Refused by the buyer", w.last_scan(True))


def _damaged(w: _Writer) -> str:
    return _join("快递公司报告破损" if w.zh else "The carrier reports damage", w.last_scan(True))


def _incident(w: _Writer) -> str:
    carrier = w.names.carrier(w.f.carrier) or ("快递" if w.zh else "Carrier")
    place = w.f.province or ""
    parcels, affected = _number(w.d.get("parcels")), _number(w.d.get("affected"))
    share, usual = percent(w.d.get("share")), percent(w.d.get("baseline_rate"))
    if w.zh:
        head = f"{carrier} 发往 {place}" if place else carrier
        if parcels is not None and affected is not None:
            head += f"：{parcels:.0f} 件中 {affected:.0f} 件停滞或延误"
        extra = "，".join(p for p in (share, f"平时 {usual}" if usual else "") if p)
        return head + (f"（{extra}）" if extra else "")
    head = f"{carrier} to {place}" if place else carrier
    if parcels is not None and affected is not None:
        head += f": {affected:.0f} of {parcels:.0f} parcels stalled or late"
    extra = ", ".join(p for p in (share, f"usually {usual}" if usual else "") if p)
    return head + (f" ({extra})" if extra else "")


def _hub_incident(w: _Writer) -> str:
    carrier = w.names.carrier(w.f.carrier) or ("快递" if w.zh else "Carrier")
    hub = str(w.d.get("hub") or ("某转运中心" if w.zh else "a hub"))
    parcels, stalled = _number(w.d.get("parcels")), _number(w.d.get("stalled"))
    share, usual = percent(w.d.get("share")), percent(w.d.get("usual_share"))
    if w.zh:
        head = f"{carrier} {hub}"
        if parcels is not None and stalled is not None:
            head += f"：{parcels:.0f} 件中 {stalled:.0f} 件停滞"
        extra = "，".join(p for p in (share, f"其他转运中心 {usual}" if usual else "") if p)
        return head + (f"（{extra}）" if extra else "")
    head = f"{carrier} {hub}"
    if parcels is not None and stalled is not None:
        head += f": {stalled:.0f} of {parcels:.0f} parcels stalled"
    extra = ", ".join(p for p in (share, f"other hubs {usual}" if usual else "") if p)
    return head + (f" ({extra})" if extra else "")


def _api_failing(w: _Writer) -> str:
    carrier = w.names.carrier(w.f.carrier) or ("快递" if w.zh else "Carrier")
    since, ok = w.time("failing_since"), w.time("last_success_at")
    failures = _number(w.d.get("consecutive_failures"))
    if w.zh:
        head = f"{carrier} 查询接口" + (f"自 {since} 起" if since else "") + "调用失败"
        head += f"（连续 {failures:.0f} 次）" if failures else ""
        return _join(head, f"最近成功：{ok}" if ok else "")
    head = f"{carrier} tracking API failing" + (f" since {since}" if since else "")
    head += f" ({failures:.0f} failures in a row)" if failures else ""
    return _join(head, f"last success: {ok}" if ok else "")


BUILDERS: dict[str, Callable[[_Writer], str]] = {
    "unshipped_past_cutoff": _unshipped,
    "ship_deadline_at_risk": _at_risk,
    "ship_deadline_breached": _breached,
    "no_pickup_scan": _no_pickup,
    "stalled": _stalled,
    "delayed": _delayed,
    "lost": _lost,
    "delivery_failed": _failed,
    "returned": _returned,
    "rejected": _rejected,
    "damaged": _damaged,
    "carrier_incident": _incident,
    "hub_incident": _hub_incident,
    "carrier_api_failing": _api_failing,
}


def sentence(facts: Facts, lang: str) -> str:
    """The alert in one line, in `lang` (zh or en)."""
    writer = _Writer(facts, lang if lang in ("zh", "en") else "zh")
    build = BUILDERS.get(facts.kind)
    if build is None:
        return KIND_NAMES[writer.lang].get(facts.kind, facts.kind)
    return build(writer)


def history_note(action: str, note: str | None, lang: str, zone: ZoneInfo,
                 now: datetime | None = None) -> str:  # fmt: skip
    """A history entry's note as a person reads it: severities and resolutions named, a
    snooze's ISO time shown locally; a lead's own words unchanged."""
    if not note:
        return ""
    names = Labels(lang)
    if action in ("escalated", "deescalated") and " -> " in note:
        old, new = note.split(" -> ", 1)
        return f"{names.severity(old)} → {names.severity(new)}"
    if action == "resolved" and note in ("cleared", "superseded", "manual"):
        return names.resolution(note)
    if action == "snoozed" and parse_time(note) is not None:
        return local_time(note, lang, zone, now)
    return note
