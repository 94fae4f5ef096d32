"""The daemon's HTTP API and operations endpoints (monitor/web/api.py, monitor/web/ops.py):
health, readiness, /metrics, tokens and roles, shipments and alert actions."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor.clock import FixedClock
from monitor.daemon.tick import run_tick
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from tests.support.config import make_config
from tests.support.tracking import at, seed


def test_health_readiness_api_and_auth(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    token = "lead-token-123"
    config = make_config(
        auth={"tokens": [{"name": "小王", "role": "lead", "token_sha256": hash_token(token)},
                         {"name": "viewer", "role": "viewer",
                          "token_sha256": hash_token("view-only")}]},
    )  # fmt: skip
    ctx = AppContext(engine, config, clock)
    lead = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ctx)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/readyz").status_code == 503  # no scheduler in this test
        ctx.scheduler_running = True
        assert client.get("/readyz").status_code == 200
        assert "parcelwatch_tracking_events_ingested_total" in client.get("/metrics").text
        assert client.get("/openapi.json").json()["info"]["title"] == "parcelwatch"

        assert client.get("/api/v1/alerts").status_code == 401  # reads are not open here
        assert client.get("/api/v1/shipments/O1", headers=lead).json()["carrier"] == "zto"
        assert client.get("/api/v1/shipments/none", headers=lead).status_code == 404

        order = {"order_id": "API1", "warehouse": "hz1", "paid_at": "2026-11-21 08:00",
                 "province": "浙江"}  # fmt: skip
        viewer = {"Authorization": "Bearer view-only"}
        assert client.post("/api/v1/shipments", json=order, headers=viewer).status_code == 403
        assert client.post("/api/v1/shipments", json=order).status_code == 401
        done = client.post("/api/v1/shipments", json=[order, {"order_id": "X"}], headers=lead)
        assert done.status_code == 200
        assert done.json()["inserted"] == 1 and done.json()["rejected"][0]["index"] == 1
        assert client.post("/api/v1/shipments", json=order, headers=lead).json()["unchanged"] == 1

        run_tick(engine, config, at("2026-11-22 12:00"))
        alerts = client.get("/api/v1/alerts", params={"kind": "no_pickup_scan"},
                            headers=viewer).json()  # fmt: skip
        [alert] = alerts["alerts"]
        assert alerts["counts"]["no_pickup_scan"] == 1
        path = f"/api/v1/alerts/{alert['id']}"
        assert client.post(f"{path}/ack", headers=viewer).status_code == 403
        assert client.post(f"{path}/ack", headers=lead).json()["state"] == "acknowledged"
        assert client.post(f"{path}/ack", headers=lead).status_code == 409
        assert (
            client.post(f"{path}/assign", json={"assignee": "小李"}, headers=lead).status_code
            == 200
        )
        assert client.post(f"{path}/fly", headers=lead).status_code == 404
        assert client.post("/api/v1/alerts/999/resolve", headers=lead).status_code == 404
        resolved = client.post(f"{path}/resolve", json={"note": "补发"}, headers=lead).json()
        assert resolved["state"] == "resolved"
        detail = client.get(path, headers=viewer).json()
        assert [h["action"] for h in detail["history"]] == [
            "opened", "acknowledged", "assigned", "resolved",
        ]  # fmt: skip
        assert detail["history"][1]["actor"] == "小王"
