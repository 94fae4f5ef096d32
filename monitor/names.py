"""Names of canonical values (statuses, platforms, carriers) in Chinese and English: what the
pages, the sentences and the evidence packs print for a stored code."""

from __future__ import annotations

from carriers.registry import CARRIERS

STATUS_NAMES = {
    "zh": {
        "awaiting_shipment": "待发货",
        "label_created": "已打单待揽收",
        "picked_up": "已揽收",
        "in_transit": "运输中",
        "out_for_delivery": "派件中",
        "available_for_pickup": "待取件",
        "delivered": "已签收",
        "delivery_failed": "派送失败",
        "returning": "退回中",
        "returned": "已退回",
        "rejected": "拒签",
        "exception": "异常",
        "unknown": "未知",
    },
    "en": {
        "awaiting_shipment": "Awaiting shipment",
        "label_created": "Label created",
        "picked_up": "Picked up",
        "in_transit": "In transit",
        "out_for_delivery": "Out for delivery",
        "available_for_pickup": "Ready for collection",
        "delivered": "Delivered",
        "delivery_failed": "Delivery failed",
        "returning": "Being returned",
        "returned": "Returned",
        "rejected": "Refused",
        "exception": "Exception",
        "unknown": "Unknown",
    },
}
PLATFORM_NAMES = {
    "zh": {
        "taobao": "淘宝",
        "tmall": "天猫",
        "pinduoduo": "拼多多",
        "jd": "京东",
        "douyin": "抖音",
        "kuaishou": "快手",
        "weixin": "微信小店",
        "other": "其他平台",
    },
    "en": {
        "taobao": "Taobao",
        "tmall": "Tmall",
        "pinduoduo": "Pinduoduo",
        "jd": "JD",
        "douyin": "Douyin",
        "kuaishou": "Kuaishou",
        "weixin": "WeChat shop",
        "other": "Other",
    },
}


def carrier_name(code: str | None, lang: str) -> str:
    if not code:
        return ""
    info = CARRIERS.get(code)
    if info is None:
        return code
    return info.name_zh if lang == "zh" else info.name_en
