"""Signing in as an attacker would try it: throttling per user and per address with
back-off, CSRF on /login and /logout, Secure cookies over https (a proxy's header believed
only when configured), sessions that end server-side, frame and content-security headers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor.clock import FixedClock
from monitor.config import Config
from monitor.store import web_auth
from monitor.web.app import create_app
from monitor.web.context import AppContext
from monitor.web.sessions import hash_password
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def config(password: str = "right-pass", trust_proxy: bool = False) -> Config:
    return make_config(
        auth={
            "users": [{"name": "lead", "role": "lead", "password_hash": hash_password(password)}],
            "trust_proxy_headers": trust_proxy,
        }
    )


def app_client(engine: Engine, cfg: Config, **kwargs: object) -> TestClient:
    return TestClient(create_app(AppContext(engine, cfg, FixedClock(NOW))), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(sqlite_engine: Engine) -> Iterator[TestClient]:
    with app_client(sqlite_engine, config()) as test_client:
        yield test_client


def form_token(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    return page.text.split('name="csrf" value="')[1].split('"')[0]


def sign_in(client: TestClient, password: str = "right-pass", user: str = "lead") -> int:
    token = form_token(client)
    answer = client.post("/login", data={"user": user, "password": password, "csrf": token},
                         follow_redirects=False)  # fmt: skip
    return answer.status_code


def test_the_sign_in_form_needs_its_csrf_token(client: TestClient) -> None:
    answer = client.post("/login", data={"user": "lead", "password": "right-pass"})
    assert answer.status_code == 403
    assert sign_in(client) == 303


def test_wrong_passwords_lock_the_user_with_back_off(client: TestClient) -> None:
    for _ in range(web_auth.FREE_FAILURES):
        assert sign_in(client, "wrong") == 401
    assert sign_in(client, "wrong") == 401  # this one locks
    token = form_token(client)
    answer = client.post("/login", data={"user": "lead", "password": "right-pass", "csrf": token})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    assert "Too many attempts" in answer.text or "尝试次数过多" in answer.text


def test_the_back_off_doubles_and_is_capped(sqlite_engine: Engine) -> None:
    keys = ["user:x"]
    waits = []
    for _ in range(web_auth.FREE_FAILURES + 8):
        web_auth.record_failure(sqlite_engine, keys, NOW)
        until = web_auth.locked_until(sqlite_engine, keys, NOW)
        waits.append(0 if until is None else (until - NOW).total_seconds())
    assert waits[: web_auth.FREE_FAILURES] == [0] * web_auth.FREE_FAILURES
    assert waits[web_auth.FREE_FAILURES : web_auth.FREE_FAILURES + 3] == [30, 60, 120]
    assert waits[-1] == web_auth.LOCK_MAX.total_seconds()
    web_auth.clear_failures(sqlite_engine, "user:x")
    assert web_auth.locked_until(sqlite_engine, keys, NOW) is None


def test_one_address_guessing_many_names_is_locked_too(client: TestClient) -> None:
    for n in range(web_auth.FREE_FAILURES_PER_ADDRESS):
        assert sign_in(client, "wrong", user=f"user{n}") == 401
    assert sign_in(client, "right-pass") == 303  # a shared address: others still get in
    for n in range(web_auth.FREE_FAILURES_PER_ADDRESS, web_auth.FREE_FAILURES_PER_ADDRESS + 2):
        sign_in(client, "wrong", user=f"user{n}")
    assert sign_in(client, "right-pass") == 429


def test_sign_out_ends_the_session_for_a_copied_cookie(sqlite_engine: Engine) -> None:
    with app_client(sqlite_engine, config()) as browser:
        assert sign_in(browser) == 303
        copied = dict(browser.cookies)
        assert browser.get("/", follow_redirects=False).status_code == 200
        token = browser.get("/").text.split('name="session_csrf" value="')[1].split('"')[0]
        assert browser.post("/logout", data={"session_csrf": token},
                            follow_redirects=False).status_code == 303  # fmt: skip
    with app_client(sqlite_engine, config(), cookies=copied) as thief:
        assert thief.get("/", follow_redirects=False).status_code == 303  # to /login


def test_sign_out_needs_its_csrf_token(client: TestClient) -> None:
    assert sign_in(client) == 303
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_new_password_in_the_config_ends_old_sessions(sqlite_engine: Engine) -> None:
    with app_client(sqlite_engine, config("old-pass")) as browser:
        assert sign_in(browser, "old-pass") == 303
        cookies = dict(browser.cookies)
    with app_client(sqlite_engine, config("new-pass"), cookies=cookies) as same_browser:
        assert same_browser.get("/", follow_redirects=False).status_code == 303


def test_cookies_are_secure_over_https_only(sqlite_engine: Engine) -> None:
    with app_client(sqlite_engine, config(), base_url="https://testserver") as https:
        assert "secure" in https.get("/login").headers["set-cookie"].lower()
    with app_client(sqlite_engine, config()) as plain:
        assert "secure" not in plain.get("/login").headers["set-cookie"].lower()
    with app_client(sqlite_engine, config()) as plain:
        forged = plain.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in forged.headers["set-cookie"].lower()  # proxy not trusted
    with app_client(sqlite_engine, config(trust_proxy=True)) as proxied:
        answer = proxied.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in answer.headers["set-cookie"].lower()


def test_pages_cannot_be_framed(client: TestClient) -> None:
    answer = client.get("/login")
    assert answer.headers["x-frame-options"] == "DENY"
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"
