"""One row of an ERP export or the API, checked and normalised into a ShipmentRecord: an order
and the parcels the row lists for it (none, one, or several tracking numbers in one cell).

Column names may be canonical (`order_id`) or the Chinese headers of common ERP exports
(订单编号); carriers may be codes or common names (中通快递, ZTO); provinces any of their
names. Times without a zone are in the warehouse's zone. A row that cannot be trusted raises
RowError naming the column and the reason, so the importer can report it by line and go on.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from carriers.registry import CARRIERS, normalize_carrier
from carriers.status import ParcelStatus, parse_status
from monitor.clock import implausible_moment
from monitor.config import PLATFORMS, Config
from monitor.geo import normalize_province, province_from_address

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("订单号", "订单编号", "主订单编号", "平台订单号", "order id", "orderid"),
    "platform": ("平台", "来源平台", "销售平台"),
    "shop": ("店铺", "店铺名称"),
    "warehouse": ("仓库", "发货仓库", "仓库编码"),
    "paid_at": ("付款时间", "支付时间", "订单付款时间"),
    "carrier": ("快递公司", "物流公司", "承运商"),
    "tracking_number": ("快递单号", "运单号", "物流单号"),
    "shipped_at": ("发货时间",),
    "ship_deadline_at": ("最晚发货时间", "承诺发货时间", "发货截止时间"),
    "province": ("收货省份", "省", "省份"),
    "city": ("收货城市", "市", "城市"),
    "address": ("收货地址", "详细地址"),
    "amount": ("实付金额", "订单金额", "金额", "支付金额"),
    "picked_up_at": ("揽收时间",),
    "delivered_at": ("签收时间",),
    "last_event_at": ("最后更新时间", "物流更新时间"),
    "status": ("物流状态",),
    "phone": ("收货人电话", "收货人手机", "手机", "联系电话", "电话"),
}
_HEADER_LOOKUP = {
    key.casefold(): canonical
    for canonical, aliases in COLUMN_ALIASES.items()
    for key in (canonical, *aliases)
}
REQUIRED_COLUMNS = ("order_id", "paid_at")
TIME_FIELDS = (
    "paid_at", "shipped_at", "ship_deadline_at", "picked_up_at", "delivered_at", "last_event_at",
)  # fmt: skip
# ERPs write a split order's numbers into one cell with any of these between them
# (docs/orders-and-parcels.md "Import").
TRACKING_SEPARATORS = re.compile(r"[,，;；、/\s]+")
ORDER_FIELDS = (
    "order_id", "platform", "shop", "warehouse", "province", "city", "address", "phone",
    "amount", "paid_at", "ship_deadline_at",
)  # fmt: skip
PARCEL_FIELDS = (
    "carrier", "shipped_at", "picked_up_at", "delivered_at", "last_event_at", "status",
    "sub_reason",
)  # fmt: skip

PLATFORM_NAMES: dict[str, str] = {
    "淘宝": "taobao",
    "taobao": "taobao",
    "天猫": "tmall",
    "tmall": "tmall",
    "拼多多": "pinduoduo",
    "pdd": "pinduoduo",
    "pinduoduo": "pinduoduo",
    "京东": "jd",
    "jd": "jd",
    "抖音": "douyin",
    "抖店": "douyin",
    "douyin": "douyin",
    "快手": "kuaishou",
    "kuaishou": "kuaishou",
    "微信": "weixin",
    "视频号": "weixin",
    "微信小店": "weixin",
    "weixin": "weixin",
    "other": "other",
    "其他": "other",
}


def canonical_header(name: str) -> str | None:
    return _HEADER_LOOKUP.get(name.strip().lstrip("\ufeff").casefold())


class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


def split_tracking_numbers(cell: str) -> tuple[str, ...]:
    """ "73100000000903,73100000000904" -> both numbers, once each, in their order."""
    numbers = [n for n in TRACKING_SEPARATORS.split(cell.strip()) if n]
    return tuple(dict.fromkeys(numbers))


def _hash(values: dict[str, Any]) -> str:
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    return hashlib.sha1(json.dumps(plain, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ShipmentRecord:
    """An order and what one row says about its parcels. The parcel fields (carrier, shipped,
    pickup, delivery, status) hold for every tracking number the row lists."""

    order_id: str
    platform: str
    shop: str | None
    warehouse: str
    carrier: str | None
    tracking_numbers: tuple[str, ...]
    province: str | None
    city: str | None
    address: str | None
    amount: float | None
    paid_at: datetime
    shipped_at: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    last_event_at: datetime | None
    status: str
    sub_reason: str | None
    phone: str | None = None
    ship_deadline_at: datetime | None = None

    def order_values(self) -> dict[str, Any]:
        # getattr, not dataclasses.asdict: asdict deep-copies every field, and an import calls
        # this for every row (it was most of an import's time).
        return {k: getattr(self, k) for k in ORDER_FIELDS}

    def order_hash(self) -> str:
        """Fingerprint of the order fields the import sets, so re-importing a row is a no-op."""
        return _hash(self.order_values())

    def parcel_hash(self) -> str:
        """Fingerprint of what the row says about its parcels and their destination."""
        return _hash({k: getattr(self, k) for k in (*PARCEL_FIELDS, "warehouse", "platform",
                                                    "shop", "province", "city", "address",
                                                    "phone")})  # fmt: skip


MAX_AMOUNT = 1e9  # yuan; an order worth more is a unit error, not an order
MAX_TRACKING_LENGTH = 40  # the longest real numbers (postal, international) have about 30
_TIME_PATTERNS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d")


def parse_time(value: str, zone: ZoneInfo) -> datetime:
    text = value.strip().replace("/", "-").replace("T", " ")
    text = re.sub(r"\s+", " ", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # Excel likes "2026-11-24 9:05" (single-digit hour), which ISO parsing refuses.
        for pattern in _TIME_PATTERNS:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"not a date and time: {value!r} (expected e.g. 2026-11-24 14:30:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


class RecordParser:
    """Turns raw column->value mappings into ShipmentRecords for one config."""

    def __init__(self, config: Config, now: datetime | None = None) -> None:
        self.config = config
        self.now = now or datetime.now(UTC)
        self.carrier_aliases = config.carrier_aliases()
        self.zones = {w.id: ZoneInfo(w.timezone) for w in config.warehouses}
        self.default_warehouse = config.warehouses[0].id if len(config.warehouses) == 1 else None

    def parse(self, raw: dict[str, Any]) -> ShipmentRecord:
        row = {k: ("" if v is None else str(v).strip()) for k, v in raw.items()}
        for column, value in row.items():
            if "\x00" in value:
                # PostgreSQL text cannot hold NUL; no ERP field has a reason to.
                raise RowError(column, "contains a NUL character")
        order_id = row.get("order_id", "")
        if not order_id:
            raise RowError("order_id", "missing order id")
        warehouse = self._warehouse(row.get("warehouse", ""))
        zone = self.zones.get(warehouse, ZoneInfo("Asia/Shanghai"))
        times = {name: self._time(row, name, zone) for name in TIME_FIELDS}
        for name, moment in times.items():
            if moment is not None and (reason := implausible_moment(moment, self.now)):
                raise RowError(name, reason)
        if times["paid_at"] is None:
            raise RowError("paid_at", "missing payment time")
        carrier = self._carrier(row.get("carrier", ""))
        numbers = split_tracking_numbers(row.get("tracking_number", ""))
        for number in numbers:
            if len(number) > MAX_TRACKING_LENGTH:
                raise RowError("tracking_number", f"not a tracking number: {number[:40]!r}")
        tracking = numbers[0] if numbers else None
        if tracking and carrier is None:
            raise RowError("carrier", "a tracking number needs its carrier")
        if not tracking:
            for name in ("picked_up_at", "delivered_at"):
                if times[name] is not None:
                    raise RowError(
                        name, "a pickup or delivery time needs the parcel's tracking number"
                    )
        status, sub_reason = self._status(row.get("status", ""), times, tracking)
        if times["shipped_at"] is None and tracking:
            times["shipped_at"] = times["picked_up_at"] or times["last_event_at"]
            if times["shipped_at"] is None:
                raise RowError("shipped_at", "a tracking number needs its shipping time (发货时间)")
        if status == ParcelStatus.DELIVERED and times["delivered_at"] is None:
            times["delivered_at"] = times["last_event_at"]
        self._check_order(times)
        if times["last_event_at"] is None:
            seen = [t for t in (times["picked_up_at"], times["delivered_at"]) if t is not None]
            times["last_event_at"] = max(seen) if seen else None
        province, city = self._destination(row)
        return ShipmentRecord(
            order_id=order_id,
            platform=self._platform(row.get("platform", "")),
            shop=row.get("shop") or None,
            warehouse=warehouse,
            carrier=carrier,
            tracking_numbers=numbers,
            province=province,
            city=city,
            address=row.get("address") or None,
            amount=self._amount(row.get("amount", "")),
            paid_at=times["paid_at"],
            shipped_at=times["shipped_at"],
            picked_up_at=times["picked_up_at"],
            delivered_at=times["delivered_at"],
            last_event_at=times["last_event_at"],
            status=status.value,
            sub_reason=sub_reason,
            phone=row.get("phone") or None,
            ship_deadline_at=times["ship_deadline_at"],
        )

    def _warehouse(self, value: str) -> str:
        if not value:
            if self.default_warehouse:
                return self.default_warehouse
            raise RowError("warehouse", "missing warehouse (more than one is configured)")
        if self.config.warehouses and value not in self.zones:
            known = ", ".join(self.zones)
            raise RowError(
                "warehouse",
                f"unknown warehouse {value!r} (configured: {known}); add a [[warehouses]] entry",
            )
        return value

    @staticmethod
    def _time(row: dict[str, str], name: str, zone: ZoneInfo) -> datetime | None:
        value = row.get(name, "")
        if not value:
            return None
        try:
            return parse_time(value, zone)
        except ValueError as exc:
            raise RowError(name, str(exc)) from None

    def _carrier(self, value: str) -> str | None:
        if not value:
            return None
        code = normalize_carrier(value, self.carrier_aliases)
        if code is None:
            raise RowError(
                "carrier",
                f"unknown carrier {value!r} (known: {', '.join(CARRIERS)}; "
                "add others under [carriers.<code>] with names = [...])",
            )
        return code

    @staticmethod
    def _status(
        value: str, times: dict[str, datetime | None], tracking: str | None
    ) -> tuple[ParcelStatus, str | None]:
        if value:
            parsed = parse_status(value)
            if parsed is None:
                raise RowError("status", f"unknown status {value!r}")
            return parsed
        if times["delivered_at"]:
            return ParcelStatus.DELIVERED, None
        if times["picked_up_at"]:
            # Only a later scan says it has left the pickup point (the stall clock after
            # pickup is shorter than the one in transit: docs/rules.md "stalled").
            later = times["last_event_at"]
            if later is not None and later > times["picked_up_at"]:
                return ParcelStatus.IN_TRANSIT, None
            return ParcelStatus.PICKED_UP, None
        if times["shipped_at"] or tracking:
            return ParcelStatus.LABEL_CREATED, None
        return ParcelStatus.AWAITING_SHIPMENT, None

    @staticmethod
    def _check_order(times: dict[str, datetime | None]) -> None:
        picked, delivered = times["picked_up_at"], times["delivered_at"]
        if picked and delivered and delivered < picked:
            raise RowError("delivered_at", "delivered before it was picked up")
        paid, shipped = times["paid_at"], times["shipped_at"]
        if paid and shipped and (paid - shipped).total_seconds() > 86400:
            raise RowError("shipped_at", "shipped more than a day before it was paid")

    @staticmethod
    def _platform(value: str) -> str:
        if not value:
            return "other"
        name = PLATFORM_NAMES.get(value.casefold()) or PLATFORM_NAMES.get(value)
        if name is None and value.casefold() in PLATFORMS:
            name = value.casefold()
        return name or "other"

    @staticmethod
    def _amount(value: str) -> float | None:
        if not value:
            return None
        try:
            amount = float(value.replace(",", "").replace("¥", "").replace("￥", ""))
        except ValueError:
            raise RowError("amount", f"not a number: {value!r}") from None
        if not math.isfinite(amount) or amount > MAX_AMOUNT:
            raise RowError("amount", f"not a plausible amount: {value!r}")
        if amount < 0:
            raise RowError("amount", f"negative amount {amount}")
        return amount

    @staticmethod
    def _destination(row: dict[str, str]) -> tuple[str | None, str | None]:
        given, city, address = (
            row.get("province", ""),
            row.get("city") or None,
            row.get("address", ""),
        )
        if given:
            province = normalize_province(given)
            if province is None:
                raise RowError("province", f"unknown province {given!r}")
        else:
            province = None
        if address and (province is None or city is None):
            derived_province, derived_city = province_from_address(address)
            province = province or derived_province
            city = city or derived_city
        return province, city
