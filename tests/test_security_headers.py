"""Issue 12 item 13: security headers, the Host check, and X-Forwarded-* only when trusted."""

import logging

import pytest

import config
from app import create_app
from tests.support.accounts import login_form, register
from tests.support.configs import fresh_config_module


def assert_strict_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_kind_of_response_carries_the_strict_headers(app, client):
    pages = [
        client.get("/auth/login"),
        client.get("/auth/register"),
        client.post("/auth/login", data={"username": "x", "password": "y"}),
        client.post("/api/tokens", json={"username": "x", "password": "y"}),  # 401
        client.get("/api/nothing-here"),  # JSON 404
        client.get("/healthz"),
        client.get("/static/css/chat.css"),
        client.get("/"),  # the redirect to sign in
    ]
    register(client, "alice")
    login_form(client, "alice")
    chat = client.get("/")
    assert chat.status_code == 200
    for response in [*pages, chat]:
        assert_strict_headers(response)
        assert "Strict-Transport-Security" not in response.headers  # not in development


def test_the_templates_need_no_inline_script_or_style(app, client):
    import re

    register(client, "alice")
    login_form(client, "alice")
    for page in (client.get("/"), app.test_client().get("/auth/login")):
        assert page.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # every script is a file
        assert "<style" not in page.text and " style=" not in page.text
        assert not re.search(r"\son[a-z]+=", page.text)  # no inline event handlers


def production_app(tmp_path, **settings):
    production = type(
        "ProdHeaders",
        (config.ProductionConfig,),
        {
            "SECRET_KEY": "production-test-key-0123456789abcdef",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
            "REDIS_URL": None,
            "SOCKETIO_ASYNC_MODE": "threading",
            "TRUSTED_HOSTS": None,
            "PROXY_FIX": 0,
            "RATELIMIT_ENABLED": False,
            **settings,
        },
    )
    return create_app(production)


def test_production_sends_hsts_over_https_only(tmp_path):
    http = production_app(tmp_path).test_client()
    secure = http.get("/auth/login", base_url="https://chat.example.com")
    assert_strict_headers(secure)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31556926"
    assert "Strict-Transport-Security" not in http.get("/auth/login").headers


def test_production_with_trusted_hosts_refuses_other_hosts(tmp_path):
    app = production_app(tmp_path, TRUSTED_HOSTS=["chat.example.com"])
    http = app.test_client()
    assert http.get("/auth/login", base_url="https://chat.example.com").status_code == 200
    assert http.get("/auth/login", base_url="https://evil.example").status_code == 400
    refused = http.post(
        "/api/tokens", json={"username": "a", "password": "b"}, base_url="https://evil.example"
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "invalid"


def test_production_without_trusted_hosts_warns(tmp_path, caplog, monkeypatch):
    # alembic's fileConfig (a migration run earlier in this process) disables existing loggers
    monkeypatch.setattr(logging.getLogger("app.security"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="app.security"):
        production_app(tmp_path)
    assert "TRUSTED_HOSTS is not set" in caplog.text


def test_trusted_hosts_and_proxy_fix_come_from_the_environment(monkeypatch):
    module = fresh_config_module(monkeypatch, TRUSTED_HOSTS=" chat.example.com, .example.org ")
    assert module.ProductionConfig.TRUSTED_HOSTS == ["chat.example.com", ".example.org"]
    assert module.ProductionConfig.PROXY_FIX == 0
    monkeypatch.delenv("TRUSTED_HOSTS")
    monkeypatch.setenv("PROXY_FIX", "1")
    module = fresh_config_module(monkeypatch)
    assert module.DevelopmentConfig.TRUSTED_HOSTS is None
    assert module.ProductionConfig.PROXY_FIX == 1


LIMITED = {"RATELIMIT_ENABLED": True, "LOGIN_RATE": "2/minute", "LOGIN_ADDRESS_RATE": "2/minute"}


def guesses(http, count: int) -> list[int]:
    """Status codes of `count` wrong passwords, each claiming another client address."""
    return [
        http.post(
            "/api/tokens",
            json={"username": "alice", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(count)
    ]


def test_x_forwarded_for_cannot_dodge_the_limits_without_proxy_fix(app_factory):
    assert guesses(app_factory(**LIMITED).test_client(), 4) == [401, 401, 429, 429]


def test_behind_proxy_fix_the_forwarded_client_address_counts(app_factory):
    http = app_factory(**LIMITED, PROXY_FIX=1).test_client()
    assert guesses(http, 4) == [401, 401, 401, 401]


def polling_handshake(http, origin: str, **headers):
    return http.get(
        "/socket.io/?EIO=4&transport=polling",
        headers={"Origin": origin, **headers},
        base_url="http://10.0.0.5:8001",  # the backend's own address, as nginx reaches it
    )


@pytest.mark.parametrize(("proxy_fix", "status"), [(0, 400), (1, 200)])
def test_forwarded_host_counts_for_the_origin_check_only_behind_proxy_fix(
    app_factory, proxy_fix, status
):
    http = app_factory(PROXY_FIX=proxy_fix).test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"}
    assert polling_handshake(http, "https://chat.example.com", **forwarded).status_code == status
    # the backend's own origin is always its own
    assert polling_handshake(http, "http://10.0.0.5:8001").status_code == 200
