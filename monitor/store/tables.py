"""Typed handles on the store's tables, defined once.

SQLModel builds each model's SQLAlchemy `Table` at class creation, and its stubs do not
declare `__table__`; set-based code (batched inserts, compare-and-set updates, frame reads)
works on these Core tables, so they are looked up here, once, with their type.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from monitor.store.models import (
    Alert,
    AlertCount,
    AlertEvent,
    AlertProvinceCount,
    CarrierAnswer,
    CarrierAnswerNumber,
    CarrierHealth,
    DetectDirty,
    DetectState,
    LaneStats,
    LoginThrottle,
    MaintenanceRow,
    OrderParcel,
    OutboxDelivery,
    OutboxMessage,
    ParcelCount,
    Penalty,
    SalesOrder,
    ScorecardReport,
    Shipment,
    SilenceRow,
    StalledCount,
    TrackingEvent,
    WebSession,
)


def table_of(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


ORDERS = table_of(SalesOrder)
ORDER_PARCELS = table_of(OrderParcel)
SHIPMENTS = table_of(Shipment)  # one row per parcel
TRACKING_EVENTS = table_of(TrackingEvent)
ALERTS = table_of(Alert)
ALERT_HISTORY = table_of(AlertEvent)
OUTBOX = table_of(OutboxMessage)
OUTBOX_DELIVERIES = table_of(OutboxDelivery)
CARRIER_HEALTH = table_of(CarrierHealth)
LANE_STATS = table_of(LaneStats)
SCORECARD_REPORTS = table_of(ScorecardReport)
WEB_SESSIONS = table_of(WebSession)
LOGIN_THROTTLE = table_of(LoginThrottle)
CARRIER_ANSWERS = table_of(CarrierAnswer)
SILENCES = table_of(SilenceRow)
MAINTENANCE = table_of(MaintenanceRow)
PARCEL_COUNTS = table_of(ParcelCount)
ALERT_COUNTS = table_of(AlertCount)
ALERT_PROVINCE_COUNTS = table_of(AlertProvinceCount)
STALLED_COUNTS = table_of(StalledCount)
CARRIER_ANSWER_NUMBERS = table_of(CarrierAnswerNumber)
PENALTIES = table_of(Penalty)
DETECT_DIRTY = table_of(DetectDirty)
DETECT_STATE = table_of(DetectState)
