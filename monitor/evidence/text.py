"""The words of an evidence pack and a penalty report, in Chinese (the default: packs go to
Chinese platforms' appeal desks) and English."""

from __future__ import annotations

from typing import Any

TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "订单 {order_id} 物流申诉证据",
        "generated": "生成时间",
        "zone_note": "表中时间均为 {zone}",
        "sources": {"push": "推送", "poll": "查询", "import": "导入"},
        "conclusion": "结论",
        "order": "订单",
        "platform": "平台",
        "shop": "店铺",
        "warehouse": "发货仓",
        "paid_at": "付款时间",
        "amount": "金额",
        "deadline": "发货时限",
        "rule": "时限依据",
        "rule_platform_export": "平台导出的最晚发货时间",
        "rule_promise": "付款后 {hours} 小时内发货（{platform}承诺时效）",
        "parcels": "包裹与运单号",
        "carrier": "快递公司",
        "tracking_number": "运单号",
        "uploaded_at": "运单号上传时间",
        "pickup_at": "揽收扫描时间",
        "pickup_due": "揽收时限",
        "pickup_rule": "运单号上传后 {hours} 小时内应有揽收扫描",
        "none": "无",
        "other_orders": "同包裹的其他订单",
        "timeline": "物流轨迹（按快递公司推送的原样记录）",
        "occurred_at": "时间",
        "status": "状态",
        "scan": "快递公司原文",
        "inferred": "状态据原文推断",
        "location": "地点",
        "source": "来源",
        "received_at": "收到时间",
        "answers": "快递公司原始报文",
        "answers_note": (
            "以下为 parcelwatch 收到的报文原文，SHA-256 为收到时计算，可据此核对报文未被改动。"
        ),
        "decoded": "URL 解码后（仅便于阅读；以上方原文为准）",
        "answers_none": "没有保存的原始报文（早于保存期限，或来自导入的历史数据）。",
        "answer_kind": {"push": "推送", "poll": "查询应答"},
        "manifest": "文件清单与校验值",
        "manifest_note": (
            "证据包中每个文件的 SHA-256；用 parcelwatch evidence --verify 可重新核对。"
        ),
        "penalty": "平台处罚",
        "penalty_kind": "处罚类型",
        "penalty_amount": "处罚金额",
        "penalty_at": "处罚时间",
        "reasons": {
            "uploaded_in_time": "运单号上传 {at}，早于发货时限 {due}",
            "picked_up_in_time": "揽收扫描 {at}，早于发货时限 {due}",
            "uploaded_late": "运单号上传 {at}，晚于发货时限 {due}（晚 {late} 小时）",
            "not_shipped": "截至 {now} 仍未上传运单号（发货时限 {due}）",
            "scanned_in_time": (
                "揽收扫描 {at}，在运单号 {number} 上传（{uploaded}）后 {hours} 小时，"
                "未超过 {window} 小时时限"
            ),
            "scanned_late": (
                "揽收扫描 {at}，在运单号 {number} 上传（{uploaded}）后 {hours} 小时，"
                "超过 {window} 小时时限"
            ),
            "never_scanned": "运单号 {number} 上传（{uploaded}）后没有揽收扫描",
            "pickup_not_yet_due": "运单号 {number} 上传于 {uploaded}，揽收时限 {due} 尚未到",
            "no_number": "截至 {now} 订单没有上传运单号",
            "order_missing": "找不到订单 {order_id}",
            "order_ambiguous": "订单号 {order_id} 在多个平台都有（{platforms}），请指明平台",
            "kind_unknown": "无法识别的处罚类型「{text}」",
        },
        "outcomes": {"contestable": "可申诉", "fair": "合理", "unknown": "无法判断"},
        "kinds": {
            "late_shipment": "延迟发货",
            "fake_shipment": "虚假发货",
            "late_pickup": "揽收超时",
            "other": "其他",
        },
        "at_fault": {"seller": "商家", "carrier": "快递公司"},
    },
    "en": {
        "title": "Order {order_id}: evidence for a logistics appeal",
        "generated": "Generated",
        "zone_note": "times in the tables are {zone}",
        "sources": {"push": "push", "poll": "poll", "import": "import"},
        "conclusion": "Conclusion",
        "order": "Order",
        "platform": "Platform",
        "shop": "Shop",
        "warehouse": "Warehouse",
        "paid_at": "Paid",
        "amount": "Amount",
        "deadline": "Ship deadline",
        "rule": "Deadline rule",
        "rule_platform_export": "the latest ship time in the platform's export",
        "rule_promise": "ship within {hours} h of payment ({platform}'s promise)",
        "parcels": "Parcels and tracking numbers",
        "carrier": "Carrier",
        "tracking_number": "Tracking number",
        "uploaded_at": "Number uploaded",
        "pickup_at": "Pickup scan",
        "pickup_due": "Pickup due",
        "pickup_rule": "a pickup scan within {hours} h of the upload",
        "none": "none",
        "other_orders": "Other orders in this parcel",
        "timeline": "Timeline (as the carrier sent it)",
        "occurred_at": "Time",
        "status": "Status",
        "scan": "Carrier's text",
        "inferred": "status read from the text",
        "location": "Location",
        "source": "Source",
        "received_at": "Received",
        "answers": "The carrier's bodies as received",
        "answers_note": (
            "Each body exactly as parcelwatch received it; the SHA-256 was computed on receipt, "
            "so the body can be checked unaltered."
        ),
        "decoded": "URL-decoded, for reading only (the body above is the original)",
        "answers_none": "No bodies kept (older than the retention, or history from an import).",
        "answer_kind": {"push": "push", "poll": "poll answer"},
        "manifest": "Manifest",
        "manifest_note": (
            "The SHA-256 of every file in the pack; parcelwatch evidence --verify checks them."
        ),
        "penalty": "Platform charge",
        "penalty_kind": "Charge",
        "penalty_amount": "Amount",
        "penalty_at": "Charged",
        "reasons": {
            "uploaded_in_time": "tracking number uploaded {at}, before the ship deadline {due}",
            "picked_up_in_time": "pickup scan {at}, before the ship deadline {due}",
            "uploaded_late": (
                "tracking number uploaded {at}, after the ship deadline {due} ({late} h late)"
            ),
            "not_shipped": "no tracking number uploaded by {now} (ship deadline {due})",
            "scanned_in_time": (
                "pickup scan {at}, {hours} h after {number} was uploaded ({uploaded}), "
                "within the {window} h window"
            ),
            "scanned_late": (
                "pickup scan {at}, {hours} h after {number} was uploaded ({uploaded}), "
                "past the {window} h window"
            ),
            "never_scanned": "no pickup scan since {number} was uploaded ({uploaded})",
            "pickup_not_yet_due": (
                "{number} uploaded {uploaded}; its pickup is not due before {due}"
            ),
            "no_number": "no tracking number uploaded by {now}",
            "order_missing": "no order {order_id} in the store",
            "order_ambiguous": "order id {order_id} exists on several platforms ({platforms})",
            "kind_unknown": "charge type not recognised: {text!r}",
        },
        "outcomes": {"contestable": "contestable", "fair": "fair", "unknown": "unknown"},
        "kinds": {
            "late_shipment": "late shipment",
            "fake_shipment": "fake shipment",
            "late_pickup": "late pickup",
            "other": "other",
        },
        "at_fault": {"seller": "seller", "carrier": "carrier"},
    },
}
