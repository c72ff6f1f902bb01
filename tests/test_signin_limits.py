"""Issue 12 item 4: sign-in and sign-up are rate-limited per address and per username."""

import pytest

from tests.support.accounts import PASSWORD
from tests.support.configs import fresh_config_module

LIMITS = {
    "RATELIMIT_ENABLED": True,
    "LOGIN_RATE": "3/minute",
    "LOGIN_ADDRESS_RATE": "8/minute",
    "REGISTER_RATE": "2/hour",
}
HOME = {"REMOTE_ADDR": "192.0.2.1"}
ELSEWHERE = {"REMOTE_ADDR": "192.0.2.2"}


@pytest.fixture
def limited(app_factory):
    app = app_factory(**LIMITS)
    with app.app_context():  # not through the limited API
        app.extensions["accounts"].register("alice", PASSWORD)
        app.extensions["accounts"].register("bob", PASSWORD)
    return app


def token(http, username: str, password: str = "wrong password", env=HOME):
    return http.post(
        "/api/tokens", json={"username": username, "password": password}, environ_base=env
    )


def assert_rate_limited(response, window: int = 60) -> int:
    assert response.status_code == 429, response.data
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert "try again" in error["message"]
    assert isinstance(error["retry_after"], int) and 1 <= error["retry_after"] <= window
    assert response.headers["Retry-After"] == str(error["retry_after"])
    return error["retry_after"]


def test_wrong_passwords_for_one_user_are_limited_per_address_and_username(limited):
    http = limited.test_client()
    for _ in range(3):
        assert token(http, "alice").status_code == 401
    assert_rate_limited(token(http, "alice"))
    # the right password is refused too until the window ends: guessing gains nothing
    assert_rate_limited(token(http, "alice", PASSWORD))
    assert_rate_limited(token(http, "ALICE"))  # the same account in another spelling
    # another account from here, and the same account from elsewhere, still get answers
    assert token(http, "bob", PASSWORD).status_code == 201
    assert token(http, "alice", PASSWORD, env=ELSEWHERE).status_code == 201


def test_one_address_trying_many_usernames_is_limited(limited):
    http = limited.test_client()
    for n in range(8):
        assert token(http, f"user{n}").status_code == 401
    assert_rate_limited(token(http, "user8"))
    assert token(http, "alice", PASSWORD, env=ELSEWHERE).status_code == 201


def test_the_login_form_and_the_token_api_share_one_budget(limited):
    http = limited.test_client()
    for _ in range(3):
        page = http.post(
            "/auth/login", data={"username": "alice", "password": "nope"}, environ_base=HOME
        )
        assert page.status_code == 400
    assert_rate_limited(token(http, "alice", PASSWORD))
    page = http.post(
        "/auth/login", data={"username": "alice", "password": PASSWORD}, environ_base=HOME
    )
    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) >= 1
    assert "Too many attempts from here; try again in" in page.text
    assert 'value="alice"' in page.text  # the form comes back filled in
    assert http.get("/auth/login", environ_base=HOME).status_code == 200  # reading is free


def test_sign_ups_are_limited_per_address_on_the_api_and_the_form(limited):
    http = limited.test_client()
    for name in ("carol", "dave"):
        created = http.post(
            "/api/users", json={"username": name, "password": PASSWORD}, environ_base=HOME
        )
        assert created.status_code == 201
    erin = {"username": "erin", "password": PASSWORD}
    assert_rate_limited(http.post("/api/users", json=erin, environ_base=HOME), window=3600)
    page = http.post(
        "/auth/register",
        data={"username": "erin", "password": PASSWORD, "confirm": PASSWORD},
        environ_base=HOME,
    )
    assert page.status_code == 429
    assert "Too many attempts from here" in page.text
    elsewhere = http.post(
        "/api/users", json={"username": "erin", "password": PASSWORD}, environ_base=ELSEWHERE
    )
    assert elsewhere.status_code == 201


def test_garbage_bodies_are_counted_and_still_answered_as_json(limited):
    http = limited.test_client()
    for _ in range(3):  # no username: they share the key (address, "")
        response = http.post(
            "/api/tokens", data="[" * 5000, content_type="application/json", environ_base=HOME
        )
        assert response.status_code == 400
    assert_rate_limited(
        http.post("/api/tokens", data="{", content_type="application/json", environ_base=HOME)
    )


@pytest.mark.parametrize("env_name", ["development", "production"])
def test_limits_are_on_by_default_outside_the_tests(monkeypatch, env_name):
    for name in ("RATELIMIT_ENABLED", "LOGIN_RATE", "LOGIN_ADDRESS_RATE", "REGISTER_RATE"):
        monkeypatch.delenv(name, raising=False)
    module = fresh_config_module(monkeypatch)
    settings = module.CONFIGS[env_name]
    assert settings.RATELIMIT_ENABLED is True
    assert (settings.LOGIN_RATE, settings.LOGIN_ADDRESS_RATE, settings.REGISTER_RATE) == (
        "10/minute",
        "30/minute",
        "10/hour",
    )
    assert module.TestingConfig.RATELIMIT_ENABLED is False
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    assert fresh_config_module(monkeypatch).ProductionConfig.RATELIMIT_ENABLED is False


def test_with_redis_the_counts_live_in_redis(app_factory, private_redis):
    """With the Redis storage (what REDIS_URL selects) the counts live where every process
    sees them."""
    from redis import Redis

    redis_client = Redis.from_url(private_redis.url, decode_responses=True)
    redis_client.flushdb()
    app = app_factory(**LIMITS, RATELIMIT_STORAGE_URI=private_redis.url)
    with app.app_context():
        app.extensions["accounts"].register("alice", PASSWORD)
    # counted in Redis: a process that starts now sees the same count
    assert [token(app.test_client(), "alice").status_code for _ in range(3)] == [401] * 3
    assert_rate_limited(token(app.test_client(), "alice"))
    assert redis_client.keys("LIMITS:LIMITER/*")


@pytest.mark.parametrize(
    ("redis_url", "storage"),
    [
        (None, "memory://"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///run/redis/redis.sock", "redis+unix:///run/redis/redis.sock"),
    ],
)
def test_the_limit_storage_follows_redis_url(redis_url, storage):
    from flask import Flask

    from app.factory import _finish_config

    bare = Flask(__name__)
    bare.config.update(SECRET_KEY="k", SQLALCHEMY_DATABASE_URI="sqlite://", REDIS_URL=redis_url)
    _finish_config(bare)
    assert bare.config["RATELIMIT_STORAGE_URI"] == storage
