"""Chinese and English for the pages. The language comes from `?lang=`, then the `lang`
cookie the switch sets, then the browser's Accept-Language; Chinese when nothing says."""

from __future__ import annotations

from starlette.requests import Request

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
        "carrier_api_failing": "Carrier API failing",
    },
}

TEXT = {
    "zh": {
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
        "parcel": "包裹", "timeline": "物流轨迹", "alerts": "异常", "history": "处理记录",
        "paid_at": "付款时间", "shipped_at": "发货时间", "status": "物流状态",
        "no_alerts": "没有异常", "no_events": "暂无物流信息", "detail": "详情",
        "signed_in_as": "当前用户", "read_only": "只读", "apply": "执行", "note": "备注内容",
        "count": "条", "page": "页", "expected": "预计送达", "source": "来源",
        "scorecards": "快递评分",
    },
    "en": {
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
        "form_expired": "The form has expired; please sign in again",
        "parcel": "Parcel", "timeline": "Tracking",
        "alerts": "Alerts", "history": "History", "paid_at": "Paid", "shipped_at": "Shipped",
        "status": "Status", "no_alerts": "No alerts", "no_events": "No tracking yet",
        "detail": "Detail", "signed_in_as": "Signed in as", "read_only": "read only",
        "apply": "Apply", "note": "Note", "count": "alerts", "page": "page",
        "expected": "Expected", "source": "Source", "scorecards": "Carrier scorecards",
    },
}  # fmt: skip


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
