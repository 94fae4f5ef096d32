"""`parcelwatch`: the command group; each command lives in the module of its group."""

from __future__ import annotations

import click

from monitor import __version__
from monitor.cli import alerts, detect, imports, run, scorecard, setup
from monitor.cli.common import err, out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parcelwatch")
def main() -> None:
    """Logistics exception monitoring for e-commerce warehouses."""
    for console in (out, err):
        if not console.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
            console.width = 180


for command in (
    setup.init,
    setup.check_config,
    imports.import_command,
    detect.detect,
    alerts.alerts,
    setup.hash_password_command,
    setup.db,
    run.sample,
    run.run_command,
    run.demo,
    run.sim,
    scorecard.scorecard,
):
    main.add_command(command)


if __name__ == "__main__":
    main()
