"""The files under deploy/ and the tools that check them: `promtool` (which fails, never skips,
when missing: scripts/install-system-deps.sh installs it), the rules of rules.yml, and the
queries of the Grafana dashboards. Shared by the tests in tests/deploy/."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import DEPLOY

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULES_TEST = PROMETHEUS / "rules_test.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/install-system-deps.sh"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=120,
                          cwd=PROMETHEUS)  # fmt: skip


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def load(path: Path) -> dict[str, Any]:
    model: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return model


def queries(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and variable queries."""
    found = [t["expr"] for panel in model["panels"] for t in panel.get("targets", [])]
    for variable in model["templating"]["list"]:
        query = variable["query"]["query"]
        match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
        found.append(match.group(1) if match else query)
    return found
