"""The daemon's web app: /metrics with the store collector registered once per process, and the
daemon's own per-carrier series there before the first call."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from monitor.daemon.service import Daemon
from monitor.metrics.instruments import TRACKING_REQUESTS
from tests.support.config import make_config
from tests.support.metrics import NOW, populate, promtool_check_metrics


def test_daemon_serves_store_metrics_and_registers_once(
    tmp_path: Path, default_registry_collector: None
) -> None:
    from carriers.sim.clock import ManualClock

    first = make_config(f"sqlite:///{tmp_path / 'a.db'}", carriers={"zto": {}})
    Daemon(first, ManualClock(NOW))
    config = make_config(f"sqlite:///{tmp_path / 'b.db'}", carriers={"zto": {}, "sf": {}})
    daemon = Daemon(config, ManualClock(NOW))  # a second daemon: no "Duplicated timeseries"
    populate(daemon.engine)
    response = TestClient(daemon.app()).get("/metrics")  # no lifespan: the scheduler stays off
    assert response.status_code == 200
    body = response.content
    assert b'parcelwatch_parcels_active{carrier="zto",status="in_transit"} 2.0' in body
    assert b'parcelwatch_alerts_open{carrier="yto",kind="lost",severity="critical",' in body
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "sf"}) == 0
    # the daemon's own per-carrier series exist before the first call
    assert (
        REGISTRY.get_sample_value(
            "parcelwatch_tracking_requests_total", {"carrier": "sf", "outcome": "transient"}
        )
        == TRACKING_REQUESTS.labels(carrier="sf", outcome="transient")._value.get()
    )
    promtool_check_metrics(body)
    daemon.engine.dispose()
