"""What every sink's config has (`SinkSettings`: name, filters, pace), the two ways a sink
gets its URL, and what a sink type declares (`SinkType`: its `type`, config model and how to
build it). Each sink module defines its own config model and `SINK` row on these; the table of
sink types is alerts/sinks/table.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.model import SEVERITY_RANK, AlertKind
from alerts.sinks.base import Now, Sink
from alerts.sinks.render import Renderer

KINDS = tuple(k.value for k in AlertKind)
# Config event names -> outbox events. `exception_opened` is the customer-care name for an
# alert opening; `shipped` and `delivered` are parcel lifecycle events (webhooks only).
OUTBOX_EVENTS = {
    "opened": "opened",
    "exception_opened": "opened",
    "escalated": "escalated",
    "resolved": "resolved",
    "shipped": "parcel_shipped",
    "delivered": "parcel_delivered",
    "scorecard": "scorecard_weekly",
}
PARCEL_EVENT_NAMES = frozenset({"shipped", "delivered"})
# Escalation (monitor/daemon/escalation.py): `paged` goes to the sinks of the group a step
# names, whatever their `events`; `reminder` re-announces an alert still open and not
# acknowledged to the sinks that took its opening.
PAGED, REMINDER = "paged", "reminder"
EventName = Literal[
    "opened", "exception_opened", "escalated", "resolved", "shipped", "delivered", "scorecard"
]
AGGREGATE_KINDS = [
    AlertKind.CARRIER_INCIDENT.value,
    AlertKind.HUB_INCIDENT.value,
    AlertKind.CARRIER_API_FAILING.value,
]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            "expected the NAME of an environment variable (letters, digits, _), not its value"
        )
    return value


def _known_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"unknown alert kind {value!r}; use one of {', '.join(KINDS)}")
    return value


def check_timezone(value: str) -> str:
    """An IANA zone name (a sink's digest times are shown in its zone)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from None
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
KindName = Annotated[str, AfterValidator(_known_kind)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


def key_error(model: BaseModel, key: str, reason: str) -> ValidationError:
    """A validation error located at `key` of this sink (so the message names
    `sinks[0].<key>`), from a check that spans several fields."""
    return ValidationError.from_exception_data(
        type(model).__name__,
        [
            {
                "type": PydanticCustomError("sink_config", "{reason}", {"reason": reason}),
                "loc": (key,),
                # A mapping, so that the message does not echo a value (which may be a key).
                "input": {"type": getattr(model, "type", None)},
            }
        ],
    )


class SinkSettings(BaseModel):
    """What every sink has: its name, its filters, its pace."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    name: str = Field(default="", max_length=64)
    kinds: list[KindName] | None = None  # None: every kind
    min_severity: Literal["warning", "critical"] = "warning"
    events: list[EventName] = ["opened", "escalated"]
    rate_per_minute: Annotated[float, Field(gt=0)] | None = None
    digest_after: Annotated[int, Field(ge=1)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    # The escalation group this sink belongs to (`[[escalation.steps]] to = "<group>"`);
    # unset: the first audience, which gets openings and reminders.
    group: str | None = Field(default=None, min_length=1, max_length=64)
    timezone: Annotated[str, AfterValidator(check_timezone)] = (
        "Asia/Shanghai"  # for the times shown
    )

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("type"), str):
            return {**data, "name": data["type"]}
        return data

    @model_validator(mode="after")
    def _parcel_events_for_webhooks(self) -> SinkSettings:
        parcel = PARCEL_EVENT_NAMES.intersection(self.events)
        if parcel and self.type != "webhook":
            raise key_error(
                self,
                "events",
                f"{', '.join(sorted(parcel))}: parcel events go to webhooks only "
                "(a CRM or SMS tool messages the buyer); chat and paging sinks take alert events",
            )
        return self

    def outbox_events(self) -> frozenset[str]:
        return frozenset(OUTBOX_EVENTS[e] for e in self.events)

    def accepts(
        self, event: str, kind: str | None, severity: str | None, group: str | None = None
    ) -> bool:
        """Whether a notification goes to this sink."""
        if event == PAGED:
            return group is not None and group == self.group
        if event == REMINDER:
            return self.group is None and self.accepts("opened", kind, severity)
        if self.group is not None and "events" not in self.model_fields_set:
            return False  # an escalation target hears only its pages, unless told otherwise
        if event not in self.outbox_events():
            return False
        if event.startswith(("parcel_", "scorecard_")):
            return True  # kinds and severity describe alerts
        if self.kinds is not None and kind not in self.kinds:
            return False
        ranks = {s.value: rank for s, rank in SEVERITY_RANK.items()}
        return ranks.get(severity or "", 0) >= ranks[self.min_severity]


class _UrlInFileOrEnv(SinkSettings):
    """Endpoints that are not secrets by themselves (a webhook signed with a secret, an
    Alertmanager): `url` in the file or `url_env`."""

    url: HttpUrl | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_url(self) -> _UrlInFileOrEnv:
        if self.url is None and self.url_env is None:
            raise key_error(self, "url_env", "give the endpoint as `url` or `url_env`")
        if self.url is not None and self.url_env is not None:
            raise key_error(self, "url_env", "give `url` or `url_env`, not both")
        return self


class _RobotUrl(SinkSettings):
    """Robot and incoming-webhook URLs carry their key: from the environment only."""

    url_env: EnvName
    url: str | None = None

    @model_validator(mode="after")
    def _not_in_file(self) -> _RobotUrl:
        if self.url is not None:
            raise key_error(
                self,
                "url",
                "this URL holds the robot's key, so it is never written in the file: put it "
                "in an environment variable and name that variable in `url_env`",
            )
        return self


@dataclass(frozen=True)
class SinkParts:
    """What building a sink needs beyond its settings, resolved by alerts/sinks/routing.py:
    the URL and secrets from the environment (a missing one is an error naming its key)."""

    name: str
    client: httpx.AsyncClient
    renderer: Renderer
    timeout: float
    now: Now
    url: Callable[[], str]
    secret: Callable[[str], str | None]


@dataclass(frozen=True)
class SinkType:
    """A row of the sink table: `type = "<name>"` in `[[sinks]]`."""

    name: str
    config: type[SinkSettings]
    build: Callable[[Any, SinkParts], Sink]
