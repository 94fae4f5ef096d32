"""The simulator's own small map of China: provinces, regions, land borders, lane bands,
a few cities per province with their districts, and the sorting hubs scans mention.

Deliberately independent of `monitor.geo` (carriers never import the daemon). Lane bands
follow docs/scorecard.md "Simulator calibration": same province, adjacent (bordering or same region), cross-region,
and remote (the platforms' hard-to-reach provinces, plus Hong Kong, Macau and Taiwan whose
parcels take as long). Area codes are the GB/T 2260 division codes Kuaidi100 reports as
`areaCode` ("CN" + 12 digits).
"""

from __future__ import annotations

# ruff: noqa: E501  (tables of Chinese names read best one entry per line)
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

INTRA_PROVINCE: Final = "intra_province"
ADJACENT_REGION: Final = "adjacent"
CROSS_REGION: Final = "cross_region"
REMOTE: Final = "remote"
BANDS: Final = (INTRA_PROVINCE, ADJACENT_REGION, CROSS_REGION, REMOTE)

REMOTE_PROVINCES: Final = frozenset(
    {"新疆", "西藏", "青海", "宁夏", "甘肃", "内蒙古", "香港", "澳门", "台湾"}
)


@dataclass(frozen=True)
class City:
    name: str  # as scans print it: 杭州市, 喀什地区
    province: str
    code: str  # 6-digit division code
    districts: tuple[str, ...]
    hub: str  # sorting-hub base name, without the carrier's suffix: 杭州, 广州白云

    @property
    def short(self) -> str:
        for suffix in ("市", "地区"):
            if self.name.endswith(suffix) and len(self.name) > len(suffix) + 1:
                return self.name[: -len(suffix)]
        return self.name

    @property
    def area_code(self) -> str:
        return f"CN{self.code}000000"


@dataclass(frozen=True)
class Province:
    name: str  # canonical short name: 浙江
    full_name: str  # 浙江省
    region: str  # north, northeast, east, central, south, southwest, northwest
    cities: tuple[City, ...]
    weight: float  # share of destinations (population, halved in the remote west)


# short, full, region, weight, "city/code/district,district/hub; ..."
_TABLE: Final = (
    ("北京", "北京市", "north", 22, "北京市/110100/朝阳区,海淀区,丰台区,通州区/北京顺义"),
    ("天津", "天津市", "north", 14, "天津市/120100/南开区,河西区,滨海新区/天津"),
    ("河北", "河北省", "north", 75,
     "石家庄市/130100/长安区,裕华区/石家庄; 保定市/130600/竞秀区,莲池区/保定; 廊坊市/131000/广阳区/廊坊"),
    ("山西", "山西省", "north", 35, "太原市/140100/小店区,迎泽区/太原; 大同市/140200/平城区/太原"),
    ("内蒙古", "内蒙古自治区", "north", 12,
     "呼和浩特市/150100/新城区,赛罕区/呼和浩特; 包头市/150200/昆都仑区/包头"),
    ("辽宁", "辽宁省", "northeast", 43, "沈阳市/210100/和平区,浑南区/沈阳; 大连市/210200/沙河口区,甘井子区/大连"),
    ("吉林", "吉林省", "northeast", 24, "长春市/220100/朝阳区,南关区/长春"),
    ("黑龙江", "黑龙江省", "northeast", 32, "哈尔滨市/230100/南岗区,道里区/哈尔滨; 大庆市/230600/萨尔图区/哈尔滨"),
    ("上海", "上海市", "east", 25, "上海市/310100/浦东新区,闵行区,徐汇区,杨浦区/上海青浦"),
    ("江苏", "江苏省", "east", 85,
     "南京市/320100/鼓楼区,江宁区/南京; 苏州市/320500/姑苏区,吴中区/苏州; 无锡市/320200/梁溪区/无锡"),
    ("浙江", "浙江省", "east", 65,
     "杭州市/330100/西湖区,拱墅区,滨江区,余杭区/杭州; 宁波市/330200/鄞州区,海曙区/宁波; "
     "金华市/330700/义乌市,婺城区/义乌; 温州市/330300/鹿城区/温州"),
    ("安徽", "安徽省", "east", 61, "合肥市/340100/蜀山区,包河区/合肥; 芜湖市/340200/镜湖区/合肥"),
    ("福建", "福建省", "east", 41, "福州市/350100/鼓楼区,仓山区/福州; 厦门市/350200/思明区,湖里区/厦门; 泉州市/350500/丰泽区/泉州"),
    ("江西", "江西省", "east", 45, "南昌市/360100/东湖区,红谷滩区/南昌; 赣州市/360700/章贡区/赣州"),
    ("山东", "山东省", "east", 102, "济南市/370100/历下区,市中区/济南; 青岛市/370200/市南区,崂山区/青岛; 临沂市/371300/兰山区/临沂"),
    ("台湾", "台湾省", "east", 2, "台北市/710100/信义区,大安区/台北"),
    ("河南", "河南省", "central", 99, "郑州市/410100/金水区,二七区/郑州; 洛阳市/410300/洛龙区/郑州"),
    ("湖北", "湖北省", "central", 58, "武汉市/420100/武昌区,洪山区,江汉区/武汉; 宜昌市/420500/西陵区/武汉"),
    ("湖南", "湖南省", "central", 66, "长沙市/430100/岳麓区,芙蓉区/长沙; 衡阳市/430400/蒸湘区/长沙"),
    ("广东", "广东省", "south", 126,
     "广州市/440100/天河区,越秀区,番禺区/广州白云; 深圳市/440300/南山区,福田区,宝安区/深圳宝安; "
     "东莞市/441900/南城街道,东城街道/东莞; 佛山市/440600/禅城区,南海区/广州白云"),
    ("广西", "广西壮族自治区", "south", 50, "南宁市/450100/青秀区,西乡塘区/南宁; 柳州市/450200/城中区/南宁"),
    ("海南", "海南省", "south", 10, "海口市/460100/龙华区,美兰区/海口; 三亚市/460200/吉阳区/海口"),
    ("香港", "香港特别行政区", "south", 3, "香港/810000/九龙城区,湾仔区/香港"),
    ("澳门", "澳门特别行政区", "south", 1, "澳门/820000/花地玛堂区/澳门"),
    ("重庆", "重庆市", "southwest", 32, "重庆市/500100/渝北区,江北区,沙坪坝区/重庆"),
    ("四川", "四川省", "southwest", 84, "成都市/510100/武侯区,锦江区,成华区/成都; 绵阳市/510700/涪城区/成都"),
    ("贵州", "贵州省", "southwest", 39, "贵阳市/520100/南明区,观山湖区/贵阳; 遵义市/520300/红花岗区/贵阳"),
    ("云南", "云南省", "southwest", 47, "昆明市/530100/五华区,盘龙区/昆明; 大理白族自治州/532900/大理市/昆明"),
    ("西藏", "西藏自治区", "southwest", 2, "拉萨市/540100/城关区/拉萨; 日喀则市/540200/桑珠孜区/拉萨"),
    ("陕西", "陕西省", "northwest", 40, "西安市/610100/雁塔区,未央区/西安; 宝鸡市/610300/渭滨区/西安"),
    ("甘肃", "甘肃省", "northwest", 12.5, "兰州市/620100/城关区,七里河区/兰州; 天水市/620500/秦州区/兰州"),
    ("青海", "青海省", "northwest", 3, "西宁市/630100/城西区,城东区/西宁"),
    ("宁夏", "宁夏回族自治区", "northwest", 3.5, "银川市/640100/兴庆区,金凤区/银川"),
    ("新疆", "新疆维吾尔自治区", "northwest", 13, "乌鲁木齐市/650100/天山区,沙依巴克区/乌鲁木齐; 喀什地区/653100/喀什市/喀什"),
)  # fmt: skip

# Land borders (Hainan counts as bordering Guangdong and Guangxi: a ferry crossing).
_BORDERS: Final = {
    "北京": "天津 河北", "天津": "北京 河北", "河北": "北京 天津 山西 内蒙古 辽宁 山东 河南",
    "山西": "河北 内蒙古 陕西 河南", "内蒙古": "黑龙江 吉林 辽宁 河北 山西 陕西 宁夏 甘肃",
    "辽宁": "河北 内蒙古 吉林", "吉林": "辽宁 内蒙古 黑龙江", "黑龙江": "吉林 内蒙古",
    "上海": "江苏 浙江", "江苏": "上海 浙江 安徽 山东", "浙江": "上海 江苏 安徽 江西 福建",
    "安徽": "江苏 浙江 江西 湖北 河南 山东", "福建": "浙江 江西 广东",
    "江西": "浙江 安徽 湖北 湖南 广东 福建", "山东": "河北 河南 安徽 江苏", "台湾": "",
    "河南": "河北 山西 陕西 湖北 安徽 山东", "湖北": "河南 安徽 江西 湖南 重庆 陕西",
    "湖南": "湖北 江西 广东 广西 贵州 重庆", "广东": "福建 江西 湖南 广西 海南 香港 澳门",
    "广西": "广东 湖南 贵州 云南 海南", "海南": "广东 广西", "香港": "广东", "澳门": "广东",
    "重庆": "四川 贵州 湖南 湖北 陕西", "四川": "重庆 贵州 云南 西藏 青海 甘肃 陕西",
    "贵州": "四川 重庆 湖南 广西 云南", "云南": "四川 贵州 广西 西藏", "西藏": "新疆 青海 四川 云南",
    "陕西": "山西 内蒙古 宁夏 甘肃 四川 重庆 湖北 河南", "甘肃": "内蒙古 宁夏 陕西 四川 青海 新疆",
    "青海": "甘肃 新疆 西藏 四川", "宁夏": "内蒙古 陕西 甘肃", "新疆": "甘肃 青海 西藏",
}  # fmt: skip

# Where the national transfer hub of each region is (its first city's hub): a
# cross-region parcel passes through one or two of them.
REGION_HUBS: Final[Mapping[str, str]] = {
    "north": "北京",
    "northeast": "辽宁",
    "east": "上海",
    "central": "湖北",
    "south": "广东",
    "southwest": "四川",
    "northwest": "陕西",
}


def _parse_cities(province: str, spec: str) -> tuple[City, ...]:
    cities = []
    for entry in spec.split(";"):
        name, code, districts, hub = entry.strip().split("/")
        cities.append(City(name, province, code, tuple(districts.split(",")), hub))
    return tuple(cities)


PROVINCES: Final[Mapping[str, Province]] = {
    short: Province(short, full, region, _parse_cities(short, spec), float(weight))
    for short, full, region, weight, spec in _TABLE
}
ADJACENT: Final[Mapping[str, frozenset[str]]] = {
    name: frozenset(neighbours.split()) for name, neighbours in _BORDERS.items()
}

# Prefixes an address may start with, longest first ("内蒙古自治区" before "内蒙古").
_PREFIXES: Final = sorted(
    ((key, p.name) for p in PROVINCES.values() for key in {p.full_name, p.name + "省", p.name}),
    key=lambda item: -len(item[0]),
)


@lru_cache(maxsize=4096)
def parse_place(value: str | None) -> tuple[str | None, City | None]:
    """The province (and the city, when it is one the model knows) an address starts with:
    "广东省深圳市南山区" -> ("广东", 深圳市); "浙江" -> ("浙江", None); unknown -> (None, None)."""
    if not value or not value.strip():
        return None, None
    text = value.strip().replace(" ", "").replace(",", "")
    for key, name in _PREFIXES:
        if text.startswith(key):
            rest = text[len(key) :]
            province = PROVINCES[name]
            for city in province.cities:
                if rest.startswith(city.name) or (rest and rest.startswith(city.short)):
                    return name, city
            # A municipality's address repeats its name: "上海市浦东新区" is the city too.
            if len(province.cities) == 1 and province.full_name.endswith("市"):
                return name, province.cities[0]
            return name, None
    return None, None


def lane_band(origin: str | None, destination: str | None) -> str:
    """The lane band of a province pair (docs/scorecard.md "Lane bands"); an unknown end makes
    it cross-region."""
    if origin not in PROVINCES or destination not in PROVINCES:
        return CROSS_REGION
    assert origin is not None and destination is not None
    if origin == destination:
        return INTRA_PROVINCE
    if origin in REMOTE_PROVINCES or destination in REMOTE_PROVINCES:
        return REMOTE
    if destination in ADJACENT[origin] or PROVINCES[origin].region == PROVINCES[destination].region:
        return ADJACENT_REGION
    return CROSS_REGION
