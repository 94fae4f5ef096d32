"""The carrier-level alerts an incremental tick judges whole, once per tick, by its keeper:
`carrier_api_failing` from the small carrier_health table, and the carrier and hub incidents
from the incident cells (docs/architecture.md "Incident cells"). They are about a carrier, a
province or a hub, not about any row a batch claims, so no batch plans them."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from alerts.lifecycle import Plan, plan
from alerts.model import AlertKind
from monitor.config import Config
from monitor.daemon.incidents import judged_incidents
from monitor.daemon.tick import alerts_to_plan, apply_plan, with_fingerprints
from monitor.detection import BaselineCache
from monitor.rules.health import carrier_api_failing
from monitor.store.health import load_health
from monitor.store.incident_cells import fold_cells
from monitor.store.tables import ALERTS

A = ALERTS.c
API_FAILING = (AlertKind.CARRIER_API_FAILING.value,)
INCIDENTS = (AlertKind.CARRIER_INCIDENT.value, AlertKind.HUB_INCIDENT.value)


def judge_kinds(
    engine: Engine, kinds: tuple[str, ...], exceptions: pd.DataFrame, now: datetime
) -> Plan:
    """Bring every alert of carrier-level `kinds` in line with `exceptions`."""
    open_alerts, manual = alerts_to_plan(engine, A.kind.in_(kinds))
    changes = plan(with_fingerprints(exceptions), open_alerts, manual)
    apply_plan(engine, changes, now)
    return changes


def judge_carrier_health(engine: Engine, config: Config, now: datetime) -> Plan:
    """carrier_api_failing from the small carrier_health table."""
    moment = pd.Timestamp(now).tz_convert("UTC")
    minutes = config.rules.carrier_api_failing_minutes
    return judge_kinds(engine, API_FAILING,
                       carrier_api_failing(load_health(engine), moment, minutes), now)  # fmt: skip


def judge_incidents(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None
) -> Plan:
    """The carrier and hub incidents from the incident cells, once the tick's batches are in
    (on PostgreSQL the rows they appended folded first)."""
    fold_cells(engine)
    return judge_kinds(engine, INCIDENTS, judged_incidents(engine, config, now, baselines), now)
