"""China's provincial-level divisions: name normalisation, regions and distance bands.

Carriers, ERP exports and operators spell the same province many ways (新疆, 新疆维吾尔自治区,
Xinjiang, "新疆省"); rules, overrides and scorecards must agree on one key, so everything
downstream uses the canonical short name returned by `normalize_province`.

Remoteness follows the platforms' own list of hard-to-reach provinces
(docs/rules.md "Remote provinces": the Pinduoduo transit-warehouse programme), because those are
the lanes where stall and
delay thresholds are relaxed.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

REGIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "north": "华北",
        "northeast": "东北",
        "east": "华东",
        "central": "华中",
        "south": "华南",
        "southwest": "西南",
        "northwest": "西北",
    }
)

NORMAL: Final = "normal"
REMOTE: Final = "remote"
VERY_REMOTE: Final = "very_remote"

DEFAULT_VERY_REMOTE: Final = frozenset({"新疆", "西藏"})
# Hong Kong, Macau and Taiwan are not on the transit-warehouse list, but parcels there cross
# customs and take as long as the remote mainland lanes, so the same relaxed clocks fit.
DEFAULT_REMOTE: Final = frozenset({"青海", "甘肃", "宁夏", "内蒙古", "香港", "澳门", "台湾"})


@dataclass(frozen=True)
class Province:
    name: str
    full_name: str
    pinyin: str
    region: str
    remoteness: str


# (short name, official name, pinyin, region id, extra aliases)
_TABLE: Final[tuple[tuple[str, str, str, str, tuple[str, ...]], ...]] = (
    ("北京", "北京市", "Beijing", "north", ("Peking",)),
    ("天津", "天津市", "Tianjin", "north", ()),
    ("河北", "河北省", "Hebei", "north", ()),
    ("山西", "山西省", "Shanxi", "north", ()),
    ("内蒙古", "内蒙古自治区", "Neimenggu", "north", ("Inner Mongolia", "Nei Mongol", "内蒙")),
    ("辽宁", "辽宁省", "Liaoning", "northeast", ()),
    ("吉林", "吉林省", "Jilin", "northeast", ()),
    ("黑龙江", "黑龙江省", "Heilongjiang", "northeast", ()),
    ("上海", "上海市", "Shanghai", "east", ()),
    ("江苏", "江苏省", "Jiangsu", "east", ()),
    ("浙江", "浙江省", "Zhejiang", "east", ()),
    ("安徽", "安徽省", "Anhui", "east", ()),
    ("福建", "福建省", "Fujian", "east", ()),
    ("江西", "江西省", "Jiangxi", "east", ()),
    ("山东", "山东省", "Shandong", "east", ()),
    ("台湾", "台湾省", "Taiwan", "east", ("台灣", "臺灣")),
    ("河南", "河南省", "Henan", "central", ()),
    ("湖北", "湖北省", "Hubei", "central", ()),
    ("湖南", "湖南省", "Hunan", "central", ()),
    ("广东", "广东省", "Guangdong", "south", ("廣東",)),
    ("广西", "广西壮族自治区", "Guangxi", "south", ()),
    ("海南", "海南省", "Hainan", "south", ()),
    ("香港", "香港特别行政区", "Xianggang", "south", ("Hong Kong", "HK", "HKSAR")),
    ("澳门", "澳门特别行政区", "Aomen", "south", ("Macau", "Macao", "澳門")),
    ("重庆", "重庆市", "Chongqing", "southwest", ()),
    ("四川", "四川省", "Sichuan", "southwest", ()),
    ("贵州", "贵州省", "Guizhou", "southwest", ()),
    ("云南", "云南省", "Yunnan", "southwest", ()),
    ("西藏", "西藏自治区", "Xizang", "southwest", ("Tibet",)),
    ("陕西", "陕西省", "Shaanxi", "northwest", ()),
    ("甘肃", "甘肃省", "Gansu", "northwest", ()),
    ("青海", "青海省", "Qinghai", "northwest", ()),
    ("宁夏", "宁夏回族自治区", "Ningxia", "northwest", ()),
    ("新疆", "新疆维吾尔自治区", "Xinjiang", "northwest", ()),
)


def remoteness(province: str | None) -> str:
    if province in DEFAULT_VERY_REMOTE:
        return VERY_REMOTE
    if province in DEFAULT_REMOTE:
        return REMOTE
    return NORMAL


PROVINCES: Final[tuple[Province, ...]] = tuple(
    Province(name, full, pinyin, region, remoteness(name))
    for name, full, pinyin, region, _ in _TABLE
)
_BY_NAME: Final[Mapping[str, Province]] = {p.name: p for p in PROVINCES}

# Land borders. Hainan counts as bordering Guangdong and Guangxi because parcels cross by
# ferry from Zhanjiang/Beihai in about a day; Taiwan has no land link, so nothing is adjacent.
ADJACENT: Final[Mapping[str, frozenset[str]]] = {
    name: frozenset(neighbours.split())
    for name, neighbours in {
        "北京": "天津 河北",
        "天津": "北京 河北",
        "河北": "北京 天津 山西 内蒙古 辽宁 山东 河南",
        "山西": "河北 内蒙古 陕西 河南",
        "内蒙古": "黑龙江 吉林 辽宁 河北 山西 陕西 宁夏 甘肃",
        "辽宁": "河北 内蒙古 吉林",
        "吉林": "辽宁 内蒙古 黑龙江",
        "黑龙江": "吉林 内蒙古",
        "上海": "江苏 浙江",
        "江苏": "上海 浙江 安徽 山东",
        "浙江": "上海 江苏 安徽 江西 福建",
        "安徽": "江苏 浙江 江西 湖北 河南 山东",
        "福建": "浙江 江西 广东",
        "江西": "浙江 安徽 湖北 湖南 广东 福建",
        "山东": "河北 河南 安徽 江苏",
        "台湾": "",
        "河南": "河北 山西 陕西 湖北 安徽 山东",
        "湖北": "河南 安徽 江西 湖南 重庆 陕西",
        "湖南": "湖北 江西 广东 广西 贵州 重庆",
        "广东": "福建 江西 湖南 广西 海南 香港 澳门",
        "广西": "广东 湖南 贵州 云南 海南",
        "海南": "广东 广西",
        "香港": "广东",
        "澳门": "广东",
        "重庆": "四川 贵州 湖南 湖北 陕西",
        "四川": "重庆 贵州 云南 西藏 青海 甘肃 陕西",
        "贵州": "四川 重庆 湖南 广西 云南",
        "云南": "四川 贵州 广西 西藏",
        "西藏": "新疆 青海 四川 云南",
        "陕西": "山西 内蒙古 宁夏 甘肃 四川 重庆 湖北 河南",
        "甘肃": "内蒙古 宁夏 陕西 四川 青海 新疆",
        "青海": "甘肃 新疆 西藏 四川",
        "宁夏": "内蒙古 陕西 甘肃",
        "新疆": "甘肃 青海 西藏",
    }.items()
}

# Suffixes people attach to a short name, correctly or not ("新疆省", "广西自治区").
_SUFFIXES: Final = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
_LATIN_NOISE: Final = re.compile(r"[\s'\-_.]+|province$|sheng$|shi$|sar$")


def _latin_key(value: str) -> str:
    return _LATIN_NOISE.sub("", value.casefold())


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for name, full, pinyin, _, aliases in _TABLE:
        keys = [name, full, pinyin, *aliases]
        keys += [name + suffix for suffix in _SUFFIXES]
        for key in keys:
            lookup[key.casefold()] = name
            lookup[_latin_key(key)] = name
    return lookup


_LOOKUP: Final[Mapping[str, str]] = _build_lookup()


def normalize_province(value: str | None) -> str | None:
    """Canonical short name, or None when the value names no province.

    Called once per imported row, so the common spellings are one dict lookup; only odd
    spellings ("Zhejiang Province", "xin-jiang") take the slower path.
    """
    if not value:
        return None
    key = value.strip().casefold()
    found = _LOOKUP.get(key)
    if found is not None or not key:
        return found
    return _LOOKUP.get(_latin_key(key))


def province_info(province: str | None) -> Province | None:
    return _BY_NAME.get(province) if province else None


def distance_band(origin: str | None, destination: str | None) -> str:
    """Lane band used for default transit expectations (docs/rules.md "delayed")."""
    if origin is None or destination is None:
        return "cross_region"
    if origin not in _BY_NAME or destination not in _BY_NAME:
        return "cross_region"
    if origin == destination:
        return "same_province"
    if remoteness(destination) != NORMAL:
        return "remote"
    if destination in ADJACENT[origin] or _BY_NAME[origin].region == _BY_NAME[destination].region:
        return "adjacent"
    return "cross_region"


# --- addresses -------------------------------------------------------------------------

_MUNICIPALITIES: Final = frozenset({"北京", "天津", "上海", "重庆", "香港", "澳门"})
# Longest first, so "内蒙古自治区" wins over "内蒙古" and "黑龙江省" over "黑龙江".
_ADDRESS_PREFIXES: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(
        (
            (key, name)
            for name, full, _, _, aliases in _TABLE
            for key in (full, name + "省", name, *(a for a in aliases if not a.isascii()))
        ),
        key=lambda item: -len(item[0]),
    )
)
# A short name followed by these is a street or district that merely shares the name
# (北京路 in Guangzhou, 西藏中路 in Shanghai, 河北区 in Tianjin, 海南藏族自治州 in Qinghai).
_NOT_A_PROVINCE: Final = re.compile(r"[东南西北中]?(?:路|街|巷|大道|大街)|区|县|州|藏族自治州")
_CITY: Final = re.compile(r"([^\s\d省]{1,12}?)(市|地区|盟|自治州)")
_CITY_SUFFIX: Final = re.compile(r"(?:市|地区|盟)$")


def _short_city(city: str | None) -> str | None:
    if not city:
        return None
    return _CITY_SUFFIX.sub("", city) or None


def _match_prefix(address: str) -> tuple[str, str] | None:
    """The province named at the start of the address and the text after it."""
    for key, name in _ADDRESS_PREFIXES:
        if address.startswith(key):
            rest = address[len(key) :]
            if key == name and _NOT_A_PROVINCE.match(rest):
                continue
            return name, rest
    return None


_jionlp: Any = None


def _parse_with_jionlp(address: str) -> tuple[str | None, str | None]:
    """Fall back to jionlp's gazetteer for addresses that start below province level."""
    global _jionlp
    if _jionlp is None:
        # jionlp prints a banner on import; CLI output (json, csv) must stay clean.
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            import jionlp

        _jionlp = jionlp
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        parsed = _jionlp.parse_location(address)
    return normalize_province(parsed.get("province")), _short_city(parsed.get("city"))


@lru_cache(maxsize=65536)
def province_from_address(address: str | None) -> tuple[str | None, str | None]:
    """(canonical province, short city name) from a free-text Chinese address.

    Exports usually begin with the province ("浙江省 杭州市 ..."), which a prefix match
    settles without loading jionlp (slow to import); the rest goes through jionlp.
    """
    if not address or not address.strip():
        return None, None
    text = address.strip()
    matched = _match_prefix(text)
    if matched is None:
        return _parse_with_jionlp(text)
    province, rest = matched
    if province in _MUNICIPALITIES:
        return province, province
    rest = rest.lstrip()
    if rest.startswith("市"):
        # 吉林市 is the one prefecture named exactly like its province.
        return province, province
    city = _CITY.match(rest)
    if city is not None:
        return province, city.group(1) if city.group(2) != "自治州" else city.group(0)
    token = rest.split(maxsplit=1)[0] if rest else ""
    if 2 <= len(token) <= 4 and not re.search(r"[区县镇乡路街号\d]", token):
        return province, token
    _, city_name = _parse_with_jionlp(text)
    return province, city_name


def check_province(value: Any) -> Any:
    """Any name of a province as its canonical short name, for pydantic's BeforeValidator."""
    if value is None:
        return None
    name = normalize_province(str(value))
    if name is None:
        raise ValueError(f"unknown province {value!r}; use a name such as 浙江, 新疆 or Xinjiang")
    return name
