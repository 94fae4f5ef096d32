"""deploy/docker-compose.yml and deploy/prometheus/prometheus.yml, checked by structure (no
container engine runs in the tests): the four services, pinned images, healthchecks, start
order, and the rules, dashboards and provisioning mounted where the configs expect them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from monitor.config import load_config
from tests.support.deploy import promtool
from tests.support.paths import DEPLOY, ROOT


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    return data


def services() -> dict[str, Any]:
    result: dict[str, Any] = compose()["services"]
    return result


def mounts(service: str) -> dict[str, str]:
    """Container path -> host path (relative to deploy/) of a service's volumes."""
    found = {}
    for volume in services()[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        found[target] = source
    return found


def prometheus_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8")
    )
    return data


def test_services_and_images() -> None:
    assert set(services()) == {"parcelwatch", "postgres", "prometheus", "grafana"}
    for name, service in services().items():
        image = service.get("image", "")
        assert image, f"{name} has no image"
        if name != "parcelwatch":
            pinned = re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest")
            assert pinned, f"{name}: pin the image's version"
    build = services()["parcelwatch"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_every_service_has_a_healthcheck_and_restarts() -> None:
    for name, service in services().items():
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert check["interval"] and check["timeout"] and check["retries"], name
        assert service["restart"] == "unless-stopped", name


def test_start_order() -> None:
    depends = {name: s.get("depends_on", {}) for name, s in services().items()}
    assert depends["parcelwatch"] == {"postgres": {"condition": "service_healthy"}}
    # Prometheus must start even if parcelwatch is unhealthy: it is what reports that.
    assert depends["prometheus"] == {"parcelwatch": {"condition": "service_started"}}
    assert depends["grafana"] == {"prometheus": {"condition": "service_healthy"}}
    assert depends["postgres"] == {}


def test_named_volumes_are_declared() -> None:
    declared = set(compose()["volumes"])
    for name in services():
        for source in mounts(name).values():
            if not source.startswith("."):
                assert source in declared, f"{name}: volume {source} is not declared"
    assert {"postgres-data", "prometheus-data", "grafana-data"} <= declared


def test_bind_mounts_exist() -> None:
    for name in services():
        for source in mounts(name).values():
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_gets_its_config_and_the_rules() -> None:
    volumes = mounts("prometheus")
    command = " ".join(services()["prometheus"]["command"])
    config_path = re.search(r"--config\.file=(\S+)", command)
    assert config_path and volumes[config_path.group(1)] == "./prometheus/prometheus.yml"
    (rule_file,) = prometheus_config()["rule_files"]
    assert volumes[rule_file] == "./prometheus/rules.yml"
    assert volumes["/prometheus"] == "prometheus-data"  # the TSDB on a named volume


def test_prometheus_scrapes_the_daemon() -> None:
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    daemon = jobs["parcelwatch"]  # ParcelwatchDown in rules.yml matches this job name
    assert daemon["metrics_path"] == "/metrics"
    (targets,) = [c["targets"] for c in daemon["static_configs"]]
    assert targets == ["parcelwatch:8000"]
    assert "8000:8000" in services()["parcelwatch"]["ports"]
    assert 'up{job="parcelwatch"}' in (DEPLOY / "prometheus" / "rules.yml").read_text("utf-8")


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    """promtool check config, with the rule file at its path in this checkout."""
    config = prometheus_config()
    config["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
    target = tmp_path / "prometheus.yml"
    target.write_text(yaml.safe_dump(config), encoding="utf-8")
    done = promtool("check", "config", str(target))
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_is_provisioned() -> None:
    volumes = mounts("grafana")
    assert volumes["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/parcelwatch.yml").read_text("utf-8")
    )["providers"][0]
    assert volumes[provider["options"]["path"]] == "./grafana/dashboards"
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text("utf-8")
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in services()["prometheus"]["ports"]
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).parent == Path(provider["options"]["path"])
    assert (DEPLOY / "grafana/dashboards" / Path(home).name).exists()


def test_the_daemon_uses_postgres_and_a_valid_config() -> None:
    environment = services()["parcelwatch"]["environment"]
    url = environment["PARCELWATCH_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    config_file = environment["PARCELWATCH_CONFIG"]
    assert mounts("parcelwatch")[config_file] == "./parcelwatch.toml"
    # The mounted file parses with the environment the container gets.
    config = load_config(DEPLOY / "parcelwatch.toml", {"PARCELWATCH_DATABASE_URL": url})
    assert config.database.url == url and config.warehouses
