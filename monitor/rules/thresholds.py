"""Resolve every threshold per parcel from the override hierarchy, vectorised.

Precedence, lowest first: the global `[rules]` values; then scoped layers ordered by how many
of carrier, province, warehouse and platform they name, later layers winning ties. The
built-in layers (a platform's own ship promise from `[platforms]`, the longer in-transit
stall allowance for remote provinces) name one field and count as the earliest entries, so
`[[rules.override]]` entries win ties with them: `{carrier = "ems", province = "新疆"}` beats
the built-in allowance for 新疆, and so does a carrier-wide `{carrier = "zto"}` (it names as
many fields and comes later). To keep remote lanes longer for one carrier, name both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitor.config import PLATFORMS, Config

MATCH_FIELDS = ("carrier", "province", "warehouse", "platform")

# Threshold column (hours) -> its path in the config's rule tables.
COLUMNS: dict[str, tuple[str, ...]] = {
    "ship_promise_h": ("ship_promise_hours",),
    "ship_risk_h": ("ship_risk_hours",),
    "ship_risk_critical_h": ("ship_risk_critical_hours",),
    "no_pickup_h": ("no_pickup_scan_hours",),
    "stall_picked_up_h": ("stalled_hours", "picked_up"),
    "stall_in_transit_h": ("stalled_hours", "in_transit"),
    "stall_out_for_delivery_h": ("stalled_hours", "out_for_delivery"),
    "stall_available_for_pickup_h": ("stalled_hours", "available_for_pickup"),
    "delay_same_province_h": ("delayed_hours", "same_province"),
    "delay_adjacent_h": ("delayed_hours", "adjacent"),
    "delay_cross_region_h": ("delayed_hours", "cross_region"),
    "delay_remote_h": ("delayed_hours", "remote"),
    "lost_after_h": ("lost_after_days",),
}


@dataclass
class Layer:
    scope: dict[str, str]
    values: dict[str, float]
    origin: str  # where it comes from, for check-config
    order: int = 0
    specificity: int = field(init=False)

    def __post_init__(self) -> None:
        self.specificity = len(self.scope)


def _lookup(source: object, path: tuple[str, ...]) -> float | None:
    value: object = source
    for part in path:
        value = getattr(value, part, None)
        if value is None:
            return None
    assert isinstance(value, int | float)
    return float(value)


def _values(source: object) -> dict[str, float]:
    values: dict[str, float] = {}
    for column, path in COLUMNS.items():
        value = _lookup(source, path)
        if value is not None:
            values[column] = value * 24 if column == "lost_after_h" else value
    return values


def global_values(config: Config) -> dict[str, float]:
    values = _values(config.rules)
    values["ship_promise_h"] = config.platforms.default_ship_promise_hours
    return values


def layers(config: Config) -> list[Layer]:
    """Every scoped layer in the order it is applied (lowest precedence first)."""
    built_in: list[Layer] = []
    for platform in PLATFORMS:
        promise = config.platforms.rule(platform).ship_promise_hours
        if promise is not None:
            built_in.append(
                Layer({"platform": platform}, {"ship_promise_h": promise}, f"platforms.{platform}")
            )
    for names, hours, key in (
        (config.rules.remote_provinces, config.rules.remote_stalled_hours, "remote_stalled_hours"),
        (
            config.rules.very_remote_provinces,
            config.rules.very_remote_stalled_hours,
            "very_remote_stalled_hours",
        ),
    ):
        for province in names:
            built_in.append(
                Layer({"province": province}, {"stall_in_transit_h": hours}, f"rules.{key}")
            )
    user = [
        Layer(rule.scope, _values(rule), f"rules.override[{i}]")
        for i, rule in enumerate(config.rules.override)
    ]
    ordered = built_in + user
    for index, layer in enumerate(ordered):
        layer.order = index
    return sorted(ordered, key=lambda layer: (layer.specificity, layer.order))


def resolve(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per parcel (same index as `frame`), one float column per threshold in hours.
    `frame` needs the columns carrier, province, warehouse and platform. Works on numpy
    arrays: one mask per layer, reused for every threshold it sets."""
    base = global_values(config)
    columns = {column: np.full(len(frame), base[column], dtype="float64") for column in COLUMNS}
    keys: dict[str, pd.Series] = {}
    for layer in layers(config):
        if not layer.values:
            continue
        mask = np.ones(len(frame), dtype=bool)
        for key, expected in layer.scope.items():
            if key not in keys:
                keys[key] = frame[key]
            mask &= (keys[key] == expected).to_numpy(dtype=bool, na_value=False)
        if not mask.any():
            continue
        for column, value in layer.values.items():
            columns[column][mask] = value
    return pd.DataFrame(columns, index=frame.index)


def effective(config: Config, **scope: str) -> dict[str, float]:
    """The thresholds that apply to one parcel with this carrier/province/warehouse/platform:
    the layers `resolve` applies, matched one by one (a one-row frame cost milliseconds, and
    every push of a new scope and every evidence pack asks)."""
    values = global_values(config)
    for layer in layers(config):
        if layer.values and all(scope.get(k) == v for k, v in layer.scope.items()):
            values.update(layer.values)
    return {column: float(values[column]) for column in COLUMNS}
