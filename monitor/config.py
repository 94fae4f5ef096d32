"""parcelwatch.toml: read once, validated strictly, with errors that name the file and key.

Every number here is a default taken from platform rules and national delivery statistics
(see docs/rules.md "Alert kinds and defaults"); platform rules change often, so all of them can
be set globally and overridden per platform, carrier, destination province and warehouse.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.config import SinkList
from carriers.apis import API_NAMES
from carriers.registry import CARRIERS, normalize_carrier
from monitor.clock import check_timezone, parse_clock_time
from monitor.geo import DEFAULT_REMOTE, DEFAULT_VERY_REMOTE, check_province
from monitor.maintenance import MaintenanceWindow

DEFAULT_CONFIG_PATH = Path("parcelwatch.toml")
PLATFORMS = ("taobao", "tmall", "pinduoduo", "jd", "douyin", "kuaishou", "weixin", "other")


class ConfigError(Exception):
    """A config problem, phrased for the person editing the file."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}" if key else f"{source}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


ClockTime = Annotated[time, BeforeValidator(parse_clock_time)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
ProvinceName = Annotated[str, BeforeValidator(check_province)]
Hours = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Strict):
    url: str = "sqlite:///parcelwatch.db"


class WarehouseConfig(Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    province: ProvinceName | None = None  # origin, for distance bands
    timezone: TimeZoneName = "Asia/Shanghai"
    cutoff: ClockTime = time(16, 0)
    ship_by: ClockTime = time(18, 0)
    calendar: Literal["cn", "every-day", "weekdays"] = "cn"
    closed: list[date] = []
    open: list[date] = []

    @model_validator(mode="after")
    def _ship_by_after_cutoff(self) -> WarehouseConfig:
        if self.ship_by < self.cutoff:
            raise ValueError(f"ship_by {self.ship_by:%H:%M} is before cutoff {self.cutoff:%H:%M}")
        return self


class PlatformRule(Strict):
    ship_promise_hours: Hours | None = None
    # Late-shipment compensation, for the estimate in ship_deadline_breached's detail.
    late_ship_penalty_ratio: float | None = Field(default=None, ge=0, le=1)
    late_ship_penalty_min: float | None = Field(default=None, ge=0)
    late_ship_penalty_max: float | None = Field(default=None, ge=0)
    late_ship_penalty_fixed: float | None = Field(default=None, ge=0)
    # Uploading a tracking number the carrier never scans (Pinduoduo: 20 ¥ an order).
    fake_ship_penalty: float | None = Field(default=None, ge=0)


# Taobao/Tmall: 5 % of the price, 5–30 ¥; Pinduoduo: 3 ¥ (docs/rules.md "Compensation amounts").
_TAOBAO_PENALTY = PlatformRule(
    late_ship_penalty_ratio=0.05, late_ship_penalty_min=5, late_ship_penalty_max=30
)


class PlatformsConfig(Strict):
    default_ship_promise_hours: Hours = 48
    taobao: PlatformRule = _TAOBAO_PENALTY
    tmall: PlatformRule = _TAOBAO_PENALTY
    pinduoduo: PlatformRule = PlatformRule(late_ship_penalty_fixed=3, fake_ship_penalty=20)
    jd: PlatformRule = PlatformRule()
    douyin: PlatformRule = PlatformRule()
    kuaishou: PlatformRule = PlatformRule()
    weixin: PlatformRule = PlatformRule()
    other: PlatformRule = PlatformRule()

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        """`pinduoduo = { ship_promise_hours = 24 }` changes the promise and keeps the
        built-in penalties, rather than replacing the whole table."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name in PLATFORMS:
            given = data.get(name)
            default = cls.model_fields[name].default
            if isinstance(given, dict) and isinstance(default, PlatformRule):
                merged[name] = default.model_dump(exclude_none=True) | given
        return merged

    def rule(self, platform: str) -> PlatformRule:
        value = getattr(self, platform, None)
        return value if isinstance(value, PlatformRule) else self.other


def _known_api(value: str) -> str:
    if value not in API_NAMES:
        raise ValueError(f"unknown tracking API {value!r}; use one of {', '.join(API_NAMES)}")
    return value


class CarrierConfig(Strict):
    # A row of the tracking API table (carriers/apis.py).
    adapter: Annotated[str, AfterValidator(_known_api)] = "sim"
    code: str | None = None  # the carrier's code in that API
    base_url: str | None = None
    names: list[str] = []  # further names import files use for this carrier
    # Calls per second to the API for this account (default: the API's documented limit).
    rate_per_second: Annotated[float, Field(gt=0)] | None = None


class StalledHours(Strict):
    picked_up: Hours = 24  # JD: no update > 24 h after pickup
    in_transit: Hours = 48
    out_for_delivery: Hours = 24
    available_for_pickup: Hours = 72


class DelayedHours(Strict):
    """Default transit allowance after pickup by distance band, used until a lane has
    enough history and when the carrier gives no estimate."""

    same_province: Hours = 48
    adjacent: Hours = 72
    cross_region: Hours = 96
    remote: Hours = 168


class IncidentConfig(Strict):
    min_parcels: int = Field(default=20, ge=1)
    min_share: float = Field(default=0.03, gt=0, le=1)
    baseline_factor: float = Field(default=2.0, ge=1)
    baseline_days: int = Field(default=28, ge=1)


class StalledHoursPatch(Strict):
    picked_up: Hours | None = None
    in_transit: Hours | None = None
    out_for_delivery: Hours | None = None
    available_for_pickup: Hours | None = None


class DelayedHoursPatch(Strict):
    same_province: Hours | None = None
    adjacent: Hours | None = None
    cross_region: Hours | None = None
    remote: Hours | None = None


class ThresholdPatch(Strict):
    """The thresholds an override may change; anything left out keeps the wider value."""

    ship_promise_hours: Hours | None = None
    ship_risk_hours: Hours | None = None
    ship_risk_critical_hours: Hours | None = None
    no_pickup_scan_hours: Hours | None = None
    stalled_hours: StalledHoursPatch | None = None
    delayed_hours: DelayedHoursPatch | None = None
    lost_after_days: Annotated[float, Field(gt=0)] | None = None


class RuleOverride(ThresholdPatch):
    carrier: str | None = None
    province: ProvinceName | None = None
    warehouse: str | None = None
    platform: Literal[PLATFORMS] | None = None  # type: ignore[valid-type]

    @field_validator("carrier")
    @classmethod
    def _known_carrier(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = normalize_carrier(value)
        return code or value  # carriers only named in [carriers.*] are checked in Config

    @property
    def scope(self) -> dict[str, str]:
        return {
            k: v
            for k in ("carrier", "province", "warehouse", "platform")
            if (v := getattr(self, k)) is not None
        }


class RulesConfig(Strict):
    ship_risk_hours: Hours = 36
    ship_risk_critical_hours: Hours = 46
    no_pickup_scan_hours: Hours = 24
    stalled_hours: StalledHours = StalledHours()
    delayed_hours: DelayedHours = DelayedHours()
    lost_after_days: Annotated[float, Field(gt=0)] = 7
    # In-transit stall allowance for remote destinations (PDD's remote list; 72 h / 120 h).
    remote_stalled_hours: Hours = 72
    very_remote_stalled_hours: Hours = 120
    remote_provinces: list[ProvinceName] = sorted(DEFAULT_REMOTE)
    very_remote_provinces: list[ProvinceName] = sorted(DEFAULT_VERY_REMOTE)
    incident: IncidentConfig = IncidentConfig()
    carrier_api_failing_minutes: Annotated[float, Field(gt=0)] = 30
    # The `delayed` rule trusts a lane's learned p90 (lane_stats) once the lane has this many
    # deliveries in its window; below that, the distance band's default applies.
    lane_min_deliveries: int = Field(default=20, ge=1)
    override: list[RuleOverride] = []


class AuthToken(Strict):
    name: str = Field(min_length=1)
    role: Literal["viewer", "lead", "admin"] = "viewer"
    token_sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")  # sha256 of the token, hex


class AuthUser(Strict):
    """A person who signs in to the pages. `password_hash` is an Argon2 hash (make one with
    `parcelwatch hash-password`); the password itself never goes in the file."""

    name: str = Field(min_length=1)
    role: Literal["viewer", "lead", "admin"] = "lead"
    password_hash: str = Field(pattern=r"^\$argon2(id|i|d)\$")


class AuthConfig(Strict):
    anonymous_read: bool = False  # let anyone read the queue and the API; writes never
    tokens: list[AuthToken] = []
    users: list[AuthUser] = []
    # Signs the session cookie; every replica needs the same one (from the environment).
    session_secret_env: str = "PARCELWATCH_SESSION_SECRET"
    # Behind a reverse proxy that terminates TLS: believe its X-Forwarded-Proto (for Secure
    # cookies) and X-Forwarded-For (for throttling sign-ins per address). Off by default, as
    # any client can send those headers.
    trust_proxy_headers: bool = False


class DaemonConfig(Strict):
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 30
    subscribe_interval_seconds: Annotated[float, Field(gt=0)] = 60
    detect_interval_seconds: Annotated[float, Field(gt=0)] = 60
    # Detection ticks judge only what is due or changed; the full tick runs as the
    # reconciliation, on its own slower schedule, and judges carrier and hub incidents
    # (docs/architecture.md "Incremental detection"). false: every tick is a full one.
    incremental_detection: bool = True
    reconcile_interval_seconds: Annotated[float, Field(gt=0)] = 3600
    # On PostgreSQL the due work is claimed in batches of this many parcels (and as many
    # orders), each leased for `detect_lease_seconds`: replicas split it, and a replica that
    # dies mid-batch leaves its claim to the others once the lease runs out
    # (docs/architecture.md "Detection across replicas").
    detect_batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    detect_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 120
    deliver_interval_seconds: Annotated[float, Field(gt=0)] = 15
    # How long a claim on parcels to poll, and on notifications to deliver, holds: a replica
    # that dies holding some leaves them to the others once its lease has run out. Longer
    # than the slowest carrier call or sink send (with its retries), or a live replica's
    # work is taken over and done twice.
    poll_lease_seconds: Annotated[float, Field(ge=10, le=3600)] = 300
    deliver_lease_seconds: Annotated[float, Field(ge=10, le=3600)] = 300
    # On SIGTERM: how long the jobs in hand may take to finish before they are cancelled (a
    # cancelled poll or delivery releases what it claimed).
    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=600)] = 30
    # Request bodies over these are refused (413) before they are parsed.
    max_push_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    max_request_bytes: Annotated[int, Field(ge=1024)] = 16 * 1024 * 1024
    # Push bodies are kept as received this long (disputes, `parcelwatch replay`).
    keep_raw_days: Annotated[int, Field(ge=1, le=3650)] = 180
    # Where carriers can reach our /webhooks/<api> (for push subscriptions); unset: poll only.
    public_url: str | None = None


class ScorecardWeights(Strict):
    """Points of the composite score (docs/scorecard.md "Composite score"); they need not sum to
    100, the score is normalised by their total."""

    on_time: float = Field(default=35, ge=0)
    speed: float = Field(default=20, ge=0)
    stall: float = Field(default=15, ge=0)
    loss: float = Field(default=15, ge=0)
    damage: float = Field(default=10, ge=0)
    pickup: float = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> ScorecardWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


class ScorecardConfig(Strict):
    weights: ScorecardWeights = ScorecardWeights()
    # Below this many parcels a carrier x province cell is "insufficient data", not ranked
    # (Retino's 10 deliveries, docs/scorecard.md "Insufficient data").
    min_parcels: int = Field(default=10, ge=1)
    # m in w = n / (n + m): how many deliveries a cell needs before its own transit time
    # counts as much as the carrier's national figure.
    shrink_parcels: float = Field(default=30, ge=0)
    # The zone ISO weeks are cut in; unset: the first warehouse's zone, else Asia/Shanghai.
    timezone: TimeZoneName | None = None


class EscalationStep(Strict):
    after_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)]  # after the alert opened
    to: str = Field(min_length=1)  # a sink group (`group = "..."` in [[sinks]])


class EscalationConfig(Strict):
    """What happens to an alert nobody acknowledges (monitor/daemon/escalation.py)."""

    min_severity: Literal["warning", "critical"] = "critical"
    steps: list[EscalationStep] = []
    # Re-announce to the first audience while open and unacknowledged: first after this
    # many minutes, then each interval doubled up to the cap; 0: never.
    repeat_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 0
    repeat_max_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 240


PENALTY_COLUMNS = ("order_id", "kind", "amount", "charged_at", "platform")
PenaltyKindName = Literal["late_shipment", "fake_shipment", "late_pickup", "other"]


class PenaltiesConfig(Strict):
    """How a platform's penalty export is read (`parcelwatch penalties import`): further
    header names per column, tried before the built-in ones, and further wordings of a charge
    (docs/evidence-and-penalties.md "Penalty exports")."""

    columns: dict[Literal[PENALTY_COLUMNS], list[str]] = {}  # type: ignore[valid-type]
    kinds: dict[str, PenaltyKindName] = {}


class RawPayloadsConfig(Strict):
    """Carrier bodies kept as received; `retention_days` unset keeps `daemon.keep_raw_days`."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class Config(Strict):
    database: DatabaseConfig = DatabaseConfig()
    warehouses: list[WarehouseConfig] = []
    platforms: PlatformsConfig = PlatformsConfig()
    carriers: dict[str, CarrierConfig] = {}
    rules: RulesConfig = RulesConfig()
    auth: AuthConfig = AuthConfig()
    daemon: DaemonConfig = DaemonConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    sinks: SinkList = []  # [[sinks]]: where notifications go (alerts/config.py)
    # [[maintenance]]: carriers' planned stops, which pause stall and lost clocks
    maintenance: list[MaintenanceWindow] = []
    escalation: EscalationConfig = EscalationConfig()
    penalties: PenaltiesConfig = PenaltiesConfig()
    raw_payloads: RawPayloadsConfig = RawPayloadsConfig()

    @property
    def raw_retention(self) -> timedelta:
        days = self.raw_payloads.retention_days or self.daemon.keep_raw_days
        return timedelta(days=days)

    @model_validator(mode="after")
    def _escalation_targets_exist(self) -> Config:
        groups = {s.group for s in self.sinks if s.group}
        for index, step in enumerate(self.escalation.steps):
            if step.to not in groups:
                known = ", ".join(sorted(groups)) or "none: give sinks a `group`"
                raise ValueError(
                    f"escalation.steps[{index}].to: no sink is in group {step.to!r} ({known})"
                )
        return self

    def warehouse(self, warehouse_id: str) -> WarehouseConfig | None:
        return next((w for w in self.warehouses if w.id == warehouse_id), None)

    def carrier_aliases(self) -> dict[str, str]:
        """Extra carrier names from [carriers.<code>] names = [...], keyed like the registry."""
        aliases: dict[str, str] = {}
        for code, carrier in self.carriers.items():
            for name in (code, *carrier.names):
                aliases["".join(name.split()).casefold()] = code
        return aliases


def _describe_location(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part.startswith(("function-", "literal[")) or part in ("str", "float", "int"):
            continue
        else:
            key += f".{part}" if key else part
    return key


def _message(error: Any) -> str:
    msg = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling against `parcelwatch init`)"
    msg = msg.removeprefix("Value error, ")
    if "input" in error and error["type"] not in ("missing",):
        given = error["input"]
        if not isinstance(given, dict | list):
            msg += f" (got {given!r})"
    return msg


def _check_references(config: Config, source: str) -> None:
    """Checks across sections, with the key of the entry at fault."""
    ids = [w.id for w in config.warehouses]
    for index, warehouse_id in enumerate(ids):
        if ids.index(warehouse_id) != index:
            raise ConfigError(
                source, f"warehouses[{index}].id", f"{warehouse_id!r} is defined twice"
            )
    known_carriers = set(CARRIERS) | set(config.carriers)
    for index, rule in enumerate(config.rules.override):
        if rule.carrier is not None and rule.carrier not in known_carriers:
            raise ConfigError(
                source,
                f"rules.override[{index}].carrier",
                f"unknown carrier {rule.carrier!r}; use a code such as "
                f"{', '.join(sorted(CARRIERS)[:6])}, or add [carriers.<code>]",
            )
        if rule.warehouse is not None and ids and rule.warehouse not in ids:
            raise ConfigError(
                source,
                f"rules.override[{index}].warehouse",
                f"unknown warehouse {rule.warehouse!r} (configured: {', '.join(ids)})",
            )


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(source, _describe_location(first["loc"]), _message(first)) from exc
    _check_references(config, source)
    return config


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """The file named (or ./parcelwatch.toml when it exists), then PARCELWATCH_* variables.

    A missing default file is fine (built-in defaults); a missing named file is an error."""
    env = dict(os.environ if env is None else env)
    explicit = path is not None or "PARCELWATCH_CONFIG" in env
    file = Path(path if path is not None else env.get("PARCELWATCH_CONFIG", DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(file), "", f"not valid TOML: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(file), "", f"cannot read: {exc}") from exc
    elif explicit:
        raise ConfigError(str(file), "", "no such file (create one with `parcelwatch init`)")
    if url := env.get("PARCELWATCH_DATABASE_URL"):
        data.setdefault("database", {})["url"] = url
    return parse_config(data, str(file))
