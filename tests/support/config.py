"""A parsed config for tests: two warehouses (hz1 in 浙江 on the Chinese calendar, gz1 in 广东
shipping every day) and whatever a test overrides."""

from __future__ import annotations

from typing import Any

from monitor.config import Config, parse_config


def make_config(url: str = "sqlite://", **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "database": {"url": url},
        "warehouses": [
            {"id": "hz1", "province": "浙江", "timezone": "Asia/Shanghai", "calendar": "cn"},
            {"id": "gz1", "province": "广东", "timezone": "Asia/Shanghai", "calendar": "every-day"},
        ],
    }
    data.update(overrides)
    return parse_config(data, "<test>")
