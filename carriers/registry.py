"""parcelwatch's own carrier codes and the names people and ERP exports use for them.

Import files say 中通, 中通快递, ZTO or zhongtong for the same courier; everything inside
parcelwatch (config keys, the store, metrics labels) uses the short code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CarrierInfo:
    code: str
    name_zh: str
    name_en: str
    kuaidi100: str  # the carrier's `com` code in Kuaidi100's API
    aliases: tuple[str, ...] = ()
    # The carrier's numeric key in 17TRACK's API, where docs/tracking-apis.md "17TRACK carrier keys"
    # gives one; None lets 17TRACK detect the carrier (or set `code` under [carriers.<code>]).
    track17: int | None = None


CARRIERS: dict[str, CarrierInfo] = {
    c.code: c
    for c in (
        CarrierInfo(
            "sf",
            "顺丰速运",
            "SF Express",
            "shunfeng",
            ("顺丰", "顺丰快递", "shunfeng", "sfexpress"),
            track17=190766,
        ),
        CarrierInfo(
            "zto", "中通快递", "ZTO Express", "zhongtong", ("中通", "zhongtong"), track17=190455
        ),
        CarrierInfo(
            "yto",
            "圆通速递",
            "YTO Express",
            "yuantong",
            ("圆通", "圆通快递", "yuantong"),
            track17=190157,
        ),
        CarrierInfo("yunda", "韵达快递", "Yunda Express", "yunda", ("韵达", "韵达速递")),
        CarrierInfo(
            "sto", "申通快递", "STO Express", "shentong", ("申通", "shentong"), track17=190324
        ),
        CarrierInfo(
            "jt",
            "极兔速递",
            "J&T Express",
            "jtexpress",
            ("极兔", "极兔快递", "j&t", "jtexpress", "jnt"),
            track17=190442,
        ),
        CarrierInfo(
            "ems",
            "EMS",
            "China EMS",
            "ems",
            ("中国邮政ems", "邮政ems", "ems快递", "e邮宝"),
            track17=3013,
        ),
        CarrierInfo(
            "youzheng",
            "邮政快递包裹",
            "China Post",
            "youzhengguonei",
            ("邮政", "中国邮政", "邮政包裹", "邮政快递", "chinapost", "youzhengguonei"),
            track17=3011,
        ),
        CarrierInfo(
            "jd",
            "京东快递",
            "JD Logistics",
            "jd",
            ("京东", "京东物流", "jdl", "jingdong"),
            track17=191121,
        ),
        CarrierInfo(
            "debang",
            "德邦快递",
            "Deppon Express",
            "debangkuaidi",
            ("德邦", "德邦物流", "deppon", "debangkuaidi"),
            track17=190174,
        ),
        CarrierInfo(
            "best",
            "百世快递",
            "Best Express",
            "huitongkuaidi",
            ("百世", "百世汇通", "汇通", "huitongkuaidi"),
        ),
        CarrierInfo("danniao", "丹鸟", "Danniao", "danniao", ("丹鸟快递", "丹鸟物流")),
    )
}


def _key(value: str) -> str:
    return re.sub(r"[\s\-_]+", "", value).casefold()


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for info in CARRIERS.values():
        for name in (info.code, info.name_zh, info.name_en, info.kuaidi100, *info.aliases):
            key = _key(name)
            if lookup.get(key, info.code) != info.code:
                raise AssertionError(f"carrier name {name!r} is claimed by two carriers")
            lookup[key] = info.code
    return lookup


_LOOKUP = _build_lookup()


def normalize_carrier(value: str | None, extra: dict[str, str] | None = None) -> str | None:
    """parcelwatch's code for a carrier name, or None when nobody knows it.

    `extra` maps further names to codes (carriers added in the config file)."""
    if not value or not value.strip():
        return None
    key = _key(value)
    if extra and key in extra:
        return extra[key]
    return _LOOKUP.get(key)
