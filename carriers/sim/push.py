"""Push callbacks: every `push_interval` real seconds, send what changed.

Kuaidi100 (docs/tracking-apis.md "Kuaidi100 push callback"): a form POST of `param` (JSON: `status`
polling | shutdown | abort, `message`, `lastResult` = the full query body) and `sign` = uppercase
MD5(param + salt) when a salt was given. `shutdown` follows the last scan of a finished parcel
(signed, returned, refused); `abort` comes when a number shows nothing for 3 days (for
SF and ZTO that includes subscriptions made without the phone number, which Kuaidi100
cannot query) or nothing new for 60 days. The receiver must answer 2xx, and not
`{"result": false}`.

17TRACK (docs/tracking-apis.md "17TRACK webhook"): a JSON POST to the account's webhook URL,
`{"event": "TRACKING_UPDATED" | "TRACKING_STOPPED", "data": {number, carrier, param, tag,
track_info}}`, header `sign` = hex SHA-256(body + "/" + key). `TRACKING_STOPPED` follows a finished
parcel's last update, or 30 days without news.

A failed push (non-2xx, timeout, refused connection) is retried on the next round with the
then-current history (both APIs send cumulative histories), at most `max_push_attempts`
times per update; after that the simulator gives up on that update, as Kuaidi100 does
after three failures, and the next update carries everything again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from carriers.sim.model import ParcelPlan, ScanEvent
from carriers.sim.state import KUAIDI100, SimState, Subscription
from carriers.sim.wire import PHONE_REQUIRED, kuaidi100_body, to_bytes, track17_info

log = logging.getLogger(__name__)

NO_RECORD_ABORT = timedelta(days=3)
NO_CHANGE_ABORT = timedelta(days=60)
TRACK17_IDLE_STOP = timedelta(days=30)
CONCURRENCY = 16


def kuaidi100_sign(param: str, salt: str) -> str:
    return hashlib.md5((param + salt).encode()).hexdigest().upper()


def track17_sign(body: bytes, key: str) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


@dataclass
class _Push:
    sub: Subscription
    kind: str  # polling | shutdown | abort | TRACKING_UPDATED | TRACKING_STOPPED
    events: int  # visible events this push carries
    payload: dict[str, Any]


def _due(state: SimState, sub: Subscription) -> _Push | None:
    """The push this subscription needs now, or None."""
    now = state.clock.now()
    plan = state.world.get(sub.number)
    if plan is None or sub.ended:
        return None
    visible = plan.visible(now)
    if sub.api == KUAIDI100:
        return _due_kuaidi100(sub, plan, visible, now)
    if state.track17_webhook_url is None:
        return None
    return _due_track17(state, sub, plan, visible)


def _due_kuaidi100(
    sub: Subscription, plan: ParcelPlan, visible: tuple[ScanEvent, ...], now: datetime
) -> _Push | None:
    com = sub.com or ""
    blind = com in PHONE_REQUIRED and not sub.phone
    if not visible or blind:
        if now - sub.subscribed_at < NO_RECORD_ABORT:
            return None
        payload = {
            "status": "abort",
            "billstatus": "check",
            "message": "3天查询无记录",
            "lastResult": {
                "message": "3天查询无记录",
                "nu": sub.number,
                "ischeck": "0",
                "com": com,
                "status": "200",
                "state": "0",
                "condition": "00",
                "data": [],
            },
        }
        return _Push(sub, "abort", 0, payload)
    n = len(visible)
    if n > sub.acked:
        finished = plan.terminal and n == len(plan.events)
        kind = "shutdown" if finished else "polling"
        body = kuaidi100_body(plan, visible, com, sub.resultv2)
        return _Push(
            sub, kind, n, {"status": kind, "billstatus": "check", "message": "", "lastResult": body}
        )
    if now - visible[-1].time >= NO_CHANGE_ABORT:
        body = kuaidi100_body(plan, visible, com, sub.resultv2)
        return _Push(
            sub,
            "abort",
            n,
            {"status": "abort", "billstatus": "check", "message": "60天无变化", "lastResult": body},
        )
    return None


def _due_track17(
    state: SimState, sub: Subscription, plan: ParcelPlan, visible: tuple[ScanEvent, ...]
) -> _Push | None:
    now = state.clock.now()
    n = len(visible)
    key = sub.carrier_key or 0
    kind: str | None = None
    if n > sub.acked:
        kind = "TRACKING_UPDATED"
    elif n and plan.terminal and n == len(plan.events):
        kind = "TRACKING_STOPPED"  # the update with the last scan went through
    elif n and now - visible[-1].time >= TRACK17_IDLE_STOP:
        kind = "TRACKING_STOPPED"
    if kind is None:
        return None
    data = {
        "number": sub.number,
        "carrier": key,
        "param": None,
        "tag": sub.tag,
        "track_info": track17_info(plan, visible, now, key),
    }
    return _Push(sub, kind, n, {"event": kind, "data": data})


def _perturb_events(state: SimState, push: _Push) -> bool:
    """Apply duplicate / swapped-event faults to the push payload in place; returns True
    when the older-push-re-sent fault should follow this push."""
    faults = state.faults
    if push.sub.api == KUAIDI100:
        items = push.payload["lastResult"].get("data", [])
    else:
        info = push.payload["data"]["track_info"]
        items = info["tracking"]["providers"][0]["events"]
    if items and faults.roll("duplicate"):
        i = faults.choice(len(items))
        items.insert(i, dict(items[i]))
    resend_old = False
    if faults.roll("out_of_order"):
        if len(items) >= 2 and faults.choice(2) == 0:
            i = faults.choice(len(items) - 1)
            items[i], items[i + 1] = items[i + 1], items[i]
        else:
            resend_old = push.sub.last_body is not None
    return resend_old


def _encode(state: SimState, push: _Push) -> tuple[dict[str, Any], Any]:
    """httpx keyword arguments for the push, with malformed / bad-signature faults."""
    faults = state.faults
    sub = push.sub
    if sub.api == KUAIDI100:
        param = json.dumps(push.payload, ensure_ascii=False)
        if faults.roll("malformed"):
            param = param[: len(param) // 2]
        form = {"param": param}
        if sub.salt:
            form["sign"] = kuaidi100_sign(param, sub.salt)
        if faults.roll("bad_signature"):
            form["sign"] = kuaidi100_sign(param, (sub.salt or "") + "-wrong")
        return {"data": form}, form
    body = to_bytes(push.payload)
    if faults.roll("malformed"):
        body = body[: len(body) // 2]
    sign = track17_sign(body, state.track17_key)
    if faults.roll("bad_signature"):
        sign = track17_sign(body, state.track17_key + "-wrong")
    headers = {"content-type": "application/json", "sign": sign}
    return {"content": body, "headers": headers}, (body, headers)


def _accepted(response: httpx.Response) -> bool:
    if not response.is_success:
        return False
    try:
        answer = response.json()
    except ValueError:
        return True
    return not (isinstance(answer, dict) and answer.get("result") is False)


async def _send(client: httpx.AsyncClient, url: str, kwargs: dict[str, Any]) -> bool:
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        log.info("push to %s failed: %s", url, exc)
        return False
    return _accepted(response)


async def _deliver(state: SimState, client: httpx.AsyncClient, push: _Push) -> None:
    sub = push.sub
    url = sub.callback_url if sub.api == KUAIDI100 else state.track17_webhook_url
    if not url:
        return
    update = (push.kind, push.events)
    if sub.pending != update:
        sub.pending, sub.attempts = update, 0
    if sub.attempts >= state.max_push_attempts:
        _settle(state, push, delivered=False)
        return
    resend_old = _perturb_events(state, push)
    kwargs, sent = _encode(state, push)
    sub.attempts += 1
    ok = await _send(client, url, kwargs)
    with state.lock:
        state.pushes[f"{sub.api}:{'sent' if ok else 'failed'}"] += 1
    if not ok:
        if sub.attempts >= state.max_push_attempts:
            _settle(state, push, delivered=False)
        return
    old = sub.last_body
    _settle(state, push, delivered=True)
    sub.last_body = sent
    if resend_old and old is not None:  # an older push arriving after a newer one
        if sub.api == KUAIDI100:
            old_kwargs: dict[str, Any] = {"data": old}
        else:
            old_kwargs = {"content": old[0], "headers": old[1]}
        await _send(client, url, old_kwargs)
        with state.lock:
            state.pushes[f"{sub.api}:resent_old"] += 1


def _settle(state: SimState, push: _Push, *, delivered: bool) -> None:
    """The update is done with: delivered, or given up after too many failures."""
    sub = push.sub
    sub.acked = max(sub.acked, push.events)
    sub.pending, sub.attempts = None, 0
    if push.kind in {"shutdown", "abort", "TRACKING_STOPPED"}:
        sub.ended, sub.ended_at = True, state.clock.now()
    if not delivered:
        with state.lock:
            state.pushes[f"{sub.api}:gave_up"] += 1


async def push_round(state: SimState, client: httpx.AsyncClient) -> int:
    """One round over every subscription; returns how many pushes were attempted. Rounds
    never overlap (the loop and `POST /_sim/push` share a lock)."""
    async with state.push_lock:
        return await _round(state, client)


async def _round(state: SimState, client: httpx.AsyncClient) -> int:
    with state.lock:
        subs = list(state.subscriptions.values())
    due = [p for p in (_due(state, s) for s in subs) if p is not None]
    if not due:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(push: _Push) -> None:
        async with gate:
            await _deliver(state, client, push)

    await asyncio.gather(*(one(p) for p in due))
    return len(due)


async def push_loop(state: SimState, client: httpx.AsyncClient) -> None:
    """Runs until cancelled; a crashing round is logged and the loop goes on."""
    while True:
        try:
            await push_round(state, client)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("push round failed")
        await asyncio.sleep(state.push_interval)
