"""`parcelwatch check-config`: what the daemon will actually use, after every override."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from monitor.config import Config
from monitor.rules import thresholds

LABELS = {
    "ship_promise_h": "ship promise",
    "ship_risk_h": "ship at risk",
    "ship_risk_critical_h": "at risk → critical",
    "no_pickup_h": "no pickup scan",
    "stall_picked_up_h": "stall: picked up",
    "stall_in_transit_h": "stall: in transit",
    "stall_out_for_delivery_h": "stall: out for delivery",
    "stall_available_for_pickup_h": "stall: at locker/station",
    "delay_same_province_h": "delay: same province",
    "delay_adjacent_h": "delay: adjacent",
    "delay_cross_region_h": "delay: cross region",
    "delay_remote_h": "delay: remote",
    "lost_after_h": "lost after",
}


def _hours(value: float) -> str:
    return f"{value:g} h"


def render_config(config: Config, out: Console) -> None:
    url = make_url(config.database.url).render_as_string(hide_password=True)
    out.print(f"database: {url}", highlight=False)

    warehouses = Table(title="warehouses", title_justify="left")
    for column in ("id", "province", "timezone", "cutoff", "ship_by", "calendar", "closed", "open"):
        warehouses.add_column(column)
    for w in config.warehouses:
        warehouses.add_row(
            w.id,
            w.province or "",
            w.timezone,
            f"{w.cutoff:%H:%M}",
            f"{w.ship_by:%H:%M}",
            w.calendar,
            ", ".join(map(str, w.closed)),
            ", ".join(map(str, w.open)),
        )
    if not config.warehouses:
        out.print("warehouses: none configured (imports must name no warehouse ids)")
    else:
        out.print(warehouses)

    base = thresholds.effective(config)
    table = Table(title="thresholds (global)", title_justify="left")
    table.add_column("threshold")
    table.add_column("value", justify="right")
    for column, label in LABELS.items():
        table.add_row(label, _hours(base[column]))
    out.print(table)

    scoped = Table(
        title="scoped thresholds (most specific scope wins; later entries win ties)",
        title_justify="left",
    )
    for column in ("scope", "from", "effective values that differ from global"):
        scoped.add_column(column, overflow="fold")
    for layer in thresholds.layers(config):
        values = thresholds.effective(config, **layer.scope)
        changed = ", ".join(f"{LABELS[c]} {_hours(v)}" for c, v in values.items() if v != base[c])
        scope = ", ".join(f"{k}={v}" for k, v in layer.scope.items())
        scoped.add_row(scope, layer.origin, changed or "(same as global)")
    out.print(scoped)
    incident = config.rules.incident
    out.print(
        f"carrier_incident: share ≥ {incident.min_share:.0%} of ≥ {incident.min_parcels} parcels "
        f"and ≥ {incident.baseline_factor:g}x the {incident.baseline_days}-day rate",
        highlight=False,
    )
    out.print(
        f"carriers configured: {', '.join(config.carriers) or 'none'}; sinks: {len(config.sinks)}",
        highlight=False,
    )
    out.print("config OK", style="bold green")
