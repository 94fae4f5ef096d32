"""Throwaway PostgreSQL servers for tests.

The tests need real PostgreSQL semantics (types, locking, SQL dialect), but must
not depend on a system-wide cluster, a password, or a fixed port: every run gets
its own server in a temporary directory on a free port and removes it afterwards.
PostgreSQL refuses to run as root, and CI runs as root, so in that case the
server runs as the unprivileged ``postgres`` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
_SERVER_USER = "postgres"
_INSTALL_HINT = "run scripts/install-system-deps.sh to install PostgreSQL"
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    " -c full_page_writes=off -c max_connections=100"
)


def find_pg_bin() -> Path | None:
    """Prefer Debian's versioned dirs because Debian keeps initdb off PATH."""
    root = Path("/usr/lib/postgresql")
    candidates: list[tuple[int, Path]] = []
    if root.is_dir():
        for child in root.iterdir():
            bindir = child / "bin"
            if (
                child.name.isdigit()
                and (bindir / "initdb").is_file()
                and (bindir / "pg_ctl").is_file()
            ):
                candidates.append((int(child.name), bindir))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb is not None:
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _privilege_drop() -> list[str]:
    """Return the command prefix needed so the server never runs as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_SERVER_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root but there is no {_SERVER_USER!r} user to run the server as; "
            + _INSTALL_HINT
        ) from None
    if shutil.which("runuser"):
        return ["runuser", "-u", _SERVER_USER, "--"]
    return ["setpriv", f"--reuid={_SERVER_USER}", f"--regid={_SERVER_USER}", "--init-groups"]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd is the temp dir because the server user may not be able to enter ours.
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def running_postgres(*, dbname: str = "parcelwatch_test") -> Iterator[str]:
    """Yield a SQLAlchemy URL for a private server that is gone once the block exits."""
    bindir = find_pg_bin()
    if bindir is None:
        raise RuntimeError(f"PostgreSQL server programs initdb/pg_ctl not found; {_INSTALL_HINT}")
    prefix = _privilege_drop()
    tmp = Path(tempfile.mkdtemp(prefix="parcelwatch-pg-"))
    datadir, logfile = tmp / "data", tmp / "server.log"
    started = False
    try:
        if prefix:
            account = pwd.getpwnam(_SERVER_USER)
            os.chown(tmp, account.pw_uid, account.pw_gid)
        initdb = _run(
            [*prefix, str(bindir / "initdb"), "-D", str(datadir), "-A", "trust",
             "-U", SUPERUSER, "--encoding=UTF8", "--locale=C", "--no-sync"],
            tmp,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        # Another process can grab the port between probing and binding; retry then.
        for _attempt in range(3):
            port = _free_port()
            opts = f"-F -p {port} -k {tmp} {_SERVER_OPTIONS}"
            start = _run(
                [*prefix, str(bindir / "pg_ctl"), "start", "-w", "-t", "30",
                 "-D", str(datadir), "-l", str(logfile), "-o", opts],
                tmp,
            )  # fmt: skip
            if start.returncode == 0:
                started = True
                break
            if not re.search(r"could not bind|already in use", _tail(logfile)):
                break
        if not started:
            raise RuntimeError(
                f"PostgreSQL failed to start:\n{start.stdout}\n{start.stderr}\n"
                f"--- tail of {logfile.name} ---\n{_tail(logfile)}"
            )
        if dbname != "postgres":
            with psycopg.connect(
                host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", autocommit=True
            ) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{dbname}"
    finally:
        if started:
            pg_ctl = [*prefix, str(bindir / "pg_ctl"), "stop", "-w", "-D", str(datadir)]
            if _run([*pg_ctl, "-m", "fast"], tmp).returncode != 0:
                _run([*pg_ctl, "-m", "immediate"], tmp)
        shutil.rmtree(tmp, ignore_errors=True)
