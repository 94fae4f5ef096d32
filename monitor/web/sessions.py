"""Signing in to the pages: users from the config with Argon2 password hashes, a signed
session cookie (Starlette's SessionMiddleware, itsdangerous) naming a server-side session
(monitor/store/web_auth.py, so signing out ends it everywhere), and a CSRF token per session
that every form posts back, the sign-in form included.

A session also carries a fingerprint of the user's password hash: when the config gives the
user a new password, every session made with the old one ends."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from starlette.requests import Request

from monitor.config import AuthConfig, AuthUser
from monitor.store.web_auth import create_session, end_session, session_user
from monitor.web.auth import ROLE_RANK

_hasher = PasswordHasher()
SESSION_LIFETIME = timedelta(hours=12)  # a working day; then sign in again


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class Viewer:
    name: str
    role: str  # viewer | lead | admin; "anonymous" reads only

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


def check_password(auth: AuthConfig, name: str, password: str) -> Viewer | None:
    """Constant work whether or not the user exists, so timing does not reveal names."""
    user = next((u for u in auth.users if u.name == name), None)
    encoded = user.password_hash if user else _DUMMY_HASH
    try:
        _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return None
    return Viewer(user.name, user.role) if user else None


_DUMMY_HASH = _hasher.hash("no such user")


def session_secret(auth: AuthConfig) -> str:
    """From the environment; otherwise a random one (sessions then end with the process, and
    replicas do not share them: fine for one process, documented for several)."""
    return os.environ.get(auth.session_secret_env) or secrets.token_urlsafe(32)


def wall_clock() -> datetime:
    """Sessions and throttles live in real time, even when the daemon's clock runs fast."""
    return datetime.now(UTC)


def _fingerprint(user: AuthUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_viewer(
    request: Request, auth: AuthConfig, engine: Engine | None = None
) -> Viewer | None:
    """Who is signed in: a user still in the config with the same role and password, whose
    server-side session is live (checked when `engine` is given)."""
    session = request.session
    name, role = session.get("user"), session.get("role")
    user = next((u for u in auth.users if u.name == name and u.role == role), None)
    if user is not None and session.get("pw") == _fingerprint(user):
        sid = session.get("sid")
        if engine is None or (
            isinstance(sid, str) and session_user(engine, sid, wall_clock()) == user.name
        ):
            return Viewer(user.name, user.role)
    if auth.anonymous_read:
        return Viewer("anonymous", "anonymous")
    return None


def sign_in(request: Request, viewer: Viewer, auth: AuthConfig, engine: Engine) -> None:
    user = next(u for u in auth.users if u.name == viewer.name)
    sid = create_session(engine, viewer.name, wall_clock(), SESSION_LIFETIME)
    request.session.clear()  # a new session on sign-in (no fixation)
    request.session.update(
        sid=sid, user=viewer.name, role=viewer.role, pw=_fingerprint(user),
        csrf=secrets.token_urlsafe(24),
    )  # fmt: skip


def sign_out(request: Request, engine: Engine) -> None:
    sid = request.session.get("sid")
    if isinstance(sid, str):
        end_session(engine, sid)
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = request.session.get("csrf")
    return (
        isinstance(expected, str)
        and bool(submitted)
        and hmac.compare_digest(expected, str(submitted))
    )
