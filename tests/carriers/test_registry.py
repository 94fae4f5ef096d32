"""Carrier names as shops write them (Chinese, English, abbreviations) to our carrier codes
(carriers/registry.py; docs/contract.md "Carrier codes")."""

from __future__ import annotations

import pytest

from carriers.registry import CARRIERS, normalize_carrier


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("顺丰", "sf"),
        ("顺丰速运", "sf"),
        ("SF", "sf"),
        ("shunfeng", "sf"),
        ("中通快递", "zto"),
        ("ZTO", "zto"),
        ("圆通", "yto"),
        ("韵达", "yunda"),
        ("申通", "sto"),
        ("极兔", "jt"),
        ("J&T", "jt"),
        ("J&T Express", "jt"),
        ("EMS", "ems"),
        ("邮政", "youzheng"),
        ("京东", "jd"),
        ("德邦", "debang"),
        ("百世快递", "best"),
        ("丹鸟", "danniao"),
        ("飞毛腿", None),
    ],
)
def test_carrier_names(name: str, code: str | None) -> None:
    assert normalize_carrier(name) == code


def test_17track_keys_are_the_listed_ones() -> None:
    """docs/tracking-apis.md "17TRACK carrier keys": one key per courier, none for the couriers
    17TRACK's list has no parcel entry for."""
    keys = {code: info.track17 for code, info in CARRIERS.items() if info.track17 is not None}
    assert len(set(keys.values())) == len(keys)
    assert keys == {
        "sf": 190766, "zto": 190455, "yto": 190157, "sto": 190324, "jt": 190442,
        "jd": 191121, "debang": 190174, "ems": 3013, "youzheng": 3011,
    }  # fmt: skip
