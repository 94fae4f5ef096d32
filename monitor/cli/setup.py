"""Setting parcelwatch up: `init`, `check-config`, `hash-password` and `db upgrade`."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.common import config_option, fail, load, out
from monitor.store.db import make_engine, upgrade

EXAMPLE_CONFIG = Path(__file__).parent.parent / "example_config.toml"


@click.command()
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("parcelwatch.toml"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@config_option
def init(out_path: Path, force: bool, config_path: Path | None) -> None:
    """Write a commented example config."""
    if out_path.exists() and not force:
        fail(f"{out_path} exists; pass --force to overwrite it")
    out_path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"wrote {out_path}; check it with `parcelwatch check-config --config {out_path}`")


@click.command("check-config")
@config_option
def check_config(config_path: Path | None) -> None:
    """Validate the config and print the effective thresholds."""
    from monitor.cli.config_report import render_config

    config = load(config_path)
    render_config(config, out)


@click.command("hash-password")
def hash_password_command() -> None:
    """Print an Argon2 hash for `[[auth.users]] password_hash` (the password is asked for,
    never echoed, and never stored)."""
    from monitor.web.sessions import hash_password

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Apply migrations."""
    config = load(config_path)
    upgrade(make_engine(config.database.url))
    out.print("database is up to date")
