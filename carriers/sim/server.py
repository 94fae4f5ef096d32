"""The simulator's HTTP face: Kuaidi100 and 17TRACK v2.2 wire formats, pushes, faults and
admin endpoints, as one Starlette app.

Kuaidi100 (docs/tracking-apis.md "Kuaidi100"):
  POST /poll/query.do    form customer, sign = uppercase MD5(param + key + customer), param
                         JSON {com, num, phone, resultv2}. Errors as {"result": false,
                         "returnCode", "message"}: 400 bad request / unknown company / wrong
                         customer, 408 phone missing or wrong (SF, ZTO), 500 no result yet
                         (unknown number, nothing scanned, another company's number), 503
                         bad signature.
  POST /poll             subscribe: form schema=json, param JSON {company, number, from, to,
                         key, parameters{callbackurl, salt, resultv2, phone}}; returnCode 200,
                         501 duplicate, 600 bad key, 700 bad data, 702 unknown company.
17TRACK (docs/tracking-apis.md "17TRACK"): POST /track/v2.2/register and /gettrackinfo (v2.4 too),
header `17token`, a
  JSON array of at most 40 {number, carrier}; envelope {"code": 0, "data": {"accepted",
  "rejected"}}, HTTP 200 except 429 past 3 requests per second.
Admin: GET /healthz, GET /_sim/truth/{number}, POST /_sim/register, GET /_sim/stats,
  GET|POST /_sim/faults, GET|POST /_sim/clock, POST /_sim/push, POST /_sim/webhook.

Faults (`Faults`) apply to the Kuaidi100 and 17TRACK endpoints and to pushes, never to the
admin endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carriers.sim.admin import Admin
from carriers.sim.clock import SimClock
from carriers.sim.faults import FaultInjector, Faults
from carriers.sim.model import SimWorld
from carriers.sim.params import text_or_none
from carriers.sim.push import push_loop, push_round
from carriers.sim.state import KUAIDI100, TRACK17, SimState, Subscription, TokenBucket
from carriers.sim.wire import (
    KUAIDI100_COMPANIES,
    PHONE_REQUIRED,
    TRACK17_CARRIERS,
    TRACK17_KEYS,
    kuaidi100_body,
    kuaidi100_error,
    to_bytes,
    track17_error,
    track17_info,
)

Handler = Callable[[Request], Awaitable[Response]]
TRACK17_BATCH = 40
# 17TRACK codes: -18010002, -18019902 and -18010012 are seen in real answers (docs/tracking-apis.md
# "17TRACK endpoints and auth"); the other two are the simulator's own for cases the reference does
# not cover.
T17_INVALID_KEY = -18010002
T17_NOT_REGISTERED = -18019902
T17_ALREADY_REGISTERED = -18010012
T17_BAD_REQUEST = -18010001
T17_INVALID_NUMBER = -18019901
RESUBSCRIBE_AFTER_SECONDS = 1800  # Kuaidi100: re-subscribe 30 min after abort/shutdown


def create_app(
    world: SimWorld,
    clock: SimClock,
    *,
    kuaidi100_customer: str,
    kuaidi100_key: str,
    track17_key: str,
    faults: Faults | None = None,
    track17_webhook_url: str | None = None,
    push_interval: float = 5.0,
    push_timeout: float = 5.0,
    max_push_attempts: int = 3,
    track17_rate: float = 3.0,
    track17_burst: float = 3.0,
    pushes: bool = True,
) -> Starlette:
    """The simulator app. `pushes=False` leaves the background pusher off (rounds can still
    be run with `POST /_sim/push`). The state is at `app.state.sim` (a `SimState`)."""
    state = SimState(
        world=world,
        clock=clock,
        kuaidi100_customer=kuaidi100_customer,
        kuaidi100_key=kuaidi100_key,
        track17_key=track17_key,
        faults=FaultInjector(faults or Faults()),
        track17_bucket=TokenBucket(track17_rate, track17_burst),
        track17_webhook_url=track17_webhook_url,
        push_interval=push_interval,
        push_timeout=push_timeout,
        max_push_attempts=max_push_attempts,
    )
    client_box: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=state.push_timeout) as client:
            client_box["client"] = client
            task = asyncio.create_task(push_loop(state, client)) if pushes else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                client_box.clear()

    async def push_now(request: Request) -> Response:
        client = client_box.get("client")
        if client is None:
            return JSONResponse({"error": "the app is not running its lifespan"}, 503)
        return JSONResponse({"pushes": await push_round(state, client)})

    api = _Api(state)
    admin = Admin(state)
    routes = [
        Route("/poll/query.do", api.faulty("kuaidi100.query", api.query), methods=["POST"]),
        Route("/poll", api.faulty("kuaidi100.subscribe", api.subscribe), methods=["POST"]),
        Route(
            "/track/{version}/register",
            api.faulty("17track.register", api.register),
            methods=["POST"],
        ),
        Route(
            "/track/{version}/gettrackinfo",
            api.faulty("17track.gettrackinfo", api.gettrackinfo),
            methods=["POST"],
        ),
        Route("/healthz", admin.healthz),
        Route("/_sim/truth/{number}", admin.truth),
        Route("/_sim/register", admin.register, methods=["POST"]),
        Route("/_sim/stats", admin.stats),
        Route("/_sim/faults", admin.faults, methods=["GET", "POST"]),
        Route("/_sim/clock", admin.clock, methods=["GET", "POST"]),
        Route("/_sim/webhook", admin.webhook, methods=["GET", "POST"]),
        Route("/_sim/push", push_now, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = state
    return app


def _json(payload: object, status: int = 200, *, malformed: bool = False) -> Response:
    body = to_bytes(payload)
    if malformed:
        body = body[: max(1, len(body) // 2)]
    return Response(body, status, media_type="application/json;charset=UTF-8")


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


class _Api:
    """The Kuaidi100 and 17TRACK endpoints."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def faulty(self, name: str, handler: Handler) -> Handler:
        """Counts the request and injects 429 / 5xx / slow answers before the handler."""
        state = self.state

        async def wrapped(request: Request) -> Response:
            with state.lock:
                state.requests[name] += 1
            faults = state.faults
            if faults.roll("429"):
                response: Response = Response("Too Many Requests", 429, {"Retry-After": "1"})
            elif faults.roll("5xx"):
                status = (500, 502, 503)[faults.choice(3)]
                response = Response("Internal Server Error", status, media_type="text/plain")
            else:
                if faults.roll("slow"):
                    await asyncio.sleep(faults.faults.slow_seconds)
                response = await handler(request)
            with state.lock:
                state.responses[f"{name}:{response.status_code}"] += 1
            return response

        return wrapped

    def _perturb(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        faults = self.state.faults
        if items and faults.roll("duplicate"):
            i = faults.choice(len(items))
            items.insert(i, dict(items[i]))
        if len(items) >= 2 and faults.roll("out_of_order"):
            i = faults.choice(len(items) - 1)
            items[i], items[i + 1] = items[i + 1], items[i]
        return items

    def _answer(self, payload: object) -> Response:
        return _json(payload, malformed=self.state.faults.roll("malformed"))

    # --- Kuaidi100 ---------------------------------------------------------------------

    async def query(self, request: Request) -> Response:
        state = self.state
        form = await request.form()
        customer, sign, raw = (form.get(k) for k in ("customer", "sign", "param"))
        if not isinstance(customer, str) or not isinstance(sign, str) or not isinstance(raw, str):
            return self._answer(
                kuaidi100_error("400", "提交的数据不完整：需要 customer、sign、param")
            )
        if customer != state.kuaidi100_customer:
            return self._answer(kuaidi100_error("400", "找不到对应公司：customer 不正确"))
        if sign != _md5_upper(raw + state.kuaidi100_key + customer):
            return self._answer(kuaidi100_error("503", "验证签名失败"))
        try:
            param = json.loads(raw)
        except ValueError:
            return self._answer(kuaidi100_error("400", "param 不是合法的 JSON"))
        if not isinstance(param, dict):
            return self._answer(kuaidi100_error("400", "param 不是合法的 JSON 对象"))
        com = str(param.get("com") or "").strip().lower()
        number = str(param.get("num") or "").strip()
        if com not in KUAIDI100_COMPANIES:
            return self._answer(kuaidi100_error("400", "找不到对应公司"))
        if not 6 <= len(number) <= 32:
            return self._answer(kuaidi100_error("400", "单号长度不正确（6-32位）"))
        phone = str(param.get("phone") or "").strip()
        plan = state.world.get(number)
        if com in PHONE_REQUIRED:
            known = state.world.phone(number)
            if not phone or (known and known[-4:] != phone[-4:]):
                return self._answer(
                    kuaidi100_error("408", "验证码错误：该快递公司需要收、寄件人的电话号码")
                )
        if plan is None or KUAIDI100_COMPANIES[com] != plan.carrier:
            return self._answer(kuaidi100_error("500", "查询无结果，请隔段时间再查"))
        visible = plan.visible(state.clock.now())
        if not visible:
            return self._answer(kuaidi100_error("500", "查询无结果，请隔段时间再查"))
        resultv2 = str(param.get("resultv2") or "")
        return self._answer(kuaidi100_body(plan, visible, com, resultv2, self._perturb))

    async def subscribe(self, request: Request) -> Response:
        state = self.state
        form = await request.form()
        raw = form.get("param")
        if form.get("schema", "json") != "json" or not isinstance(raw, str):
            return self._answer(
                kuaidi100_error("700", "订阅的数据不合法：需要 schema=json 与 param")
            )
        try:
            param = json.loads(raw)
        except ValueError:
            return self._answer(kuaidi100_error("700", "订阅的数据不合法：param 不是 JSON"))
        if not isinstance(param, dict):
            return self._answer(kuaidi100_error("700", "订阅的数据不合法"))
        if param.get("key") != state.kuaidi100_key:
            return self._answer(kuaidi100_error("600", "您不是合法的订阅者（即授权Key出错）"))
        com = str(param.get("company") or "").strip().lower()
        number = str(param.get("number") or "").strip()
        options = param.get("parameters") or {}
        if not isinstance(options, dict):
            options = {}
        callback = str(options.get("callbackurl") or "")
        if com not in KUAIDI100_COMPANIES:
            return self._answer(kuaidi100_error("702", "POLL:识别不到该单号对应的快递公司"))
        if not 6 <= len(number) <= 32 or not callback.startswith(("http://", "https://")):
            return self._answer(kuaidi100_error("700", "订阅的数据不合法：单号或回调地址不正确"))
        now = state.clock.now()
        key = (KUAIDI100, number)
        with state.lock:
            old = state.subscriptions.get(key)
            if old is not None and not (
                old.ended
                and old.ended_at is not None
                and (now - old.ended_at).total_seconds() >= RESUBSCRIBE_AFTER_SECONDS
            ):
                return self._answer(kuaidi100_error("501", "POLL:重复订阅"))
        phone = str(options.get("phone") or "").strip() or None
        try:
            state.world.register(
                number,
                KUAIDI100_COMPANIES[com],
                text_or_none(param.get("from")),
                text_or_none(param.get("to")),
                handed_over_at=now,
                phone=phone,
            )
        except ValueError as exc:
            return self._answer(kuaidi100_error("700", f"订阅的数据不合法：{exc}"))
        salt = text_or_none(options.get("salt"))
        sub = Subscription(
            KUAIDI100,
            number,
            now,
            com=com,
            callback_url=callback,
            salt=salt,
            resultv2=text_or_none(options.get("resultv2")),
            phone=phone,
        )
        with state.lock:
            state.subscriptions[key] = sub
        return self._answer({"result": True, "returnCode": "200", "message": "提交成功"})

    # --- 17TRACK -----------------------------------------------------------------------

    async def _track17_items(self, request: Request) -> list[dict[str, Any]] | Response:
        state = self.state
        if request.path_params.get("version") not in {"v2.2", "v2.4"}:
            return Response("Not Found", 404)
        if not state.track17_bucket.take():
            return Response("Too Many Requests", 429, {"Retry-After": "1"})
        if request.headers.get("17token") != state.track17_key:
            return self._answer(track17_error(T17_INVALID_KEY, "The security key is invalid."))
        try:
            items = json.loads(await request.body())
        except ValueError:
            return self._answer(track17_error(T17_BAD_REQUEST, "The request body is not JSON."))
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return self._answer(track17_error(T17_BAD_REQUEST, "The body must be a JSON array."))
        if len(items) > TRACK17_BATCH:
            message = f"At most {TRACK17_BATCH} numbers per request, got {len(items)}."
            return self._answer(track17_error(T17_BAD_REQUEST, message))
        return items

    def _carrier_for(self, number: str, key: object) -> tuple[str, int]:
        """The courier of a number and the 17TRACK key to report: the key the client sent
        (whatever table it uses), the registered parcel's courier first."""
        plan = self.state.world.get(number)
        sent = key if isinstance(key, int) and not isinstance(key, bool) else None
        if plan is not None:
            return plan.carrier, sent or TRACK17_KEYS.get(plan.carrier, 0)
        code = TRACK17_CARRIERS.get(sent) if sent is not None else None
        code = code or _carrier_by_prefix(self.state.world, number)
        return code, sent or TRACK17_KEYS.get(code, 0)

    async def register(self, request: Request) -> Response:
        state = self.state
        items = await self._track17_items(request)
        if isinstance(items, Response):
            return items
        now = state.clock.now()
        accepted, rejected = [], []
        for item in items:
            number = str(item.get("number") or "").strip()
            tag = text_or_none(item.get("tag"))
            if not 5 <= len(number) <= 50:
                rejected.append(
                    _rejected(number, tag, T17_INVALID_NUMBER, "The tracking number is invalid.")
                )
                continue
            with state.lock:
                exists = (TRACK17, number) in state.subscriptions
            if exists:
                rejected.append(
                    _rejected(
                        number,
                        tag,
                        T17_ALREADY_REGISTERED,
                        f"The tracking number '{number}' is already registered.",
                    )
                )
                continue
            code, key = self._carrier_for(number, item.get("carrier"))
            state.world.register(number, code, handed_over_at=now)
            sub = Subscription(TRACK17, number, now, carrier_key=key, tag=tag)
            with state.lock:
                state.subscriptions[(TRACK17, number)] = sub
            accepted.append({"origin": 1, "number": number, "carrier": key, "tag": tag})
        return self._answer({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    async def gettrackinfo(self, request: Request) -> Response:
        state = self.state
        items = await self._track17_items(request)
        if isinstance(items, Response):
            return items
        now = state.clock.now()
        accepted, rejected = [], []
        for item in items:
            number = str(item.get("number") or "").strip()
            with state.lock:
                sub = state.subscriptions.get((TRACK17, number))
            plan = state.world.get(number)
            if sub is None or plan is None:
                message = (
                    f"The tracking number '{number}' does not register, please register first."
                )
                rejected.append(_rejected(number, None, T17_NOT_REGISTERED, message))
                continue
            key = sub.carrier_key or 0
            info = track17_info(plan, plan.visible(now), now, key, self._perturb)
            accepted.append(
                {
                    "number": number,
                    "carrier": key,
                    "param": None,
                    "tag": sub.tag,
                    "track_info": info,
                }
            )
        return self._answer({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})


def _rejected(number: str, tag: str | None, code: int, message: str) -> dict[str, Any]:
    return {"number": number, "tag": tag, "error": {"code": code, "message": message}}


def _carrier_by_prefix(world: SimWorld, number: str) -> str:
    """A courier guessed from the number's prefix, the way 17TRACK auto-detects one."""
    upper = number.upper()
    best = ("zto", 0)
    for profile in world.profiles.values():
        for prefix in profile.number_prefixes:
            if upper.startswith(prefix) and len(prefix) > best[1]:
                best = (profile.code, len(prefix))
    return best[0]


def new_credentials(seed: int | None = None) -> tuple[str, str, str]:
    """Random (customer, key, 17token) for a demo run that does not bring its own."""
    rng = random.Random(seed)
    return (
        "SIM" + "".join(rng.choices("0123456789ABCDEF", k=13)),
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=16)),
        "".join(rng.choices("0123456789ABCDEF", k=32)),
    )
