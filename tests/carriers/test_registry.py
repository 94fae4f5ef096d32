"""Carrier names as shops write them (Chinese, English, abbreviations) to our carrier codes
(carriers/registry.py; docs/contract.md "Carrier codes")."""

from __future__ import annotations

import pytest

from carriers.registry import normalize_carrier


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
