"""What the carrier adapter tests share: recorded bodies from tests/fixtures/carriers, canned
answers over `httpx.MockTransport`, and clients for adapters that only parse pushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from tests.support.paths import CARRIER_FIXTURES

A = TypeVar("A")
T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    """A recorded body, parsed."""
    return json.loads((CARRIER_FIXTURES / name).read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    """A recorded body as sent (signatures are over these bytes)."""
    return (CARRIER_FIXTURES / name).read_bytes()


def answer(body: Any, status: int = 200, **headers: str) -> Handler:
    """A carrier that answers every request with `body` as JSON."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handler


def run_adapter(
    handler: Handler,
    make: Callable[[httpx.AsyncClient], A],
    action: Callable[[A], Awaitable[T]],
) -> T:
    """Run `action` on an adapter whose requests `handler` answers."""

    async def main() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await action(make(client))

    return asyncio.run(main())


@contextmanager
def offline_clients() -> Iterator[Callable[[], httpx.AsyncClient]]:
    """Clients for adapters that only parse pushes (a request, if one slipped out, gets a
    500); every client handed out is closed afterwards."""
    clients: list[httpx.AsyncClient] = []

    def new_client() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
        clients.append(client)
        return client

    try:
        yield new_client
    finally:
        for client in clients:
            asyncio.run(client.aclose())
