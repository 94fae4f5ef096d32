"""`parcelwatch`: the command group; each command lives in the module of its group, imported
only when that command runs (click's lazy subcommands), so `parcelwatch import` does not
load pandas, the web app or the simulator."""

from __future__ import annotations

import importlib

import click

from monitor import __version__
from monitor.cli.common import err, out

# name -> "module:attribute", in the order `--help` lists them
COMMANDS = {
    "init": "setup:init",
    "check-config": "setup:check_config",
    "import": "imports:import_command",
    "detect": "detect:detect",
    "alerts": "alerts:alerts",
    "silences": "silences:silences",
    "scorecard": "scorecard:scorecard",
    "replay": "replay:replay",
    "evidence": "evidence:evidence",
    "penalties": "penalties:penalties",
    "hash-password": "setup:hash_password_command",
    "db": "setup:db",
    "sample": "run:sample",
    "run": "run:run_command",
    "demo": "run:demo",
    "sim": "run:sim",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(f"monitor.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parcelwatch")
def main() -> None:
    """Logistics exception monitoring for e-commerce warehouses."""
    for console in (out, err):
        if not console.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
            console.width = 180


if __name__ == "__main__":
    main()
