"""deploy/prometheus/rules.yml: valid for `promtool check rules`, its unit tests pass under
`promtool test rules`, and it follows the naming and annotation conventions
(docs/observability.md "Prometheus metric names" and "Rule files and promtool"). Without
promtool these tests fail rather than skip: scripts/install-system-deps.sh installs it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.deploy import RULES, RULES_TEST, promtool, rules
from tests.support.metrics import exported_metric_names
from tests.support.promql import metric_names

FORBIDDEN_LABELS = {"region", "instance", "job", "type", "zone", "cluster", "env", "service"}


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", "--lint=all", "--lint-fatal", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_test_rules() -> None:
    done = promtool("test", "rules", RULES_TEST.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))["tests"]
    firing, quiet = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts == firing
    assert alerts == quiet


@pytest.mark.parametrize("rule", [r for r in rules() if "alert" in r], ids=lambda r: r["alert"])
def test_alert_conventions(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", rule["alert"]), "alert names are CamelCase"
    assert rule["labels"]["severity"] in {"warning", "critical"}
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook"}
    for name, text in annotations.items():
        assert re.search(r"[\u4e00-\u9fff]", text), f"{name} has no Chinese"
        english = re.findall(r"\b[A-Za-z]{2,}\b", re.sub(r"\{\{.*?\}\}", "", text))
        assert len(english) >= 2, f"{name} has no English"
    assert "for" in rule, "every alert waits before firing"


def test_recording_rule_names() -> None:
    """level:metric:operations (docs/observability.md "Prometheus metric names"), `_total`
    dropped after rate()."""
    for rule in rules():
        if "record" in rule:
            level, metric, operations = rule["record"].split(":")
            assert level and metric.startswith("parcelwatch_") and operations, rule["record"]
            assert not metric.endswith("_total"), rule["record"]


def test_rules_read_only_exported_or_recorded_series() -> None:
    known = exported_metric_names() | {r["record"] for r in rules() if "record" in r} | {"up"}
    for rule in rules():
        missing = metric_names(rule["expr"]) - known
        assert not missing, f"{rule.get('alert') or rule.get('record')}: {missing}"


def test_exported_label_names_avoid_target_labels() -> None:
    """Label names that clash with target labels (docs/observability.md "Prometheus labels")."""
    from prometheus_client.metrics import MetricWrapperBase

    from monitor.metrics import instruments as metrics
    from monitor.metrics.collectors import StoreCollector
    from monitor.store.db import make_engine

    label_names = {
        family.name: set(family._labelnames)  # type: ignore[attr-defined]
        for family in StoreCollector(make_engine("sqlite://")).describe()
    }
    label_names.update(
        {
            wrapper._name: set(wrapper._labelnames)
            for wrapper in vars(metrics).values()
            if isinstance(wrapper, MetricWrapperBase)
        }
    )
    assert len(label_names) > 20
    for name, labels in label_names.items():
        assert not labels & FORBIDDEN_LABELS, name
