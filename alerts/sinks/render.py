"""What a person reads: concise Chinese messages (warehouse leads and customer service read
them), with the English kind code kept beside the Chinese name so that on-call engineers and
searches find it.

One alert:
    【严重】疑似丢件 lost · 新告警
    订单 O1001 · 运单 YT0001 · yto · 新疆 · 仓库 hz1
    开始 2026-11-20 12:00（已 26 小时）
    原因 破损 · 阈值(小时) 48
    查看包裹 https://pw.example.com/parcels/O1001

Several alerts waiting for one channel become one digest: a count per kind, then one line
per alert (critical first) until the channel's size limit, then "另有 N 条".

Values that come from carriers or ERP exports (scan texts, sub-reasons, order numbers) are
untrusted: markup characters in them are neutralised so they cannot forge links, mentions or
formatting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.sinks.base import Notification, parse_time

KIND_NAMES = {
    "unshipped_past_cutoff": "超时未发货",
    "ship_deadline_at_risk": "发货即将超时",
    "ship_deadline_breached": "发货超时",
    "no_pickup_scan": "揽收超时",
    "stalled": "物流停滞",
    "delayed": "派送延误",
    "lost": "疑似丢件",
    "delivery_failed": "派送失败",
    "returned": "退回",
    "rejected": "拒签",
    "damaged": "破损",
    "carrier_incident": "快递区域异常",
    "hub_incident": "转运中心积压",
    "carrier_api_failing": "快递接口故障",
}
EVENT_NAMES = {
    "opened": "新告警",
    "escalated": "升级",
    "resolved": "已解决",
    "parcel_shipped": "已揽收发货",
    "parcel_delivered": "已签收",
}
SEVERITY_NAMES = {"critical": "严重", "warning": "警告"}
DETAIL_LABELS = {
    "sub_reason": "原因",
    "carrier_status": "物流状态",
    "threshold_hours": "阈值(小时)",
    "penalty_estimate_yuan": "预计赔付(元)",
    "parcels": "包裹数",
    "affected": "异常数",
    "share": "异常占比",
    "baseline_rate": "基线占比",
    "by_kind": "按类型",
    "failing_since": "故障开始",
    "last_success_at": "最近成功",
    "consecutive_failures": "连续失败",
    "last_error": "最近错误",
}
RATIO_KEYS = frozenset({"share", "baseline_rate"})
TIME_KEYS = frozenset({"failing_since", "last_success_at"})
VALUE_CHARS = 80  # one detail value
DETAIL_CHARS = 300  # the whole detail line


def kind_label(kind: str | None) -> str:
    if kind is None:
        return "告警"
    name = KIND_NAMES.get(kind)
    return f"{name} {kind}" if name else kind


def truncate_utf8(text: str, limit: int, marker: str = "\n…（内容过长，已截断）") -> str:
    """`text` cut to at most `limit` bytes of UTF-8, never inside a character, preferring a
    line break, and ending with `marker` when something was cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(limit - len(marker.encode("utf-8")), 0)
    # errors="ignore" drops the partial character a byte cut may leave at the end.
    head = data[:room].decode("utf-8", errors="ignore")
    line_break = head.rfind("\n")
    if line_break > len(head) // 2:
        head = head[:line_break]
    return (head + marker) if len(marker.encode("utf-8")) <= limit else head


@dataclass(frozen=True)
class Flavor:
    """Markup of one channel."""

    name: str  # markdown | wecom | slack | plain

    def bold(self, text: str) -> str:
        if self.name == "slack":
            return f"*{text}*"
        if self.name == "plain":
            return text
        return f"**{text}**"

    def link(self, text: str, url: str) -> str:
        if self.name == "slack":
            return f"<{url}|{text}>"
        if self.name == "plain":
            return f"{text} {url}"
        return f"[{text}]({url})"

    def severity(self, severity: str | None, event: str) -> str:
        label = f"【{SEVERITY_NAMES.get(severity or '', severity or '通知')}】"
        if self.name == "wecom":  # WeCom markdown colours: info, comment, warning only (A5)
            colour = "comment" if event == "resolved" else "warning"
            if severity != "critical" and event != "resolved":
                colour = "info"
            return f'<font color="{colour}">{label}</font>'
        return label

    def clean(self, value: object, limit: int = VALUE_CHARS) -> str:
        """An untrusted value, on one line, without markup that could forge links,
        mentions or formatting."""
        text = " ".join(str(value).split())
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        if self.name == "slack":
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if self.name == "plain":
            return text
        table = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "`": "｀"})
        return text.translate(table)


MARKDOWN = Flavor("markdown")
WECOM = Flavor("wecom")
SLACK = Flavor("slack")
PLAIN = Flavor("plain")


class Renderer:
    """Turns notifications into text for one channel's flavor. `public_url` is where the
    web pages are (links to `/parcels/{order_id}`); `timezone` is the readers' zone."""

    def __init__(self, public_url: str | None = None, timezone: str = "Asia/Shanghai") -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.tz = ZoneInfo(timezone)

    # -- pieces -------------------------------------------------------------------------

    def link(self, n: Notification) -> str | None:
        if not self.public_url:
            return None
        from urllib.parse import quote

        if n.order_id:
            page = f"{self.public_url}/parcels/{quote(n.order_id, safe='')}"
            # Order ids are unique within a platform only (docs/orders-and-parcels.md).
            platform = n.text("platform")
            return f"{page}?platform={quote(platform, safe='')}" if platform else page
        return f"{self.public_url}/"

    def when(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def title(self, n: Notification, flavor: Flavor) -> str:
        event = EVENT_NAMES.get(n.event, n.event)
        if n.is_parcel_event:
            return flavor.bold(f"包裹{event}") + f" · 订单 {flavor.clean(n.order_id or '-')}"
        head = flavor.severity(n.severity, n.event)
        return head + flavor.bold(f"{kind_label(n.kind)} · {event}")

    def subject_line(self, n: Notification, flavor: Flavor) -> str:
        parts = []
        for label, key in (("订单", "order_id"), ("运单", "tracking_number")):
            if value := n.text(key):
                parts.append(f"{label} {flavor.clean(value)}")
        for key in ("carrier", "province"):
            if value := n.text(key):
                parts.append(flavor.clean(value))
        if value := n.text("warehouse"):
            parts.append(f"仓库 {flavor.clean(value)}")
        return " · ".join(parts)

    def since_line(self, n: Notification) -> str | None:
        if n.is_parcel_event:
            at = parse_time(n.payload.get("at"))
            return f"时间 {self.when(at)}" if at else None
        since = n.since()
        if since is None:
            return None
        hours = (n.created_at - since).total_seconds() / 3600
        lasting = f"（已 {hours:.0f} 小时）" if hours >= 1 else ""
        return f"开始 {self.when(since)}{lasting}"

    def detail_line(self, n: Notification, flavor: Flavor) -> str | None:
        parts = [
            f"{DETAIL_LABELS.get(key, flavor.clean(key, 30))} {text}"
            for key, value in n.detail.items()
            if (text := self._detail_value(key, value, flavor))
        ]
        for key, label in (("actor", "处理人"), ("note", "备注")):
            if value := n.text(key):
                parts.append(f"{label} {flavor.clean(value)}")
        if not parts:
            return None
        line = " · ".join(parts)
        return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 1] + "…"

    def _detail_value(self, key: str, value: Any, flavor: Flavor) -> str | None:
        if value is None or value == "" or value == {}:
            return None
        if key in RATIO_KEYS and isinstance(value, int | float):
            return f"{value:.1%}"
        if key in TIME_KEYS and (moment := parse_time(value)) is not None:
            return self.when(moment)
        if isinstance(value, Mapping):
            return "，".join(
                f"{KIND_NAMES.get(str(k), flavor.clean(k, 30))} {flavor.clean(v, 20)}"
                for k, v in value.items()
            )
        return flavor.clean(value)

    # -- whole messages -----------------------------------------------------------------

    def report_lines(self, n: Notification, flavor: Flavor) -> list[str]:
        """The Monday scorecard digest: the week and the courier switches it suggests."""
        week = flavor.clean(n.payload.get("week") or "")
        lines = [flavor.bold(f"每周快递评分 {week}")]
        switches = n.payload.get("switches") or []
        if not switches:
            lines.append("各省快递表现稳定，无需更换。")
        for item in switches:
            gains = []
            if isinstance(hours := item.get("hours_saved"), int | float) and hours > 0:
                gains.append(f"快 {hours:.0f} 小时")
            losses = item.get("losses_avoided_per_10k")
            if isinstance(losses, int | float) and losses > 0:
                gains.append(f"每万件少丢 {losses:.1f} 件")
            lines.append(
                f"- {flavor.clean(item.get('province') or '')}：建议由 "
                f"{flavor.clean(item.get('from') or '')} 改用 {flavor.clean(item.get('to') or '')}"
                + (f"（{'，'.join(gains)}）" if gains else "")
            )
        if more := n.payload.get("more_switches"):
            lines.append(f"…另有 {more} 个省份建议更换")
        if self.public_url and (link := n.payload.get("link")):
            lines.append(flavor.link("查看评分报告", f"{self.public_url}{link}"))
        return lines

    def lines(self, n: Notification, flavor: Flavor) -> list[str]:
        if n.is_report:
            return self.report_lines(n, flavor)
        lines = [self.title(n, flavor)]
        for line in (self.subject_line(n, flavor), self.since_line(n)):
            if line:
                lines.append(line)
        if not n.is_parcel_event and (detail := self.detail_line(n, flavor)):
            lines.append(detail)
        if url := self.link(n):
            lines.append(flavor.link("查看包裹" if n.order_id else "打开告警队列", url))
        return lines

    def message(self, n: Notification, flavor: Flavor) -> str:
        # Markdown needs a blank line between paragraphs; plain text does not.
        return ("\n" if flavor.name == "plain" else "\n\n").join(self.lines(n, flavor))

    def short_title(self, n: Notification) -> str:
        """For e-mail subjects and DingTalk's notification title: no markup."""
        if n.is_report:
            return f"每周快递评分 {n.payload.get('week') or ''}".strip()
        if n.is_parcel_event:
            return f"包裹{EVENT_NAMES.get(n.event, n.event)} {n.order_id or ''}".strip()
        severity = SEVERITY_NAMES.get(n.severity or "", n.severity or "")
        name = KIND_NAMES.get(n.kind or "", n.kind or "告警")
        subject = n.order_id or " ".join(filter(None, (n.text("carrier"), n.text("province"))))
        event = EVENT_NAMES.get(n.event, n.event)
        head = f"【{severity}】{name}" if severity else name
        return " ".join(filter(None, (head, event, subject)))

    def digest_title(self, messages: Sequence[Notification]) -> str:
        return f"parcelwatch：{len(messages)} 条告警"

    def digest(self, messages: Sequence[Notification], flavor: Flavor, limit: int) -> str:
        """One message for many, at most `limit` bytes of UTF-8."""
        counts = Counter(
            KIND_NAMES.get(n.kind or "", n.kind or EVENT_NAMES.get(n.event, n.event))
            for n in messages
        )
        head = [
            flavor.bold(self.digest_title(messages)),
            " · ".join(f"{name} {count}" for name, count in counts.most_common()),
        ]
        footer = [flavor.link("打开告警队列", f"{self.public_url}/")] if self.public_url else []
        ordered = sorted(messages, key=lambda n: n.severity != "critical")  # stable
        separator = "\n" if flavor.name == "plain" else "\n\n"
        body: list[str] = []
        for index, n in enumerate(ordered):
            line = "- " + self.digest_line(n, flavor)
            rest = len(ordered) - index - 1
            tail = [f"…另有 {rest} 条"] if rest else []
            candidate = separator.join([*head, "\n".join([*body, line]), *tail, *footer])
            if len(candidate.encode("utf-8")) > limit:
                body.append(f"…另有 {len(ordered) - index} 条")
                break
            body.append(line)
        return truncate_utf8(separator.join([*head, "\n".join(body), *footer]), limit)

    def digest_line(self, n: Notification, flavor: Flavor) -> str:
        if n.is_report:
            return self.short_title(n)
        event = EVENT_NAMES.get(n.event, n.event)
        if n.is_parcel_event:
            head = f"包裹{event}"
        else:
            severity = SEVERITY_NAMES.get(n.severity or "", n.severity or "")
            head = f"【{severity}】{KIND_NAMES.get(n.kind or '', n.kind or '告警')}（{event}）"
        parts = [head, self.subject_line(n, flavor)]
        since = n.since()
        if since is not None:
            parts.append(f"自 {self.when(since)}")
        text = " ".join(p for p in parts if p)
        url = self.link(n)
        if url and n.order_id:
            return f"{text} {flavor.link('查看', url)}"
        return text
