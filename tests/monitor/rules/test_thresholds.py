"""Which threshold applies to which parcel, and the config errors people will actually make.

Precedence, lowest first: the global [rules]/[platforms] values < the built-in one-field
scopes (a platform's own promise, the remote provinces' in-transit allowance) < a user
override naming one field < one naming two; between equals, the later entry wins.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import ConfigError, parse_config
from monitor.rules import thresholds
from monitor.rules.thresholds import effective
from tests.support.parcels import parcel_frame

WAREHOUSE = {
    "id": "hz1",
    "province": "浙江",
    "timezone": "Asia/Shanghai",
    "cutoff": "16:00",
    "ship_by": "18:00",
    "calendar": "cn",
    "closed": [],
    "open": [],
}


def config(*overrides: dict[str, Any], **sections: Any) -> Any:
    rules = {**sections.pop("rules", {}), "override": list(overrides)}
    return parse_config({"warehouses": [WAREHOUSE], "rules": rules, **sections}, "<test>")


def test_defaults() -> None:
    assert effective(config()) == {
        "ship_promise_h": 48.0,
        "ship_risk_h": 36.0,
        "ship_risk_critical_h": 46.0,
        "no_pickup_h": 24.0,
        "stall_picked_up_h": 24.0,
        "stall_in_transit_h": 48.0,
        "stall_out_for_delivery_h": 24.0,
        "stall_available_for_pickup_h": 72.0,
        "delay_same_province_h": 48.0,
        "delay_adjacent_h": 72.0,
        "delay_cross_region_h": 96.0,
        "delay_remote_h": 168.0,
        "lost_after_h": 168.0,
    }


def test_global_values_come_from_rules_and_platforms() -> None:
    cfg = config(
        rules={"lost_after_days": 10, "stalled_hours": {"in_transit": 60}},
        platforms={"default_ship_promise_hours": 72},
    )
    values = effective(cfg, carrier="zto", province="江苏")
    assert (values["lost_after_h"], values["stall_in_transit_h"]) == (240.0, 60.0)
    assert values["ship_promise_h"] == 72.0
    assert values["stall_out_for_delivery_h"] == 24.0  # a partial table keeps the rest


@pytest.mark.parametrize(
    ("overrides", "scope", "promise"),
    [
        ([], {"platform": "taobao"}, 48),  # global
        ([], {"platform": "pinduoduo"}, 24),  # [platforms.pinduoduo]
        ([{"platform": "pinduoduo", "ship_promise_hours": 36}], {"platform": "pinduoduo"}, 36),
        (
            [
                {"platform": "pinduoduo", "warehouse": "hz1", "ship_promise_hours": 30},
                {"platform": "pinduoduo", "ship_promise_hours": 36},
            ],
            {"platform": "pinduoduo", "warehouse": "hz1"},
            30,
        ),
        (
            [{"carrier": "sf", "ship_promise_hours": 20}],
            {"platform": "pinduoduo", "carrier": "sf"},
            20,
        ),
    ],
)
def test_ship_promise_precedence(
    overrides: list[dict[str, Any]], scope: dict[str, str], promise: float
) -> None:
    cfg = config(*overrides, platforms={"pinduoduo": {"ship_promise_hours": 24}})
    assert effective(cfg, **scope)["ship_promise_h"] == promise


EMS_XINJIANG = {"carrier": "ems", "province": "新疆", "stalled_hours": {"in_transit": 96}}
XINJIANG_100 = {"province": "新疆", "stalled_hours": {"in_transit": 100}}
ZTO_60 = {"carrier": "zto", "stalled_hours": {"in_transit": 60}}
JIANGSU_50 = {"province": "江苏", "stalled_hours": {"in_transit": 50}}


@pytest.mark.parametrize(
    ("overrides", "carrier", "province", "hours"),
    [
        ([], "zto", "江苏", 48),  # global
        ([], "zto", "青海", 72),  # built-in remote
        ([], "zto", "新疆", 120),  # built-in very remote
        ([XINJIANG_100], "zto", "新疆", 100),  # one-field override > built-in
        ([EMS_XINJIANG], "ems", "新疆", 96),  # two fields > built-in
        ([EMS_XINJIANG], "zto", "新疆", 120),
        ([EMS_XINJIANG, XINJIANG_100], "ems", "新疆", 96),  # two fields > one, in any order
        ([XINJIANG_100, EMS_XINJIANG], "ems", "新疆", 96),
        ([ZTO_60, JIANGSU_50], "zto", "江苏", 50),  # equals: the later entry wins
        ([JIANGSU_50, ZTO_60], "zto", "江苏", 60),
        # A carrier-wide override is one field too, so it also beats the built-in 新疆 120 h.
        ([ZTO_60], "zto", "新疆", 60),
        ([ZTO_60], "ems", "新疆", 120),
        # An override naming nothing is a global value: the built-ins still beat it.
        ([{"stalled_hours": {"in_transit": 40}}], "zto", "新疆", 120),
        ([{"stalled_hours": {"in_transit": 40}}], "zto", "江苏", 40),
    ],
)
def test_stall_precedence(
    overrides: list[dict[str, Any]], carrier: str, province: str, hours: float
) -> None:
    values = effective(config(*overrides), carrier=carrier, province=province)
    assert values["stall_in_transit_h"] == hours


def test_an_override_changes_only_the_fields_it_names() -> None:
    values = effective(config(EMS_XINJIANG, ZTO_60), carrier="ems", province="新疆")
    assert values["stall_in_transit_h"] == 96
    assert values["stall_out_for_delivery_h"] == 24
    assert values["ship_promise_h"] == 48


@pytest.mark.parametrize("spelling", ["新疆", "新疆维吾尔自治区", "Xinjiang", "xinjiang", "新疆省"])
def test_province_names_in_overrides_are_normalised(spelling: str) -> None:
    cfg = config({"carrier": "中通", "province": spelling, "stalled_hours": {"in_transit": 80}})
    assert cfg.rules.override[0].scope == {"carrier": "zto", "province": "新疆"}
    frame = parcel_frame(
        {"carrier": "zto", "province": "新疆"},
        {"carrier": "zto", "province": "青海"},
        {"carrier": "ems", "province": "新疆"},
    )
    resolved = thresholds.resolve(frame, cfg)
    assert resolved["stall_in_transit_h"].tolist() == [80.0, 72.0, 120.0]


# --- config errors --------------------------------------------------------------------


def error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "parcelwatch.toml")
    assert caught.value.source == "parcelwatch.toml"
    return caught.value


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"warehouse": [WAREHOUSE]}, "warehouse"),
        ({"warehouses": [{**WAREHOUSE, "cutof": "16:00"}]}, "warehouses[0].cutof"),
        ({"rules": {"stalled_hours": {"in_transt": 30}}}, "rules.stalled_hours.in_transt"),
        (
            {"rules": {"override": [{"carrier": "zto", "stall_hours": {}}]}},
            "rules.override[0].stall_hours",
        ),
    ],
)
def test_an_unknown_key_is_named(data: dict[str, Any], key: str) -> None:
    exc = error(data)
    assert exc.key == key
    assert "unknown key" in exc.reason
    assert str(exc).startswith(f"parcelwatch.toml: {key}: unknown key")


@pytest.mark.parametrize("cutoff", ["25:00", "16:60", "4pm", "16"])
def test_a_bad_cutoff(cutoff: str) -> None:
    exc = error({"warehouses": [{**WAREHOUSE, "cutoff": cutoff}]})
    assert exc.key == "warehouses[0].cutoff"
    assert "HH:MM" in exc.reason
    assert repr(cutoff) in exc.reason


def test_an_unknown_time_zone() -> None:
    exc = error({"warehouses": [WAREHOUSE, {**WAREHOUSE, "id": "x", "timezone": "Asia/Beijing"}]})
    assert exc.key == "warehouses[1].timezone"
    assert "'Asia/Beijing'" in exc.reason
    assert "IANA" in exc.reason


def test_an_unknown_calendar() -> None:
    exc = error({"warehouses": [{**WAREHOUSE, "calendar": "chinese"}]})
    assert exc.key == "warehouses[0].calendar"
    assert "'chinese'" in exc.reason
    assert all(name in exc.reason for name in ("cn", "every-day", "weekdays"))


def test_an_unknown_province_in_an_override() -> None:
    exc = error({"rules": {"override": [{"province": "Atlantis"}]}})
    assert exc.key == "rules.override[0].province"
    assert "unknown province 'Atlantis'" in exc.reason


def test_an_unknown_carrier_in_an_override_is_explained() -> None:
    exc = error({"rules": {"override": [{}, {"carrier": "fedex"}]}})
    assert "unknown carrier 'fedex'" in str(exc)
    assert "rules.override[1].carrier" in str(exc)


def test_an_unknown_carrier_in_an_override_names_the_key() -> None:
    exc = error({"rules": {"override": [{}, {"carrier": "fedex"}]}})
    assert exc.key == "rules.override[1].carrier"


def test_a_carrier_configured_under_carriers_is_known() -> None:
    cfg = parse_config(
        {"carriers": {"fedex": {}}, "rules": {"override": [{"carrier": "fedex"}]}}, "<test>"
    )
    assert cfg.rules.override[0].carrier == "fedex"


SCOPES = st.fixed_dictionaries(
    {},
    optional={
        "carrier": st.sampled_from(["zto", "sf", "ems", "yto"]),
        "province": st.sampled_from(["新疆", "西藏", "江苏", "广东", "青海"]),
        "warehouse": st.sampled_from(["hz1", "gz1"]),
        "platform": st.sampled_from(["pinduoduo", "taobao", "jd"]),
    },
)
OVERRIDES = st.lists(
    st.fixed_dictionaries(
        {"stalled_hours": st.fixed_dictionaries({"in_transit": st.integers(1, 200)})},
        optional={
            "carrier": st.sampled_from(["zto", "ems"]),
            "province": st.sampled_from(["新疆", "江苏"]),
            "platform": st.sampled_from(["pinduoduo", "jd"]),
            "ship_promise_hours": st.integers(1, 96),
        },
    ),
    max_size=4,
)


@given(SCOPES, OVERRIDES)
def test_one_parcel_gets_what_the_vectorised_resolution_gives(
    scope: dict[str, str], overrides: list[dict[str, Any]]
) -> None:
    """`effective` (one parcel, for the poll schedule and the evidence packs) and `resolve`
    (the whole frame, for the rules) apply the same layers."""
    overrides = [o for o in overrides if set(o) & {"carrier", "province", "platform"}]
    cfg = config(*overrides, platforms={"pinduoduo": {"ship_promise_hours": 24}})
    frame = pd.DataFrame({key: [scope.get(key)] for key in thresholds.MATCH_FIELDS})
    assert effective(cfg, **scope) == thresholds.resolve(frame, cfg).iloc[0].to_dict()
