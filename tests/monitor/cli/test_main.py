"""The `parcelwatch` console script as a real process: the entry point, its output streams and
exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_console_script_runs_as_a_real_process(workdir: Path) -> None:
    script = Path(sys.executable).with_name("parcelwatch")
    done = subprocess.run([str(script), "check-config"], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([str(script), "import", "nowhere.csv"], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert bad.returncode == 2 and "nowhere.csv" in bad.stderr
