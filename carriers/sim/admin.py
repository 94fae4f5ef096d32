"""The simulator's `/_sim/*` admin endpoints: health, ground truth, registering parcels,
statistics, faults on demand, the clock and the 17TRACK webhook address."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from carriers.registry import normalize_carrier
from carriers.sim.model import ParcelPlan
from carriers.sim.params import parse_time, text_or_none
from carriers.sim.state import SimState


class Admin:
    """Test and demo endpoints; never faulted."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "parcels": len(self.state.world)})

    async def truth(self, request: Request) -> Response:
        plan = self.state.world.get(request.path_params["number"])
        if plan is None:
            return JSONResponse({"error": "unknown tracking number"}, 404)
        now = self.state.clock.now()
        return JSONResponse(
            {**plan.to_json(), "now": now.isoformat(), "visible": len(plan.visible(now))}
        )

    async def register(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, 400)
        items = body if isinstance(body, list) else [body]
        now = self.state.clock.now()
        done: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise ValueError("each parcel must be a JSON object")
                plan = self._register_one(item, now)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": f"parcel {i}: {exc}", "registered": done}, 400)
            done.append(_summary(plan))
        return JSONResponse({"registered": done})

    def _register_one(self, item: Mapping[str, Any], now: datetime) -> ParcelPlan:
        number, carrier = text_or_none(item.get("number")), text_or_none(item.get("carrier"))
        if number is None or carrier is None:
            raise ValueError("number and carrier are required")
        code = normalize_carrier(carrier) or carrier
        return self.state.world.register(
            number,
            code,
            text_or_none(item.get("origin")),
            text_or_none(item.get("destination")),
            handed_over_at=parse_time(item.get("handed_over_at"), now),
            phone=text_or_none(item.get("phone")),
        )

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats())

    async def faults(self, request: Request) -> Response:
        injector = self.state.faults
        if request.method == "POST":
            try:
                changes = json.loads(await request.body())
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                self.state.set_faults(injector.faults.updated(changes))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(injector.faults.to_json())

    async def clock(self, request: Request) -> Response:
        clock = self.state.clock
        if request.method == "POST":
            try:
                body = json.loads(await request.body())
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                if "set" in body and hasattr(clock, "set"):
                    clock.set(parse_time(body["set"], clock.now()))
                elif "advance_hours" in body and hasattr(clock, "advance"):
                    clock.advance(hours=float(body["advance_hours"]))
                else:
                    return JSONResponse({"error": "this clock cannot be moved by hand"}, 409)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"now": clock.now().isoformat()})

    async def webhook(self, request: Request) -> Response:
        """The 17TRACK account's webhook URL (set in 17TRACK's dashboard in real life)."""
        if request.method == "POST":
            try:
                body = json.loads(await request.body())
                url = body.get("url") if isinstance(body, dict) else None
            except ValueError:
                url = None
            if url is not None and not (isinstance(url, str) and url.startswith("http")):
                return JSONResponse({"error": "url must be an http(s) URL or null"}, 400)
            self.state.track17_webhook_url = url
        return JSONResponse({"url": self.state.track17_webhook_url})


def _summary(plan: ParcelPlan) -> dict[str, Any]:
    return {
        "number": plan.number,
        "carrier": plan.carrier,
        "band": plan.band,
        "origin": plan.origin,
        "destination": plan.destination,
        "picked_up_at": plan.picked_up_at.isoformat(),
        "expected_delivery": [t.isoformat() for t in plan.expected_delivery],
    }
