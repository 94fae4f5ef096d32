"""Where things are, for tests at any depth of tests/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"
CARRIER_FIXTURES = FIXTURES / "carriers"  # recorded carrier answers and pushes
DEPLOY = ROOT / "deploy"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and reports kept for a person to look at
