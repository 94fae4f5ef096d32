"""A seeded sample shop: an ERP-style order export for the demo and the README tour.

The numbers come from docs/scorecard.md "Simulator calibration" (carrier shares and speeds, lane
bands, the order-side clock, the 6 % exception tail) so that the demo's alert queue and scorecard
look like a real mid-sized shop's rather than noise. Every row is the state of an order as
seen at `now`: nothing in it happens after `now`, and the status is the latest event's.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from monitor.calendar import ShippingCalendar
from monitor.geo import distance_band, province_info

HEADERS: Final = [
    "订单编号", "平台", "店铺", "仓库", "付款时间", "快递公司", "快递单号", "发货时间",
    "收货省份", "收货城市", "收货地址", "实付金额", "揽收时间", "签收时间", "最后更新时间",
    "物流状态",
]  # fmt: skip

DEMO_WAREHOUSES: Final[tuple[dict[str, str], ...]] = (
    {"id": "hz1", "province": "浙江", "city": "杭州", "timezone": "Asia/Shanghai",
     "cutoff": "16:00", "ship_by": "18:00", "calendar": "cn"},
    # The other two work weekends, as most e-commerce warehouses do, so that an
    # unshipped-past-cutoff case exists whatever weekday the demo starts on.
    {"id": "gz1", "province": "广东", "city": "广州", "timezone": "Asia/Shanghai",
     "cutoff": "16:00", "ship_by": "18:00", "calendar": "every-day"},
    {"id": "cd1", "province": "四川", "city": "成都", "timezone": "Asia/Shanghai",
     "cutoff": "16:00", "ship_by": "18:00", "calendar": "every-day"},
)  # fmt: skip
WAREHOUSE_SHARES: Final = {"hz1": 0.45, "gz1": 0.35, "cd1": 0.20}

# (name, order-id prefix, share of orders, shop)
PLATFORMS: Final = (
    ("淘宝", "TB", 0.34, "鹿鸣家居小铺"),
    ("天猫", "TM", 0.16, "鹿鸣家居旗舰店"),
    ("拼多多", "PDD", 0.26, "鹿鸣家居百货"),
    ("京东", "JD", 0.10, "鹿鸣家居京东旗舰店"),
    ("抖音", "DY", 0.14, "鹿鸣家居抖音小店"),
)


@dataclass(frozen=True)
class CarrierModel:
    code: str
    name: str
    share: float
    transit: float  # multiplier on the lane's median
    stall: float  # probability, scales the carrier's share of the exception tail
    loss_per_10k: float
    damage_per_10k: float
    tracking_prefix: str
    tracking_digits: int  # random digits after the prefix


CARRIERS: Final = (
    CarrierModel("zto", "中通快递", 0.20, 1.00, 0.025, 1.5, 8, "7", 11),
    CarrierModel("yto", "圆通速递", 0.15, 1.02, 0.030, 2.0, 10, "YT", 13),
    CarrierModel("yunda", "韵达快递", 0.14, 1.03, 0.030, 2.0, 10, "43", 11),
    CarrierModel("jt", "极兔速递", 0.13, 1.08, 0.045, 3.0, 12, "JT", 13),
    CarrierModel("sto", "申通快递", 0.13, 1.05, 0.035, 2.5, 10, "77", 10),
    CarrierModel("sf", "顺丰速运", 0.08, 0.75, 0.010, 0.5, 5, "SF", 13),
    CarrierModel("ems", "EMS", 0.06, 1.15, 0.030, 1.5, 8, "9", 12),
    CarrierModel("jd", "京东快递", 0.06, 0.80, 0.010, 0.5, 5, "JD", 13),
    CarrierModel("debang", "德邦快递", 0.05, 1.10, 0.025, 2.0, 25, "DPK", 12),
)
EMS_REMOTE_TRANSIT: Final = 0.9  # the postal network reaches remote areas best

# Pickup -> delivery hours by distance band: (median, sigma of the log).
LANE_BANDS: Final = {
    "same_province": (26.0, 0.30),
    "adjacent": (42.0, 0.30),
    "cross_region": (60.0, 0.30),
    "remote": (110.0, 0.40),
}
# Cumulative stage boundaries as shares of transit (SPB Q2 2024: origin 15 %, line-haul 61 %,
# destination 18 %, last mile the rest).
DEPART_ORIGIN: Final = 0.15
ARRIVE_DESTINATION: Final = 0.76
OUT_FOR_DELIVERY: Final = 0.94
HUB_SCAN_EVERY_HOURS: Final = 14.0
LOCKER_SHARE: Final = 0.30  # left at a 驿站 or locker for the buyer to collect
LOCKER_DWELL_MEAN_HOURS: Final = 8.0

# Orders per hour of day (local), peaking mid-morning and late evening.
HOURLY_WEIGHTS: Final = (
    1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.7, 1.5, 2.6, 3.8, 4.6, 4.0,
    3.2, 3.4, 3.7, 3.8, 3.6, 3.3, 3.4, 4.2, 5.2, 5.8, 4.8, 2.8,
)  # fmt: skip
AMOUNT_MEDIAN_YUAN: Final = 69.0
AMOUNT_SIGMA: Final = 0.75

WAREHOUSE_OPENS: Final = time(8, 0)
PICKING_MEAN_HOURS: Final = 1.5
MISSED_SHIP_BY_SHARE: Final = 0.08  # of orders whose picking runs past ship_by
LATE_SHIP_SHARE: Final = 0.02  # shipped 48-72 h after payment
STUCK_SHARE: Final = 0.02  # of recent orders: never shipped (a lost pick list, no stock)
STUCK_WINDOW_HOURS: Final = 72.0
COLLECTION_AFTER_SHIP_BY_HOURS: Final = (0.25, 2.0)  # the courier's evening round
LATE_PICKUP_SHARE: Final = 0.02  # collected a day late
FORGOTTEN_SHARE: Final = 0.01  # tracking uploaded, never scanned
# Of shipped orders: sent in two parcels (一单多包裹), and merged with another order of the same
# buyer into one parcel (合并发货). Everyday ERP data; the shares are the demo's, not measured.
SPLIT_SHARE: Final = 0.03
MERGED_SHARE: Final = 0.02
MERGE_PAID_BEFORE_HOURS: Final = (0.2, 6.0)  # the buyer's earlier order, shipped together

# Share of picked-up parcels that go wrong, at the network-average stall rate; each carrier's
# share scales with its stall probability. Kinds are weighted as below, with loss and damage
# further scaled by the carrier's own rates.
EXCEPTION_TAIL_SHARE: Final = 0.06
TAIL_KINDS: Final = {
    "slow": 0.30,
    "stalled": 0.28,
    "lost": 0.06,
    "delivery_failed": 0.14,
    "returned": 0.09,
    "rejected": 0.07,
    "damaged": 0.06,
}
SLOW_EXTRA_HOURS: Final = (24.0, 120.0)
STALL_GAP_HOURS: Final = (50.0, 150.0)
REDELIVERED_SHARE: Final = 0.5

AWAITING_SHIPMENT: Final = "待发货"
LABEL_CREATED: Final = "待揽收"
PICKED_UP: Final = "已揽收"
IN_TRANSIT: Final = "运输中"
OUT_FOR_DELIVERY_STATUS: Final = "派件中"
AT_PICKUP_POINT: Final = "待取件"
DELIVERED: Final = "已签收"
DELIVERY_FAILED: Final = "派送失败"
RETURNING: Final = "退回中"
RETURNED: Final = "已退签"
REJECTED: Final = "拒签"
DAMAGED: Final = "破损"  # a status name that carries its sub-reason (damaged)

# Province -> (weight, "city:district,district" per city). Order weights are population in
# millions, halved for the remote west where online shopping volume is lower.
DESTINATIONS: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "广东": (
        126,
        (
            "广州市:天河区,越秀区,番禺区",
            "深圳市:南山区,福田区,宝安区",
            "东莞市:南城街道,东城街道",
            "佛山市:禅城区,南海区",
        ),
    ),
    "山东": (
        102,
        (
            "济南市:历下区,市中区",
            "青岛市:市南区,崂山区",
            "临沂市:兰山区",
            "潍坊市:奎文区",
        ),
    ),
    "河南": (99, ("郑州市:金水区,二七区", "洛阳市:洛龙区", "南阳市:宛城区")),
    "江苏": (
        85,
        (
            "南京市:鼓楼区,江宁区",
            "苏州市:姑苏区,吴中区",
            "无锡市:梁溪区",
            "徐州市:云龙区",
        ),
    ),
    "四川": (84, ("成都市:武侯区,锦江区,成华区", "绵阳市:涪城区", "南充市:顺庆区")),
    "河北": (75, ("石家庄市:长安区,裕华区", "保定市:竞秀区,莲池区", "唐山市:路北区")),
    "湖南": (66, ("长沙市:岳麓区,芙蓉区", "株洲市:天元区", "衡阳市:蒸湘区")),
    "浙江": (
        65,
        (
            "杭州市:西湖区,拱墅区,滨江区,余杭区",
            "宁波市:鄞州区,海曙区",
            "温州市:鹿城区",
            "金华市:义乌市",
        ),
    ),
    "安徽": (61, ("合肥市:蜀山区,包河区", "芜湖市:镜湖区")),
    "湖北": (58, ("武汉市:武昌区,洪山区,江汉区", "宜昌市:西陵区", "襄阳市:樊城区")),
    "广西": (50, ("南宁市:青秀区,西乡塘区", "柳州市:城中区", "桂林市:七星区")),
    "云南": (47, ("昆明市:五华区,盘龙区", "曲靖市:麒麟区", "大理白族自治州:大理市")),
    "江西": (45, ("南昌市:东湖区,红谷滩区", "赣州市:章贡区")),
    "辽宁": (43, ("沈阳市:和平区,浑南区", "大连市:沙河口区,甘井子区")),
    "福建": (41, ("福州市:鼓楼区,仓山区", "厦门市:思明区,湖里区", "泉州市:丰泽区")),
    "陕西": (40, ("西安市:雁塔区,未央区,碑林区", "宝鸡市:渭滨区")),
    "贵州": (39, ("贵阳市:南明区,观山湖区", "遵义市:红花岗区")),
    "山西": (35, ("太原市:小店区,迎泽区", "大同市:平城区")),
    "重庆": (32, ("重庆市:渝北区,江北区,沙坪坝区,九龙坡区",)),
    "黑龙江": (32, ("哈尔滨市:南岗区,道里区", "大庆市:萨尔图区")),
    "上海": (25, ("上海市:浦东新区,闵行区,徐汇区,杨浦区",)),
    "吉林": (24, ("长春市:朝阳区,南关区", "吉林市:船营区")),
    "北京": (22, ("北京市:朝阳区,海淀区,丰台区,通州区",)),
    "天津": (14, ("天津市:南开区,河西区,滨海新区",)),
    "海南": (10, ("海口市:龙华区,美兰区", "三亚市:吉阳区")),
    "新疆": (13, ("乌鲁木齐市:天山区,沙依巴克区", "喀什地区:喀什市", "伊犁哈萨克自治州:伊宁市")),
    "甘肃": (12.5, ("兰州市:城关区,七里河区", "天水市:秦州区")),
    "内蒙古": (12, ("呼和浩特市:新城区,赛罕区", "包头市:昆都仑区", "鄂尔多斯市:东胜区")),
    "宁夏": (3.5, ("银川市:兴庆区,金凤区", "石嘴山市:大武口区")),
    "青海": (3, ("西宁市:城西区,城东区", "海东市:乐都区")),
    "西藏": (2, ("拉萨市:城关区", "日喀则市:桑珠孜区")),
}
STREETS: Final = (
    "人民路", "解放路", "中山路", "建设路", "文化路", "新华路", "胜利路", "和平路",
    "长江路", "黄河路", "学府路", "幸福路", "光明路", "东风路", "朝阳路", "滨江大道",
)  # fmt: skip
COMMUNITIES: Final = (
    "阳光花园", "锦绣家园", "翠苑", "金色家园", "幸福里", "世纪新城", "东方明珠苑", "绿城桂花园",
)  # fmt: skip

Event = tuple[datetime, str]
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)


def _parse_clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class _Warehouse:
    id: str
    province: str
    zone: ZoneInfo
    cutoff: time
    ship_by: time
    calendar: ShippingCalendar

    @classmethod
    def from_dict(cls, raw: Mapping[str, str]) -> _Warehouse:
        return cls(
            raw["id"],
            raw["province"],
            ZoneInfo(raw["timezone"]),
            _parse_clock(raw["cutoff"]),
            _parse_clock(raw["ship_by"]),
            ShippingCalendar(raw["calendar"]),
        )

    def at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone)


def _paid_times(
    rng: random.Random, zone: ZoneInfo, now: datetime, days: int, n: int
) -> list[datetime]:
    start = now - timedelta(days=days)
    first = start.astimezone(zone).date()
    span = (now.astimezone(zone).date() - first).days + 1
    hours = range(24)
    times: list[datetime] = []
    while len(times) < n:
        day = first + timedelta(days=rng.randrange(span))
        hour = rng.choices(hours, HOURLY_WEIGHTS)[0]
        moment = datetime.combine(day, time(hour), tzinfo=zone)
        moment += timedelta(seconds=rng.randrange(3600))
        if start < moment <= now:
            times.append(moment)
    return times


def _ship_time(rng: random.Random, wh: _Warehouse, paid: datetime) -> datetime:
    """When the tracking number is uploaded: the due day's picking run, cutoff respected."""
    if rng.random() < LATE_SHIP_SHARE:
        return paid + rng.uniform(48, 72) * HOUR
    local = paid.astimezone(wh.zone)
    day = wh.calendar.due_date(local.date(), local.time() < wh.cutoff)
    start = max(local, wh.at(day, WAREHOUSE_OPENS))
    ship = start + rng.expovariate(1 / PICKING_MEAN_HOURS) * HOUR
    deadline = wh.at(day, wh.ship_by)
    if ship <= deadline:
        return ship
    if rng.random() < MISSED_SHIP_BY_SHARE:
        next_day = wh.calendar.next_shipping_day(day)
        return wh.at(next_day, WAREHOUSE_OPENS) + rng.expovariate(1 / PICKING_MEAN_HOURS) * HOUR
    return start + (deadline - start) * rng.uniform(0.5, 1.0)


def _pickup_time(rng: random.Random, wh: _Warehouse, shipped: datetime) -> datetime | None:
    if rng.random() < FORGOTTEN_SHARE:
        return None
    local = shipped.astimezone(wh.zone)
    day = local.date() if local < wh.at(local.date(), wh.ship_by) else local.date() + timedelta(1)
    pickup = wh.at(day, wh.ship_by) + rng.uniform(*COLLECTION_AFTER_SHIP_BY_HOURS) * HOUR
    if rng.random() < LATE_PICKUP_SHARE:
        pickup += rng.uniform(24, 40) * HOUR
    return pickup


def _leg(rng: random.Random, start: datetime, hours: float, status: str) -> list[Event]:
    """Hub scans spread over a line-haul, so normal parcels never look stalled."""
    scans = max(1, round(hours / HUB_SCAN_EVERY_HOURS))
    step = hours / (scans + 1)
    return [(start + (i + rng.uniform(0.7, 1.3)) * step * HOUR, status) for i in range(scans)]


def _journey(rng: random.Random, pickup: datetime, hours: float) -> list[Event]:
    def at(share: float) -> datetime:
        return pickup + hours * share * HOUR

    events = [(pickup, PICKED_UP), (at(DEPART_ORIGIN), IN_TRANSIT)]
    haul = hours * (ARRIVE_DESTINATION - DEPART_ORIGIN)
    events += _leg(rng, at(DEPART_ORIGIN), haul, IN_TRANSIT)
    events.append((at(ARRIVE_DESTINATION), IN_TRANSIT))
    events.append((at(OUT_FOR_DELIVERY), OUT_FOR_DELIVERY_STATUS))
    end = at(1.0)
    if rng.random() < LOCKER_SHARE:
        collected = end + rng.expovariate(1 / LOCKER_DWELL_MEAN_HOURS) * HOUR
        return [*events, (end, AT_PICKUP_POINT), (collected, DELIVERED)]
    return [*events, (end, DELIVERED)]


def _go_wrong(
    rng: random.Random, kind: str, events: list[Event], hours: float, band: tuple[float, float]
) -> list[Event]:
    pickup = events[0][0]
    cut = pickup + rng.uniform(0.2, 0.85) * hours * HOUR
    out = next(t for t, status in events if status == OUT_FOR_DELIVERY_STATUS)
    before_out = [e for e in events if e[0] <= out]
    if kind == "stalled":
        gap = rng.uniform(*STALL_GAP_HOURS) * HOUR
        return [(t if t <= cut else t + gap, status) for t, status in events]
    if kind == "lost":
        return [e for e in events if e[0] <= cut]
    if kind == "damaged":
        arrived = pickup + hours * ARRIVE_DESTINATION * HOUR
        kept = [e for e in events if e[0] <= arrived]
        return [*kept, (arrived + rng.uniform(2, 12) * HOUR, DAMAGED)]
    if kind == "rejected":
        return [*before_out, (out + rng.uniform(1, 6) * HOUR, REJECTED)]
    failed = out + rng.uniform(2, 8) * HOUR
    result = [*before_out, (failed, DELIVERY_FAILED)]
    if kind == "returned":
        back = failed + rng.uniform(4, 24) * HOUR
        median, sigma = band
        trip = rng.lognormvariate(math.log(median), sigma)
        leg = _leg(rng, back, trip, RETURNING)
        return [*result, (back, RETURNING), *leg, (back + trip * HOUR, RETURNED)]
    if rng.random() < REDELIVERED_SHARE:
        retry = failed + rng.uniform(18, 30) * HOUR
        result += [(retry, OUT_FOR_DELIVERY_STATUS), (retry + rng.uniform(1, 5) * HOUR, DELIVERED)]
    return result


def _tracking_number(rng: random.Random, carrier: CarrierModel, used: set[str]) -> str:
    while True:
        digits = "".join(rng.choices("0123456789", k=carrier.tracking_digits))
        number = carrier.tracking_prefix + digits
        if number not in used:
            used.add(number)
            return number


def _destination(rng: random.Random) -> tuple[str, str, str, str]:
    """(canonical province, province column, city column, address) spaced as Taobao does."""
    province = rng.choices(list(DESTINATIONS), [w for w, _ in DESTINATIONS.values()])[0]
    cities = [entry.split(":") for entry in DESTINATIONS[province][1]]
    city, districts = rng.choices(cities, [len(cities) - i for i in range(len(cities))])[0]
    district = rng.choice(districts.split(","))
    street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.7:
        building, unit = rng.randint(1, 30), rng.randint(1, 4)
        room = rng.randint(1, 32) * 100 + rng.randint(1, 4)
        street += f"{rng.choice(COMMUNITIES)}{building}幢{unit}单元{room}室"
    info = province_info(province)
    full = info.full_name if info else province
    prefix = province if city == full else full  # municipalities: "上海 上海市 浦东新区 ..."
    return province, full, city, f"{prefix} {city} {district} {street}"


_MEAN_STALL: Final = sum(c.share * c.stall for c in CARRIERS) / sum(c.share for c in CARRIERS)
_TAIL_SHARES: Final = {c.code: EXCEPTION_TAIL_SHARE * c.stall / _MEAN_STALL for c in CARRIERS}


def _tail_kind(rng: random.Random, carrier: CarrierModel) -> str:
    weights = dict(TAIL_KINDS)
    weights["lost"] *= carrier.loss_per_10k / 2
    weights["damaged"] *= carrier.damage_per_10k / 10
    return rng.choices(list(weights), list(weights.values()))[0]


def format_local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def generate_shop(
    *, seed: int = 7, orders: int = 3000, now: datetime, days: int = 14
) -> list[dict[str, str]]:
    """Rows of the order export as it would read at `now`, oldest payment first.

    Deterministic for a given (seed, orders, now, days), so the README tour and the tests
    can quote order ids.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    warehouses = [_Warehouse.from_dict(raw) for raw in DEMO_WAREHOUSES]
    wh_weights = [WAREHOUSE_SHARES[w.id] for w in warehouses]
    zone = warehouses[0].zone
    paid_times = sorted(_paid_times(rng, zone, now, days, orders))
    base_seq = rng.randrange(1000, 9000)
    used_numbers: set[str] = set()
    rows: list[dict[str, str]] = []
    for seq, paid in enumerate(paid_times, start=base_seq):
        wh = rng.choices(warehouses, wh_weights)[0]
        platform, prefix, _, shop = rng.choices(PLATFORMS, [p[2] for p in PLATFORMS])[0]
        carrier = rng.choices(CARRIERS, [c.share for c in CARRIERS])[0]
        province, province_column, city, address = _destination(rng)
        amount = rng.lognormvariate(math.log(AMOUNT_MEDIAN_YUAN), AMOUNT_SIGMA)
        local_paid = paid.astimezone(wh.zone)
        row = dict.fromkeys(HEADERS, "")
        row.update(
            {
                "订单编号": f"{prefix}{local_paid:%y%m%d}{seq:07d}",
                "平台": platform,
                "店铺": shop,
                "仓库": wh.id,
                "付款时间": format_local(paid, wh.zone),
                "收货省份": province_column,
                "收货城市": city,
                "收货地址": address,
                "实付金额": f"{min(max(amount, 3.9), 2999.0):.2f}",
                "物流状态": AWAITING_SHIPMENT,
            }
        )
        rows.append(row)
        recent = now - paid <= STUCK_WINDOW_HOURS * HOUR
        shipped = _ship_time(rng, wh, paid)
        if (recent and rng.random() < STUCK_SHARE) or shipped > now:
            continue
        row.update(
            {
                "快递公司": carrier.name,
                "快递单号": _tracking_number(rng, carrier, used_numbers),
                "发货时间": format_local(shipped, wh.zone),
                "物流状态": LABEL_CREATED,
            }
        )
        pickup = _pickup_time(rng, wh, shipped)
        if pickup is None:
            continue
        band_name = distance_band(wh.province, province)
        band = LANE_BANDS[band_name]
        median, sigma = band
        remote_ems = carrier.code == "ems" and band_name == "remote"
        multiplier = EMS_REMOTE_TRANSIT if remote_ems else carrier.transit
        hours = rng.lognormvariate(math.log(median * multiplier), sigma)
        kind = _tail_kind(rng, carrier) if rng.random() < _TAIL_SHARES[carrier.code] else None
        if kind == "slow":
            hours += rng.uniform(*SLOW_EXTRA_HOURS)
        events = _journey(rng, pickup, hours)
        if kind not in (None, "slow"):
            events = _go_wrong(rng, kind, events, hours, band)
        _apply_events(row, sorted(events), now, wh.zone)
    return _split_and_merge(rows, random.Random(seed + 1), used_numbers)


def _split_and_merge(
    rows: list[dict[str, str]], rng: random.Random, used: set[str]
) -> list[dict[str, str]]:
    """Some shipped orders get a second parcel (a row with the same order id and a new number);
    some get the buyer's earlier order shipped in the same parcel (a row with a new order id and
    the same number). A separate random stream, so every other row stays as it was."""
    by_name, zone = {c.name: c for c in CARRIERS}, ZoneInfo("Asia/Shanghai")
    extra: list[dict[str, str]] = []
    merged_seq = 9_000_000
    for row in rows:
        if not row["快递单号"]:
            continue
        draw = rng.random()
        if draw < SPLIT_SHARE:
            second = dict(row)
            second["快递单号"] = _tracking_number(rng, by_name[row["快递公司"]], used)
            extra.append(second)
        elif draw < SPLIT_SHARE + MERGED_SHARE:
            merged_seq += 1
            paid = datetime.fromisoformat(row["付款时间"]).replace(tzinfo=zone)
            earlier = paid - timedelta(hours=rng.uniform(*MERGE_PAID_BEFORE_HOURS))
            other, prefix = dict(row), row["订单编号"].rstrip("0123456789")
            other["订单编号"] = f"{prefix}{earlier:%y%m%d}{merged_seq:07d}"
            other["付款时间"] = format_local(earlier, zone)
            other["实付金额"] = f"{rng.uniform(9.9, 199.0):.2f}"
            extra.append(other)
    # Still oldest payment first (the times are all in one zone, so their text sorts).
    return sorted(rows + extra, key=lambda r: r["付款时间"])


def _apply_events(row: dict[str, str], events: list[Event], now: datetime, zone: ZoneInfo) -> None:
    seen = [e for e in events if e[0] <= now]
    if not seen:
        return
    delivered = next((t for t, status in seen if status == DELIVERED), None)
    last_at, status = seen[-1]
    row["揽收时间"] = format_local(seen[0][0], zone)
    row["签收时间"] = format_local(delivered, zone)
    row["最后更新时间"] = format_local(last_at, zone)
    row["物流状态"] = status


def write_csv(
    rows: Iterable[Mapping[str, str]], path: str | Path, *, encoding: str = "utf-8-sig"
) -> None:
    rows = list(rows)
    extra = [k for k in (rows[0] if rows else {}) if k not in HEADERS]  # e.g. a phone column
    with Path(path).open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*HEADERS, *extra])
        writer.writeheader()
        writer.writerows(rows)
