"""The tables. Orders (`sales_order`) and parcels (`shipment`, one row per parcel) linked many
to many (`order_parcel`: a split order has several parcels, a merged parcel serves several
orders; docs/orders-and-parcels.md "The model"), the parcels' tracking events, the alert queue
with its full history, and the notification outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, false, text
from sqlmodel import Field, SQLModel

from monitor.store.types import UTCDateTime


def _utc(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


# Partial covering indexes for the /metrics counts (monitor/metrics/collectors.py): they hold only
# active parcels and unresolved alerts, so a scrape reads a small index in group order
# however long the history grows. Their WHERE text must match the collector's queries.
ACTIVE_PARCEL = "status NOT IN ('delivered', 'returned')"
UNRESOLVED_ALERT = "state != 'resolved'"
UNSHIPPED_ORDER = "shipped_at IS NULL"


class SalesOrder(SQLModel, table=True):
    """An order as its platform knows it: who bought what, paid when, to ship from where by
    when. Its order id is unique within its platform only. `shipped_at` is when its first
    tracking number was uploaded (the moment the platforms count as shipped:
    docs/orders-and-parcels.md "When an order counts as shipped"), kept in the transaction that
    links the parcel."""

    __tablename__ = "sales_order"
    __table_args__ = (
        Index("uq_sales_order_platform_order_id", "platform", "order_id", unique=True),
        # Unshipped orders are few beside the history: the order rules and the today page
        # read them through this partial index.
        Index(
            "ix_sales_order_unshipped",
            "warehouse",
            "paid_at",
            sqlite_where=text(UNSHIPPED_ORDER),
            postgresql_where=text(UNSHIPPED_ORDER),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = "other"
    order_id: str = Field(index=True)
    shop: str | None = None
    warehouse: str
    province: str | None = None  # the buyer's
    city: str | None = None
    address: str | None = None
    phone: str | None = None
    amount: float | None = None
    paid_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # The platform's own ship deadline when the export gives it (最晚发货时间); else the
    # rules compute it from the platform's promise.
    ship_deadline_at: datetime | None = _utc()
    shipped_at: datetime | None = _utc()
    content_hash: str = ""  # of the imported order fields, so a re-import changes nothing
    # When a rule's outcome for it can next change without new data; NULL: due now
    # (docs/architecture.md "Incremental detection"; migration 0019).
    due_at: datetime | None = _utc(index=True)
    detect_owner: str | None = None  # docs/architecture.md "Detection across replicas"
    detect_lease_until: datetime | None = _utc()  # its lease; once settled, when (0020)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class OrderParcel(SQLModel, table=True):
    """Which parcels carry which orders (many to many)."""

    __tablename__ = "order_parcel"

    sales_order_id: int = Field(foreign_key="sales_order.id", primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", primary_key=True, index=True)
    linked_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Shipment(SQLModel, table=True):
    """One parcel: a tracking number with its carrier, the events the carrier sent, its status
    and poll schedule. Queried and subscribed once however many orders it carries. Its origin
    and destination (warehouse, platform, shop, province, city, address, phone) are copied from
    the orders it carries, which share them (one buyer, one address), because every parcel
    rule is scoped by them; `order_id` and `order_count` name its orders for labels and links
    (the first order linked, and how many there are: `order_parcel` holds them all)."""

    __tablename__ = "shipment"
    __table_args__ = (
        # A tracking number is one parcel per carrier, whatever orders list it.
        Index("uq_shipment_tracking_carrier", "tracking_number", "carrier", unique=True),
        Index(
            "ix_shipment_active_carrier_status",
            "carrier",
            "status",
            sqlite_where=text(ACTIVE_PARCEL),
            postgresql_where=text(ACTIVE_PARCEL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: str | None = Field(default=None, index=True)
    order_count: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    platform: str = "other"
    shop: str | None = None
    warehouse: str = Field(index=True)
    carrier: str | None = Field(default=None, index=True)
    tracking_number: str | None = Field(default=None, index=True)
    province: str | None = None
    city: str | None = None
    address: str | None = None
    shipped_at: datetime | None = _utc()  # its tracking number uploaded
    picked_up_at: datetime | None = _utc()
    delivered_at: datetime | None = _utc()
    last_event_at: datetime | None = _utc()
    expected_delivery_at: datetime | None = _utc()  # the carrier's own estimate, when given
    status: str = Field(default="awaiting_shipment", index=True)
    sub_reason: str | None = None
    content_hash: str = ""  # of the imported parcel fields, so a re-import changes nothing
    phone: str | None = None  # receiver's phone (Kuaidi100 needs it for SF and ZTO)
    # Polling: when to ask the carrier next (NULL: never again), and a lease so that several
    # replicas never poll the same parcel at once.
    next_poll_at: datetime | None = _utc(index=True)
    poll_lease_until: datetime | None = _utc()
    last_polled_at: datetime | None = _utc()
    # When the carrier last answered about it (a poll answer or a push): carrier-side rules
    # wait for the first answer, not for the subscription (migration 0007).
    answered_at: datetime | None = _utc()
    poll_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    subscribed_at: datetime | None = _utc()  # registered for push with the tracking API
    tracking_stopped_at: datetime | None = _utc()  # the API stopped tracking it
    # The last hub or outlet its scans named (carriers/hubs.py; migration 0013).
    last_hub: str | None = None
    # When a rule's outcome for it can next change without new data; NULL: due now
    # (docs/architecture.md "Incremental detection"; migration 0019).
    due_at: datetime | None = _utc(index=True)
    detect_owner: str | None = None  # docs/architecture.md "Detection across replicas"
    detect_lease_until: datetime | None = _utc()  # its lease; once settled, when (0020)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class CarrierHealth(SQLModel, table=True):
    """Per carrier account: did the last calls work? Feeds `carrier_api_failing`."""

    __tablename__ = "carrier_health"

    carrier: str = Field(primary_key=True)
    last_success_at: datetime | None = _utc()
    last_failure_at: datetime | None = _utc()
    failing_since: datetime | None = _utc()  # first failure after the last success
    consecutive_failures: int = 0
    last_error: str | None = None
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class TrackingEvent(SQLModel, table=True):
    __tablename__ = "tracking_event"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status: str
    sub_reason: str | None = None
    raw_code: str | None = None  # the carrier's own code, kept verbatim
    raw_text: str = ""  # the carrier's scan text, kept verbatim (untrusted: escape on display)
    # The status was read from the scan's status name or text, not given by a carrier's code
    # (docs/statuses.md "Events without a code").
    inferred: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    location: str | None = None
    source: str = "import"  # import | poll | push
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # The same scan pushed twice, or polled again, must not appear twice on the timeline.
    dedup_key: str = Field(unique=True)


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    # One open alert per (kind, parcel) at a time: re-detection updates it, never duplicates.
    __table_args__ = (
        Index(
            "uq_alert_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index(
            "ix_alert_open_breakdown",
            "kind",
            "severity",
            "carrier",
            "warehouse",
            "state",  # makes the index covering: SQLite re-checks the WHERE term
            sqlite_where=text(UNRESOLVED_ALERT),
            postgresql_where=text(UNRESOLVED_ALERT),
        ),
        # Held alerts are few: the releases after a silence or an incident read them by index,
        # not by scanning the alert history (migrations 0010 and 0012).
        Index(
            "ix_alert_silenced_by",
            "silenced_by",
            sqlite_where=text("silenced_by IS NOT NULL"),
            postgresql_where=text("silenced_by IS NOT NULL"),
        ),
        Index(
            "ix_alert_inhibited_by",
            "inhibited_by",
            sqlite_where=text("inhibited_by IS NOT NULL"),
            postgresql_where=text("inhibited_by IS NOT NULL"),
        ),
        Index(
            "ix_alert_open_province",
            "kind",
            "province",
            "carrier",
            "state",
            sqlite_where=text(UNRESOLVED_ALERT),
            postgresql_where=text(UNRESOLVED_ALERT),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(index=True)
    kind: str = Field(index=True)
    severity: str
    state: str = Field(default="open", index=True)  # open | acknowledged | resolved
    # The parcel of a parcel kind; the order of an order kind (migration 0014); neither for
    # carrier-wide kinds. `order_id` is the order's id as the platform shows it (for a parcel
    # kind its first order; `detail.orders` lists them all when there are several).
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    sales_order_id: int | None = Field(default=None, foreign_key="sales_order.id", index=True)
    order_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    warehouse: str | None = None
    province: str | None = None
    platform: str | None = None
    shop: str | None = None  # the order's shop, for silences that match it (migration 0015)
    since: datetime = Field(sa_type=UTCDateTime, nullable=False)  # when the condition began
    # Indexed (migration 0016): the today page counts alerts opened per day.
    opened_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    resolved_at: datetime | None = _utc()
    resolution: str | None = None  # cleared | superseded | manual
    assignee: str | None = None
    snoozed_until: datetime | None = _utc()
    # The silence holding its notifications back (migration 0010); NULL: none.
    silenced_by: int | None = None
    # The open carrier incident holding its notifications (migration 0012); NULL: none.
    inhibited_by: int | None = None
    # Escalation (migration 0011): steps already paged, reminders sent, when the next is due.
    pages_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reminders_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_reminder_at: datetime | None = _utc()
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AlertEvent(SQLModel, table=True):
    """Every change to an alert, with who and when: the queue's audit trail."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor: str  # "system" for detection, else the user
    action: str  # opened | escalated | deescalated | acknowledged | assigned | snoozed | ...
    from_state: str | None = None
    to_state: str | None = None
    severity: str | None = None
    note: str | None = None


class OutboxMessage(SQLModel, table=True):
    """Written in the same transaction as the alert change it announces, so a crash can
    neither lose a notification nor send one for a change that was rolled back."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    event: str  # opened | escalated | resolved
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    available_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    attempts: int = 0
    delivered_at: datetime | None = _utc(index=True)
    last_error: str | None = None


class LaneStats(SQLModel, table=True):
    """Learned delivery figures per carrier and lane, refreshed by a job from recent
    deliveries: the `delayed` rule's expectation once a lane has enough history, the
    scorecard's comparison, and the carrier gauges on /metrics (read, never recomputed, at
    scrape time). `origin` is NULL on the carrier x destination rows that aggregate every
    origin."""

    __tablename__ = "lane_stats"

    id: int | None = Field(default=None, primary_key=True)
    carrier: str = Field(index=True)
    origin: str | None = None  # province the parcels left from
    province: str | None = None  # destination province; NULL: the carrier nationally
    deliveries: int = 0  # delivered parcels in the window
    picked_up: int = 0  # parcels picked up in the window
    transit_p50_hours: float | None = None
    transit_p90_hours: float | None = None
    on_time_ratio: float | None = None
    loss_ratio: float | None = None
    window_days: int = 28
    computed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class OutboxDelivery(SQLModel, table=True):
    """One outbox message to one sink (alerts/outbox/): so that a sink that has a message
    never gets it again because another sink failed, and so that failures are shown.
    `permanent`: given up (the sink refused it for good, or attempts ran out); `last_error`
    says why. `next_attempt_at`: when a transient failure may be retried."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (Index("uq_outbox_delivery_outbox_sink", "outbox_id", "sink", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", ondelete="CASCADE")
    sink: str  # the sink's configured name
    attempts: int = 0
    delivered_at: datetime | None = _utc()
    permanent: bool = False
    last_error: str | None = None
    next_attempt_at: datetime | None = _utc()
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ScorecardReport(SQLModel, table=True):
    """The weekly carrier scorecard as published on Monday morning, kept so that the report a
    manager acted on can be read again later (docs/contract.md "Scorecard JSON")."""

    __tablename__ = "scorecard_report"

    week: str = Field(primary_key=True)  # ISO week, e.g. 2026-W47
    generated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WebSession(SQLModel, table=True):
    """A signed-in browser session, kept server-side so that signing out (or a changed
    password) ends it everywhere, not only in the browser that holds the cookie."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True)  # random, in the signed cookie
    user: str = Field(index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per user and per address (`user:<name>`, `addr:<ip>`), with the moment
    until which that key may not try again."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True)
    failures: int = 0
    locked_until: datetime | None = _utc()
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class CarrierAnswer(SQLModel, table=True):
    """A carrier's push body or poll answer exactly as received (zlib-compressed), with the
    headers a push's signature needs: what a disputed timeline is shown from, and (pushes)
    what `parcelwatch replay` runs a fixed parser over. Kept `daemon.keep_raw_days` (default
    180); one row per distinct body (a re-sent push is the same row)."""

    __tablename__ = "carrier_answer"

    id: int | None = Field(default=None, primary_key=True)
    api: str  # the push path's name (kuaidi100, 17track, aftership, sim)
    source: str = "push"  # push | poll
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    sha256: str = Field(unique=True)  # of the body as received
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    body: bytes  # zlib


class SilenceRow(SQLModel, table=True):
    """A silence (alerts/silences.py): matchers, a window, why and who. `released_at` is set
    once the alerts it held have been announced after it ended."""

    __tablename__ = "silence"

    id: int | None = Field(default=None, primary_key=True)
    matchers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    reason: str = ""
    created_by: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    released_at: datetime | None = _utc()


class MaintenanceRow(SQLModel, table=True):
    """A maintenance window made through the API (monitor/maintenance.py; the config's
    `[[maintenance]]` are the others): the window as the config would write it, who made it,
    and `ended_at` once a lead ended it, so that what paused which clocks stays readable."""

    __tablename__ = "maintenance_window"

    id: int | None = Field(default=None, primary_key=True)
    window: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = _utc(index=True)


class ParcelCount(SQLModel, table=True):
    """Counts per (carrier, status) of active parcels and (NULL, awaiting_shipment) of unshipped
    orders, kept by triggers: in place on SQLite, appended and folded on PostgreSQL (counts.py)."""

    __tablename__ = "parcel_count"

    id: int | None = Field(default=None, primary_key=True)
    carrier: str | None = None
    status: str
    n: int


class AlertCount(SQLModel, table=True):
    """+1/-1 rows of unresolved alerts by kind, severity, carrier and warehouse
    (monitor/store/counts.py)."""

    __tablename__ = "alert_count"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    severity: str
    carrier: str | None = None
    warehouse: str | None = None
    n: int


class AlertProvinceCount(SQLModel, table=True):
    """+1/-1 rows of unresolved alerts by kind and destination province."""

    __tablename__ = "alert_province_count"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    province: str | None = None
    n: int


class StalledCount(SQLModel, table=True):
    """+1/-1 rows of unresolved stalled alerts by carrier and destination province."""

    __tablename__ = "stalled_count"

    id: int | None = Field(default=None, primary_key=True)
    carrier: str | None = None
    province: str | None = None
    n: int


class CarrierAnswerNumber(SQLModel, table=True):
    """Which tracking numbers a kept carrier answer speaks of (a 17TRACK poll answers up to 40
    at once), so that an order's evidence pack finds the bodies of its parcels by index
    (docs/evidence-and-penalties.md "Raw bodies in the pack")."""

    __tablename__ = "carrier_answer_number"

    sha256: str = Field(primary_key=True)  # carrier_answer.sha256
    tracking_number: str = Field(primary_key=True, index=True)


class Penalty(SQLModel, table=True):
    """One line of a platform's penalty or compensation export (`parcelwatch penalties
    import`), as the platform charged it; whether it is contestable is judged when the report
    is made, from the evidence held then (docs/evidence-and-penalties.md "Reconciliation")."""

    __tablename__ = "penalty"

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    order_id: str = Field(index=True)  # the platform's order id, as the export gives it
    kind: str  # late_shipment | fake_shipment | late_pickup | other
    kind_text: str  # the export's own words (违规类型 / 赔付类型)
    amount: float  # yuan
    charged_at: datetime | None = _utc()
    source: str  # the file's name and line, for the reader of a report
    line_hash: str = Field(unique=True)  # of the mapped fields: a re-import adds nothing
    imported_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class DetectDirty(SQLModel, table=True):
    """A parcel or order whose rule columns changed since the last detection tick, appended
    by a trigger in the writer's transaction (migration 0019); the tick deletes the marks it
    judged (docs/architecture.md "Incremental detection")."""

    __tablename__ = "detect_dirty"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int | None = None
    sales_order_id: int | None = None


class DetectState(SQLModel, table=True):
    """What the stored due moments were computed against: the config's fingerprint, the lane
    figures, the last incremental tick (docs/architecture.md "Incremental detection")."""

    __tablename__ = "detect_state"

    key: str = Field(primary_key=True)
    value: str
