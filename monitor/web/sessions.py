"""Signing in to the pages: users from the config with Argon2 password hashes, a signed
session cookie (Starlette's SessionMiddleware, itsdangerous), and a CSRF token per session
that every form posts back."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

from monitor.config import AuthConfig
from monitor.web.auth import ROLE_RANK

_hasher = PasswordHasher()


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


def current_viewer(request: Request, auth: AuthConfig) -> Viewer | None:
    session = request.session
    name, role = session.get("user"), session.get("role")
    # A user removed from the config (or given another role) loses access at once.
    if isinstance(name, str) and any(u.name == name and u.role == role for u in auth.users):
        return Viewer(name, str(role))
    if auth.anonymous_read:
        return Viewer("anonymous", "anonymous")
    return None


def sign_in(request: Request, viewer: Viewer) -> None:
    request.session.clear()  # a new session id on sign-in (no fixation)
    request.session.update(user=viewer.name, role=viewer.role, csrf=secrets.token_urlsafe(24))


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
