"""A real Prometheus scraping a real daemon, on loopback: every rule evaluates without error
and every dashboard query runs, with data wherever the series behind it are populated.

`parcelwatch run` serves a temporary SQLite store filled by `populate()` of
tests/support/metrics.py; the system's `prometheus` binary (scripts/install-system-deps.sh)
scrapes it every second with rules.yml loaded, in its own temporary directory and port.
Slow: about ten seconds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitor.store.db import make_engine, upgrade
from tests.support.deploy import DASHBOARDS, RULES, load, queries, rules
from tests.support.metrics import populate
from tests.support.promql import metric_names
from tests.support.servers import free_port, stop, wait_for

pytestmark = pytest.mark.slow
RATE_WINDOW = "1m"  # for $__rate_interval: sixty scrapes at one a second


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[str]:
    database = tmp_path / "parcelwatch.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    populate(engine)
    engine.dispose()
    config = tmp_path / "parcelwatch.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n'
        '[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n'
        '[[warehouses]]\nid = "gz1"\nprovince = "广东"\n'
        # a configured carrier gets its request series at 0 before any call (nothing is due
        # for polling here, so the address is never used)
        '[carriers.zto]\nadapter = "sim"\nbase_url = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    port = free_port()
    script = Path(sys.executable).with_name("parcelwatch")
    process = subprocess.Popen(
        [str(script), "run", "--config", str(config), "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the daemon", lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200)
        yield url
    finally:
        output = stop(process)
        assert process.returncode == 0, output[-2000:]


@pytest.fixture
def prometheus(tmp_path: Path, daemon: str) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: run scripts/install-system-deps.sh"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "parcelwatch",
             "static_configs": [{"targets": [daemon.removeprefix("http://")]}]},
        ],
    }  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus", lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200)
        yield url
    finally:
        stop(process)


def query(prometheus: str, expr: str) -> list[Any]:
    reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert reply["status"] == "success", (expr, reply)
    result: list[Any] = reply["data"]["result"]
    return result


def raw_metrics(expr: str, recorded: dict[str, str]) -> set[str]:
    """The scraped metrics an expression depends on, through any recording rules."""
    names = set()
    for name in metric_names(expr):
        names |= raw_metrics(recorded[name], recorded) if name in recorded else {name}
    return names


def test_rules_and_dashboards_against_a_live_scrape(daemon: str, prometheus: str) -> None:
    def scraped_twice() -> bool:
        samples = query(prometheus, 'count_over_time(up{job="parcelwatch"}[1m])')
        return bool(samples) and float(samples[0]["value"][1]) >= 2

    wait_for("two scrapes", scraped_twice)
    assert float(query(prometheus, 'up{job="parcelwatch"}')[0]["value"][1]) == 1

    def rules_evaluated() -> bool:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return len(groups) == 2 and all(
            rule["lastEvaluation"] > "2000" for group in groups for rule in group["rules"]
        )

    wait_for("a rule evaluation", rules_evaluated)
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    evaluated = [rule for group in groups for rule in group["rules"]]
    assert len(evaluated) == len(rules())
    for rule in evaluated:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))

    exposition = httpx.get(f"{daemon}/metrics", timeout=10).text
    populated = {
        m.group(1) for m in re.finditer(r"^([a-zA-Z_:][\w:]*)[{ ]", exposition, re.MULTILINE)
    } | {"up"}
    recorded = {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}

    for rule in rules():
        query(prometheus, rule["expr"])  # every alert and recording expression runs

    empty = []
    for path in DASHBOARDS:
        for expr in queries(load(path)):
            filled = expr.replace("$__rate_interval", RATE_WINDOW).replace("$job", "parcelwatch")
            filled = re.sub(r"\$\{?\w+\}?", ".*", filled)
            result = query(prometheus, filled)
            # A ratio of rates has no value while its counters stand still (no division by 0).
            expect_data = raw_metrics(expr, recorded) <= populated and "ratio_rate" not in expr
            if expect_data and not result:
                empty.append(f"{path.name}: {filled}")
    assert not empty, "no data for populated series:\n" + "\n".join(empty)
