from __future__ import annotations

import pytest

from monitor import geo
from monitor.geo import (
    ADJACENT,
    DEFAULT_REMOTE,
    DEFAULT_VERY_REMOTE,
    PROVINCES,
    REGIONS,
    distance_band,
    normalize_province,
    province_from_address,
    remoteness,
)


def test_thirty_four_divisions_in_seven_regions() -> None:
    assert len(PROVINCES) == 34
    assert len({p.name for p in PROVINCES}) == 34
    assert list(REGIONS) == [
        "north",
        "northeast",
        "east",
        "central",
        "south",
        "southwest",
        "northwest",
    ]
    assert {p.region for p in PROVINCES} == set(REGIONS)


@pytest.mark.parametrize("province", PROVINCES, ids=lambda p: p.pinyin)
def test_every_province_round_trips(province: geo.Province) -> None:
    for spelling in (
        province.name,
        province.full_name,
        province.pinyin,
        province.pinyin.upper(),
        f"  {province.name}  ",
    ):
        assert normalize_province(spelling) == province.name, spelling


@pytest.mark.parametrize(
    "spelling",
    ["新疆", "新疆维吾尔自治区", "Xinjiang", "XINJIANG", " 新疆省", "新疆市", "xinjiang province"],
)
def test_xinjiang_spellings_are_one(spelling: str) -> None:
    assert normalize_province(spelling) == "新疆"


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Inner Mongolia", "内蒙古"),
        ("内蒙古自治区", "内蒙古"),
        ("Tibet", "西藏"),
        ("Hong Kong", "香港"),
        ("Macao", "澳门"),
        ("Shaanxi", "陕西"),
        ("Shanxi", "山西"),
        ("广西自治区", "广西"),
        ("北京市", "北京"),
    ],
)
def test_aliases(spelling: str, expected: str) -> None:
    assert normalize_province(spelling) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "火星", "Atlantis"])
def test_unknown_is_none(value: str | None) -> None:
    assert normalize_province(value) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("浙江省 杭州市 西湖区 文三路1号", ("浙江", "杭州")),
        ("浙江杭州市西湖区文三路1号", ("浙江", "杭州")),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放南路8号", ("新疆", "乌鲁木齐")),
        ("新疆 喀什地区 喀什市 人民东路3号", ("新疆", "喀什")),
        ("上海市浦东新区张江路88号", ("上海", "上海")),
        ("上海 上海市 浦东新区 张江路88号", ("上海", "上海")),
        ("吉林省吉林市船营区", ("吉林", "吉林")),
        ("吉林市船营区北京路5号", ("吉林", "吉林")),
        ("内蒙古自治区呼和浩特市新城区", ("内蒙古", "呼和浩特")),
        ("广东 东莞 南城区 鸿福路2号", ("广东", "东莞")),
    ],
)
def test_address_with_province(address: str, expected: tuple[str, str]) -> None:
    assert province_from_address(address) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("杭州市西湖区文三路1号", ("浙江", "杭州")),
        ("喀什地区喀什市人民东路3号", ("新疆", "喀什")),
        ("北京路68号", (None, None)),
    ],
)
def test_address_without_province(address: str, expected: tuple[str | None, str | None]) -> None:
    assert province_from_address(address) == expected


def test_blank_address() -> None:
    assert province_from_address(None) == (None, None)
    assert province_from_address("  ") == (None, None)


def test_jionlp_banner_is_suppressed(capsys: pytest.CaptureFixture[str]) -> None:
    province_from_address.cache_clear()
    province_from_address("成都市武侯区人民南路四段1号")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


@pytest.mark.parametrize(
    ("origin", "destination", "band"),
    [
        ("浙江", "浙江", "same_province"),
        ("浙江", "江苏", "adjacent"),
        ("浙江", "山东", "adjacent"),  # same region, no shared border
        ("浙江", "黑龙江", "cross_region"),
        ("浙江", "新疆", "remote"),
        ("浙江", "内蒙古", "remote"),
        ("新疆", "新疆", "same_province"),
        ("广东", "海南", "adjacent"),
        ("广东", "香港", "remote"),
        (None, "浙江", "cross_region"),
        ("浙江", None, "cross_region"),
        ("火星", "浙江", "cross_region"),
    ],
)
def test_distance_band(origin: str | None, destination: str | None, band: str) -> None:
    assert distance_band(origin, destination) == band


def test_adjacency_is_symmetric_and_complete() -> None:
    names = {p.name for p in PROVINCES}
    assert set(ADJACENT) == names
    for province, neighbours in ADJACENT.items():
        assert province not in neighbours
        assert neighbours <= names, province
        for other in neighbours:
            assert province in ADJACENT[other], (province, other)


def test_remoteness() -> None:
    assert {"新疆", "西藏"} == DEFAULT_VERY_REMOTE
    assert {"青海", "甘肃", "宁夏", "内蒙古"} <= DEFAULT_REMOTE
    assert remoteness("西藏") == "very_remote"
    assert remoteness("宁夏") == "remote"
    assert remoteness("香港") == "remote"
    assert remoteness("浙江") == "normal"
    assert remoteness(None) == "normal"
    assert {p.name: p.remoteness for p in PROVINCES}["新疆"] == "very_remote"
