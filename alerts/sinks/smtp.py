"""E-mail over SMTP: smtplib in a worker thread, one message per send (a digest for many).

Plain-text UTF-8 body, subject from the alert ("【严重】疑似丢件 新告警 O1001"). The
Message-ID is derived from the outbox row's idempotency key, so a rare re-send (delivery is
at least once) threads with, and is often folded into, the first copy by mail clients.
SMTP replies 5xx (refused sender or recipients, failed login) are permanent; 4xx replies,
timeouts and connection errors are transient.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from alerts.sinks.base import Notification, Now, Sink, SinkError, utc_now
from alerts.sinks.render import PLAIN, Renderer
from alerts.sinks.settings import EnvName, SinkParts, SinkSettings, SinkType, key_error

BODY_LIMIT = 100_000  # bytes: a digest of a burst stays readable


class EmailSink(Sink):
    type = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = False,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 20.0,
        renderer: Renderer | None = None,
        now: Now = utc_now,
    ) -> None:
        super().__init__(name)
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.timeout = timeout
        self.renderer = renderer or Renderer()
        self.now = now

    @property
    def where(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def message(self, messages: Sequence[Notification]) -> EmailMessage:
        if len(messages) == 1:
            n = messages[0]
            subject = self.renderer.short_title(n)
            body = self.renderer.message(n, PLAIN)
            key = n.idempotency_key
        else:
            subject = self.renderer.digest_title(messages)
            body = self.renderer.digest(messages, PLAIN, BODY_LIMIT)
            key = (
                "digest-"
                + hashlib.sha256(
                    "\n".join(n.idempotency_key for n in messages).encode("utf-8")
                ).hexdigest()[:32]
            )
        mail = EmailMessage()
        mail["Subject"] = subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = format_datetime(self.now())
        domain = self.sender.rpartition("@")[2] or "parcelwatch"
        token = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        mail["Message-ID"] = f"<{token}@{domain}>"
        mail.set_content(body, charset="utf-8")
        return mail

    async def send(self, messages: Sequence[Notification]) -> None:
        await asyncio.to_thread(self._deliver, self.message(messages))

    def _deliver(self, mail: EmailMessage) -> None:
        try:
            smtp: smtplib.SMTP
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail, from_addr=self.sender, to_addrs=self.recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise SinkError(
                f"{self.where}: recipients refused: {_codes(exc.recipients)}", permanent=permanent
            ) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            raise SinkError(
                f"{self.where}: {exc.smtp_code} {text}".strip(), permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkError(f"{self.where}: {type(exc).__name__}: {exc}") from exc


def _codes(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{addr} ({code} {reply.decode('utf-8', 'replace')})"
        for addr, (code, reply) in refused.items()
    )


class EmailSinkConfig(SinkSettings):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    from_: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    starttls: bool = False
    ssl: bool = False  # SMTPS (usually port 465)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 20
    digest_after: Annotated[int, Field(ge=1)] | None = 10

    @model_validator(mode="after")
    def _login_pair(self) -> EmailSinkConfig:
        if (self.username_env is None) != (self.password_env is None):
            missing = "password_env" if self.password_env is None else "username_env"
            raise key_error(self, missing, "give both username_env and password_env, or neither")
        if self.starttls and self.ssl:
            raise key_error(self, "starttls", "use `starttls` (port 587) or `ssl` (465), not both")
        return self


def build(settings: EmailSinkConfig, parts: SinkParts) -> EmailSink:
    return EmailSink(
        parts.name, host=settings.host, port=settings.port, sender=settings.from_,
        recipients=settings.to, starttls=settings.starttls, use_ssl=settings.ssl,
        username=parts.secret("username_env"), password=parts.secret("password_env"),
        timeout=parts.timeout, renderer=parts.renderer, now=parts.now,
    )  # fmt: skip


SINK = SinkType("email", EmailSinkConfig, build)
