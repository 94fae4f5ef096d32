"""deploy/grafana: the dashboards' JSON models and their provisioning (docs/observability.md
"Grafana", "Grafana provisioning" and "Grafana dashboard JSON"). Every query must parse
(`promtool check rules` on them), use the provisioned datasource, and read only series the
exporter serves (scraped from a freshly populated store) or a recording rule records."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import DASHBOARDS, GRAFANA, load, promtool, queries, rules
from tests.support.metrics import exported_metric_names
from tests.support.promql import metric_names

# Grafana's own variables, and what the queries get for ours when checked by promtool.
BUILTIN_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


def datasource_uid() -> str:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus"
    uid: str = source["uid"]
    return uid


def test_there_are_three_dashboards() -> None:
    assert {p.stem for p in DASHBOARDS} == {"operations", "carriers", "daemon"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_json_model(path: Path) -> None:
    model = load(path)
    for key in ("uid", "title", "tags", "time", "templating", "panels", "schemaVersion"):
        assert key in model, key
    assert model["id"] is None, "provisioned dashboards carry no database id"
    assert 8 <= len(model["uid"]) <= 40
    assert model["panels"], "no panels"


def test_uids_and_titles_unique() -> None:
    models = [load(p) for p in DASHBOARDS]
    assert len({m["uid"] for m in models}) == len(models)
    assert len({m["title"] for m in models}) == len(models)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panel_ids_and_grid(path: Path) -> None:
    panels = load(path)["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert 1 <= grid["w"] <= 24 and grid["h"] >= 1, panel["title"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
    for a, b in combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        apart = (ga["x"] + ga["w"] <= gb["x"] or gb["x"] + gb["w"] <= ga["x"]
                 or ga["y"] + ga["h"] <= gb["y"] or gb["y"] + gb["h"] <= ga["y"])  # fmt: skip
        assert apart, f"{a['title']} overlaps {b['title']}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_datasource_is_the_provisioned_one(path: Path) -> None:
    uid = datasource_uid()
    model = load(path)
    sources = [p["datasource"] for p in model["panels"]]
    sources += [t["datasource"] for p in model["panels"] for t in p["targets"]]
    sources += [v["datasource"] for v in model["templating"]["list"]]
    for source in sources:
        assert source == {"type": "prometheus", "uid": uid}
    for panel in model["panels"]:
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_variables_used_are_defined(path: Path) -> None:
    model = load(path)
    defined = {v["name"] for v in model["templating"]["list"]} | set(BUILTIN_VARIABLES)
    for expr in queries(model):
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= defined, (expr, used - defined)


def test_every_query_reads_exported_or_recorded_series() -> None:
    known = exported_metric_names() | {r["record"] for r in rules() if "record" in r}
    for path in DASHBOARDS:
        for expr in queries(load(path)):
            names = metric_names(expr)
            assert names, f"{path.name}: no metric in {expr}"
            assert names <= known, f"{path.name}: {names - known} in {expr}"


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule), with the variables filled in."""
    rules_file: dict[str, Any] = {"groups": [{"name": "dashboards", "rules": []}]}
    for path in DASHBOARDS:
        for i, expr in enumerate(queries(load(path))):
            filled = re.sub(r"\$\{?(\w+)\}?", lambda m: BUILTIN_VARIABLES.get(m[1], ".*"), expr)
            rules_file["groups"][0]["rules"].append(
                {"record": f"dashboard:{path.stem}_{i}:check", "expr": filled}
            )
    target = tmp_path / "dashboard_queries.yml"
    target.write_text(yaml.safe_dump(rules_file, allow_unicode=True), encoding="utf-8")
    done = promtool("check", "rules", str(target))
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_provisioning() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "parcelwatch.yml").read_text(encoding="utf-8")
    )
    (provider,) = provisioned["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
    assert provisioned["apiVersion"] == 1
