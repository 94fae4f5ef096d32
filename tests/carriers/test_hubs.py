"""Hub names from what Chinese couriers print (carriers/hubs.py)."""

from __future__ import annotations

import pytest

from carriers.hubs import hub_of


@pytest.mark.parametrize(
    ("text", "location", "hub"),
    [
        ("快件已到达【杭州转运中心】", None, "杭州转运中心"),
        ("【成都锦江区网点】已揽收，揽收员：张三", None, "成都锦江区网点"),
        ("快件离开【广州白云分拨中心】已发往【成都转运中心】", None, "广州白云分拨中心"),
        ("【山东省济南市孙村公司】 派件中 派件人: 方彪", None, "山东省济南市孙村公司"),
        ("快件已到达 上海青浦转运中心，准备发往下一站", None, "上海青浦转运中心"),
        ("【杭州市】快件已到达【杭州西湖】", None, None),  # a city, a district: no hub
        ("已签收，签收人：本人", None, None),
        ("In transit", "Guangzhou Baiyun 分拨中心", "Guangzhou Baiyun 分拨中心"),
        (None, None, None),
    ],
)
def test_hub_of(text: str | None, location: str | None, hub: str | None) -> None:
    assert hub_of(text, location) == hub
