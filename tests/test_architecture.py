"""The architecture as tests: the layering contracts in pyproject.toml (import-linter: carriers/
and alerts/ know nothing of monitor/ nor each other, monitor/ is layered, no package cycles),
every module under about 500 lines, and every `docs/FILE.md "Heading"` a comment cites
exists, so whoever clones the project can follow it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = ("monitor", "alerts", "carriers")
MAX_LINES = 520
CITATION = re.compile(r'docs/([\w-]+\.md)((?:\s*(?:\+|,|and)?\s*"[^"\n]+")+)')


def sources() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]


def test_the_layering_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" in done.stdout and " 0 broken" in done.stdout


def test_no_module_is_too_long_to_read() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources()
        if "migrations" not in p.parts
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def headings(doc: Path) -> set[str]:
    return {
        line.lstrip("#").strip()
        for line in doc.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }


def test_every_cited_heading_exists_in_docs() -> None:
    missing = []
    files = [*sources(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "deploy").rglob("*.y*ml")]
    for path in files:
        if path.name == "test_architecture.py":
            continue
        # A citation may wrap across comment lines: join them first.
        text = re.sub(r"\n\s*#\s*", " ", path.read_text(encoding="utf-8"))
        text = re.sub(r"\s*\n\s*", " ", text)
        for match in CITATION.finditer(text):
            doc = ROOT / "docs" / match.group(1)
            if not doc.exists():
                missing.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)}")
                continue
            known = headings(doc)
            for heading in re.findall(r'"([^"]+)"', match.group(2)):
                if heading not in known:
                    missing.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)} {heading!r}")
    assert missing == []


def test_no_comment_cites_documents_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|reference/|domain-rules|observability\.md A\d|carrier-apis §")
    found = [
        str(p.relative_to(ROOT))
        for p in [*sources(), *(ROOT / "tests").rglob("*.py")]
        if p.name != "test_architecture.py" and outside.search(p.read_text(encoding="utf-8"))
    ]
    assert found == []
