"""Chinese and English for the pages. The language comes from `?lang=`, then the `lang`
cookie the switch sets, then the browser's Accept-Language; Chinese when nothing says."""

from __future__ import annotations

from starlette.requests import Request

from monitor.names import PLATFORM_NAMES, STATUS_NAMES, carrier_name

LANGUAGES = ("zh", "en")

KIND_NAMES = {
    "zh": {
        "unshipped_past_cutoff": "超时未发货",
        "ship_deadline_at_risk": "发货即将超时",
        "ship_deadline_breached": "发货超时",
        "no_pickup_scan": "揽收超时",
        "stalled": "物流停滞",
        "delayed": "预计延误",
        "lost": "疑似丢件",
        "delivery_failed": "派送失败",
        "returned": "退回",
        "rejected": "拒签",
        "damaged": "破损",
        "carrier_incident": "快递异常事件",
        "hub_incident": "转运中心积压",
        "carrier_api_failing": "快递接口故障",
    },
    "en": {
        "unshipped_past_cutoff": "Unshipped past cutoff",
        "ship_deadline_at_risk": "Ship deadline at risk",
        "ship_deadline_breached": "Ship deadline breached",
        "no_pickup_scan": "No pickup scan",
        "stalled": "Stalled",
        "delayed": "Delayed",
        "lost": "Lost",
        "delivery_failed": "Delivery failed",
        "returned": "Returned",
        "rejected": "Rejected",
        "damaged": "Damaged",
        "carrier_incident": "Carrier incident",
        "hub_incident": "Hub incident",
        "carrier_api_failing": "Carrier API failing",
    },
}

TEXT = {
    "zh": {
        "evidence": "申诉证据", "evidence_zip": "证据包 (zip)", "evidence_bulk": "导出申诉证据",
        "penalty_costs": "因快递原因被平台罚款", "penalty_lines": "笔数", "penalty_yuan": "金额",
        "penalty_costs_note": "本周平台处罚中，运单号按时上传、快递揽收超时的部分"
        "（由快递造成的损失）。",
        "title": "异常队列", "all": "全部", "state": "状态", "kind": "类型", "severity": "级别",
        "warehouse": "仓库", "carrier": "快递", "province": "省份", "platform": "平台",
        "filter": "筛选", "export": "导出 CSV", "sort": "排序", "sort_severity": "按级别",
        "sort_age": "按时长", "sort_newest": "最新", "since": "开始时间", "order": "订单",
        "tracking": "运单号", "assignee": "负责人", "actions": "操作", "ack": "确认",
        "resolve": "解决", "assign": "指派", "snooze": "暂缓至", "comment": "备注",
        "bulk": "批量", "selected": "选中的", "prev": "上一页", "next": "下一页",
        "open": "待处理", "acknowledged": "已确认", "resolved": "已解决", "active": "未解决",
        "warning": "警告", "critical": "严重", "login": "登录", "logout": "退出",
        "user": "用户名", "password": "密码", "bad_login": "用户名或密码错误",
        "throttled": "尝试次数过多，请 {wait} 秒后再试", "form_expired": "表单已过期，请重新登录",
        "silenced": "静默中", "inhibited": "并入异常事件", "held_tip": "（在队列中，不发通知）",
        "silence_like": "静默同类告警",
        "silence_tip": "同类型、同快递、同省份的告警在此期间不发通知",
        "hours": "小时", "reason": "原因",
        "parcel": "包裹", "timeline": "物流轨迹", "alerts": "异常", "history": "处理记录",
        "paid_at": "付款时间", "shipped_at": "发货时间", "status": "物流状态",
        "no_alerts": "没有异常", "no_events": "暂无物流信息", "detail": "详情",
        "signed_in_as": "当前用户", "read_only": "只读", "apply": "执行", "note": "备注内容",
        "count": "条", "count_one": "条", "page": "页", "expected": "预计送达", "source": "来源",
        "scorecards": "快递评分", "mine": "只看指派给我的", "what": "情况", "where": "仓库 → 省份",
        "live_new": "新增 {n} 条", "live_gone": "已解决或移出 {n} 条",
        "recommendations": "建议", "use": "建议使用", "current": "当前", "switch": "更换",
        "hours_saved": "每件节省 (小时)", "why": "原因", "yes": "是", "no": "否",
        "national": "全国", "charts": "图表", "by_province": "各省份",
        "today": "今日", "to_ship": "今天必须发出", "near_deadline": "临近平台发货时限",
        "to_ship_rule": "{cutoff} 前付款、尚未发货，须在 {ship_by} 前发出",
        "time_left": "还剩 {left}", "time_over": "已超 {left}", "and_more": "另有 {n} 单",
        "nothing": "没有", "no_pickup_by_carrier": "已发货未揽收（按快递）",
        "open_by_kind": "未解决异常（与昨天此时比）", "now": "现在", "yesterday": "昨天",
        "no_recommendations": "没有包裹量足够排名的省份",
        "parcels": "包裹", "amount": "实付金额", "not_shipped": "尚未发货",
        "also_carries": "同包裹的其他订单", "which_platform": "多个平台有此订单号，请选择：",
        "parcel_n": "包裹 {n}", "members": "暂缓通知的包裹 {n} 件",
        "held_by_it": "查看涉及的包裹", "trend_7d": "近 7 天每天新增异常",
        "per_day": "{first} 至 {last}", "held_by": "异常事件 #{id} 暂缓通知的告警",
    },
    "en": {
        "evidence": "Appeal evidence", "evidence_zip": "pack (zip)",
        "evidence_bulk": "Export appeal evidence",
        "penalty_costs": "Platform charges caused by the carrier", "penalty_lines": "Charges",
        "penalty_yuan": "Amount",
        "penalty_costs_note": "This week's platform charges where the number was uploaded in "
        "time and the carrier's pickup scan came late.",
        "title": "Exception queue", "all": "All", "state": "State", "kind": "Kind",
        "severity": "Severity", "warehouse": "Warehouse", "carrier": "Carrier",
        "province": "Province", "platform": "Platform", "filter": "Filter",
        "export": "Export CSV", "sort": "Sort", "sort_severity": "Severity",
        "sort_age": "Age", "sort_newest": "Newest", "since": "Since", "order": "Order",
        "tracking": "Tracking no.", "assignee": "Assignee", "actions": "Actions",
        "ack": "Acknowledge", "resolve": "Resolve", "assign": "Assign",
        "snooze": "Snooze until", "comment": "Comment", "bulk": "Bulk",
        "selected": "Selected", "prev": "Previous", "next": "Next", "open": "Open",
        "acknowledged": "Acknowledged", "resolved": "Resolved", "active": "Unresolved",
        "warning": "Warning", "critical": "Critical", "login": "Sign in",
        "logout": "Sign out", "user": "User", "password": "Password",
        "bad_login": "Wrong user or password",
        "throttled": "Too many attempts; try again in {wait} s",
        "silenced": "Silenced", "inhibited": "Under an incident",
        "held_tip": "(in the queue, not notified)", "silence_like": "Silence alerts like this",
        "silence_tip": "Same kind, carrier and province: no notifications meanwhile",
        "hours": "h", "reason": "Reason",
        "form_expired": "The form has expired; please sign in again",
        "parcel": "Parcel", "timeline": "Tracking",
        "alerts": "Alerts", "history": "History", "paid_at": "Paid", "shipped_at": "Shipped",
        "status": "Status", "no_alerts": "No alerts", "no_events": "No tracking yet",
        "detail": "Detail", "signed_in_as": "Signed in as", "read_only": "read only",
        "apply": "Apply", "note": "Note", "count": "alerts", "count_one": "alert", "page": "page",
        "expected": "Expected", "source": "Source", "scorecards": "Carrier scorecards",
        "mine": "Assigned to me", "what": "What happened", "where": "Warehouse → province",
        "live_new": "{n} new", "live_gone": "{n} resolved or moved",
        "recommendations": "Recommendations", "use": "Use", "current": "Current",
        "switch": "Switch", "hours_saved": "Hours saved a parcel", "why": "Why", "yes": "yes",
        "no": "no", "national": "National", "charts": "Charts", "by_province": "By province",
        "today": "Today", "to_ship": "Must ship today",
        "near_deadline": "Close to the ship deadline",
        "to_ship_rule": "paid before {cutoff}, not shipped: must leave by {ship_by}",
        "time_left": "{left} left", "time_over": "{left} over", "and_more": "and {n} more",
        "nothing": "Nothing", "no_pickup_by_carrier": "Shipped, not yet scanned (by carrier)",
        "open_by_kind": "Open alerts (against this time yesterday)", "now": "Now",
        "yesterday": "Yesterday",
        "no_recommendations": "No province has a carrier with enough parcels to rank.",
        "parcels": "Parcels", "amount": "Amount", "not_shipped": "Not shipped yet",
        "also_carries": "Also in this parcel", "which_platform":
        "Orders of several platforms have this id; choose one:", "parcel_n": "Parcel {n}",
        "members": "{n} parcels held", "held_by_it": "the parcels it holds",
        "trend_7d": "New alerts a day, last 7 days", "per_day": "{first} to {last}",
        "held_by": "Alerts incident #{id} holds back",
    },
}  # fmt: skip


# The closed vocabularies of the pages: every canonical value a page can show has a name in
# both languages (tests/monitor/web/test_sentences.py checks that none is missing).
SUB_REASON_NAMES = {
    "zh": {
        "lost": "丢失",
        "damaged": "破损",
        "refused": "收件人拒收",
        "unreachable": "联系不上收件人",
        "bad_address": "地址有误",
        "out_of_area": "超出派送范围",
        "missorted": "分拣错误",
        "customs": "清关",
        "held": "网点滞留",
        "other": "其他原因",
    },
    "en": {
        "lost": "lost",
        "damaged": "damaged",
        "refused": "refused by the buyer",
        "unreachable": "buyer unreachable",
        "bad_address": "wrong address",
        "out_of_area": "outside the delivery area",
        "missorted": "missorted",
        "customs": "customs hold",
        "held": "held at the outlet",
        "other": "other reason",
    },
}
# What the history of an alert says happened (alert_event.action), and who "system" is.
ACTION_NAMES = {
    "zh": {
        "opened": "打开",
        "escalated": "升级",
        "deescalated": "降级",
        "acknowledged": "确认",
        "assigned": "指派给",
        "snoozed": "暂缓至",
        "commented": "备注",
        "resolved": "解决",
        "moved": "转移",
        "reopened": "重新打开",
        "silenced": "静默（不通知）",
        "unsilenced": "静默结束，已通知",
        "inhibited": "并入异常事件（不单独通知）",
        "uninhibited": "异常事件结束，已通知",
        "paged": "逐级通知",
        "reminder": "提醒",
    },
    "en": {
        "opened": "opened",
        "escalated": "escalated",
        "deescalated": "de-escalated",
        "acknowledged": "acknowledged",
        "assigned": "assigned to",
        "snoozed": "snoozed until",
        "commented": "commented",
        "resolved": "resolved",
        "moved": "moved",
        "reopened": "reopened",
        "silenced": "silenced (not notified)",
        "unsilenced": "silence ended, notified",
        "inhibited": "held under an incident (not notified)",
        "uninhibited": "incident over, notified",
        "paged": "escalated to",
        "reminder": "reminded",
    },
}
ACTOR_NAMES = {"zh": {"system": "系统"}, "en": {"system": "System"}}
RESOLUTION_NAMES = {
    "zh": {"cleared": "情况已消除", "superseded": "被更严重的告警取代", "manual": "人工处理"},
    "en": {
        "cleared": "condition cleared",
        "superseded": "superseded by a graver alert",
        "manual": "resolved by hand",
    },
}
SOURCE_NAMES = {
    "zh": {"import": "导入", "poll": "查询", "push": "推送"},
    "en": {"import": "imported", "poll": "queried", "push": "pushed"},
}
ROLE_NAMES = {
    "zh": {"viewer": "查看", "lead": "组长", "admin": "管理员", "anonymous": "访客"},
    "en": {"viewer": "viewer", "lead": "lead", "admin": "admin", "anonymous": "guest"},
}
SEVERITY_NAMES = {
    "zh": {"warning": "警告", "critical": "严重"},
    "en": {"warning": "Warning", "critical": "Critical"},
}
STATE_NAMES = {
    "zh": {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决", "active": "未解决",
           "all": "全部"},
    "en": {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved",
           "active": "Unresolved", "all": "All"},
}  # fmt: skip


class Labels:
    """The names of canonical values in one language, for templates and sentences. An
    unknown value is shown as it is (better than hiding what the store holds)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def _pick(self, table: dict[str, dict[str, str]], value: str | None) -> str:
        if value is None:
            return ""
        return table[self.lang].get(value, value)

    def kind(self, value: str | None) -> str:
        return self._pick(KIND_NAMES, value)

    def status(self, value: str | None) -> str:
        return self._pick(STATUS_NAMES, value)

    def sub_reason(self, value: str | None) -> str:
        return self._pick(SUB_REASON_NAMES, value)

    def platform(self, value: str | None) -> str:
        return self._pick(PLATFORM_NAMES, value)

    def carrier(self, value: str | None) -> str:
        return carrier_name(value, self.lang)

    def action(self, value: str | None) -> str:
        return self._pick(ACTION_NAMES, value)

    def actor(self, value: str | None) -> str:
        return self._pick(ACTOR_NAMES, value)

    def resolution(self, value: str | None) -> str:
        return self._pick(RESOLUTION_NAMES, value)

    def source(self, value: str | None) -> str:
        return self._pick(SOURCE_NAMES, value)

    def role(self, value: str | None) -> str:
        return self._pick(ROLE_NAMES, value)

    def severity(self, value: str | None) -> str:
        return self._pick(SEVERITY_NAMES, value)

    def state(self, value: str | None) -> str:
        return self._pick(STATE_NAMES, value)


def pick_language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
    return "zh"
