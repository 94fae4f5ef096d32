"""Bearer tokens with roles (viewer < lead < admin), from the config, stored hashed.

`[[auth.tokens]]` entries carry `token_sha256` (hex), never the token, so the config file
can be read without granting access; tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request

from monitor.config import AuthToken

ROLE_RANK = {"viewer": 1, "lead": 2, "admin": 3}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identify(request: Request, tokens: list[AuthToken]) -> AuthToken | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    digest = hash_token(token.strip())
    for entry in tokens:
        if hmac.compare_digest(digest, entry.token_sha256.lower()):
            return entry
    return None


def require(request: Request, tokens: list[AuthToken], role: str, anonymous_read: bool) -> str:
    """The acting identity's name, or 401/403."""
    who = identify(request, tokens)
    if who is None:
        if role == "viewer" and anonymous_read:
            return "anonymous"
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    if ROLE_RANK[who.role] < ROLE_RANK[role]:
        raise HTTPException(403, f"{who.name} is a {who.role}; this needs {role}")
    return who.name
