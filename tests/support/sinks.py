"""Receivers for the sink and outbox tests, and one notification to send.

`MockReceiver` answers over `httpx.MockTransport` (no socket): how sinks build requests and
classify answers. `Receiver` is a real HTTP server on loopback, for what needs one: timeouts,
refused connections, and the outbox's crash tests. `SmtpReceiver` is enough SMTP for
smtplib, on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from alerts.sinks import Notification, SinkError
from alerts.sinks.render import Renderer

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PUBLIC = "https://pw.example.com"


# -- what a receiver saw, and what it answers -------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]  # httpx.Headers from MockReceiver: names in any case
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.raw_query, keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Reply = tuple[int, bytes | str | dict[str, Any] | list[Any], dict[str, str]]


def encode(body: bytes | str | dict[str, Any] | list[Any]) -> bytes:
    """A reply's body as sent: bytes as they are, text as UTF-8, anything else as JSON."""
    return (
        body if isinstance(body, bytes)
        else body.encode() if isinstance(body, str)
        else json.dumps(body).encode()
    )  # fmt: skip


class MockReceiver:
    """`Receiver`'s answers without a socket: an `httpx.MockTransport` hands each request to
    `reply(seen)` and keeps it in `seen`. Give `transport` to `run`, `send` or `send_error`:
    the sink gets an `httpx.AsyncClient` on it."""

    url = "http://receiver.test"

    def __init__(self, reply: Callable[[Seen], Reply] | None = None) -> None:
        self.reply = reply or (lambda seen: (200, {}, {}))
        self.seen: list[Seen] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(request.method, request.url.path, request.url.query.decode("ascii"),
                    httpx.Headers(request.headers), request.content)  # fmt: skip
        self.seen.append(seen)
        status, body, headers = self.reply(seen)
        return httpx.Response(status, content=encode(body), headers=headers)

    def __enter__(self) -> MockReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests


class Receiver:
    """A real HTTP server on 127.0.0.1, in a thread. `reply(seen)` decides the answer
    (default: 200 with an empty JSON object); every request is kept in `seen`."""

    def __init__(self, reply: Callable[[Seen], Reply] | None = None) -> None:
        self.reply = reply or (lambda seen: (200, {}, {}))
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                seen = Seen("POST", parts.path, parts.query, dict(self.headers.items()),
                            self.rfile.read(length))  # fmt: skip
                with receiver.lock:
                    receiver.seen.append(seen)
                status, body, headers = receiver.reply(seen)
                data = encode(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class SmtpReceiver:
    """Enough SMTP for smtplib (EHLO, MAIL, RCPT, DATA, QUIT) on 127.0.0.1, in a thread.
    `rcpt_reply` is what RCPT TO gets (e.g. "550 5.1.1 no such user")."""

    rcpt_reply: str = "250 OK"
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 loopback ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    command = line.decode("utf-8", "replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250-loopback")
                        say("250 8BITMIME")
                    elif verb == "MAIL":
                        sender = command.split(":", 1)[1].strip().strip("<>")
                        say("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                        say(receiver.rcpt_reply)
                    elif verb == "DATA":
                        say("354 end with <CRLF>.<CRLF>")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        mail = message_from_bytes(data, policy=policy.default)
                        receiver.messages.append(mail)  # type: ignore[arg-type]
                        receiver.envelopes.append((sender, recipients))
                        say("250 OK queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    elif verb == "RSET":
                        say("250 OK")
                    else:
                        say("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> SmtpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- what the tests send ---------------------------------------------------------------------


def notification(event: str = "opened", **payload: Any) -> Notification:
    base: dict[str, Any] = {
        "kind": "no_pickup_scan",
        "severity": "critical",
        "state": "open",
        "order_id": "O1001",
        "tracking_number": "ZT7300001",
        "carrier": "zto",
        "warehouse": "hz1",
        "province": "新疆",
        "platform": "pinduoduo",
        "detail": {"threshold_hours": 24},
        "alert_id": 17,
        "event": event,
        "since": (NOW - timedelta(hours=26)).isoformat(),
    }
    base.update(payload)
    return Notification(
        event=event,
        idempotency_key=f"alert-{base['alert_id']}-{event}-1",
        created_at=NOW,
        payload=base,
        outbox_id=1,
    )


def run(
    coro_factory: Callable[[httpx.AsyncClient], Any],
    transport: httpx.AsyncBaseTransport | None = None,
) -> Any:
    """Await `coro_factory(client)` with a client of its own: over `transport` if given (a
    `MockReceiver`'s), else over real sockets."""

    async def main() -> Any:
        async with httpx.AsyncClient(transport=transport) as client:
            return await coro_factory(client)

    return asyncio.run(main())


def send(
    sink_factory: Callable[[httpx.AsyncClient], Any],
    messages: Sequence[Notification],
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        await sink_factory(client).send(messages)

    run(go, transport)


def send_error(
    sink_factory: Callable[[httpx.AsyncClient], Any],
    n: Notification,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SinkError:
    with pytest.raises(SinkError) as caught:
        send(sink_factory, [n], transport)
    return caught.value


RENDERER = Renderer(PUBLIC)
